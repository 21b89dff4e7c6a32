"""The mock's own API under ``/_mockdrive``: an index, health, reset, state export and import,
outbox."""

from __future__ import annotations

import asyncio
import html

from aiohttp import web

from .. import __version__
from ..backend import Backend
from .errors import ApiError
from .jsonio import json_response

MAX_SCENARIO_BODY = 64 * 1024 * 1024
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


def wants_yaml(request: web.Request) -> bool:
    """``?format=yaml`` or an Accept header naming YAML (and not JSON first)."""
    if request.query.get("format", "").lower() in ("yaml", "yml"):
        return True
    if request.query.get("format", "").lower() == "json":
        return False
    accept = request.headers.get("Accept", "")
    return any(t in accept for t in YAML_TYPES) and "application/json" not in accept


ROUTE_SUMMARIES = {
    "/_mockdrive": "this index of the admin routes (JSON, or HTML for a browser)",
    "/_mockdrive/health": "liveness: {status: ok}",
    "/_mockdrive/openapi.json": "the OpenAPI 3 document of every route",
    "/_mockdrive/reset": "back to the state the server started with",
    "/_mockdrive/state": "the whole state as a scenario (GET: JSON, or YAML with ?format=yaml; "
    "PUT: load one)",
    "/_mockdrive/outbox": "the invitation e-mails that would have been sent",
    "/_mockdrive/faults": "fault rules: list, add, remove all",
    "/_mockdrive/faults/{ruleId}": "remove one fault rule",
    "/_mockdrive/journal": "the request journal (newest 1,000)",
    "/_mockdrive/policy": "the tenant's sharing policy",
    "/_mockdrive/onehub/rolemaps/{id}/accept": "accept a pending Onehub invitation",
    "/_mockdrive/ui": "the dashboard",
}


def admin_index(base_url: str) -> dict[str, object]:
    """Every admin route (from the OpenAPI document, so it stays in step) with its methods."""
    from .openapi import admin_paths  # loaded on first use: keeps the server's import cheap

    routes = [
        {
            "path": path,
            "methods": sorted(m.upper() for m in operations if m != "parameters"),
            "description": ROUTE_SUMMARIES.get(path, ""),
        }
        for path, operations in admin_paths().items()
        if path.startswith("/_mockdrive") and path != "/_mockdrive/"
    ]
    return {
        "name": "mockdrive",
        "version": __version__,
        "graph": base_url + "/v1.0",
        "dashboard": base_url + "/_mockdrive/ui",
        "openapi": base_url + "/_mockdrive/openapi.json",
        "routes": routes,
    }


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


def add_routes(app: web.Application, backend: Backend) -> None:
    loading = asyncio.Lock()  # one scenario load at a time: bounds the memory they take

    async def index(request: web.Request) -> web.Response:
        data = admin_index(f"{request.scheme}://{request.host}")
        if prefers_html(request):
            return web.Response(text=admin_index_html(data), content_type="text/html")
        return json_response(data)

    async def health(request: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    async def reset(request: web.Request) -> web.Response:
        backend.reset()
        return web.Response(status=204)

    async def export_state(request: web.Request) -> web.Response:
        """The state as a scenario: JSON by default, YAML on request.

        The data is taken on the loop (consistent with the state); the text is written in a
        thread, so a large export does not hold up other requests.
        """
        from ..scenario import dump_yaml, export_scenario  # YAML loads on first use

        scenario = export_scenario(backend.state)
        if wants_yaml(request):
            text = await asyncio.to_thread(dump_yaml, scenario)
            return web.Response(text=text, content_type="application/yaml")
        return json_response(scenario)

    async def import_state(request: web.Request) -> web.Response:
        """Load the scenario in the body (YAML or JSON); a bad one changes nothing.

        Parsing, checking and building run in a thread (other requests keep being answered);
        the new state is swapped in on the loop, in one step. An empty body is refused: ``{}``
        is the explicit empty scenario.
        """
        from ..scenario import ScenarioError, load_scenario_text  # YAML loads on first use

        if request.content_length and request.content_length > MAX_SCENARIO_BODY:
            raise ApiError(413, "invalidRequest", "the scenario is too large")
        body = bytearray()
        async for chunk in request.content.iter_chunked(1 << 16):
            body += chunk
            if len(body) > MAX_SCENARIO_BODY:
                raise ApiError(413, "invalidRequest", "the scenario is too large")
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "invalidRequest", "the scenario must be UTF-8 text") from None
        if not text.strip():
            reason = "the body is empty: send a scenario ({} for an empty one)"
            raise ApiError(400, "invalidRequest", reason)
        try:
            async with loading:
                state = await asyncio.to_thread(load_scenario_text, text, "<request body>")
        except ScenarioError as error:
            raise ApiError(400, "invalidRequest", str(error)) from None
        backend.reset(state)
        return json_response({"users": len(state.directory.users), "items": len(state.store.items)})

    async def outbox(request: web.Request) -> web.Response:
        return json_response({"value": backend.state.outbox.to_list()})

    async def clear_outbox(request: web.Request) -> web.Response:
        backend.state.outbox.clear()
        return web.Response(status=204)

    async def openapi(request: web.Request) -> web.Response:
        from .openapi import openapi_document  # built on first use

        server_url = f"{request.scheme}://{request.host}"
        return json_response(openapi_document(backend.state, server_url))

    app.router.add_get("/_mockdrive", index)
    app.router.add_get("/_mockdrive/", index)
    app.router.add_get("/_mockdrive/health", health)
    app.router.add_get("/_mockdrive/openapi.json", openapi)
    app.router.add_post("/_mockdrive/reset", reset)
    app.router.add_get("/_mockdrive/state", export_state)
    app.router.add_put("/_mockdrive/state", import_state)
    app.router.add_get("/_mockdrive/outbox", outbox)
    app.router.add_delete("/_mockdrive/outbox", clear_outbox)
