"""Microsoft Entra's sign-in endpoints, for the mock tenant (the logic is ``model/entra.py``).

Served on the mock's own origin and, in proxy mode, as ``login.microsoftonline.com`` and
``login.microsoft.com``: OpenID configuration, the JWKS, MSAL's instance discovery, the token
endpoint (client credentials, refresh token, authorization code with PKCE, device code,
password), the authorize endpoint (no UI: it redirects at once) and the device-code endpoint.
``{tenant}`` is the tenant's id or domain, ``common``, ``organizations`` or ``consumers``.

Refusals are Entra's: ``{error, error_description, error_codes, timestamp, trace_id,
correlation_id, error_uri}``, with the AADSTS number in the description.

Microsoft account's older token endpoint, ``login.live.com/oauth20_token.srf``, which Live
SDK-era clients still call (Debian's duplicity), redeems the same refresh tokens for the same
access tokens; it answers as that host does (``{token_type: "bearer", ..., user_id}``) and
refuses as it does: ``{error, error_description}``, no AADSTS number. The live host serves
only that endpoint, the Entra hosts never serve it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from aiohttp import web

from ..model import entra as model
from ..model.entra import App, AuthCode, EntraError
from ..model.errors import InvalidRequest
from ..model.identity import User
from ..model.state import State
from ..model.tokens import jwks
from . import onehub
from .context import EXCHANGE, backend_of, exchange_of
from .jsonio import PARSED_BODY, json_response, read_json_object
from .routing import Route

LIVE_HOST = "login.live.com"  # Microsoft account's own sign-in host: ``LIVE_TOKEN`` only
LOGIN_HOSTS = frozenset({"login.microsoftonline.com", "login.microsoft.com", LIVE_HOST})
LIVE_TOKEN = "/oauth20_token.srf"
DEVICE_LOGIN = "https://microsoft.com/devicelogin"
# what the journal shows of these form fields: never the secret itself
SECRET_FIELDS = frozenset(
    {"client_secret", "password", "refresh_token", "code", "code_verifier", "assertion",
     "client_assertion", "device_code"}
)  # fmt: skip
REDACTED = "[redacted]"
GRANTS = {
    "client_credentials",
    "refresh_token",
    "authorization_code",
    "urn:ietf:params:oauth:grant-type:device_code",
    "device_code",
    "password",
}
MAX_FORM_BODY = 64 * 1024
# what a browser runs rather than goes to: never a redirect URI, registered or not
SCRIPT_SCHEMES = ("javascript", "data", "vbscript")
# what a URL may hold as it is (RFC 3986, escapes included); the rest is percent-encoded
URI_CHARACTERS = "!#$%&'()*+,-./:;=?@[]_~"


# -- answers ------------------------------------------------------------------------------------
def entra_error_response(
    error: EntraError, request: web.Request, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Entra's error body for ``error``; the trace id is the request id, the correlation id
    the client's ``client-request-id`` when it sent one. On login.live.com, or its token
    endpoint on the mock's own origin, that host's body instead (``live_error_response``)."""
    host = request.host.partition(":")[0].lower()
    if host == LIVE_HOST or (request.path == LIVE_TOKEN and host not in LOGIN_HOSTS):
        return live_error_response(error, headers)
    exchange = exchange_of(request)
    state: State = exchange.state if exchange is not None else backend_of(request).state
    moment = state.clock.moment()
    trace = exchange.request_id if exchange is not None else ""
    correlation = request.headers.get("client-request-id") or trace
    when = moment.strftime("%Y-%m-%d %H:%M:%SZ")
    description = (
        f"AADSTS{error.code}: {error.description} Trace ID: {trace} Correlation ID: "
        f"{correlation} Timestamp: {when}"
    )
    body = {
        "error": error.error,
        "error_description": description,
        "error_codes": [error.code],
        "timestamp": when,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={error.code}",
    }
    return json_response(body, status=error.status, headers=dict(headers or {}))


def live_error_response(
    error: EntraError, headers: Mapping[str, str] | None = None
) -> web.Response:
    """login.live.com's refusal: ``{error, error_description}``, no AADSTS number."""
    body = {"error": error.error, "error_description": error.description}
    return json_response(body, status=error.status, headers=dict(headers or {}))


