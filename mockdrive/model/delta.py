"""The change log behind ``delta``: every create, rename, content change, move, delete and
sharing change of an item, in order, with the folders above it at that moment (so a delta
scoped to a folder filters in O(depth) per change). Tokens name a state, a position in the log
and when they were issued: a token of another state (before a reset), one older than the
retention on the virtual clock, or one whose changes were dropped from the bounded log needs a
resync.

A change that can shrink what a caller sees carries what was there before it, so that a later
round can tell whether the caller saw an item at the token's time (``ViewThen``): a removed or
expired permission is kept (O(1)), a deletion keeps the item's own permissions (the delete is
O(subtree) anyway), a break of inheritance is its own change (the item inherited before it), a
move names the folder it left. Changes that give something name what they gave (``granted``:
new permission ids, and ``{permission id}/{member}`` for a link's new members), O(recipients)
per change, so a permission that did not exist at the token's time is not counted then.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import islice
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from .clock import LAST_YEAR
from .copying import deepcopy_attrs, deepcopy_slots
from .errors import DomainError, InvalidRequest
from .grants import Permission, SharingLink
from .permissions import held_candidates, owns_drive
from .ranges import LARGEST_OFFSET, whole_number_text

if TYPE_CHECKING:
    from .identity import User
    from .state import State
    from .tree import DriveStore, Item

MAX_CHANGES = 100_000  # the log keeps this many; older tokens resync
MAX_ANCESTORS = 16  # forks a log remembers (``ChangeLog.fork``); tokens of older ones resync
SHORT_HISTORY = 32  # an item's changes: a list this short drops its oldest by a shift
# a longer one drops them in one cut once they are this share of it (1/8): each cut moves at
# most 7 kept changes per dropped one (amortised O(1)), and what is dropped but not yet cut
# (kept alive with the permissions a change carries) is at most 1/7 of what the log holds
CUT_SHARE = 8
CHANGE_KINDS = ("item", "deleted", "sharing")
TOKEN_RETENTION_DAYS = 30  # a delta token older than this (virtual time) resyncs
# generation, serial, issued (seconds since 1970, within the clock's years)
_TOKEN_PART_RANGES = (
    (0, 2**63 - 1),  # the state's generation
    (0, 2**63 - 1),  # the log position
    (int(datetime(1900, 1, 1, tzinfo=timezone.utc).timestamp()),
     int(datetime(LAST_YEAR, 12, 31, tzinfo=timezone.utc).timestamp())),  # when it was issued
    (0, 2**63 - 1),  # the position the round began at
)  # fmt: skip


class ResyncRequired(DomainError):
    """The token cannot be followed: start again without one (Graph: 410 resyncRequired)."""


@dataclass(slots=True, unsafe_hash=True)
class Change:
    """One entry of the log. Read-only by convention, not frozen: one is built for every
    change (every invite, upload, rename...), and a frozen dataclass of this many fields costs
    several times as much to build. Equal and hashed by its fields, as a frozen one is."""

    __deepcopy__ = deepcopy_slots  # a state's copy: see model/copying.py

    serial: int
    item_id: str
    drive_id: str
    above: tuple[str, ...]  # ids of the folders above the item when it changed
    kind: str  # "item", "deleted" or "sharing"
    name: str
    parent_id: str | None
    inherits: bool = True  # did the item inherit its parent's permissions (after the change)
    moved_from: str | None = None  # a move: the folder the item left
    left_above: tuple[str, ...] = ()  # a move: the folders above the one it left
    created: bool = False  # the item was made by this change (it did not exist before)
    broke: bool = False  # the item stopped inheriting here (so it inherited before)
    lost: tuple[Permission, ...] = ()  # permissions it lost (a deletion: all its own)
    granted: tuple[str, ...] = ()  # permission ids it gained, "{permission id}/{member}" too
    folder: bool = False  # the item is a folder (a removal still carries its facet)


class ChangeLog:
    __deepcopy__ = deepcopy_attrs  # a state's copy: see model/copying.py

    def __init__(self) -> None:
        self.changes: deque[Change] = deque(maxlen=MAX_CHANGES)
        self.by_item: dict[str, list[Change]] = {}  # the same changes, per item, oldest first
        # how many of the first changes in a long ``by_item`` list the log has dropped: they
        # go in one cut once they are 1/``CUT_SHARE`` of it, not one shift of the list per drop
        self.stale: dict[str, int] = {}
        self.serial = 0
        self.generation = 0  # which state this is (set by the backend on every reset)
        self.issued = False  # a token was handed out: an export carries the log for it
        # a loaded export that named its generation: the generation its first change takes
        # (reserved by the backend; 0: none), and the (generation, serial) of the states whose
        # history this one shares up to that serial, oldest first (``fork``)
        self.successor = 0
        self.ancestors: tuple[tuple[int, int], ...] = ()
        # (second, serial): the first change recorded at each clock reading that moved, so a
        # time stands for a log position (delta's ?token=<timestamp>); bounded like the log
        self.marks: list[tuple[int, int]] = []

    def record(
        self,
        store: DriveStore,
        item: Item,
        kind: str = "item",
        *,
        moved_from: str | None = None,
        created: bool = False,
        broke: bool = False,
        lost: tuple[Permission, ...] = (),
        granted: tuple[str, ...] = (),
        at: int | None = None,
    ) -> None:
        """Log a change of ``item``; a deletion (recorded before the item goes) keeps the
        item's own permissions as ``lost``; ``at``: the clock's reading in whole seconds.
        O(depth + what is lost or granted)."""
        if self.successor:
            self.fork()
        self.serial += 1
        if at is not None and (not self.marks or at > self.marks[-1][0]):
            self.marks.append((at, self.serial))
        items = store.items
        above = _ids_above(items, item)
        left_above: tuple[str, ...] = ()
        if moved_from is not None:
            left = items.get(moved_from)
            if left is not None:
                left_above = _ids_above(items, left)
        if kind == "deleted":
            lost = (*lost, *item.permissions)
        change = Change(
            self.serial, item.id, item.drive_id, above, kind, item.name, item.parent_id,
            item.inherits, moved_from, left_above, created, broke, lost, granted, item.is_folder,
        )  # fmt: skip
        self.append(change)

    def fork(self) -> None:
        """Take the successor generation, before the first change of a loaded state: the
        state it was loaded from (or another load of the same export) may have made other
        changes under the same numbers, so a token of its generation names this state's
        history only up to here. The last ``MAX_ANCESTORS`` forks are kept."""
        kept = self.ancestors[1 - MAX_ANCESTORS :]  # the last MAX_ANCESTORS - 1 (or fewer)
        self.ancestors = (*kept, (self.generation, self.serial))
        self.generation, self.successor = self.successor, 0

    def append(self, change: Change) -> None:
        """Add a change made by ``record`` (or read back from an export) to the log and its
        per-item index, dropping the oldest from both when the log is full."""
        changes = self.changes
        if len(changes) == changes.maxlen:  # the oldest is about to drop out of the log
            item_id = changes[0].item_id
            kept = self.by_item[item_id]
            stale = self.stale.pop(item_id, 0) + 1
            if stale == len(kept):
                del self.by_item[item_id]
            elif len(kept) <= SHORT_HISTORY or stale * CUT_SHARE >= len(kept):
                del kept[:stale]  # amortised O(1): each cut is paid for by its drops
            else:
                self.stale[item_id] = stale
        changes.append(change)
        self.by_item.setdefault(change.item_id, []).append(change)
        marks = self.marks
        while len(marks) > 1 and marks[1][1] <= changes[0].serial:  # before what is kept
            del marks[0]  # only once the log is full, one mark per second of changes at most

    def history(self, item_id: str, serial: int) -> list[Change]:
        """The changes of one item after ``serial``, oldest first (O(log + those changes))."""
        kept = self.by_item.get(item_id)
        if not kept:
            return []
        start = bisect_right(kept, serial, lo=self.stale.get(item_id, 0), key=_serial)
        return kept[start:]

    def last_until(self, item_id: str, serial: int) -> Change | None:
        """The last change of one item up to ``serial`` the log keeps (O(log its changes))."""
        kept = self.by_item.get(item_id)
        if not kept:
            return None
        stale = self.stale.get(item_id, 0)
        end = bisect_right(kept, serial, lo=stale, key=_serial)
        return kept[end - 1] if end > stale else None

    def since(self, serial: int) -> Iterator[Change]:
        """Changes after ``serial``, oldest first, read lazily: O(log n) to find the first (by
        binary search on the serials, which increase), then O(1) per change read, so a reader
        that takes one page touches one page."""
        if not self.changes:
            return iter(())
        kept = self._indexable()
        floor = self.changes[0].serial - 1  # older ones may linger in the list: not kept
        start = bisect_right(kept, max(serial, floor), key=_serial)
        return map(kept.__getitem__, range(start, len(kept)))

    def _indexable(self) -> list[Change]:
        """The log's changes in a list (a deque reaches its middle in O(n)), brought up to
        date from the deque: O(changes recorded since the last call), and a copy of what is
        kept once the changes the deque dropped are half of the list (amortised O(1))."""
        changes = self.changes
        mirror: list[Change] = self.__dict__.setdefault("_mirror", [])
        last = mirror[-1].serial if mirror else None
        if last is not None and changes[-1].serial < last:  # the deque was replaced: rebuild
            mirror, last = [], None
        newer = []
        for change in reversed(changes):
            if last is not None and change.serial <= last:
                break
            newer.append(change)
        newer.reverse()
        mirror.extend(newer)
        cut = bisect_right(mirror, changes[0].serial - 1, key=_serial)
        if cut * 2 > len(mirror):
            mirror = mirror[cut:]
        self.__dict__["_mirror"] = mirror
        return mirror

    @property
    def oldest_kept(self) -> int:
        return self.changes[0].serial if self.changes else self.serial + 1

    def position_at(self, second: int) -> int:
        """The log position at the end of ``second``: changes after it were made later.
        O(log marks)."""
        later = bisect_right(self.marks, second, key=lambda mark: mark[0])
        return self.marks[later][1] - 1 if later < len(self.marks) else self.serial


def _ids_above(items: dict[str, Item], item: Item) -> tuple[str, ...]:
    """The ids of the folders above ``item``, its parent first (``DriveStore.ancestors``'
    ids, without a generator: once per change)."""
    above = []
    parent_id = item.parent_id
    while parent_id is not None:
        above.append(parent_id)
        parent_id = items[parent_id].parent_id
    return tuple(above)


def _serial(change: Change) -> int:
    return change.serial


# A page of a later round lists what changed in its window of the log as it was when the page
# was served; a later page of the round reports gone what an earlier one listed. The pages served
# so far, as ((window end, log position when served), ...): consecutive windows served at one
# position are one entry, and the last entry's end is the token's own position. The first entry
# may be forgotten (served at ``FORGOTTEN``): what its windows listed is no longer known.
Served = tuple[tuple[int, int], ...]
MAX_SERVED = 32  # entries a token carries; beyond, the oldest two are one forgotten entry
FORGOTTEN = 0  # a forgotten entry's position (a page is served at or after its window's end > 0)
# A page also lists the folders above each item it lists; where the log alone cannot tell that
# a page listed such a folder (it came into the view after the page's window, or with a folder
# above it), the token names the change whose item they were listed above: at most this many.
MAX_ABOVE = 32


def make_token(
    state: State,
    serial: int | None = None,
    origin: int | None = None,
    served: Served = (),
    above: tuple[int, ...] = (),
) -> str:
    """A token for log position ``serial`` (default: now). ``origin``: a page of a later round
    goes on from ``serial`` but still answers "was it in the view" for the round's own token;
    ``served``: when its pages so far were served (their last window ends at ``serial``);
    ``above``: the changes whose folders above a page listed (``ShownInRound``)."""
    state.changes.issued = True
    issued = int(state.clock.moment().timestamp())
    position = state.changes.serial if serial is None else serial
    raw = f"{state.changes.generation}.{position}.{issued}"
    if origin is not None and (origin != position or served):
        raw += f".{origin}"
    for index, (end, served_at) in enumerate(served):
        raw += f".{served_at}" if index == len(served) - 1 else f".{served_at}.{end}"
    if above:
        raw += "~" + ".".join(map(str, above))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def served_after(served: Served, end: int, served_at: int) -> Served:
    """``served`` with one more page: its window ends at ``end``, served at log position
    ``served_at``. Past ``MAX_SERVED`` entries the oldest two become one forgotten entry: what
    their pages listed is then taken as never listed, so a removal of it may go unreported,
    but nothing the caller was never shown is named (asking at another position could: an item
    out of the view when its page was served may be in it at another page's)."""
    if served and served[-1][1] == served_at:
        return (*served[:-1], (end, served_at))
    served = (*served, (end, served_at))
    if len(served) > MAX_SERVED:
        served = ((served[1][0], FORGOTTEN), *served[2:])
    return served


def above_after(above: tuple[int, ...], served: Served, more: list[int]) -> tuple[int, ...]:
    """``above`` and ``more`` (changes of the page after them, in any order), less those in a
    forgotten entry's windows, the newest ``MAX_ABOVE``, in order: an older one dropped may
    leave a removal unreported, never names anything."""
    floor = served[0][0] if served and served[0][1] == FORGOTTEN else -1
    return tuple(serial for serial in (*above, *sorted(more)) if serial > floor)[-MAX_ABOVE:]


_TOKEN_TEXT = re.compile(r"[A-Za-z0-9_-]+={0,2}", re.ASCII)  # what make_token writes, padded or not


def read_token(state: State, token: str) -> tuple[int, int, Served, tuple[int, ...]]:
    """(the log position a token names, the position of the round it continues, when the
    round's pages so far were served, the changes whose folders above they listed), or
    ResyncRequired / InvalidRequest."""
    try:
        if not _TOKEN_TEXT.fullmatch(token):  # base64 would drop a stray character unseen
            raise ValueError("not URL-safe base64")
        padded = token + "=" * (-len(token) % 4)
        numbers_text, tilde, above_text = base64.urlsafe_b64decode(padded).decode().partition("~")
        parts = numbers_text.split(".")
        if len(parts) == 3:  # a token that starts its round (the round's origin is itself)
            parts.append(parts[1])
        pages = parts[4:]
        if len(pages) > 2 * MAX_SERVED or (pages and len(pages) % 2 == 0):
            raise ValueError("not a list of pages served")
        # each part within its range (ASCII digits; a time the clock can read), so a forged
        # token is refused here rather than overflowing datetime below
        generation, serial, issued, origin = (
            whole_number_text(part, "a delta token's part", low, high)
            for part, (low, high) in zip(parts[:4], _TOKEN_PART_RANGES, strict=True)
        )
        if not 0 <= origin <= serial:
            raise ValueError("a round cannot begin after its page")
        numbers = [whole_number_text(part, "a delta token's part", 0, 2**63 - 1) for part in pages]
        ends = [*numbers[1::2], serial] if numbers else []
        served = tuple(zip(ends, numbers[0::2], strict=True))
        # windows follow one another from the round's origin, each served when it ended or
        # after (or forgotten: only the first entry, and not the last), each entry later than
        # the one before
        previous_end, previous_at = origin, -1
        for index, (end, served_at) in enumerate(served):
            forgotten = served_at == FORGOTTEN and index == 0 and len(served) > 1
            in_order = previous_end < end and (end <= served_at or forgotten)
            if not in_order or served_at <= previous_at:
                raise ValueError("pages served out of order")
            previous_end, previous_at = end, served_at
        above = tuple(
            whole_number_text(part, "a delta token's part", 0, 2**63 - 1)
            for part in (above_text.split(".") if tilde else ())
        )
        # changes of the round's pages after any forgotten one, each once, oldest first
        floor = served[0][0] if served and served[0][1] == FORGOTTEN else origin
        if tilde and not (
            served
            and len(above) <= MAX_ABOVE
            and all(a < b for a, b in zip((floor, *above), (*above, serial + 1), strict=True))
        ):
            raise ValueError("not a list of changes listed above")
    except (ValueError, binascii.Error, UnicodeDecodeError, InvalidRequest):
        raise InvalidRequest(f"the delta token {token!r} is not valid") from None
    log = state.changes
    if generation == log.generation:
        last = log.serial
    else:  # a state this one was loaded from: their histories agree up to its fork
        last = next((fork for gen, fork in log.ancestors if gen == generation), -1)
    if max(serial, served[-1][1] if served else 0) > last:
        if last < 0:
            raise ResyncRequired("the delta token is from another state (reset); resync", "resync")
        raise ResyncRequired(
            "the delta token names changes this state does not have (made after the export it "
            "was loaded from, or by another copy of it); resync",
            "resync",
        )
    issued_at = datetime.fromtimestamp(issued, timezone.utc)
    if state.clock.moment() - issued_at > timedelta(days=TOKEN_RETENTION_DAYS):
        raise ResyncRequired(f"the delta token is older than {TOKEN_RETENTION_DAYS} days")
    if origin + 1 < log.oldest_kept:
        raise ResyncRequired("the changes since this delta token are no longer kept")
    return serial, origin, served, above


def make_walk_token(state: State, offset: int) -> str:
    """The ``$skiptoken`` of a first round's next page: the walk's ``offset`` after a token of
    this state, so that the page asked for in another state (after a reset or a load) resyncs
    as that state's deltaLink would."""
    return f"{make_token(state)}.{offset}"


def read_walk_token(state: State, text: str) -> int:
    """The offset a ``make_walk_token`` names, or ResyncRequired (checked as ``read_token``
    checks a deltaLink's token) / InvalidRequest."""
    token, dot, offset = text.rpartition(".")
    if not dot or not token:
        raise InvalidRequest(f"the $skiptoken {text!r} is not valid")
    number = whole_number_text(offset, "$skiptoken", 0, LARGEST_OFFSET)
    read_token(state, token)
    return number


_TIME_TOKEN = re.compile(
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d{1,7})?(Z|[+-]\d{1,2}:[0-5]\d)", re.ASCII
)


