"""Invites and permission changes: whole-request checks first, then one outcome per recipient."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from .clock import LAST_YEAR, format_time, parse_time
from .errors import AccessDenied, InjectedFault, InvalidRequest, NotAllowed
from .grants import Permission
from .outbox import OutboxMessage
from .permissions import (
    GRANTABLE_ROLES,
    ROLE_RANK,
    effective_permissions,
    find_effective,
    highest_role,
    require_role,
)

if TYPE_CHECKING:
    from .identity import User
    from .state import State
    from .tree import Item

MAX_MESSAGE_LENGTH = 2000
# (ends in ``\Z``: ``$`` would also match before a final newline; no control character anywhere:
# ``\s`` leaves NUL, ESC, DEL and the like to match)
EMAIL_PATTERN = re.compile(
    r"^[^@\s,;<>\"\x00-\x1f\x7f]+@[^@\s,;<>\"\x00-\x1f\x7f]+\.[^@\s,;<>\".\x00-\x1f\x7f]+\Z"
)
# addresses ``EMAIL_PATTERN`` matched (a match costs ~8 look-ups), forgotten all at once when full;
# kept for the process, so only those no longer than an address may be (RFC 3696): a body's
# longer ones are matched each time rather than pinned after their state is gone
_VALID_ADDRESSES: set[str] = set()
ADDRESSES_KEPT = 4096
ADDRESS_LENGTH_KEPT = 320


@dataclass(slots=True)
class Recipient:
    email: str | None = None
    alias: str | None = None
    object_id: str | None = None


@dataclass(slots=True)
class InviteRequest:
    recipients: list[Recipient]
    roles: list[str]
    message: str | None = None
    require_sign_in: bool = False
    send_invitation: bool = False
    retain_inherited_permissions: bool = True
    expiration: str | None = None
    password: str | None = None


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What fault rules match on: the request as the client sent it, and who sent it."""

    method: str = "POST"
    path: str = ""


NO_CONTEXT = RequestContext()  # what fault rules match when no request is at hand


@dataclass(slots=True)
class InviteOutcome:
    """What happened for one recipient: the permission it now holds, and its notification.

    ``notification_error`` is the inner code of a failed e-mail (the grant still stands).
    """

    address: str
    permission: Permission
    created: bool
    notification: OutboxMessage | None = None
    notification_error: str | None = None


@dataclass(slots=True)
class InviteResult:
    outcomes: list[InviteOutcome] = field(default_factory=list)
    fired_rules: list[str] = field(default_factory=list)  # notificationFailure rules that fired

    @property
    def partial(self) -> bool:
        """Did any notification fail (Graph: 207 Multi-Status)?"""
        for outcome in self.outcomes:  # noqa: SIM110 (a loop: no generator on every invite)
            if outcome.notification_error:
                return True
        return False


def check_roles(roles: object) -> list[str]:
    """A non-empty list of grantable roles, duplicates dropped, order kept."""
    if not isinstance(roles, list) or not roles:
        raise InvalidRequest("roles must be a non-empty array of strings")
    for role in roles:
        if role not in GRANTABLE_ROLES:
            raise InvalidRequest(f"role {role!r} is not one of {', '.join(GRANTABLE_ROLES)}")
    return list(dict.fromkeys(roles))


def validate_invite(request: InviteRequest) -> None:
    if not request.recipients:
        raise InvalidRequest("recipients must contain at least one recipient")
    seen: dict[str, int] = {}
    for index, recipient in enumerate(request.recipients):
        email, alias, object_id = recipient.email, recipient.alias, recipient.object_id
        if email is not None:  # the one given, or None when two or more are
            given = email if alias is None and object_id is None else None
        elif alias is not None:
            given = alias if object_id is None else None
        else:
            given = object_id
        if given is None:
            raise InvalidRequest(
                f"recipients[{index}] must have exactly one of email, alias or objectId"
            )
        key = given.casefold()
        if key in seen:
            raise InvalidRequest(f"recipients[{index}] repeats recipients[{seen[key]}]")
        seen[key] = index
    roles = request.roles
    if type(roles) is list and len(roles) == 1 and roles[0] in GRANTABLE_ROLES:
        request.roles = [roles[0]]  # the common case of ``check_roles``, without its call
    else:
        request.roles = check_roles(roles)
    message = request.message
    if message is not None and len(message) > MAX_MESSAGE_LENGTH:
        check_message(message)  # says what is wrong


def check_message(message: str | None) -> None:
    """The invitation message of an invite, a createLink or a grant: at most 2,000 characters."""
    if message is not None and len(message) > MAX_MESSAGE_LENGTH:
        raise InvalidRequest(
            f"message is longer than {MAX_MESSAGE_LENGTH} characters", "parameterIsTooLong"
        )