def serves(host: str, request: web.Request) -> bool:
    """Does the login ``host`` (lower case, no port) serve this identity route? The live host
    only its token endpoint, Entra's hosts everything else."""
    return (host == LIVE_HOST) == (request.path == LIVE_TOKEN)


def as_entra_error(status: int, message: str) -> EntraError:
    """An HTTP-level refusal (fault rule, body too large, bad method) as Entra words one."""
    if status == 429:
        return EntraError(429, "temporarily_unavailable", 50196, message or "Too many requests.")
    if status >= 500:
        text = message or "A transient error has occurred. Please try again."
        return EntraError(status, "temporarily_unavailable", 90033, text)
    return EntraError(status, "invalid_request", 90100, message or "The request is not valid.")


def post_only(method: str, accepted: str = "POST") -> EntraError:
    """What Entra answers a request to its token or device-code endpoint made without POST;
    ``accepted`` is what the endpoint names as taken (the token endpoint: ``POST, OPTIONS``)."""
    return EntraError(
        400, "invalid_request", 900561,
        f"The endpoint only accepts {accepted} requests. Received a {method} request.",
    )  # fmt: skip


async def not_posted(request: web.Request) -> web.StreamResponse:
    """The token or device-code endpoint asked with another method than POST. The token
    endpoint takes OPTIONS too (a browser's preflight: it serves single-page apps) and names
    both in its refusal, as Entra does."""
    if not request.path.endswith("/token"):
        raise post_only(request.method)
    if request.method == "OPTIONS":
        return web.Response(headers={"Allow": "POST, OPTIONS"})
    raise post_only(request.method, "POST, OPTIONS")


def no_store(data: dict[str, Any]) -> web.Response:
    """A token answer: never cached, as Entra sends it."""
    headers = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
    return json_response(data, headers=headers)


def origin_of(request: web.Request) -> str:
    """The scheme and host the client used: the login host through the proxy, the mock's own
    address otherwise."""
    return f"{request.scheme}://{request.host}"


def state_of(request: web.Request) -> State:
    return request[EXCHANGE].state


def tenant_of(request: web.Request) -> str:
    """The path's tenant, checked (90002 for one the mock does not serve)."""
    tenant = request.match_info["tenant"]
    state_of(request).entra.check_tenant(tenant)
    return tenant


async def read_form(request: web.Request) -> dict[str, str]:
    """The form body (``application/x-www-form-urlencoded``, UTF-8), first value of each
    field; the journal keeps it with the secrets redacted."""
    if request.content_type not in ("application/x-www-form-urlencoded", ""):
        raise model.missing("grant_type")
    raw = await request.read()
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise model.invalid_request("The request body is not valid form data.", 90100) from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, value)
    request[PARSED_BODY] = redacted(fields)
    return fields


def redacted(fields: Mapping[str, str]) -> dict[str, str]:
    """``fields`` as the journal keeps them: every secret (``SECRET_FIELDS``) redacted."""
    return {k: REDACTED if k in SECRET_FIELDS else v for k, v in fields.items()}


