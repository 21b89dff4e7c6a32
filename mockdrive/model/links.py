"""Sharing links: a link is a Permission (``permission.link``) stored once, on the item where it
was created, and inherited lazily like every other permission. It is held by its members: the
people a ``users`` link was granted to and whoever redeemed it durably. Anyone with the link
(``/shares/{id}``) may use it as its scope allows. Expiry of links, permissions and pending
invitations runs on the state's clock (see ``model/clock.py``).
"""

from __future__ import annotations

import base64
import binascii
import weakref
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from . import sharing
from .clock import parse_time
from .copying import deepcopy_attrs
from .errors import InvalidRequest, NotAllowed, NotFound
from .grants import LINK_BASE, Permission, SharingLink
from .identity import User
from .permissions import ROLE_RANK, find_effective, highest_role, roles_of
from .policy import LINK_SCOPES

if TYPE_CHECKING:
    from .state import State
    from .tree import DriveStore, Item

LINK_TYPES = ("view", "edit", "embed")
TYPE_ROLES = {"view": "read", "edit": "write", "embed": "read"}
INVITATION_LIFETIME_DAYS = 90  # an invitation nobody accepted is withdrawn after this
# The caller of a ``/shares`` request without a token: in no directory, holds nothing.
ANONYMOUS = User(id="anonymous", display_name="Anyone with the link", email="anonymous")


class LinkIndex:
    """Link token → (item id, permission id): ``/shares/{id}`` finds a link in O(1)."""

    __deepcopy__ = deepcopy_attrs  # a state's copy: see model/copying.py

    def __init__(self) -> None:
        self.by_token: dict[str, tuple[str, str]] = {}

    def add(self, permission: Permission) -> None:
        assert permission.link is not None
        self.by_token[permission.link.token] = (permission.item_id, permission.id)


@dataclass(slots=True)
class LinkRequest:
    type: str
    scope: str | None = None
    password: str | None = None
    expiration: str | None = None
    retain_inherited_permissions: bool = True
    recipients: list[sharing.Recipient] = field(default_factory=list)
    send_notification: bool = False
    message: str | None = None


# -- creating, granting, changing ---------------------------------------------------------------
def create_link(
    state: State,
    caller: User,
    item: Item,
    request: LinkRequest,
    context: sharing.RequestContext | None = None,
) -> tuple[Permission, bool]:
    """The item's link of that type and scope: (permission, created). A link of the same type
    and scope that exists already is returned (with any new recipients added) instead."""
    sharing._check_shareable(state, caller, item)
    drive = state.store.drives[item.drive_id]
    if request.type not in LINK_TYPES:
        raise InvalidRequest(f"type must be one of {', '.join(LINK_TYPES)}, not {request.type!r}")
    if request.type == "embed" and (drive.drive_type != "personal" or item.is_folder):
        raise InvalidRequest("embed links are only available for files in OneDrive personal")
    scope = request.scope or default_scope(state, drive.drive_type)
    if scope not in LINK_SCOPES:
        raise InvalidRequest(f"scope must be one of {', '.join(LINK_SCOPES)}, not {scope!r}")
    if scope == "organization" and drive.drive_type == "personal":
        raise InvalidRequest("organization links are only available in OneDrive for Business")
    if request.recipients and scope != "users":
        raise InvalidRequest("recipients can only be given for links of scope 'users'")
    if scope == "anonymous" and not state.policy.anonymous_links:
        raise NotAllowed(
            "the sharing policy does not allow links that work for anyone", "anonymousLinksDisabled"
        )
    expiration = check_expiration(state, scope, request.expiration)
    sharing.check_message(request.message)
    role = TYPE_ROLES[request.type]
    members = _resolve_members(state, request.recipients, role)

    # Valid: from here on nothing raises, so the request applies atomically.
    existing = next(
        (p for p in item.permissions
         if p.link is not None and p.link.type == request.type and p.link.scope == scope),
        None,
    )  # fmt: skip
    if existing is not None:
        assert existing.link is not None
        added = _add_members(state, existing, members)
        state.changed(item, "sharing", granted=added)
        _notify(state, caller, item, existing, members, request, context)
        return existing, False
    if not item.permissions and item.inherits and not request.retain_inherited_permissions:
        sharing._break_inheritance(state, item)
    link = SharingLink(
        type=request.type,
        scope=scope,
        token=state.ids.token(),
        created_by=caller.id,
        password=request.password,
    )
    permission = Permission(
        id=state.ids.guid(),
        item_id=item.id,
        roles=[role],
        invited_by=caller.id,
        expiration=expiration,
        has_password=request.password is not None,
        link=link,
    )
    add_link_permission(state, item, permission)
    added = _add_members(state, permission, members)
    state.changed(item, "sharing", granted=(permission.id, *added))
    _notify(state, caller, item, permission, members, request, context)
    return permission, True


