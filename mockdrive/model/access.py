"""Why a user can (or cannot) reach an item.

``access(state, user, item)`` lists every permission that gives the user a role on the item:
which permission, granted to whom (the user, a group they are in, or their invited address),
on which item, and whether it is inherited. The fixture's ``access``/``assert_can`` and the
dashboard both read it; :mod:`mockdrive.testing.oracle` adds snapshots and their differences.
``entries(state, user)`` is the other way round, what the dashboard's access page shows: every
item where a permission applies to the user, with where inheritance stops in what they see
below it (``view.visible_below``); ``pending_invitations`` what they have not accepted yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import onehub
from .identity import User
from .links import in_organization
from .permissions import (
    ROLE_RANK,
    EffectivePermission,
    Permission,
    drive_owner_permission,
    effective_permissions,
    highest_role,
    owns_drive,
)
from .state import State
from .tree import Drive, Item
from .view import visible_below


@dataclass(frozen=True, slots=True)
class Grant:
    """One permission that applies to the user on the item."""

    permission_id: str
    roles: tuple[str, ...]
    via: str  # "directly", "via group Finance Team", "via an invitation to x@y"
    granted_on: str  # path of the item holding the permission
    inherited: bool
    onehub_role: str | None = None  # the Onehub role name, for rolemaps granted through Onehub

    def __str__(self) -> str:
        where = f"inherited from {self.granted_on}" if self.inherited else "granted on this item"
        roles = "/".join(self.roles) or "no role"
        if self.onehub_role:
            roles += f" (Onehub {self.onehub_role})"
        return f"{roles} {self.via} (permission {self.permission_id}, {where})"


@dataclass(slots=True)
class Access:
    """A user's effective roles on one item and the grants they come from."""

    who: str
    path: str
    grants: list[Grant] = field(default_factory=list)
    stops_at: str | None = None  # the nearest item (self or ancestor) that breaks inheritance
    onehub_role: str | None = None  # what Onehub resolves (nearest rolemap wins)
    onehub_from: str | None = None  # where that rolemap is
    pending: list[str] = field(default_factory=list)  # invitations not yet accepted
    links: list[str] = field(default_factory=list)  # links the user could use, not held
    guest: bool = False  # an address outside the directory (see ``outside_caller``)

    @property
    def roles(self) -> list[str]:
        roles = {r for g in self.grants for r in g.roles}
        return sorted(roles, key=ROLE_RANK.__getitem__)

    @property
    def highest(self) -> str | None:
        return highest_role(self.roles)

    def can(self, role: str) -> bool:
        """True if the user's highest role is at least ``role`` (owner > write > read)."""
        highest = self.highest
        return highest is not None and ROLE_RANK[highest] >= ROLE_RANK[role]

    def explain(self) -> str:
        if not self.grants:
            lines = [f"{self.who} holds no permission on {self.path} or the folders above it"]
        else:
            lines = [f"{self.who} holds {', '.join(self.roles)} on {self.path}:"]
            lines.extend(f"  - {g}" for g in self.grants)
        if self.stops_at is not None:
            lines.append(
                f"  (inheritance stops at {self.stops_at}: permissions above it do not apply)"
            )
        if self.onehub_role is not None and any(g.onehub_role for g in self.grants):
            lines.append(
                f"  Onehub (nearest rolemap wins): {self.onehub_role} from {self.onehub_from}"
            )
        lines.extend(f"  (pending invitation on {where}: grants nothing until accepted)"
                     for where in self.pending)  # fmt: skip
        lines.extend(f"  (anyone with the link: {link})" for link in self.links)
        if self.guest:
            lines.append(
                f"  ({self.who} is not in the directory: this is what the API gives it once it "
                "signs in with that address)"
                if self.grants or self.pending
                else f"  ({self.who} is not in the directory: no invitation to it applies here)"
            )
        return "\n".join(lines)

    __str__ = explain


def describe_path(state: State, item: Item) -> str:
    """``/Finance/Q3.xlsx``; with several drives, prefixed by the drive (``Finance:/Q3.xlsx``)."""
    path = state.store.path_of(item)
    if len(state.store.drives) == 1:
        return path
    return f"{drive_label(state, state.store.drives[item.drive_id])}:{path}"


def drive_label(state: State, drive: Drive) -> str:
    same_name = [d for d in state.store.drives.values() if d.name == drive.name]
    if len(same_name) == 1:
        return drive.name
    owner = state.directory.users.get(drive.owner_id)
    return f"{drive.name} of {owner.email if owner else drive.owner_id}"


def _via(state: State, permission: Permission, user: User) -> str:
    if permission.link is not None:
        return f"via {permission.link.scope} {permission.link.type} link"
    if permission.grantee_id == user.id:
        return "directly"
    group = state.directory.groups.get(permission.grantee_id or "")
    if group is not None:
        return f"via group {group.display_name}"
    return f"via an invitation to {permission.invitation_email}"