def require(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not value.strip():
        raise model.missing(name)
    return value


def default_user(state: State) -> User:
    """Who signs in when nobody is named: the first drive's owner, else the first user."""
    directory = state.directory
    drive = next(iter(state.store.drives.values()), None)
    user = directory.users.get(drive.owner_id) if drive is not None else None
    user = user or next(iter(directory.users.values()), None)
    if user is None:
        raise EntraError(
            400, "invalid_grant", 50034, "The user account does not exist in the directory."
        )
    return user


def user_named(state: State, hint: str) -> User:
    directory = state.directory
    user = directory.by_email(hint) or directory.by_alias(hint) or directory.by_id(hint)
    if user is None:
        raise EntraError(
            400,
            "invalid_grant",
            50034,
            f"The user account {{EUII Hidden}} does not exist in the {state.entra.tenant_id} "
            "directory. To sign into this application, the account must be added to the "
            "directory.",
        )
    return user


# -- discovery ----------------------------------------------------------------------------------
async def openid_configuration(request: web.Request) -> web.StreamResponse:
    tenant = tenant_of(request)
    base = f"{origin_of(request)}/{tenant}"
    tenant_id = state_of(request).entra.tenant_id
    issuer_tenant = "{tenantid}" if tenant.casefold() in model.TENANT_ALIASES else tenant_id
    return json_response(
        {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{origin_of(request)}/{issuer_tenant}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": [
                "sub",
                "iss",
                "cloud_instance_name",
                "cloud_instance_host_name",
                "cloud_graph_host_name",
                "msgraph_host",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "acr",
                "nonce",
                "preferred_username",
                "name",
                "tid",
                "ver",
                "at_hash",
                "c_hash",
                "email",
            ],
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
    )


async def keys(request: web.Request) -> web.StreamResponse:
    tenant_of(request)
    return json_response(jwks(state_of(request).entra.key))


async def instance_discovery(request: web.Request) -> web.StreamResponse:
    """MSAL's: which hosts are one cloud, and where the authority's configuration is."""
    endpoint = request.query.get("authorization_endpoint", "")
    origin = origin_of(request)
    tenant = "common"
    if endpoint:
        parts = urlsplit(endpoint)
        segments = [s for s in parts.path.split("/") if s]
        if parts.scheme == "https" and parts.netloc and segments:
            origin, tenant = f"https://{parts.netloc}", segments[0]
    aliases = ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com",
               "sts.windows.net"]  # fmt: skip
    host = urlsplit(origin).netloc
    metadata = [{"preferred_network": "login.microsoftonline.com",
                 "preferred_cache": "login.windows.net", "aliases": aliases}]  # fmt: skip
    if host not in aliases:
        metadata.append({"preferred_network": host, "preferred_cache": host, "aliases": [host]})
    return json_response(
        {
            "tenant_discovery_endpoint": f"{origin}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": metadata,
        }
    )


async def user_realm(request: web.Request) -> web.StreamResponse:
    """Home realm discovery (MSAL asks it before the password grant): the tenant's users and
    its domain are ``Managed`` (they sign in with a password at the token endpoint); any other
    account is ``Unknown``, as Entra answers for a domain it does not know. Never
    ``Federated``: the mock has no federation server."""
    username = request.match_info["username"]
    domain = username.rpartition("@")[2].casefold()
    entra_ = state_of(request).entra
    if state_of(request).directory.by_email(username) or domain == entra_.domain.casefold():
        return json_response(
            {
                "ver": "1.0",
                "account_type": "Managed",
                "domain_name": entra_.domain,
                "cloud_instance_name": "microsoftonline.com",
                "cloud_audience_urn": "urn:federation:MicrosoftOnline",
            }
        )
    return json_response(
        {"ver": "1.0", "account_type": "Unknown", "cloud_instance_name": "microsoftonline.com"}
    )


async def plain(request: web.Request) -> web.StreamResponse:
    """Any other GET on a login host: clients probe it for connectivity."""
    return web.Response(text="mockdrive: Microsoft Entra sign-in for the mock tenant\n")


# -- tokens -------------------------------------------------------------------------------------
def client_of(request: web.Request, fields: dict[str, str]) -> tuple[str, str | None]:
    """The client id and secret, from the form or HTTP Basic (``client_secret_basic``)."""
    client_id, secret = fields.get("client_id", ""), fields.get("client_secret")
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise model.invalid_request("The Authorization header is not valid.", 90100) from None
        basic_id, _, basic_secret = decoded.partition(":")
        client_id, secret = client_id or basic_id, secret or basic_secret
    if not client_id.strip():
        raise model.missing("client_id")
    return client_id, secret


def public_client_presented_secret() -> EntraError:
    return EntraError(
        401,
        "invalid_client",
        700025,
        "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
    )


def authenticate_client(
    app: App, secret: str | None, confidential_grant: bool, assertion: bool = False
) -> None:
    """A confidential app (declared with a secret, or asking for app-only tokens) shows its
    secret or a certificate's signed assertion (accepted, never verified); a declared public
    one shows neither."""
    if assertion:
        if app.declared and app.secret is None:
            raise public_client_presented_secret()
        return
    if app.secret is not None or confidential_grant:
        model.check_secret(app, secret)
    elif secret and app.declared:
        raise public_client_presented_secret()


