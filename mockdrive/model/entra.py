"""The tenant's identity service, as Microsoft Entra runs it: apps, sign-ins and tokens.

Pure logic (no HTTP): which app a client id names, whether its secret is right, what a user
consented to, and the short-lived things a sign-in leaves behind (authorization codes, device
codes, refresh tokens). Access tokens are JWTs (``tokens.py``); ``resolve`` turns one back into
the ``Principal`` a request acts for.

The defaults are permissive, as a mock's users expect (Dev Proxy's Entra mock is too):

- with no ``apps`` declared, any client id is an app: confidential with whatever secret it
  sends, public without one, holding ``DEFAULT_APP_ROLES``; once apps are declared only they
  (and the well-known public clients, ``WELL_KNOWN_CLIENTS``) are known;
- a user without ``consent`` consents to whatever an app asks for; ``.default`` then means
  ``DEFAULT_DELEGATED_SCOPES``;
- a user without ``password`` signs in (password grant) with any non-empty password.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .clock import parse_time
from .copying import deepcopy_attrs
from .errors import InvalidRequest
from .identity import Directory, User
from .ids import format_time
from .principal import APPLICATION, DELEGATED, Principal
from .tokens import (
    EXPIRED,
    GRAPH_APP_ID,
    GRAPH_RESOURCE,
    NOT_YET_VALID,
    VALIDATION_FAILURE,
    SigningKey,
    TokenRefused,
    Verified,
    sign,
    verify,
)

DEFAULT_TENANT_ID = "4d6f636b-4472-4976-8500-000000000001"
DEFAULT_DOMAIN = "contoso.example"
ACCESS_TOKEN_SECONDS = 3600
REFRESH_TOKEN_SECONDS = 90 * 24 * 3600  # Entra's inactivity limit
AUTH_CODE_SECONDS = 600
DEVICE_CODE_SECONDS = 900
DEVICE_POLL_INTERVAL = 5
RESOLVED_KEPT = 4096  # delegated access tokens remembered, resolved (then forgotten at once)
# the characters that end a token, which key those remembered: a JWT ends with its signature,
# so no two tokens of this server share them, and a key is hashed in a blink where the whole
# token (a thousand characters and more) is not; a token found is compared in full
RESOLVED_KEY = 32
MAX_PENDING = 10_000  # codes and refresh tokens kept per kind; the oldest go first
MAX_KEPT_CHARS = 1_000_000  # and the characters of text each kind keeps, at most
MAX_SCOPES = 50  # distinct scopes one request may name (Entra: 70011 past it)
MAX_CLIENT_ID = 128  # characters of a client id the tenant makes an app of (a GUID is 36)
# a scope's name, its resource prefix taken off: letters, digits and . _ - (Graph's are
# ``Files.ReadWrite.All``; ``.default``; the OpenID ones)
SCOPE_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
TENANT_ALIASES = ("common", "organizations", "consumers")
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
DEFAULT_DELEGATED_SCOPES = (
    "Files.ReadWrite.All",
    "Sites.ReadWrite.All",
    "User.Read",
    "User.ReadBasic.All",
)
DEFAULT_APP_ROLES = ("Files.ReadWrite.All", "Sites.ReadWrite.All", "User.Read.All")
# Public clients known in every tenant, as multi-tenant apps are: the Debian onedrive client,
# rclone, the Azure CLI, Microsoft Graph PowerShell, Graph Explorer; and the test fixture's.
TEST_CLIENT_ID = "6d6f636b-6472-4976-8500-00000000c11e"  # the fixture's, when none is named
WELL_KNOWN_CLIENTS = {
    TEST_CLIENT_ID: "mockdrive tests",
    "d50ca740-c83f-4d1b-b616-12c519384f0c": "OneDrive Client for Linux",
    "b15665d9-eda6-4092-8539-0eec376afd59": "rclone",
    "04b07795-8ddb-461a-bbee-02f9e1bf7b46": "Microsoft Azure CLI",
    "14d82eec-204b-4c2f-b7e8-296a70dab67e": "Microsoft Graph Command Line Tools",
    "de8bc8b5-d9f9-48b1-a8ad-b748da725064": "Graph Explorer",
}
DEVICE_OUTCOMES = ("approve", "decline", "expire")
# RFC 7636: a PKCE verifier (and a plain challenge) is 43-128 unreserved ASCII characters; an
# S256 challenge is the 43 base64url characters of a SHA-256 digest
PKCE_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
PKCE_S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


class EntraError(Exception):
    """A refusal as Entra words it: ``error``, the AADSTS number and its description."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(f"AADSTS{code}: {description}")
        self.status = status
        self.error = error
        self.code = code
        self.description = description


