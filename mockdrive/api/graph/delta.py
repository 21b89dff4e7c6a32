"""``GET …/delta`` on a folder (``root/delta``, ``items/{id}/delta``, ``delta()`` and
``delta(token='…')`` as msgraph-sdk sends it): every item below the folder, then an
``@odata.deltaLink`` whose token returns only what changed since. ``?token=latest`` starts from
now. ``Prefer: deltashowsharingchanges`` also reports items whose permissions changed, marked
``@microsoft.graph.sharedChanged``; without it such items are reported only if they changed
otherwise too.

What each caller gets is their view (``model/view.py``): the first round lists what they see
below the folder, pruned at what they cannot see; later rounds report a change only for an item
in that view now. An item that left the view since the token (its permission removed, or moved
under a folder the caller cannot see, or out of the folder) is reported as the service reports
removals: with the
``deleted`` facet and only ``id`` and ``parentReference`` (``driveId``, ``driveType``), never
its name or where it went; OneDrive for Business omits ``name`` from deletions too. mockdrive
reports such removals whether or not ``Prefer: deltashowremovedasdeleted`` is sent (a client
that never learns of a removal keeps a stale copy). An item is reported as removed when it is
hidden now and sits directly below a folder of the view, or was moved away from one in the
window: like the service, which includes a change when it cannot cheaply tell it is
irrelevant, this may name the id of an item the caller never saw, never more. Items changed
below a hidden item are not reported at all. A real deletion the caller saw (its folder is in
the view and it inherited from it) keeps its name and parent id, as before.

Business drives offer delta only on the root in the service; mockdrive serves it on any folder
(a scoped delta is a documented personal-drive feature and costs nothing to allow).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from ...model import delta
from ...model.errors import InvalidRequest
from ...model.permissions import require_role
from ...model.tree import Item
from ...model.view import roles_within, visible_below
from ..context import Call
from ..errors import ApiError
from ..jsonio import fast_json_response
from . import paging
from .items import page_params
from .render import render_item

_CALL_FORM = re.compile(r"^delta\((?:token=(?P<quote>'?)(?P<token>[^')]*)(?P=quote))?\)$")
SHARED_CHANGED = "@microsoft.graph.sharedChanged"


def is_delta(action: tuple[str, ...]) -> bool:
    return len(action) == 1 and (action[0] == "delta" or action[0].startswith("delta("))


def serve(request: web.Request, call: Call, folder: Item, action: tuple[str, ...]) -> web.Response:
    if request.method != "GET":
        raise ApiError(405, "notSupported", f"the method {request.method} is not supported here")
    state = call.state
    roles = require_role(state.store, call.caller, folder, "read")
    token = request.query.get("token")
    if action[0] != "delta":
        match = _CALL_FORM.match(action[0])
        if match is None:
            raise InvalidRequest(f"unsupported segment {action[0]!r}")
        token = match["token"] or token
    top, offset = page_params(request)
    prefer = ",".join(request.headers.getall("Prefer", [])).casefold()
    show_sharing = "deltashowsharingchanges" in prefer
    try:
        if token is None:
            return _enumerate(request, call, folder, roles, top, offset)
        if token == "latest":
            return _respond(request, [], delta.make_token(state), more=False)
        since = delta.read_token(state, token)
    except delta.ResyncRequired as error:
        raise ApiError(410, "resyncRequired", error.message, "resyncRequired") from None
    return _changes(request, call, folder, since, top, show_sharing)


def _enumerate(
    request: web.Request, call: Call, folder: Item, roles: set[str], top: int, offset: int
):
    """The first round: the folder and everything below it the caller sees, a page at a time
    (a page resumes the walk the previous one paused: O(page + hidden children passed); see
    ``paging``); the last page carries the deltaLink."""
    state, caller = call.state, call.caller

    def walk() -> Iterator[Item]:
        return (item for item, _ in visible_below(state.store, caller, folder, roles))

    page, more = paging.page(state, (caller.id, "delta", folder.id), offset, top, walk)
    value = [render_item(state, item) for item in page]
    if more:
        query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
        query.update({"$top": str(top), "$skiptoken": str(offset + top)})
        return fast_json_response(
            {"value": value, "@odata.nextLink": str(request.url.with_query(query))}
        )
    return _respond(request, value, delta.make_token(state), more=False)


def _changes(
    request: web.Request, call: Call, folder: Item, since: int, top: int, show_sharing: bool
):
    """What changed below ``folder`` after log position ``since``, as the caller sees it now:
    each item once, as it is now (or ``deleted``, or removed from the view), oldest change
    first; more than a page continues with a nextLink."""
    state = call.state
    seen: dict[str, _Seen] = {}  # item id → what its changes in the window were
    last_serial, more = since, False
    for change in state.changes.since(since):
        if not delta.in_scope(state.store, change, folder):
            continue
        entry = seen.get(change.item_id)
        if entry is None:
            if len(seen) == top:
                more = True
                break
            entry = seen[change.item_id] = _Seen()
        entry.kinds.add(change.kind)
        entry.last = change
        if change.moved_from is not None:
            entry.moved_from.append(change.moved_from)
        last_serial = change.serial
    value = []
    for item_id, entry in seen.items():
        reported = _report(call, folder, item_id, entry, show_sharing)
        if reported is not None:
            value.append(reported)
    token = _token_at(call, last_serial) if more else delta.make_token(state)
    return _respond(request, value, token, more)


class _Seen:
    __slots__ = ("kinds", "last", "moved_from")

    def __init__(self) -> None:
        self.kinds: set[str] = set()
        self.last: delta.Change | None = None
        self.moved_from: list[str] = []


def _report(
    call: Call, folder: Item, item_id: str, entry: _Seen, show_sharing: bool
) -> dict[str, Any] | None:
    """One item's entry for this caller: the item as it is now, a deletion, a removal from
    the caller's view, or nothing (it was and is hidden from them). O(depth)."""
    state, caller = call.state, call.caller
    store = state.store
    last = entry.last
    assert last is not None

    def in_view(folder_id: str | None) -> bool:
        parent = store.items.get(folder_id or "")
        return parent is not None and bool(roles_within(store, caller, folder, parent))

    item = store.items.get(item_id)
    if item is not None and last.kind != "deleted":
        if roles_within(store, caller, folder, item):
            if entry.kinds == {"sharing"} and not show_sharing:
                return None
            rendered = render_item(state, item)
            if "sharing" in entry.kinds and show_sharing:
                rendered[SHARED_CHANGED] = "True"
            return rendered
        if in_view(item.parent_id) or any(in_view(p) for p in entry.moved_from):
            return _removed(state, last)
        return None
    if in_view(last.parent_id):
        return _deleted(state, last) if last.inherits else _removed(state, last)
    if any(in_view(p) for p in entry.moved_from):
        return _removed(state, last)
    return None