async def token(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    tenant_of(request)
    fields = await read_form(request)
    grant = require(fields, "grant_type")
    if grant not in GRANTS:
        raise EntraError(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant}'.",
        )
    client_id, secret = client_of(request, fields)
    entra = state.entra
    app = entra.app(client_id)
    assertion = bool(fields.get("client_assertion"))
    if assertion:
        require(fields, "client_assertion_type")
    authenticate_client(app, secret, grant == "client_credentials", assertion)
    now = state.clock.moment()
    issuer = f"{origin_of(request)}/{entra.tenant_id}/v2.0"  # as discovery names it
    if grant == "client_credentials":
        return no_store(app_only(state, app, fields, now))
    if grant == "refresh_token":
        value = require(fields, "refresh_token")
        held = entra.redeem_refresh_token(now, value, client_id)
        user = state.directory.by_id(held.user_id)
        if user is None:
            raise EntraError(
                400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
            )
        wanted = fields.get("scope") or " ".join(held.scopes)
        # the one redeemed stays good (Entra does not revoke it): a client may present it again
        return no_store(signed_in(state, app, user, wanted, now, fields, refresh=True,
                                  issuer=issuer))  # fmt: skip
    if grant == "authorization_code":
        code = entra.redeem_code(
            now,
            require(fields, "code"),
            client_id,
            fields.get("redirect_uri", ""),
            fields.get("code_verifier"),
        )
        user = user_named(state, code.user_id)
        wanted = " ".join(code.scopes)
        return no_store(
            signed_in(state, app, user, wanted, now, fields, nonce=code.nonce, issuer=issuer)
        )
    if grant == "password":
        user = entra.check_password(
            state.directory, require(fields, "username"), require(fields, "password")
        )
        return no_store(
            signed_in(state, app, user, fields.get("scope", ""), now, fields, issuer=issuer)
        )
    device = entra.poll_device_code(now, require(fields, "device_code"), client_id)
    user = user_named(state, device.user_id) if device.user_id else default_user(state)
    return no_store(
        signed_in(state, app, user, " ".join(device.scopes), now, fields, issuer=issuer)
    )


def app_only(state: State, app: App, fields: dict[str, str], now: datetime) -> dict[str, Any]:
    scope = require(fields, "scope")
    words = scope.split()
    if len(words) != 1 or not words[0].endswith("/.default"):
        raise EntraError(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {scope} is not valid. Client credential flows must "
            "have a scope value with /.default suffixed to the resource identifier (application "
            "ID URI).",
        )
    if model.graph_scope(words[0]) != ".default":
        resource = words[0][: -len("/.default")]
        raise EntraError(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named "
            f"{state.entra.domain}. This can happen if the application has not been installed "
            "by the administrator of the tenant or consented to by any user in the tenant. You "
            "might have sent your authentication request to the wrong tenant.",
        )
    access = state.entra.access_token(now, app)
    lifetime = model.ACCESS_TOKEN_SECONDS
    return {
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access,
    }


def signed_in(
    state: State,
    app: App,
    user: User,
    wanted: str,
    now: datetime,
    fields: dict[str, str],
    *,
    refresh: bool = False,
    nonce: str | None = None,
    issuer: str | None = None,
) -> dict[str, Any]:
    """A user's tokens for ``app``: access token, refresh token (on ``offline_access`` or a
    refresh), id token (on ``openid``, its ``iss`` the ``issuer`` that discovery names) and
    MSAL's ``client_info`` when asked."""
    entra = state.entra
    if not wanted.strip():
        raise model.missing("scope")
    scopes = entra.delegated_scopes(user, app, wanted)
    graph_scopes = tuple(s for s in scopes if s not in model.OIDC_SCOPES)
    lifetime = model.ACCESS_TOKEN_SECONDS
    answer: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": " ".join(scopes),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": entra.access_token(now, app, user=user, scopes=graph_scopes),
    }
    if refresh or "offline_access" in scopes:
        kept = (*scopes, "offline_access") if "offline_access" not in scopes else scopes
        answer["refresh_token"] = entra.issue_refresh_token(now, user, app.client_id, kept)
    if "openid" in scopes:
        answer["id_token"] = entra.id_token(now, app, user, nonce, issuer)
    if fields.get("client_info") == "1":
        answer["client_info"] = entra.client_info(user)
    return answer


