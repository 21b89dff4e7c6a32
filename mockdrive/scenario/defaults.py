"""The state mockdrive serves when told nothing else: one owner with one empty drive, and the
owner tokens it uses when none is given."""

from __future__ import annotations

from ..constants import DEFAULT_TOKEN
from ..model.state import State

# The owner's token in the pytest fixture's default state, and what the ready clients send for
# a state whose first drive's owner has no token of its own.
OWNER_TOKEN = "owner-token"


OWNER_NAME, OWNER_EMAIL = "Ada Owner", "ada@contoso.example"


def default_state(token: str = DEFAULT_TOKEN, seed: int = 0) -> State:
    """One user with one empty business drive: enough to try every route by hand.

    Built once per seed the ordinary way (``_drawn``), then from the ids that drew: every
    default state of a seed holds the same ids and leaves its generator at the same place, so
    the pytest fixture's state per test costs no seeding and no draws."""
    user_id, drive_id, root_id, position = _drawn(seed)
    state = State(seed=seed, ids_from=position)
    owner = state.add_user(OWNER_NAME, OWNER_EMAIL, token=token, user_id=user_id)
    state.add_drive(owner, drive_id=drive_id, root_id=root_id)
    return state


def built_default_state(token: str = DEFAULT_TOKEN, seed: int = 0) -> State:
    """``default_state`` built the ordinary way, every id drawn (what it must equal)."""
    state = State(seed=seed)
    owner = state.add_user(OWNER_NAME, OWNER_EMAIL, token=token)
    state.add_drive(owner)
    return state


_DRAWN: dict[int, tuple[str, str, str, tuple[object, int, int]]] = {}


def _drawn(seed: int) -> tuple[str, str, str, tuple[object, int, int]]:
    """The owner's, the drive's and its root's ids in the default state of ``seed``, and where
    its id generator is after them (a few seeds are used in a run: kept per seed)."""
    drawn = _DRAWN.get(seed)
    if drawn is None:
        state = built_default_state(seed=seed)
        drive = next(iter(state.store.drives.values()))
        drawn = (drive.owner_id, drive.id, drive.root_id, state.ids.position())
        if len(_DRAWN) < 64:
            _DRAWN[seed] = drawn
    return drawn
