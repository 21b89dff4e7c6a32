"""The faster scenario loading changes no answer: each rewritten function is
compared with the plain implementation it replaced, on arbitrary input (no timing here)."""

from __future__ import annotations

import functools
import json
import zoneinfo
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import _zoneinfo as zoneinfo_python  # the pure-Python reader: shows a file

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.strategies._internal import datetime as hypothesis_datetime

from mockdrive.demo import demo_scenario
from mockdrive.model.clock import LAST_YEAR, parse_time
from mockdrive.model.errors import InvalidRequest
from mockdrive.model.ids import format_time
from mockdrive.model.tree import MAX_NAME_LENGTH, validate_name
from mockdrive.scenario import (
    ScenarioError,
    build_state,
    dump_yaml,
    export_scenario,
    load_scenario,
    load_scenario_text,
    parse,
)
from mockdrive.scenario.validate import check_schema, is_valid, schema_problems

# -- the implementations as they were before ------------------------------------------------
_ILLEGAL_PERSONAL = set('/\\*<>?:|"')
_ILLEGAL_BUSINESS = _ILLEGAL_PERSONAL | {"#", "%"}


def reference_validate_name(name: object, drive_type: str, is_folder: bool) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest("name must be a non-empty string", "invalidName")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidRequest(
            f"name is longer than {MAX_NAME_LENGTH} characters", "parameterIsTooLong"
        )
    try:  # added with the full stateful machine's finding: the model took a lone surrogate
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(
            "name is not valid Unicode text (a lone surrogate)", "invalidName"
        ) from None
    illegal = _ILLEGAL_PERSONAL if drive_type == "personal" else _ILLEGAL_BUSINESS
    bad = sorted({c for c in name if c in illegal or ord(c) < 32 or ord(c) == 127})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise InvalidRequest(
            f"name contains characters that are not allowed: {shown}", "invalidName"
        )
    if name in (".", "..") or name != name.strip():
        raise InvalidRequest("name cannot be '.', '..' or start or end with a space", "invalidName")
    if is_folder and name.endswith("."):
        raise InvalidRequest("folder names cannot end with '.'", "invalidName")
    if drive_type != "personal" and name.startswith("~"):
        raise InvalidRequest("names cannot begin with '~' on this drive", "invalidName")
    return name


def reference_parse_time(value: object, name: str = "expirationDateTime") -> datetime:
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a date-time string")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        moment = moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise InvalidRequest(f"{name} {value!r} is not a date-time") from None
    if not 1900 <= moment.year <= LAST_YEAR:
        raise InvalidRequest(f"{name} {value!r} is out of range (years 1900 to {LAST_YEAR})")
    return moment


def reference_format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def outcome(function: Any, *args: Any) -> tuple[Any, ...]:
    """What a call gives: ("ok", value, tzinfo) or ("error", message, code)."""
    try:
        value = function(*args)
    except InvalidRequest as error:
        return ("error", error.message, error.inner_code)
    return ("ok", value, getattr(value, "tzinfo", None))


# names: mostly ordinary characters, with the refused ones, controls, spaces, dots and tildes
NAME_CHARACTERS = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(list('/\\*<>?:|"#%~. \t\x00\x1f\x7f\x80\u2028é')),
)
NAMES = st.one_of(st.text(NAME_CHARACTERS, max_size=12), st.text(NAME_CHARACTERS, min_size=250))


@settings(max_examples=400, deadline=None)
@given(
    name=st.one_of(NAMES, st.none(), st.integers()),
    drive_type=st.sampled_from(["personal", "business", "documentLibrary"]),
    is_folder=st.booleans(),
)
@example(name="a\ud800b", drive_type="business", is_folder=False)
@example(name="a#b", drive_type="personal", is_folder=True)
@example(name="x" * 256, drive_type="business", is_folder=False)
def test_validate_name_answers_as_before(name: object, drive_type: str, is_folder: bool) -> None:
    assert outcome(validate_name, name, drive_type, is_folder) == outcome(
        reference_validate_name, name, drive_type, is_folder
    )


