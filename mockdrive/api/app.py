"""build_app(backend) → the aiohttp Application serving every dialect over one Backend.

One middleware, ``pipeline``, wraps every request: request id, authentication, fault rules,
error envelopes and the journal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from types import CoroutineType
from typing import Any
from urllib.parse import unquote_to_bytes

from aiohttp import hdrs, web
from multidict import istr
from yarl import URL

from ..backend import Backend
from ..model.entra import EntraError
from ..model.errors import DomainError, InvalidRequest, Unauthenticated
from ..model.identity import User
from ..model.journal import JournalEntry
from ..model.links import ANONYMOUS
from ..model.principal import Principal
from ..model.state import State
from ..model.tokens import GRAPH_APP_ID, TokenRefused, looks_like_jwt
from . import admin, dashboard, entra, onedrive_v1, onehub
from .aiohttp_internals import HttpProcessingError, PathlessRequests
from .context import BACKEND, EXCHANGE, Exchange, call_of, exchange_of
from .errors import (
    ApiError,
    as_api_error,
    graph_error_response,
    onedrive_error_response,
    onehub_error_response,
)
from .graph import batch as graph_batch
from .graph import routes as graph_routes
from .graph import uploads as graph_uploads
from .graph.changes import MONITOR_PREFIX, monitor
from .graph.paths import normalize_path
from .graph.routes import Answer
from .graph.routes import body_row as graph_body_row
from .graph.routes import handle as handle_graph
from .jsonio import BODY_BYTES, MAX_JSON_BODY, PARSED_BODY, body_too_large, is_unicode
from .routing import TABLE_ROUTES, ExpectHandler, GraphRoute, Handler, Route, add_table, route_of

log = logging.getLogger("mockdrive")
GRAPH_PREFIXES = ("/v1.0", "/beta")
GRAPH_STARTS = tuple(p + "/" for p in GRAPH_PREFIXES)
GRAPH_PREFIX_LENGTH = len(GRAPH_PREFIXES[0])
assert all(len(p) == GRAPH_PREFIX_LENGTH for p in GRAPH_PREFIXES)
# upload and download URLs: authenticated by their own token, not a bearer (api/graph/uploads.py)
# URLs handed out that carry their own authority: upload, download and preview URLs (a token
# in the URL) and copy monitors (none needed, as in Graph); authenticated, faulted and
# journaled like the API, so a test sees a client follow them
PRE_AUTHENTICATED = tuple(
    p.rstrip("/") for p in (*graph_uploads.PRE_AUTHENTICATED_PREFIXES, MONITOR_PREFIX)
)
API_PREFIXES = GRAPH_PREFIXES + onehub.PREFIXES + PRE_AUTHENTICATED
JOURNALED_HEADERS = ("Content-Type", "Accept", "client-request-id", "If-Match", "If-None-Match")
# Uploads stream their body themselves (with their own limit); everything else is read whole.
CLIENT_MAX_SIZE = MAX_JSON_BODY
# what every route takes at least (Entra's forms take the least; ``check_body_limits``)
SMALLEST_BODY_LIMIT = 64 * 1024
assert SMALLEST_BODY_LIMIT > 9999  # (the pipeline passes a length of 4 digits without a look-up)


class RefusedHeadLogFilter(logging.Filter):
    """aiohttp logs each request head it cannot parse (a line over 8,190 bytes, a byte no header
    may hold) with the start of the offending line, and a query's ``client_secret`` or a bearer
    token would reach the log that way, where the access log redacts them: the record keeps the
    error and its status, not the bytes or the parser's traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.exc_info = None
            record.exc_text = None
            name = type(error).__name__
            record.msg = f"{record.msg}: {name} {error.code} (the refused bytes are not logged)"
        return True


REFUSED_HEAD_LOG_FILTER = RefusedHeadLogFilter()


