"""Graph's route table, ``ROUTES``, and the dispatch of everything under ``/v1.0`` and ``/beta``
that reads it.

"What serves X?" is one row of ``ROUTES`` (``routing.GraphRoute``: method, path, handler);
OneDrive's rows (``onedrive_v1.ROUTES``) are part of it. The OpenAPI document lists the rows
for every addressing form, and the expect handler and the pipeline read a row's body limit
(``body_row``). Each handler parses the request, makes one call into the model and renders the
result; access checks live in the model.

The dispatch, in the order of its checks: the path in its one normal form; ``/shares/…``
(``serve_share``: the link found and usable, then its row); the rows of resources of their own
(``/drives``, ``sharedWithMe``); a user's (``/me``, ``/users/{userId}``: the user found, then
the row); else the drive (``serve_drive``): drive resolved, then an ``{address}`` row (an
upload, before the item must exist), then the item resolved (hidden is missing), then its row.
What no row serves answers as Graph's gateway does (``unserved``): 405 for a path a row serves
with another method, 501 for a Graph feature mockdrive lacks, the gateway's 400 for a segment
Graph does not have. A check every request to a target needs (a permission scope, say) goes
once, right where that target is resolved: the link in ``serve_share``, the user and the
resources of their own in ``dispatch``, the drive in ``serve_drive``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Collection, Coroutine
from functools import lru_cache
from types import CoroutineType
from typing import Any

from aiohttp import hdrs, web
from multidict import istr

from ...model import links as link_model
from ...model.errors import DomainError, InvalidRequest, NotFound, Unauthenticated
from ...model.identity import User
from ...model.scopes import APPLICATION, READ, STATIC, allows
from ...model.state import State
from ...model.tree import Drive
from .. import onedrive_v1  # its rows are served here, on Graph's item addresses
from ..context import Call
from ..errors import ApiError
from ..invites import graph_invite
from ..routing import GraphRoute
from . import authorize, changes, delta, directory, links, odata, operations, shares
from .addressing import (
    before_any_item,
    hidden,
    refused_on_the_way,
    resolve_drive,
    resolve_visible,
    resolve_visible_item,
)
from .content import MAX_UPLOAD_BYTES, get_content, put_content, too_large
from .downloads import Downloads
from .gaps import ITEM_SEGMENTS, VERSION_SEGMENTS, bad_segment, function_name, not_implemented
from .items import create_child
from .paths import GraphPath, decode_path, normalize_path, parse_raw_path
from .permissions import list_permissions_response
from .preview import preview_item
from .relations import current_version_id
from .uploads import create_upload_session

ROUTES: tuple[GraphRoute, ...] = (
    # -- resources of their own ----------------------------------------------------------------
    GraphRoute("GET", "/drives", directory.my_drives),
    GraphRoute("HEAD", "/drives", directory.my_drives),
    GraphRoute(
        "GET", "/me/drive/sharedWithMe", shares.my_shared_with_me, pattern=shares.SHARED_WITH_ME
    ),
    GraphRoute(
        "GET", "/drive/sharedWithMe", shares.my_shared_with_me, pattern=shares.SHARED_WITH_ME
    ),
    GraphRoute(
        "GET",
        "/drives/{driveId}/sharedWithMe",
        shares.drive_shared_with_me,
        pattern=shares.SHARED_WITH_ME,
    ),
    GraphRoute(  # the same drive through /me, as python-o365 addresses a drive it has read
        "GET",
        "/me/drives/{driveId}/sharedWithMe",
        shares.drive_shared_with_me,
        pattern=shares.SHARED_WITH_ME,
    ),
    # -- a sharing link in use: /shares/{shareId} ---------------------------------------------
    GraphRoute("GET", "{share}", shares.share_summary),
    GraphRoute("GET", "{share}/driveItem", shares.shared_item),
    GraphRoute("GET", "{share}/driveItem/children", shares.shared_children),
    GraphRoute("GET", "{share}/driveItem/content", shares.shared_content),
    GraphRoute("GET", "{share}/root", shares.shared_item),
    GraphRoute("GET", "{share}/root/children", shares.shared_children),
    GraphRoute("GET", "{share}/root/content", shares.shared_content),
    GraphRoute("GET", "{share}/items/{itemId}", shares.item_by_id),
    GraphRoute("GET", "{share}/items/{itemId}/children", shares.children_by_id),
    GraphRoute("GET", "{share}/items/{itemId}/content", shares.content_by_id),
    GraphRoute("GET", "{share}/permission", shares.share_permission),
    GraphRoute("POST", "{share}/permission/grant", shares.grant),
    # -- a user -------------------------------------------------------------------------------
    GraphRoute("GET", "{user}", directory.get_user),
    GraphRoute("HEAD", "{user}", directory.get_user),
    GraphRoute("GET", "{user}/drives", directory.user_drives),
    GraphRoute("HEAD", "{user}/drives", directory.user_drives),
    # -- a drive -------------------------------------------------------------------------------
    GraphRoute("GET", "{drive}", operations.get_drive),
    # -- an item that need not exist yet -------------------------------------------------------
    GraphRoute(
        "PUT", "{address}/content", put_content, max_body=MAX_UPLOAD_BYTES, too_large=too_large
    ),
    GraphRoute("POST", "{address}/createUploadSession", create_upload_session),
    # -- an item the caller may read -----------------------------------------------------------
    GraphRoute("GET", "{item}", operations.get_item),
    GraphRoute("HEAD", "{item}", operations.get_item),
    GraphRoute("PATCH", "{item}", changes.patch_item),
    GraphRoute("DELETE", "{item}", operations.delete_item),
    GraphRoute("GET", "{item}/children", operations.get_children),
    GraphRoute("POST", "{item}/children", create_child),
    GraphRoute("GET", "{item}/content", get_content),
    GraphRoute("HEAD", "{item}/content", get_content),
    GraphRoute("POST", "{item}/copy", changes.copy),
    GraphRoute("POST", "{item}/invite", graph_invite),
    GraphRoute("POST", "{item}/createLink", links.create_link),
    GraphRoute("GET", "{item}/permissions", list_permissions_response),
    GraphRoute("GET", "{item}/permissions/{permissionId}", operations.get_permission),
    GraphRoute("PATCH", "{item}/permissions/{permissionId}", operations.patch_permission),
    GraphRoute("DELETE", "{item}/permissions/{permissionId}", operations.delete_permission),
    GraphRoute("POST", "{item}/permissions/{permissionId}/grant", links.grant),
    GraphRoute("GET", "{item}/search(q='{q}')", operations.search_items, pattern=operations.SEARCH),
    GraphRoute("GET", "{item}/delta", delta.serve, pattern=delta.SEGMENT),
    GraphRoute("GET", "{item}/thumbnails", operations.thumbnails),
    GraphRoute("GET", "{item}/versions", operations.versions),
    GraphRoute("GET", "{item}/versions/{versionId}", operations.version),
    GraphRoute("POST", "{item}/preview", preview_item),
    # -- the older OneDrive API's actions, on the same item addresses --------------------------
    *onedrive_v1.ROUTES,
)

# Every operation on an addressed item, (action after the item, method), as tests walk them.
ITEM_OPERATIONS = tuple(
    (row.action, row.method) for row in ROUTES if row.target in ("{item}", "{address}")
)

# A segment of a row's path after its target: literal text, None for ``{name}`` (any text,
# passed to the handler), or a compiled ``pattern`` (the text passed as spelled).
Part = str | re.Pattern[str] | None


def _parts(row: GraphRoute) -> tuple[Part, ...]:
    text = row.path.removeprefix(row.target).removeprefix("/") if row.target != "/" else row.path
    segments = [s for s in text.split("/") if s]
    parts: list[Part] = [None if re.fullmatch(r"\{\w+\}", s) else s for s in segments]
    if row.pattern is not None:
        parts[-1] = re.compile(row.pattern, re.DOTALL)
    return tuple(parts)


class Rows:
    """The rows of one target, by path, for ``find``: a path of literal segments is one dict
    look-up; the few with ``{name}`` segments or a pattern are tried by their length."""

    def __init__(self, rows: list[GraphRoute]) -> None:
        self.literal: dict[tuple[str, ...], dict[str, GraphRoute]] = {}
        self.shaped: dict[int, list[tuple[tuple[Part, ...], dict[str, GraphRoute]]]] = {}
        shaped: dict[tuple[Part, ...], dict[str, GraphRoute]] = {}
        for row in rows:
            parts = _parts(row)
            if all(isinstance(part, str) for part in parts):
                self.literal.setdefault(parts, {})[row.method] = row  # type: ignore[arg-type]
            else:
                shaped.setdefault(parts, {})[row.method] = row
        for parts, by_method in shaped.items():
            self.shaped.setdefault(len(parts), []).append((parts, by_method))


def _values(parts: tuple[Part, ...], segments: tuple[str, ...]) -> tuple[str, ...] | None:
    """The values the segments give a path of these parts (as long), or None if they do not
    match."""
    values = []
    for part, segment in zip(parts, segments, strict=True):
        if part is None:
            values.append(segment)
        elif isinstance(part, str):
            if part != segment:
                return None
        elif part.fullmatch(segment):
            values.append(segment)
        else:
            return None
    return tuple(values)


@lru_cache(maxsize=4096)
def lookup(
    rows: Rows, segments: tuple[str, ...]
) -> tuple[dict[str, GraphRoute], tuple[str, ...]] | None:
    """The rows (by method) of ``rows`` whose path these segments spell, and the values the
    segments give them; None if no row serves them, with any method. Remembered (clients repeat
    their paths): a path seen before costs no Python call. Paths of rows never overlap:
    ``tests/test_route_tables.py`` finds each row at its own addresses."""
    by_method = rows.literal.get(segments)
    if by_method is not None:
        return by_method, ()
    for parts, by_method in rows.shaped.get(len(segments), ()):
        values = _values(parts, segments)
        if values is not None:
            return by_method, values
    return None


_RESOURCES = Rows([row for row in ROUTES if row.target == "/"])
_SHARES = Rows([row for row in ROUTES if row.target == "{share}"])
_USERS = Rows([row for row in ROUTES if row.target == "{user}"])
_DRIVES = Rows([row for row in ROUTES if row.target == "{drive}"])
_ITEMS = Rows([row for row in ROUTES if row.target in ("{item}", "{address}")])
# handlers that read a body are coroutines; the others answer at once
_ASYNC = frozenset(row.handler for row in ROUTES if inspect.iscoroutinefunction(row.handler))
NONE: tuple[dict[str, GraphRoute], tuple[str, ...]] = ({}, ())  # no row, with any method


@lru_cache(maxsize=4096)
def address_of(rest: str) -> tuple:
    """What a path in its normal form addresses, whatever the method, in the dispatch's order:
    ``("share", shareId, tail)``; ``("resource", rows by method, values)`` (a resource of its
    own: ``/drives``, ``sharedWithMe``); ``("user", key or None for /me, rows by method,
    values)``; ``("drive",)`` (a drive, or anything in one); ``("none", segments)``.
    Remembered, as ``parse_raw_path`` is (a refused path raises, and is not remembered)."""
    if rest.startswith("/shares/"):  # using a sharing link
        return ("share", *shares.share_address(rest))
    segments = tuple(filter(None, decode_path(rest).split("/")))
    matched = lookup(_RESOURCES, segments)
    if matched is not None:
        return ("resource", *matched)
    user = directory.user_address(segments)
    if user is not None:
        matched = lookup(_USERS, user[1])
        if matched is not None:
            return ("user", user[0], *matched)
    if directory.addresses_drive(segments):
        return ("drive",)
    return ("none", segments)


def handle(request: web.Request, call: Call, rest: str) -> Answer:
    """Entry point for everything under ``/v1.0`` and ``/beta`` (``rest``: the raw path after
    the version, read in its one normal form from here on). ``call`` is this request's own
    (``call_of``): the dispatch completes it (viewer, downloads, options) in place. No step of
    the dispatch is a coroutine: a row's handler answers at once, or (one that reads a body)
    gives a coroutine, which the pipeline awaits (``Answer``)."""
    rest = normalize_path(rest)
    # (``raw_query_string`` is empty as ``query_string`` is, without a call: most have none)
    if request.rel_url.raw_query_string and request.method in ("GET", "HEAD"):  # no body
        query = odata.with_dollars(request.query)
        if query is not None:  # ``?select=…``: read as ``?$select=…`` from here on
            request = request.clone(rel_url=request.rel_url.with_query(query))
    principal = call.principal
    if principal is not None and principal.kind == APPLICATION:  # (``enter`` changes no other)
        call = authorize.enter(call, rest)  # the token's kind and scopes (model/scopes.py)
    call.viewer_id = call.caller.id  # rendered for the caller, no downloads yet
    if address_of(rest)[0] == "drive":  # most requests: ``dispatch``'s first case, at once
        response = serve_drive(request, call, rest)
    else:
        response = dispatch(request, call, rest)
    if type(response) is CoroutineType:  # (not isinstance: an ABC's check costs a call)
        return _versioned(response)
    response.headers[ODATA_VERSION] = "4.0"
    return response


async def _versioned(answer: Coroutine[Any, Any, web.StreamResponse]) -> web.StreamResponse:
    """The answer of a handler that reads a body, with the header ``handle`` adds to all."""
    response = await answer
    response.headers[ODATA_VERSION] = "4.0"
    return response


ODATA_VERSION = istr("OData-Version")  # (a key whose case multidict need not fold each time)


# What the dispatch gives: a row's answer, or the coroutine of a handler that reads a body
# (``_ASYNC``), for the pipeline to await
Answer = web.StreamResponse | Coroutine[Any, Any, web.StreamResponse]


def dispatch(request: web.Request, call: Call, rest: str) -> Answer:
    """The row of ``rest`` (in its normal form) for the request's method, once its target is
    resolved. Each target is resolved in one place: a check every request to it needs goes
    right after (a user here, a link in ``serve_share``, a drive in ``serve_drive``)."""
    address, method = address_of(rest), request.method
    kind = address[0]
    if kind == "drive":
        return serve_drive(request, call, rest)
    if kind == "share":
        return serve_share(request, call, address[1], address[2])
    if kind == "resource":
        row = address[1].get(method)
        if row is None:
            raise method_not_allowed(method, address[1])
        return row.handler(request, call, *address[2])
    if kind == "user":
        user = directory.resolve_user(call, address[1])  # missing: a 404 whatever the method
        row = address[2].get(method)
        if row is None:
            raise method_not_allowed(method, address[2])
        return row.handler(request, call, user, *address[3])
    raise directory.unserved(address[1])


def serve_share(request: web.Request, call: Call, share_id: str, tail: tuple[str, ...]) -> Answer:
    """``/shares/{shareId}/…``: what a sharing link reaches."""
    method = request.method
    matched = lookup(_SHARES, tail)
    by_method, values = NONE if matched is None else matched
    row = by_method.get(method)
    if row is None and (matched is not None or method != "GET"):  # all but the grant: GET
        raise method_not_allowed(method, by_method if matched is not None else ("GET",))
    if row is not None and row.method != "GET" and shares.link_user(call) is None:
        # before the link is looked up: the answer says nothing about it
        raise Unauthenticated("granting a link needs a signed-in user")
    item, permission = shares.resolve_share(call, share_id)
    redeem = method == "GET" and shares.wants_redeem(request)  # a membership for good: a write
    authorize.check_item(call, "POST" if redeem else method, item)  # the link's drive's scopes
    if redeem:
        link_model.redeem(call.state, shares.link_user(call), item, permission)
    if row is None:
        raise shares.unserved(call, item, tail)
    return row.handler(request, call, item, permission, *values)


def serve_drive(request: web.Request, call: Call, rest: str) -> Answer:
    """A drive (``/me/drive``) or anything addressed through one."""
    path = parse_raw_path(rest)
    call.downloads = Downloads(request, call.caller.id)  # files carry theirs
    state, caller, method = call.state, call.caller, request.method
    drive = resolve_drive(state, caller, path)
    principal = call.principal
    # the token's scopes (a read they allow, most of a token's requests, without the call)
    if (
        principal is not None
        and principal.kind != STATIC
        and (method not in ("GET", "HEAD") or not allows(principal, READ, drive, caller))
    ):
        authorize.check_drive(call, method, path.action, drive)
    if path.item_base is None:
        rows = (lookup(_DRIVES, ()) or NONE)[0]
        row = rows.get(method)
        if row is None:
            raise before_any_item(state, caller, drive, path, method_not_allowed(method, rows))
        return row.handler(request, call, drive, path)

    action = path.action
    matched = lookup(_ITEMS, action)
    by_method, values = NONE if matched is None else matched
    row = by_method.get(method)
    if row is not None and row.target == "{address}":  # the item may not exist yet
        if not path.item_path:  # an item the caller cannot read: 404 before If-Match or body
            resolve_visible_item(state, caller, drive, path)
        try:
            result = row.handler(request, call, drive, path, *values)
        except NotFound:  # nothing readable on the way: the same 404 as a missing item
            raise hidden(state, caller, drive, path) from None
        except (DomainError, ApiError) as refused:  # its input: a missing item's 404 if hidden
            raise refused_on_the_way(state, caller, drive, path, refused) from None
        if row.handler in _ASYNC:
            return _hiding(result, state, caller, drive, path)
        return result
    if action and function_name(action[0]) in ITEM_SEGMENTS:  # before the item must exist
        refused = unserved(action, method, by_method if matched is not None else None)
        raise before_any_item(state, caller, drive, path, refused)
    # a request by the drive's owner needs no roles walked to be served (``resolve_visible``):
    # a handler that asks for them walks them then (``require_read``, ``roles_seen``)
    item, roles = resolve_visible(state, caller, drive, path, False)
    call.seen = (caller, item, roles)  # the handler's read check (``require_read``) reuses them
    if method == "GET":  # options are refused before anything is served
        query = request.query if request.rel_url.raw_query_string else None  # most: none
        call.options = odata.NO_OPTIONS if query is None else odata.parse_options(query)
    if row is None:
        current = current_version_id(item) if action[:1] == ("versions",) else None
        raise unserved(action, method, by_method if matched is not None else None, current)
    return row.handler(request, call, item, *values)


async def _hiding(
    answer: Coroutine[Any, Any, web.StreamResponse],
    state: State,
    caller: User,
    drive: Drive,
    path: GraphPath,
) -> web.StreamResponse:
    """``answer`` awaited, its ``NotFound`` (nothing readable on the way to an item that need
    not exist yet) the same 404 as a missing item, and so its other refusals where the caller
    can read nothing on the way (``refused_on_the_way``)."""
    try:
        return await answer
    except NotFound:
        raise hidden(state, caller, drive, path) from None
    except (DomainError, ApiError) as refused:
        raise refused_on_the_way(state, caller, drive, path, refused) from None


def unserved(
    action: tuple[str, ...], method: str, served: Collection[str] | None, current: str | None = None
) -> Exception:
    """405 for a method the resource lacks (``served``: the methods rows serve the action with),
    501 for a Graph feature mockdrive lacks, and the gateway's 400 for a segment Graph does not
    have. ``current``: the item's current version id, where the action is under ``versions``."""
    if served is not None:
        return method_not_allowed(method, served)
    current_content = ("versions", current, "content")
    if current is not None and action == current_content and method in ("GET", "HEAD"):
        # the service's answer: the current version's bytes are the item's own ``…/content``
        return InvalidRequest("You cannot get the content of the current version.")
    head = function_name(action[0])
    if head == "search":
        return InvalidRequest("search takes one parameter: search(q='text')")
    if head in ITEM_SEGMENTS:
        return not_implemented(f"the driveItem {head!r} operation")
    if action[0] == "versions" and len(action) == 3 and action[2] in VERSION_SEGMENTS:
        return not_implemented(f"versions/{{id}}/{action[2]} (only the current version is kept)")
    if action[0] == "thumbnails" and len(action) > 1:
        return not_implemented("thumbnail sets (items have no thumbnails)")
    for segment in action:
        known_segment = segment in ("children", "content", "permissions", "versions", "thumbnails")
        if not known_segment and function_name(segment) not in ITEM_SEGMENTS:
            return bad_segment(segment)
    return bad_segment(action[-1])