def time_token(token: str) -> datetime | None:
    """A delta token that is a time (``2021-09-29T20:00:00Z``, ``…T12:00:00+8:00``, as the docs
    write them), as an aware datetime; None for any other token."""
    match = _TIME_TOKEN.fullmatch(token)
    if match is None:
        return None
    zone = match[2]
    if zone != "Z":
        hours, _, minutes = zone[1:].partition(":")
        zone = f"{zone[0]}{int(hours):02d}:{minutes}"
    try:
        return datetime.fromisoformat(match[1] + zone.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"the delta token {token!r} is not a valid time") from None


def position_at_time(state: State, when: datetime) -> int:
    """The log position a time names (changes after it came later), or ResyncRequired when
    the changes since then are no longer kept or the time is beyond the retention. The log
    knows changes to the second, so those made within the time's own second count as later:
    one made after the time is never left out. A time yet to come names the log's end."""
    log = state.changes
    now = state.clock.moment()
    if now - when > timedelta(days=TOKEN_RETENTION_DAYS):
        raise ResyncRequired(f"the time is more than {TOKEN_RETENTION_DAYS} days ago")
    second = min(math.floor(when.timestamp()) - 1, int(now.timestamp()))  # the one before
    position = log.position_at(second)
    if position + 1 < log.oldest_kept:
        raise ResyncRequired("the changes since this time are no longer kept")
    return position