def add_link_permission(
    state: State, item: Item, permission: Permission, shared: datetime | None = None
) -> None:
    """Store a link permission on ``item`` (createLink, scenarios) and index and schedule it
    (shared now, or at ``shared``: a load)."""
    item.permissions.append(permission)
    state.store.drives[item.drive_id].shared_item_ids.add(item.id)
    state.links.add(permission)
    track(state, permission, SHARED_NOW if shared is None else shared)


def default_scope(state: State, drive_type: str) -> str:
    scope = state.policy.default_link_scope
    if scope == "organization" and drive_type == "personal":
        return "anonymous"  # personal accounts have no organization
    return scope


def check_expiration(state: State, scope: str, expiration: str | None) -> str | None:
    """The link's expiration: in the future, within the policy's limit for anonymous links
    (which also becomes the default when none is given); the rule invite follows too."""
    limit_days = state.policy.anonymous_link_max_days if scope == "anonymous" else None
    return sharing.check_expiration(state, expiration, limit_days)


def grant_link(
    state: State,
    caller: User,
    item: Item,
    permission_id: str,
    recipients: list[sharing.Recipient],
    roles: list[str] | None,
    context: sharing.RequestContext | None = None,
) -> Permission:
    """Add recipients to the link ``permission_id`` on ``item`` (own, not inherited); the
    link as the answer shows it (``granted_view``)."""
    sharing._check_shareable(state, caller, item)
    entry = find_effective(state.store, item, permission_id)
    permission = entry.permission
    if permission.link is None:
        raise InvalidRequest("grant applies to sharing links only; this permission is not a link")
    if entry.inherited:
        raise NotAllowed("an inherited link can only be granted on the item it comes from")
    if not recipients:
        raise InvalidRequest("recipients must contain at least one recipient")
    if roles is not None and sharing.check_roles(roles) != permission.roles:
        raise InvalidRequest(f"roles must match the link's roles {permission.roles}")
    members = _resolve_members(state, recipients, permission.roles[0])
    if permission.link.scope == "organization":
        for index, (grantee_id, address) in enumerate(members):
            user = state.directory.users.get(grantee_id or "")
            if grantee_id is not None and user is None:
                continue  # a group of the directory
            if user is None or not in_organization(state, user, item):
                raise InvalidRequest(
                    f"recipients[{index}]: {address!r} is outside the organization this "
                    "link is for",
                    "invalidRecipients",
                )
    added = _add_members(state, permission, members)
    state.changed(item, "sharing", granted=added)
    return granted_view(permission, members)


def granted_view(permission: Permission, members: list[tuple[str | None, str]]) -> Permission:
    """The link as a grant answers it: listing only the people of that grant, so that the
    answer costs O(recipients), not O(members of the link). Not stored."""
    link = permission.link
    assert link is not None
    view = SharingLink(
        link.type, link.scope, link.token, link.created_by,
        password=link.password, prevents_download=link.prevents_download,
    )  # fmt: skip
    for grantee_id, address in members:
        if grantee_id is not None:
            view.add_member_id(grantee_id)
        else:
            view.add_member_email(address)
    return replace(permission, link=view)


def update_link(state: State, caller: User, item: Item, permission_id: str, body: dict) -> None:
    """PATCH of a link permission: its ``expirationDateTime`` can change, its roles cannot."""
    permission = sharing._changeable(state, caller, item, permission_id)
    assert permission.link is not None
    for key in body:
        if key not in ("roles", "expirationDateTime") and not key.startswith("@odata."):
            raise InvalidRequest(f"{key} cannot be updated", "propertyNotUpdateable")
    if "roles" in body and body["roles"] != permission.roles:
        raise InvalidRequest(
            "the roles of a sharing link cannot be changed: create a link of the other type"
        )
    if "expirationDateTime" in body:
        value = body["expirationDateTime"]
        if value is not None and not isinstance(value, str):
            raise InvalidRequest("expirationDateTime must be a date-time string or null")
        scope = permission.link.scope
        if value is None and scope == "anonymous" and state.policy.anonymous_link_max_days:
            raise InvalidRequest("links that work for anyone must have an expiration")
        permission.expiration = None if value is None else check_expiration(state, scope, value)
        state.track(permission)
        state.changed(item, "sharing")


