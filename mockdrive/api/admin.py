"""The mock's own API under ``/_mockdrive``: health, reset, state export and import, outbox."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..backend import Backend
from ..scenario import ScenarioError, dump_yaml, export_scenario, load_scenario_text
from .errors import ApiError
from .jsonio import json_response
from .openapi import openapi_document

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


def add_routes(app: web.Application, backend: Backend) -> None:
    loading = asyncio.Lock()  # one scenario load at a time: bounds the memory they take

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
        server_url = f"{request.scheme}://{request.host}"
        return json_response(openapi_document(backend.state, server_url))

    app.router.add_get("/_mockdrive/health", health)
    app.router.add_get("/_mockdrive/openapi.json", openapi)
    app.router.add_post("/_mockdrive/reset", reset)
    app.router.add_get("/_mockdrive/state", export_state)
    app.router.add_put("/_mockdrive/state", import_state)
    app.router.add_get("/_mockdrive/outbox", outbox)
    app.router.add_delete("/_mockdrive/outbox", clear_outbox)
