"""Admin routes for outcomes: fault rules, the request journal, the sharing policy."""

from __future__ import annotations

from aiohttp import web

from ..backend import Backend
from ..model.errors import InvalidRequest, NotFound
from ..model.policy import SharingPolicy
from .jsonio import json_response, read_json_object


def add_routes(app: web.Application, backend: Backend) -> None:
    async def list_faults(request: web.Request) -> web.Response:
        return json_response({"value": backend.state.faults.to_list()})

    async def add_fault(request: web.Request) -> web.Response:
        faults = backend.state.faults  # the state this request began with, not a later one
        data = await read_json_object(request)
        rules = data.get("value") if "value" in data else [data]
        if not isinstance(rules, list):
            raise InvalidRequest("value must be an array of fault rules")
        added = []
        try:
            for rule in rules:
                added.append(faults.add(rule))
        except InvalidRequest:
            for rule in added:  # all or nothing
                faults.remove(rule.id)
            raise
        body = [r.to_dict() for r in added]
        return json_response(body[0] if "value" not in data else {"value": body}, status=201)

    async def clear_faults(request: web.Request) -> web.Response:
        backend.state.faults.clear()
        return web.Response(status=204)

    async def remove_fault(request: web.Request) -> web.Response:
        if not backend.state.faults.remove(request.match_info["rule_id"]):
            raise NotFound(f"no fault rule {request.match_info['rule_id']!r}")
        return web.Response(status=204)

    async def journal(request: web.Request) -> web.Response:
        timing = request.query.get("timing", "true").lower() != "false"
        return json_response({"value": backend.state.journal.to_list(timing)})

    async def clear_journal(request: web.Request) -> web.Response:
        backend.state.journal.clear()
        return web.Response(status=204)

    async def get_policy(request: web.Request) -> web.Response:
        return json_response(backend.state.policy.to_dict())

    async def put_policy(request: web.Request) -> web.Response:
        state = backend.state  # the state this request began with, not a later one
        state.policy = SharingPolicy.from_dict(await read_json_object(request))
        return json_response(state.policy.to_dict())

    app.router.add_get("/_mockdrive/faults", list_faults)
    app.router.add_post("/_mockdrive/faults", add_fault)
    app.router.add_delete("/_mockdrive/faults", clear_faults)
    app.router.add_delete("/_mockdrive/faults/{rule_id}", remove_fault)
    app.router.add_get("/_mockdrive/journal", journal)
    app.router.add_delete("/_mockdrive/journal", clear_journal)
    app.router.add_get("/_mockdrive/policy", get_policy)
    app.router.add_put("/_mockdrive/policy", put_policy)
