"""Permissions: stored once where granted; an item's effective list walks its ancestors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import AccessDenied, NameConflict, NotFound
from .grants import Permission

if TYPE_CHECKING:
    from .identity import User
    from .tree import DriveStore, Item

ROLE_RANK = {"read": 1, "write": 2, "owner": 3}
GRANTABLE_ROLES = ("read", "write")


@dataclass(slots=True)
class EffectivePermission:
    """A permission as seen from one item: ``holder`` is the ancestor it is inherited from.

    Read-only by convention, not frozen: one is built for every entry of every permission
    listing, and a frozen dataclass costs five times as much to build."""

    permission: Permission
    holder: Item | None = None

    @property
    def inherited(self) -> bool:
        return self.holder is not None


def highest_role(roles: list[str] | set[str]) -> str | None:
    return max(roles, key=ROLE_RANK.__getitem__, default=None)


def effective_permissions(store: DriveStore, item: Item) -> list[EffectivePermission]:
    """The item's own permissions, then those inherited from each ancestor, nearest first.

    Walks up the tree only (O(depth + permissions on the path)) and stops at an item that
    breaks inheritance.
    """
    result = [EffectivePermission(p) for p in item.permissions]
    items = store.items
    current = item
    while current.inherits and current.parent_id is not None:
        current = items[current.parent_id]
        for permission in current.permissions:  # a loop: most ancestors hold none
            result.append(EffectivePermission(permission, current))
    return result


def owns_drive(store: DriveStore, user: User, item: Item) -> bool:
    """Is ``user`` the owner of the drive ``item`` is in (directly, or through the owning group)?

    The drive owner holds an implicit ``owner`` role on everything in the drive, whatever
    inheritance says: a folder that stops inheriting never locks its drive's owner out.
    """
    owner_id = store.drives[item.drive_id].owner_id
    return owner_id == user.id or owner_id in user.group_ids


def drive_owner_permission(store: DriveStore, item: Item) -> Permission:
    """The permission that makes the drive's owner the owner: the ``owner`` grant on the root."""
    drive = store.drives[item.drive_id]
    root = store.items[drive.root_id]
    for permission in root.permissions:
        if permission.is_owner and permission.grantee_id == drive.owner_id:
            return permission
    return Permission(  # a drive arranged without one: the implicit grant, never stored
        id="owner-" + drive.owner_id, item_id=root.id, roles=["owner"], grantee_id=drive.owner_id
    )


def roles_of(store: DriveStore, user: User, item: Item) -> set[str]:
    """The roles ``user`` holds on ``item`` (Graph semantics: additive over all grants; the
    drive's owner always holds ``owner``). An app-only caller holds what its roles give on
    the item's drive, and nothing from permissions."""
    if user.app is not None:
        role = user.app.role_on(item.drive_id)
        return {role} if role is not None else set()
    owner_id = store.drives[item.drive_id].owner_id  # ``owns_drive``, without a call
    owns = owner_id == user.id or owner_id in user.group_ids
    roles: set[str] = {"owner"} if owns else set()
    items = store.items
    user_id, group_ids, folded = user.id, user.group_ids, None
    current = item  # the walk of effective_permissions, without building its entries
    while True:
        for permission in current.permissions.candidates(user):
            # ``permission.holds(user)``, without a call for a grant to an account or a group
            if permission.pending:
                continue
            grantee_id = permission.grantee_id
            if permission.link is not None:
                if permission.link.holds(user):
                    roles.update(permission.roles)
            elif grantee_id is not None:
                if grantee_id == user_id or grantee_id in group_ids:
                    roles.update(permission.roles)
            elif permission.invitation_email is not None:
                if folded is None:
                    folded = user.email.casefold()
                if permission.invitation_email.casefold() == folded:
                    roles.update(permission.roles)
        if not current.inherits or current.parent_id is None:
            return roles
        current = items[current.parent_id]


