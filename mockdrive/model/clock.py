"""The state's one clock, and everything that expires against it.

Time is virtual: each reading (``now()``) moves it one second, so events stay ordered, and tests
move it further with ``advance(days=8)`` instead of sleeping. A clock either follows the wall
(``follow_wall``: it starts at the wall time, in whole seconds, and never reads less than the
wall time since then plus every advance, so clients that compare our timestamps with their own
clock agree) or is pinned (``set``, and a fresh clock: it moves only by readings and advances,
so runs stay byte-identical).
``Expirations`` is a min-heap of deadlines: a sweep pops only what is due, so checking on every
request costs O(1) when nothing expires and O(log n) per thing that does.
"""

from __future__ import annotations

import heapq
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .copying import deepcopy_attrs
from .errors import InvalidRequest
from .ids import EPOCH, LogicalClock, format_time

# The ranges of time (docs/number-ranges.md). Callers move the clock up to CLOCK_LAST_YEAR.
# Past that it still reads one second further per reading, and what the mock derives from it
# lies at most a century ahead (an anonymous link's longest life): a loaded clock may read up to
# LOADED_CLOCK_LAST_YEAR (an export of a clock that ticked past CLOCK_LAST_YEAR reloads), and
# date-times, from requests or scenarios, go up to LAST_YEAR. A century of ticks is about three
# billion requests, so no sequence of ordinary operations leaves these ranges, and every
# derived date-time stays clear of datetime's year 9999.
CLOCK_LAST_YEAR = 9000
LOADED_CLOCK_LAST_YEAR = CLOCK_LAST_YEAR + 100
LAST_YEAR = LOADED_CLOCK_LAST_YEAR + 400
# what format_time writes: UTC to the second (ASCII digits only: \d would take any script's)
CANONICAL_TIME = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")

__all__ = ["Clock", "Expirations", "format_time", "parse_time"]