def outside_caller(address: str) -> User:
    """A caller for an address outside the directory, such as an invited guest's: no id, no
    groups, no token. What a permission gives it is what the API answers to the guest once it
    signs in with that address (an invitation applies by the address it was sent to)."""
    return User(id="", display_name=address, email=address)


def _invited(permission: Permission, user: User) -> bool:
    address = permission.invitation_email
    return address is not None and address.casefold() == user.email.casefold()


def bears_on(permission: Permission, user: User) -> bool:
    """Can ``permission`` change what ``access`` says of ``user``: one they hold, a pending
    invitation or a link. ``access`` passes over every other, so a caller asking about many
    items under one folder may set those aside once (the dashboard's listing ``as`` a user)."""
    return permission.pending or permission.link is not None or permission.holds(user)


def access(
    state: State,
    user: User,
    item: Item,
    *,
    path: str | None = None,
    effective: list[EffectivePermission] | None = None,
) -> Access:
    """Every grant that gives ``user`` a role on ``item``, nearest first; ``user`` may be an
    ``outside_caller``. ``path`` and ``effective``: the item's ``describe_path`` and
    ``effective_permissions`` in this state, from a caller asking about one item for many
    users (they do not depend on the user)."""
    guest = state.directory.users.get(user.id) is None
    if path is None:
        path = describe_path(state, item)
    if effective is None:
        effective = effective_permissions(state.store, item)
    result = Access(who=user.email, path=path, guest=guest)
    for entry in effective:
        holder = entry.holder or item
        if entry.permission.pending and (
            entry.permission.grantee_id == user.id or _invited(entry.permission, user)
        ):
            result.pending.append(describe_path(state, holder))
        link = entry.permission.link
        usable = link is not None and (
            link.scope == "anonymous"
            or (link.scope == "organization" and in_organization(state, user, item))
        )
        if link is not None and usable and not entry.permission.holds(user):
            result.links.append(
                f"{'/'.join(entry.permission.roles)} via {link.scope} {link.type} link on "
                f"{describe_path(state, holder)} (through /shares, not yet redeemed)"
            )
        if entry.permission.holds(user):
            result.grants.append(
                Grant(
                    permission_id=entry.permission.id,
                    roles=tuple(entry.permission.roles),
                    via=_via(state, entry.permission, user),
                    granted_on=describe_path(state, holder),
                    inherited=entry.inherited,
                    onehub_role=entry.permission.native_role,
                )
            )
    if owns_drive(state.store, user, item) and not any("owner" in g.roles for g in result.grants):
        owner = drive_owner_permission(state.store, item)  # cut off by a stop in inheritance
        result.grants.append(
            Grant(
                permission_id=owner.id,
                roles=tuple(owner.roles),
                via="as the owner of the drive",
                granted_on=describe_path(state, state.store.items[owner.item_id]),
                inherited=owner.item_id != item.id,
            )
        )
    nearest = onehub.onehub_access(state, user, item)
    if nearest is not None:
        result.onehub_role = nearest.role
        result.onehub_from = describe_path(state, nearest.holder)
    current: Item | None = item
    while current is not None:
        if not current.inherits:
            result.stops_at = describe_path(state, current)
            break
        current = state.store.items.get(current.parent_id) if current.parent_id else None
    return result


@dataclass(frozen=True, slots=True)
class Entry:
    """An item where a permission applies to the user (held by them or a group of theirs),
    with the paths of the items that stop inheriting in the part of it they see and at its edge
    (a hidden one is listed, nothing below it); another entry's part is its own."""

    drive: Drive
    item: Item
    exceptions: tuple[str, ...]  # sorted


def entries(state: State, user: User) -> list[Entry]:
    """Every item where a permission applies to ``user``, drive by drive, by id.

    Permissions live only on shared items, so this walks those, not the whole drive; the
    exceptions below an entry are found in the part of it the user sees: O(what they see there
    + its hidden children), never the whole state.
    """
    store = state.store
    held = []
    for drive in store.drives.values():
        for item_id in sorted(drive.shared_item_ids):
            item = store.items.get(item_id)
            if item is not None and any(p.holds(user) for p in item.permissions):
                held.append((drive, item))
    entry_ids = {item.id for _, item in held}
    found = []
    for drive, item in held:
        stops = [
            store.path_of(child)
            for folder, _ in visible_below(store, user, item, prune=entry_ids)
            if folder is item or folder.id not in entry_ids
            for child in store.iter_children(folder)
            if not child.inherits
        ]
        found.append(Entry(drive, item, tuple(sorted(stops))))
    return found


def pending_invitations(state: State, user: User) -> list[tuple[Item, Permission]]:
    """The invitations to ``user`` not yet accepted: (the item, the permission)."""
    store = state.store
    return [
        (store.items[item_id], p)
        for drive in store.drives.values()
        for item_id in drive.shared_item_ids
        for p in store.items[item_id].permissions
        if p.pending and p.grantee_id == user.id
    ]