def _resolve_members(
    state: State, recipients: list[sharing.Recipient], role: str
) -> list[tuple[str | None, str]]:
    """(directory id or None, address) per recipient, all checked before anything changes."""
    if not recipients:
        return []
    sharing.validate_invite(sharing.InviteRequest(recipients=recipients, roles=[role]))
    state.policy.check_count(len(recipients))
    resolved = [sharing._resolve(state, r, i) for i, r in enumerate(recipients)]
    for grantee_id, address in resolved:
        if grantee_id is None:
            state.policy.check_external(address)
    return resolved


def _add_members(
    state: State, permission: Permission, members: list[tuple[str | None, str]]
) -> tuple[str, ...]:
    """Add ``members`` to the link; ``{permission id}/{member}`` for each one it did not have
    (the change log's ``granted``)."""
    link = permission.link
    assert link is not None
    now = state.clock.moment()
    added: list[str] = []
    for grantee_id, address in members:  # O(1) each, however many members the link has
        if grantee_id is not None:
            if link.add_member_id(grantee_id):
                state.shared_at[f"{permission.id}/{grantee_id}"] = now
                added.append(f"{permission.id}/{grantee_id}")
        elif link.add_member_email(address):
            added.append(f"{permission.id}/{address.casefold()}")
    return tuple(added)


def _notify(
    state: State,
    caller: User,
    item: Item,
    permission: Permission,
    members: list[tuple[str | None, str]],
    request: LinkRequest,
    context: sharing.RequestContext | None,
) -> None:
    if not request.send_notification:
        return
    for _, address in members:
        sharing.notify(
            state, caller, item, address, list(permission.roles), request.message, True,
            context or sharing.RequestContext(),
        )  # fmt: skip


# -- using a link: /shares/{id} ----------------------------------------------------------------
def decode_share_id(share_id: str) -> str:
    """The link token a share id names: ``s!{token}``, or ``u!`` + base64url of the link's URL
    (unpadded as the docs encode it; padded accepted too)."""
    if share_id.startswith("s!") and len(share_id) > 2:
        return share_id[2:]
    if share_id.startswith("u!") and len(share_id) > 2:
        encoded = share_id[2:].rstrip("=")
        try:
            raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), b"-_", validate=True)
            url = raw.decode("utf-8")
        except (binascii.Error, ValueError):
            raise InvalidRequest(f"the share id {share_id!r} is not valid base64url") from None
        if not url.startswith(LINK_BASE):
            raise NotFound("the sharing URL does not name a sharing link of this tenant")
        return url[len(LINK_BASE) :].split("?")[0]
    raise InvalidRequest("a share id is 's!{token}' or 'u!' + the base64url of a sharing URL")


LINK_NOT_FOUND = "the sharing link was not found, was removed or has expired"


def find_share(state: State, share_id: str) -> tuple[Item, Permission]:
    """The item and link permission ``share_id`` names (404 if gone or expired)."""
    token = decode_share_id(share_id)
    found = state.links.by_token.get(token)
    item = state.store.items.get(found[0]) if found else None
    permission = None
    if item is not None and found is not None:
        permission = next((p for p in item.permissions if p.id == found[1]), None)
    if (
        item is None
        or permission is None
        or permission.link is None
        or permission.link.token != token
        or state.clock.is_past(permission.expiration)
    ):
        raise NotFound(LINK_NOT_FOUND)
    return item, permission


def organization_domain(state: State, item: Item) -> str | None:
    """The organization a link on ``item`` is for: the domain of the drive owner's address
    (a user's, or the owning group's); None when the owner has none."""
    owner_id = state.store.drives[item.drive_id].owner_id
    owner = state.directory.users.get(owner_id)
    address = owner.email if owner is not None else None
    if address is None:
        group = state.directory.groups.get(owner_id)
        address = group.email if group is not None else None
    if not address or "@" not in address:
        return None
    return address.rpartition("@")[2].casefold()


