"""Onehub's view of the shared model: integer ids, ranked role names, nearest-wins access and
per-address invitations. Permissions are the same objects Graph sees (one model, two views)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .copying import deepcopy_attrs
from .errors import AccessDenied, DomainError, InvalidRequest, NotFound
from .grants import Permission
from .permissions import (
    drive_owner_permission,
    held_candidates,
    owns_drive,
)
from .sharing import EMAIL_PATTERN, RequestContext, direct_permission_for, notify

if TYPE_CHECKING:
    from .identity import User
    from .state import State
    from .tree import Item

# Ranked low → high; each role includes the abilities of those below it.
ROLES = (
    "Access Denied", "Viewer", "Printer", "Downloader", "Creator", "Collaborator", "Moderator",
    "Administrator",
)  # fmt: skip
RANK = {name: rank for rank, name in enumerate(ROLES)}
DEFAULT_ROLE = "Downloader"
INVITER_ROLE = "Moderator"
TIER = {
    "Administrator": "owner", "Moderator": "owner", "Collaborator": "write", "Creator": "write",
    "Downloader": "read", "Printer": "read", "Viewer": "read", "Access Denied": None,
}  # fmt: skip
FROM_TIER = {"owner": "Moderator", "write": "Collaborator", "read": "Downloader"}


class OnehubIds:
    """Integer ids for Onehub: given on first sight, stable afterwards, one sequence per kind
    (folders and files share ``node``; ``workspace``, ``rolemap``, ``user``)."""

    __deepcopy__ = deepcopy_attrs  # a state's copy: see model/copying.py

    def __init__(self) -> None:
        self._numbers: dict[tuple[str, str], int] = {}
        self._keys: dict[tuple[str, int], str] = {}
        self._next: dict[str, int] = {}
        # permission id -> Permission: every rolemap rendered, and every grant seen by the scan
        # ``find_rolemap`` makes for one it does not know yet; finding one is O(1) from then on
        self.rolemaps: dict[str, Permission] = {}
        self.gone: set[str] = set()  # numbered permissions since revoked (ids are never reused)

    def numbered(self, kind: str) -> list[str]:
        """The keys of ``kind`` in number order (1, 2, ...): the whole numbering, for exports."""
        return [self._keys[(kind, n)] for n in range(1, self._next.get(kind, 0) + 1)]

    def restore(self, kind: str, keys: list[str]) -> None:
        """Number ``keys`` 1, 2, ... in this order (a load of ``numbered``); the next key seen
        gets the number after them. Raises ValueError on a key given twice."""
        if len(set(keys)) != len(keys):
            raise ValueError(f"a {kind} is numbered twice")
        for key in keys:
            self.number(kind, key)

    def number(self, kind: str, key: str) -> int:
        found = self._numbers.get((kind, key))
        if found is None:
            found = self._next.get(kind, 0) + 1
            self._next[kind] = found
            self._numbers[(kind, key)] = found
            self._keys[(kind, found)] = key
        return found

    def key(self, kind: str, number: int) -> str | None:
        return self._keys.get((kind, number))


def canonical_role(name: object) -> str | None:
    """The role named ``name`` (case-insensitive), or None if there is no such role."""
    if not isinstance(name, str):
        return None
    return next((r for r in ROLES if r.casefold() == name.strip().casefold()), None)


def role_name(state: State, permission: Permission) -> str:
    """The Onehub role of any permission, however it was granted."""
    if permission.native_role:
        return permission.native_role
    item = state.store.items.get(permission.item_id)
    if permission.is_owner and item is not None and item.parent_id is None:
        return "Administrator"  # the workspace owner
    best = max(permission.roles, key=("read", "write", "owner").index, default=None)
    return FROM_TIER.get(best or "", "Access Denied")


def tier_roles(role: str) -> list[str]:
    tier = TIER[role]
    return [tier] if tier else []


@dataclass(frozen=True, slots=True)
class Access:
    """A user's Onehub role on an item and the rolemap that gives it."""

    role: str
    permission: Permission
    holder: Item


