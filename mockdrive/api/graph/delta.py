"""``GET …/delta`` on a folder (``root/delta``, ``items/{id}/delta``, ``delta()`` and
``delta(token='…')`` as msgraph-sdk sends it): every item below the folder, then an
``@odata.deltaLink`` whose token returns only what changed since. ``?token=latest`` starts from
now. ``Prefer: deltashowsharingchanges`` also reports items whose permissions changed, marked
``@microsoft.graph.sharedChanged``; without it such items are reported only if they changed
otherwise too.

What each caller gets is their view (``model/view.py``): the first round lists what they see
below the folder, pruned at what they cannot see; later rounds report a changed item that is in
that view now, as it is now, after the folders above it from the delta's folder down (the root
included for ``root/delta``), as they are now: the service lists a changed item's ancestors with
it (their size, childCount and tags moved with it) so that a client can place it, and marks only
the item itself ``sharedChanged``. The view holds every folder between the delta's folder and an
item in it, so no folder the caller cannot see is listed. Each item comes once a page, at its
first place (a folder that changed itself takes the place it got above an earlier item);
``$top`` counts changed items, their folders come on top, and a later page lists them again. The
documented ``deltaExcludeParent: true`` request header leaves the folders out (``false`` keeps
them); as a ``Prefer`` value it is reported to change nothing on the service, and changes
nothing here. Deletions and removals come alone: they need no placing. A changed item that is
not in the view now is
reported exactly when it was in the caller's view at the token's time (``delta.ViewThen``,
rebuilt from the log) or an earlier page of the round listed it, for a change of its own or
above another item (``delta.ShownInRound``: a ``nextLink`` carries when the round's pages were
served, and the changes whose items a page listed folders above that the log alone does not
show listed): it was deleted, moved out of the
folder or below a folder the caller cannot see, or lost through a permission removed or expired
or a break of inheritance. Such an item is reported as the service reports removals: with the
``deleted`` facet and only ``id``, ``parentReference`` (``driveId``, ``driveType``) and an empty
``file`` or ``folder`` facet, never its name or where it went; OneDrive for Business omits
``name`` from deletions too. Every removal keeps its ``file``/``folder`` facet, as the service's
do: sync clients (the Debian ``onedrive`` client) skip an entry with neither as an unsupported
item and so never delete their copy. mockdrive reports such removals whether or not ``Prefer:
deltashowremovedasdeleted`` is sent (a client that never learns of a removal keeps a stale
copy). A real deletion of an item the caller saw, whose folder is in the view and which
inherited from it, keeps its name and parent id. An item the caller never saw is never named,
not even by id; where the log cannot tell (a permission granted and removed since the token),
mockdrive leaves the item out rather than name one the caller may never have seen.

Business drives offer delta only on the root in the service; mockdrive serves it on any folder
(a scoped delta is a documented personal-drive feature and costs nothing to allow).
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterator
from typing import Any

from aiohttp import web

from ...model import delta
from ...model.errors import InvalidRequest
from ...model.permissions import require_role
from ...model.tree import DriveStore, Item
from ...model.view import roles_within, visible_below
from ..context import Call
from ..errors import ApiError
from ..jsonio import fast_json_response
from . import paging
from .envelope import first_values, next_link, own_url, shape
from .items import page_top
from .odata import skip_token
from .render import render_item

_CALL_FORM = re.compile(r"^delta\((?:token=(?P<quote>'?)(?P<token>[^')]*)(?P=quote))?\)$")
SHARED_CHANGED = "@microsoft.graph.sharedChanged"


# the segment's spellings: ``delta``, ``delta()``, ``delta(token='…')`` (row in ``routes.ROUTES``)
SEGMENT = r"delta(\(.*)?"


def serve(request: web.Request, call: Call, folder: Item, segment: str) -> web.Response:
    state = call.state
    roles = require_role(state.store, call.caller, folder, "read")
    token = request.query.get("token")
    if segment != "delta":
        match = _CALL_FORM.match(segment)
        if match is None:
            raise InvalidRequest(f"unsupported segment {segment!r}")
        token = match["token"] or token
    top = page_top(request)
    prefer = ",".join(request.headers.getall("Prefer", [])).casefold()
    show_sharing = "deltashowsharingchanges" in prefer
    try:
        skip = skip_token(request.query)  # a first round's page: its offset, in this state
        offset = 0 if skip is None else delta.read_walk_token(state, skip)
        served: delta.Served = ()
        above: tuple[int, ...] = ()
        if token is None:
            return _enumerate(request, call, folder, roles, top, offset)
        if token == "latest":
            return _respond(request, [], delta.make_token(state), more=False)
        when = delta.time_token(token)
        if when is None:
            since, origin, served, above = delta.read_token(state, token)
        elif state.store.drives[folder.drive_id].drive_type == "personal":
            raise InvalidRequest("a time as the delta token works on business drives only")
        else:  # the docs' ?token=<time>: the changes made after that time
            since = origin = delta.position_at_time(state, when)
    except delta.ResyncRequired as error:
        raise ApiError(410, "resyncRequired", error.message, "resyncRequired") from None
    # the documented boolean header: "true" leaves the folders out, "false" keeps them
    with_parents = request.headers.get("deltaExcludeParent", "").strip().lower() != "true"
    pages = (origin, served, above)
    return _changes(request, call, folder, since, pages, top, show_sharing, with_parents)


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
    select = _select(call)
    value = [shape(render_item(state, call, item), select) for item in page]
    if more:
        link = next_link(request, top, delta.make_walk_token(state, offset + top))
        return fast_json_response({"value": value, "@odata.nextLink": link})
    return _respond(request, value, delta.make_token(state), more=False)


def _changes(
    request: web.Request,
    call: Call,
    folder: Item,
    since: int,
    pages: tuple[int, delta.Served, tuple[int, ...]],
    top: int,
    show_sharing: bool,
    with_parents: bool,
):
    """What changed below ``folder`` after log position ``since``, as the caller sees it now:
    each item once, as it is now (or ``deleted``, or removed from the view), oldest change
    first; more than a page continues with a nextLink. ``pages``: what the round's token says
    of it (``delta.ShownInRound``): the position of the token that began it (a page goes on
    from ``since``), the time "did the caller see it" is asked for; when its earlier pages
    were served and the changes whose folders above them they listed, so that what they listed
    is reported gone."""
    state = call.state
    origin, served, above = pages
    seen: dict[str, tuple[set[str], delta.Change]] = {}  # item id → (kinds, its last change)
    last_serial, more = since, False
    for change in state.changes.since(since):
        if not delta.in_scope(change, folder):
            continue
        entry = seen.get(change.item_id)
        if entry is None:
            if len(seen) == top:
                more = True
                break
            seen[change.item_id] = ({change.kind}, change)
        else:
            entry[0].add(change.kind)
            seen[change.item_id] = (entry[0], change)
        last_serial = change.serial
    then = delta.ShownInRound(
        state.store, state.changes, call.caller, folder, origin, served, show_sharing, above
    )
    value: list[dict[str, Any]] = []
    placed: dict[str, int] = {}  # item id → its place in ``value``: each item once a page
    placed_above: list[tuple[int, list[str]]] = []  # (a change, the folders placed above it)
    for item_id, (kinds, last) in seen.items():
        reported = _report(call, folder, then, item_id, kinds, last, show_sharing)
        if reported is None:
            continue
        if item_id in placed:  # listed above an earlier item: its own entry takes that place
            value[placed[item_id]] = reported
            continue
        if with_parents and "deleted" not in reported:  # in the view now: so is its way down
            folders = _folders_above(state.store, folder, state.store.items[item_id], placed)
            for parent in folders:
                placed[parent.id] = len(value)
                value.append(shape(render_item(state, call, parent), _select(call)))
            if folders:
                placed_above.append((last.serial, [parent.id for parent in folders]))
        placed[item_id] = len(value)
        value.append(reported)
    if more:
        served = delta.served_after(served, last_serial, state.changes.serial)
        listed = delta.ShownInRound(
            state.store, state.changes, call.caller, folder, origin, served, show_sharing, above
        )
        above = delta.above_after(above, served, _unknown_above(listed, placed_above))
        token = delta.make_token(state, last_serial, origin, served, above)
    else:
        token = delta.make_token(state)
    return _respond(request, value, token, more)


def _unknown_above(
    listed: delta.ShownInRound, placed_above: list[tuple[int, list[str]]]
) -> list[int]:
    """Of the changes whose items this page listed folders above, those the token must name
    for a later page to know the folders were listed: a folder the log alone does not show
    listed (``listed``, which counts this page as served), one change for each. O(the folders
    placed x their changes in the round x depth)."""
    named: list[int] = []
    known: set[str] = set()
    for serial, folders in placed_above:
        if any(f not in known and not listed(f) for f in folders):
            named.append(serial)
        known.update(folders)
    return named


def _folders_above(
    store: DriveStore, folder: Item, item: Item, placed: Container[str]
) -> list[Item]:
    """The folders from ``folder`` down to ``item``'s parent not in ``placed`` yet, top first:
    the service reports a changed item's ancestors with it, as they are now (their size,
    childCount and tags moved with it), each before what is below it, so that a client can
    place the item. Above a folder already placed everything is placed (it came with its own
    ancestors). ``roles_within`` found ``item`` in the view from ``folder``, so every folder on
    the way is in it too. O(depth)."""
    chain = []
    current = item
    while current.id != folder.id and current.parent_id is not None:
        current = store.items[current.parent_id]
        if current.id in placed:
            break
        chain.append(current)
    chain.reverse()
    return chain


def _report(
    call: Call,
    folder: Item,
    then: delta.ShownInRound,
    item_id: str,
    kinds: set[str],
    last: delta.Change,
    show_sharing: bool,
) -> dict[str, Any] | None:
    """One item's entry for this caller: the item as it is now if it is in their view, else
    a deletion or a removal if it was in their view at the token's time or an earlier page of
    the round listed it, else nothing.
    O(depth x the changes of the items on the way since the token)."""
    state, caller = call.state, call.caller
    store = state.store
    item = store.items.get(item_id)
    if item is not None and last.kind != "deleted" and roles_within(store, caller, folder, item):
        if kinds == {"sharing"} and not show_sharing:
            return None
        rendered = shape(render_item(state, call, item), _select(call))
        if "sharing" in kinds and show_sharing:
            rendered[SHARED_CHANGED] = "True"
        return rendered
    if not then(item_id):
        return None  # never in the caller's view: not a word of it
    parent = store.items.get(last.parent_id or "")
    if (
        last.kind == "deleted"
        and last.inherits
        and parent is not None
        and roles_within(store, caller, folder, parent)
    ):
        removal = _deleted(state, last)
    else:
        removal = _removed(state, last)
    select = _select(call)  # a removal keeps ``deleted`` whatever is selected
    return removal if select is None else shape(removal, select | {"deleted"})


def _select(call: Call) -> frozenset[str] | None:
    """``$select``, as on any item: only those properties (and ``id``) of each entry."""
    return None if call.options is None else call.options.select


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
        **_facet(change),
    }


def _removed(state: Any, change: delta.Change) -> dict[str, Any]:
    """An item that left the caller's view: the id and drive only (no name, no parent)."""
    drive = state.store.drives.get(change.drive_id)
    reference: dict[str, Any] = {"driveId": change.drive_id}
    if drive is not None:
        reference["driveType"] = drive.drive_type
    return {
        "id": change.item_id,
        "deleted": {"state": "deleted"},
        "parentReference": reference,
        **_facet(change),
    }


def _facet(change: delta.Change) -> dict[str, Any]:
    """The empty ``file`` or ``folder`` facet a removal keeps."""
    return {"folder": {"childCount": 0}} if change.folder else {"file": {}}


def _respond(request: web.Request, value: list[dict[str, Any]], token: str, more: bool):
    query = first_values(request.query, "token", "$skiptoken")
    query["token"] = token
    url = own_url(request)
    if not url.path.endswith("/delta"):  # delta() / delta(token='…'): link to the plain form
        url = url.with_path(url.path[: url.path.rindex("/")] + "/delta", encoded=False)
    link = str(url.with_query(query))
    key = "@odata.nextLink" if more else "@odata.deltaLink"
    return fast_json_response({"value": value, key: link})
