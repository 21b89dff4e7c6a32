"""Listing and changing an item's permissions (own and inherited)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...model.errors import InvalidRequest
from ...model.identity import User
from ...model.permissions import (
    EffectivePermission,
    effective_permissions,
    highest_role,
)
from ...model.state import State
from ...model.tree import Item
from ..context import Call
from ..jsonio import fast_json_response
from .addressing import not_modified, require_read
from .envelope import item_context
from .render import View, render_permission
from .viewer import root_prefix


def list_permissions(
    state: State, view: View, item: Item, reader: User | None = None
) -> list[dict[str, Any]]:
    """The item's permissions as Graph lists them: own and inherited, without grants that
    carry no Graph role (Onehub's Access Denied); for a ``reader``, only what applies to them,
    and of a link's holders only themselves."""
    entries = [e for e in effective_permissions(state.store, item) if e.permission.roles]
    if reader is not None:
        entries = [e for e in entries if e.permission.holds(reader)]
    # more entries than the item's own: some are inherited, so name every ancestor's path at
    # once (any holder not found there is still memoized one by one by render_permission)
    inherited = len(entries) > len(item.permissions)
    holder_paths = ancestor_paths(state, view, item) if inherited else {}
    return [render_permission_for(state, view, e, reader, holder_paths) for e in entries]


def ancestor_paths(state: State, view: View, item: Item) -> dict[str, str]:
    """``api_path`` of every ancestor of ``item`` (the holders an inherited entry names), in
    one walk up and one down: O(depth), not O(depth) per holder."""
    chain = list(state.store.ancestors(item))
    if not chain:
        return {}
    prefix = root_prefix(state, view.viewer_id, item.drive_id)
    paths = {chain[-1].id: prefix}  # the root
    path = prefix
    for ancestor in reversed(chain[:-1]):
        path = path + "/" + ancestor.name
        paths[ancestor.id] = path
    return paths


def render_permission_for(
    state: State,
    view: View,
    entry: EffectivePermission,
    viewer: User | None,
    holder_paths: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A permission as ``viewer`` may see it (None: someone who may share the item, who sees
    everything). Of a link, a viewer who may not share sees neither its secrets (``shareId``,
    ``webUrl``) nor its other holders: only themselves (their account, their groups, their
    address)."""
    data = render_permission(state, view, entry, holder_paths)
    if viewer is None or entry.permission.link is None:
        return data
    # a link's secrets go only to those who could create it (the service's documented rule)
    data.pop("shareId", None)
    facet = data["link"] = dict(data["link"])
    facet.pop("webUrl", None)
    facet.pop("webHtml", None)
    if "grantedToIdentitiesV2" not in data:
        return data
    email = viewer.email.casefold()

    def is_viewer(identity_set: dict[str, Any]) -> bool:
        group = identity_set.get("group")
        if group is not None:
            return group.get("id") in viewer.group_ids
        user = identity_set.get("user") or {}
        if "id" in user:
            return user["id"] == viewer.id
        return str(user.get("email", "")).casefold() == email

    people = [p for p in data.pop("grantedToIdentitiesV2") if is_viewer(p)]
    data.pop("grantedToIdentities", None)
    if people:
        data["grantedToIdentitiesV2"] = people
        data["grantedToIdentities"] = [p for p in people if "user" in p]
    return data


def list_permissions_response(request: web.Request, call: Call, item: Item) -> web.Response:
    state, caller = call.state, call.caller
    roles = require_read(call, item)
    if not_modified(request, item):
        return web.Response(status=304)
    reader = caller if highest_role(roles) == "read" else None  # readers see only their own
    context = item_context(request, item, "permissions")
    return fast_json_response(
        {"@odata.context": context, "value": list_permissions(state, call, item, reader)}
    )


def permission_patch(body: dict[str, Any]) -> object:
    for key in body:
        if key not in ("roles", "expirationDateTime") and not key.startswith("@odata."):
            raise InvalidRequest(f"{key} cannot be updated", "propertyNotUpdateable")
    if "roles" not in body:
        raise InvalidRequest("roles is required")
    return body["roles"]
