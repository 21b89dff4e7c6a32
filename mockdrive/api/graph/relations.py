"""The relationships of a driveItem — children, permissions, thumbnails, versions — as
``$expand`` inlines them (O(page) each) and as their own routes list them."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from aiohttp import web

from ...model.identity import User
from ...model.permissions import highest_role, require_role, roles_of
from ...model.state import State
from ...model.tree import DriveStore, Item
from ...model.view import visible_child_items
from ..context import Call
from .envelope import shape
from .odata import INLINE_CHILDREN, Options
from .permissions import list_permissions
from .render import identity, render_children


def children_seen(store: DriveStore, caller: User, folder: Item) -> Iterator[Item]:
    """The folder's children in the caller's view (``model/view.py``); none if the caller
    cannot see the folder."""
    roles = roles_of(store, caller, folder)
    if not roles:
        return iter(())
    return visible_child_items(store, caller, folder, roles)


def expand_item(
    request: web.Request,
    call: Call,
    item: Item,
    data: dict[str, Any],
    expand: dict[str, Options],
) -> dict[str, Any]:
    """Add the expanded relationships to a rendered item (O(page) each)."""
    state, caller = call.state, call.caller
    store = state.store
    for name, options in expand.items():
        if name == "children":
            if not item.is_folder:
                continue
            limit = options.top or INLINE_CHILDREN
            page = list(islice(children_seen(store, caller, item), limit + 1))
            rendered = render_children(state, call, item, page[:limit])
            data["children"] = [shape(entry, options.select) for entry in rendered]
            if len(page) > limit:
                version = "/beta" if request.path.startswith("/beta") else "/v1.0"
                data["children@odata.nextLink"] = (
                    f"{request.scheme}://{request.host}{version}/drives/{item.drive_id}"
                    f"/items/{item.id}/children?$top={limit}&$skiptoken={limit}"
                )
        elif name == "permissions":
            roles = require_role(store, caller, item, "read")
            reader = caller if highest_role(roles) == "read" else None
            listed = list_permissions(state, call, item, reader)
            data["permissions"] = [shape(p, options.select) for p in listed]
        elif name == "thumbnails":
            data["thumbnails"] = []
        elif name == "versions":
            data["versions"] = [shape(v, options.select) for v in versions_of(state, item)]
    return data


def current_version_id(item: Item) -> str | None:
    """The id of the file's current version (the one ``versions_of`` lists); None for a folder."""
    return None if item.is_folder else f"{item.content_version}.0"


def versions_of(state: State, item: Item) -> list[dict[str, Any]]:
    """The versions mockdrive keeps: the current one only."""
    if item.is_folder:
        return []
    return [{
        "id": current_version_id(item),
        "lastModifiedDateTime": item.modified,
        "lastModifiedBy": {"user": identity(state, item.modified_by)},
        "size": item.size,
    }]  # fmt: skip