def _token_at(call: Call, serial: int) -> str:
    state = call.state
    current, state.changes.serial = state.changes.serial, serial
    try:
        return delta.make_token(state)
    finally:
        state.changes.serial = current


def _deleted(call_state: Any, change: delta.Change) -> dict[str, Any]:
    drive = call_state.store.drives.get(change.drive_id)
    reference: dict[str, Any] = {"driveId": change.drive_id}
    if drive is not None:
        reference["driveType"] = drive.drive_type
    if change.parent_id is not None:
        reference["id"] = change.parent_id
    return {
        "id": change.item_id,
        "name": change.name,
        "deleted": {"state": "deleted"},
        "parentReference": reference,
    }


def _removed(state: Any, change: delta.Change) -> dict[str, Any]:
    """An item that left the caller's view: the id and drive only (no name, no parent)."""
    drive = state.store.drives.get(change.drive_id)
    reference: dict[str, Any] = {"driveId": change.drive_id}
    if drive is not None:
        reference["driveType"] = drive.drive_type
    return {"id": change.item_id, "deleted": {"state": "deleted"}, "parentReference": reference}


def _respond(request: web.Request, value: list[dict[str, Any]], token: str, more: bool):
    query = {k: v for k, v in request.query.items() if k not in ("token", "$skiptoken")}
    query["token"] = token
    url = request.url
    if not url.path.endswith("/delta"):  # delta() / delta(token='…'): link to the plain form
        url = url.with_path(url.path[: url.path.rindex("/")] + "/delta", encoded=False)
    link = str(url.with_query(query))
    key = "@odata.nextLink" if more else "@odata.deltaLink"
    return fast_json_response({"value": value, key: link})
