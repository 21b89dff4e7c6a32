"""``peek`` keeps the last reading it wrote out: after any mix of readings, advances, sets, a
wall to follow and copies it reads what the clock's moment, written out afresh, reads."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from mockdrive.model.clock import Clock
from mockdrive.model.ids import format_time

STEPS = st.lists(
    st.one_of(
        st.sampled_from(["peek", "now", "tick", "pin", "copy", "wall", "pass"]),
        st.tuples(st.just("advance"), st.integers(0, 90_000)),
        st.tuples(
            st.just("set"),
            st.datetimes(
                datetime(1990, 1, 1), datetime(2090, 1, 1), timezones=st.just(timezone.utc)
            ),
        ),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(STEPS)
def test_peek_reads_the_moment_written_out_afresh(steps):
    wall = [1000.0]
    clock = Clock()
    for step in steps:
        match step:
            case "peek" | "now" | "tick":
                getattr(clock, step)()
            case "pin":
                clock.pin()
            case "copy":
                clock = copy.deepcopy(clock)
            case "wall":
                clock.follow_wall(lambda: wall[0])
            case "pass":
                wall[0] += 1.5
            case ("advance", seconds):
                clock.advance(seconds=seconds)
            case ("set", when):
                clock.set(when)
        assert clock.peek() == format_time(clock.moment())


ZONES = st.sampled_from(
    [timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-11))]
)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=ZONES), ZONES)
def test_a_moment_is_written_out_as_strftime_writes_it_each_time(moment, zone):
    """``format_time`` remembers what it wrote out for each moment in UTC; the same instant
    in another zone, or read again, is written out the same."""
    expected = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for _ in range(2):
        assert format_time(moment) == expected
        assert format_time(moment.astimezone(zone)) == expected
