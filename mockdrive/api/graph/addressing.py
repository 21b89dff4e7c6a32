"""From a parsed Graph path to the drive and item it addresses; entity-tag preconditions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import hdrs, web

from ...model.errors import DomainError, InvalidRequest, NotFound, PreconditionFailed
from ...model.identity import User
from ...model.permissions import can_see_drive, require_role, roles_down, roles_of
from ...model.state import State
from ...model.tree import Drive, Item
from ..errors import ApiError
from .paths import GraphPath

if TYPE_CHECKING:
    from ..context import Call


def resolve_drive(state: State, caller: User, path: GraphPath) -> Drive:
    """The addressed drive. Addressed through someone else (``/drives/{id}``, ``/users/{id}``,
    ``/groups/{id}``, ``/sites/{id}``), a missing drive, user, group or site all answer alike
    (``drive_not_found``), as must a drive the caller may not see (checked by the caller)."""
    if path.drive_kind == "me":
        drive_id = state.store.default_drive.get(caller.id)  # ``default_drive``, without its call
        return state.default_drive(caller.id) if drive_id is None else state.store.drives[drive_id]
    try:
        if path.drive_kind == "drives":
            drive = state.store.drives.get(path.drive_key or "")
            if drive is None:
                raise drive_not_found(path)
            if path.user_key is not None:  # ``/users/{key}/drives/{id}``: one of the user's
                user = state.directory.by_id(path.user_key) or state.directory.by_email(
                    path.user_key
                )
                if user is None or drive.owner_id != user.id:
                    raise drive_not_found(path)
        elif path.drive_kind == "users":
            key = path.drive_key or ""
            user = state.directory.by_id(key) or state.directory.by_email(key)
            if user is None:
                raise drive_not_found(path)
            drive = state.default_drive(user.id)
        else:
            drive = state.default_drive(path.drive_key or "")
    except NotFound:
        raise drive_not_found(path) from None
    return drive


def resolve_base(state: State, caller: User, drive: Drive, path: GraphPath) -> Item:
    """The item before any ':' path (``root`` or ``items/{id}``), checked to be in ``drive``
    (a special folder is made on first use if ``caller`` may write there)."""
    if path.item_base == "root":
        return state.store.root(drive)
    if path.item_base and path.item_base.startswith("special/"):
        from .special import special_folder

        try:
            return special_folder(state, caller, drive, path.item_base[len("special/") :])
        except (InvalidRequest, ApiError) as refused:  # a name that is not a special folder
            raise before_any_item(state, caller, drive, path, refused) from None
    item = state.store.items.get(path.item_base or "")
    if item is None or item.drive_id != drive.id:
        raise NotFound(f"item {path.item_base!r} was not found")
    return item


def drive_not_found(path: GraphPath) -> NotFound:
    """What a missing drive answers; a drive the caller may not see answers the same."""
    return NotFound(f"drive {path.drive_key!r} was not found")


def item_not_found(path: GraphPath) -> NotFound:
    """What a missing item answers: the message depends only on the address, so an item the
    caller may not read answers exactly the same."""
    if path.item_path:
        return NotFound(f"the item at path {path.item_path!r} was not found")
    return NotFound(f"item {path.item_base!r} was not found")


def hidden(state: State, caller: User, drive: Drive, path: GraphPath) -> NotFound:
    """The 404 for an item ``caller`` cannot read (or that does not exist): a drive they
    cannot see, addressed through anyone but themselves, is itself not found (checked on this
    failure path only)."""
    if path.drive_kind != "me" and not can_see_drive(state.store, caller, drive.id):
        return drive_not_found(path)
    return item_not_found(path)


def before_any_item(
    state: State, caller: User, drive: Drive, path: GraphPath, error: Exception
) -> Exception:
    """``error``, a refusal that comes before any item is looked up (an operation mockdrive
    does not have, a special folder name, a method no drive route serves); but a drive the
    caller cannot see, addressed through anyone but themselves, answers as a missing one
    does, so the refusal tells nobody that the id is real (checked on this failure path only)."""
    if path.drive_kind != "me" and not can_see_drive(state.store, caller, drive.id):
        return drive_not_found(path)
    return error


def refused_on_the_way(
    state: State, caller: User, drive: Drive, path: GraphPath, refused: Exception
) -> Exception:
    """The refusal of a request to an address that need not exist yet (an upload, a new item
    by its path): ``refused`` when the caller can read the item the address starts from or
    something on its path, else the 404 of a missing item (or drive), so a refusal of the
    request's input (a name, a body, an option) tells nobody that the drive or the item is
    real (checked on this failure path only)."""
    store = state.store
    below = path.item_path or ""
    try:
        if path.item_base and path.item_base.startswith("special/"):
            # from the root, through where the folder is: a name that is no special folder
            # is refused as before any item, and looking makes nothing
            from .special import special_path

            try:
                below = special_path(path.item_base[len("special/") :]) + "/" + below
            except (InvalidRequest, ApiError) as error:  # not a special folder name
                return before_any_item(state, caller, drive, path, error)
            chain = [store.root(drive)]
        else:
            chain = [resolve_base(state, caller, drive, path)]
    except (DomainError, ApiError):  # nothing to read on the way
        return hidden(state, caller, drive, path)
    for name in filter(None, below.split("/")):  # as far as it goes (``..`` is no child)
        found = store.child(chain[-1], name)
        if found is None:
            break
        chain.append(found)
    if any(roles_down(store, caller, chain)):
        return refused
    return hidden(state, caller, drive, path)


def resolve_visible_item(state: State, caller: User, drive: Drive, path: GraphPath) -> Item:
    """The addressed item, if ``caller`` may read it; else the 404 of a missing one. Every
    item route calls this first, before preconditions or parameters that depend on the item,
    so a caller without access learns nothing about what exists."""
    return resolve_visible(state, caller, drive, path)[0]


def resolve_visible(
    state: State, caller: User, drive: Drive, path: GraphPath, walk: bool = True
) -> tuple[Item, set[str] | None]:
    """``resolve_visible_item`` with the caller's (non-empty) roles on the item it found. With
    ``walk`` False, the drive's owner (not an app-only caller) gets None instead: they hold
    ``owner`` on everything in their drive, so the item is readable without walking its grants
    (``require_read`` walks them if a handler asks for the roles)."""
    item_id = path.item_id
    if item_id is not None and not path.item_path:  # ``resolve_base`` by id, without its call
        item = state.store.items.get(item_id)
        if item is None or item.drive_id != drive.id:
            raise hidden(state, caller, drive, path)
    else:
        try:
            item = resolve_base(state, caller, drive, path)
            if path.item_path:
                item = state.store.resolve(item, path.item_path)
        except NotFound:
            raise hidden(state, caller, drive, path) from None
    if not walk and caller.app is None:
        owner_id = drive.owner_id  # ``owns_drive``, for the drive the item was found in
        if owner_id == caller.id or owner_id in caller.group_ids:
            return item, None
    roles = roles_of(state.store, caller, item)
    if not roles:
        raise hidden(state, caller, drive, path)
    return item, roles


def require_read(call: Call, item: Item) -> set[str]:
    """``require_role(…, "read")`` for the call's caller on ``item``: the roles the dispatch
    found for this caller on this very item (``Call.seen``) when a read handler runs right
    after it, with nothing changed in between, else a walk. The item is then readable for the
    request's download URLs too (``Downloads.readable``)."""
    seen = call.seen
    caller = call.caller
    if seen is not None and seen[1] is item and seen[0] is caller:
        roles = seen[2]
        if roles is None:  # the drive's owner, found readable without a walk: walked now
            roles = roles_of(call.state.store, caller, item)
    else:
        roles = require_role(call.state.store, caller, item, "read")
    downloads = call.downloads
    if downloads is not None and downloads.user_id == caller.id:
        downloads.readable.add(item.id)
    return roles


def check_read(call: Call, item: Item) -> None:
    """``require_read`` for a handler that needs no roles: what the dispatch found for this
    caller on this very item (``Call.seen``) is enough, with no walk."""
    seen = call.seen
    caller = call.caller
    if seen is None or seen[1] is not item or seen[0] is not caller:
        require_role(call.state.store, caller, item, "read")
    downloads = call.downloads
    if downloads is not None and downloads.user_id == caller.id:
        downloads.readable.add(item.id)


def check_if_match(request: web.Request, item: Item) -> None:
    expected = request.headers.get(hdrs.IF_MATCH)
    if expected is not None and expected.strip() not in ("*", item.etag, item.ctag):
        raise PreconditionFailed("the item has changed since that eTag", "entityTagDoesNotMatch")


def not_modified(request: web.Request, item: Item) -> bool:
    tag = request.headers.get(hdrs.IF_NONE_MATCH)
    return tag is not None and tag in (item.etag, item.ctag)