def invalid_request(description: str, code: int = 900144) -> EntraError:
    return EntraError(400, "invalid_request", code, description)


def missing(parameter: str) -> EntraError:
    return invalid_request(f"The request body must contain the following parameter: '{parameter}'.")


@dataclass(slots=True)
class App:
    """An app registration and its service principal in this tenant."""

    client_id: str
    display_name: str
    secret: str | None = None  # None: a public client (no secret); declared or not
    redirect_uris: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)  # application permissions, admin-consented
    drives: list[str] = field(default_factory=list)  # drive ids granted (Sites.Selected)
    declared: bool = True  # False: made up on first use (no apps declared, or well known)
    _caller: User | None = field(default=None, repr=False, compare=False)

    @property
    def object_id(self) -> str:
        """The service principal's object id (``oid`` of its app-only tokens): stable."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "mockdrive-sp:" + self.client_id))

    def caller(self) -> User:
        """The app as a request's caller: not a directory user; its ``email`` is the client
        id (what the journal and fault rules name the caller by)."""
        if self._caller is None:
            self._caller = User(self.object_id, self.display_name, self.client_id)
        return self._caller


@dataclass(slots=True)
class Grant:
    """What a sign-in gave a client for a user: scopes (delegated) for the tokens it redeems."""

    user_id: str
    client_id: str
    scopes: tuple[str, ...]
    expires: datetime


@dataclass(slots=True)
class AuthCode(Grant):
    redirect_uri: str = ""
    challenge: str | None = None
    challenge_method: str = "plain"
    nonce: str | None = None


@dataclass(slots=True)
class DeviceCode:
    client_id: str
    scopes: tuple[str, ...]
    user_code: str
    expires: datetime
    user_id: str | None
    outcome: str  # one of DEVICE_OUTCOMES, once the pending polls are spent
    pending: int  # polls still answered authorization_pending
    polls: int = 0


@dataclass(slots=True)
class Holder:
    """A line of the dashboard: who (user or app) holds tokens of which app, with which scopes."""

    who: str
    client_id: str
    kind: str
    scopes: tuple[str, ...]
    issued: str
    expires: str


class Entra:
    """The tenant: its id and domain, apps, passwords, consents and what sign-ins left."""

    __deepcopy__ = deepcopy_attrs  # a state's copy: see model/copying.py

    def __init__(self) -> None:
        self.tenant_id = DEFAULT_TENANT_ID
        self.domain = DEFAULT_DOMAIN
        self.apps: dict[str, App] = {}  # declared apps by client id
        self.passwords: dict[str, str] = {}  # user id -> password
        self.consent: dict[str, tuple[str, ...]] = {}  # user id -> delegated scopes consented
        self.refresh_tokens: SignIns = SignIns()
        self.auth_codes: SignIns = SignIns()
        self.device_codes: SignIns = SignIns()
        self.device_pending = 0  # polls each new device code stays pending
        self.device_outcome = "approve"  # then: approve, decline or expire
        self.device_user_id: str | None = None  # who approves (None: the default user)
        self.device_interval = DEVICE_POLL_INTERVAL  # seconds a client waits between polls
        self.holders: dict[tuple[str, str, str], Holder] = {}  # (who, client, kind)
        self._holder_chars = 0  # the text the holders keep (at most MAX_KEPT_CHARS)
        self._made: dict[str, App] = {}  # undeclared apps met so far
        self._by_object_id: dict[str, App] = {}  # every app above, by service principal id
        self._signer: SigningKey | None = None  # the server's; made on first use
        # delegated tokens resolved lately, by their last RESOLVED_KEY characters: (token,
        # signer, tenant, nbf, exp, upn, principal); each use checks again what may have moved
        # since (the time, the user, the tenant)
        self._resolved: dict[str, tuple[str, SigningKey, str, int, int, str, Principal]] = {}

    @property
    def key(self) -> SigningKey:
        """The key this server signs its tokens with (an RSA key: made once, on first use)."""
        if self._signer is None:
            self._signer = SigningKey()
        return self._signer

    def keep_key(self, earlier: Entra) -> None:
        """Sign with the key of the server's earlier state, so its tokens stay verifiable."""
        if earlier._signer is not None:
            self._signer = earlier._signer

    # -- the tenant ---------------------------------------------------------------------------
    def knows_tenant(self, tenant: str) -> bool:
        folded = tenant.casefold()
        return folded in TENANT_ALIASES or folded in (self.tenant_id, self.domain.casefold())

    def check_tenant(self, tenant: str) -> None:
        if not self.knows_tenant(tenant):
            raise EntraError(
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant "
                "ID and are signing into the correct cloud. Check with your subscription "
                "administrator, this may happen if there are no active subscriptions for the "
                "tenant.",
            )

    @property
    def issuer(self) -> str:
        """``iss`` of Graph's access tokens (v1.0 tokens, whichever endpoint issued them)."""
        return f"https://sts.windows.net/{self.tenant_id}/"

    # -- apps ---------------------------------------------------------------------------------
    def add_app(self, app: App) -> App:
        if app.client_id in self.apps:
            raise InvalidRequest(f"an app with clientId {app.client_id!r} already exists")
        self.apps[app.client_id] = app
        self._by_object_id[app.object_id] = app
        return app

    def app(self, client_id: str) -> App:
        """The app ``client_id`` names, or Entra's 700016 for one this tenant does not know."""
        found = self.apps.get(client_id) or self._made.get(client_id)
        if found is not None:
            return found
        if client_id in WELL_KNOWN_CLIENTS:
            made = App(client_id, WELL_KNOWN_CLIENTS[client_id], declared=False)
        elif not self.apps and len(client_id) <= MAX_CLIENT_ID:
            made = App(client_id, f"App {client_id[:8]}", roles=list(DEFAULT_APP_ROLES))
            made.declared = False
        else:
            raise EntraError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.domain}'. This can happen if the application has not been installed by "
                "the administrator of the tenant or consented to by any user in the tenant. You "
                "may have sent your authentication request to the wrong tenant.",
            )
        return made  # remembered once it signs in (``access_token``): a refusal leaves nothing

    def _remember(self, app: App) -> None:
        """An undeclared app that was issued a token: the tenant knows it from now on."""
        if app.declared or app.client_id in self._made or len(self._made) >= MAX_PENDING:
            return
        self._made[app.client_id] = app
        self._by_object_id[app.object_id] = app

    def _met_again(self, client_id: object) -> App | None:
        """The undeclared app of a token that outlived a reset, if this tenant would make it
        now (no apps declared, or a well-known client): as its delegated tokens do, it goes
        on."""
        try:
            app = self.app(str(client_id))
        except EntraError:
            return None
        self._remember(app)
        return app

    def app_by_object_id(self, object_id: str) -> App | None:
        return self._by_object_id.get(object_id)

    def known_apps(self) -> list[App]:
        """The declared apps, then those met without being declared."""
        return [*self.apps.values(), *self._made.values()]

    # -- scopes -------------------------------------------------------------------------------
    def delegated_scopes(self, user: User, app: App, requested: str) -> tuple[str, ...]:
        """The scopes a user's sign-in for ``app`` grants: Graph's (the token's ``scp``) then
        the OpenID ones asked for; or 65001 if the user has not consented to one of them.
        ``requested`` is the request's ``scope`` parameter."""
        wanted = [graph_scope(word) or "" for word in scope_words(requested)]
        consented = self.consent.get(user.id)
        asked = [s for s in wanted if s not in OIDC_SCOPES and s != ".default"]
        if ".default" in wanted or not asked:
            asked += list(consented if consented is not None else DEFAULT_DELEGATED_SCOPES)
        if consented is not None:
            missing_consent = [s for s in asked if s not in consented]
            if missing_consent:
                raise EntraError(
                    400,
                    "invalid_grant",
                    65001,
                    f"The user or administrator has not consented to use the application with "
                    f"ID '{app.client_id}' named '{app.display_name}'. Send an interactive "
                    "authorization request for this user and resource.",
                )
        kept = [s for s in wanted if s in OIDC_SCOPES]  # not in ``scp``; remembered by codes
        return tuple(dict.fromkeys([*asked, *kept]))

    # -- users --------------------------------------------------------------------------------
    def check_password(self, directory: Directory, username: str, password: str) -> User:
        user = directory.by_email(username) or directory.by_alias(username)
        if user is None:
            raise EntraError(
                400,
                "invalid_grant",
                50034,
                f"The user account {{EUII Hidden}} does not exist in the {self.tenant_id} "
                "directory. To sign into this application, the account must be added to the "
                "directory.",
            )
        expected = self.passwords.get(user.id)
        if not password or (expected is not None and password != expected):
            raise EntraError(
                400,
                "invalid_grant",
                50126,
                "Error validating credentials due to invalid username or password.",
            )
        return user

    # -- tokens -------------------------------------------------------------------------------
    def access_token(
        self,
        now: datetime,
        app: App,
        *,
        user: User | None = None,
        scopes: tuple[str, ...] = (),
        lifetime: int = ACCESS_TOKEN_SECONDS,
    ) -> str:
        """A Graph access token (v1.0 claims, as Graph's are): delegated for ``user`` with
        ``scp``, else app-only with the app's ``roles``."""
        self._remember(app)
        issued = int(now.timestamp())
        claims: dict[str, Any] = {
            "aud": GRAPH_RESOURCE,
            "iss": self.issuer,
            "iat": issued,
            "nbf": issued,
            "exp": issued + lifetime,
            "appid": app.client_id,
            "app_displayname": app.display_name,
            "appidacr": "1" if user is None or app.secret else "0",  # 1: it sent a secret
            "idtyp": "user" if user is not None else "app",
            "tid": self.tenant_id,
            "uti": _b64(secrets.token_bytes(16)),
            "ver": "1.0",
        }
        if user is not None:
            claims.update(
                oid=user.id,
                sub=user.id,
                upn=user.email,
                unique_name=user.email,
                preferred_username=user.email,
                name=user.display_name,
                scp=" ".join(scopes),
            )
            kind, scope_list = DELEGATED, scopes
        else:
            claims.update(oid=app.object_id, sub=app.object_id, roles=list(app.roles))
            kind, scope_list = APPLICATION, tuple(app.roles)
        who = user.email if user is not None else app.display_name
        self._hold(Holder(who, app.client_id, kind, scope_list, _iso(now), _iso(now, lifetime)))
        return sign(claims, self.key)

    def id_token(
        self, now: datetime, app: App, user: User, nonce: str | None, issuer: str | None = None
    ) -> str:
        """An OpenID Connect id token (v2.0) for ``app`` about ``user``; ``iss`` is ``issuer``
        (what the OpenID configuration the client read names), else Entra's."""
        issued = int(now.timestamp())
        claims: dict[str, Any] = {
            "aud": app.client_id,
            "iss": issuer or f"https://login.microsoftonline.com/{self.tenant_id}/v2.0",
            "iat": issued,
            "nbf": issued,
            "exp": issued + ACCESS_TOKEN_SECONDS,
            "name": user.display_name,
            "oid": user.id,
            "preferred_username": user.email,
            "sub": user.id,
            "tid": self.tenant_id,
            "ver": "2.0",
        }
        if nonce:
            claims["nonce"] = nonce
        return sign(claims, self.key)

    def _hold(self, holder: Holder) -> None:
        """Remember who holds tokens (the dashboard's list): the first MAX_PENDING holders, as
        long as their text stays within MAX_KEPT_CHARS."""
        key = (holder.who, holder.client_id, holder.kind)
        earlier = self.holders.get(key)
        chars = self._holder_chars + kept_chars(holder)
        chars -= kept_chars(earlier) if earlier is not None else 0
        if earlier is None and (len(self.holders) >= MAX_PENDING or chars > MAX_KEPT_CHARS):
            return
        self.holders[key] = holder
        self._holder_chars = chars

    def client_info(self, user: User) -> str:
        """MSAL's ``client_info``: base64url of ``{"uid", "utid"}``."""
        import json

        raw = json.dumps({"uid": user.id, "utid": self.tenant_id}).encode()
        return _b64(raw)

    def issue_refresh_token(
        self, now: datetime, user: User, client_id: str, scopes: Iterable[str]
    ) -> str:
        value = "0.AmockRT." + secrets.token_urlsafe(48)
        expires = now + timedelta(seconds=REFRESH_TOKEN_SECONDS)
        self.refresh_tokens.keep(value, Grant(user.id, client_id, tuple(scopes), expires))
        return value

    def redeem_refresh_token(self, now: datetime, value: str, client_id: str) -> Grant:
        """The grant a refresh token stands for. Redeeming it revokes nothing: the answer carries
        a new one, and this one stays good until it expires or is revoked (``revoke``), as the
        identity platform documents ("doesn't revoke old refresh tokens when used to fetch new
        access tokens"); a client that keeps presenting the one it was given works."""
        grant = self.refresh_tokens.get(value)
        if grant is None or grant.client_id != client_id:
            raise EntraError(
                400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
            )
        if grant.expires <= now:
            del self.refresh_tokens[value]
            issued = grant.expires - timedelta(seconds=REFRESH_TOKEN_SECONDS)
            raise EntraError(
                400,
                "invalid_grant",
                700082,
                f"The refresh token has expired due to inactivity. The token was issued on "
                f"{_iso(issued)} and was inactive for 90.00:00:00.",
            )
        self.refresh_tokens.touch(value)  # in use: the bound drops the others first
        return grant

    def revoke(self, user_id: str) -> int:
        """Revoke every refresh token of a user (``revokeSignInSessions``); how many."""
        gone = [v for v, g in self.refresh_tokens.items() if g.user_id == user_id]
        for value in gone:
            del self.refresh_tokens[value]
        return len(gone)

    # -- authorization codes ------------------------------------------------------------------
    def issue_code(self, now: datetime, code: AuthCode) -> str:
        value = "0.AmockAC." + secrets.token_urlsafe(32)
        code.expires = now + timedelta(seconds=AUTH_CODE_SECONDS)
        self.auth_codes.keep(value, code)
        return value

    def redeem_code(
        self, now: datetime, value: str, client_id: str, redirect_uri: str, verifier: str | None
    ) -> AuthCode:
        code = self.auth_codes.get(value)  # spent only by the redemption that succeeds
        if code is None or code.client_id != client_id or code.expires <= now:
            raise EntraError(
                400,
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to "
                "inactivity. Send a new interactive authorization request for this user and "
                "resource.",
            )
        if code.redirect_uri != redirect_uri:
            raise EntraError(
                400,
                "invalid_grant",
                70000,
                "The request was denied because one or more scopes requested are unauthorized "
                "or expired, or the redirect_uri does not match the one of the authorization "
                "request.",
            )
        if code.challenge is not None:
            if not verifier:
                raise missing("code_verifier")
            if not PKCE_VERIFIER.fullmatch(verifier) or (
                pkce(verifier, code.challenge_method) != code.challenge
            ):
                raise EntraError(
                    400,
                    "invalid_grant",
                    501481,
                    "The Code_Verifier does not match the code_challenge supplied in the "
                    "authorization request.",
                )
        del self.auth_codes[value]
        return code

    # -- device codes -------------------------------------------------------------------------
    def start_device_flow(
        self, now: datetime, client_id: str, scopes: Iterable[str]
    ) -> tuple[str, DeviceCode]:
        value = "DAQABAAEAAAmock" + secrets.token_urlsafe(32)
        user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
        device = DeviceCode(
            client_id,
            tuple(scopes),
            user_code,
            now + timedelta(seconds=DEVICE_CODE_SECONDS),
            self.device_user_id,
            self.device_outcome,
            self.device_pending,
        )
        self.device_codes.keep(value, device)
        return value, device

    def poll_device_code(self, now: datetime, value: str, client_id: str) -> DeviceCode:
        """The device code, approved; or the error its poll answers (pending, declined...)."""
        device = self.device_codes.get(value)
        if device is None or device.client_id != client_id:
            raise EntraError(
                400, "invalid_grant", 70000, "The provided value for 'device_code' is not valid."
            )
        device.polls += 1
        if device.expires <= now or (device.outcome == "expire" and device.pending <= 0):
            self.device_codes.pop(value, None)
            raise EntraError(400, "expired_token", 70019, "Verification code expired.")
        if device.pending > 0:
            device.pending -= 1
            raise EntraError(
                400,
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            )
        if device.outcome == "decline":
            self.device_codes.pop(value, None)
            raise EntraError(
                400,
                "authorization_declined",
                70000,
                "The user has declined to authorize the request.",
            )
        del self.device_codes[value]
        return device

    def set_device_flow(
        self,
        *,
        pending: int = 0,
        outcome: str = "approve",
        user_id: str | None = None,
        interval: int = DEVICE_POLL_INTERVAL,
    ) -> None:
        """How later device codes answer their polls: ``pending`` polls pending, then
        ``outcome`` (approve, decline or expire), approved by ``user_id`` (None: the default
        user); ``interval`` is the wait between polls the device-code answer asks for."""
        if outcome not in DEVICE_OUTCOMES:
            raise InvalidRequest(f"outcome must be one of {', '.join(DEVICE_OUTCOMES)}")
        for name, value in (("pending", pending), ("interval", interval)):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1000:
                raise InvalidRequest(f"{name} must be a whole number from 0 to 1,000")
        self.device_pending, self.device_outcome = pending, outcome
        self.device_user_id, self.device_interval = user_id, interval

    def device_flow(self) -> dict[str, Any]:
        """The device-code settings, as the admin API shows them."""
        return {
            "pending": self.device_pending,
            "outcome": self.device_outcome,
            "userId": self.device_user_id,
            "interval": self.device_interval,
        }

    # -- export and load ------------------------------------------------------------------------
    def sign_ins_to_data(self, directory: Directory) -> dict[str, Any]:
        """What sign-ins left that a client may still present (refresh tokens, codes, device
        codes) and the device-code switch, as scenario data (``signIns``); each names its
        user by id and e-mail (``oid`` and ``upn``), which a load checks together."""
        data: dict[str, Any] = {}
        if self.device_flow() != DEFAULT_DEVICE_FLOW:
            data["deviceFlow"] = {
                "pending": self.device_pending,
                "outcome": self.device_outcome,
                "interval": self.device_interval,
                **_user_data(directory, self.device_user_id),
            }
        tables = (
            ("refreshTokens", self.refresh_tokens, _grant_data),
            ("codes", self.auth_codes, _code_data),
            ("deviceCodes", self.device_codes, _device_data),
        )
        for key, table, write in tables:
            entries = [
                {"value": value, **_user_data(directory, entry.user_id), **write(entry)}
                for value, entry in table.items()
                if entry.user_id is None or entry.user_id in directory.users
            ]
            if entries:
                data[key] = entries
        return data

    def sign_ins_from_data(self, directory: Directory, data: object) -> None:
        """``signIns`` as ``sign_ins_to_data`` wrote it; InvalidRequest says what is wrong."""
        if not isinstance(data, dict) or not set(data) <= set(SIGN_IN_KEYS):
            raise InvalidRequest(f"signIns holds only {', '.join(SIGN_IN_KEYS)}")
        flow = data.get("deviceFlow")
        if flow is not None:
            if not isinstance(flow, dict) or not set(flow) <= {*DEFAULT_DEVICE_FLOW, "upn"}:
                raise InvalidRequest("deviceFlow has pending, outcome, interval, userId, upn")
            self.set_device_flow(
                pending=flow.get("pending", 0),
                outcome=flow.get("outcome", "approve"),
                user_id=_user_of(directory, flow),
                interval=flow.get("interval", DEVICE_POLL_INTERVAL),
            )
        tables = (
            ("refreshTokens", self.refresh_tokens, _grant_from),
            ("codes", self.auth_codes, _code_from),
            ("deviceCodes", self.device_codes, _device_from),
        )
        for key, table, read in tables:
            entries = data.get(key) or []
            if not isinstance(entries, list):
                raise InvalidRequest(f"signIns.{key} is a list")
            if len(entries) > MAX_PENDING:  # the table would drop the oldest: refused instead
                raise InvalidRequest(f"signIns.{key} holds at most {MAX_PENDING:,} entries")
            for raw in entries:
                if not isinstance(raw, dict) or not isinstance(raw.get("value"), str):
                    raise InvalidRequest(f"each of signIns.{key} has a value (text)")
                if not raw["value"] or raw["value"] in table:
                    raise InvalidRequest(f"signIns.{key} has an empty or repeated value")
                try:
                    entry = read(raw, _user_of(directory, raw))
                except (KeyError, TypeError, ValueError, EntraError):
                    raise InvalidRequest(f"an entry of signIns.{key} is not valid") from None
                if table.chars + len(raw["value"]) + kept_chars(entry) > MAX_KEPT_CHARS:
                    raise InvalidRequest(
                        f"signIns.{key} holds at most {MAX_KEPT_CHARS:,} characters of text"
                    )
                table.keep(raw["value"], entry)

    # -- the token's way back ------------------------------------------------------------------
    def remembered(self, directory: Directory, seconds: int, token: str) -> Principal | None:
        """What ``resolve`` gave for a delegated ``token`` met before, at ``seconds`` (the
        clock's epoch seconds), while its signer, tenant and user are the same and it is within
        its lifetime: what ``resolve`` would give again. None: resolve it in full."""
        known = self._resolved.get(token[-RESOLVED_KEY:])
        if known is None:
            return None
        whole, signer, tenant, nbf, exp, upn, principal = known
        user = principal.user
        if (
            whole == token
            and signer is self._signer
            and tenant == self.tenant_id
            and nbf <= seconds + 300
            and exp > seconds
            and user is not None
            and directory.users.get(user.id) is user  # ``by_id``, without a call
            and user.email == upn
        ):
            return principal
        return None

    def resolve(self, directory: Directory, now: datetime, token: str) -> Principal:
        """The Principal a bearer JWT stands for, or TokenRefused with Graph's message; a
        delegated one is remembered (``remembered``)."""
        moment = now.timestamp()
        found: Verified = verify(token, self.key)
        if found.exp <= moment:
            raise TokenRefused(EXPIRED)
        if found.nbf > moment + 300:  # Graph allows five minutes of clock skew
            raise TokenRefused(NOT_YET_VALID)
        claims = found.claims
        if claims.get("tid") != self.tenant_id or claims.get("iss") != self.issuer:
            raise TokenRefused(VALIDATION_FAILURE)  # another tenant's, or an id token
        app_id = claims.get("appid")
        uti = claims.get("uti")
        if claims.get("idtyp") == "app":
            app = self.app_by_object_id(str(claims.get("oid"))) or self._met_again(app_id)
            if app is None:  # its app was declared in an earlier state only
                raise TokenRefused(VALIDATION_FAILURE)
            return Principal(APPLICATION, None, app_id, frozenset(), found.roles, uti)
        user = directory.by_id(str(claims.get("oid")))
        if user is None or claims.get("upn") != user.email:  # ids repeat across loaded states
            raise TokenRefused(VALIDATION_FAILURE)
        principal = Principal(DELEGATED, user, app_id, found.scopes, frozenset(), uti)
        if len(self._resolved) >= RESOLVED_KEPT:
            self._resolved.clear()
        entry = (token, self.key, self.tenant_id, found.nbf, found.exp, user.email, principal)
        self._resolved[token[-RESOLVED_KEY:]] = entry
        return principal

    def caller_of(self, principal: Principal) -> User:
        """The User a request acts as: the signed-in user, or one standing for the app."""
        if principal.user is not None:
            return principal.user
        client_id = principal.app_id or ""
        app = self.apps.get(client_id) or self._made.get(client_id)
        return app.caller() if app is not None else App(client_id, client_id).caller()


