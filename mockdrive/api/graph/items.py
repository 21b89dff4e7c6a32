"""driveItem collections: listing children with paging, creating folders and files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiohttp import web

from ...model.errors import InvalidRequest
from ...model.ranges import LARGEST_OFFSET, whole_number_text
from ...model.tree import Item
from ...model.view import visible_child_items
from ..context import Call
from ..jsonio import fast_json_response, optional, read_json_object
from . import paging
from .addressing import require_read
from .envelope import context_url, first_values, item_context, shape
from .odata import parse_select, skip_token
from .render import render_children, render_item

DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000
CONFLICT_KEYS = ("@microsoft.graph.conflictBehavior", "@name.conflictBehavior")


def page_params(request: web.Request) -> tuple[int, int]:
    """``$top`` and the offset a ``$skiptoken`` of an offset-paged listing carries."""
    token = skip_token(request.query)
    offset = 0 if token is None else whole_number_text(token, "$skiptoken", 0, LARGEST_OFFSET)
    return page_top(request), offset


def page_top(request: web.Request) -> int:
    """``$top`` alone, for listings whose ``$skiptoken`` is not an offset (ordered by name)."""
    top = request.query.get("$top")
    return DEFAULT_PAGE_SIZE if top is None else whole_number_text(top, "$top", 1, MAX_PAGE_SIZE)


def list_children(request: web.Request, call: Call, folder: Item):
    state, caller = call.state, call.caller
    roles = require_read(call, folder)  # access before parameters
    top, offset = page_params(request)
    if not folder.is_folder:
        return fast_json_response({"value": []})
    store = state.store

    def walk() -> Iterator[Item]:
        return visible_child_items(store, caller, folder, roles)

    key = (caller.id, "children", folder.id)  # resumed while the folder is unchanged
    page, more = paging.page(state, key, offset, top, walk, extra=folder.version)
    select = parse_select(request.query.get("$select"))
    value = render_children(state, call, folder, page)
    body: dict[str, Any] = {
        "@odata.context": item_context(request, folder, "children"),
        "value": value if select is None else [shape(entry, select) for entry in value],
    }
    if more:
        query = first_values(request.query, "$skiptoken", "$skipToken")
        query.update({"$top": str(top), "$skiptoken": str(offset + top)})
        body["@odata.nextLink"] = str(request.url.with_query(query))
    return fast_json_response(body)


async def create_child(request: web.Request, call: Call, parent: Item):
    state, caller = call.state, call.caller
    body = await read_json_object(request)
    name = body.get("name")
    is_folder = body.get("folder") is not None
    if is_folder and not isinstance(body["folder"], dict):
        raise InvalidRequest("folder must be an object")
    if not is_folder and not isinstance(body.get("file"), dict):
        raise InvalidRequest("a new item needs a folder or file facet")
    conflict = request.query.get(CONFLICT_KEYS[0]) or request.query.get(CONFLICT_KEYS[1])
    for key in CONFLICT_KEYS:
        conflict = optional(body, key, str, "one of fail, replace, rename") or conflict
    item = state.create_item(caller, parent, name, is_folder=is_folder, conflict=conflict or "fail")
    body = {"@odata.context": item_context(request, item), **render_item(state, call, item)}
    location = context_url(request, "").split("/$metadata#")[0]
    location += f"/drives/{item.drive_id}/items/{item.id}"
    return fast_json_response(body, status=201, headers={"ETag": item.etag, "Location": location})
