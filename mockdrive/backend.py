"""The one object every way in shares: the current State, swappable for an O(1) reset."""

from __future__ import annotations

from collections.abc import Callable

from .model.state import State


class Backend:
    def __init__(
        self,
        state: State | None = None,
        state_factory: Callable[[], State] | None = None,
        admin_token: str | None = None,
    ):
        self._factory = state_factory or State
        self.admin_token = admin_token  # when set, /_mockdrive/* (but health) requires it
        self.request_serial = 0
        self.generation = 0
        self.reset(state)

    def reset(self, state: State | None = None) -> State:
        """Swap in a fresh state (or the one given); requests in flight keep the old one."""
        self.state = state if state is not None else self._factory()
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