def check_secret(app: App, secret: str | None) -> None:
    """A confidential client's secret; an undeclared app takes any it is sent."""
    if secret is None or secret == "":
        raise EntraError(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
        )
    if app.declared and app.secret != secret:
        raise EntraError(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is "
            "the client secret value, not the client secret ID, for a secret added to app "
            f"'{app.client_id}'.",
        )


def graph_scope(word: str) -> str | None:
    """``https://graph.microsoft.com/Files.Read`` → ``Files.Read``; ``.default`` stays; None
    for another resource's scope, or a name no scope has (``SCOPE_NAME``)."""
    for prefix in (GRAPH_RESOURCE + "/", GRAPH_APP_ID + "/"):
        if word.startswith(prefix):
            word = word[len(prefix) :]  # "" (the resource, but no scope of it) is no name
            break
    return word if SCOPE_NAME.fullmatch(word) else None


def scope_words(requested: str) -> list[str]:
    """The words of a ``scope`` parameter, each a Graph scope (``graph_scope``), each once and
    at most MAX_SCOPES of them, or Entra's 70011."""
    words = requested.split()
    for word in words:
        if graph_scope(word) is None:
            raise invalid_scope(word)
    if len(set(words)) > MAX_SCOPES:
        raise EntraError(
            400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' "
            f"is not valid: it names more than {MAX_SCOPES} scopes.",
        )  # fmt: skip
    return list(dict.fromkeys(words))  # each once: a word repeated is one scope


