"""Permissions: stored once where granted; an item's effective list walks its ancestors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import AccessDenied, NameConflict, NotFound

if TYPE_CHECKING:
    from .identity import User
    from .links import SharingLink
    from .tree import DriveStore, Item

ROLE_RANK = {"read": 1, "write": 2, "owner": 3}
GRANTABLE_ROLES = ("read", "write")


@dataclass(slots=True, eq=False)
class Permission:
    id: str
    item_id: str
    roles: list[str]
    grantee_id: str | None = None  # a directory user; None for a pending external invitation
    invitation_email: str | None = None
    sign_in_required: bool = False
    invited_by: str | None = None
    expiration: str | None = None
    has_password: bool = False
    pending: bool = False  # an invitation not yet accepted: grants nothing until it is
    native_role: str | None = None  # the role name in the dialect that granted it (Onehub)
    link: SharingLink | None = None  # a sharing link (createLink): held by its members only

    @property
    def is_owner(self) -> bool:
        return "owner" in self.roles

    def holds(self, user: User) -> bool:
        """Does this permission apply to ``user`` (by account, group, or the address invited)?"""
        if self.pending:
            return False
        if self.link is not None:
            return self.link.holds(user)
        if self.grantee_id is not None:
            return self.grantee_id == user.id or self.grantee_id in user.group_ids
        return (
            self.invitation_email is not None
            and self.invitation_email.casefold() == user.email.casefold()
        )


INDEX_FROM = 16  # shorter lists are scanned: cheaper than keeping an index


class PermissionList(list):
    """An item's own permissions, in grant order, with an index by grantee and by invited
    address so that finding a user's grants on an item with thousands of them costs
    O(the user's groups + links on the item), not O(permissions): an invite is O(recipients).
    A permission whose holders no key names (a sharing link, held by its members) sits in a
    third bucket that every lookup scans. The index is built on first use and kept up to date
    by ``append``; any other change drops it.

    A permission's ``grantee_id``, ``invitation_email`` and ``link`` must be set before it is
    added.
    """

    # Class defaults, no __init__: an item's (usually empty) list is made at C speed, and the
    # instance dict holding an index only appears on a long list that is searched.
    _by_grantee: dict[str, list[tuple[int, Permission]]] | None = None
    _by_address: dict[str, list[tuple[int, Permission]]] | None = None
    _others: list[tuple[int, Permission]] | None = None

    def _index(
        self,
    ) -> tuple[dict[str, list[tuple[int, Permission]]], dict[str, list[tuple[int, Permission]]]]:
        """(by grantee id, by case-folded invited address), built on first use."""
        if self._by_grantee is None or self._by_address is None or self._others is None:
            self._by_grantee, self._by_address, self._others = {}, {}, []
            for position, permission in enumerate(self):
                self._add(position, permission)
        return self._by_grantee, self._by_address

    def _add(self, position: int, permission: Permission) -> None:
        assert self._by_grantee is not None and self._by_address is not None
        assert self._others is not None
        if permission.link is not None:
            self._others.append((position, permission))
        elif permission.grantee_id is not None:
            self._by_grantee.setdefault(permission.grantee_id, []).append((position, permission))
        elif permission.invitation_email is not None:
            key = permission.invitation_email.casefold()
            self._by_address.setdefault(key, []).append((position, permission))
        else:
            self._others.append((position, permission))

    def append(self, permission: Permission) -> None:
        super().append(permission)
        if self._by_grantee is not None:
            self._add(len(self) - 1, permission)

    def remove(self, permission: Permission) -> None:
        super().remove(permission)
        self._by_grantee = None

    def insert(self, index: int, permission: Permission) -> None:  # type: ignore[override]
        super().insert(index, permission)
        self._by_grantee = None

    def extend(self, permissions) -> None:  # type: ignore[override]
        super().extend(permissions)
        self._by_grantee = None

    def pop(self, index: int = -1) -> Permission:  # type: ignore[override]
        self._by_grantee = None
        return super().pop(index)

    def clear(self) -> None:
        super().clear()
        self._by_grantee = None

    def __setitem__(self, index, value) -> None:  # type: ignore[override]
        super().__setitem__(index, value)
        self._by_grantee = None

    def __delitem__(self, index) -> None:  # type: ignore[override]
        super().__delitem__(index)
        self._by_grantee = None

    def __iadd__(self, permissions):  # type: ignore[override]
        self._by_grantee = None
        return super().__iadd__(permissions)

    def sort(self, *args, **kwargs) -> None:  # type: ignore[override]
        super().sort(*args, **kwargs)
        self._by_grantee = None

    def reverse(self) -> None:
        super().reverse()
        self._by_grantee = None

    def candidates(self, user: User) -> list[Permission]:
        """The permissions that may apply to ``user`` (a superset of those that do), in order."""
        if len(self) < INDEX_FROM:
            return self
        by_grantee, by_address = self._index()
        found = [*by_grantee.get(user.id, ()), *by_address.get(user.email.casefold(), ())]
        found.extend(self._others or ())
        for group_id in user.group_ids:
            found.extend(by_grantee.get(group_id, ()))
        return [permission for _, permission in sorted(found, key=lambda entry: entry[0])]

    def contains(self, permission: Permission) -> bool:
        """Is this very permission in the list (by identity; O(1) on a long list)?"""
        if len(self) < INDEX_FROM:
            return any(p is permission for p in self)
        by_grantee, by_address = self._index()
        if permission.link is not None or (
            permission.grantee_id is None and permission.invitation_email is None
        ):
            entries = self._others or ()
        elif permission.grantee_id is not None:
            entries = by_grantee.get(permission.grantee_id, ())
        else:
            entries = by_address.get((permission.invitation_email or "").casefold(), ())
        return any(p is permission for _, p in entries)

    def direct_for(self, grantee_id: str | None, address: str) -> Permission | None:
        """The first non-owner permission for that grantee, or for that invited address."""
        if len(self) < INDEX_FROM:
            for permission in self:
                if permission.is_owner:
                    continue
                if grantee_id is not None and permission.grantee_id == grantee_id:
                    return permission
                if (
                    permission.grantee_id is None
                    and permission.invitation_email
                    and permission.invitation_email.casefold() == address.casefold()
                ):
                    return permission
            return None
        by_grantee, by_address = self._index()
        found = list(by_grantee.get(grantee_id, ())) if grantee_id is not None else []
        found.extend(by_address.get(address.casefold(), ()))
        found.sort(key=lambda entry: entry[0])
        return next((p for _, p in found if not p.is_owner), None)


@dataclass(frozen=True, slots=True)
class EffectivePermission:
    """A permission as seen from one item: ``holder`` is the ancestor it is inherited from."""

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
    current = item
    while current.inherits and current.parent_id is not None:
        current = store.items[current.parent_id]
        result.extend(EffectivePermission(p, current) for p in current.permissions)
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
    drive's owner always holds ``owner``)."""
    roles: set[str] = {"owner"} if owns_drive(store, user, item) else set()
    current = item  # the walk of effective_permissions, without building its entries
    while True:
        permissions = current.permissions
        if len(permissions) >= INDEX_FROM and isinstance(permissions, PermissionList):
            permissions = permissions.candidates(user)
        for permission in permissions:
            if permission.holds(user):
                roles.update(permission.roles)
        if not current.inherits or current.parent_id is None:
            return roles
        current = store.items[current.parent_id]


def held_candidates(item: Item, user: User) -> list[Permission]:
    """The item's own permissions that may apply to ``user`` (check each with ``holds``)."""
    permissions = item.permissions
    if isinstance(permissions, PermissionList):
        return permissions.candidates(user)
    return permissions


def roles_down(store: DriveStore, user: User, chain: list[Item]) -> list[set[str]]:
    """``roles_of`` for each item of ``chain``, each a child of the one before it, in one walk
    down (O(depth of the first + length)), not one walk up per item."""
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
    if drive.owner_id == user.id or drive.owner_id in user.group_ids:
        return True
    for item_id in drive.shared_item_ids:
        if any(p.holds(user) for p in held_candidates(store.items[item_id], user)):
            return True
    return False


def find_effective(store: DriveStore, item: Item, permission_id: str) -> EffectivePermission:
    for entry in effective_permissions(store, item):
        if entry.permission.id == permission_id:
            return entry
    raise NotFound(f"permission {permission_id!r} was not found on this item")
