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
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from .clock import LAST_YEAR
from .errors import DomainError, InvalidRequest
from .permissions import held_candidates, owns_drive
from .ranges import whole_number_text

if TYPE_CHECKING:
    from .identity import User
    from .permissions import Permission
    from .state import State
    from .tree import DriveStore, Item

MAX_CHANGES = 100_000  # the log keeps this many; older tokens resync
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


@dataclass(frozen=True, slots=True)
class Change:
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


class ChangeLog:
    def __init__(self) -> None:
        self.changes: deque[Change] = deque(maxlen=MAX_CHANGES)
        self.by_item: dict[str, list[Change]] = {}  # the same changes, per item, oldest first
        self.serial = 0
        self.generation = 0  # which state this is (set by the backend on every reset)

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
    ) -> None:
        """Log a change of ``item``; a deletion (recorded before the item goes) keeps the
        item's own permissions as ``lost``. O(depth + what is lost or granted)."""
        self.serial += 1
        above = tuple(a.id for a in store.ancestors(item))
        left_above: tuple[str, ...] = ()
        left = store.items.get(moved_from or "")
        if left is not None:
            left_above = tuple(a.id for a in store.ancestors(left))
        if kind == "deleted":
            lost = (*lost, *item.permissions)
        change = Change(
            self.serial, item.id, item.drive_id, above, kind, item.name, item.parent_id,
            item.inherits, moved_from, left_above, created, broke, lost, granted,
        )  # fmt: skip
        changes = self.changes
        if len(changes) == changes.maxlen:  # the oldest is about to drop out of the log
            oldest = changes[0]
            kept = self.by_item[oldest.item_id]
            if len(kept) == 1:
                del self.by_item[oldest.item_id]
            else:
                del kept[0]
        changes.append(change)
        self.by_item.setdefault(item.id, []).append(change)

    def history(self, item_id: str, serial: int) -> list[Change]:
        """The changes of one item after ``serial``, oldest first (O(log + those changes))."""
        kept = self.by_item.get(item_id)
        if not kept:
            return []
        return kept[bisect_right(kept, serial, key=_serial) :]

    def since(self, serial: int) -> list[Change]:
        """Changes after ``serial``, oldest first (O(changes since), from the end of the log)."""
        newer: list[Change] = []
        for change in reversed(self.changes):
            if change.serial <= serial:
                break
            newer.append(change)
        newer.reverse()
        return newer

    @property
    def oldest_kept(self) -> int:
        return self.changes[0].serial if self.changes else self.serial + 1


def _serial(change: Change) -> int:
    return change.serial


def make_token(state: State, serial: int | None = None, origin: int | None = None) -> str:
    """A token for log position ``serial`` (default: now). ``origin``: a page of a later round
    goes on from ``serial`` but still answers "was it in the view" for the round's own token."""
    issued = int(state.clock.moment().timestamp())
    position = state.changes.serial if serial is None else serial
    raw = f"{state.changes.generation}.{position}.{issued}"
    if origin is not None and origin != position:
        raw += f".{origin}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def read_token(state: State, token: str) -> tuple[int, int]:
    """(the log position a token names, the position of the round it continues), or
    ResyncRequired / InvalidRequest."""
    try:
        padded = token + "=" * (-len(token) % 4)
        parts = base64.urlsafe_b64decode(padded).decode().split(".")
        if len(parts) == 3:  # a token that starts its round (the round's origin is itself)
            parts.append(parts[1])
        # each part within its range (ASCII digits; a time the clock can read), so a forged
        # token is refused here rather than overflowing datetime below
        generation, serial, issued, origin = (
            whole_number_text(part, "a delta token's part", low, high)
            for part, (low, high) in zip(parts, _TOKEN_PART_RANGES, strict=True)
        )
        if not 0 <= origin <= serial:
            raise ValueError("a round cannot begin after its page")
    except (ValueError, binascii.Error, UnicodeDecodeError, InvalidRequest):
        raise InvalidRequest(f"the delta token {token!r} is not valid") from None
    log = state.changes
    if generation != log.generation or serial > log.serial:
        raise ResyncRequired("the delta token is from another state (reset); resync", "resync")
    issued_at = datetime.fromtimestamp(issued, timezone.utc)
    if state.clock.moment() - issued_at > timedelta(days=TOKEN_RETENTION_DAYS):
        raise ResyncRequired(f"the delta token is older than {TOKEN_RETENTION_DAYS} days")
    if origin + 1 < log.oldest_kept:
        raise ResyncRequired("the changes since this delta token are no longer kept")
    return serial, origin


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
    (where its first move since took it from, else its parent now, or when deleted) was in the
    view then, and it was visible given that parent: the caller owns the drive, or the item
    inherited then (not broken since), or a permission it held then applies to the caller. Its
    permissions then are those it holds now plus those lost since, less those granted since;
    a link's members then are those now less those granted since. ``scope`` itself counts as
    in the view then (the caller read it for the token).

    Where the log cannot tell, the answer is no: a permission granted and removed since the
    token, an ancestor gone with its folder and no change of its own. A caller is then not
    told of an item they may have seen, rather than told of one they never saw. O(depth x
    changes of each item on the way since the token) per item, memoised per request.
    """

    def __init__(self, store: DriveStore, log: ChangeLog, caller: User, scope: Item, since: int):
        self.store, self.log, self.caller, self.since = store, log, caller, since
        self.owner = owns_drive(store, caller, scope)
        self.known: dict[str, bool] = {scope.id: True}

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
            current = parent_then
        for seen, visible in reversed(pending):
            answer = answer and visible
            known[seen] = answer
        return known.get(item_id, False)

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
        else:
            return None  # gone with a folder, no change of its own: unknown
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


def _held_then(permission: Permission, caller: User, granted: set[str]) -> bool:
    """Did ``permission`` apply to ``caller`` before the grants in ``granted``?"""
    if permission.id in granted or not permission.holds(caller):
        return False
    link = permission.link
    if link is None:
        return True
    return any(f"{permission.id}/{key}" not in granted for key in link.member_keys(caller))
