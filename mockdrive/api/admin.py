"""The mock's own API under ``/_mockdrive``: an index, health, reset, state export and import,
outbox, and (from ``admin_faults``, ``admin_clock`` and ``onehub``) fault rules, the journal, the
sharing policy, the clock and the Onehub invitation hook. ``ROUTES`` is the table."""

from __future__ import annotations

import asyncio
import html
import weakref
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .. import __version__
from ..backend import Backend, loaded_at
from ..model.state import State
from . import admin_clock, admin_faults, dashboard, entra, onehub
from .context import backend_of
from .errors import ApiError
from .jsonio import dumps_in_pieces, json_response
from .routing import Route

MAX_SCENARIO_BODY = 64 * 1024 * 1024
# where the app keeps the OpenAPI document's builder, ``(state, server_url) → document``
OPENAPI_DOCUMENT = web.AppKey("openapi_document", Callable[[State, str], dict[str, Any]])
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


def wants_yaml(request: web.Request) -> bool:
    """``?format=yaml`` or an Accept header naming YAML (and not JSON first)."""
    if request.query.get("format", "").lower() in ("yaml", "yml"):
        return True
    if request.query.get("format", "").lower() == "json":
        return False
    accept = request.headers.get("Accept", "")
    return any(t in accept for t in YAML_TYPES) and "application/json" not in accept


def admin_index(base_url: str) -> dict[str, object]:
    """Every admin, dashboard and identity admin route (from their tables) with its methods and
    what it does."""
    by_path: dict[str, list[Route]] = {}
    for row in (*ROUTES, *dashboard.ROUTES, *entra.ADMIN_ROUTES):
        path = row.plain_path
        if path.startswith("/_mockdrive") and path != "/_mockdrive/":
            by_path.setdefault(path, []).append(row)
    routes = [
        {
            "path": path,
            "methods": sorted({row.method for row in rows}),
            "description": describe(rows),
        }
        for path, rows in by_path.items()
    ]
    return {
        "name": "mockdrive",
        "version": __version__,
        "graph": base_url + "/v1.0",
        "dashboard": base_url + "/_mockdrive/ui",
        "openapi": base_url + "/_mockdrive/openapi.json",
        "routes": routes,
    }


def describe(rows: list[Route]) -> str:
    """One line for the rows of one path: their summary, or each method's if they differ."""
    summaries = dict.fromkeys(row.summary for row in rows if row.summary)
    if len(summaries) <= 1:
        return next(iter(summaries), "")
    return "; ".join(f"{row.method}: {row.summary}" for row in rows if row.summary)


def admin_index_html(index: dict[str, object]) -> str:
    """The index as a small page: GET routes without parameters are links."""
    rows = []
    for route in index["routes"]:  # type: ignore[attr-defined]
        path = html.escape(route["path"])
        linkable = "{" not in path and "GET" in route["methods"]
        shown = f'<a href="{path}">{path}</a>' if linkable else path
        methods = html.escape(" ".join(route["methods"]))
        rows.append(
            f"<tr><td>{methods}</td><td>{shown}</td>"
            f"<td>{html.escape(route['description'])}</td></tr>"
        )
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>mockdrive admin API</title>"
        "</head><body><h1>mockdrive admin API</h1>"
        f"<p>Graph API: <code>{html.escape(str(index['graph']))}</code></p>"
        "<table><tr><th>methods</th><th>path</th><th>what</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )


def prefers_html(request: web.Request) -> bool:
    """A browser (Accept names text/html before any JSON)."""
    accept = request.headers.get("Accept", "")
    if "text/html" not in accept:
        return False
    return "application/json" not in accept or accept.index("text/html") < accept.index(
        "application/json"
    )


# -- handlers ---------------------------------------------------------------------------------
# Each reads the server's Backend at the moment it runs, as the admin API always has: a reset or
# a load is seen by the next admin request.
_LOADING: weakref.WeakKeyDictionary[Backend, asyncio.Lock] = weakref.WeakKeyDictionary()


def scenario_lock(backend: Backend) -> asyncio.Lock:
    """One scenario load at a time per server: bounds the memory they take."""
    lock = _LOADING.get(backend)
    if lock is None:
        lock = _LOADING[backend] = asyncio.Lock()
    return lock


async def index(request: web.Request) -> web.Response:
    data = admin_index(f"{request.scheme}://{request.host}")
    if prefers_html(request):
        return web.Response(text=admin_index_html(data), content_type="text/html")
    return json_response(data)


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def reset(request: web.Request) -> web.Response:
    backend_of(request).reset()
    return web.Response(status=204)


