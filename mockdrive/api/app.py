"""build_app(backend) → the aiohttp Application serving every dialect over one Backend.

One middleware, ``pipeline``, wraps every request: request id, authentication, fault rules,
error envelopes and the journal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web

from ..backend import Backend
from ..model.errors import Unauthenticated
from ..model.identity import User
from ..model.journal import JournalEntry
from ..model.links import ANONYMOUS
from ..model.state import State
from . import admin, admin_clock, admin_faults, dashboard, graph, onehub
from .context import Call
from .errors import (
    ApiError,
    as_api_error,
    graph_error_response,
    onedrive_error_response,
    onehub_error_response,
)
from .jsonio import MAX_JSON_BODY, PARSED_BODY

log = logging.getLogger("mockdrive")
GRAPH_PREFIXES = ("/v1.0", "/beta")
API_PREFIXES = GRAPH_PREFIXES + onehub.PREFIXES
JOURNALED_HEADERS = ("Content-Type", "Accept", "client-request-id", "If-Match", "If-None-Match")
# Uploads stream their body themselves (with their own limit); everything else is read whole.
CLIENT_MAX_SIZE = MAX_JSON_BODY


def _key(name: str, kind: type) -> Any:
    return web.RequestKey(name, kind) if hasattr(web, "RequestKey") else name


BACKEND = web.AppKey("backend", Backend)
REQUEST_ID = _key("request_id", str)
CALLER = _key("caller", User)
FIRED_FAULTS = _key("fired_faults", list)


def build_app(backend: Backend) -> web.Application:
    app = web.Application(
        middlewares=[pipeline],
        client_max_size=CLIENT_MAX_SIZE,
    )
    app[BACKEND] = backend
    admin.add_routes(app, backend)
    admin_faults.add_routes(app, backend)
    admin_clock.add_routes(app, backend)
    dashboard.add_routes(app, backend)

    async def graph_entry(request: web.Request) -> web.StreamResponse:
        raw = request.rel_url.raw_path
        prefix = next(p for p in GRAPH_PREFIXES if raw.startswith(p))
        return await graph.handle(request, call_of(request), raw[len(prefix) :])

    def call_of(request: web.Request) -> Call:
        return Call(backend.state, request[CALLER], request[REQUEST_ID], request[FIRED_FAULTS])

    onehub.add_routes(app, call_of, lambda: backend.state)

    async def unknown_route(request: web.Request) -> web.StreamResponse:
        raise ApiError(404, "itemNotFound", f"no resource at {request.path!r}")

    for prefix in GRAPH_PREFIXES:
        app.router.add_route("*", prefix + "/{rest:.*}", graph_entry)
    app.router.add_route("*", "/{tail:.*}", unknown_route)
    return app


_API_STARTS = tuple(p + "/" for p in API_PREFIXES)


def is_api(path: str) -> bool:
    """Is this a Graph/OneDrive/Onehub route (authenticated, faulted, journaled)?"""
    return path.startswith(_API_STARTS) or path in API_PREFIXES


_SHARES = tuple(p + "/shares/" for p in GRAPH_PREFIXES)


def authenticate(backend: Backend, request: web.Request, anonymous_ok: bool = False) -> User:
    """The caller of an API request; ``anonymous_ok`` (``/shares``): no token is ANONYMOUS."""
    header = request.headers.get("Authorization", "")
    if anonymous_ok and not header:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("a bearer token is required")
    user = backend.state.directory.by_token(token.strip())
    if user is None:
        raise Unauthenticated("the bearer token is not valid")
    return user


ADMIN_TOKEN_HEADER = "X-Mockdrive-Admin-Token"
CLIENT_CLOSED_REQUEST = 499  # as nginx logs it: journaled, never sent (nobody is listening)


@web.middleware
async def pipeline(request: web.Request, handler) -> web.StreamResponse:
    """Around every request, in one place (one middleware is measurably cheaper than three):

    1. give it a request id; for API routes authenticate the caller and apply the fault rules
       that fire (delay, throttle, fail); for the mock's own routes check the admin token;
    2. turn every failure into the dialect's JSON envelope, never an aiohttp HTML page;
    3. journal API requests with their answer.
    """
    backend: Backend = request.app[BACKEND]
    state = backend.state  # journal into the state the request started with
    request_id = request[REQUEST_ID] = backend.next_request_id()
    fired: list[dict[str, Any]] = []
    request[FIRED_FAULTS] = fired
    path = request.path
    api = is_api(path)
    started = time.perf_counter()
    try:
        if api:
            state.expirations.sweep(state.clock.moment())  # what the virtual clock expired
            caller = request[CALLER] = authenticate(backend, request, path.startswith(_SHARES))
            if state.faults.rules:
                await apply_faults(request, state, caller, fired)
        else:
            check_admin_token(backend, request)
        response = await handler(request)
    except web.HTTPException as error:  # aiohttp's own: body too large, bad method on admin
        if error.status < 400:
            raise
        response = render_error(request, _from_http(error), request_id)
    except ConnectionResetError:  # the client hung up before its body arrived: nothing done
        gone = ApiError(CLIENT_CLOSED_REQUEST, "clientClosedRequest", "the client hung up")
        response = render_error(request, gone, request_id)
    except Exception as error:
        api_error = as_api_error(error)
        if api_error.status >= 500 and not isinstance(error, ApiError):
            log.exception("unexpected error serving %s %s", request.method, path)
        response = render_error(request, api_error, request_id)
    headers = response.headers
    headers["request-id"] = request_id
    client_request_id = request.headers.get("client-request-id")
    if client_request_id:
        headers["client-request-id"] = client_request_id
    if api:
        caller = request.get(CALLER)
        request_headers = request.headers
        state.journal.record(
            JournalEntry(
                id=state.journal.next_id(),
                request_id=request_id,
                method=request.method,
                path=path,
                query=dict(request.query) if request.query_string else {},
                headers={h: request_headers[h] for h in JOURNALED_HEADERS if h in request_headers},
                status=response.status,
                duration_ms=(time.perf_counter() - started) * 1000,
                caller=caller.email if caller else None,
                body=request.get(PARSED_BODY),
                faults=fired,
            )
        )
    return response


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
    request: web.Request, state: State, caller: User, fired: list[dict[str, Any]]
) -> None:
    """Apply the request-level fault rules that fire: delay, then throttle or fail."""
    firings = state.faults.for_request(request.method, request.path, caller.email)
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


def dialect_of(path: str) -> str:
    """Which API's error envelope a path gets: ``graph``, ``onedrive`` or ``onehub``."""
    if path.startswith(onehub.PREFIXES):
        return "onehub"
    if path.endswith(("/action.invite", "/action.createLink")) and path.startswith(GRAPH_PREFIXES):
        return "onedrive"
    return "graph"


def render_error(request: web.Request, error: ApiError, request_id: str) -> web.Response:
    dialect = dialect_of(request.path)
    if dialect == "onehub":
        return onehub_error_response(error)
    if dialect == "onedrive":
        return onedrive_error_response(error)
    date = request.app[BACKEND].state.clock.peek()
    return graph_error_response(error, request_id, date, request.headers.get("client-request-id"))


def _from_http(error: web.HTTPException) -> ApiError:
    codes = {405: "notSupported", 413: "invalidRequest"}
    return ApiError(error.status, codes.get(error.status, "invalidRequest"), error.reason)