def parse_time(value: object, name: str = "expirationDateTime") -> datetime:
    """An ISO 8601 date-time with a zone (``2024-01-08T00:00:00Z``), as an aware datetime."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a date-time string")
    if CANONICAL_TIME.fullmatch(value) and "1900" <= value < str(LAST_YEAR + 1):
        try:  # the common form, read without rewriting it (an impossible date falls through)
            return datetime.fromisoformat(value[:-1] + "+00:00")  # its zone is timezone.utc
        except ValueError:
            pass
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        moment = moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise InvalidRequest(f"{name} {value!r} is not a date-time") from None
    if not 1900 <= moment.year <= LAST_YEAR:
        raise InvalidRequest(f"{name} {value!r} is out of range (years 1900 to {LAST_YEAR})")
    return moment


class Clock(LogicalClock):
    """The logical clock (one second per reading) that tests can also move forward."""

    __deepcopy__ = deepcopy_attrs  # a state's copy: see model/copying.py

    def __init__(self, start: datetime = EPOCH) -> None:
        super().__init__(start)
        self.moved = False  # set or advanced: exports then say what it reads
        self.pinned = False  # set or pinned: a server's default (the wall) leaves it alone
        self._wall: Callable[[], float] | None = None  # a monotonic source, when following
        self._origin = 0.0  # its reading when the clock started following it
        self._advanced = 0  # seconds advanced since then
        # readings, advances and sets: what moves the clock other than the wall passing (a
        # listing paused between pages is still good while this and the change log stand)
        self.version = 0
        # a start and its timestamp, as one tuple: a thread reading between two separate
        # writes would add the ticks to the previous start's timestamp
        self._epoch: tuple[datetime | None, int] = (None, 0)

    @property
    def follows_wall(self) -> bool:
        return self._wall is not None

    def follow_wall(self, source: Callable[[], float] = time.monotonic) -> None:
        """Start at the wall time now (whole seconds) and keep up with real time from here."""
        self._start = datetime.now(timezone.utc).replace(microsecond=0)
        self._ticks = self._advanced = 0
        self._wall, self._origin, self.pinned = source, source(), False
        self.version += 1

    def pin(self) -> None:
        """Keep reading as now, moved only by readings and advances (``set`` also pins)."""
        self._wall, self.pinned = None, True

    def _catch_up(self) -> None:
        if self._wall is not None:
            real = int(self._wall() - self._origin) + self._advanced
            if real > self._ticks:
                self._ticks = real

    def now(self) -> str:
        self._catch_up()
        self.version += 1
        return super().now()

    def tick(self) -> None:
        self._catch_up()
        self._ticks += 1
        self.version += 1

    def peek(self) -> str:
        self._catch_up()
        return super().peek()

    def moment(self) -> datetime:
        """The current time as a datetime, without advancing."""
        self._catch_up()
        return self._start + timedelta(seconds=self._ticks)

    def epoch_seconds(self) -> int:
        """``int(moment().timestamp())`` without building the datetime: the start's timestamp
        is kept per start (a start in whole seconds, as every start but a constructor's is).
        Read on every request or two: ``_catch_up`` inline."""
        if self._wall is not None:
            real = int(self._wall() - self._origin) + self._advanced
            if real > self._ticks:
                self._ticks = real
        start = self._start
        if start.microsecond:
            return int(self.moment().timestamp())
        kept, epoch = self._epoch
        if start is not kept:
            epoch = int(start.timestamp())
            self._epoch = (start, epoch)
        return epoch + self._ticks

    def advance(
        self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
    ) -> str:
        """Move the clock forward (never back) and return the new time."""
        step = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if step < timedelta(0):
            raise InvalidRequest("the clock only moves forward")
        if (self.moment() + step).year > CLOCK_LAST_YEAR:
            raise InvalidRequest(f"the clock cannot pass the year {CLOCK_LAST_YEAR}")
        self._ticks += int(step.total_seconds())
        self._advanced += int(step.total_seconds())
        self.moved = True
        self.version += 1
        return self.peek()

    def set(self, when: str | datetime) -> str:
        """Pin the clock to read ``when`` (scenarios' ``clock:``, ``--clock``; loading only)."""
        moment = parse_time(when, "clock") if isinstance(when, str) else when
        if moment.year > LOADED_CLOCK_LAST_YEAR:
            raise InvalidRequest(f"the clock cannot read past the year {LOADED_CLOCK_LAST_YEAR}")
        self._start, self._ticks = moment.astimezone(timezone.utc).replace(microsecond=0), 0
        self._wall, self.pinned = None, True
        self.moved = True
        self.version += 1
        return self.peek()

    def is_past(self, when: str | None) -> bool:
        """Has the date-time ``when`` (None: never) been reached?"""
        return when is not None and parse_time(when) <= self.moment()


COMPACT_FROM = 64  # entries a heap may hold beyond twice its standing deadlines


@dataclass(order=True, slots=True)
class _Deadline:
    """Deadlines that fall together are swept by kind and key, not in the order they were
    scheduled: a load schedules them in another order, and a reload must withdraw alike."""

    when: datetime
    kind: str
    key: tuple[str, ...]
    # ``when`` in whole epoch seconds, rounded down: once ``when`` is reached, ``due`` is at most
    # the clock's ``epoch_seconds()``, which is cheaper to read than its ``moment()``
    due: int = field(default=0, compare=False)


class Expirations:
    """Deadlines by kind (``permission``, ``invitation``, ``uploadSession``...): ``sweep`` calls
    the handler registered for a kind with each key whose deadline has passed. A handler checks
    that the thing still exists and still has that deadline (it may have changed since), and
    says whether it withdrew it. ``live`` tells, per kind, whether a deadline still stands for
    something: a deadline of a thing since deleted or changed stays in the heap until due, and
    is counted by neither ``sweep`` nor ``pending`` (so a reloaded state, which schedules only
    the deadlines that stand, counts the same).

    Such a deadline is dropped early where that is certain to change nothing: one that a later
    ``schedule`` of the same kind and key replaced (a thing has one deadline of each kind), and
    one of a key ``withdraw`` was told is gone for good. The heap is rebuilt without them once
    it holds twice as many entries as there are deadlines that may stand, as asyncio drops
    cancelled timers: O(1) a ``schedule`` amortized, and a state that shares and unshares for
    ever keeps a bounded heap."""

    __deepcopy__ = deepcopy_attrs  # a state's copy: see model/copying.py

    def __init__(self) -> None:
        # the deadlines, soonest first (a heap); empty, or the first one's ``due`` after the
        # clock's ``epoch_seconds()``: nothing to sweep (the pipeline asks this on every request)
        self.heap: list[_Deadline] = []
        self.handlers: dict[str, Callable[[tuple[str, ...], datetime], bool]] = {}
        self.live: dict[str, Callable[[tuple[str, ...], datetime], bool]] = {}
        # (kind, key) -> the last deadline scheduled for it and not yet swept or withdrawn:
        # the only one of that kind and key that may still stand
        self.latest: dict[tuple[str, tuple[str, ...]], datetime] = {}

    def schedule(self, when: datetime | str, kind: str, *key: str) -> None:
        moment = parse_time(when) if isinstance(when, str) else when
        heapq.heappush(self.heap, _Deadline(moment, kind, key, math.floor(moment.timestamp())))
        self.latest[(kind, key)] = moment
        if len(self.heap) > 2 * len(self.latest) + COMPACT_FROM:
            self._compact()

    def withdraw(self, *key: str) -> None:
        """The thing ``key`` names is gone for good (its id is never given again): none of its
        deadlines stands (they leave the heap at its next rebuild)."""
        latest = self.latest
        for kind in self.handlers:
            latest.pop((kind, key), None)

    def _compact(self) -> None:
        """The heap without the deadlines that cannot stand (replaced, withdrawn, repeated)."""
        latest = self.latest
        kept: dict[tuple[str, tuple[str, ...]], _Deadline] = {}
        for deadline in self.heap:
            entry = (deadline.kind, deadline.key)
            if latest.get(entry) == deadline.when:
                kept.setdefault(entry, deadline)
        self.heap = list(kept.values())
        heapq.heapify(self.heap)

    def sweep(self, now: datetime) -> int:
        """Run the handler of every deadline reached; how many withdrew something."""
        fired = 0
        while self.heap and self.heap[0].when <= now:
            deadline = heapq.heappop(self.heap)
            entry = (deadline.kind, deadline.key)
            if self.latest.get(entry) == deadline.when:
                del self.latest[entry]
            handler = self.handlers.get(deadline.kind)
            if handler is not None and handler(deadline.key, deadline.when):
                fired += 1
        return fired

    def pending(self) -> int:
        """How many distinct deadlines still stand for something (O(deadlines): for the admin
        clock route, not for every request)."""
        standing = set()
        for deadline in self.heap:
            entry = (deadline.kind, deadline.key, deadline.when)
            if entry in standing:
                continue
            check = self.live.get(deadline.kind)
            if check is None or check(deadline.key, deadline.when):
                standing.add(entry)
        return len(standing)

    def __len__(self) -> int:
        return len(self.heap)
