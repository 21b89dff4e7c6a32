"""From a parsed Graph path to the drive and item it addresses; entity-tag preconditions."""

from __future__ import annotations

from aiohttp import web

from ...model.errors import NotFound, PreconditionFailed
from ...model.identity import User
from ...model.state import State
from ...model.tree import Drive, Item
from .paths import GraphPath


def resolve_drive(state: State, caller: User, path: GraphPath) -> Drive:
    """The addressed drive, if the caller may see it (else 404: existence must not leak)."""
    if path.drive_kind == "me":
        drive = state.default_drive(caller.id)
    elif path.drive_kind == "drives":
        drive = state.store.drive(path.drive_key or "")
    elif path.drive_kind == "users":
        user = state.directory.by_id(path.drive_key or "") or state.directory.by_email(
            path.drive_key or ""
        )
        if user is None:
            raise NotFound(f"user {path.drive_key!r} was not found")
        drive = state.default_drive(user.id)
    else:
        drive = state.default_drive(path.drive_key or "")
    return drive


def resolve_base(state: State, drive: Drive, path: GraphPath) -> Item:
    """The item before any ':' path (``root`` or ``items/{id}``), checked to be in ``drive``."""
    if path.item_base == "root":
        return state.store.root(drive)
    if path.item_base and path.item_base.startswith("special/"):
        from .special import special_folder

        return special_folder(state, drive, path.item_base[len("special/") :])
    item = state.store.items.get(path.item_base or "")
    if item is None or item.drive_id != drive.id:
        raise NotFound(f"item {path.item_base!r} was not found")
    return item


def resolve_item(state: State, drive: Drive, path: GraphPath) -> Item:
    base = resolve_base(state, drive, path)
    return state.store.resolve(base, path.item_path) if path.item_path else base


def check_if_match(request: web.Request, item: Item) -> None:
    expected = request.headers.get("If-Match")
    if expected is not None and expected.strip() not in ("*", item.etag, item.ctag):
        raise PreconditionFailed("the item has changed since that eTag", "entityTagDoesNotMatch")


def not_modified(request: web.Request, item: Item) -> bool:
    return request.headers.get("If-None-Match") in (item.etag, item.ctag)
