"""Sharing links on an item: ``createLink`` (and OneDrive's ``action.createLink``), granting a
link to more people (``permissions/{id}/grant``) and PATCH of a link permission (rows in
``routes.ROUTES`` and ``onedrive_v1.ROUTES``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...model import links, sharing
from ...model.errors import InvalidRequest
from ...model.permissions import EffectivePermission, Permission, find_effective
from ...model.tree import Item
from ..context import Call
from ..invites import parse_recipients
from ..jsonio import fast_json_response, optional, read_json_object
from .addressing import check_if_match
from .render import render_permission


def parse_link_body(body: dict[str, Any]) -> links.LinkRequest:
    kind = body.get("type")
    if not isinstance(kind, str):
        raise InvalidRequest("type is required: one of view, edit, embed")
    recipients = body.get("recipients")
    expiration = optional(body, "expirationDateTime", str, "a date-time string")
    retain = optional(body, "retainInheritedPermissions", bool, "true or false")
    return links.LinkRequest(
        type=kind,
        scope=optional(body, "scope", str, "a string"),
        password=optional(body, "password", str, "a string"),
        expiration=expiration,
        retain_inherited_permissions=True if retain is None else retain,
        recipients=[] if recipients is None else parse_recipients(recipients),
        send_notification=bool(optional(body, "sendNotification", bool, "true or false")),
        message=optional(body, "message", str, "a string"),
    )


def _context(request: web.Request) -> sharing.RequestContext:
    return sharing.RequestContext(request.method, request.path)


async def create_link(request: web.Request, call: Call, item: Item) -> web.Response:
    link_request = parse_link_body(await read_json_object(request))
    permission, created = links.create_link(
        call.state, call.caller, item, link_request, _context(request)
    )
    body = render_permission(call.state, call, EffectivePermission(permission))
    return fast_json_response(body, status=201 if created else 200)


async def onedrive_create_link(request: web.Request, call: Call, item: Item) -> web.Response:
    """The older OneDrive API: same body, its own minimal permission shape."""
    link_request = parse_link_body(await read_json_object(request))
    permission, created = links.create_link(
        call.state, call.caller, item, link_request, _context(request)
    )
    link = permission.link
    assert link is not None
    body = {
        "id": permission.id,
        "roles": list(permission.roles),
        "link": {"type": link.type, "scope": link.scope, "webUrl": link.web_url},
    }
    return fast_json_response(body, status=201 if created else 200)


def parse_grant_body(body: dict[str, Any]) -> tuple[list[sharing.Recipient], list[str] | None]:
    recipients = parse_recipients(body.get("recipients"))
    roles = body.get("roles")
    if roles is not None and (
        not isinstance(roles, list) or not all(isinstance(r, str) for r in roles)
    ):
        raise InvalidRequest("roles must be an array of strings")
    return recipients, roles


def grant_response(call: Call, permission: Permission) -> web.Response:
    """Graph answers a collection with the updated link first (here listing the people of
    this grant: ``links.granted_view``)."""
    return fast_json_response(
        {"value": [render_permission(call.state, call, EffectivePermission(permission))]}
    )


async def grant(request: web.Request, call: Call, item: Item, permission_id: str) -> web.Response:
    recipients, roles = parse_grant_body(await read_json_object(request))
    permission = links.grant_link(
        call.state, call.caller, item, permission_id, recipients, roles, _context(request)
    )
    return grant_response(call, permission)


async def patch_link(
    request: web.Request, call: Call, item: Item, permission_id: str
) -> web.Response | None:
    """PATCH of a link permission (None: not a link, the generic PATCH serves it)."""
    try:
        entry = find_effective(call.state.store, item, permission_id)
    except Exception:
        return None
    if entry.permission.link is None:
        return None
    body = await read_json_object(request)
    check_if_match(request, item)
    links.update_link(call.state, call.caller, item, permission_id, body)
    return fast_json_response(
        render_permission(call.state, call, EffectivePermission(entry.permission))
    )