def in_scope(change: Change, scope: Item) -> bool:
    """Does ``change`` concern the folder ``scope`` or something below it: the item was there
    when it changed, or a move took it out of there. O(depth)."""
    return (
        change.item_id == scope.id
        or scope.id in change.above
        or change.moved_from == scope.id
        or scope.id in change.left_above
    )


class ViewThen:
    """Was an item in ``caller``'s view from ``scope`` at log position ``since`` (the token's
    time)? Rebuilt from the log: the item existed then (not created since), its parent then
    (where its first move since took it from, else its parent now, or when deleted, or, gone
    with a folder since, where its last change before left it) was in the view then, and it
    was visible given that parent: the caller owns the drive, or the item inherited then (not
    broken since), or a permission it held then applies to the caller. Its permissions then are
    those it holds now plus those lost since, less those granted since; a link's members then
    are those now less those granted since. ``scope`` itself counts as in the view then (the
    caller read it for the token).

    Where the log cannot tell, the answer is no: a permission granted and removed since the
    token, an item gone with its folder that did not inherit (its permissions went with it) or
    whose last change the log no longer keeps. A caller is then not told of an item they may
    have seen, rather than told of one they never saw. O(depth x changes of each item on the
    way since the token) per item, memoised per request.
    """

    def __init__(self, store: DriveStore, log: ChangeLog, caller: User, scope: Item, since: int):
        self.store, self.log, self.caller, self.since = store, log, caller, since
        # the drive's owner, or an app-only caller (the same roles all through the drive)
        self.owner = owns_drive(store, caller, scope) or caller.app is not None
        self.scope_id = scope.id
        self.known: dict[str, bool] = {scope.id: True}
        self.parents: dict[str, str | None] = {}  # each item asked about → its parent then

    def __call__(self, item_id: str) -> bool:
        known = self.known
        pending: list[tuple[str, bool]] = []  # (item, visible given its parent then), upwards
        current: str | None = item_id
        answer = False
        while current is not None:
            if current in known:
                answer = known[current]
                break
            if any(seen == current for seen, _ in pending):
                break  # a loop cannot happen in a tree; be safe
            step = self._then(current)
            if step is None:
                break
            parent_then, visible = step
            pending.append((current, visible))
            self.parents[current] = parent_then
            current = parent_then
        for seen, visible in reversed(pending):
            answer = answer and visible
            known[seen] = answer
        return known.get(item_id, False)

    def folders_above(self, item_id: str) -> list[str]:
        """The folders from ``scope`` down to the item's parent then, if the item was in the
        view then (else none): what a page served then listed above it. O(depth)."""
        if item_id == self.scope_id or not self(item_id):
            return []
        folders = []
        current = self.parents[item_id]
        while current is not None and current != self.scope_id:
            folders.append(current)
            current = self.parents[current]
        folders.append(self.scope_id)
        return folders

    def _then(self, item_id: str) -> tuple[str | None, bool] | None:
        """(its parent then, was it visible given a visible parent then); None: it did not
        exist then, or the log cannot tell."""
        history = self.log.history(item_id, self.since)
        item = self.store.items.get(item_id)
        if any(change.created for change in history):
            return None
        if history:
            first = history[0]
            inherits = True if first.broke else first.inherits
            move = next((c for c in history if c.moved_from is not None), None)
            parent = move.moved_from if move is not None else first.parent_id
        elif item is not None:
            inherits, parent = item.inherits, item.parent_id
        else:  # gone with a folder since, no change of its own: as its last change left it
            before = self.log.last_until(item_id, self.since)
            if before is None or before.kind == "deleted":
                return None  # the log cannot tell, or it was gone already
            inherits, parent = before.inherits, before.parent_id
        if self.owner or inherits:
            return parent, True
        granted = {key for change in history for key in change.granted}
        held = held_candidates(item, self.caller) if item is not None else []
        lost = (p for change in history for p in change.lost)
        caller = self.caller
        visible = any(_held_then(p, caller, granted) for p in held) or any(
            _held_then(p, caller, granted) for p in lost
        )
        return parent, visible