async def export_state(request: web.Request) -> web.Response:
    """The state as a scenario: JSON by default, YAML on request.

    The data is taken on the loop (consistent with the state); the text is written in a
    thread, so a large export does not hold up other requests (JSON in many short pieces:
    ``dumps_in_pieces``).
    """
    from ..scenario import dump_yaml, export_scenario  # YAML loads on first use

    scenario = export_scenario(backend_of(request).state)
    if wants_yaml(request):
        text = await asyncio.to_thread(dump_yaml, scenario)
        return web.Response(text=text, content_type="application/yaml")
    text = await asyncio.to_thread(dumps_in_pieces, scenario)
    return web.Response(text=text, content_type="application/json")


def scenario_too_large() -> ApiError:
    return ApiError(413, "invalidRequest", "the scenario is too large")


async def import_state(request: web.Request) -> web.Response:
    """Load the scenario in the body (YAML or JSON); a bad one changes nothing.

    Parsing, checking and building run in a thread (other requests keep being answered);
    the new state is swapped in on the loop, in one step. An empty body is refused: ``{}``
    is the explicit empty scenario.
    """
    from ..scenario import ScenarioError, build_state, parse_scenario  # YAML loads on first use

    def load(text: str) -> State:  # a scenario without clock: loads at the server's clock
        document = parse_scenario(text, "<request body>")
        return build_state(document.with_data(loaded_at(document.data, backend.clock)))

    backend = backend_of(request)
    if request.content_length and request.content_length > MAX_SCENARIO_BODY:
        raise scenario_too_large()
    body = bytearray()
    async for chunk in request.content.iter_chunked(1 << 16):
        body += chunk
        if len(body) > MAX_SCENARIO_BODY:
            raise scenario_too_large()
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalidRequest", "the scenario must be UTF-8 text") from None
    if not text.strip():
        reason = "the body is empty: send a scenario ({} for an empty one)"
        raise ApiError(400, "invalidRequest", reason)
    try:
        async with scenario_lock(backend):
            state = await asyncio.to_thread(load, text)
    except ScenarioError as error:
        raise ApiError(400, "invalidRequest", str(error)) from None
    backend.reset(state)
    return json_response({"users": len(state.directory.users), "items": len(state.store.items)})


async def outbox(request: web.Request) -> web.Response:
    return json_response({"value": backend_of(request).state.outbox.to_list()})


async def clear_outbox(request: web.Request) -> web.Response:
    backend_of(request).state.outbox.clear()
    return web.Response(status=204)


async def openapi(request: web.Request) -> web.Response:
    """The document is built on first use (the server starts without it), by the builder the
    app keeps: the document lists this very route, so this module cannot import it."""
    server_url = f"{request.scheme}://{request.host}"
    build = request.app[OPENAPI_DOCUMENT]
    return json_response(build(backend_of(request).state, server_url))


# -- the route table: the mock's own API ----------------------------------------------------
ROUTES = (
    Route("GET", "/_mockdrive", index,
          "this index of the admin routes (JSON, or HTML for a browser)"),
    Route("GET", "/_mockdrive/", index, "this index of the admin routes"),
    Route("GET", "/_mockdrive/health", health, "liveness: {status: ok}"),
    Route("GET", "/_mockdrive/openapi.json", openapi, "the OpenAPI 3 document of every route"),
    Route("POST", "/_mockdrive/reset", reset, "back to the state the server started with"),
    Route("GET", "/_mockdrive/state", export_state,
          "the whole state as a scenario (JSON, or YAML with ?format=yaml)"),
    Route("PUT", "/_mockdrive/state", import_state, "load a scenario (YAML or JSON)",
          max_body=MAX_SCENARIO_BODY, too_large=scenario_too_large),
    Route("GET", "/_mockdrive/outbox", outbox, "the invitation e-mails that would have been sent"),
    Route("DELETE", "/_mockdrive/outbox", clear_outbox, "empty the outbox"),
    Route("GET", "/_mockdrive/faults", admin_faults.list_faults, "the fault rules"),
    Route("POST", "/_mockdrive/faults", admin_faults.add_fault, "add fault rules"),
    Route("DELETE", "/_mockdrive/faults", admin_faults.clear_faults, "remove every fault rule"),
    Route("DELETE", "/_mockdrive/faults/{ruleId}", admin_faults.remove_fault,
          "remove one fault rule"),
    Route("GET", "/_mockdrive/journal", admin_faults.journal, "the request journal (newest 1,000)"),
    Route("DELETE", "/_mockdrive/journal", admin_faults.clear_journal, "empty the journal"),
    Route("GET", "/_mockdrive/policy", admin_faults.get_policy, "the tenant's sharing policy"),
    Route("PUT", "/_mockdrive/policy", admin_faults.put_policy, "replace the sharing policy"),
    Route("GET", "/_mockdrive/clock", admin_clock.read_clock,
          "the virtual time and how many deadlines are pending"),
    Route("POST", "/_mockdrive/clock", admin_clock.move_clock,
          "move the virtual clock forward and expire what is due"),
    Route("POST", "/_mockdrive/onehub/rolemaps/{id:[0-9]{1,18}}/accept",
          onehub.accept_pending_rolemap, "accept a pending Onehub invitation"),
)  # fmt: skip