# -- Microsoft account's token endpoint (login.live.com) -----------------------------------------
LIVE_GRANTS = frozenset({"refresh_token"})  # the rest of GRANTS: 501 (see ``live_token``)


def live_invalid(parameter: str, error: str = "invalid_grant") -> EntraError:
    """login.live.com's words for a value it does not take."""
    return EntraError(
        400, error, 0, f"The provided value for the input parameter '{parameter}' is not valid."
    )


def live_missing(parameter: str) -> EntraError:
    return EntraError(
        400, "invalid_request", 0,
        f"The provided request must include a '{parameter}' input parameter.",
    )  # fmt: skip


def as_live_error(error: EntraError) -> EntraError:
    """An Entra refusal of the shared sign-in logic, as login.live.com words it."""
    if error.code == 700016:  # no such app
        return EntraError(
            400, "unauthorized_client", 0,
            "The client does not exist or is not enabled for consumers. If you are the "
            "application developer, configure a new application through the App Registrations "
            "in the Azure Portal at https://go.microsoft.com/fwlink/?linkid=2083908.",
        )  # fmt: skip
    if error.code == 9002313:  # unknown, revoked, or another client's
        return live_invalid("refresh_token")
    if error.code == 700082:  # expired
        return EntraError(
            400, "invalid_grant", 0,
            "The user could not be authenticated or the grant is expired. The user must first "
            "sign in and if needed grant the client application access to the requested scope.",
        )  # fmt: skip
    if error.code == 70011:
        return live_invalid("scope", error="invalid_scope")
    return error


async def live_token(request: web.Request) -> web.StreamResponse:
    """``POST login.live.com/oauth20_token.srf``: a refresh token redeemed for an access token
    (the grant Live SDK-era clients use unattended). The other grants answer 501: the mock has
    no ``oauth20_authorize.srf`` to issue a code from."""
    state = state_of(request)
    try:
        if request.content_type not in ("application/x-www-form-urlencoded", ""):
            raise live_missing("grant_type")
        fields = await read_form(request)
        grant = fields.get("grant_type", "")
        if not grant.strip():
            raise live_missing("grant_type")
        if grant not in GRANTS:
            raise live_invalid("grant_type", error="unsupported_grant_type")
        if grant not in LIVE_GRANTS:
            raise EntraError(
                501, "not_implemented", 0,
                f"mockdrive does not implement the {grant!r} grant at login.live.com: sign in "
                "with a refresh token here, or use the Entra endpoints for the other grants.",
            )  # fmt: skip
        try:  # in the form, or as HTTP Basic
            client_id, secret = client_of(request, fields)
        except EntraError as error:
            raise live_missing("client_id") if error.code == 900144 else error from None
        value = fields.get("refresh_token", "")
        if not value.strip():
            raise live_missing("refresh_token")
        entra = state.entra
        app = entra.app(client_id)
        authenticate_client(app, secret, False)
        now = state.clock.moment()
        held = entra.redeem_refresh_token(now, value, client_id)
        user = state.directory.by_id(held.user_id)
        if user is None:
            raise live_invalid("refresh_token")
        wanted = fields.get("scope") or " ".join(held.scopes)
        answer = signed_in(state, app, user, wanted, now, fields, refresh=True)
    except EntraError as error:
        raise as_live_error(error) from None
    return no_store(
        {
            "token_type": "bearer",
            "expires_in": answer["expires_in"],
            "scope": answer["scope"],
            "access_token": answer["access_token"],
            "refresh_token": answer["refresh_token"],
            "user_id": user.id,
        }
    )


# -- authorize and device code ------------------------------------------------------------------
def usable_redirect(uri: str) -> bool:
    """A URL the browser can be sent to: a scheme, not one that runs a script, and nothing that
    cannot stand in a ``Location`` header (a control character would end it)."""
    if not uri.isprintable():
        return False
    try:
        scheme = urlsplit(uri).scheme.lower()
    except ValueError:  # an unclosed IPv6 bracket
        return False
    return bool(scheme) and scheme not in SCRIPT_SCHEMES


