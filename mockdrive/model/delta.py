"""The change log behind ``delta``: every create, rename, content change, delete and sharing
change of an item, in order, with the folders above it at that moment (so a delta scoped to a
folder filters in O(depth) per change). Tokens name a state, a position in the log and when
they were issued: a token of another state (before a reset), one older than the retention on
the virtual clock, or one whose changes were dropped from the bounded log needs a resync.
"""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_right
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from .errors import DomainError, InvalidRequest

if TYPE_CHECKING:
    from .state import State
    from .tree import DriveStore, Item

MAX_CHANGES = 100_000  # the log keeps this many; older tokens resync
TOKEN_RETENTION_DAYS = 30  # a delta token older than this (virtual time) resyncs


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
    inherits: bool = True  # did the item inherit its parent's permissions (then)
    moved_from: str | None = None  # a move: the folder the item left


class ChangeLog:
    def __init__(self) -> None:
        self.changes: deque[Change] = deque(maxlen=MAX_CHANGES)
        self.serial = 0
        self.generation = 0  # which state this is (set by the backend on every reset)

    def record(
        self, store: DriveStore, item: Item, kind: str = "item", moved_from: str | None = None
    ) -> None:
        self.serial += 1
        above = tuple(a.id for a in store.ancestors(item))
        change = Change(
            self.serial, item.id, item.drive_id, above, kind, item.name, item.parent_id,
            item.inherits, moved_from,
        )  # fmt: skip
        self.changes.append(change)

    def since(self, serial: int) -> Iterator[Change]:
        """Changes after ``serial``, oldest first, read lazily: O(log n) to find the first (by
        binary search on the serials, which increase), then O(1) per change read, so a reader
        that takes one page touches one page."""
        if not self.changes:
            return iter(())
        kept = self._indexable()
        floor = self.changes[0].serial - 1  # older ones may linger in the list: not kept
        start = bisect_right(kept, max(serial, floor), key=_serial_of)
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
        cut = bisect_right(mirror, changes[0].serial - 1, key=_serial_of)
        if cut * 2 > len(mirror):
            mirror = mirror[cut:]
        self.__dict__["_mirror"] = mirror
        return mirror

    @property
    def oldest_kept(self) -> int:
        return self.changes[0].serial if self.changes else self.serial + 1


def _serial_of(change: Change) -> int:
    return change.serial


def make_token(state: State) -> str:
    issued = int(state.clock.moment().timestamp())
    raw = f"{state.changes.generation}.{state.changes.serial}.{issued}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def read_token(state: State, token: str) -> int:
    """The log position a token names, or ResyncRequired / InvalidRequest."""
    try:
        padded = token + "=" * (-len(token) % 4)
        generation, serial, issued = (
            int(part) for part in base64.urlsafe_b64decode(padded).decode().split(".")
        )
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest(f"the delta token {token!r} is not valid") from None
    log = state.changes
    if generation != log.generation or serial > log.serial:
        raise ResyncRequired("the delta token is from another state (reset); resync", "resync")
    issued_at = datetime.fromtimestamp(issued, timezone.utc)
    if state.clock.moment() - issued_at > timedelta(days=TOKEN_RETENTION_DAYS):
        raise ResyncRequired(f"the delta token is older than {TOKEN_RETENTION_DAYS} days")
    if serial + 1 < log.oldest_kept:
        raise ResyncRequired("the changes since this delta token are no longer kept")
    return serial


def in_scope(store: DriveStore, change: Change, scope: Item) -> bool:
    """Does ``change`` concern the folder ``scope`` or something below it: the item was there
    when it changed, or a move took it out of there (O(depth) for a move, else O(1))."""
    if change.item_id == scope.id or scope.id in change.above:
        return True
    left = store.items.get(change.moved_from or "")
    if left is None:
        return False
    return left is scope or any(a is scope for a in store.ancestors(left))
