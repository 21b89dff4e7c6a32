"""Special folders (``/drive/special/{name}``)."""

from __future__ import annotations

from typing import Any

from ...model.errors import InvalidRequest, NotFound
from ...model.identity import User
from ...model.permissions import ROLE_RANK, highest_role, roles_of
from ...model.state import State
from ...model.tree import Drive, Item
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


def special_path(name: str) -> str:
    """Where the special folder ``name`` is below the drive's root; the refusal of a name that
    is not one mockdrive keeps."""
    path = SPECIAL_PATHS.get(name)
    if path is None:
        if name in SPECIAL_FOLDERS:
            raise not_implemented(f"the special folder {name!r}")
        raise InvalidRequest(f"{name!r} is not a special folder name")
    return path


def special_folder(state: State, caller: User, drive: Drive, name: str) -> Item:
    """The special folder, created on first use (as the service does) when the caller may
    write the drive's root; otherwise it must exist already."""
    path = special_path(name)
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


def search_hit(state: State, view: View, item: Item) -> dict[str, Any]:
    """A search result: the item with the ``searchResult`` facet the service marks its hits
    with (empty: mockdrive has no click telemetry to point at)."""
    data = render_item(state, view, item)
    data["searchResult"] = {}
    return data