async def authorize(request: web.Request) -> web.StreamResponse:
    """No UI: the user named by ``login_hint`` (or the default user) signs in at once, and the
    browser is sent back to ``redirect_uri`` with a code (or Entra's error)."""
    state = state_of(request)
    tenant_of(request)
    query = request.query
    entra = state.entra
    app = entra.app(require(query, "client_id"))
    redirect_uri = require(query, "redirect_uri")
    if app.declared and not app.redirect_uris:
        raise model.invalid_request("No reply address is registered for the application.", 500113)
    if app.declared and redirect_uri not in app.redirect_uris:
        raise EntraError(
            400,
            "invalid_request",
            50011,
            f"The redirect URI '{redirect_uri}' specified in the request does not match the "
            f"redirect URIs configured for the application '{app.client_id}'. Make sure the "
            "redirect URI sent in the request matches one added to your application in the "
            "Azure portal.",
        )
    if not usable_redirect(redirect_uri):
        raise model.invalid_request(f"The redirect URI '{redirect_uri}' is not valid.", 50011)
    answer: dict[str, str] = {}
    try:
        if query.get("response_type") != "code":
            raise EntraError(
                400,
                "unsupported_response_type",
                700054,
                "response_type 'id_token' is not enabled for the application.",
            )
        hint = query.get("login_hint")
        user = user_named(state, hint) if hint else default_user(state)
        scopes = entra.delegated_scopes(user, app, require(query, "scope"))
        challenge = query.get("code_challenge")
        method = query.get("code_challenge_method", "plain")
        if challenge is not None and method not in ("S256", "plain"):
            raise model.invalid_request(
                "The code_challenge_method is not valid: use 'S256' or 'plain'.", 501491
            )
        if challenge is not None:
            model.check_challenge(challenge, method)
        code = AuthCode(user.id, app.client_id, scopes, state.clock.moment(), redirect_uri,
                        challenge, method, query.get("nonce"))  # fmt: skip
        answer["code"] = entra.issue_code(state.clock.moment(), code)
        answer["session_state"] = "00000000-0000-0000-0000-000000000000"
    except EntraError as error:
        if error.code == 65001:
            error = EntraError(400, "consent_required", 65001, error.description)
        answer = {"error": error.error, "error_description": f"AADSTS{error.code}: "
                  f"{error.description}", "error_codes": str(error.code)}  # fmt: skip
    if "state" in query:
        answer["state"] = query["state"]
    if query.get("response_mode") == "form_post":
        return form_post(redirect_uri, answer)
    separator = "#" if query.get("response_mode") == "fragment" else "?"
    if separator == "?" and "?" in redirect_uri:
        separator = "&"
    location = quote(redirect_uri, safe=URI_CHARACTERS) + separator + urlencode(answer)
    return web.Response(status=302, headers={"Location": location})


def form_post(redirect_uri: str, answer: Mapping[str, str]) -> web.Response:
    """``response_mode=form_post``: Entra's page that POSTs the answer to ``redirect_uri`` at
    once (a script submits its form; without scripts, a button)."""
    fields = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}" />'
        for name, value in answer.items()
    )
    page = (
        "<html><head><title>Working...</title></head><body>"
        f'<form method="POST" name="hiddenform" action="{escape(redirect_uri)}">{fields}'
        "<noscript><p>Script is disabled. Click Submit to continue.</p>"
        '<input type="submit" value="Submit" /></noscript></form>'
        '<script language="javascript">document.forms[0].submit();</script></body></html>'
    )
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


