"""Dispatch of everything under ``/v1.0`` and ``/beta`` to the handler of each resource.

Each handler parses the request, makes one call into the model and renders the result. Access
checks live in the model; this package decides only how things look on the wire.
"""

from __future__ import annotations

import re

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
from .. import onedrive_v1  # the legacy dialect builds on the invite engine
from ..context import Call
from ..errors import ApiError
from ..invites import graph_invite
from ..jsonio import fast_json_response, read_json_object
from . import changes, delta, directory, links, odata, paging, shares
from .addressing import (
    check_if_match,
    drive_not_found,
    hidden,
    not_modified,
    resolve_drive,
    resolve_visible_item,
)
from .content import get_content, put_content
from .downloads import Downloads
from .envelope import context_url, item_context, next_link, shape
from .gaps import ITEM_SEGMENTS, VERSION_SEGMENTS, bad_segment, function_name, not_implemented
from .items import create_child, list_children, page_params, page_top
from .ordering import ordered_page
from .paths import normalize_path, parse_raw_path
from .permissions import list_permissions_response, permission_patch, render_permission_for
from .preview import preview_item
from .relations import expand_item, versions_of
from .render import render_drive, render_item, render_permission
from .special import search
from .uploads import create_upload_session

# Every operation on an addressed item: (action after the item, method). ``handle`` serves
# exactly these; the OpenAPI document lists them for every addressing form.
ITEM_OPERATIONS = (
    ("", "GET"),
    ("", "PATCH"),
    ("", "DELETE"),
    ("children", "GET"),
    ("children", "POST"),
    ("content", "GET"),
    ("content", "PUT"),
    ("copy", "POST"),
    ("invite", "POST"),
    ("action.invite", "POST"),
    ("permissions", "GET"),
    ("permissions/{permissionId}", "GET"),
    ("permissions/{permissionId}", "PATCH"),
    ("permissions/{permissionId}", "DELETE"),
    ("search(q='{q}')", "GET"),
    ("thumbnails", "GET"),
    ("versions", "GET"),
    ("versions/{versionId}", "GET"),
    ("", "HEAD"),
    ("content", "HEAD"),
    ("createUploadSession", "POST"),
    ("preview", "POST"),
)
_SEARCH = re.compile(r"^search\(q='((?:[^']|'')*)'\)$")


async def handle(request: web.Request, call: Call, rest: str) -> web.StreamResponse:
    """Entry point for everything under ``/v1.0`` and ``/beta`` (``rest``: the raw path after
    the version, read in its one normal form from here on)."""
    rest = normalize_path(rest)
    call = call.viewed_by(call.caller.id)  # rendered for the caller, no downloads yet
    response = await shared_resources(request, call, rest)
    if response is None:
        response = await directory.dispatch(request, call, rest)
    if response is None:
        response = await serve_drive(request, call, rest)
    response.headers["OData-Version"] = "4.0"
    return response


async def shared_resources(
    request: web.Request, call: Call, rest: str
) -> web.StreamResponse | None:
    """``/shares/{id}…`` (using a sharing link) and ``…/sharedWithMe``; None for anything else."""
    if rest.startswith("/shares/"):
        return await shares.handle(request, call, rest)
    if rest.endswith(("/sharedWithMe", "/sharedWithMe()")):
        match = shares.SHARED_WITH_ME.match(rest)
        if match:
            return shares.shared_with_me(request, call, match["drive"])
    return None


