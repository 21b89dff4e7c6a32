"""Onehub's view of the shared model: integer ids, ranked role names, nearest-wins access and
per-address invitations. Permissions are the same objects Graph sees (one model, two views)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import AccessDenied, DomainError, InvalidRequest, NotFound
from .permissions import Permission
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

    def __init__(self) -> None:
        self._numbers: dict[tuple[str, str], int] = {}
        self._keys: dict[tuple[str, int], str] = {}
        self._next: dict[str, int] = {}

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
    """Nearest rolemap wins (an override may lower or hide); Administrator is never lowered."""
    nearest: Access | None = None
    current: Item | None = item
    while current is not None:
        held = [p for p in current.permissions if p.holds(user)]
        if held:
            best = max(held, key=lambda p: RANK[role_name(state, p)])
            access = Access(role_name(state, best), best, current)
            if access.role == "Administrator":
                return access
            nearest = nearest or access
        if not current.inherits or current.parent_id is None:
            break
        current = state.store.items[current.parent_id]
    if nearest is None or nearest.role == "Access Denied":
        return None
    return nearest


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
    require_onehub_role(state, caller, item, INVITER_ROLE)
    role = canonical_role(requested_role)
    if role is None or role == "Access Denied" or (role == "Administrator" and item.parent_id):
        role = DEFAULT_ROLE
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
        try:
            if user is None:
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
        if direct_permission_for(item, user.id if user else None, address) is not None:
            result.join_errors.append(f"{address} already has access to this item")
            continue
        pending = user is None
        if user is None:
            local = address.split("@")[0]
            user = state.add_user(local.replace(".", " ").title(), address)
        permission = Permission(
            id=state.ids.guid().upper(),
            item_id=item.id,
            roles=tier_roles(role),
            grantee_id=user.id,
            invitation_email=address,
            invited_by=caller.id,
            pending=pending,
            native_role=role,
        )
        item.permissions.append(permission)
        state.track(permission)  # an invitation nobody accepts is withdrawn (model/links.py)
        state.store.drives[item.drive_id].shared_item_ids.add(item.id)
        result.invited.append((address, state.onehub.number("user", user.id)))
        sent = notify(state, caller, item, address, [role], None, True, context)
        if sent.rule_id is not None:
            result.fired_rules.append(sent.rule_id)
    return result


# -- rolemaps ---------------------------------------------------------------------------------
def find_rolemap(state: State, number: int) -> tuple[Permission, Item]:
    permission_id = state.onehub.key("rolemap", number)
    if permission_id is not None:
        for drive in state.store.drives.values():
            for item_id in drive.shared_item_ids:
                item = state.store.items[item_id]
                for permission in item.permissions:
                    if permission.id == permission_id:
                        return permission, item
    raise NotFound("Not found")


def set_role(state: State, caller: User, number: int, requested: object) -> Permission:
    permission, item = find_rolemap(state, number)
    require_onehub_role(state, caller, item, INVITER_ROLE)
    role = canonical_role(requested)
    if role is None or role not in available_roles(item):
        raise InvalidRequest(f"role_name {requested!r} is not included in the list")
    if role_name(state, permission) == "Administrator" and item.parent_id is None:
        raise InvalidRequest("the workspace owner's role cannot be changed")
    permission.native_role = role
    permission.roles = tier_roles(role)
    return permission


def delete_rolemap(state: State, caller: User, number: int) -> None:
    permission, item = find_rolemap(state, number)
    require_onehub_role(state, caller, item, INVITER_ROLE)
    if permission.is_owner and item.parent_id is None:
        raise InvalidRequest("the workspace owner's rolemap cannot be deleted")
    item.permissions.remove(permission)
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
    return accepted


def accept_invitation(state: State, number: int) -> Permission:
    """The test hook for the out-of-band e-mail link: a pending rolemap becomes active."""
    permission, _ = find_rolemap(state, number)
    permission.pending = False
    return permission