def held_candidates(item: Item, user: User) -> Sequence[Permission]:
    """The item's own permissions that may apply to ``user`` (check each with ``holds``)."""
    return item.permissions.candidates(user)


def roles_down(store: DriveStore, user: User, chain: list[Item]) -> list[set[str]]:
    """``roles_of`` for each item of ``chain``, each a child of the one before it, in one walk
    down (O(depth of the first + length)), not one walk up per item."""
    if user.app is not None:  # the same roles all through the drive
        return [roles_of(store, user, item) for item in chain]
    result: list[set[str]] = []
    for item in chain:
        if not result:
            roles = roles_of(store, user, item)
        else:
            roles = {r for p in held_candidates(item, user) if p.holds(user) for r in p.roles}
            if item.inherits:
                roles |= result[-1]
            elif owns_drive(store, user, item):
                roles.add("owner")
        result.append(roles)
    return result


def can_read(store: DriveStore, user: User, item: Item) -> bool:
    return bool(roles_of(store, user, item))


def require_role(store: DriveStore, user: User, item: Item, needed: str) -> set[str]:
    """Raise NotFound if ``user`` cannot see ``item``, AccessDenied if their role is too low."""
    roles = roles_of(store, user, item)
    if not roles:
        raise NotFound("the item was not found")
    if ROLE_RANK[highest_role(roles)] < ROLE_RANK[needed]:
        raise AccessDenied(f"the caller needs the {needed} role on this item")
    return roles


def require_removable(store: DriveStore, user: User, item: Item, name: str | None = None) -> None:
    """Refuse unless ``user`` may delete ``item`` with everything below it (or replace it).

    Write on ``item`` gives write on every descendant that inherits (roles only add up), so
    only the descendants that stop inheriting need a look; the walk is O(subtree), like the
    removal it guards. ``name``: the item is in the way of a new one of that name (a
    ``replace``); a caller who cannot see it learns only that the name is taken, exactly as
    ``fail`` would tell them. Otherwise a hidden item is not found.
    """
    if owns_drive(store, user, item):
        return
    roles = roles_of(store, user, item)
    if not roles:
        if name is not None:
            raise NameConflict(f"an item named {name!r} already exists")
        raise NotFound("the item was not found")
    if ROLE_RANK[highest_role(roles)] < ROLE_RANK["write"]:
        raise AccessDenied("the caller needs the write role on this item")
    for below in store.iter_subtree(item):
        if below is item or below.inherits:
            continue
        below_roles = roles_of(store, user, below)
        if not below_roles or ROLE_RANK[highest_role(below_roles)] < ROLE_RANK["write"]:
            raise AccessDenied(
                "the folder contains items the caller may not delete; nothing was deleted"
            )


def can_see_drive(store: DriveStore, user: User, drive_id: str) -> bool:
    """Owners see their drive (directly or through the owning group); anyone holding a
    permission on an item in it sees it too: the same answer as "some item of the drive is
    readable by ``user``", in O(shared items) instead of O(items)."""
    drive = store.drive(drive_id)
    if user.app is not None:
        return user.app.role_on(drive_id) is not None
    if drive.owner_id == user.id or drive.owner_id in user.group_ids:
        return True
    for item_id in drive.shared_item_ids:
        if any(p.holds(user) for p in held_candidates(store.items[item_id], user)):
            return True
    return False


def find_effective(store: DriveStore, item: Item, permission_id: str) -> EffectivePermission:
    """The first entry of ``effective_permissions`` with this id, found on the same walk up
    without building an entry for every permission passed (an item may hold thousands)."""
    items = store.items
    current, holder = item, None
    while True:
        for permission in current.permissions:
            if permission.id == permission_id:
                return EffectivePermission(permission, holder)
        if not current.inherits or current.parent_id is None:
            break
        current = holder = items[current.parent_id]
    raise NotFound(f"permission {permission_id!r} was not found on this item")
