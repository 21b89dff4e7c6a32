"""Dispatch of everything under ``/v1.0`` and ``/beta`` to the handler of each resource.

Each handler parses the request, makes one call into the model and renders the result. Access
checks live in the model; this package decides only how things look on the wire.
"""

from __future__ import annotations

from aiohttp import web

from ...model import sharing
from ...model.errors import InvalidRequest, NotFound
from ...model.permissions import (
    EffectivePermission,
    can_see_drive,
    find_effective,
    highest_role,
    require_role,
)
from ..context import Call
from ..errors import ApiError
from ..invites import graph_invite
from ..jsonio import fast_json_response, read_json_object
from . import delta, links, shares
from .addressing import check_if_match, not_modified, resolve_drive, resolve_item
from .content import put_content
from .items import create_child, list_children
from .paths import parse_raw_path
from .permissions import list_permissions_response, permission_patch
from .render import render_drive, render_item, render_permission

# Every operation on an addressed item: (action after the item, method). ``handle`` serves
# exactly these; the OpenAPI document lists them for every addressing form.
ITEM_OPERATIONS = (
    ("", "GET"),
    ("", "DELETE"),
    ("children", "GET"),
    ("children", "POST"),
    ("content", "GET"),
    ("content", "PUT"),
    ("invite", "POST"),
    ("action.invite", "POST"),
    ("permissions", "GET"),
    ("permissions/{permissionId}", "GET"),
    ("permissions/{permissionId}", "PATCH"),
    ("permissions/{permissionId}", "DELETE"),
)


async def handle(request: web.Request, call: Call, rest: str) -> web.StreamResponse:
    """Entry point for everything under ``/v1.0`` and ``/beta``."""
    if rest.startswith("/shares/"):  # using a sharing link (issue 14)
        return await shares.handle(request, call, rest)
    if rest.endswith(("/sharedWithMe", "/sharedWithMe()")):
        match = shares.SHARED_WITH_ME.match(rest)
        if match:
            return shares.shared_with_me(request, call, match["drive"])
    path = parse_raw_path(rest)
    state, caller = call.state, call.caller
    drive = resolve_drive(state, caller, path)
    method = request.method
    if path.item_base is None:
        if method != "GET":
            raise method_not_allowed(method)
        if not can_see_drive(state.store, caller, drive.id):
            raise NotFound("the drive was not found")
        return fast_json_response(render_drive(state, drive))

    action = path.action
    if action and action[0] == "content" and len(action) == 1 and method == "PUT":
        return await put_content(request, call, drive, path)
    item = resolve_item(state, drive, path)
    if action and delta.is_delta(action):  # changes since a token (issue 14)
        return delta.serve(request, call, item, action)
    if action and action[0] in links.LINK_ACTIONS:  # sharing links (issue 14)
        served = await links.dispatch(request, call, item, action)
        if served is not None:
            return served
    match action, method:
        case (), "GET":
            require_role(state.store, caller, item, "read")
            if not_modified(request, item):
                return web.Response(status=304)
            return fast_json_response(render_item(state, item))
        case (), "DELETE":
            check_if_match(request, item)
            state.delete_item(caller, item)
            return web.Response(status=204)
        case ("children",), "GET":
            return list_children(request, state, caller, item)
        case ("children",), "POST":
            return await create_child(request, state, caller, item)
        case ("content",), "GET":
            require_role(state.store, caller, item, "read")
            if item.is_folder:
                raise InvalidRequest("a folder has no content")
            return web.Response(body=item.content or b"", content_type=item.mime_type)
        case ("invite",), "POST":
            return await graph_invite(request, call, item)
        case ("action.invite",), "POST":
            from .. import onedrive_v1  # the legacy dialect builds on the invite engine

            return await onedrive_v1.invite(request, call, item)
        case ("permissions",), "GET":
            return list_permissions_response(request, state, caller, item)
        case ("permissions", permission_id), "GET":
            roles = require_role(state.store, caller, item, "read")
            entry = find_effective(state.store, item, permission_id)
            if highest_role(roles) == "read" and not entry.permission.holds(caller):
                raise NotFound(f"permission {permission_id!r} was not found on this item")
            return fast_json_response(render_permission(state, entry))
        case ("permissions", permission_id), "PATCH":
            body = await read_json_object(request)
            roles = permission_patch(body)
            check_if_match(request, item)
            permission = sharing.update_roles(state, caller, item, permission_id, roles)
            return fast_json_response(render_permission(state, EffectivePermission(permission)))
        case ("permissions", permission_id), "DELETE":
            check_if_match(request, item)
            sharing.delete_permission(state, caller, item, permission_id)
            return web.Response(status=204)
    shape = "/".join(action[:1] + (("{permissionId}",) if len(action) == 2 else ()))
    if len(action) <= 2 and any(shape == known for known, _ in ITEM_OPERATIONS):
        raise method_not_allowed(method)
    raise InvalidRequest(f"unsupported segment {'/'.join(action)!r}")


def method_not_allowed(method: str) -> ApiError:
    return ApiError(405, "notSupported", f"the method {method} is not supported on this resource")
