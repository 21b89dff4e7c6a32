"""``GET …/delta`` on a folder (``root/delta``, ``items/{id}/delta``, ``delta()`` and
``delta(token='…')`` as msgraph-sdk sends it): every item below the folder, then an
``@odata.deltaLink`` whose token returns only what changed since. ``?token=latest`` starts from
now. ``Prefer: deltashowsharingchanges`` also reports items whose permissions changed, marked
``@microsoft.graph.sharedChanged``; without it such items are reported only if they changed
otherwise too.
"""

from __future__ import annotations

import re
from itertools import islice
from typing import Any

from aiohttp import web

from ...model import delta
from ...model.errors import InvalidRequest
from ...model.permissions import require_role
from ...model.tree import Item
from ..context import Call
from ..errors import ApiError
from ..jsonio import fast_json_response
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
    require_role(state.store, call.caller, folder, "read")
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
            return _enumerate(request, call, folder, top, offset)
        if token == "latest":
            return _respond(request, [], delta.make_token(state), more=False)
        since = delta.read_token(state, token)
    except delta.ResyncRequired as error:
        raise ApiError(410, "resyncRequired", error.message, "resyncRequired") from None
    return _changes(request, call, folder, since, top, show_sharing)


def _enumerate(request: web.Request, call: Call, folder: Item, top: int, offset: int):
    """The first round: the folder and everything below it, a page at a time (O(offset +
    page)); the last page carries the deltaLink."""
    state = call.state
    page = list(islice(state.store.iter_subtree(folder), offset, offset + top + 1))
    value = [render_item(state, item) for item in page[:top]]
    if len(page) > top:
        query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
        query.update({"$top": str(top), "$skiptoken": str(offset + top)})
        return fast_json_response(
            {"value": value, "@odata.nextLink": str(request.url.with_query(query))}
        )
    return _respond(request, value, delta.make_token(state), more=False)


def _changes(
    request: web.Request, call: Call, folder: Item, since: int, top: int, show_sharing: bool
):
    """What changed below ``folder`` after log position ``since``: each item once, as it is
    now (or ``deleted``), oldest change first; more than a page continues with a nextLink."""
    state = call.state
    seen: dict[str, tuple[set[str], delta.Change]] = {}  # item id → (kinds, last change)
    last_serial, more = since, False
    for change in state.changes.since(since):
        if not delta.in_scope(change, folder):
            continue
        entry = seen.get(change.item_id)
        if entry is None:
            if change.kind == "sharing" and not show_sharing:
                continue
            if len(seen) == top:
                more = True
                break
            entry = seen[change.item_id] = (set(), change)
        entry[0].add(change.kind)
        seen[change.item_id] = (entry[0], change)
        last_serial = change.serial
    value = []
    for item_id, (kinds, last) in seen.items():
        item = state.store.items.get(item_id)
        if item is None or last.kind == "deleted":
            value.append(_deleted(state, last))
            continue
        rendered = render_item(state, item)
        if "sharing" in kinds and show_sharing:
            rendered[SHARED_CHANGED] = "True"
        value.append(rendered)
    token = _token_at(call, last_serial) if more else delta.make_token(state)
    return _respond(request, value, token, more)


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


def _respond(request: web.Request, value: list[dict[str, Any]], token: str, more: bool):
    query = {k: v for k, v in request.query.items() if k not in ("token", "$skiptoken")}
    query["token"] = token
    url = request.url
    if not url.path.endswith("/delta"):  # delta() / delta(token='…'): link to the plain form
        url = url.with_path(url.path[: url.path.rindex("/")] + "/delta", encoded=False)
    link = str(url.with_query(query))
    key = "@odata.nextLink" if more else "@odata.deltaLink"
    return fast_json_response({"value": value, key: link})