def invalid_scope(word: str) -> EntraError:
    return EntraError(
        400, "invalid_scope", 70011, f"The provided value for the input parameter 'scope' is not "
        f"valid. The scope {word} is not valid.",
    )  # fmt: skip


def pkce(verifier: str, method: str) -> str:
    """The code challenge of ``verifier`` (RFC 7636: ``S256`` or ``plain``); ``verifier`` is
    ASCII (``PKCE_VERIFIER``)."""
    if method == "S256":
        return _b64(hashlib.sha256(verifier.encode("ascii")).digest())
    return verifier


def check_challenge(challenge: str, method: str) -> None:
    """A code challenge some RFC 7636 verifier can match, or Entra's 501491."""
    grammar = PKCE_S256_CHALLENGE if method == "S256" else PKCE_VERIFIER
    if not grammar.fullmatch(challenge):
        raise invalid_request("Invalid size of Code_Challenge parameter.", 501491)


DEFAULT_DEVICE_FLOW = {
    "pending": 0,
    "outcome": "approve",
    "userId": None,
    "interval": DEVICE_POLL_INTERVAL,
}
SIGN_IN_KEYS = ("deviceFlow", "refreshTokens", "codes", "deviceCodes")


def _user_data(directory: Directory, user_id: str | None) -> dict[str, Any]:
    """A user as an export names it: ``userId`` and ``upn`` (nothing for no user)."""
    if user_id is None:
        return {}
    return {"userId": user_id, "upn": directory.users[user_id].email}


