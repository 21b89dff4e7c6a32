"""The one object every way in shares: the current State, swappable for an O(1) reset."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from .model.clock import parse_time
from .model.ids import EPOCH
from .model.state import State

WALL = "wall"  # a clock that starts at the wall time of the state's start and keeps up with it


class Backend:
    def __init__(
        self,
        state: State | None = None,
        state_factory: Callable[[], State] | None = None,
        admin_token: str | None = None,
        clock: datetime | str = WALL,
    ):
        self._factory = state_factory or State
        self.clock = clock  # what a state's clock reads from, unless its scenario pins it
        self.admin_token = admin_token  # when set, /_mockdrive/* (but health) requires it
        self.request_serial = 0
        self.generation = 0
        self.reset(state)

    def reset(self, state: State | None = None) -> State:
        """Swap in a fresh state (or the one given); requests in flight keep the old one."""
        earlier = getattr(self, "state", None)
        self.state = state if state is not None else self._factory()
        if earlier is not None:  # the server's signing key: its tokens outlive a reset
            self.state.entra.keep_key(earlier.entra)
        start_clock(self.state, self.clock)
        self.request_serial = 0
        self.generation += 1  # delta tokens of an earlier state answer 410 resyncRequired
        changes = self.state.changes
        if changes.generation:  # a loaded export: its own tokens continue; no later state
            self.generation = max(self.generation, changes.generation)  # here takes its number
        else:
            changes.generation = self.generation
        return self.state

    def next_request_id(self) -> str:
        """Deterministic request ids, so two runs of the same requests answer identically."""
        self.request_serial += 1
        return f"00000000-0000-4000-8000-{self.request_serial:012x}"


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
