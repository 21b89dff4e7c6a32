"""The drive and item operations with no resource module of their own, each the handler of a
row of ``routes.ROUTES``: ``(request, call, item, *values)`` as the row's path says."""

from __future__ import annotations

import re
from collections.abc import Iterator

from aiohttp import hdrs, web

from ...model import links as link_model
from ...model import sharing
from ...model.errors import NotFound
from ...model.permissions import (
    EffectivePermission,
    can_see_drive,
    find_effective,
    highest_role,
)
from ...model.tree import Drive, Item
from ...model.view import search
from ..context import Call
from ..jsonio import encoded_json_response, fast_json_response, read_json_object
from . import links, odata, paging
from .addressing import (
    check_if_match,
    check_read,
    drive_not_found,
    not_modified,
    require_read,
)
from .envelope import context_url, item_context, next_link, own_url, shape
from .items import list_children, page_params, page_top
from .ordering import ordered_page
from .paths import GraphPath
from .permissions import permission_patch, render_permission_for
from .relations import expand_item, versions_of
from .render import (
    encode_item,
    render_children,
    render_drive,
    render_item,
    render_permission,
)
from .shares import remote_item
from .special import search_hit

NO_OPTIONS = odata.Options()  # a HEAD's: the dispatch parses a GET's into ``call.options``
SEARCH = r"search\(q='(?:[^']|'')*'\)"  # the segment of ``search(q='…')``
_SEARCH_TERM = re.compile(r"^search\(q='((?:[^']|'')*)'\)$")


def get_drive(request: web.Request, call: Call, drive: Drive, path: GraphPath):
    if not can_see_drive(call.state.store, call.caller, drive.id):  # as one that does not exist
        raise drive_not_found(path)
    data = render_drive(call.state, drive)
    data = shape(data, odata.parse_select(request.query.get("$select")))
    context = context_url(request, "drives/$entity")
    return fast_json_response({"@odata.context": context, **data})


def get_item(request: web.Request, call: Call, item: Item) -> web.StreamResponse:
    state = call.state
    check_read(call, item)
    if hdrs.IF_NONE_MATCH in request.headers and not_modified(request, item):
        return web.Response(status=304)
    options = call.options or NO_OPTIONS
    if options.select is None and not options.expand:  # most GETs: the whole item
        body = encode_item(state, call, item, item_context(request, item))
        if body is not None:
            etag = f'"{{{item.id}}},{item.version}"'  # ``item.etag``, without its call
            return encoded_json_response(body, headers={"ETag": etag})
    data = render_item(state, call, item)
    etag = data["eTag"]  # ``item.etag``, made once
    if options.expand:
        data = expand_item(request, call, item, data, options.expand)
    if options.select is not None:  # (``shape`` gives ``data`` itself without one)
        data = shape(data, options.select, also=options.expand)
    body = {"@odata.context": item_context(request, item), **data}
    return fast_json_response(body, headers={"ETag": etag})


def delete_item(request: web.Request, call: Call, item: Item) -> web.StreamResponse:
    check_if_match(request, item)
    call.state.delete_item(call.caller, item)
    return web.Response(status=204)


def get_children(request: web.Request, call: Call, item: Item) -> web.StreamResponse:
    check_read(call, item)
    if not_modified(request, item):
        return web.Response(status=304)
    options = call.options or NO_OPTIONS
    if options.orderby is not None:
        return ordered_children(request, call, item, options)
    return list_children(request, call, item)


def ordered_children(
    request: web.Request, call: Call, folder: Item, options: odata.Options
) -> web.StreamResponse:
    state, caller = call.state, call.caller
    check_read(call, folder)
    top = page_top(request)
    assert options.orderby is not None
    page, token = ordered_page(
        state, caller, folder, options.orderby, top, odata.skip_token(request.query)
    )
    value = render_children(state, call, folder, page)
    body = {
        "@odata.context": item_context(request, folder, "children"),
        "value": [shape(entry, options.select) for entry in value],
    }
    if token is not None:
        body["@odata.nextLink"] = next_link(request, top, token)
    return fast_json_response(body)