def _user_of(directory: Directory, raw: dict) -> str | None:
    """The user ``userId`` and ``upn`` name together (a loaded state may give an id to
    someone else: the pair must still match), or None when neither is given."""
    if "userId" not in raw and "upn" not in raw:
        return None
    user = directory.by_id(str(raw.get("userId")))
    if user is None or user.email != raw.get("upn"):
        raise InvalidRequest(f"no user has the id {raw.get('userId')!r} and the e-mail "
                             f"{raw.get('upn')!r}")  # fmt: skip
    return user.id


def _scopes_from(raw: dict) -> tuple[str, ...]:
    scopes = raw["scopes"]
    if not isinstance(scopes, list) or not all(
        isinstance(w, str) and graph_scope(w) is not None for w in scopes
    ):  # each entry one scope name: "A B" would be kept (and exported) as two
        raise TypeError("scopes")
    words = tuple(scope_words(" ".join(scopes)))
    if len(words) != len(scopes):
        raise ValueError("a scope named twice")  # kept once, it would export otherwise
    return words


def _grant_data(grant: Grant) -> dict[str, Any]:
    return {
        "clientId": grant.client_id,
        "scopes": list(grant.scopes),
        "expires": format_time(grant.expires),
    }


def _grant_from(raw: dict, user_id: str | None) -> Grant:
    if user_id is None or not isinstance(raw["clientId"], str):
        raise TypeError("a grant is a user's, for a client")
    return Grant(user_id, raw["clientId"], _scopes_from(raw), parse_time(raw["expires"]))