def onehub_access(state: State, user: User, item: Item) -> Access | None:
    """Nearest rolemap wins (an override may lower or hide); Administrator is never lowered.
    The workspace's owner is Administrator everywhere in it, whatever inheritance says."""
    if owns_drive(state.store, user, item):
        owner = drive_owner_permission(state.store, item)
        return Access("Administrator", owner, state.store.items[owner.item_id])
    nearest: Access | None = None
    items = state.store.items
    current = item
    while True:
        # no list built per level: most items on the way up hold nothing, and the oracle
        # walks every level of a tree as deep as the path limit allows
        held: list[Permission] | None = None
        for permission in held_candidates(current, user):
            if permission.holds(user):
                if held is None:
                    held = [permission]
                else:
                    held.append(permission)
        if held is not None:
            best = max(held, key=lambda p: RANK[role_name(state, p)])
            access = Access(role_name(state, best), best, current)
            if access.role == "Administrator":
                return access
            nearest = nearest or access
        if not current.inherits or current.parent_id is None:
            break
        current = items[current.parent_id]
    if nearest is None or nearest.role == "Access Denied":
        return None
    return nearest


def visible_children(state: State, user: User, folder: Item, access: Access) -> list[Item]:
    """The children of ``folder`` on which ``user`` has a role, in the folder's order, given
    their ``access`` to the folder: what ``onehub_access`` finds for each child, top-down in
    O(children + the children's own permissions that may apply to the user), not one walk up
    per child. Onehub's own view (nearest rolemap wins, an ``Access Denied`` rolemap hides,
    Administrator is never lowered) next to Graph's additive one in ``model/view.py``."""
    store = state.store
    owner = owns_drive(store, user, folder)
    shown = []
    for child_id in (folder.children or {}).values():
        child = store.items[child_id]
        if owner:
            shown.append(child)
            continue
        held = [p for p in held_candidates(child, user) if p.holds(user)]
        if not held:
            visible = child.inherits  # the folder's access, unless the child stops inheriting
        else:  # the child's own rolemap is the nearest, unless an Administrator's is above
            role = max((role_name(state, p) for p in held), key=RANK.__getitem__)
            visible = role != "Access Denied" or (child.inherits and access.role == "Administrator")
        if visible:
            shown.append(child)
    return shown


def require_onehub_role(state: State, user: User, item: Item, needed: str) -> Access:
    access = onehub_access(state, user, item)
    if access is None:
        raise NotFound("Not found")
    if RANK[access.role] < RANK[needed]:
        raise AccessDenied(f"Only a {needed} or Administrator may do this")
    return access


def available_roles(item: Item) -> list[str]:
    """Roles a rolemap on ``item`` may take (Administrator only at workspace level)."""
    top = len(ROLES) if item.parent_id is None else RANK["Administrator"]
    return list(reversed(ROLES[:top]))


# -- invitations ------------------------------------------------------------------------------
@dataclass(slots=True)
class OnehubInviteResult:
    invited: list[tuple[str, int]] = field(default_factory=list)  # (email, user number)
    email_errors: list[str] = field(default_factory=list)
    join_errors: list[str] = field(default_factory=list)
    unprocessed: list[str] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    fired_rules: list[str] = field(default_factory=list)


