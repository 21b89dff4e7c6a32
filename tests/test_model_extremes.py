"""The model and the number checks with extreme values: huge, negative, NaN and infinite numbers
into clock moves, policy, paging, upload ranges, fault rules and expirations. Each either works
(and leaves every derived time inside the clock's range) or refuses with InvalidRequest, never
another exception, and a refusal changes nothing."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mockdrive.api.admin_clock import MAX_STEP_DAYS, parse_step
from mockdrive.api.graph.uploads import parse_content_range
from mockdrive.api.jsonio import parse_json_object
from mockdrive.cli import default_state
from mockdrive.model.clock import CLOCK_LAST_YEAR, LAST_YEAR, Clock, Expirations, parse_time
from mockdrive.model.errors import InvalidRequest
from mockdrive.model.faults import parse_rule
from mockdrive.model.links import advance_clock, check_expiration, shared_with
from mockdrive.model.policy import SharingPolicy
from mockdrive.model.ranges import finite_number, whole_number, whole_number_text
from mockdrive.scenario import build_state, export_scenario

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
EXTREME_INTS = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63), 10**30, 10**400]),
)
EXTREME_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, 5e-324, -0.0]),
)
NUMBERS = st.one_of(EXTREME_INTS, EXTREME_FLOATS, st.booleans(), st.none(), st.text(max_size=8))
DIGITS = st.text(
    st.sampled_from("0123456789-+_ .e\u0661\uff11\u00b2\U0001d7cf"), min_size=0, max_size=30
)


def refused_or(call, *args, **kwargs):
    """The call's result, or the InvalidRequest it raised (any other exception fails)."""
    try:
        return call(*args, **kwargs)
    except InvalidRequest as error:
        return error


@SETTINGS
@given(text=st.one_of(DIGITS, st.text(max_size=30)), low=EXTREME_INTS, high=EXTREME_INTS)
@example(text="\u0661", low=0, high=10)
@example(text="9" * 5000, low=0, high=10**9)
def test_whole_number_text_is_ascii_digits_within_the_range(text, low, high):
    result = refused_or(whole_number_text, text, "n", low, high)
    if isinstance(result, int):
        assert low <= result <= high
        assert text.lstrip("-").isascii() and text.lstrip("-").isdigit()


@SETTINGS
@given(value=NUMBERS)
def test_json_numbers_are_real_and_within_the_range(value):
    whole = refused_or(whole_number, value, "n", -5, 5)
    if not isinstance(whole, InvalidRequest):
        assert type(whole) is int and -5 <= whole <= 5
    number = refused_or(finite_number, value, "n", 0, 1e6)
    if not isinstance(number, InvalidRequest):
        assert math.isfinite(number) and 0 <= number <= 1e6 and not isinstance(number, bool)


@SETTINGS
@given(step=st.dictionaries(st.sampled_from(["days", "hours", "minutes", "seconds"]), NUMBERS,
                            min_size=1))  # fmt: skip
@example(step={"days": math.nan})
@example(step={"seconds": math.inf})
@example(step={"days": MAX_STEP_DAYS, "seconds": 1})
def test_a_clock_step_is_finite_forward_and_bounded(step):
    clock = Clock(datetime(8990, 1, 1, tzinfo=timezone.utc))
    before = clock.peek()
    parsed = refused_or(parse_step, step)
    if isinstance(parsed, InvalidRequest):
        return
    assert all(math.isfinite(v) and v >= 0 for v in parsed.values())
    moved = refused_or(clock.advance, **parsed)
    if isinstance(moved, InvalidRequest):
        assert clock.peek() == before  # refused before it changed anything
    else:
        assert clock.moment().year <= CLOCK_LAST_YEAR and clock.peek() >= before


@SETTINGS
@given(ticks=st.integers(0, 10**6))
def test_the_clock_reads_past_its_last_settable_year_and_stays_loadable(ticks):
    clock = Clock(datetime(CLOCK_LAST_YEAR, 12, 31, 23, 59, 59, tzinfo=timezone.utc))
    clock._ticks += ticks  # ordinary reads: one second each
    assert parse_time(clock.peek(), "clock").year <= LAST_YEAR
    fresh = Clock()
    fresh.set(clock.peek())  # what a reload does
    assert fresh.peek() == clock.peek()


@SETTINGS
@given(field=st.sampled_from(["maxRecipients", "anonymousLinkMaxDays", "sharedWithMeDelaySeconds"]),
       value=NUMBERS)  # fmt: skip
@example(field="anonymousLinkMaxDays", value=10**30)
@example(field="sharedWithMeDelaySeconds", value=2**63)
def test_policy_numbers_either_refuse_or_keep_links_and_shares_working(field, value):
    policy = refused_or(SharingPolicy.from_dict, {field: value})
    if isinstance(policy, InvalidRequest):
        return
    state = default_state("t")
    state.clock.advance(days=(datetime(CLOCK_LAST_YEAR, 12, 31, tzinfo=timezone.utc)
                              - state.clock.moment()).days)  # fmt: skip
    state.policy = policy
    expiry = check_expiration(state, "anonymous", None)
    if expiry is not None:
        assert parse_time(expiry).year <= LAST_YEAR
    assert shared_with(state, next(iter(state.directory.users.values()))) == []