def in_organization(state: State, user: User, item: Item) -> bool:
    """Is ``user`` a member of the tenant that holds ``item`` (not a guest from another
    domain, not someone outside the directory)? The mock has no guest flag: a directory user
    is a member when their address has the drive owner's domain."""
    if state.directory.users.get(user.id) is None:  # no token, or not of this directory
        return False
    domain = organization_domain(state, item)
    return domain is None or user.email.rpartition("@")[2].casefold() == domain


def _audience_role(
    state: State, caller: User | None, item: Item, permission: Permission
) -> str | None:
    """The role the link gives ``caller`` by its scope alone (its password aside)."""
    link = permission.link
    assert link is not None
    role = permission.roles[0]
    if link.scope == "anonymous":
        return role if state.policy.anonymous_links else None
    if caller is None:
        return None
    if link.scope == "organization":
        return role if in_organization(state, caller, item) else None
    if link.scope == "users":
        return role if link.holds(caller) else None
    return None  # a scope that grants nothing new


def link_role_for(
    state: State, caller: User | None, item: Item, permission: Permission
) -> str | None:
    """The role this link itself grants ``caller`` through the API (None: nothing). An
    expired link grants nothing; neither does a password link: Graph has no way to present a
    password, the service asks for it in a browser. An app-only caller acts by its roles alone:
    a link grants it nothing."""
    if caller is not None and caller.app is not None:
        return None
    if state.clock.is_past(permission.expiration) or permission.link is None:
        return None
    if permission.link.password is not None:
        return None
    return _audience_role(state, caller, item, permission)


def check_link_use(state: State, caller: User | None, item: Item, permission: Permission) -> str:
    """The role ``caller`` (None: no token) acts with through the link: what the link grants
    them, or what they hold on the item anyway, whichever is higher. Nothing (a password link,
    which the API has no way to open, included) answers exactly as a link that does not exist:
    holding a link's URL tells nobody without access that it exists."""
    granted = link_role_for(state, caller, item, permission)
    own = highest_role(roles_of(state.store, caller, item)) if caller is not None else None
    roles = [r for r in (granted, own) if r is not None]
    if roles:
        return max(roles, key=ROLE_RANK.__getitem__)
    raise NotFound(LINK_NOT_FOUND)


def redeem(state: State, caller: User | None, item: Item, permission: Permission) -> bool:
    """``Prefer: redeemSharingLink``: a caller the link itself admits becomes its member and
    keeps the link's role through the normal routes. Anyone else (no token, a password link,
    someone who only holds the item otherwise) gains nothing: redeeming never gives more than
    the link grants that caller, and never adds anyone to a link's audience. True if the
    caller became a member."""
    link = permission.link
    if caller is None or link is None or link.holds(caller) or caller.app is not None:
        return False
    if link_role_for(state, caller, item, permission) is None:
        return False
    added = _add_members(state, permission, [(caller.id, caller.email)])
    state.changed(item, "sharing", granted=added)
    return True


def within_link(store: DriveStore, link_item: Item, target: Item) -> bool:
    """Does a link on ``link_item`` reach ``target`` (itself or a descendant that inherits)?"""
    current = target
    while current is not link_item:
        if not current.inherits or current.parent_id is None:
            return False
        current = store.items[current.parent_id]
    return True


# -- sharedWithMe -------------------------------------------------------------------------------
def shared_with(state: State, user: User) -> list[tuple[Item, Permission]]:
    """Items of other people's drives on which a permission applies to ``user`` (directly, via
    a group, via a link granted or redeemed), each once, in the order they were shared (then
    created); a share
    shows ``policy.shared_with_me_delay_seconds`` after it happened. O(shared items), never
    O(items)."""
    delay = timedelta(seconds=state.policy.shared_with_me_delay_seconds)
    now = state.clock.moment()
    found: list[tuple[datetime, str, str, Item, Permission]] = []
    for drive in state.store.drives.values():
        if drive.owner_id == user.id:
            continue
        for item_id in drive.shared_item_ids:
            item = state.store.items[item_id]
            for permission in item.permissions:
                if permission.is_owner or not permission.holds(user):
                    continue
                when = _shared_time(state, permission, user)
                if when is None or when + delay <= now:
                    found.append((when or _LONG_AGO, item.created, item.id, item, permission))
                    break
    found.sort(key=lambda entry: entry[:3])  # deterministic: shared_item_ids is a set
    return [(item, permission) for *_, item, permission in found]


_LONG_AGO = datetime(1900, 1, 1, tzinfo=timezone.utc)