def invite_emails(
    state: State,
    caller: User,
    item: Item,
    emails: str,
    requested_role: object,
    context: RequestContext,
) -> OnehubInviteResult:
    """Onehub invitations: each address on its own (not atomic). Unknown people are provisioned
    as users with a pending rolemap; existing users join at once."""
    access = require_onehub_role(state, caller, item, INVITER_ROLE)
    role = canonical_role(requested_role)
    if role is None or role == "Access Denied" or (role == "Administrator" and item.parent_id):
        role = DEFAULT_ROLE
    if RANK[role] > RANK[access.role]:  # the whole invitation: nobody is invited
        raise AccessDenied(f"A {access.role} cannot invite people as {role}")
    unique: dict[str, str] = {}  # duplicates are invited once, in their first spelling
    for address in (a.strip() for a in emails.split(",")):
        if address:
            unique.setdefault(address.casefold(), address)
    addresses = list(unique.values())
    result = OnehubInviteResult()
    if not addresses:
        result.errors["emails"] = ["can't be blank"]
        return result
    limit = state.policy.max_recipients
    if len(addresses) > limit:  # a plan limit: nobody is invited
        result.unprocessed = addresses
        result.errors["base"] = [f"You can invite at most {limit} people at once"]
        return result
    for address in addresses:
        if not EMAIL_PATTERN.match(address):
            result.email_errors.append(f"{address} is not a valid email address")
            result.unprocessed.append(address)
            result.errors["emails"] = ["contain invalid addresses"]
            continue
        user = state.directory.by_email(address)
        # a group's address grants the group (as a Graph invite does): never a shadow user
        group = state.directory.group_by_email(address) if user is None else None
        try:
            if user is None and group is None:
                state.policy.check_external(address)
            rule = state.faults.for_recipient(
                context.method, context.path, caller.email, address, "error"
            )
            if rule is not None:
                result.fired_rules.append(rule.id)
                raise InvalidRequest(rule.message or "refused by a fault rule")
        except DomainError as refused:
            result.join_errors.append(f"{address}: {refused.message}")
            continue
        grantee_id = user.id if user else group.id if group else None
        if direct_permission_for(item, grantee_id, address) is not None:
            result.join_errors.append(f"{address} already has access to this item")
            continue
        pending = grantee_id is None
        if pending:
            local = address.split("@")[0]
            user = state.add_user(local.replace(".", " ").title(), address)
            grantee_id = user.id
        permission = Permission(
            id=state.ids.guid().upper(),
            item_id=item.id,
            roles=tier_roles(role),
            grantee_id=grantee_id,
            invitation_email=address,
            invited_by=caller.id,
            pending=pending,
            native_role=role,
        )
        item.permissions.append(permission)
        state.track(permission)  # an invitation nobody accepts is withdrawn (model/links.py)
        state.store.drives[item.drive_id].shared_item_ids.add(item.id)
        state.changed(item, "sharing", granted=(permission.id,))  # delta: a new permission
        # the user number Onehub shows for the grantee (a group shows as its address)
        shown = user.id if user is not None else "email:" + address.casefold()
        result.invited.append((address, state.onehub.number("user", shown)))
        sent = notify(state, caller, item, address, [role], None, True, context)
        if sent.rule_id is not None:
            result.fired_rules.append(sent.rule_id)
    return result


# -- rolemaps ---------------------------------------------------------------------------------
def find_rolemap(state: State, number: int) -> tuple[Permission, Item]:
    """The rolemap with this number and the item that holds it. O(1) once known: a rolemap not
    seen yet costs one scan of every grant, which remembers them all."""
    ids = state.onehub
    permission_id = ids.key("rolemap", number)
    if permission_id is None or permission_id in ids.gone:
        raise NotFound("Not found")
    for attempt in range(2):
        permission = ids.rolemaps.get(permission_id)
        if permission is not None:
            item = state.store.items.get(permission.item_id)
            if item is not None and _holds(item, permission):
                return permission, item
        if attempt == 0:
            ids.rolemaps = {
                p.id: p
                for drive in state.store.drives.values()
                for item_id in drive.shared_item_ids
                for p in state.store.items[item_id].permissions
            }
    ids.gone.add(permission_id)
    raise NotFound("Not found")


def _holds(item: Item, permission: Permission) -> bool:
    """Is ``permission`` (still) one of ``item``'s own?"""
    return item.permissions.contains(permission)


