"""The state mockdrive serves when told nothing else: one owner with one empty drive."""

from __future__ import annotations

from ..model.state import State

DEFAULT_TOKEN = "mockdrive-token"  # the command line's default bearer token


def default_state(token: str = DEFAULT_TOKEN, seed: int = 0) -> State:
    """One user with one empty business drive: enough to try every route by hand."""
    state = State(seed=seed)
    owner = state.add_user("Ada Owner", "ada@contoso.example", token=token)
    state.add_drive(owner)
    return state
