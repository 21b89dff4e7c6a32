"""The change log behind ``delta``: every create, rename, content change, delete and sharing
change of an item, in order, with the folders above it at that moment (so a delta scoped to a
folder filters in O(depth) per change). Tokens name a state, a position in the log and when
they were issued: a token of another state (before a reset), one older than the retention on
the virtual clock, or one whose changes were dropped from the bounded log needs a resync.
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from .errors import DomainError, InvalidRequest

if TYPE_CHECKING:
    from .state import State
    from .tree import DriveStore, Item

MAX_CHANGES = 100_000  # the log keeps this many; older tokens resync
CHANGE_KINDS = ("item", "deleted", "sharing")
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


class ChangeLog:
    def __init__(self) -> None:
        self.changes: deque[Change] = deque(maxlen=MAX_CHANGES)
        self.serial = 0
        self.generation = 0  # which state this is (set by the backend on every reset)
        self.issued = False  # a token was handed out: an export carries the log for it

    def record(self, store: DriveStore, item: Item, kind: str = "item") -> None:
        self.serial += 1
        above = tuple(a.id for a in store.ancestors(item))
        self.changes.append(
            Change(self.serial, item.id, item.drive_id, above, kind, item.name, item.parent_id)
        )

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


def make_token(state: State) -> str:
    state.changes.issued = True
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


def in_scope(change: Change, scope: Item) -> bool:
    return change.item_id == scope.id or scope.id in change.above


# -- export and load ----------------------------------------------------------------------------
def log_to_data(log: ChangeLog) -> dict:
    """The log as scenario data (a reload answers every delta token as before): which state
    it is, its position, and each change ``[serial, item, drive, kind, name, parent, chain]``.
    The folders above each change are shared: ``chains`` holds ``[folder, chain above it]``
    pairs (-1: none), and a change names the chain of the folder it was in."""
    chains: list[list] = []
    index: dict[tuple[str, int], int] = {}
    by_above: dict[tuple[str, ...], int] = {}
    entries = []
    for change in log.changes:
        chain = by_above.get(change.above)
        if chain is None:
            chain = -1
            for folder in reversed(change.above):  # the root first
                key = (folder, chain)
                found = index.get(key)
                if found is None:
                    found = index[key] = len(chains)
                    chains.append([folder, chain])
                chain = found
            by_above[change.above] = chain
        entries.append(
            [change.serial, change.item_id, change.drive_id, change.kind, change.name,
             change.parent_id, chain]
        )  # fmt: skip
    return {"generation": log.generation, "serial": log.serial, "chains": chains, "log": entries}


def log_from_data(log: ChangeLog, data: object) -> None:
    """Restore what ``log_to_data`` wrote; InvalidRequest names what is wrong."""
    if not isinstance(data, dict) or set(data) - {"generation", "serial", "chains", "log"}:
        raise InvalidRequest("changes must hold generation, serial, chains and log")
    generation, serial = data.get("generation", 0), data.get("serial", 0)
    for name, value in (("generation", generation), ("serial", serial)):
        if type(value) is not int or not 0 <= value < 2**53:
            raise InvalidRequest(f"changes.{name} must be a whole number from 0 to 2^53")
    chains: list[tuple[str, ...]] = []
    for entry in data.get("chains") or []:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
            raise InvalidRequest("each of changes.chains is [folder id, chain index]")
        above = entry[1]
        if type(above) is not int or not -1 <= above < len(chains):
            raise InvalidRequest("a change chain names a chain after it")
        chains.append((entry[0], *(chains[above] if above >= 0 else ())))
    last = 0
    for entry in data.get("log") or []:
        if not (isinstance(entry, list) and len(entry) == 7):
            raise InvalidRequest("each of changes.log is [serial, item, drive, kind, name, "
                                 "parent, chain]")  # fmt: skip
        number, item_id, drive_id, kind, name, parent_id, chain = entry
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
        log.changes.append(Change(number, item_id, drive_id, above, kind, name, parent_id))
        last = number
    log.generation, log.serial, log.issued = generation, serial, True
