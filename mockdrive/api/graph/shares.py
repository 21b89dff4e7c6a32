"""``/shares/{shareIdOrEncodedSharingUrl}``: using a sharing link.

``GET /shares/{id}`` (the sharedDriveItem), ``/driveItem``, ``/root``, ``/items/{id}`` (each
also with ``/children`` and ``/content``), ``/permission``, and ``POST /permission/grant``.
What a caller may do through a link is decided by ``model.links.check_link_use``: a caller the
link does not admit (and who does not hold the item anyway) gets the answer of a link that does
not exist. ``Prefer: redeemSharingLink`` makes a caller the link admits a member of the link
(durable access), ``redeemSharingLinkIfNecessary`` (and no header) gives access for this request
only. Who holds a link is shown only to those who may share the item.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice
from typing import Any

from aiohttp import web

from ...model import links
from ...model.errors import AccessDenied, InvalidRequest, NotFound, Unauthenticated
from ...model.identity import User
from ...model.permissions import (
    ROLE_RANK,
    EffectivePermission,
    can_read,
    can_see_drive,
    highest_role,
    roles_of,
)
from ...model.tree import DriveStore, Item, content_of, is_within
from ..context import Call
from ..errors import ApiError
from ..jsonio import fast_json_response, read_json_object
from . import authorize, paging
from .items import DEFAULT_PAGE_SIZE as PAGE
from .items import page_params
from .links import grant_response, parse_grant_body
from .paths import decode_path
from .permissions import render_permission_for
from .render import identity, render_item

# (path after /shares/{shareId}, method), as the OpenAPI document lists them
SHARE_OPERATIONS = (
    ("", "GET"),
    ("driveItem", "GET"),
    ("driveItem/children", "GET"),
    ("driveItem/content", "GET"),
    ("root", "GET"),
    ("root/children", "GET"),
    ("items/{itemId}", "GET"),
    ("items/{itemId}/children", "GET"),
    ("items/{itemId}/content", "GET"),
    ("permission", "GET"),
    ("permission/grant", "POST"),
)


def wants_redeem(request: web.Request) -> bool:
    """``Prefer: redeemSharingLink`` (durable), not ``redeemSharingLinkIfNecessary``."""
    prefer = request.headers.getall("Prefer", [])
    values = {v.strip().casefold() for header in prefer for v in header.split(",")}
    return "redeemsharinglink" in values


async def handle(request: web.Request, call: Call, rest: str) -> web.StreamResponse:
    segments = [s for s in decode_path(rest).split("/") if s][1:]
    if not segments:
        raise InvalidRequest("a share id is required: /shares/{shareIdOrEncodedSharingUrl}")
    share_id, tail = segments[0], tuple(segments[1:])
    state, method = call.state, request.method
    caller = None if call.caller is links.ANONYMOUS else call.caller
    if tail == ("permission", "grant"):
        if method != "POST":
            raise not_allowed(method)
        if caller is None:  # before the link is looked up: the answer says nothing about it
            raise Unauthenticated("granting a link needs a signed-in user")
    elif method != "GET":
        raise not_allowed(method)
    if caller is None:
        item, permission = share_without_token(state, share_id)
    else:
        item, permission = links.find_share(state, share_id)
        links.check_link_use(state, caller, item, permission)  # as a missing link when unusable
    redeem = wants_redeem(request)  # a membership for good: a write, whatever the method
    authorize.check_item(call, "POST" if redeem else method, item)
    if tail == ("permission", "grant"):
        assert caller is not None
        recipients, roles = parse_grant_body(await read_json_object(request))
        if not may_manage(state, caller, item):
            raise AccessDenied("the caller needs the write role on this item to share it")
        granted = links.grant_link(state, caller, item, permission.id, recipients, roles)
        return grant_response(call, granted)
    if redeem:
        links.redeem(state, caller, item, permission)
    match tail:
        case ():
            return fast_json_response(shared_drive_item(call, item, permission))
        case ("permission",):
            entry = EffectivePermission(permission)
            manager = caller is not None and may_manage(state, caller, item)
            viewer = None if manager else (caller or links.ANONYMOUS)
            return fast_json_response(render_permission_for(state, call, entry, viewer))
        case (("driveItem" | "root"), *action):
            return serve_item(request, call, item, tuple(action))
        case ("items", item_id, *action):
            target = state.store.items.get(item_id)
            if target is None or not reaches(state, caller, item, target):
                raise NotFound(f"item {item_id!r} was not found through this link")
            return serve_item(request, call, target, tuple(action))
    raise InvalidRequest(f"unsupported segment {'/'.join(tail)!r}")


def share_without_token(state: Any, share_id: str) -> tuple[Item, Any]:
    """Without a token only a link that works for anyone on a personal drive answers. The
    Shares API always needs a signed-in caller on OneDrive for Business and SharePoint; any
    other answer is 401, whatever the id (a missing one included), so it tells nothing."""
    try:
        item, permission = links.find_share(state, share_id)
        if state.store.drives[item.drive_id].drive_type == "personal":
            links.check_link_use(state, None, item, permission)
            return item, permission
    except NotFound:
        pass
    raise Unauthenticated("a bearer token is required: sharing links need a signed-in user")


def reaches(state: Any, caller: User | None, link_item: Item, target: Item) -> bool:
    """Is ``target`` reached through a link on ``link_item``: within the link's reach, or at or
    below ``link_item`` where the caller may read it anyway (they see what they hold)?"""
    if links.within_link(state.store, link_item, target):
        return True
    return (
        caller is not None
        and is_within(state.store, target, link_item)
        and can_read(state.store, caller, target)
    )


def reached_children(call: Call, folder: Item) -> Iterator[Item]:
    """The children of a folder reached through a link: those the link reaches (they inherit
    it) and those the caller may read anyway. Holds the store and the caller, not the call (a
    paused walk must not keep its state alive: ``paging``)."""
    store = call.state.store
    caller = None if call.caller is links.ANONYMOUS else call.caller
    return _reached(store, caller, folder)


def _reached(store: DriveStore, caller: User | None, folder: Item) -> Iterator[Item]:
    for child in store.iter_children(folder):
        if child.inherits or (caller is not None and can_read(store, caller, child)):
            yield child


def may_manage(state: Any, caller: User, item: Item) -> bool:
    """May ``caller`` share ``item`` (and so see who holds its links)? Write or more."""
    role = highest_role(roles_of(state.store, caller, item))
    return role is not None and ROLE_RANK[role] >= ROLE_RANK["write"]


def shared_drive_item(call: Call, item: Item, permission: Any) -> dict[str, Any]:
    state = call.state
    drive = state.store.drives[item.drive_id]
    return {
        "id": permission.link.share_id,
        "name": item.name,
        "webUrl": permission.link.web_url,
        "owner": {"user": identity(state, drive.owner_id)},
    }


def serve_item(
    request: web.Request, call: Call, item: Item, action: tuple[str, ...]
) -> web.StreamResponse:
    state = call.state
    if action == ():
        data = render_item(state, call, item)
        if "children" in request.query.get("$expand", "") and item.is_folder:  # first page
            path = state.store.path_of(item)
            reached = reached_children(call, item)
            data["children"] = [render_item(state, call, c, path) for c in islice(reached, PAGE)]
        return fast_json_response(data)
    if action == ("content",):
        if item.is_folder:
            raise InvalidRequest("a folder has no content")
        return web.Response(body=content_of(item), content_type=item.mime_type)
    if action == ("children",):
        top, offset = page_params(request)
        store = state.store
        key = (call.caller.id, "shared-children", item.id)  # resumed while the folder is unchanged
        page, more = paging.page(
            state, key, offset, top, lambda: reached_children(call, item), extra=item.version
        )
        path = store.path_of(item)
        body: dict[str, Any] = {"value": [render_item(state, call, c, path) for c in page]}
        if more:
            query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
            query.update({"$top": str(top), "$skiptoken": str(offset + top)})
            body["@odata.nextLink"] = str(request.url.with_query(query))
        return fast_json_response(body)
    raise InvalidRequest(f"unsupported segment {'/'.join(action)!r}")


def not_allowed(method: str) -> ApiError:
    return ApiError(405, "notSupported", f"the method {method} is not supported on this resource")


# -- sharedWithMe -------------------------------------------------------------------------------
SHARED_WITH_ME = re.compile(
    r"^/(?:me/drive|drive|drives/(?P<drive>[^/]+))/sharedWithMe(?:\(\))?/?$"
)


def shared_with_me(request: web.Request, call: Call, drive_key: str | None) -> web.Response:
    """``GET /me/drive/sharedWithMe``: what others shared with the caller, as remoteItems."""
    if request.method != "GET":
        raise not_allowed(request.method)
    authorize.check_shared_list(call)
    state, caller = call.state, call.caller
    if drive_key is not None and (
        drive_key not in state.store.drives or not can_see_drive(state.store, caller, drive_key)
    ):  # a drive the caller cannot see answers as one that does not exist
        raise NotFound(f"drive {drive_key!r} was not found")
    top, offset = page_params(request)
    delay = state.policy.shared_with_me_delay_seconds  # decides what shows, as the clock does
    # with a delay, what shows depends on the time itself (a share comes of age as it passes)
    extra = (delay, state.clock.moment()) if delay else 0
    page, more = paging.page(
        state,
        (caller.id, "sharedWithMe"),
        offset,
        top,
        lambda: iter(links.shared_with(state, caller)),
        extra=extra,
    )
    body: dict[str, Any] = {"value": [remote_item(call, item) for item, _ in page]}
    if more:
        query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
        query.update({"$top": str(top), "$skiptoken": str(offset + top)})
        body["@odata.nextLink"] = str(request.url.with_query(query))
    return fast_json_response(body)


REMOTE_KEYS = (
    "id",
    "name",
    "size",
    "webUrl",
    "createdDateTime",
    "lastModifiedDateTime",
    "createdBy",
)


def remote_item(call: Call, item: Item) -> dict[str, Any]:
    """An item of another drive as sharedWithMe lists it: the item and its ``remoteItem``."""
    state = call.state
    drive = state.store.drives[item.drive_id]
    data = render_item(state, call, item)
    remote = {key: data[key] for key in REMOTE_KEYS if key in data}
    remote["folder" if item.is_folder else "file"] = data["folder" if item.is_folder else "file"]
    remote["parentReference"] = {"driveId": drive.id, "driveType": drive.drive_type}
    if item.parent_id is not None:  # the documented sample names the folder it is in
        remote["parentReference"]["id"] = item.parent_id
    remote["shared"] = {"owner": {"user": identity(state, drive.owner_id)}}
    data.pop("parentReference", None)
    data["remoteItem"] = remote
    return data