def check_expiration(
    state: State, expiration: str | None, limit_days: int | None = None
) -> str | None:
    """An ``expirationDateTime`` of an invite or a link, normalised (UTC, to the second): in
    the future and, with ``limit_days``, within that many days (which is then also the default
    when none is given). One rule for every sharing request."""
    if expiration is None and not limit_days:  # nothing to compare: no clock reading
        return None
    now = state.clock.moment()
    limit = None
    if limit_days:
        try:
            limit = now + timedelta(days=limit_days)
        except OverflowError:  # past datetime's range: no expiration the clock reads is beyond
            limit = None
    if expiration is None:
        if not limit_days:
            return None
        if limit is None or limit.year > LAST_YEAR:
            raise InvalidRequest(
                f"the default expiration would fall after the year {LAST_YEAR}",
                "invalidExpiration",
            )
        return format_time(limit)
    moment = parse_time(expiration)
    if moment <= now:
        raise InvalidRequest(
            f"expirationDateTime {expiration!r} is in the past", "invalidExpiration"
        )
    if limit is not None and moment > limit:
        raise InvalidRequest(
            f"links that work for anyone must expire within {limit_days} days",
            "expirationDateTimeTooFar",
        )
    return format_time(moment)


def _resolve(state: State, recipient: Recipient, index: int) -> tuple[str | None, str]:
    """The directory object to grant (a user or group id; None for an outside address) and the
    address the invitation goes to."""
    directory = state.directory
    key = recipient.object_id if recipient.object_id is not None else recipient.alias
    if key is not None:
        if recipient.object_id is not None:
            user, group = directory.by_id(key), directory.groups.get(key)
        else:
            user = directory.by_alias(key)
            group = directory.group_by_alias(key)
        if user is not None:
            return user.id, user.email
        if group is not None:
            return group.id, group.email or group.display_name
        kind = "id" if recipient.object_id is not None else "alias"
        raise InvalidRequest(
            f"recipients[{index}]: no directory object has {kind} {key!r}", "invalidRecipients"
        )
    email = recipient.email or ""
    if email not in _VALID_ADDRESSES:  # (most invites: addresses met before, a look-up)
        if not EMAIL_PATTERN.match(email):
            raise InvalidRequest(
                f"recipients[{index}]: {email!r} is not a valid e-mail address",
                "invalidRecipients",
            )
        if len(email) <= ADDRESS_LENGTH_KEPT:
            if len(_VALID_ADDRESSES) >= ADDRESSES_KEPT:
                _VALID_ADDRESSES.clear()
            _VALID_ADDRESSES.add(email)
    user = directory.by_email(email)
    if user is not None:
        return user.id, user.email
    if not directory.groups:  # (most tenants: no group to scan for the address)
        return None, email
    group = directory.group_by_email(email)
    return (group.id if group else None), email


def direct_permission_for(item: Item, grantee_id: str | None, address: str) -> Permission | None:
    """The item's own (non-owner) permission for that grantee, or for that invited address
    (O(1) on an item with many permissions: see ``PermissionList``)."""
    return item.permissions.direct_for(grantee_id, address)


def _check_shareable(
    state: State, caller: User, item: Item, roles: set[str] | None = None
) -> set[str]:
    """The caller's roles on ``item`` if they may share it. ``roles``: those roles, found
    already (the dispatch's own walk, with nothing changed since), so they are not walked
    again."""
    if roles is None:
        roles = require_role(state.store, caller, item, "write")
    elif "owner" not in roles and "write" not in roles:  # ``require_role``'s rank check
        raise AccessDenied("the caller needs the write role on this item")
    drive = state.store.drives[item.drive_id]
    if drive.drive_type == "personal" and item.parent_id is None:
        raise AccessDenied("permissions cannot be changed on the root of a personal drive")
    return roles