async def serve_drive(request: web.Request, call: Call, rest: str) -> web.StreamResponse:
    """A drive (``/me/drive``) or anything addressed through one."""
    path = parse_raw_path(rest)
    call = call.with_downloads(Downloads(request, call.caller.id))  # files carry theirs
    state, caller = call.state, call.caller
    drive = resolve_drive(state, caller, path)
    method = request.method
    if path.item_base is None:
        if method != "GET":
            raise method_not_allowed(method)
        if not can_see_drive(state.store, caller, drive.id):  # as one that does not exist
            raise drive_not_found(path)
        data = render_drive(state, drive)
        data = shape(data, odata.parse_select(request.query.get("$select")))
        context = context_url(request, "drives/$entity")
        return fast_json_response({"@odata.context": context, **data})

    action = path.action
    if action and action[0] == "content" and len(action) == 1 and method == "PUT":
        if not path.item_path:  # an item the caller cannot read: 404 before If-Match or body
            resolve_visible_item(state, caller, drive, path)
        try:
            return await put_content(request, call, drive, path)
        except NotFound:  # nothing readable on the way: the same 404 as a missing item
            raise hidden(state, caller, drive, path) from None
    if action == ("createUploadSession",) and method == "POST":  # the file may not exist yet
        if not path.item_path:
            resolve_visible_item(state, caller, drive, path)
        try:
            return await create_upload_session(request, call, drive, path)
        except NotFound:
            raise hidden(state, caller, drive, path) from None
    if action and function_name(action[0]) in ITEM_SEGMENTS:  # before the item must exist
        raise unserved(action, method)
    item = resolve_visible_item(state, caller, drive, path)
    options = odata.parse_options(request.query) if method == "GET" else odata.Options()
    if action and delta.is_delta(action):  # changes since a token
        return delta.serve(request, call, item, action)
    if action and action[0] in links.LINK_ACTIONS:  # sharing links
        served = await links.dispatch(request, call, item, action)
        if served is not None:
            return served
    match action, method:
        case (), "GET" | "HEAD":
            require_role(state.store, caller, item, "read")
            if not_modified(request, item):
                return web.Response(status=304)
            data = render_item(state, call, item)
            data = expand_item(request, call, item, data, options.expand)
            shaped = shape(data, options.select, also=options.expand)
            body = {"@odata.context": item_context(request, item), **shaped}
            return fast_json_response(body, headers={"ETag": item.etag})
        case (), "PATCH":
            return await changes.patch_item(request, call, item)
        case (), "DELETE":
            check_if_match(request, item)
            state.delete_item(caller, item)
            return web.Response(status=204)
        case ("children",), "GET":
            require_role(state.store, caller, item, "read")
            if not_modified(request, item):
                return web.Response(status=304)
            if options.orderby is not None:
                return ordered_children(request, call, item, options)
            return list_children(request, call, item)
        case ("children",), "POST":
            return await create_child(request, call, item)
        case ("content",), "GET" | "HEAD":
            return get_content(request, call, item)
        case ("copy",), "POST":
            return await changes.copy(request, call, item)
        case ("preview",), "POST":
            return await preview_item(request, call, item)
        case ("invite",), "POST":
            return await graph_invite(request, call, item)
        case ("action.invite",), "POST":
            return await onedrive_v1.invite(request, call, item)
        case ("permissions",), "GET":
            return list_permissions_response(request, call, item)
        case ("permissions", permission_id), "GET":
            roles = require_role(state.store, caller, item, "read")
            entry = find_effective(state.store, item, permission_id)
            reader = caller if highest_role(roles) == "read" else None
            if reader is not None and not entry.permission.holds(reader):
                raise NotFound(f"permission {permission_id!r} was not found on this item")
            return fast_json_response(render_permission_for(state, call, entry, reader))
        case ("permissions", permission_id), "PATCH":
            body = await read_json_object(request)
            roles = permission_patch(body)
            check_if_match(request, item)
            permission = sharing.update_roles(state, caller, item, permission_id, roles)
            return fast_json_response(
                render_permission(state, call, EffectivePermission(permission))
            )
        case ("permissions", permission_id), "DELETE":
            check_if_match(request, item)
            sharing.delete_permission(state, caller, item, permission_id)
            return web.Response(status=204)
        case (segment,), "GET" if _SEARCH.match(segment):
            return search_response(request, call, item, segment, options)
        case ("thumbnails",), "GET":
            require_role(state.store, caller, item, "read")
            context = item_context(request, item, "thumbnails")
            return fast_json_response({"@odata.context": context, "value": []})
        case ("versions",), "GET":
            require_role(state.store, caller, item, "read")
            context = item_context(request, item, "versions")
            versions = [shape(v, options.select) for v in versions_of(state, item)]
            return fast_json_response({"@odata.context": context, "value": versions})
        case ("versions", version_id), "GET":
            require_role(state.store, caller, item, "read")
            for version in versions_of(state, item):
                if version["id"] == version_id:
                    context = item_context(request, item, "versions/$entity")
                    return fast_json_response({"@odata.context": context, **version})
            raise NotFound(f"version {version_id!r} was not found (only the current is kept)")
    raise unserved(action, method)


