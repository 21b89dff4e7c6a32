"""The mock's own API under ``/_mockdrive``: health, reset, state export, outbox."""

from __future__ import annotations

from aiohttp import web

from ..backend import Backend
from .jsonio import json_response


def add_routes(app: web.Application, backend: Backend) -> None:
    async def health(request: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    async def reset(request: web.Request) -> web.Response:
        backend.reset()
        return web.Response(status=204)

    async def export_state(request: web.Request) -> web.Response:
        return json_response(backend.state.export())

    async def outbox(request: web.Request) -> web.Response:
        return json_response({"value": backend.state.outbox.to_list()})

    async def clear_outbox(request: web.Request) -> web.Response:
        backend.state.outbox.clear()
        return web.Response(status=204)

    app.router.add_get("/_mockdrive/health", health)
    app.router.add_post("/_mockdrive/reset", reset)
    app.router.add_get("/_mockdrive/state", export_state)
    app.router.add_get("/_mockdrive/outbox", outbox)
    app.router.add_delete("/_mockdrive/outbox", clear_outbox)