# -- Hypothesis's scan of each drawn zone, told where to look ---------------------------------
# For every zone it draws, ``st.datetimes`` scans 1800-2050 in six-day steps for the instants
# where the zone's (offset, dst, name) changes (~23 ms a zone, most of these tests' time). The
# same scan, made here, steps over every stretch in which the zone's file says nothing can
# change, and scans as Hypothesis does where it may: the same transitions, so the same
# examples (``test_the_quicker_zone_scan_finds_what_hypothesis_finds`` compares them).
_DAY = timedelta(days=1)
_hypothesis_transitions = getattr(hypothesis_datetime, "_transitions", None)
_SCAN = (
    getattr(hypothesis_datetime, "_SCAN_LO", None),
    getattr(hypothesis_datetime, "_SCAN_HI", None),
)
_STEP = getattr(hypothesis_datetime, "_PROBE_STEP", None)
_SECOND = timedelta(seconds=1)


def _may_change(tz: object) -> list[tuple[datetime, datetime]] | None:
    """The stretches of naive UTC time, in order, within which ``tz``'s state may change: its
    file's transitions, and two days either side of each change its closing rule makes (the
    rule speaks in local time); None where the zone is not one read from a file."""
    key = getattr(tz, "key", None)
    if type(tz) is not zoneinfo.ZoneInfo or not isinstance(key, str):
        return None
    try:
        twin = zoneinfo_python.ZoneInfo.no_cache(key)
    except Exception:  # not readable as the pure-Python reader reads it
        return None
    epoch = datetime(1970, 1, 1)
    lo, hi = ((moment - epoch) // _SECOND for moment in _SCAN)  # in seconds since the epoch
    stretches = [
        (epoch + timedelta(seconds=s),) * 2 for s in twin._trans_utc if lo - 86400 < s < hi + 86400
    ]
    rule = twin._tz_after
    if isinstance(rule, zoneinfo_python._TZStr):
        first = stretches[-1][0].year - 1 if stretches else _SCAN[0].year - 1
        for year in range(first, _SCAN[1].year + 2):
            for local in rule.transitions(year):
                at = epoch + timedelta(seconds=local)
                stretches.append((at - 2 * _DAY, at + 2 * _DAY))
    elif not isinstance(rule, zoneinfo_python._ttinfo):
        return None
    return sorted(stretches)


@functools.lru_cache(maxsize=2048)
def _quicker_transitions(tz: Any) -> tuple[datetime, ...]:
    """``hypothesis``'s ``_probe_transitions(tz, _SCAN_LO, _SCAN_HI)``, stepping over the six-day
    steps that end before the next stretch where ``tz`` may change."""
    stretches = _may_change(tz)
    if stretches is None:
        return _hypothesis_transitions(tz)
    state_of, step, second = hypothesis_datetime._tz_state, _STEP, _SECOND
    lo, hi = _SCAN
    transitions: list[datetime] = []
    at, state = lo, state_of(lo, tz)
    index = 0
    while at < hi:
        while index < len(stretches) and stretches[index][1] <= at:
            index += 1  # over, and already in ``state``
        if index == len(stretches):
            break  # nothing changes any more
        start = stretches[index][0]
        if start > at:  # whole steps that stay before it see ``state``
            steps = (start - at) // step
            if at + steps * step >= start:
                steps -= 1
            if steps > 0:
                at += steps * step
                if at >= hi:
                    break
        # one step as Hypothesis takes it
        try:
            probe = min(at + step, hi)
        except OverflowError:
            probe = hi
        probed = state_of(probe, tz)
        if probed == state:
            at, state = probe, probed
            continue
        low, high = at, probe
        while high - low > second:
            mid = (low + (high - low) / 2).replace(microsecond=0)
            if mid <= low:
                mid = low + (high - low) / 2
            if state_of(mid, tz) == state:
                low = mid
            else:
                high = mid
        transitions.append(high)
        at, state = high, state_of(high, tz)
    return tuple(transitions)


@pytest.fixture(autouse=True, scope="module")
def _quicker_zone_scan() -> Any:
    """Hypothesis scans the zones it draws with ``_quicker_transitions`` while this module
    runs (a Hypothesis whose scan is not the one this module knows keeps its own)."""
    known = (_hypothesis_transitions, hypothesis_datetime.__dict__.get("_tz_state"), _STEP, *_SCAN)
    if any(part is None for part in known):
        yield
        return
    hypothesis_datetime._transitions = _quicker_transitions
    try:
        yield
    finally:
        hypothesis_datetime._transitions = _hypothesis_transitions


@pytest.mark.parametrize(
    "key",
    [
        "America/New_York",  # transitions listed to 2037, then its rule
        "Australia/Lord_Howe",  # a half-hour of daylight saving
        "Europe/Dublin",  # negative daylight saving
        "Africa/Casablanca",  # transitions weeks apart
        "Asia/Kolkata",  # no change since 1945
        "Antarctica/Troll",
        "posix/America/Santiago",  # a prefixed key, a southern rule
        "EST5EDT",
    ],
)
def test_the_quicker_zone_scan_finds_what_hypothesis_finds(key: str) -> None:
    if _hypothesis_transitions is None or _STEP is None or None in _SCAN:
        pytest.skip("this Hypothesis scans zones otherwise")
    try:
        zone = zoneinfo.ZoneInfo(key)
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip(f"no zone {key} here")
    assert _may_change(zone) is not None
    assert _quicker_transitions.__wrapped__(zone) == _hypothesis_transitions.__wrapped__(zone)


DIGIT = st.sampled_from("0123456789")
TIME_TEXT = st.builds(
    "{}{}{}{}-{}{}-{}{}T{}{}:{}{}:{}{}{}".format,
    *([DIGIT] * 14),
    st.sampled_from(["Z", "Z ", "+00:00", "+05:30", "", "z"]),
)
DATE_TIMES = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
)


