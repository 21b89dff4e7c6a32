"""Special folders (``/drive/special/{name}``)."""

from __future__ import annotations

from typing import Any

from ...model.errors import AccessDenied, InvalidRequest, NotFound
from ...model.identity import User
from ...model.permissions import ROLE_RANK, highest_role, roles_of
from ...model.state import State
from ...model.tree import SPECIAL_PATHS, Drive, Item
from .gaps import SPECIAL_FOLDERS, not_implemented
from .render import View, render_item

__all__ = ["SPECIAL_PATHS", "search_hit", "special_folder", "special_path"]


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
    """The special folder ``name``: the folder made or taken as it, wherever it was renamed or
    moved to since. Without one, on first use by someone who may write the drive's root (as the
    service makes it), the folder at its place (``SPECIAL_PATHS``) becomes it, made if missing.
    Someone who may only read the root meets a 403 for one that does not exist yet, as the
    service answers; someone who cannot see the root, a 404."""
    path = special_path(name)
    store = state.store
    found = drive.special_folder(store, name)
    if found is not None:
        return found
    root = store.root(drive)
    try:
        found = store.resolve(root, path)
    except NotFound:
        found = None
    if found is not None and (not found.is_folder or found.special not in (None, name)):
        raise NotFound(f"the special folder {name!r} was not found")
    roles = roles_of(store, caller, root)
    if not roles or ROLE_RANK[highest_role(roles) or "read"] < 2:
        if found is not None:  # as it is: only a writer makes it the special folder
            return found
        if roles:
            raise AccessDenied(f"the special folder {name!r} does not exist yet, and only "
                               "someone who may write the drive's root makes it")  # fmt: skip
        raise NotFound(f"the special folder {name!r} was not found")
    if found is None:
        found = state.make_path(drive, path)
    else:
        state.changed(found)  # it shows the specialFolder facet from now on: delta reports it
    found.special = name
    drive.special[name] = found.id
    return found


def search_hit(state: State, view: View, item: Item) -> dict[str, Any]:
    """A search result: the item with the ``searchResult`` facet the service marks its hits
    with (empty: mockdrive has no click telemetry to point at)."""
    data = render_item(state, view, item)
    data["searchResult"] = {}
    return data