@SETTINGS
@given(field=st.sampled_from(["nth", "times", "retryAfter", "latencyMs", "jitterMs", "status"]),
       value=NUMBERS, effect=st.sampled_from(["latency", "error", "throttle"]))  # fmt: skip
def test_fault_rule_numbers_are_refused_past_their_range(field, value, effect):
    rule = refused_or(parse_rule, {"effect": effect, field: value}, "r")
    if not isinstance(rule, InvalidRequest):
        assert type(value) is int
        assert value >= 0 and (field != "status" or 400 <= value <= 599)


@SETTINGS
@given(start=EXTREME_INTS, end=EXTREME_INTS, total=EXTREME_INTS, raw=DIGITS)
@example(start=0, end=0, total=10**15, raw="")
def test_content_range_is_three_ascii_numbers_in_order(start, end, total, raw):
    for header in (f"bytes {start}-{end}/{total}", "bytes " + raw, raw):
        parsed = refused_or(parse_content_range, header)
        if isinstance(parsed, tuple):
            first, last, size = parsed
            assert 0 <= first <= last < size < 10**15


@SETTINGS
@given(size=EXTREME_INTS)
def test_an_upload_session_of_any_declared_size_is_refused_or_opened(size):
    from mockdrive.model.uploads import create_session

    state = default_state("t")
    owner = next(iter(state.directory.users.values()))
    root = state.store.root(state.default_drive(owner.id))
    before = export_scenario(state)
    session = refused_or(create_session, state, owner, root, "/Big.bin", file_size=size)
    if isinstance(session, InvalidRequest):
        assert export_scenario(state) == before and not state.uploads.sessions
    else:
        assert 0 <= size <= 250 * 1024**3


@SETTINGS
@given(
    when=st.one_of(
        st.datetimes(timezones=st.just(timezone.utc)).map(lambda m: m.isoformat()),
        st.text(st.sampled_from("0123456789-:TZ+."), max_size=30),
        st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "9500-12-31T23:59:59Z",
                         "9501-01-01T00:00:00Z", "1900-01-01T00:00:00+01:00"]),
    )
)  # fmt: skip
def test_an_expiration_is_in_the_range_or_refused_and_schedules_safely(when):
    moment = refused_or(parse_time, when)
    if isinstance(moment, InvalidRequest):
        return
    assert 1900 <= moment.year <= LAST_YEAR
    deadlines = Expirations()
    fired = []
    deadlines.handlers["x"] = lambda key, at: fired.append(key) or True  # it withdrew something
    deadlines.schedule(when, "x", "k")
    assert deadlines.sweep(datetime(LAST_YEAR, 12, 31, 23, 59, 59, tzinfo=timezone.utc)) == 1


@SETTINGS
@given(literal=st.sampled_from(["NaN", "-NaN", "Infinity", "-Infinity", "1e400", "-1e400",
                                "1" * 5000, "[" * 3000 + "]" * 3000]))  # fmt: skip
def test_json_bodies_hold_no_nan_infinity_or_unbounded_depth(literal):
    with pytest.raises(InvalidRequest):
        parse_json_object(('{"a": ' + literal + "}").encode())


def test_a_json_body_is_read_as_json_loads_reads_it():
    """One decoder serves every body: it refuses what ``json.loads`` refuses (a leading BOM,
    kept as text by the UTF-8 decode), with the same message, and reads the rest alike."""
    with pytest.raises(InvalidRequest, match="Unexpected UTF-8 BOM"):
        parse_json_object(b'\xef\xbb\xbf{"a": 1}')
    assert parse_json_object(b'{"a": 1.5, "b": [1, "x", null, true], "a": 2}') == {
        "a": 2,
        "b": [1, "x", None, True],
    }
    with pytest.raises(InvalidRequest, match="Expecting value: line 1 column 7"):
        parse_json_object(b'{"a": }')


@settings(max_examples=30, deadline=None)
@given(short_of_the_end=st.integers(0, 10**6), writes=st.integers(0, 30))
@example(short_of_the_end=0, writes=30)
def test_writes_near_the_end_of_the_clock_leave_an_export_that_loads(short_of_the_end, writes):
    state = default_state("t")
    owner = next(iter(state.directory.users.values()))
    drive = state.default_drive(owner.id)
    end = datetime(CLOCK_LAST_YEAR, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    left = int((end - state.clock.moment()).total_seconds()) - short_of_the_end
    while left > 0:
        step = min(left, MAX_STEP_DAYS * 86_400)
        advance_clock(state, seconds=step)
        left -= step
    assert isinstance(refused_or(advance_clock, state, seconds=short_of_the_end + 1),
                      InvalidRequest)  # fmt: skip
    for index in range(writes):
        state.make_path(drive, f"/F{index}")
    exported = export_scenario(state)
    assert export_scenario(build_state(exported)) == exported