@settings(max_examples=500, deadline=None)
@given(
    value=st.one_of(
        TIME_TEXT,
        DATE_TIMES.map(lambda m: m.isoformat()),
        DATE_TIMES.map(reference_format_time),
        st.text(max_size=30),
        st.none(),
    )
)
@example(value="2024-02-30T00:00:00Z")
@example(value="2024-01-01T24:00:00Z")
@example(value="1899-12-31T23:59:59Z")
@example(value="9000-12-31T23:59:59Z")
@example(value="9001-01-01T00:00:00Z")
@example(value="\uff11\uff19\uff19\uff19-01-01T00:00:00Z")  # full-width digits
@example(value="2024-01-01T00:00:00Z\n")
def test_parse_time_answers_as_before(value: object) -> None:
    assert outcome(parse_time, value, "clock") == outcome(reference_parse_time, value, "clock")


@settings(max_examples=500, deadline=None)
@given(moment=DATE_TIMES)
@example(moment=datetime(999, 5, 1, tzinfo=timezone.utc))
@example(moment=datetime(2024, 1, 1, 0, 0, 0, 999_999, tzinfo=timezone.utc))
@example(moment=datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=5, seconds=7))))
def test_format_time_writes_as_before(moment: datetime) -> None:
    try:
        expected = reference_format_time(moment)
    except OverflowError:  # moved into year 0 or 10000 by its zone
        with pytest.raises(OverflowError):
            format_time(moment)
        return
    assert format_time(moment) == expected


# -- the quick schema check agrees with the full one -----------------------------------------
FIXTURES = Path(__file__).parent.parent / "fixtures"


def _bases() -> list[Any]:
    """Valid scenario data: the shipped fixtures and a small generated tenant, as exported."""
    bases = [export_scenario(load_scenario(path)) for path in sorted(FIXTURES.glob("*.yaml"))]
    bases.append(export_scenario(build_state(demo_scenario(seed=3, users=3, items=8))))
    return bases


BASES = _bases()
REPLACEMENTS = (
    "text", "", "\ud800", "a\udfffb", "é", 7, 0, -1, 1.5, -0.5, None, True, False, [], [1],
    ["read"], ["read", 1], [{}], {}, {"zz": 1}, {"name": "x"}, "a@b", "a@b.example",
    "read", "owner", "view", "anonymous", "Viewer", "personal", "GET", "a\ud800@b.example", 10**30,
)  # fmt: skip


def _paths(data: Any) -> list[tuple[tuple[Any, ...], Any]]:
    found, stack = [], [((), data)]
    while stack:
        path, value = stack.pop()
        found.append((path, value))
        if isinstance(value, dict | list):
            children = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend(((*path, key), child) for key, child in children)
    return found


def _changed(data: Any, path: tuple[Any, ...], change: Any) -> Any:
    """``data`` with the value at ``path`` changed; ``data`` itself is left as it was (the
    containers on the path are copied, the rest is shared: the checks only read)."""
    if not path:
        return change(data)
    copy = holder = _shallow(data)
    for part in path[:-1]:
        holder[part] = _shallow(holder[part])
        holder = holder[part]
    holder[path[-1]] = change(holder[path[-1]])
    return copy


