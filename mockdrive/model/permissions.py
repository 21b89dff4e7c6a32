"""Permissions: stored once where granted; an item's effective list walks its ancestors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import AccessDenied, NotFound

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


def roles_of(store: DriveStore, user: User, item: Item) -> set[str]:
    """The roles ``user`` holds on ``item`` (Graph semantics: additive over all grants)."""
    roles: set[str] = set()
    current = item  # the walk of effective_permissions, without building its entries
    while True:
        for permission in current.permissions:
            if permission.holds(user):
                roles.update(permission.roles)
        if not current.inherits or current.parent_id is None:
            return roles
        current = store.items[current.parent_id]


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


def can_see_drive(store: DriveStore, user: User, drive_id: str) -> bool:
    """Owners see their drive; anyone holding a permission on an item in it sees it too."""
    drive = store.drive(drive_id)
    if drive.owner_id == user.id:
        return True
    for item_id in drive.shared_item_ids:
        if any(p.holds(user) for p in store.items[item_id].permissions):
            return True
    return False


def find_effective(store: DriveStore, item: Item, permission_id: str) -> EffectivePermission:
    for entry in effective_permissions(store, item):
        if entry.permission.id == permission_id:
            return entry
    raise NotFound(f"permission {permission_id!r} was not found on this item")
