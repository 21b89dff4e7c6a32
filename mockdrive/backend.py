"""The one object every way in shares: the current State, swappable for an O(1) reset."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from .model.clock import parse_time
from .model.ids import EPOCH, format_time
from .model.state import State

# A scenario may name any generation below 2^53 (what an export writes, JSON-safe), and a load
# moves the server's count past those it names. Not past one at or above this: the count would
# leave no number below 2^53 for the loaded state's fork or the states after it, whose exports
# the load would then refuse. Such numbers are stepped over (a count from 1 never comes near).
GENERATION_CEILING = 2**52
WALL = "wall"  # a clock that starts at the wall time of the state's start and keeps up with it


class Backend:
    def __init__(
        self,
        state: State | None = None,
        state_factory: Callable[[], State] | None = None,
        admin_token: str | None = None,
        clock: datetime | str = WALL,
    ):
        # what ``reset()`` builds: POST /_mockdrive/reset serves a fresh one (the pytest
        # fixture points it at each test's own starting state)
        self.state_factory: Callable[[], State] = state_factory or State
        self.clock = clock  # what a state's clock reads from, unless its scenario pins it
        self.admin_token = admin_token  # when set, /_mockdrive/* (but health) requires it
        self.request_serial = 0
        self.generation = 0
        self._state: State | None = None
        # a state handed over by ``reset_soon``, ready, served from the next read of ``state``
        self._pending: State | None = None
        self._handover = threading.Lock()
        self.reset(state)

    @property
    def state(self) -> State:
        """The state served now. A state handed over with ``reset_soon`` takes over at the first
        read after it: on the server's loop, the next request's (before it captures its state)."""
        if self._pending is not None:
            self._take_over()
        return self._state  # type: ignore[return-value]

    @state.setter
    def state(self, state: State) -> None:
        """Serve ``state`` as it is (no reset: its clock, key and request ids stay)."""
        with self._handover:
            self._pending = None
            self._state = state

    @property
    def upcoming(self) -> State:
        """The state the next request is served: the one handed over, else the current one.
        Reading it changes nothing (for other threads, which leave the swap to the loop)."""
        pending = self._pending
        return pending if pending is not None else self._state  # type: ignore[return-value]

    def reset(self, state: State | None = None) -> State:
        """Swap in a fresh state (or the one given) now; requests in flight keep the old one."""
        with self._handover:
            self._state = self._prepare(state)
            self._pending = None
            self.request_serial = 0
        return self._state

    def reset_soon(self, state: State) -> State:
        """The reset of ``reset(state)``, for a caller on another thread than the server's loop:
        ``state`` is made ready here and served from the loop's next read of ``state`` on (the
        next request's: requests in flight keep theirs), so the caller needs no hop onto the
        loop and waits for nothing."""
        with self._handover:
            self._pending = self._prepare(state)
        return state

    def _prepare(self, state: State | None) -> State:
        """Ready ``state`` (or a fresh one) to be served next: the server's signing key, its
        clock, its generation. Called with ``_handover`` held."""
        earlier = self._pending or self._state
        fresh = state if state is not None else self.state_factory()
        if earlier is not None:  # the server's signing key: its tokens outlive a reset
            fresh.entra.keep_key(earlier.entra)
        start_clock(fresh, self.clock)
        self.generation += 1  # delta tokens of an earlier state answer 410 resyncRequired
        changes = fresh.changes
        if changes.generation:  # a loaded export: its own tokens continue; no later state
            # here takes its number (nor an ancestor's), and its first change takes a number
            # of its own, reserved here: the original, or another load of the export, may
            # make other changes under the same serials (model/delta.py, ``ChangeLog.fork``)
            named = (changes.generation, *(generation for generation, _ in changes.ancestors))
            below = (generation for generation in named if generation < GENERATION_CEILING)
            self.generation = max((self.generation, *below)) + 1
            while self.generation in named:  # one at or above the ceiling: stepped over
                self.generation += 1
            changes.successor = self.generation
        else:
            changes.generation = self.generation
        return fresh

    def _take_over(self) -> None:
        with self._handover:
            pending, self._pending = self._pending, None
            if pending is not None:
                self._state = pending
                self.request_serial = 0

    def next_request_id(self) -> str:
        """Deterministic request ids, so two runs of the same requests answer identically."""
        self.request_serial += 1
        # (``{n:012x}``, without a format spec's width: a third of the cost, on every request)
        return "00000000-0000-4000-8000-" + f"{self.request_serial:x}".zfill(12)


def loaded_at(data: Any, clock: datetime | str) -> Any:
    """Scenario ``data`` as a server (or a test) whose clock is ``clock`` loads it: at that
    moment, given as its ``clock:`` when it names none, so that what the load dates (shares
    without a sharedDateTime) is not in the clock's future, where sharedWithMe leaves it out
    (``start_clock`` would set the clock only once the state is built, at EPOCH). The wall, or
    EPOCH (where a fresh clock starts), leaves ``data`` as it is."""
    if clock == WALL or not isinstance(data, dict) or "clock" in data:
        return data
    moment = parse_time(clock, "clock") if isinstance(clock, str) else clock
    if moment == EPOCH:
        return data
    return {**data, "clock": format_time(moment.astimezone(timezone.utc))}


def start_clock(state: State, clock: datetime | str) -> None:
    """Start the state's clock as ``clock`` says (``"wall"`` or a date-time to pin it at),
    unless it is pinned (a scenario's ``clock:``, the test fixture) or follows the wall already."""
    if state.clock.pinned or state.clock.moved or state.clock.follows_wall:
        return
    if clock == WALL:
        state.clock.follow_wall()
        return
    moment = parse_time(clock, "clock") if isinstance(clock, str) else clock
    if moment == EPOCH:  # where a fresh clock starts: keep what building the state read
        state.clock.pin()
    else:
        state.clock.set(moment)