def _shallow(container: Any) -> Any:
    return dict(container) if isinstance(container, dict) else list(container)


def _variants(data: Any) -> Any:
    """Each variant changes one place: another value, a key dropped or added."""
    for path, value in _paths(data):
        for replacement in REPLACEMENTS:
            yield _changed(data, path, lambda _, r=replacement: r)
        if isinstance(value, dict):
            for key in value:
                yield _changed(data, path, lambda v, k=key: {x: y for x, y in v.items() if x != k})
            for extra in ("zz", "id", "name", "children", "roles", "link", "file"):
                yield _changed(data, path, lambda v, k=extra: {**v, k: "x"})
        if isinstance(value, list) and value:
            yield _changed(data, path, lambda v: v[:1] * 2)
            yield _changed(data, path, lambda v: [])


def agree(data: Any) -> bool:
    """The quick answer and the full one agree; returns whether the data is valid."""
    problems = schema_problems(data)
    assert is_valid(data) == (not problems), problems
    assert check_schema(data) == problems
    return not problems


def test_quick_and_full_schema_checks_agree_on_every_one_place_change() -> None:
    outcomes = [agree(variant) for base in BASES for variant in _variants(base)]
    assert all(agree(base) for base in BASES)
    assert outcomes.count(True) > 100 and outcomes.count(False) > 1000  # both sides exercised


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.sampled_from(REPLACEMENTS[:-1]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["id", "name", "zz", "roles", "type", "file"]), inner),
    max_leaves=8,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_quick_and_full_schema_checks_agree_on_random_changes(data: st.DataObject) -> None:
    scenario = data.draw(st.sampled_from(BASES))
    for _ in range(data.draw(st.integers(1, 3))):
        path, _ = data.draw(st.sampled_from(_paths(scenario)))
        scenario = _changed(scenario, path, lambda _: data.draw(JSON_VALUES))
    agree(scenario)


def _nested(levels: int, leaf: Any) -> dict[str, Any]:
    """A drive whose root holds ``levels`` folders, one inside the other, ``leaf`` innermost."""
    node: dict[str, Any] = {"name": "f", "folder": {}, "children": [leaf]}
    for _ in range(levels - 1):
        node = {"name": "f", "folder": {}, "children": [node]}
    user = {"displayName": "A", "email": "a@x.example"}
    return {"users": [user], "drives": [{"owner": "a@x.example", "root": {"children": [node]}}]}


@pytest.mark.parametrize("levels", [5, 300, 2000])
def test_deep_data_is_decided_by_the_full_check(levels: int) -> None:
    """Deeper than the quick check can recurse, the full check answers (same answer)."""
    assert check_schema(_nested(levels, {"name": "x.txt", "file": {}})) == []
    bad = check_schema(_nested(levels, {"name": "x.txt", "file": {}, "size": -1}))
    assert [reason for _, reason, _ in bad] == ["must be at least 0"]
    assert len(bad[0][0]) == 2 * levels + 6


# -- the YAML reader types plain scalars as PyYAML's safe loader does -----------------------
PLAIN_WORDS = st.sampled_from(
    ["0", "00", "007", "08", "0x1F", "0o17", "0b101", "1_000", "1:30", "-1:30", "+12", "-0",
     "1.5", "1e3", "1.0e+3", ".5", ".inf", "-.Inf", ".nan", "yes", "No", "ON", "off", "y", "n",
     "~", "null", "Null", "true", "FALSE", "=", "name", "file", "folder", "01P4H22O", "9" * 18,
     "9" * 19, "9" * 40, "1" + "0" * 18, "12abc", "3.", "1_", "0_1", "+.INF", "-.inf", ".NaN",
     "1e+3", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2002-12-14",
     "0x_1F", "0b1_0", "-0x1f", "01P4H22O2UQKIJ6QQEC5U3OBP36NZ2E2EQ", "12345678-abcd-ef01",
     "190:20:30.15", "6.8523015e+5", "685.230_15e+03", "-0b11", "+0o17"]
)  # fmt: skip
PLAIN_TEXT = st.text(
    st.sampled_from("0123456789_-+.:xobeEaAnNyYfFiItTZPz \t"), min_size=1, max_size=10
).filter(lambda t: t.strip() == t and ": " not in t and " #" not in t and "\t" not in t[-1:])