class ShownInRound:
    """Has ``caller`` been shown an item by this round of ``scope``'s delta: was it in their
    view at the round's token (``origin``), or did an earlier page of the round list it?

    A page lists each item with a change in its window of the log that is in scope and more
    than a sharing change (unless the caller asks for those), when the item is in the view as
    the page is served (``served`` says when), and the folders from ``scope`` down to each such
    item. An item is so shown when one of its own changes in a page's window passes that test
    at the page's position; a folder listed above an item is known from the log that way too
    when it was in the view at the token or had a change of its own in that window or an
    earlier page's; otherwise the token names the change of the item it was listed above
    (``above``), whose folders then are those listed. An item made after the token, listed by
    a page and gone before the next is so reported gone, and one no page listed is never named.
    O(the item's changes in the round x depth), plus, once a request, the folders above
    ``above``'s items; the views at each position memoised."""

    def __init__(
        self,
        store: DriveStore,
        log: ChangeLog,
        caller: User,
        scope: Item,
        origin: int,
        served: Served = (),
        sharing_listed: bool = False,
        above: tuple[int, ...] = (),
    ):
        self.store, self.log, self.caller, self.scope = store, log, caller, scope
        self.origin, self.served, self.sharing_listed = origin, served, sharing_listed
        self.above = above
        self.listed_above: set[str] | None = None  # the folders above ``above``'s items
        self.at_origin = ViewThen(store, log, caller, scope, origin)
        self.views: dict[int, ViewThen] = {}  # log position served at → the view then
        self.ends = [end for end, _ in served]

    def __call__(self, item_id: str) -> bool:
        return self.at_origin(item_id) or self.listed(item_id) or self.listed_as_above(item_id)

    def listed(self, item_id: str) -> bool:
        """Did a page of the round list the item for a change of its own?"""
        if not self.served:
            return False
        round_end = self.ends[-1]
        asked: set[int] = set()
        for change in self.log.history(item_id, self.origin):
            if change.serial > round_end:
                break
            if (change.kind == "sharing" and not self.sharing_listed) or not in_scope(
                change, self.scope
            ):
                continue
            served_at = self._served_at(change.serial)
            if served_at == FORGOTTEN or served_at in asked:
                continue
            asked.add(served_at)
            if self._view(served_at)(item_id):
                return True
        return False

    def listed_as_above(self, item_id: str) -> bool:
        """Did a page list the item above one of ``above``'s items?"""
        if self.listed_above is None:
            self.listed_above = set()
            for serial in self.above:
                served_at = self._served_at(serial)
                change = next(self.log.since(serial - 1), None)
                if served_at == FORGOTTEN or change is None or change.serial != serial:
                    continue
                self.listed_above.update(self._view(served_at).folders_above(change.item_id))
        return item_id in self.listed_above

    def _served_at(self, serial: int) -> int:
        """When the page whose window holds log position ``serial`` was served."""
        return self.served[bisect_left(self.ends, serial)][1]

    def _view(self, served_at: int) -> ViewThen:
        view = self.views.get(served_at)
        if view is None:
            view = self.views[served_at] = ViewThen(
                self.store, self.log, self.caller, self.scope, served_at
            )
        return view


