"""Admin handlers for outcomes: fault rules, the request journal, the sharing policy (routed by
``admin.ROUTES``)."""

from __future__ import annotations

from aiohttp import web

from ..model.errors import InvalidRequest, NotFound
from ..model.policy import SharingPolicy
from .context import backend_of
from .jsonio import json_response, read_json_object


async def list_faults(request: web.Request) -> web.Response:
    return json_response({"value": backend_of(request).state.faults.to_list()})


async def add_fault(request: web.Request) -> web.Response:
    faults = backend_of(request).state.faults  # the state this request began with, not a later one
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
    backend_of(request).state.faults.clear()
    return web.Response(status=204)


async def remove_fault(request: web.Request) -> web.Response:
    rule_id = request.match_info["ruleId"]
    if not backend_of(request).state.faults.remove(rule_id):
        raise NotFound(f"no fault rule {rule_id!r}")
    return web.Response(status=204)


async def journal(request: web.Request) -> web.Response:
    timing = request.query.get("timing", "true").lower() != "false"
    return json_response({"value": backend_of(request).state.journal.to_list(timing)})


async def clear_journal(request: web.Request) -> web.Response:
    backend_of(request).state.journal.clear()
    return web.Response(status=204)


async def get_policy(request: web.Request) -> web.Response:
    return json_response(backend_of(request).state.policy.to_dict())


async def put_policy(request: web.Request) -> web.Response:
    state = backend_of(request).state  # the state this request began with, not a later one
    state.policy = SharingPolicy.from_dict(await read_json_object(request))
    return json_response(state.policy.to_dict())