def invite(
    state: State,
    caller: User,
    item: Item,
    request: InviteRequest,
    context: RequestContext | None = None,
    roles: set[str] | None = None,
) -> InviteResult:
    """Grant ``request.roles`` on ``item`` to every recipient, or change nothing and raise.

    Grant-level failures (bad address, policy, an ``error`` fault rule for a recipient) fail
    the whole request; notification failures are per recipient and leave the grant in place.
    ``roles``: the caller's roles on ``item`` when already known (see ``_check_shareable``).
    O(depth + recipients): each recipient is resolved once and looked up once on the item.
    """
    context = context or NO_CONTEXT
    _check_shareable(state, caller, item, roles)
    validate_invite(request)
    expiration = None if request.expiration is None else check_expiration(state, request.expiration)
    recipients = request.recipients
    policy = state.policy
    if len(recipients) > policy.max_recipients:
        policy.check_count(len(recipients))  # says what is wrong
    resolved = []  # (grantee id or None, address), in the recipients' order
    for index, recipient in enumerate(recipients):
        resolved.append(_resolve(state, recipient, index))
    if not (policy.external_sharing and policy.allowed_domains is None) or policy.blocked_domains:
        for grantee_id, address in resolved:  # (an open policy refuses no address)
            if grantee_id is None:
                policy.check_external(address)
    if state.faults.rules:
        for _, address in resolved:
            rule = state.faults.for_recipient(
                context.method, context.path, caller.email, address, "error"
            )
            if rule is not None:
                raise InjectedFault(
                    rule.status or 400, rule.code or "", rule.message or "", rule.id
                )

    # Everything is valid: from here on nothing raises, so the request applies atomically.
    if not request.retain_inherited_permissions and item.inherits and not item.permissions:
        _break_inheritance(state, item)
    result = InviteResult()
    outcomes = result.outcomes
    granted: list[str] = []
    # what a permission the recipient holds may rise to (the roles are grantable ones)
    asked = "write" if "write" in request.roles else "read"
    asked_rank = ROLE_RANK[asked]
    permissions = item.permissions
    send = request.send_invitation
    for grantee_id, address in resolved:
        permission = permissions.direct_for(grantee_id, address)  # ``direct_permission_for``
        if permission is None:
            permission = Permission(
                id=state.ids.guid().upper(),
                item_id=item.id,
                roles=list(request.roles),
                grantee_id=grantee_id,
                invitation_email=address,
                sign_in_required=request.require_sign_in,
                invited_by=caller.id,
                expiration=expiration,
                has_password=request.password is not None,
            )
            permissions.append(permission)
            granted.append(permission.id)
            state.track(permission)  # its expiration, or an invitation's lifetime
            outcome = InviteOutcome(address, permission, True)
        else:
            held = permission.roles  # the higher of its role and the one asked for
            best = held[0] if len(held) == 1 and held[0] in ROLE_RANK else highest_role(held)
            if asked_rank > ROLE_RANK.get(best):  # (as ``max`` keeps the first of equals)
                best = asked
            set_roles(permission, [best])
            outcome = InviteOutcome(address, permission, False)
        if send:
            outcome.notification = notify(
                state, caller, item, address, list(permission.roles), request.message,
                request.require_sign_in, context,
            )  # fmt: skip
            if outcome.notification.rule_id is not None:
                outcome.notification_error = outcome.notification.error_code
                result.fired_rules.append(outcome.notification.rule_id)
        outcomes.append(outcome)
    state.store.drives[item.drive_id].shared_item_ids.add(item.id)
    state.changed(item, "sharing", granted=tuple(granted))
    return result


def notify(
    state: State,
    caller: User,
    item: Item,
    address: str,
    roles: list[str],
    message: str | None,
    sign_in_required: bool,
    context: RequestContext,
) -> OutboxMessage:
    """Record the invitation e-mail in the outbox: delivered, or failed by a fault rule."""
    failure = state.faults.for_recipient(
        context.method, context.path, caller.email, address, "notificationFailure"
    )
    return state.outbox.record(
        OutboxMessage(
            id=state.ids.serial(),
            to=address,
            sender=caller.email,
            sender_name=caller.display_name,
            item_id=item.id,
            item_name=item.name,
            web_url=state.web_url(item),
            roles=roles,
            message=message,
            sign_in_required=sign_in_required,
            time=state.clock.now(),
            status="failed" if failure else "delivered",
            error_code=failure.inner_code if failure else None,
            rule_id=failure.id if failure else None,
        )
    )


def _break_inheritance(state: State, item: Item) -> None:
    """Stop inheriting; keep the owners' access by copying their permissions onto the item
    (whom each applies to: an account, or an address invited before it has one)."""
    owners = [e.permission for e in effective_permissions(state.store, item) if e.inherited]
    copied: list[str] = []
    for inherited in owners:
        if inherited.is_owner:
            permission = Permission(
                id=state.ids.guid().upper(),
                item_id=item.id,
                roles=list(inherited.roles),
                grantee_id=inherited.grantee_id,
                invitation_email=inherited.invitation_email
                if inherited.grantee_id is None
                else None,
            )
            item.permissions.append(permission)
            copied.append(permission.id)
    item.inherits = False
    state.changed(item, "sharing", broke=True, granted=tuple(copied))  # who lost it: delta


def _changeable(state: State, caller: User, item: Item, permission_id: str) -> Permission:
    roles = _check_shareable(state, caller, item)
    entry = find_effective(state.store, item, permission_id)
    if entry.inherited:
        raise NotAllowed(
            "an inherited permission can only be changed on the item it is inherited from"
        )
    permission = entry.permission
    drive = state.store.drives[item.drive_id]
    if permission.is_owner and permission.grantee_id == drive.owner_id:
        raise NotAllowed("the owner permission cannot be changed or removed")
    if permission.is_owner and highest_role(roles) != "owner":  # nobody takes a role above theirs
        raise AccessDenied("only an owner may change or remove an owner's permission")
    return permission


def set_roles(permission: Permission, roles: list[str]) -> None:
    """Change a permission's Graph roles; a Onehub role name that no longer matches them is
    dropped, so Onehub derives the role from the new roles (one truth for both dialects)."""
    if roles != permission.roles:
        permission.native_role = None
    permission.roles = roles


def update_roles(
    state: State, caller: User, item: Item, permission_id: str, roles: object
) -> Permission:
    permission = _changeable(state, caller, item, permission_id)
    set_roles(permission, check_roles(roles))
    state.changed(item, "sharing")
    return permission


def delete_permission(state: State, caller: User, item: Item, permission_id: str) -> None:
    permission = _changeable(state, caller, item, permission_id)
    item.permissions.remove(permission)
    state.changed(item, "sharing", lost=(permission,))
    if not item.permissions:
        state.store.drives[item.drive_id].shared_item_ids.discard(item.id)