def _held_then(permission: Permission, caller: User, granted: set[str]) -> bool:
    """Did ``permission`` apply to ``caller`` before the grants in ``granted``?"""
    if permission.id in granted or not permission.holds(caller):
        return False
    link = permission.link
    if link is None:
        return True
    return any(f"{permission.id}/{key}" not in granted for key in link.member_keys(caller))


# -- export and load ----------------------------------------------------------------------------
@dataclass(slots=True)
class _Chains:
    """``log_to_data``'s chain table for a log's first changes, kept for its next export (an
    export after each step re-reads the same changes: only the changes since are walked). It
    holds while the log keeps the same deque with the same first and last of those changes:
    a full log drops its oldest, and everything is walked anew."""

    changes: deque[Change]
    first: Change | None = None
    last: Change | None = None
    pairs: list[tuple[str, int]] = field(default_factory=list)  # [folder, chain above it]
    index: dict[tuple[str, int], int] = field(default_factory=dict)
    by_above: dict[tuple[str, ...], int] = field(default_factory=dict)
    of: list[int] = field(default_factory=list)  # each change's chain
    left: list[int] = field(default_factory=list)  # each move's chain it left (-1: none)

    def holds_for(self, changes: deque[Change]) -> bool:
        done = len(self.of)
        if changes is not self.changes or done > len(changes):
            return False
        return done == 0 or (changes[0] is self.first and changes[done - 1] is self.last)

    def chain_of(self, above: tuple[str, ...]) -> int:
        if not above:
            return -1
        by_above = self.by_above
        chain = by_above.get(above)
        if chain is not None:
            return chain
        # The nearest known tail (every tail met so far is known): a folder and its children
        # share theirs, so a deep tree costs one step per new folder, not one per level. Each
        # tail is sliced and hashed once (a tuple does not keep its hash).
        tails: list[tuple[str, ...]] = []  # above[1:], above[2:] ... up to the known one
        chain = -1
        for start in range(1, len(above)):
            tail = above[start:]
            known = by_above.get(tail)
            if known is not None:
                chain = known
                break
            tails.append(tail)
        index, pairs = self.index, self.pairs
        for position in range(len(tails), -1, -1):  # the root first
            key = (above[position], chain)
            found = index.get(key)
            if found is None:
                found = index[key] = len(pairs)
                pairs.append(key)
            chain = by_above[tails[position - 1] if position else above] = found
        return chain

    def extend(self, changes: deque[Change]) -> None:
        """Walk the changes after those already walked."""
        of, left = self.of, self.left
        for change in islice(changes, len(of), None):
            of.append(self.chain_of(change.above))
            left.append(-1 if change.moved_from is None else self.chain_of(change.left_above))
        if changes:
            self.first, self.last = changes[0], changes[-1]