def build_app(backend: Backend, middlewares: Sequence[Any] = ()) -> web.Application:
    """The application; ``middlewares`` run outside the pipeline, around every request and
    every ``$batch`` step (a test harness observing answers, for instance).

    The pipeline is not an aiohttp middleware: every route's handler is registered wrapped in
    it (``through_pipeline``), which spares each request aiohttp's middleware chain. What the
    router cannot match at all reaches it too, through ``Unrouted``, registered last."""
    # on aiohttp's logger, however the application is served (kept once: a logger's filters
    # are a list without repeats)
    logging.getLogger("aiohttp.server").addFilter(REFUSED_HEAD_LOG_FILTER)
    app = web.Application(middlewares=list(middlewares), client_max_size=CLIENT_MAX_SIZE)
    app[BACKEND] = backend
    app[admin.OPENAPI_DOCUMENT] = openapi_document

    def piped(handler: Handler) -> Handler:
        return through_pipeline(handler, backend)

    add_table(app, admin.ROUTES, expect_continue, piped)
    add_table(app, dashboard.ROUTES, expect_continue, piped)
    add_table(app, entra.ADMIN_ROUTES, expect_continue, piped)

    async def copy_monitor(request: web.Request) -> web.StreamResponse:
        return await monitor(request, backend.state)

    # no token, as in Graph
    app.router.add_get(
        MONITOR_PREFIX + "{jobId}", piped(copy_monitor), expect_handler=expect_continue
    )

    def graph_entry(request: web.Request) -> Answer:
        # routed here under one of GRAPH_PREFIXES, all of one length; Graph's dispatch
        # answers at once, or gives the coroutine of a body-reading handler to await
        raw = request.rel_url.raw_path
        if "%" in raw[:GRAPH_PREFIX_LENGTH]:  # the version spelt with escapes (``/%62eta``):
            # the router matched it decoded, up to a ``/`` that no escape spells
            return handle_graph(request, call_of(request), raw[raw.index("/", 1) :])
        return handle_graph(request, call_of(request), raw[GRAPH_PREFIX_LENGTH:])

    add_table(app, onehub.ROUTES, expect_continue, piped)
    graph_uploads.add_routes(app, call_of, expect_continue, piped)

    async def unknown_route(request: web.Request) -> web.StreamResponse:
        # mockdrive's own API answers a method its path is not served with as HTTP says; the
        # dialects it imitates keep their own answer (Onehub's Rails routes: a 404)
        if request.path.startswith("/_mockdrive") and (allowed := await served_with(request)):
            raise web.HTTPMethodNotAllowed(request.method, allowed)
        raise ApiError(404, "itemNotFound", no_resource_message(request.path))

    async def batch_entry(request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            raise ApiError(405, "notSupported", "a batch is sent with POST", None,
                           {hdrs.ALLOW: "POST"})  # fmt: skip
        version = next(p for p in GRAPH_PREFIXES if request.path.startswith(p))
        return await graph_batch.handle_batch(request, version, request[EXCHANGE].request_id)

    for prefix in GRAPH_PREFIXES:
        app.router.add_route(
            "*", prefix + "/$batch", piped(batch_entry), expect_handler=expect_continue
        )
        app.router.register_resource(GraphVersion(prefix, piped(graph_entry), expect_continue))
    add_table(app, entra.ROUTES, expect_continue, piped)  # after Graph's: /v1.0/... is no tenant
    add_table(app, entra.NOT_POSTED, expect_continue, piped)  # (after the POST rows they shadow)
    app.router.add_route("*", "/{tail:.*}", piped(unknown_route), expect_handler=expect_continue)
    unrouted_resource = Unrouted(piped(unrouted))
    app.router.register_resource(unrouted_resource)
    app.router.register_resource(PathlessRequests(unrouted_resource, graph_ahead(app.router)))
    check_body_limits(app)
    return app


def check_body_limits(app: web.Application) -> None:
    """Every route takes a body of ``SMALLEST_BODY_LIMIT`` at least, which lets the pipeline
    pass an announced length without looking up the route's limit where it is not larger
    (``announces_too_much``): a table row that took less would be refused here."""
    rows = [*app.get(TABLE_ROUTES, {}).values(), *graph_routes.ROUTES]
    smaller = [row for row in rows if row.max_body < SMALLEST_BODY_LIMIT]
    if smaller:
        raise RuntimeError(f"a body limit below SMALLEST_BODY_LIMIT: {smaller}")


def through_pipeline(handler: Handler, backend: Backend) -> Handler:
    """``handler`` served inside the pipeline of ``backend``'s application: what the router is
    given for it."""
    return partial(pipeline, handler, backend)  # (positional: a keyword copies a dict a call)


def handler_of(route_handler: Handler) -> Handler:
    """The handler a route serves inside the pipeline (the one its table row names)."""
    assert isinstance(route_handler, partial) and route_handler.func is pipeline
    return route_handler.args[0]


class OneRoute(web.AbstractResource):
    """A resource of one route, for any method, that matches as ``resolve`` decides (public
    ``AbstractResource`` API): nothing in it is reversed or mounted under a prefix."""

    def __init__(self, canonical: str, handler: Handler, expect: ExpectHandler | None) -> None:
        super().__init__()
        self._canonical = canonical
        self._route = web.ResourceRoute("*", handler, self, expect_handler=expect)

    @property
    def canonical(self) -> str:
        return self._canonical

    @property
    def route(self) -> web.ResourceRoute:
        """Its one route."""
        return self._route

    def url_for(self, **kwargs: str) -> URL:
        raise RuntimeError(f"{self._canonical} is not reversed into a URL")

    def add_prefix(self, prefix: str) -> None:
        raise RuntimeError("the application is not mounted under a prefix")

    def get_info(self) -> dict[str, Any]:
        return {"formatter": self._canonical}

    def raw_match(self, path: str) -> bool:
        return False

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[web.AbstractRoute]:
        return iter((self._route,))


class GraphVersion(OneRoute):
    """Every path under one of ``GRAPH_PREFIXES``, for Graph's own dispatch: what aiohttp's
    resource for ``/v1.0/{rest:.*}`` matches (the prefix, then anything but a newline) and the
    ``rest`` it gives, found without a regular expression."""

    def __init__(self, prefix: str, handler: Handler, expect: ExpectHandler) -> None:
        super().__init__(prefix + "/{rest}", handler, expect)
        self._start = prefix + "/"
        self._allowed = {"*"}  # what the router reads of a resource that matched: nothing

    async def resolve(self, request: web.Request) -> tuple[Any, set[str]]:
        found = self.match(request.rel_url.path_safe)
        return (None, set()) if found is None else (found, self._allowed)

    def match(self, path: str) -> web.UrlMappingMatchInfo | None:
        """The match for ``path`` (aiohttp's ``path_safe``), or None."""
        if not path.startswith(self._start) or "\n" in path:  # ``.`` takes all but a newline
            return None
        rest = path[len(self._start) :]
        if "%" in rest:  # as aiohttp unquotes a value: the two escapes path_safe keeps
            rest = rest.replace("%2F", "/").replace("%25", "%")
        return web.UrlMappingMatchInfo({"rest": rest}, self._route)


def graph_ahead(router: web.UrlDispatcher) -> Callable[[str], web.UrlMappingMatchInfo | None]:
    """For ``PathlessRequests``: a path under one of ``GRAPH_PREFIXES``, matched by its
    ``GraphVersion`` before the router's walk, which would end there too unless a resource of
    a longer path under the prefix (``/v1.0/$batch``) comes first. A path that starts as such
    a resource's does (up to its first ``{name}``) is left to the walk."""
    versions = {r.canonical[:GRAPH_PREFIX_LENGTH]: r for r in router.resources()
                if isinstance(r, GraphVersion)}  # fmt: skip
    assert set(versions) == set(GRAPH_PREFIXES)
    shadowing = tuple(
        resource.canonical.partition("{")[0]
        for resource in router.resources()
        if resource.canonical.startswith(GRAPH_STARTS) and not isinstance(resource, GraphVersion)
    )

    routes = {prefix: version.route for prefix, version in versions.items()}
    start = GRAPH_PREFIX_LENGTH + 1

    def ahead(path: str) -> web.UrlMappingMatchInfo | None:
        # ``GraphVersion.match``, without its call, for a path that is not shadowed
        if not path.startswith(GRAPH_STARTS) or path.startswith(shadowing) or "\n" in path:
            return None
        rest = path[start:]
        if "%" in rest:
            rest = rest.replace("%2F", "/").replace("%25", "%")
        return web.UrlMappingMatchInfo({"rest": rest}, routes[path[:GRAPH_PREFIX_LENGTH]])

    return ahead


class Unrouted(OneRoute):
    """Every request that no route matches (a path with a newline, which no ``{name:.*}``
    matches; ``OPTIONS *``), so that the pipeline answers it as it answers any other: in the
    dialect's JSON, authenticated and journaled where the path is an API's. Registered last,
    under the router's index key that every request's look-up ends with (``/``)."""

    def __init__(self, handler: Handler) -> None:
        super().__init__("/{tail}", handler, None)  # the catch-all's, whose rest this is

    async def resolve(self, request: web.Request) -> tuple[Any, set[str]]:
        return web.UrlMappingMatchInfo({}, self._route), set()


async def served_with(request: web.Request) -> set[str]:
    """The methods the routes whose path the request's is serve it with (none: no route has
    its path), for a request that the router gave to a catch-all."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if not isinstance(resource, Unrouted | PathlessRequests):
            match, methods = await resource.resolve(request)
            if match is None:  # a catch-all matches every path, with every method
                allowed |= methods
    return allowed


async def unrouted(request: web.Request) -> web.StreamResponse:
    """aiohttp's own answer to a request its router matches to no route: 405 where some route
    serves the path with other methods, else 404 (the pipeline words them as the dialect)."""
    if allowed := await served_with(request):  # none of the others matches: the router tried
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise ApiError(404, "itemNotFound", no_resource_message(request.path))  # as the catch-all


# first segments of Graph paths, sent without the version in front of them
GRAPH_SEGMENTS = frozenset(
    ("me", "drive", "drives", "users", "groups", "sites", "shares", "$batch")
)


def no_resource_message(path: str) -> str:
    """The 404 of a path nothing serves; a Graph path sent without its version says so."""
    message = f"no resource at {path!r}"
    if path.lstrip("/").split("/", 1)[0] in GRAPH_SEGMENTS:  # (a request line's "*" too)
        message += f": Graph paths start with the version, as in '/v1.0{path}'"
    return message


def openapi_document(state: State, server_url: str) -> dict[str, Any]:
    """The OpenAPI document, built on first use (the server starts without loading it)."""
    from .openapi import openapi_document as build

    return build(state, server_url)


def body_limit(request: web.Request) -> int | None:
    """The most body bytes this route reads (its table row says), or None where the route
    decides for itself (an upload-session fragment, announced by Content-Range)."""
    if "Content-Range" in request.headers:
        return None
    row = body_row_of(request)
    return CLIENT_MAX_SIZE if row is None else row.max_body


def body_row_of(request: web.Request) -> Route | GraphRoute | None:
    """The row of a table (Graph's included) whose body limit this request takes."""
    raw = request.rel_url.raw_path
    if raw.startswith(GRAPH_STARTS):  # the path after the version
        return graph_body_row(request.method, raw[raw.index("/", 1) :])
    return route_of(request)


def announces_too_much(request: web.Request) -> bool:
    length = request.content_length
    if length is None or length <= SMALLEST_BODY_LIMIT:  # most requests: no limit to look up
        return False
    limit = body_limit(request)
    return limit is not None and length > limit


def refusal_of_body(request: web.Request) -> Exception:
    """The 413 the route itself would give for a body over its limit."""
    row = body_row_of(request)
    if row is not None and row.too_large is not None:
        return row.too_large()
    return body_too_large(body_limit(request) or 0)


async def expect_continue(request: web.Request) -> web.StreamResponse | None:
    """``Expect: 100-continue``: invite the body only if it may be sent. An announced body over
    the route's limit gets no ``100 Continue``; the pipeline answers 413 without reading it.
    Any other expectation is answered 417 by the route's pipeline (its dialect's envelope, a
    request id, the journal), as any refusal is. A field on several lines is one list (RFC
    9110), every member of it counted."""
    if expectations(request) != {"100-continue"}:
        route_handler = request.match_info.handler
        backend = route_handler.args[1]  # ``through_pipeline``'s, as ``handler_of`` reads it
        return await pipeline(_expectation_failed, backend, request)
    if request.version < (1, 1) or announces_too_much(request):
        return None
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0  # the 100 is not part of the answer
    return None


def expectations(request: web.Request) -> set[str]:
    """The members of the request's ``Expect`` field, all its lines, in lower case."""
    lines = request.headers.getall(hdrs.EXPECT, ())
    return {member.strip().lower() for line in lines for member in line.split(",")} - {""}


async def _expectation_failed(request: web.Request) -> web.StreamResponse:
    expect = ", ".join(request.headers.getall(hdrs.EXPECT, ()))
    raise ApiError(417, "expectationFailed", f"the expectation {expect!r} is not supported")


_API_STARTS = tuple(p + "/" for p in API_PREFIXES)


def is_api(path: str) -> bool:
    """Is this a Graph/OneDrive/Onehub route (authenticated, faulted, journaled)?"""
    return path.startswith(_API_STARTS) or path in API_PREFIXES


def on_login_host(request: web.Request) -> bool:
    """Was this sent to Entra's host (through the proxy)? Only the identity routes serve it."""
    host = request.headers.get("Host", "")
    return host[:6].lower() == "login." and host.partition(":")[0].lower() in entra.LOGIN_HOSTS


def is_identity(request: web.Request) -> bool:
    """Is this one of Entra's endpoints (``api/entra.py``): open, faulted and journaled?"""
    row = route_of(request)
    return row is not None and row.handler in entra.HANDLERS


async def login_host_fallback(request: web.Request) -> web.StreamResponse:
    """Any other request to a login host: a GET answers plainly (clients probe it); the rest
    is Entra's 404, never a Graph or admin route."""
    if request.method in ("GET", "HEAD"):
        return await entra.plain(request)
    raise ApiError(404, "invalid_request", f"no endpoint at {request.path!r}")


def addresses_shares(raw_path: str) -> bool:
    """Is this ``/shares/…`` in any form the Graph routes accept (``/v1.0//shares/…``)?"""
    if "shares" not in raw_path and "%" not in raw_path:  # most paths: no need to normalize
        return False
    prefix = next((p for p in GRAPH_PREFIXES if raw_path.startswith(p + "/")), None)
    return prefix is not None and normalize_path(raw_path[len(prefix) :]).startswith("/shares/")


def authenticate(
    state: State, request: web.Request, anonymous_ok: bool = False, path: str | None = None
) -> Principal:
    """Who an API request acts for; ``anonymous_ok`` (``/shares``): no token is ANONYMOUS.
    ``path`` is ``request.path``, where the caller has it.

    A scenario's opaque token is its user with every scope; a JWT this server issued (model/
    entra.py) is a delegated or app-only principal, refused with Graph's 401 when it is
    malformed, expired, for another audience or badly signed."""
    if path is None:
        path = request.path
    if path.startswith(graph_uploads.PRE_AUTHENTICATED_PREFIXES):
        return Principal.static(graph_uploads.pre_authenticated_caller(state, path))
    if path.startswith(MONITOR_PREFIX):  # a copy monitor: anyone may poll it
        return Principal.static(ANONYMOUS)
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    if anonymous_ok and not header:
        return Principal.static(ANONYMOUS)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("a bearer token is required")
    directory = state.directory
    # (a token longer than any scenario's, as a JWT is, is looked up without hashing it)
    user = directory.by_token(token) if len(token) <= directory.longest_token else None
    if user is not None:
        return Principal.static(user)
    if not path.startswith(GRAPH_PREFIXES):
        raise Unauthenticated("the bearer token is not valid")  # Onehub keeps its own tokens
    known = state.entra.remembered(directory, state.clock.epoch_seconds(), token)
    if known is not None:
        return known
    if not looks_like_jwt(token):
        raise Unauthenticated("the bearer token is not valid")
    try:
        return state.entra.resolve(state.directory, state.clock.moment(), token)
    except TokenRefused as refused:
        challenge = {"WWW-Authenticate": CHALLENGE}
        code = "InvalidAuthenticationToken"
        raise ApiError(401, code, refused.message, None, challenge) from None


# What Graph answers a refused token with, pointing the client at the authority to ask
CHALLENGE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    f'authorize", client_id="{GRAPH_APP_ID}"'
)


ADMIN_TOKEN_HEADER = "X-Mockdrive-Admin-Token"
CLIENT_CLOSED_REQUEST = 499  # as nginx logs it: journaled, never sent (nobody is listening)
# each journaled header's name, and the same as multidict's case-insensitive key (a look-up by
# istr skips folding the name's case each time; the journal keeps plain strings)
_JOURNALED_KEYS = tuple(istr(name) for name in JOURNALED_HEADERS)
_JOURNALED = tuple(zip(JOURNALED_HEADERS, _JOURNALED_KEYS, strict=True))
_REQUEST_ID, _CLIENT_REQUEST_ID = istr("request-id"), istr("client-request-id")


async def pipeline(handler: Handler, backend: Backend, request: web.Request) -> web.StreamResponse:
    """Around every request's handler (``through_pipeline``), in one place:

    1. give it a request id; for API routes authenticate the caller and apply the fault rules
       that fire (delay, throttle, fail); for the mock's own routes check the admin token;
    2. turn every failure into the dialect's JSON envelope, never an aiohttp HTML page;
    3. journal API requests with their answer.

    What it resolves is kept on the request under one key (``context.EXCHANGE``). ``backend``
    is the application's (``request.app[BACKEND]``), bound when the route was registered.
    ``handler`` is a coroutine function, or (Graph's entry) answers at once where it can.
    """
    # The request runs start to finish against the state it began with: authentication, the
    # handler (through ``call_of``) and the journal. A reset or a state load while it waits
    # (on a latency rule, on its body) swaps in a new state for later requests only.
    state = backend.state
    request_id = backend.next_request_id()
    fired: list[dict[str, Any]] = []
    exchange = request[EXCHANGE] = Exchange(state, request_id, fired)
    rel_url = request.rel_url
    raw_path = rel_url.raw_path
    # ``request.path``: the raw path decoded, which is the raw path itself without a ``%``
    # (most requests; a request off a socket pays two calls and a decoding for it)
    path = raw_path if "%" not in raw_path else request.path
    request_headers = request.headers
    # the headers the journal keeps (and checks): none at all on many requests
    journaled: dict[str, str] = {}
    if not request_headers.keys().isdisjoint(_JOURNALED_KEYS):
        get = request_headers.get
        for name, key in _JOURNALED:  # (a loop, not a comprehension: no frame of its own)
            value = get(key)
            if value is not None:
                journaled[name] = value
    caller: User | None = None
    host = request_headers.get(hdrs.HOST, "")
    if host[:6].lower() == "login." and on_login_host(request):  # most requests: one slice
        api, identity = False, True
        if not is_identity(request) or not entra.serves(host.partition(":")[0].lower(), request):
            handler = login_host_fallback
    else:
        api = path.startswith(_API_STARTS) or path in API_PREFIXES  # ``is_api``
        identity = not api and is_identity(request)
    exchange.identity = identity
    raw_query = rel_url.raw_query_string  # (empty as ``query_string``, without its call)
    started = time.perf_counter()
    try:
        # most requests: nothing to check, or only ASCII headers (which ``check_text`` passes)
        if raw_query or (journaled and not "".join(journaled.values()).isascii()):
            check_text(raw_query, journaled)
        if host not in _HOSTS_MET:  # (most requests: a host met before, a look-up)
            check_host(host)
        if api:
            deadlines = state.expirations.heap  # what the virtual clock expired: a deadline
            if deadlines and deadlines[0].due <= state.clock.epoch_seconds():  # may be due
                state.expirations.sweep(state.clock.moment())
            # ``addresses_shares``, asked only of a path that may spell ``/shares``
            shares = ("shares" in raw_path or "%" in raw_path) and addresses_shares(raw_path)
            principal = exchange.principal = authenticate(state, request, shares, path)
            caller = exchange.caller = principal.user or state.entra.caller_of(principal)
            if state.faults.rules:
                await apply_faults(request, state, caller.email, fired)
        elif identity:
            if state.faults.rules:
                await apply_faults(request, state, None, fired)
        else:
            check_admin_token(backend, request)
        # refused before reading (and before 100 Continue); no length announced on most, and
        # one of at most 4 digits is under ``SMALLEST_BODY_LIMIT`` (no limit to look up)
        announced = request_headers.get(hdrs.CONTENT_LENGTH)
        if (
            announced is not None
            and not (len(announced) < 5 and announced.isdecimal())
            and announces_too_much(request)
        ):
            raise refusal_of_body(request)
        response = handler(request)
        if type(response) is CoroutineType:  # all but Graph's answers made at once
            response = await response
    except web.HTTPException as error:  # aiohttp's own: body too large, bad method on admin
        if error.status < 400:
            raise
        response = render_error(request, _from_http(error), request_id)
    except web.RequestPayloadError as error:  # e.g. a corrupt gzip or deflate body
        reason = str(error).rpartition("message:")[2].strip() or "it is malformed"
        unreadable = ApiError(400, "invalidRequest", f"the request body cannot be read: {reason}")
        response = render_error(request, unreadable, request_id)
    except EntraError as error:  # the identity endpoints' own refusals
        response = entra.entra_error_response(error, request)
    except ConnectionResetError:  # the client hung up before its body arrived: nothing done
        gone = ApiError(CLIENT_CLOSED_REQUEST, "clientClosedRequest", "the client hung up")
        response = render_error(request, gone, request_id)
    except Exception as error:
        api_error = as_api_error(error)
        if api_error.status >= 500 and not isinstance(error, ApiError | DomainError):
            log.exception("unexpected error serving %s %s", request.method, path)
        response = render_error(request, api_error, request_id)
    headers = response.headers
    headers[_REQUEST_ID] = request_id
    client_request_id = journaled.get("client-request-id")  # ``client_request_id_of``
    if client_request_id and is_unicode(client_request_id):
        headers[_CLIENT_REQUEST_ID] = client_request_id
    if api or identity:
        # what a handler or a ``$batch`` step stored beside the pipeline's own key (a body
        # read, the batch a step runs in): none at all on most requests; on the others, only
        # the keys stored are looked up (a look-up of an absent one raises and catches a
        # KeyError)
        body, batch, body_bytes = None, None, 0
        if len(request) > 1:
            stored = tuple(request)
            if PARSED_BODY in stored:
                body = request[PARSED_BODY]
            if graph_batch.BATCH_OF in stored:
                batch = request[graph_batch.BATCH_OF]
            if BODY_BYTES in stored:
                body_bytes = request[BODY_BYTES]
            elif type(body) is bytes:  # kept as it arrived (``jsonio``'s ``unchanged``)
                body_bytes = len(body)
        journal = state.journal
        journal.record(
            JournalEntry(
                journal.next_id(),
                request_id,
                request.method,
                path,
                journaled_query(request, identity) if raw_query else {},
                journaled,
                response.status,
                (time.perf_counter() - started) * 1000,
                caller.email if caller else None,
                body,
                fired,
                batch,
                body_bytes,
            )
        )
    return response


def journaled_query(request: web.Request, identity: bool) -> dict[str, str]:
    """The query string as the journal keeps it: on Entra's routes, without its secrets (a
    client may send ``client_secret`` or ``code`` there as well as in the form)."""
    if not request.query_string:
        return {}
    query = dict(request.query)
    return entra.redacted(query) if identity else query


def check_admin_token(backend: Backend, request: web.Request) -> None:
    """With an admin token configured, the mock's own routes require it; only health and the
    dashboard's page and assets (which hold no data; the page sends the token) stay open."""
    path = request.path
    if backend.admin_token is None or path in ("/", "/_mockdrive/health"):
        return
    if path == "/_mockdrive/ui" or path.startswith("/_mockdrive/ui/"):
        return
    given = request.headers.get(ADMIN_TOKEN_HEADER)
    if given is None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        given = token.strip() if scheme.lower() == "bearer" else None
    if given != backend.admin_token:
        raise ApiError(401, "unauthenticated", f"the admin API needs {ADMIN_TOKEN_HEADER}")


async def apply_faults(
    request: web.Request, state: State, caller_email: str | None, fired: list[dict[str, Any]]
) -> None:
    """Apply the request-level fault rules that fire: delay, then throttle or fail."""
    firings = state.faults.for_request(request.method, request.path, caller_email)
    fired.extend(f.to_dict() for f in firings)
    applied = [f.rule for f in firings if f.applies]
    delay = sum(rule.delay_seconds() for rule in applied if rule.effect == "latency")
    if delay:
        await asyncio.sleep(delay)  # never blocks the loop: other requests go on meanwhile
    for rule in applied:
        if rule.effect == "throttle":
            raise throttled(rule.status or 429, rule.retry_after)
        if rule.effect == "error":
            raise ApiError(rule.status or 500, rule.code or "generalException", rule.message or "")


def throttled(status: int, retry_after: int) -> ApiError:
    headers = {"Retry-After": str(retry_after)}
    if status == 503:
        return ApiError(503, "serviceNotAvailable", "The service is not available.", None, headers)
    return ApiError(429, "activityLimitReached", "Please retry again later.", "throttledRequest",
                    headers)  # fmt: skip


def dialect_of(request: web.Request) -> str:
    """Which API's error envelope a request gets: ``graph``, ``onedrive`` (a path of one of
    ``onedrive_v1.ROUTES``' actions, in any form Graph's routes accept) or ``onehub``."""
    raw = request.rel_url.raw_path
    # ``request.path`` is the raw path itself without a ``%`` (as the pipeline reads it)
    if (raw if "%" not in raw else request.path).startswith(onehub.PREFIXES):
        return "onehub"
    if raw.startswith(GRAPH_STARTS):
        tail = raw[GRAPH_PREFIX_LENGTH:]
        try:  # (``normalize_path`` gives a path it has nothing to change as it is)
            if normalize_path(tail).endswith(onedrive_v1.ACTION_SUFFIXES):
                return "onedrive"
        except InvalidRequest:  # not UTF-8: refused as Graph refuses it
            pass
    return "graph"


def render_error(request: web.Request, error: ApiError, request_id: str) -> web.Response:
    exchange = exchange_of(request)
    if exchange is not None and exchange.identity:
        refusal = entra.as_entra_error(error.status, error.message)
        return entra.entra_error_response(refusal, request, error.headers)
    dialect = dialect_of(request)
    if dialect == "onehub":
        return onehub_error_response(error)
    if dialect == "onedrive":
        return onedrive_error_response(error)
    state = exchange.state if exchange is not None else request.app[BACKEND].state
    date = state.clock.peek()
    return graph_error_response(error, request_id, date, client_request_id_of(request))


def client_request_id_of(request: web.Request) -> str | None:
    """The caller's ``client-request-id``, echoed back only if it is valid text."""
    value = request.headers.get("client-request-id")
    return value if value and is_unicode(value) else None


def check_text(raw_query: str, journaled: dict[str, str]) -> None:
    """Refuse a query string or journaled header that is not valid UTF-8 (aiohttp decodes
    header bytes with surrogate escapes, and yarl query bytes with U+FFFD, silently)."""
    if "%" in raw_query or not raw_query.isascii():
        try:
            unquote_to_bytes(raw_query).decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "invalidRequest", "the query string is not valid UTF-8") from None
    for name, value in journaled.items():
        if not is_unicode(value):
            raise ApiError(400, "invalidRequest", f"the {name} header is not valid UTF-8")