def _code_data(code: AuthCode) -> dict[str, Any]:
    data = {**_grant_data(code), "redirectUri": code.redirect_uri}
    if code.challenge is not None:
        data["challenge"], data["challengeMethod"] = code.challenge, code.challenge_method
    if code.nonce is not None:
        data["nonce"] = code.nonce
    return data


def _code_from(raw: dict, user_id: str | None) -> AuthCode:
    grant = _grant_from(raw, user_id)
    challenge, method = raw.get("challenge"), raw.get("challengeMethod", "plain")
    nonce = raw.get("nonce")
    if not isinstance(raw["redirectUri"], str) or not isinstance(nonce, str | None):
        raise TypeError("redirectUri and nonce are text")
    if challenge is not None:
        if method not in ("S256", "plain") or not isinstance(challenge, str):
            raise ValueError("challengeMethod")
        check_challenge(challenge, method)
    return AuthCode(grant.user_id, grant.client_id, grant.scopes, grant.expires,
                    raw["redirectUri"], challenge, method, nonce)  # fmt: skip


def _device_data(device: DeviceCode) -> dict[str, Any]:
    return {
        "clientId": device.client_id,
        "scopes": list(device.scopes),
        "expires": format_time(device.expires),
        "userCode": device.user_code,
        "outcome": device.outcome,
        "pending": device.pending,
    }