# a log's chains as its last export left them (not copied with a state: a copy walks anew)
_CHAINS: WeakKeyDictionary[ChangeLog, _Chains] = WeakKeyDictionary()


def log_to_data(log: ChangeLog) -> dict:
    """The log as scenario data (a reload answers every delta token as before): which state
    it is, its position, the states it forked from (``ancestors``, only when there are any:
    ``ChangeLog.fork``), and each change ``[serial, item, drive, kind, name, parent, chain]``,
    with an eighth element holding what ``ViewThen`` reads when it is not the default
    (``inherits``, ``movedFrom``, ``leftChain``, ``created``, ``broke``, ``granted``, and
    ``lost``: each lost permission as ``[id, grantee, address, pending, link member ids or
    null, link member addresses]``). The folders above each change are shared: ``chains``
    holds ``[folder, chain above it]`` pairs (-1: none), and a change names the chain of the
    folder it was in. O(changes since the last export of the same log, + changes)."""
    known = _CHAINS.get(log)
    if known is None or not known.holds_for(log.changes):
        known = _CHAINS[log] = _Chains(log.changes)
    known.extend(log.changes)
    chains = [list(pair) for pair in known.pairs]
    entries = []
    for change, chain, left in zip(log.changes, known.of, known.left, strict=True):
        entry = [change.serial, change.item_id, change.drive_id, change.kind, change.name,
                 change.parent_id, chain]  # fmt: skip
        extra: dict = {}
        if not change.inherits:
            extra["inherits"] = False
        if change.moved_from is not None:
            extra["movedFrom"] = change.moved_from
            extra["leftChain"] = left
        if change.created:
            extra["created"] = True
        if change.broke:
            extra["broke"] = True
        if change.granted:
            extra["granted"] = list(change.granted)
        if change.lost:
            extra["lost"] = [_lost_to_data(p) for p in change.lost]
        if change.folder:
            extra["folder"] = True
        if extra:
            entry.append(extra)
        entries.append(entry)
    data: dict = {"generation": log.generation, "serial": log.serial}
    if log.ancestors:  # a loaded state that changed since (``ChangeLog.fork``)
        data["ancestors"] = [list(fork) for fork in log.ancestors]
    data["chains"], data["log"] = chains, entries
    if log.marks:
        data["times"] = [list(mark) for mark in log.marks]
    return data