async def devicecode(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    tenant_of(request)
    fields = await read_form(request)
    client_id, _ = client_of(request, fields)
    entra = state.entra
    app = entra.app(client_id)
    words = model.scope_words(require(fields, "scope"))
    value, device = entra.start_device_flow(state.clock.moment(), app.client_id, words)
    return json_response(
        {
            "user_code": device.user_code,
            "device_code": value,
            "verification_uri": DEVICE_LOGIN,
            "expires_in": model.DEVICE_CODE_SECONDS,
            "interval": entra.device_interval,
            "message": f"To sign in, use a web browser to open the page {DEVICE_LOGIN} and "
            f"enter the code {device.user_code} to authenticate.",
        }
    )


# -- the mock's own: what the tenant holds, and how device codes answer -------------------------
async def get_identity(request: web.Request) -> web.StreamResponse:
    return json_response(identity_overview(backend_of(request).state))


def identity_overview(state: State, limit: int | None = None) -> dict[str, Any]:
    """The tenant, its apps and who holds tokens of which app with which scopes (the first
    ``limit`` holders of each list, or all)."""
    entra = state.entra
    return {
        "tenant": {"id": entra.tenant_id, "domain": entra.domain},
        "apps": [
            {
                "clientId": a.client_id,
                "displayName": a.display_name,
                "declared": a.declared,
                "confidential": a.secret is not None,
                "roles": list(a.roles),
            }
            for a in entra.known_apps()[:limit]
        ],
        "holders": [
            {
                "who": h.who,
                "clientId": h.client_id,
                "kind": h.kind,
                "scopes": list(h.scopes),
                "issued": h.issued,
                "expires": h.expires,
            }
            for h in list(entra.holders.values())[:limit]
        ],
        "deviceFlow": entra.device_flow(),
    }


async def put_device_flow(request: web.Request) -> web.StreamResponse:
    """``{"pending": N, "outcome": "approve"|"decline"|"expire", "user": e-mail, "interval":
    seconds}``: how the device codes issued from now on answer their polls."""
    body = await read_json_object(request)
    state = backend_of(request).state
    unknown = set(body) - {"pending", "outcome", "user", "interval"}
    if unknown:
        raise InvalidRequest(f"unknown field {sorted(unknown)[0]!r}")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise InvalidRequest("user must be an e-mail address or user id")
    user_id = state.user(user).id if user else None
    state.entra.set_device_flow(
        pending=body.get("pending", 0),
        outcome=body.get("outcome", "approve"),
        user_id=user_id,
        interval=body.get("interval", model.DEVICE_POLL_INTERVAL),
    )
    return json_response(state.entra.device_flow())


# a tenant is any one segment but the first of Onehub's paths, which answer as Onehub does
ONEHUB_FIRST = "|".join(prefix.strip("/") for prefix in onehub.PREFIXES)
TENANT = "/{tenant:(?!(?:" + ONEHUB_FIRST + ")/)[^/]+}"
# Entra serves each endpoint with a "/" after its path as without: MSAL with an Azure region
# sends its token and authorize requests so (its URL canonicalization ends them with "/"), and
# scripts write ".../token/" by hand
SIGN_IN_ROUTES = tuple(replace(row, trailing_slash=True) for row in (
    Route("GET", TENANT + "/v2.0/.well-known/openid-configuration", openid_configuration,
          "Entra: the tenant's OpenID configuration"),
    Route("GET", TENANT + "/discovery/v2.0/keys", keys, "Entra: the JWKS that verifies tokens"),
    Route("GET", "/common/discovery/instance", instance_discovery,
          "Entra: MSAL's instance discovery"),
    Route("GET", "/common/userrealm/{username}", user_realm,
          "Entra: home realm discovery (MSAL's, before the password grant)"),
    Route("POST", TENANT + "/oauth2/v2.0/token", token,
          "Entra: tokens (client credentials, refresh, code, device code, password)",
          MAX_FORM_BODY),
    Route("GET", TENANT + "/oauth2/v2.0/authorize", authorize,
          "Entra: sign in at once and redirect with a code"),
    Route("POST", TENANT + "/oauth2/v2.0/devicecode", devicecode,
          "Entra: start a device-code sign-in", MAX_FORM_BODY),
))  # fmt: skip
ROUTES = (
    *SIGN_IN_ROUTES,
    Route("POST", LIVE_TOKEN, live_token,
          "Microsoft account (login.live.com): a refresh token redeemed", MAX_FORM_BODY),
)  # fmt: skip
# the endpoints only a POST reaches: every other method, on the same paths as the router
# matches them, is Entra's 400 (AADSTS900561), on the mock's origin and the login host alike
NOT_POSTED = tuple(
    replace(row, method="*", handler=not_posted, summary="Entra: any other method than POST")
    for row in ROUTES
    if row.method == "POST"
)
ADMIN_ROUTES = (
    Route("GET", "/_mockdrive/identity", get_identity,
          "the tenant, its apps, and who holds tokens with which scopes"),
    Route("PUT", "/_mockdrive/identity/device-flow", put_device_flow,
          "how device codes answer their polls: pending N polls, then approve/decline/expire"),
)  # fmt: skip
HANDLERS = frozenset(row.handler for row in (*ROUTES, *NOT_POSTED))
