"""Attacks on what a state forgets when a permission goes, and on the clock's heap rebuild."""

from __future__ import annotations

import copy
import heapq
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from mockdrive.model import clock
from mockdrive.model.clock import COMPACT_FROM

SHARING = {"Prefer": "deltashowsharingchanges"}


def ok(response) -> dict:
    assert response.status_code < 300, response.text
    return response.json() if response.content else {}


def at(today: datetime, hours: int) -> str:
    return (today + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def delta_names(graph, link: str) -> tuple[list[str], str]:
    names, url = [], link
    while True:
        page = ok(graph.get(url, headers=SHARING))
        names += [entry.get("name") for entry in page["value"]]
        if "@odata.nextLink" not in page:
            return names, page["@odata.deltaLink"]
        url = page["@odata.nextLink"]


def run_late_expiry(mock_drive, graph, rebuild: bool) -> list[str]:
    for name in ("a.txt", "b.txt", "c.txt"):
        ok(graph.put(f"/me/drive/root:/{name}:/content", data=b"x"))
    today = mock_drive.clock.now()
    links = {}
    for name in ("a.txt", "b.txt", "c.txt"):
        links[name] = ok(graph.post(f"/me/drive/root:/{name}:/createLink",
                                    json={"type": "view", "scope": "anonymous"}))  # fmt: skip

    def expire(name: str, hours: int) -> None:
        ok(graph.patch(f"/me/drive/root:/{name}:/permissions/{links[name]['id']}",
                       json={"expirationDateTime": at(today, hours)}))  # fmt: skip

    expire("a.txt", 24)
    expire("a.txt", 72)  # a's deadline moves after b's
    expire("b.txt", 48)
    if rebuild:  # c's deadline replaced until the heap is rebuilt
        for n in range(2 * COMPACT_FROM):
            expire("c.txt", 100 + n)
    _, link = delta_names(graph, "/me/drive/root/delta")
    mock_drive.clock.advance(days=3, hours=1)
    names, _ = delta_names(graph, link)
    return [name for name in names if name in ("a.txt", "b.txt")]


def test_a_link_whose_expiry_moved_later_expires_after_one_due_before_it(mock_drive, graph):
    assert run_late_expiry(mock_drive, graph, rebuild=False) == ["b.txt", "a.txt"]


def test_rebuilt_heap_expires_in_the_same_order(mock_drive, graph):
    assert run_late_expiry(mock_drive, graph, rebuild=True) == ["b.txt", "a.txt"]


# -- the heap's rebuild against a heap that never rebuilds ---------------------------------------
KINDS = ("permission", "invitation")
KEYS = [("item", str(n)) for n in range(6)]
EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
MOMENTS = st.integers(0, 40).map(lambda hours: EPOCH + timedelta(hours=hours))
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("schedule"), MOMENTS, st.sampled_from(KINDS), st.sampled_from(KEYS)),
        st.tuples(st.just("unset"), st.sampled_from(KINDS), st.sampled_from(KEYS)),
        st.tuples(st.just("gone"), st.sampled_from(KEYS)),
        st.tuples(st.just("sweep"), st.integers(0, 6)),
        st.just(("copy",)),
    ),
    max_size=60,
)


class ReferenceHeap:
    """Every deadline ever scheduled stays until due: what ``Expirations`` did before it
    dropped any (the same order: by time, kind, key)."""

    def __init__(self) -> None:
        self.heap: list[tuple[datetime, str, tuple[str, ...]]] = []
        self.handlers: dict[str, Callable[[tuple[str, ...], datetime], bool]] = {}
        self.live: dict[str, Callable[[tuple[str, ...], datetime], bool]] = {}

    def schedule(self, when: datetime, kind: str, *key: str) -> None:
        heapq.heappush(self.heap, (when, kind, key))

    def withdraw(self, *key: str) -> None:
        pass

    def sweep(self, now: datetime) -> int:
        fired = 0
        while self.heap and self.heap[0][0] <= now:
            when, kind, key = heapq.heappop(self.heap)
            fired += self.handlers[kind](key, when)
        return fired

    def pending(self) -> int:
        return len({entry for entry in self.heap if self.live[entry[1]](entry[2], entry[0])})


class World:
    """The things the deadlines stand for: (kind, key) -> the deadline each has now. A
    handler withdraws a thing when its deadline stands (as model/links.py's do), and the
    thing's other deadlines go with it (as ``State._forget`` tells ``withdraw``)."""

    def __init__(self, deadlines: Any) -> None:
        self.deadlines = deadlines
        self.things: dict[tuple[str, tuple[str, ...]], datetime] = {}
        self.withdrawn: list[tuple[str, tuple[str, ...]]] = []
        self.install()

    def install(self) -> None:
        for kind in KINDS:
            self.deadlines.live[kind] = partial(self.stands, kind)
            self.deadlines.handlers[kind] = partial(self.due, kind)

    def stands(self, kind: str, key: tuple[str, ...], when: datetime) -> bool:
        return self.things.get((kind, key)) == when

    def due(self, kind: str, key: tuple[str, ...], when: datetime) -> bool:
        if not self.stands(kind, key, when):
            return False
        self.withdrawn.append((kind, key))
        self.gone(key)
        return True

    def gone(self, key: tuple[str, ...]) -> None:
        for kind in KINDS:
            self.things.pop((kind, key), None)
        self.deadlines.withdraw(*key)

    def apply(self, operation: tuple[Any, ...], now: datetime) -> Any:
        name, *rest = operation
        if name == "schedule":
            when, kind, key = rest
            self.things[(kind, key)] = when
            self.deadlines.schedule(when, kind, *key)
        elif name == "unset":
            self.things.pop(tuple(rest), None)  # type: ignore[arg-type]
        elif name == "gone":
            self.gone(rest[0])
        elif name == "sweep":
            return self.deadlines.sweep(now)
        elif name == "copy":  # a state's copy: the copy goes on in its place
            self.deadlines = copy.deepcopy(self.deadlines)
            self.install()
        return None


@settings(max_examples=400, deadline=None, derandomize=True)
@given(OPERATIONS)
def test_a_rebuilt_heap_withdraws_what_a_heap_never_rebuilt_withdraws(operations):
    with patch.object(clock, "COMPACT_FROM", 0):  # rebuilt as often as it may be
        rebuilt, reference = World(clock.Expirations()), World(ReferenceHeap())
        now = EPOCH
        for operation in operations:
            if operation[0] == "sweep":
                now += timedelta(hours=operation[1])
            assert rebuilt.apply(operation, now) == reference.apply(operation, now), operation
            assert rebuilt.withdrawn == reference.withdrawn
            assert rebuilt.deadlines.pending() == reference.deadlines.pending()
            heap = rebuilt.deadlines
            if operation[0] == "schedule":  # the heap is rebuilt when a schedule overfills it
                assert len(heap) <= 2 * len(heap.latest), "the heap was not rebuilt"
