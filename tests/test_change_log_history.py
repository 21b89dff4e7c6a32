"""The change log's per-item index against the plain computation: an item's history is the
log's changes of that item, whatever the log has dropped, and the index holds no more than
about twice what the log keeps of an item, however long its history."""

from __future__ import annotations

import copy
from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from mockdrive.model.delta import CUT_SHARE, SHORT_HISTORY, log_to_data
from mockdrive.model.state import State


@settings(max_examples=100, deadline=None)
@given(
    kept=st.integers(1, 80),
    which=st.lists(st.integers(0, 3), max_size=400),
)
def test_each_items_history_is_the_logs_changes_of_it(kept: int, which: list[int]) -> None:
    state = State(seed=1)
    log = state.changes
    log.changes = deque(maxlen=kept)  # before the first change
    owner = state.add_user("Ada", "ada@contoso.example")
    drive = state.add_drive(owner)
    items = [state.make_path(drive, f"/f{n}.txt", is_folder=False, content=b"x") for n in range(4)]
    for index in which:
        state.changed(items[index], "sharing")
        serials = [c.serial for c in log.changes]
        for item in items:
            plain = [c for c in log.changes if c.item_id == item.id]
            for since in (0, serials[0] - 1, serials[len(serials) // 2], log.serial):
                assert log.history(item.id, since) == [c for c in plain if c.serial > since]
            held = log.by_item.get(item.id, [])
            most = len(plain) * CUT_SHARE // (CUT_SHARE - 1) + 1  # dropped but not yet cut
            assert len(held) <= max(most, SHORT_HISTORY), (len(held), len(plain))
            assert held[len(held) - len(plain) :] == plain


def test_one_items_long_history_stays_bounded_and_right_with_the_log_full() -> None:
    """An item changed over and over with the log full (its dropped head cut once it is an
    eighth of the list, not shifted out one change at a time) holds at most 8/7 of what the log
    keeps of it."""
    state = State(seed=1)
    log = state.changes
    log.changes = deque(maxlen=1000)
    owner = state.add_user("Ada", "ada@contoso.example")
    item = state.make_path(state.add_drive(owner), "/a.txt", is_folder=False, content=b"x")
    for _ in range(1000):  # the log full of this item's changes
        state.changed(item, "sharing")
    lengths = set()
    for _ in range(5000):
        state.changed(item, "sharing")
        lengths.add(len(log.by_item[item.id]))
    assert max(lengths) <= 1000 * CUT_SHARE // (CUT_SHARE - 1) + 1 and min(lengths) >= 1000
    assert log.history(item.id, 0) == list(log.changes)


@settings(max_examples=60, deadline=None)
@given(
    kept=st.integers(2, 40),
    steps=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 12)), max_size=100),
)
def test_an_export_after_each_change_is_the_export_of_a_fresh_copy(
    kept: int, steps: list[tuple[int, int]]
) -> None:
    """An export keeps the log's chains for its next one, which walks only the changes since:
    after every change (moves among them, the log full and dropping its oldest too), it is
    the export of a copy of the log, which walks every change anew."""
    state = State(seed=1)
    log = state.changes
    log.changes = deque(maxlen=kept)
    drive = state.add_drive(state.add_user("Ada", "ada@contoso.example"))
    deep = [state.make_path(drive, "".join(f"/d{k}" for k in range(n + 1))) for n in range(6)]
    wide = [state.make_path(drive, f"/e{n}/x{n}") for n in range(6)]
    folders = deep + wide
    assert log_to_data(log) == log_to_data(copy.deepcopy(log))
    for which, left in steps:
        moved_from = folders[left].id if left < len(folders) else None
        state.changed(folders[which], moved_from=moved_from)
        assert log_to_data(log) == log_to_data(copy.deepcopy(log))