def _device_from(raw: dict, user_id: str | None) -> DeviceCode:
    texts = (raw["clientId"], raw["userCode"])
    numbers = (raw["pending"],)
    if not all(isinstance(t, str) and 0 < len(t) <= 200 for t in texts):
        raise TypeError("clientId and userCode are text")
    if not all(type(n) is int and 0 <= n <= 10**9 for n in numbers):
        raise ValueError("pending is a whole number")
    if raw["outcome"] not in DEVICE_OUTCOMES:
        raise ValueError("outcome")
    return DeviceCode(raw["clientId"], _scopes_from(raw), raw["userCode"],
                      parse_time(raw["expires"]), user_id, raw["outcome"],
                      raw["pending"])  # fmt: skip


def kept_chars(entry: Any) -> int:
    """The text an entry of the sign-in tables keeps: what its memory grows with."""
    total = sum(len(scope) for scope in entry.scopes)
    for name in ("user_id", "client_id", "redirect_uri", "challenge", "nonce", "who"):
        text = getattr(entry, name, None)
        total += len(text) if isinstance(text, str) else 0
    return total


class SignIns(dict[str, Any]):
    """What sign-ins left of one kind (refresh tokens, codes, device codes), by value; the
    oldest go first once it holds MAX_PENDING entries or MAX_KEPT_CHARS characters of text.
    Entries come in by ``keep`` only."""

    def __init__(self) -> None:
        super().__init__()
        self.chars = 0

    def __deepcopy__(self, memo: dict[int, Any]) -> SignIns:
        """The copy deepcopy makes through ``__reduce_ex__`` (its attributes, then its
        entries), without the reduction: a state's copy holds three (model/copying.py)."""
        copied = deepcopy_attrs(self, memo)
        for key, value in self.items():
            dict.__setitem__(copied, copy.deepcopy(key, memo), copy.deepcopy(value, memo))
        return copied

    def keep(self, key: str, value: Any) -> None:
        cost = len(key) + kept_chars(value)
        while self and (len(self) >= MAX_PENDING or self.chars + cost > MAX_KEPT_CHARS):
            del self[next(iter(self))]
        super().__setitem__(key, value)
        self.chars += cost

    def __delitem__(self, key: str) -> None:
        self.chars -= len(key) + kept_chars(self[key])
        super().__delitem__(key)

    def touch(self, key: str) -> None:
        """``key`` (kept) counts as the newest: the bound drops every other first."""
        super().__setitem__(key, super().pop(key))

    def pop(self, key: str, *default: Any) -> Any:
        if key not in self:
            return default[0] if default else super().pop(key)
        value = self[key]
        del self[key]
        return value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _iso(moment: datetime, plus: int = 0) -> str:
    return (moment + timedelta(seconds=plus)).strftime("%Y-%m-%dT%H:%M:%SZ")