def _shared_time(state: State, permission: Permission, user: User) -> datetime | None:
    """When ``user`` got ``permission`` (None: not recorded, e.g. arranged by a fixture)."""
    if permission.link is not None:
        for member in (user.id, *user.group_ids):
            when = state.shared_at.get(f"{permission.id}/{member}")
            if when is not None:
                return when
    return state.shared_at.get(permission.id)


# -- expiry ------------------------------------------------------------------------------------
SHARED_NOW = datetime.min.replace(tzinfo=timezone.utc)  # ``track``'s default: shared now


def track(state: State, permission: Permission, shared: datetime | None = SHARED_NOW) -> None:
    """Schedule the expiry of ``permission``: its expirationDateTime, or for an invitation
    nobody has accepted, INVITATION_LIFETIME_DAYS after it was shared. Notes when it was
    shared: now, unless noted before or given (a load: the moment exported; None: not
    recorded, so no invitation deadline either)."""
    key = (permission.item_id, permission.id)
    if shared is SHARED_NOW:
        shared = state.shared_at.setdefault(permission.id, state.clock.moment())
    elif shared is not None:
        state.shared_at[permission.id] = shared
    if permission.expiration is not None:
        state.expirations.schedule(parse_time(permission.expiration), "permission", *key)
    if shared is not None and _is_pending_invitation(permission):
        deadline = shared + timedelta(days=INVITATION_LIFETIME_DAYS)
        state.expirations.schedule(deadline, "invitation", *key)


def _is_pending_invitation(permission: Permission) -> bool:
    return permission.link is None and (
        permission.pending or (permission.grantee_id is None and bool(permission.invitation_email))
    )


def install_expiry(state: State) -> None:
    """Register what happens when each kind of deadline passes. The handlers hold the state
    weakly: a state its server has let go of is freed at once, not by the cycle collector."""
    ref = weakref.ref(state)

    def permission_due(key: tuple[str, ...], when: datetime) -> bool:
        state = ref()
        _, permission = _own_permission(state, key) if state is not None else (None, None)
        return (
            permission is not None
            and permission.expiration is not None
            and parse_time(permission.expiration) == when
        )

    def invitation_due(key: tuple[str, ...], when: datetime) -> bool:
        state = ref()
        _, permission = _own_permission(state, key) if state is not None else (None, None)
        if state is None or permission is None or not _is_pending_invitation(permission):
            return False
        shared = state.shared_at.get(permission.id)
        return shared is not None and shared + timedelta(days=INVITATION_LIFETIME_DAYS) == when

    # A deadline withdraws only what it still stands for: one since replaced (an expiration
    # moved later) would withdraw at its own place in the sweep, not at the deadline that
    # stands, and the clock's heap drops such deadlines when it is rebuilt (model/clock.py).
    def expire_permission(key: tuple[str, ...], when: datetime) -> bool:
        state = ref()
        if state is None or not permission_due(key, when):
            return False
        item, permission = _own_permission(state, key)
        assert permission is not None
        _remove(state, item, permission)
        return True

    def expire_invitation(key: tuple[str, ...], when: datetime) -> bool:
        state = ref()
        if state is None or not invitation_due(key, when):
            return False
        item, permission = _own_permission(state, key)
        assert permission is not None
        _remove(state, item, permission)
        return True

    expirations = state.expirations
    expirations.handlers["permission"] = expire_permission
    expirations.handlers["invitation"] = expire_invitation
    expirations.live["permission"] = permission_due
    expirations.live["invitation"] = invitation_due


def _own_permission(state: State, key: tuple[str, ...]) -> tuple[Item | None, Permission | None]:
    item = state.store.items.get(key[0])
    if item is None:
        return None, None
    return item, next((p for p in item.permissions if p.id == key[1]), None)


def _remove(state: State, item: Item | None, permission: Permission) -> None:
    assert item is not None
    item.permissions.remove(permission)
    state.changed(item, "sharing", lost=(permission,))  # delta: who saw it through this
    if not item.permissions:
        state.store.drives[item.drive_id].shared_item_ids.discard(item.id)


def expire_due(state: State) -> int:
    """Withdraw everything whose deadline the clock has reached; how many deadlines fired."""
    return state.expirations.sweep(state.clock.moment())


def advance_clock(
    state: State, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
) -> str:
    """Move the virtual clock forward and expire what is due; the new time."""
    now = state.clock.advance(days=days, hours=hours, minutes=minutes, seconds=seconds)
    expire_due(state)
    return now