def log_from_data(log: ChangeLog, data: object) -> None:
    """Restore what ``log_to_data`` wrote; InvalidRequest names what is wrong."""
    if not isinstance(data, dict) or set(data) - _CHANGES_KEYS:
        raise InvalidRequest(
            "changes must hold generation, serial, ancestors, chains, log and times"
        )
    generation, serial = data.get("generation", 0), data.get("serial", 0)
    for name, value in (("generation", generation), ("serial", serial)):
        if not _whole(value):
            raise InvalidRequest(f"changes.{name} must be a whole number from 0 to 2^53")
    ancestors = _ancestors_from_data(_list_in(data, "ancestors"), generation, serial)
    chains: list[tuple[str, ...]] = []
    for entry in _list_in(data, "chains"):
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
            raise InvalidRequest("each of changes.chains is [folder id, chain index]")
        above = entry[1]
        if type(above) is not int or not -1 <= above < len(chains):
            raise InvalidRequest("a change chain names a chain after it")
        chains.append((entry[0], *(chains[above] if above >= 0 else ())))
    last = 0
    for entry in _list_in(data, "log"):
        if not (isinstance(entry, list) and len(entry) in (7, 8)):
            raise InvalidRequest("each of changes.log is [serial, item, drive, kind, name, "
                                 "parent, chain] and what else it records")  # fmt: skip
        number, item_id, drive_id, kind, name, parent_id, chain = entry[:7]
        extra = entry[7] if len(entry) == 8 else {}
        texts = (item_id, drive_id, name)
        if type(number) is not int or not last < number <= serial:
            raise InvalidRequest("changes.log must be in serial order, up to changes.serial")
        if not all(isinstance(t, str) for t in texts) or kind not in CHANGE_KINDS:
            raise InvalidRequest(f"change {number} is not a valid change")
        if parent_id is not None and not isinstance(parent_id, str):
            raise InvalidRequest(f"change {number} has an invalid parent")
        if type(chain) is not int or not -1 <= chain < len(chains):
            raise InvalidRequest(f"change {number} names no chain")
        above = chains[chain] if chain >= 0 else ()
        change = Change(number, item_id, drive_id, above, kind, name, parent_id)
        log.append(_with_extra(change, extra, chains, item_id))
        last = number
    # an export names the state's generation once a token was handed out (scenario/export.py)
    log.generation, log.serial, log.issued = generation, serial, "generation" in data
    log.ancestors = ancestors
    log.marks = _marks_from_data(_list_in(data, "times"), serial)


_CHANGES_KEYS = {"generation", "serial", "ancestors", "chains", "log", "times"}


def _whole(value: object) -> bool:
    """A whole number from 0 to 2^53 (not a boolean), as JSON keeps one exactly."""
    return type(value) is int and 0 <= value < 2**53