def _typed_as_pyyaml(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return ("nan",)
    return (type(value).__name__, value)


@settings(max_examples=600, deadline=None)
@given(words=st.lists(st.one_of(PLAIN_WORDS, PLAIN_TEXT), min_size=1, max_size=12))
def test_plain_scalars_are_typed_as_pyyaml_does(words: list[str]) -> None:
    """Each word as a list entry, as a key and as a value, repeated (the reader remembers the
    type of text it has seen)."""
    text = "".join(f"- {w}\n- {{{w}: {w}}}\n- {w}\n" for w in words)
    try:
        expected = yaml.load(text, Loader=yaml.CSafeLoader)
    except (yaml.YAMLError, ValueError, TypeError):
        return  # not something both read (a timestamp, a key PyYAML cannot hash, ...)
    if any(isinstance(v, date) for e in expected for kv in _items(e) for v in kv):
        return  # a timestamp: ours stays text
    try:
        data = parse(text).data
    except ScenarioError as error:  # ours refuses only numbers Python cannot convert
        assert "is not a usable number" in str(error)
        return
    flat = [(k, v) if isinstance(e, dict) else (e,) for e in data for k, v in _items(e)]
    reference = [(k, v) if isinstance(e, dict) else (e,) for e in expected for k, v in _items(e)]
    assert [tuple(map(_typed_as_pyyaml, t)) for t in flat] == [
        tuple(map(_typed_as_pyyaml, t)) for t in reference
    ]


def _items(entry: Any) -> list[tuple[Any, Any]]:
    return list(entry.items()) if isinstance(entry, dict) else [(entry, None)]


def test_text_seen_before_keeps_its_place_dependent_meaning() -> None:
    """``<<`` is text as a value and a merge as a key, whichever comes first."""
    data = parse("a: <<\nc:\n  <<: {x: 1}\n  y: 2\nd: [<<]\n").data
    assert data == {"a": "<<", "c": {"x": 1, "y": 2}, "d": ["<<"]}
    data = parse("c:\n  <<: {x: 1}\n  y: 2\na: <<\n").data
    assert data == {"c": {"x": 1, "y": 2}, "a": "<<"}


# -- the built state is the one built before ---------------------------------------------------
MIXED_TIMES = """
users:
  - {displayName: Ada, email: ada@x.example}
drives:
  - owner: ada@x.example
    root:
      children:
        - {name: a.txt, file: {}, createdDateTime: "2030-05-01T10:00:00Z"}
        - {name: b.txt, file: {}}
        - name: F
          folder: {}
          createdDateTime: "2031-01-01T00:00:00+00:00"
          lastModifiedDateTime: "2031-01-02T01:00:00+01:00"
          children:
            - {name: c.txt, file: {}}
        - {name: d.txt, file: {}}
"""


def test_items_with_and_without_times_advance_the_clock_as_before() -> None:
    """An item with its own time still moves the clock one second (values from before)."""
    state = load_scenario_text(MIXED_TIMES)
    times = {i.name: (i.created, i.modified) for i in state.store.items.values()}
    assert times == {
        "root": ("2024-01-01T00:00:01Z", "2024-01-01T00:00:01Z"),
        "a.txt": ("2030-05-01T10:00:00Z", "2030-05-01T10:00:00Z"),
        "b.txt": ("2024-01-01T00:00:03Z", "2024-01-01T00:00:03Z"),
        "F": ("2031-01-01T00:00:00Z", "2031-01-02T00:00:00Z"),
        "c.txt": ("2024-01-01T00:00:05Z", "2024-01-01T00:00:05Z"),
        "d.txt": ("2024-01-01T00:00:06Z", "2024-01-01T00:00:06Z"),
    }
    assert state.clock.peek() == "2024-01-01T00:00:06Z"


def test_a_generated_tenant_round_trips_byte_identical_through_yaml_and_json() -> None:
    exported = export_scenario(build_state(demo_scenario(seed=5, users=20, items=600)))
    text = dump_yaml(exported)
    assert dump_yaml(export_scenario(load_scenario_text(text))) == text
    assert export_scenario(load_scenario_text(json.dumps(exported))) == exported