# Host headers ``check_host`` found valid (forgotten all at once past ``HOSTS_KEPT``)
_HOSTS_MET: set[str] = set()
HOSTS_KEPT = 1024


def check_host(host: str) -> None:
    """Refuse (400, as the service's front end does) a Host header that names no host: every
    URL an answer gives is made on it (``@odata.context``, download and upload URLs, next
    links), and one that yarl cannot build (bytes that are not UTF-8, a port that is not one,
    a name IDNA refuses) was a 500 there."""
    try:
        # built, then its name decoded: yarl decodes a name given in ASCII (``xn--a``) only
        # when it is read, where an upload URL reads it
        _ = URL.build(scheme="http", authority=host).host
    except ValueError:  # UnicodeError included
        raise ApiError(400, "invalidRequest", "the Host header is not a valid host") from None
    if len(_HOSTS_MET) >= HOSTS_KEPT:
        _HOSTS_MET.clear()
    _HOSTS_MET.add(host)


def _from_http(error: web.HTTPException) -> ApiError:
    codes = {405: "notSupported", 413: "invalidRequest"}
    allow = error.headers.get(hdrs.ALLOW)  # a 405's methods, as aiohttp names them
    return ApiError(error.status, codes.get(error.status, "invalidRequest"), error.reason, None,
                    {hdrs.ALLOW: allow} if allow is not None else None)  # fmt: skip