def _ancestors_from_data(forks: list, generation: int, serial: int) -> tuple[tuple[int, int], ...]:
    """``changes.ancestors``: at most ``MAX_ANCESTORS`` [generation, serial] pairs, each
    generation once (and not the state's own, which is not 0), the serials increasing and below
    the state's."""
    if forks and not generation:  # 0 (or none): the server takes a number, maybe one of them
        raise InvalidRequest("changes.ancestors needs changes.generation (not 0)")
    if len(forks) > MAX_ANCESTORS:
        raise InvalidRequest(f"changes.ancestors holds at most {MAX_ANCESTORS} entries")
    ancestors: list[tuple[int, int]] = []
    seen = {generation}
    for fork in forks:
        if not (isinstance(fork, list) and len(fork) == 2 and all(map(_whole, fork))):
            raise InvalidRequest(
                "each of changes.ancestors is [generation, serial], whole numbers from 0 to 2^53"
            )
        named, at = fork
        if named in seen:
            raise InvalidRequest("changes.ancestors names a generation twice")
        # below the state's serial: a fork is followed by its change (and this state's own
        # fork, at its serial, must come after them)
        if at >= serial or (ancestors and at <= ancestors[-1][1]):
            raise InvalidRequest("changes.ancestors' serials must increase, below changes.serial")
        seen.add(named)
        ancestors.append((named, at))
    return tuple(ancestors)


def _list_in(data: dict, key: str) -> list:
    """``changes[key]``, a list (missing or null: empty); anything else is refused."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest(f"changes.{key} must be a list")
    return value


def _marks_from_data(times: list, serial: int) -> list[tuple[int, int]]:
    """``changes.times``: [second, serial] pairs, both increasing."""
    marks: list[tuple[int, int]] = []
    for mark in times:
        if not (isinstance(mark, list) and len(mark) == 2 and all(type(v) is int for v in mark)):
            raise InvalidRequest("each of changes.times is [second, serial]")
        second, position = mark
        low, high = _TOKEN_PART_RANGES[2]
        if not (low <= second <= high and 0 < position <= serial):
            raise InvalidRequest("changes.times holds a time or a position out of range")
        if marks and not (second > marks[-1][0] and position > marks[-1][1]):
            raise InvalidRequest("changes.times must increase in both time and position")
        marks.append((second, position))
    return marks


_EXTRA_KEYS = {
    "inherits", "movedFrom", "leftChain", "created", "broke", "granted", "lost", "folder"
}  # fmt: skip


def _lost_to_data(permission: Permission) -> list:
    link = permission.link
    return [
        permission.id, permission.grantee_id, permission.invitation_email, permission.pending,
        list(link.member_ids) if link is not None else None,
        list(link.member_emails) if link is not None else [],
    ]  # fmt: skip


def _with_extra(change: Change, extra: object, chains: list[tuple[str, ...]], item_id: str):
    """``change`` with what ``log_to_data`` wrote in a change's eighth element."""
    where = f"change {change.serial}"
    if not isinstance(extra, dict) or set(extra) - _EXTRA_KEYS:
        raise InvalidRequest(f"{where}: its last element holds only {sorted(_EXTRA_KEYS)}")
    defaults = (("inherits", True), ("created", False), ("broke", False), ("folder", False))
    flags = {key: extra.get(key, default) for key, default in defaults}
    if not all(isinstance(v, bool) for v in flags.values()):
        raise InvalidRequest(f"{where}: inherits, created, broke and folder are true or false")
    moved_from, left = extra.get("movedFrom"), extra.get("leftChain", -1)
    if moved_from is not None and not isinstance(moved_from, str):
        raise InvalidRequest(f"{where}: movedFrom is an item id")
    if type(left) is not int or not -1 <= left < len(chains):
        raise InvalidRequest(f"{where}: leftChain names no chain")
    granted = extra.get("granted", [])
    if not isinstance(granted, list) or not all(isinstance(g, str) for g in granted):
        raise InvalidRequest(f"{where}: granted is a list of permission keys")
    lost = tuple(_lost_from_data(p, where, item_id) for p in _list(extra.get("lost", []), where))
    return Change(
        change.serial, change.item_id, change.drive_id, change.above, change.kind, change.name,
        change.parent_id, flags["inherits"], moved_from, chains[left] if left >= 0 else (),
        flags["created"], flags["broke"], lost, tuple(granted), flags["folder"],
    )  # fmt: skip


def _list(value: object, where: str) -> list:
    if not isinstance(value, list):
        raise InvalidRequest(f"{where}: lost is a list")
    return value


def _lost_from_data(data: object, where: str, item_id: str) -> Permission:
    if not (isinstance(data, list) and len(data) == 6):
        raise InvalidRequest(f"{where}: a lost permission is [id, grantee, address, pending, "
                             "member ids, member addresses]")  # fmt: skip
    permission_id, grantee, address, pending, member_ids, member_emails = data
    texts_ok = isinstance(permission_id, str) and all(
        v is None or isinstance(v, str) for v in (grantee, address)
    )
    members_ok = (member_ids is None or (isinstance(member_ids, list) and all(
        isinstance(m, str) for m in member_ids))) and isinstance(member_emails, list) and all(
        isinstance(m, str) for m in member_emails)  # fmt: skip
    if not texts_ok or not members_ok or not isinstance(pending, bool):
        raise InvalidRequest(f"{where}: a lost permission is not valid")
    link = None
    if member_ids is not None:  # what ``holds`` and ``member_keys`` read of a link
        link = SharingLink("view", "users", "", "", list(member_ids), list(member_emails))
    return Permission(permission_id, item_id, [], grantee, address, pending=pending, link=link)