def row_of(method: str, rest: str) -> GraphRoute | None:
    """The row serving ``method`` on ``rest`` (the raw path after the version), found from the
    path alone (nothing resolved), or None."""
    try:
        rest = normalize_path(rest)
        address = address_of(rest)
        kind = address[0]
        if kind == "share":
            return (lookup(_SHARES, address[2]) or NONE)[0].get(method)
        if kind in ("resource", "user"):
            return address[1 if kind == "resource" else 2].get(method)
        if kind == "none":
            return None
        path = parse_raw_path(rest)
    except (InvalidRequest, ApiError):  # refused by the dispatch before any body is read
        return None
    if path.item_base is None:
        return (lookup(_DRIVES, ()) or NONE)[0].get(method)
    return (lookup(_ITEMS, path.action) or NONE)[0].get(method)


def _body_rows() -> dict[str, list[GraphRoute]]:
    """By method, one row for each body limit its rows have, the largest first."""
    found: dict[str, dict[tuple, GraphRoute]] = {}
    for row in ROUTES:
        found.setdefault(row.method, {}).setdefault((row.max_body, row.too_large), row)
    return {
        method: sorted(rows.values(), key=lambda row: -row.max_body)
        for method, rows in found.items()
    }


_BODY_ROWS = _body_rows()


def body_row(method: str, rest: str) -> GraphRoute | None:
    """The row whose body limit a request takes: where the rows of its method differ in what
    they take, the row that serves it, or for a request no row serves, the row of its method
    that takes the most (its answer is a 405 or a 400, never a 413 a served path would not
    give); None if no row has that method."""
    rows = _BODY_ROWS.get(method)
    if rows is None:
        return None
    if len(rows) > 1:
        row = row_of(method, rest)
        if row is not None:
            return row
    return rows[0]


def method_not_allowed(method: str, served: Collection[str]) -> ApiError:
    """The 405 for ``method`` where rows serve the resource with the ``served`` methods, named
    in its ``Allow`` header as HTTP asks of every 405."""
    return ApiError(405, "notSupported", f"the method {method} is not supported on this resource",
                    None, {hdrs.ALLOW: ",".join(sorted(served))})  # fmt: skip
