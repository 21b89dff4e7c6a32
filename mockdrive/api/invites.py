"""Parsing and running an invite, shared by Graph and the OneDrive dialect."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..model import sharing
from ..model.clock import parse_time
from ..model.errors import InjectedFault, InvalidRequest
from ..model.permissions import EffectivePermission
from ..model.tree import Item
from .context import Call
from .graph.render import encode_permission, render_notification_error, render_permission
from .jsonio import (
    encoded_json_response,
    fast_json_response,
    json_object_arrived,
    optional,
    read_json_object,
)


def parse_invite_body(body: dict[str, Any]) -> sharing.InviteRequest:
    """Graph's invite body → the model's request. Types are checked here, rules in the model."""
    recipients = parse_recipients(body.get("recipients"))
    get = body.get
    roles, message, password = get("roles"), get("message"), get("password")
    sign_in, send = get("requireSignIn"), get("sendInvitation")
    # the common case (every value given is of its type, no expiration to read) without a
    # call per key; ``_checked_invite`` says what is wrong otherwise, key by key, in order
    if (
        type(roles) is list
        and (message is None or type(message) is str)
        and (password is None or type(password) is str)
        and (sign_in is None or type(sign_in) is bool)
        and (send is None or type(send) is bool)
        and get("expirationDateTime") is None
        and get("retainInheritedPermissions") is None
    ):
        for role in roles:
            if type(role) is not str:
                break
        else:
            return sharing.InviteRequest(
                recipients, roles, message, sign_in is True, send is True, True, None, password
            )
    return _checked_invite(body, recipients)


def _checked_invite(
    body: dict[str, Any], recipients: list[sharing.Recipient]
) -> sharing.InviteRequest:
    """``parse_invite_body`` past its recipients, each key checked in turn."""
    roles = body.get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidRequest("roles must be an array of strings")
    expiration = optional(body, "expirationDateTime", str, "a date-time string")
    if expiration is not None:
        check_datetime(expiration)
    retain = optional(body, "retainInheritedPermissions", bool, "true or false")
    return sharing.InviteRequest(
        recipients=recipients,
        roles=roles,
        message=optional(body, "message", str, "a string"),
        require_sign_in=bool(optional(body, "requireSignIn", bool, "true or false")),
        send_invitation=bool(optional(body, "sendInvitation", bool, "true or false")),
        retain_inherited_permissions=True if retain is None else retain,
        expiration=expiration,
        password=optional(body, "password", str, "a string"),
    )


def parse_recipients(raw_recipients: object) -> list[sharing.Recipient]:
    """An array of driveRecipient objects (invite, createLink, grant), types checked."""
    if not isinstance(raw_recipients, list):
        raise InvalidRequest("recipients must be an array of driveRecipient objects")
    recipients = []
    recipient = sharing.Recipient
    for index, raw in enumerate(raw_recipients):
        if not isinstance(raw, dict):
            raise InvalidRequest(f"recipients[{index}] must be an object")
        email, alias, object_id = raw.get("email"), raw.get("alias"), raw.get("objectId")
        # the common case inline (a body may hold a few hundred thousand recipients);
        # ``optional`` says what is wrong otherwise
        if not (
            (email is None or type(email) is str)
            and (alias is None or type(alias) is str)
            and (object_id is None or type(object_id) is str)
        ):
            for key in ("email", "alias", "objectId"):
                optional(raw, key, str, "a string")
        recipients.append(recipient(email, alias, object_id))
    return recipients


def check_datetime(value: str) -> None:
    """A date-time the clock can compare (an expiration is scheduled on it once granted)."""
    parse_time(value)


def run_invite(
    request: web.Request,
    call: Call,
    item: Item,
    invite_request: sharing.InviteRequest,
    roles: set[str] | None = None,
) -> sharing.InviteResult:
    """One invite through the model (Graph and OneDrive), noting for the journal which fault
    rules fired. ``roles``: the caller's on ``item``, when known (``sharing.invite``)."""
    # what fault rules match on (without rules, nothing reads it)
    state = call.state
    context = sharing.RequestContext(request.method, request.path) if state.faults.rules else None
    try:
        result = sharing.invite(state, call.caller, item, invite_request, context, roles)
    except InjectedFault as fault:
        call.fired_faults.append({"rule": fault.rule_id, "effect": "error"})
        raise
    if result.fired_rules:
        call.fired_faults.extend(
            {"rule": r, "effect": "notificationFailure"} for r in result.fired_rules
        )
    return result


def roles_seen(call: Call, item: Item) -> set[str] | None:
    """The caller's roles on ``item`` as the dispatch found them (``Call.seen``), or None.
    Good only while nothing else has run since: before the handler first waits.

    The dispatch walks no roles for the owner of the item's drive (``resolve_visible``): they
    hold ``owner`` there whatever else their roles add, which is all sharing asks of them
    (``sharing._check_shareable``: ``owner`` or ``write``), so ``{"owner"}`` stands for the
    walk's answer."""
    seen = call.seen
    caller = call.caller
    if seen is None or seen[1] is not item or seen[0] is not caller:
        return None
    roles = seen[2]
    if roles is None:
        owner_id = call.state.store.drives[item.drive_id].owner_id  # ``owns_drive``, inline
        if caller.app is None and (owner_id == caller.id or owner_id in caller.group_ids):
            return {"owner"}
    return roles


async def graph_invite(request: web.Request, call: Call, item: Item):
    # (the body is only read here: the journal may keep the bytes that arrived)
    body = json_object_arrived(request, unchanged=True)
    if body is None:  # more to come: after the wait, the dispatch's roles may not hold
        body, roles = await read_json_object(request, unchanged=True), None
    else:  # read without waiting: nothing ran since the dispatch, whose roles still hold
        roles = roles_seen(call, item)
    result = run_invite(request, call, item, parse_invite_body(body), roles)
    encoded = encoded_outcomes(call, result)
    if encoded is not None:
        return encoded_json_response(encoded)
    value = []
    for outcome in result.outcomes:
        entry = render_permission(call.state, call, EffectivePermission(outcome.permission))
        if outcome.notification_error:
            entry["error"] = render_notification_error(outcome.notification_error)
        value.append(entry)
    return fast_json_response({"value": value}, status=207 if result.partial else 200)


def encoded_outcomes(call: Call, result: sharing.InviteResult) -> bytes | None:
    """The JSON of Graph's answer to an invite whose every notification went out (200), made of
    each permission's kept encoding (``encode_permission``), byte for byte what rendering and
    encoding the answer gives; None where that is not how it is made (a failed notification:
    207, with its error) or an encoding is not at hand."""
    parts = [b'{"value":[']
    for outcome in result.outcomes:
        if outcome.notification_error:
            return None
        encoded = encode_permission(call.state, call, outcome.permission)
        if encoded is None:
            return None
        if len(parts) > 1:
            parts.append(b",")
        parts.append(encoded)
    parts.append(b"]}")
    return b"".join(parts)