def is_owners_own(state: State, permission: Permission) -> bool:
    """Is this the drive owner's own owner permission (the one grant nobody may touch)?"""
    item = state.store.items[permission.item_id]
    return (
        permission.is_owner and permission.grantee_id == state.store.drives[item.drive_id].owner_id
    )


def visible_rolemap(state: State, caller: User, number: int) -> tuple[Permission, Item]:
    """A rolemap the caller may see: their own, or any on an item they moderate. Others are
    not found, as in the list route (which only Moderators may read) and in Graph."""
    permission, item = find_rolemap(state, number)
    if permission.grantee_id == caller.id or permission.holds(caller):
        return permission, item
    access = onehub_access(state, caller, item)
    if access is None or RANK[access.role] < RANK[INVITER_ROLE]:
        raise NotFound("Not found")
    return permission, item


def set_role(state: State, caller: User, number: int, requested: object) -> Permission:
    """Change a rolemap's role. Nobody gives or changes a role above their own, nor raises
    their own; the drive owner's own rolemap never changes."""
    permission, item = visible_rolemap(state, caller, number)
    access = require_onehub_role(state, caller, item, INVITER_ROLE)
    role = canonical_role(requested)
    if role is None or role not in available_roles(item):
        raise InvalidRequest(f"role_name {requested!r} is not included in the list")
    if is_owners_own(state, permission):
        raise InvalidRequest("the workspace owner's role cannot be changed")
    current = role_name(state, permission)
    if max(RANK[role], RANK[current]) > RANK[access.role]:
        raise AccessDenied(f"A {access.role} cannot give or change a role above their own")
    if permission.grantee_id == caller.id and RANK[role] > RANK[current]:
        raise AccessDenied("Nobody can raise their own role")
    had_roles = bool(permission.roles)
    permission.native_role = role
    permission.roles = tier_roles(role)
    # delta: a sharing change, as a Graph permission's new roles; one that gives a role after
    # Access Denied grants it (the grantee did not see the item through it before)
    granted = (permission.id,) if permission.roles and not had_roles else ()
    state.changed(item, "sharing", granted=granted)
    return permission


def delete_rolemap(state: State, caller: User, number: int) -> None:
    """Revoke a rolemap: not one above the caller's own role (the drive owner, Administrator
    everywhere in the workspace, may revoke anyone's but their own)."""
    permission, item = visible_rolemap(state, caller, number)
    access = require_onehub_role(state, caller, item, INVITER_ROLE)
    if is_owners_own(state, permission):
        raise InvalidRequest("the workspace owner's rolemap cannot be deleted")
    if RANK[role_name(state, permission)] > RANK[access.role]:
        raise AccessDenied(f"A {access.role} cannot revoke a role above their own")
    item.permissions.remove(permission)
    state.changed(item, "sharing", lost=(permission,))  # delta: who saw it through this
    if not item.permissions:
        state.store.drives[item.drive_id].shared_item_ids.discard(item.id)


def accept_invitations_of(state: State, email: str) -> int:
    """Accept every pending invitation of ``email``; returns how many there were."""
    user = state.directory.by_email(email)
    accepted = 0
    for drive in state.store.drives.values():
        for item_id in drive.shared_item_ids:
            for permission in state.store.items[item_id].permissions:
                if permission.pending and user is not None and permission.grantee_id == user.id:
                    permission.pending = False
                    accepted += 1
                    item = state.store.items[item_id]
                    state.changed(item, "sharing", granted=(permission.id,))
    return accepted


def accept_invitation(state: State, number: int) -> Permission:
    """The test hook for the out-of-band e-mail link: a pending rolemap becomes active."""
    permission, item = find_rolemap(state, number)
    if permission.pending:
        permission.pending = False
        state.changed(item, "sharing", granted=(permission.id,))  # delta: it applies now
    return permission
