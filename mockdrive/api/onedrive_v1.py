"""The older OneDrive API's ``action.invite`` and ``action.createLink`` on the same paths as Graph
(``/v1.0/drive/...``); ``ROUTES`` is the table.

Recipients may be plain strings or objects; ``suppressNotification`` (with ``type: "mail"``)
or ``sendInvitation``; ``requireSignIn`` or the docs' misspelling ``requiresSignIn``. Answers
are the minimal permissions of that API, with per-recipient errors on a 207 like Graph's.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..model import sharing
from ..model.errors import InvalidRequest
from ..model.faults import NOTIFICATION_CODES
from ..model.permissions import Permission
from ..model.state import State
from ..model.tree import Item
from .context import Call
from .graph.links import onedrive_create_link
from .graph.render import identity
from .invites import parse_invite_body, run_invite
from .jsonio import json_response, optional, read_json_object
from .routing import GraphRoute


def parse_action_invite(body: dict[str, Any]) -> sharing.InviteRequest:
    """Normalise the legacy body to Graph's and let Graph's parser check the rest."""
    recipients = body.get("recipients")
    if isinstance(recipients, (dict, str)):  # the OneDrive SDK sends one object, not a list
        recipients = [recipients]
    if isinstance(recipients, list):
        body = {
            **body,
            "recipients": [{"email": r} if isinstance(r, str) else r for r in recipients],
        }
    kind = optional(body, "type", str, "a string")
    if kind is not None and kind != "mail":
        raise InvalidRequest(f"type must be 'mail', not {kind!r}")
    suppress = optional(body, "suppressNotification", bool, "true or false")
    if body.get("sendInvitation") is None:  # this API notifies unless told not to
        body = {**body, "sendInvitation": not suppress}
    if "requireSignIn" not in body and "requiresSignIn" in body:
        body = {**body, "requireSignIn": body["requiresSignIn"]}
    return parse_invite_body(body)


def render_permission(state: State, permission: Permission) -> dict[str, Any]:
    data: dict[str, Any] = {"id": permission.id, "roles": list(permission.roles)}
    if permission.grantee_id is not None and not permission.pending:
        user = identity(state, permission.grantee_id)
        data["grantedTo"] = {"user": {"id": user["id"], "displayName": user.get("displayName", "")}}
    if permission.invitation_email is not None:
        data["invitation"] = {
            "email": permission.invitation_email,
            "signInRequired": permission.sign_in_required,
        }
    return data


async def invite(request: web.Request, call: Call, item: Item) -> web.Response:
    result = run_invite(request, call, item, parse_action_invite(await read_json_object(request)))
    value = []
    for outcome in result.outcomes:
        entry = render_permission(call.state, outcome.permission)
        if outcome.notification_error:
            message, _ = NOTIFICATION_CODES[outcome.notification_error]
            entry["error"] = {
                "code": "notAllowed",
                "message": message,
                "innererror": {"code": outcome.notification_error},
            }
        value.append(entry)
    return json_response({"value": value}, status=207 if result.partial else 200)


# -- the route table: actions on any of Graph's item addresses --------------------------------
# ``/v1.0/me/drive/items/{itemId}/action.invite`` and the like, served by Graph's dispatch,
# which reads these rows with its own (``graph.routes.ROUTES``). Errors here take this API's
# envelope (``app.dialect_of``); the OpenAPI document lists each action for every address form.
ROUTES = (
    GraphRoute(
        "POST", "{item}/action.invite", invite, "share with people (this API's body and answer)"
    ),
    GraphRoute("POST", "{item}/action.createLink", onedrive_create_link, "create a sharing link"),
)
ACTION_SUFFIXES = tuple("/" + row.action for row in ROUTES)
