"""Access tokens as Microsoft Graph receives them: JWTs signed RS256 with one key per server.

The key is made on first use and handed from each state to the next (``Entra.keep_key``), so
a reset or a loaded scenario costs nothing here and a token a client holds stays verifiable
across resets, while another server's token (another key) is not. Its public half is
published as a JWKS with a ``kid``. Verifying a token string (signature, audience) is done once
per key and cached; what depends on the state (the clock, the tenant, the user) is checked on
every request by the caller of ``verify``.

PyJWT and cryptography are imported on first use: importing the server does not load them.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE = "https://graph.microsoft.com"
AUDIENCES = (GRAPH_RESOURCE, GRAPH_RESOURCE + "/", GRAPH_APP_ID)
VERIFIED_CACHE = 8192  # token strings whose signature and audience are known good

# Graph's messages for a token it refuses (401 InvalidAuthenticationToken)
EMPTY = "Access token is empty."
NOT_WELL_FORMED = (
    "IDX14100: JWT is not well formed, there are no dots (.).\n"
    "The token needs to be in JWS or JWE Compact Serialization Format. (JWS): "
    "'EncodedHeader.EndcodedPayload.EncodedSignature'. (JWE): 'EncodedProtectedHeader."
    "EncodedEncryptedKey.EncodedInitializationVector.EncodedCiphertext.EncodedAuthenticationTag'."
)
UNDECODABLE = "IDX14102: Unable to decode the header of the token as Base64Url encoded string."
VALIDATION_FAILURE = "Access token validation failure."
INVALID_AUDIENCE = "Access token validation failure. Invalid audience."
EXPIRED = "Lifetime validation failed, the token is expired."
NOT_YET_VALID = "Lifetime validation failed, the token is not yet valid."


class TokenRefused(Exception):
    """A bearer JWT Graph would refuse; ``message`` is Graph's own wording."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Verified:
    """A token whose signature and audience are good. ``claims`` is read-only by convention."""

    claims: dict[str, Any]
    scopes: frozenset[str]
    roles: frozenset[str]
    exp: int
    nbf: int


class SigningKey:
    """An RSA key pair, its ``kid`` and its public JWK."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public = self.private.public_key()
        der = self.public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = _b64(hashlib.sha1(der).digest())  # as long as Entra's, and as opaque
        numbers = self.public.public_numbers()
        self.jwk = {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": _b64(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
            "alg": "RS256",
        }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwks(key: SigningKey) -> dict[str, Any]:
    """The JSON Web Key Set that verifies every token ``key`` signs."""
    return {"keys": [dict(key.jwk)]}


def sign(claims: dict[str, Any], key: SigningKey) -> str:
    """``claims`` as a compact JWS (RS256, ``typ`` JWT, ``kid`` the key's)."""
    import jwt

    return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": key.kid})


def looks_like_jwt(token: str) -> bool:
    """A compact JWS has three dot-separated parts (scenario tokens are opaque words)."""
    return token.count(".") == 2


def verify(token: str, key: SigningKey) -> Verified:
    """The token's verified claims, or TokenRefused with Graph's message. The signature (by
    ``key``) and audience are checked once per token string; the lifetime is the caller's."""
    if not token:
        raise TokenRefused(EMPTY)
    if "." not in token:
        raise TokenRefused(NOT_WELL_FORMED)
    found = _verified(token, key)
    if isinstance(found, str):
        raise TokenRefused(found)
    return found


@lru_cache(maxsize=VERIFIED_CACHE)
def _verified(token: str, key: SigningKey) -> Verified | str:
    """Cached both ways: a refused token string is refused again at the cost of a lookup."""
    import jwt

    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        return UNDECODABLE
    if header.get("alg") != "RS256" or header.get("kid") != key.kid:
        return VALIDATION_FAILURE
    try:
        claims = jwt.decode(
            token,
            key.public,
            algorithms=["RS256"],
            audience=list(AUDIENCES),
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.InvalidAudienceError:
        return INVALID_AUDIENCE
    except jwt.MissingRequiredClaimError:
        return INVALID_AUDIENCE  # no ``aud`` at all
    except jwt.InvalidTokenError:
        return VALIDATION_FAILURE
    exp, nbf = claims.get("exp"), claims.get("nbf", 0)
    if not isinstance(exp, int) or not isinstance(nbf, int) or not isinstance(claims, dict):
        return VALIDATION_FAILURE
    scp, roles = claims.get("scp", ""), claims.get("roles", [])
    if not isinstance(scp, str) or not isinstance(roles, list):
        return VALIDATION_FAILURE
    return Verified(claims, frozenset(scp.split()), frozenset(map(str, roles)), exp, nbf)