def get_permission(
    request: web.Request, call: Call, item: Item, permission_id: str
) -> web.StreamResponse:
    state, caller = call.state, call.caller
    roles = require_read(call, item)
    entry = find_effective(state.store, item, permission_id)
    reader = caller if highest_role(roles) == "read" else None
    if reader is not None and not entry.permission.holds(reader):
        raise NotFound(f"permission {permission_id!r} was not found on this item")
    return fast_json_response(render_permission_for(state, call, entry, reader))


async def patch_permission(
    request: web.Request, call: Call, item: Item, permission_id: str
) -> web.StreamResponse:
    """A sharing link's permission (``links.patch_link``), or the roles of any other."""
    patched = await links.patch_link(request, call, item, permission_id)
    if patched is not None:
        return patched
    body = await read_json_object(request)
    roles = permission_patch(body)
    check_if_match(request, item)
    permission = sharing.update_roles(call.state, call.caller, item, permission_id, roles)
    return fast_json_response(render_permission(call.state, call, EffectivePermission(permission)))


def delete_permission(
    request: web.Request, call: Call, item: Item, permission_id: str
) -> web.StreamResponse:
    check_if_match(request, item)
    sharing.delete_permission(call.state, call.caller, item, permission_id)
    return web.Response(status=204)


def search_items(request: web.Request, call: Call, item: Item, segment: str) -> web.StreamResponse:
    """``search(q='…')``: names containing the text, among the items the caller can see; a
    page resumes the walk the previous page paused (``paging``)."""
    match = _SEARCH_TERM.match(segment)
    assert match is not None
    top, offset = page_params(request)
    state, caller, text = call.state, call.caller, match[1].replace("''", "'")
    drive = state.store.drives[item.drive_id]
    # ``/me/drive/search(q=…)`` on the caller's own drive also finds what others shared with
    # them, as the service does (``root/search`` and a folder's search keep to the drive)
    wide = drive.owner_id == caller.id and item.parent_id is None and _drive_wide(request)
    key = (caller.id, "search" if not wide else "search-wide", item.id, text)

    def hits() -> Iterator[Item]:
        shared = (shared for shared, _ in link_model.shared_with(state, caller)) if wide else ()
        return search(state.store, caller, item, text, shared)

    page, more = paging.page(state, key, offset, top, hits)
    select = (call.options or NO_OPTIONS).select
    value = [
        shape(search_hit(state, call, hit) if hit.drive_id == drive.id
              else {**remote_item(call, hit), "searchResult": {}}, select)
        for hit in page
    ]  # fmt: skip
    body = {"@odata.context": context_url(request, "Collection(driveItem)"), "value": value}
    if more:
        body["@odata.nextLink"] = next_link(request, top, str(offset + top))
    return fast_json_response(body)


def _drive_wide(request: web.Request) -> bool:
    """Is this the drive's own search (``/me/drive/search(…)``, ``/drives/{id}/search(…)``),
    not an item's (``root/search(…)``)? Asked of the root only: a folder's path may spell
    ``…/drives/x:/search(…)``."""
    parts = own_url(request).raw_path.split("/")  # in its normal form: a '/' in q is %2F
    return parts[-2] == "drive" or parts[-3] == "drives"


def thumbnails(request: web.Request, call: Call, item: Item) -> web.StreamResponse:
    check_read(call, item)
    context = item_context(request, item, "thumbnails")
    return fast_json_response({"@odata.context": context, "value": []})


def versions(request: web.Request, call: Call, item: Item) -> web.StreamResponse:
    check_read(call, item)
    context = item_context(request, item, "versions")
    select = (call.options or NO_OPTIONS).select
    value = [shape(v, select) for v in versions_of(call.state, item)]
    return fast_json_response({"@odata.context": context, "value": value})


def version(request: web.Request, call: Call, item: Item, version_id: str) -> web.StreamResponse:
    check_read(call, item)
    for entry in versions_of(call.state, item):
        if entry["id"] == version_id:
            context = item_context(request, item, "versions/$entity")
            return fast_json_response({"@odata.context": context, **entry})
    raise NotFound(f"version {version_id!r} was not found (only the current is kept)")
