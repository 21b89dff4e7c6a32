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
    Permission,
    can_read,
    can_see_drive,
    highest_role,
    roles_of,
)
from ...model.tree import DriveStore, Item, content_of, is_within
from ..context import Call
from ..jsonio import fast_json_response, read_json_object
from . import authorize, paging
from .content import refuse_conversion
from .envelope import first_values
from .items import DEFAULT_PAGE_SIZE as PAGE
from .items import page_params
from .links import grant_response, parse_grant_body
from .paths import decode_path
from .permissions import render_permission_for
from .render import identity, render_children, render_item


def wants_redeem(request: web.Request) -> bool:
    """``Prefer: redeemSharingLink`` (durable), not ``redeemSharingLinkIfNecessary``."""
    prefer = request.headers.getall("Prefer", [])
    values = {v.strip().casefold() for header in prefer for v in header.split(",")}
    return "redeemsharinglink" in values


def share_address(rest: str) -> tuple[str, tuple[str, ...]]:
    """``/shares/{shareId}/…`` → the share id and what follows it."""
    segments = [s for s in decode_path(rest).split("/") if s][1:]
    if not segments:
        raise InvalidRequest("a share id is required: /shares/{shareIdOrEncodedSharingUrl}")
    return segments[0], tuple(segments[1:])


def link_user(call: Call) -> User | None:
    """The caller of a request through a link; None without a token."""
    return None if call.caller is links.ANONYMOUS else call.caller


def resolve_share(call: Call, share_id: str) -> tuple[Item, Permission]:
    """The item a link shares and the link's permission, if the caller may use it; else the
    answer of a link that does not exist (401 without a token, see ``share_without_token``)."""
    caller = link_user(call)
    if caller is None:
        return share_without_token(call.state, share_id)
    item, permission = links.find_share(call.state, share_id)
    links.check_link_use(call.state, caller, item, permission)  # as a missing link when unusable
    return item, permission


def unserved(call: Call, item: Item, tail: tuple[str, ...]) -> Exception:
    """What a GET of a path no row serves answers, once the link is found: an item reached by
    id must be reached (404), then the segment is unsupported."""
    match tail:
        case (("driveItem" | "root"), *action):
            return InvalidRequest(f"unsupported segment {'/'.join(action)!r}")
        case ("items", item_id, *action):
            reached_item(call, item, item_id)
            return InvalidRequest(f"unsupported segment {'/'.join(action)!r}")
    return InvalidRequest(f"unsupported segment {'/'.join(tail)!r}")


# -- the handlers of the rows of ``routes.ROUTES`` on ``{share}`` --------------------------------
def share_summary(
    request: web.Request, call: Call, item: Item, permission: Permission
) -> web.StreamResponse:
    """``GET /shares/{shareId}``: the sharedDriveItem."""
    return fast_json_response(shared_drive_item(call, item, permission))


def share_permission(
    request: web.Request, call: Call, item: Item, permission: Permission
) -> web.StreamResponse:
    """The link's permission; who holds it only for those who may share the item."""
    caller = link_user(call)
    manager = caller is not None and may_manage(call.state, caller, item)
    viewer = None if manager else (caller or links.ANONYMOUS)
    entry = EffectivePermission(permission)
    return fast_json_response(render_permission_for(call.state, call, entry, viewer))


async def grant(
    request: web.Request, call: Call, item: Item, permission: Permission
) -> web.StreamResponse:
    """``POST /shares/{shareId}/permission/grant``: the link for more people."""
    caller = link_user(call)
    assert caller is not None  # the dispatch refuses a change without a token
    recipients, roles = parse_grant_body(await read_json_object(request))
    if not may_manage(call.state, caller, item):
        raise AccessDenied("the caller needs the write role on this item to share it")
    granted = links.grant_link(call.state, caller, item, permission.id, recipients, roles)
    return grant_response(call, granted)


def shared_item(
    request: web.Request, call: Call, item: Item, permission: Permission
) -> web.StreamResponse:
    return item_answer(request, call, item)


def shared_children(
    request: web.Request, call: Call, item: Item, permission: Permission
) -> web.StreamResponse:
    return children_answer(request, call, item)


def shared_content(
    request: web.Request, call: Call, item: Item, permission: Permission
) -> web.StreamResponse:
    return content_answer(request, item)


def item_by_id(
    request: web.Request, call: Call, item: Item, permission: Permission, item_id: str
) -> web.StreamResponse:
    return item_answer(request, call, reached_item(call, item, item_id))


def children_by_id(
    request: web.Request, call: Call, item: Item, permission: Permission, item_id: str
) -> web.StreamResponse:
    return children_answer(request, call, reached_item(call, item, item_id))


def content_by_id(
    request: web.Request, call: Call, item: Item, permission: Permission, item_id: str
) -> web.StreamResponse:
    return content_answer(request, reached_item(call, item, item_id))


def reached_item(call: Call, link_item: Item, item_id: str) -> Item:
    """``items/{itemId}`` through a link on ``link_item``: an item the link reaches, else 404."""
    target = call.state.store.items.get(item_id)
    if target is None or not reaches(call.state, link_user(call), link_item, target):
        raise NotFound(f"item {item_id!r} was not found through this link")
    return target


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


def item_answer(request: web.Request, call: Call, item: Item) -> web.StreamResponse:
    state = call.state
    data = render_item(state, call, item)
    if "children" in request.query.get("$expand", "") and item.is_folder:  # first page
        reached = reached_children(call, item)
        data["children"] = render_children(state, call, item, islice(reached, PAGE))
    return fast_json_response(data)


def content_answer(request: web.Request, item: Item) -> web.StreamResponse:
    if item.is_folder:
        raise InvalidRequest("a folder has no content")
    refuse_conversion(request)
    return web.Response(body=content_of(item), content_type=item.mime_type)


def children_answer(request: web.Request, call: Call, item: Item) -> web.StreamResponse:
    state = call.state
    top, offset = page_params(request)
    key = (call.caller.id, "shared-children", item.id)  # resumed while the folder is unchanged
    page, more = paging.page(
        state, key, offset, top, lambda: reached_children(call, item), extra=item.version
    )
    body: dict[str, Any] = {"value": render_children(state, call, item, page)}
    if more:
        query = first_values(request.query, "$skiptoken")
        query.update({"$top": str(top), "$skiptoken": str(offset + top)})
        body["@odata.nextLink"] = str(request.url.with_query(query))
    return fast_json_response(body)


# -- sharedWithMe -------------------------------------------------------------------------------
SHARED_WITH_ME = r"sharedWithMe(\(\))?"  # the segment's spellings (rows in ``routes.ROUTES``)


def my_shared_with_me(request: web.Request, call: Call, segment: str) -> web.Response:
    """``GET /me/drive/sharedWithMe`` (or ``sharedWithMe()``)."""
    return shared_with_me(request, call, None)


def drive_shared_with_me(
    request: web.Request, call: Call, drive_key: str, segment: str
) -> web.Response:
    """``GET /drives/{driveId}/sharedWithMe`` (or ``/me/drives/{driveId}/…``): a drive the caller
    cannot see is missing."""
    return shared_with_me(request, call, drive_key)


def shared_with_me(request: web.Request, call: Call, drive_key: str | None) -> web.Response:
    """What others shared with the caller, as remoteItems."""
    authorize.check_shared_list(call)  # the token's scopes
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
        query = first_values(request.query, "$skiptoken")
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