def template(action: tuple[str, ...]) -> str:
    """The ITEM_OPERATIONS spelling of an action: ids and the search term become names."""
    if len(action) == 1 and _SEARCH.match(action[0]):
        return "search(q='{q}')"
    if len(action) == 2 and action[0] in ("permissions", "versions"):
        return f"{action[0]}/{{{action[0][:-1]}Id}}"
    return "/".join(action)


def unserved(action: tuple[str, ...], method: str) -> Exception:
    """405 for a method the resource lacks, 501 for a Graph feature mockdrive lacks, and the
    gateway's 400 for a segment Graph does not have."""
    if any(template(action) == known for known, _ in ITEM_OPERATIONS):
        return method_not_allowed(method)
    head = function_name(action[0])
    if head == "search":
        return InvalidRequest("search takes one parameter: search(q='text')")
    if head in ITEM_SEGMENTS:
        return not_implemented(f"the driveItem {head!r} operation")
    if action[0] == "versions" and len(action) == 3 and action[2] in VERSION_SEGMENTS:
        return not_implemented(f"versions/{{id}}/{action[2]} (only the current version is kept)")
    if action[0] == "thumbnails" and len(action) > 1:
        return not_implemented("thumbnail sets (items have no thumbnails)")
    for segment in action:
        known = segment in ("children", "content", "permissions", "versions", "thumbnails")
        if not known and function_name(segment) not in ITEM_SEGMENTS:
            return bad_segment(segment)
    return bad_segment(action[-1])


def ordered_children(
    request: web.Request, call: Call, folder, options: odata.Options
) -> web.StreamResponse:
    state, caller = call.state, call.caller
    require_role(state.store, caller, folder, "read")
    top = page_top(request)
    assert options.orderby is not None
    page, token = ordered_page(
        state, caller, folder, options.orderby, top, odata.skip_token(request.query)
    )
    folder_path = state.store.path_of(folder)
    body = {
        "@odata.context": item_context(request, folder, "children"),
        "value": [shape(render_item(state, call, c, folder_path), options.select) for c in page],
    }
    if token is not None:
        body["@odata.nextLink"] = next_link(request, top, token)
    return fast_json_response(body)


def search_response(
    request: web.Request, call: Call, item, segment: str, options: odata.Options
) -> web.StreamResponse:
    """``search(q='…')``: names containing the text, among the items the caller can see; a
    page resumes the walk the previous page paused (``paging``)."""
    match = _SEARCH.match(segment)
    assert match is not None
    top, offset = page_params(request)
    state, caller, text = call.state, call.caller, match[1].replace("''", "'")
    key = (caller.id, "search", item.id, text)
    page, more = paging.page(
        state, key, offset, top, lambda: search(state.store, caller, item, text)
    )
    body = {
        "@odata.context": context_url(request, "Collection(driveItem)"),
        "value": [shape(render_item(state, call, hit), options.select) for hit in page],
    }
    if more:
        body["@odata.nextLink"] = next_link(request, top, str(offset + top))
    return fast_json_response(body)


def method_not_allowed(method: str) -> ApiError:
    return ApiError(405, "notSupported", f"the method {method} is not supported on this resource")
