"""What the clock keeps of a reading (``peek``'s text, ``epoch_seconds``' start timestamp), read
by another thread while one reader is writing it: the server's loop and a test's thread read
one clock. Whatever a thread switch falls between the writes of what is kept, a reader gets
the current moment, never an older reading's under the newer key."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mockdrive.model.clock import Clock
from mockdrive.model.ids import format_time


class _SwitchingClock(Clock):
    """A clock on which another reader calls ``reader`` right after the ``switch_after``-th
    write (counted from 0) of an attribute named ``watched...``, as a thread switch there
    would; what it got and what it should have are kept in ``seen``."""

    def __init__(self, watched: str, reader: str, switch_after: int) -> None:
        super().__init__()
        self.switch = (watched, reader, switch_after)
        self.writes = 0
        self.seen: list[tuple[object, object]] = []

    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__(name, value)
        switch = self.__dict__.get("switch")
        if switch is None or not name.startswith(switch[0]):
            return
        index, self.writes = self.writes, self.writes + 1
        if index == switch[2]:
            moment = self._start + timedelta(seconds=self._ticks)
            expected = {"peek": format_time(moment), "epoch_seconds": int(moment.timestamp())}
            self.seen.append((getattr(Clock, switch[1])(self), expected[switch[1]]))


@pytest.mark.parametrize("switch_after", range(3))
def test_a_reader_between_the_writes_of_the_kept_reading_gets_the_current_moment(switch_after):
    clock = _SwitchingClock("_shown", "peek", switch_after)
    clock.peek()  # a reading kept
    clock.tick()
    clock.writes = 0
    assert clock.peek() == format_time(clock.moment())
    for got, expected in clock.seen:
        assert got == expected


@pytest.mark.parametrize("switch_after", range(3))
def test_a_reader_between_the_writes_of_the_kept_start_gets_the_current_epoch(switch_after):
    clock = _SwitchingClock("_epoch", "epoch_seconds", switch_after)
    clock.epoch_seconds()  # the start's timestamp kept
    clock.set(datetime(2030, 6, 1, tzinfo=timezone.utc))
    clock.writes = 0
    assert clock.epoch_seconds() == int(clock.moment().timestamp())
    assert clock.seen or switch_after > 0  # the kept start was written
    for got, expected in clock.seen:
        assert got == expected
