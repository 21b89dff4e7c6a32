"""build_app(backend) → the aiohttp Application serving every dialect over one Backend."""

from __future__ import annotations

import logging

from aiohttp import web

from ..backend import Backend
from ..model.errors import Unauthenticated
from . import admin, graph
from .context import Call
from .errors import ApiError, as_api_error, graph_error_response
from .jsonio import MAX_JSON_BODY

log = logging.getLogger("mockdrive")
GRAPH_PREFIXES = ("/v1.0", "/beta")
BACKEND = web.AppKey("backend", Backend)
REQUEST_ID = web.RequestKey("request_id", str) if hasattr(web, "RequestKey") else "request_id"
# Uploads stream their body themselves (with their own limit); everything else is read whole.
CLIENT_MAX_SIZE = MAX_JSON_BODY


def build_app(backend: Backend) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=CLIENT_MAX_SIZE)
    app[BACKEND] = backend
    admin.add_routes(app, backend)

    async def graph_entry(request: web.Request) -> web.StreamResponse:
        raw = request.rel_url.raw_path
        prefix = next(p for p in GRAPH_PREFIXES if raw.startswith(p))
        call = Call(backend.state, authenticate(backend, request), request[REQUEST_ID])
        return await graph.handle(request, call, raw[len(prefix) :])

    async def unknown_route(request: web.Request) -> web.StreamResponse:
        raise ApiError(404, "itemNotFound", f"no resource at {request.path!r}")

    for prefix in GRAPH_PREFIXES:
        app.router.add_route("*", prefix + "/{rest:.*}", graph_entry)
    app.router.add_route("*", "/{tail:.*}", unknown_route)
    return app


def authenticate(backend: Backend, request: web.Request):
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("a bearer token is required")
    user = backend.state.directory.by_token(token.strip())
    if user is None:
        raise Unauthenticated("the bearer token is not valid")
    return user


@web.middleware
async def error_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Every failure leaves as the dialect's JSON envelope; never an aiohttp HTML page."""
    backend: Backend = request.app[BACKEND]
    request_id = backend.next_request_id()
    request[REQUEST_ID] = request_id
    client_request_id = request.headers.get("client-request-id")
    try:
        response = await handler(request)
    except web.HTTPException as error:  # aiohttp's own: body too large, bad method on admin
        if error.status < 400:
            raise
        response = render_error(request, _from_http(error), request_id, client_request_id)
    except Exception as error:
        api_error = as_api_error(error)
        if api_error.status >= 500:
            log.exception("unexpected error serving %s %s", request.method, request.path)
        response = render_error(request, api_error, request_id, client_request_id)
    response.headers["request-id"] = request_id
    if client_request_id:
        response.headers["client-request-id"] = client_request_id
    return response


def render_error(
    request: web.Request, error: ApiError, request_id: str, client_request_id: str | None
) -> web.Response:
    date = request.app[BACKEND].state.clock.peek()
    return graph_error_response(error, request_id, date, client_request_id)


def _from_http(error: web.HTTPException) -> ApiError:
    codes = {
        405: "notSupported",
        413: "invalidRequest",
    }
    return ApiError(error.status, codes.get(error.status, "invalidRequest"), error.reason)
