"""The state mockdrive serves when told nothing else: one owner with one empty drive, and the
owner tokens it uses when none is given."""

from __future__ import annotations

from ..model.state import State

# The owner's token in the pytest fixture's default state, and what the ready clients send for
# a state whose first drive's owner has no token of its own.
OWNER_TOKEN = "owner-token"
# The owner's token in the default state of ``mockdrive serve`` (``--token`` replaces it).
DEFAULT_TOKEN = "mockdrive-token"


def default_state(token: str = DEFAULT_TOKEN, seed: int = 0) -> State:
    """One user with one empty business drive: enough to try every route by hand."""
    state = State(seed=seed)
    owner = state.add_user("Ada Owner", "ada@contoso.example", token=token)
    state.add_drive(owner)
    return state
