"""Special folders (``/drive/special/{name}``) and ``search(q='…')``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...model.errors import InvalidRequest, NotFound
from ...model.identity import User
from ...model.permissions import ROLE_RANK, highest_role, roles_of
from ...model.state import State
from ...model.tree import Drive, DriveStore, Item
from ...model.view import visible_below
from .gaps import SPECIAL_FOLDERS, not_implemented
from .render import View, render_item

# Where each special folder lives in the drive (approot: the app's own folder under /Apps).
SPECIAL_PATHS = {
    "approot": "/Apps/mockdrive",
    "documents": "/Documents",
    "photos": "/Pictures",
    "cameraroll": "/Pictures/Camera Roll",
    "music": "/Music",
}


def special_folder(state: State, caller: User, drive: Drive, name: str) -> Item:
    """The special folder, created on first use (as the service does) when the caller may
    write the drive's root; otherwise it must exist already."""
    path = SPECIAL_PATHS.get(name)
    if path is None:
        if name in SPECIAL_FOLDERS:
            raise not_implemented(f"the special folder {name!r}")
        raise InvalidRequest(f"{name!r} is not a special folder name")
    store = state.store
    root = store.root(drive)
    try:
        found = store.resolve(root, path)
    except NotFound:
        found = None
    if found is not None and found.is_folder:
        return found
    roles = roles_of(store, caller, root)
    if found is not None or not roles or ROLE_RANK[highest_role(roles) or "read"] < 2:
        raise NotFound(f"the special folder {name!r} was not found")
    return state.make_path(drive, path)


def search(store: DriveStore, caller: User, start: Item, query: str) -> Iterator[Item]:
    """Items below ``start`` whose name contains ``query`` (case-insensitive) that the caller
    can see: the caller's view below ``start`` (``model/view.py``), then, as the service's
    search includes what was shared with the caller, the view below each item shared with them
    inside parts of it they cannot see. O(items the caller can see + their hidden children +
    depth x items shared in the drive)."""
    needle = query.casefold()
    visited: set[str] = set()

    def walk(top: Item) -> Iterator[Item]:
        for item, _ in visible_below(store, caller, top):
            visited.add(item.id)
            if item is not start and needle in item.name.casefold():
                yield item

    yield from walk(start)
    shared = []  # grants held by the caller below start, inside parts not walked yet
    for item_id in store.drives[start.drive_id].shared_item_ids:
        item = store.items.get(item_id)
        if item is None or item is start or not any(p.holds(caller) for p in item.permissions):
            continue
        ancestors = list(store.ancestors(item))
        if start in ancestors:
            shared.append((len(ancestors), item.id, item))
    for _, _, item in sorted(shared, key=lambda entry: entry[:2]):  # shallowest first
        if item.id not in visited:
            yield from walk(item)


def search_hit(state: State, view: View, item: Item) -> dict[str, Any]:
    """A search result: the item with the ``searchResult`` facet the service marks its hits
    with (empty: mockdrive has no click telemetry to point at)."""
    data = render_item(state, view, item)
    data["searchResult"] = {}
    return data
