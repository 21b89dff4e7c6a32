"""A state that shares and unshares for ever stays bounded: what it keeps beside its permissions
(when each was shared, the link tokens, the deadlines on the clock) goes with them, whichever
way they go (withdrawn, expired, their item deleted), and a deadline replaced by another leaves
the clock's heap. Counted, not measured: the server's memory under such a load is measured by
``python -m benchmarks.soak``."""

from __future__ import annotations

import sys
import tracemalloc
from datetime import datetime, timedelta

from mockdrive.api import jsonio
from mockdrive.api.graph import render
from mockdrive.model.clock import COMPACT_FROM

ROUNDS = 120
FOLDER = "/me/drive/root:/Shared:"


def kept(mock_drive) -> dict[str, int]:
    def look() -> dict[str, int]:
        state = mock_drive.state
        return {
            "deadlines": len(state.expirations.heap),
            "standing": len(state.expirations.latest),
            "shared_at": len(state.shared_at),
            "tokens": len(state.links.by_token),
        }

    return mock_drive.server.call(look)


def ok(response) -> dict:
    assert response.status_code < 300, response.text
    return response.json() if response.content else {}


def in_days(today: datetime, days: int) -> str:
    return (today + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def listed(graph) -> list[str]:
    return [permission["id"] for permission in ok(graph.get(f"{FOLDER}/permissions"))["value"]]


def test_sharing_and_unsharing_for_ever_keeps_the_state_bounded(mock_drive, graph):
    ok(graph.post("/me/drive/root/children", json={"name": "Shared", "folder": {}}))
    before = kept(mock_drive)
    for n in range(ROUNDS):
        invited = ok(graph.post(f"{FOLDER}/invite", json={
            "recipients": [{"email": f"guest{n}@fabrikam.example"}],
            "roles": ["read"], "sendInvitation": False,
        }))["value"][0]  # fmt: skip
        ok(graph.delete(f"{FOLDER}/permissions/{invited['id']}"))
        today = mock_drive.clock.now()
        link = ok(graph.post(f"{FOLDER}/createLink", json={
            "type": "view", "scope": "anonymous", "expirationDateTime": in_days(today, 2),
        }))  # fmt: skip
        for days in (3, 4, 5):  # each replaces the deadline before it
            change = {"expirationDateTime": in_days(today, days)}
            ok(graph.patch(f"{FOLDER}/permissions/{link['id']}", json=change))
        if n % 3 == 0:
            ok(graph.delete(f"{FOLDER}/permissions/{link['id']}"))
        elif n % 3 == 1:
            mock_drive.clock.advance(days=7)  # it expires
            assert link["id"] not in listed(graph)
        else:  # its folder goes, and a new one takes its name
            ok(graph.delete(FOLDER))
            ok(graph.post("/me/drive/root/children", json={"name": "Shared", "folder": {}}))
    after = kept(mock_drive)
    # deadlines that cannot stand leave the heap at its next rebuild, not at once
    assert after["deadlines"] <= 2 * after["standing"] + COMPACT_FROM, after
    after["deadlines"] = before["deadlines"]
    assert after == before, f"{ROUNDS} rounds of sharing and unsharing left {after}, not {before}"


def test_deadlines_replaced_again_and_again_leave_a_bounded_heap(mock_drive, graph):
    ok(graph.post("/me/drive/root/children", json={"name": "Shared", "folder": {}}))
    link = ok(graph.post(f"{FOLDER}/createLink", json={"type": "view", "scope": "anonymous"}))
    for n in range(4 * COMPACT_FROM):
        change = {"expirationDateTime": f"2024-02-01T00:{n // 60:02d}:{n % 60:02d}Z"}
        ok(graph.patch(f"{FOLDER}/permissions/{link['id']}", json=change))
        now = kept(mock_drive)
        assert now["deadlines"] <= 2 * now["standing"] + COMPACT_FROM, now
    assert now["standing"] == 1
    mock_drive.clock.advance(days=40)  # the last deadline is the one that counts
    assert link["id"] not in listed(graph)
    assert kept(mock_drive)["deadlines"] == 0


def test_kept_encodings_hold_no_more_memory_than_their_length(mock_drive, graph):
    """orjson's result holds a buffer of at least 4 KB whatever its length: kept as it is, a
    cache of ten thousand short permissions would hold 40 MB. Counted by tracemalloc: what
    the encodings made while it traced and still hold, against their lengths."""
    ok(graph.post("/me/drive/root/children", json={"name": "Shared", "folder": {}}))
    tracemalloc.start(8)
    try:
        for n in range(20):
            ok(graph.post(f"{FOLDER}/invite", json={
                "recipients": [{"email": f"guest{n}@fabrikam.example"}], "roles": ["read"],
            }))  # fmt: skip
        ok(graph.get(FOLDER))
        made = tracemalloc.take_snapshot().filter_traces(  # by the encoding, for rendering
            [tracemalloc.Filter(True, jsonio.__file__)]
        )
        held = made.filter_traces([tracemalloc.Filter(True, render.__file__, all_frames=True)])
    finally:
        tracemalloc.stop()

    def kept_encodings() -> list[bytes]:
        permissions = [whole for _, whole in render._PERMISSIONS[1].values()]
        items = [fields for _, fields in render._ENCODED[1].values()]
        return [*permissions, *items, *render._CONTEXTS.values()]

    encodings = mock_drive.server.call(kept_encodings)
    assert len(encodings) >= 20
    length = sum(sys.getsizeof(encoded) for encoded in encodings)
    held_bytes = sum(stat.size for stat in held.statistics("filename"))
    assert held_bytes <= length, f"{len(encodings)} encodings of {length} bytes hold {held_bytes}"
