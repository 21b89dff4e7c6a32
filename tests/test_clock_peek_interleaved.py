"""``peek``'s kept reading, read by another thread while one ``peek`` is writing it: the server's
loop and a test's thread read one clock. Whatever a thread switch falls between the writes of
the kept reading, a reader gets the moment written out afresh, never an older reading under
the newer key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mockdrive.model.clock import Clock
from mockdrive.model.ids import format_time


class _SwitchingClock(Clock):
    """A clock on which another reader runs ``peek`` right after the ``switch_after``-th write of
    the kept reading (counted from 0), as a thread switch there would."""

    def __init__(self, switch_after: int) -> None:
        super().__init__()
        self.switch_after = switch_after
        self.writes = 0
        self.seen: list[tuple[str, str]] = []  # what the other reader got, what it should have

    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__(name, value)
        if name.startswith("_shown") and "switch_after" in self.__dict__:
            index, self.writes = self.writes, self.writes + 1
            if index == self.switch_after:
                expected = format_time(self._start + timedelta(seconds=self._ticks))
                self.seen.append((super().peek(), expected))


@pytest.mark.parametrize("switch_after", range(3))
def test_a_reader_between_the_writes_of_the_kept_reading_gets_the_current_moment(switch_after):
    clock = _SwitchingClock(switch_after)
    clock.peek()  # a reading kept
    clock.tick()
    clock.writes = 0
    assert clock.peek() == format_time(clock.moment())
    for got, expected in clock.seen:
        assert got == expected
