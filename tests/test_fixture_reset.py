"""The fixture's reset hands a ready state over to the server without waiting for its loop.

``MockDrive.reset(state)`` readies the state on the caller's thread; the loop serves it from its
next request on (requests in flight keep theirs). So a reset costs the test no hop onto the loop,
and what a test sees is what it saw when the reset waited: the new state at once for the
fixture's helpers, its first request id, the server's signing key, the delta generation.
"""

from __future__ import annotations

import copy
import gc
import http.client
import json
import socket
import threading
import time
import weakref

import pytest

from mockdrive.cli import default_state
from mockdrive.model.ids import EPOCH
from mockdrive.scenario import export_scenario
from mockdrive.scenario.defaults import built_default_state


def get(server, path: str, token: str) -> tuple[int, dict, dict]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request("GET", "/v1.0" + path, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read() or b"{}")
    finally:
        connection.close()


@pytest.fixture
def server(worker_server):
    return worker_server(default_state("ada-token"), clock=EPOCH)


def test_a_reset_returns_while_the_loop_is_busy_and_the_next_request_gets_the_new_state(server):
    busy, release = threading.Event(), threading.Event()

    def hold() -> None:  # keeps the server's loop from running anything else until released
        busy.set()
        release.wait(10)

    holder = threading.Thread(target=server.call, args=(hold,))
    holder.start()
    timer = threading.Timer(3, release.set)  # a reset that waits for the loop ends in 3 s
    timer.start()
    try:
        assert busy.wait(10)
        fresh = default_state("zed-token")
        assert server.reset(fresh) is fresh
        assert not release.is_set(), "the reset waited for the server's loop"
        assert server.state is fresh  # what the fixture's helpers work on, at once
    finally:
        release.set()
        timer.cancel()
        holder.join(10)
    assert get(server, "/me", "zed-token")[0] == 200
    assert get(server, "/me", "ada-token")[0] == 401
    assert server.backend.state is fresh


def test_request_ids_start_again_and_delta_tokens_of_the_earlier_state_expire(server):
    server.reset(default_state("ada-token"))
    status, headers, _ = get(server, "/me", "ada-token")
    assert (status, headers["request-id"]) == (200, "00000000-0000-4000-8000-000000000001")
    status, _, body = get(server, "/me/drive/root/delta", "ada-token")
    delta_link = body["@odata.deltaLink"]
    assert status == 200
    server.reset(default_state("ada-token"))
    status, headers, _ = get(server, "/me", "ada-token")
    assert (status, headers["request-id"]) == (200, "00000000-0000-4000-8000-000000000001")
    status, _, body = get(server, delta_link.split("/v1.0", 1)[1], "ada-token")
    assert (status, body["error"]["code"]) == (410, "resyncRequired")


def test_a_token_issued_before_the_first_request_of_a_state_is_good_after_it(mock_drive):
    """The server's signing key passes to the new state as the reset hands it over, so a token
    from the fixture (before any request) verifies on the requests that follow."""
    token = mock_drive.token_for(mock_drive.owner)
    assert mock_drive.session.get("/me", headers={"Authorization": f"Bearer {token}"}).ok
    mock_drive.server.reset(default_state("owner-token"))
    again = mock_drive.token_for(mock_drive.owner)
    for used in (token, again):
        answer = mock_drive.session.get("/me", headers={"Authorization": f"Bearer {used}"})
        assert answer.status_code == 200, answer.text


def test_a_request_in_flight_during_a_reset_ends_in_the_state_it_began_with(server):
    first = server.state
    # held for a quarter of a second: the reset and the request after it take milliseconds
    rule = server.call(lambda: first.faults.add({"effect": "latency", "latencyMs": 250,
                                                 "path": "/me$"}))  # fmt: skip
    answers: list[int] = []
    held = threading.Thread(target=lambda: answers.append(get(server, "/me", "ada-token")[0]))
    held.start()
    waited = threading.Event()
    while not server.call(lambda: rule.fired) and not waited.wait(0.01):
        pass  # until the held request has begun (its latency fired)
    fresh = default_state("zed-token")
    server.reset(fresh)
    assert get(server, "/me", "zed-token")[0] == 200  # served at once, from the new state
    assert held.is_alive(), "the held request was answered before the reset: nothing tested"
    held.join(10)
    assert answers == [200]  # ada's token: the state the held request began with
    paths = server.call(lambda: [(e.path, e.status) for e in first.journal.entries])
    assert paths == [("/v1.0/me", 200)]
    assert server.call(lambda: [e.path for e in fresh.journal.entries]) == ["/v1.0/me"]


# A client that sends a request and hangs up before its answer: the loop may read the request
# only after the test's thread has reset the state. Both ways below left the request's 499 in the
# next state's journal in nearly every round (a test seeing an earlier test's request).
HUNG_UP = {
    "before the loop read it": False,
    "after its 100 Continue": True,
}
ROUNDS = 20


def statuses(server, state) -> list[int]:
    return server.call(lambda: [entry.status for entry in state.journal.entries])


@pytest.mark.parametrize("after_continue", HUNG_UP.values(), ids=HUNG_UP)
def test_a_request_sent_before_a_reset_is_served_and_journaled_in_the_state_before_it(
    server, after_continue
):
    expect = b"Expect: 100-continue\r\n" if after_continue else b""
    head = (
        b"POST /v1.0/me/drive/root/children HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer ada-token\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n" + expect + b"\r\n"
    )
    for _ in range(ROUNDS):
        before = server.state
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            sock.sendall(head if after_continue else head + b'{"na')
            if after_continue:
                assert sock.makefile("rb").readline().startswith(b"HTTP/1.1 100")
        after = default_state("ada-token")
        server.reset(after)  # at once: the loop may not have read or begun the request yet
        deadline = time.monotonic() + 10
        while not any(statuses(server, state) for state in (before, after)):
            assert time.monotonic() < deadline, "the hung-up request was never journaled"
            time.sleep(0.005)
        assert statuses(server, before) == [499]
        assert statuses(server, after) == []
    status, headers, _ = get(server, "/me", "ada-token")  # the new state's first request
    assert (status, headers["request-id"]) == (200, "00000000-0000-4000-8000-000000000001")


# -- the fixture's state per test: built from the ids its seed draws, freed at once -----------
@pytest.mark.parametrize("seed", [0, 1, 7, 2**40])
def test_the_default_state_is_the_one_built_by_drawing_every_id(seed):
    """``default_state`` takes the owner's, drive's and root's ids its seed drew once, and starts
    its generator where drawing them left it: the same state, and the same ids after it."""
    for _ in range(2):  # the first builds what later ones reuse
        made, built = default_state("t", seed), built_default_state("t", seed)
        for state in (made, built):
            state.clock.pin()
        assert export_scenario(made) == export_scenario(built)
        assert made.ids.position() == built.ids.position()
        drawn = [
            (s.ids.guid(), s.ids.item_id(), s.ids.drive_id(), s.ids.token()) for s in (made, built)
        ]
        assert drawn[0] == drawn[1]


def test_a_state_let_go_of_is_freed_without_the_cycle_collector():
    """Its id generator and expiry handlers held it in reference cycles, so each test's state
    waited for a collection (~25 us of a test's set-up); now it goes when the last user lets go."""
    state = default_state("t")
    drive = next(iter(state.store.drives.values()))
    item = state.make_path(drive, "/Shared/a.txt", is_folder=False)
    guest = state.add_user("Guest", "guest@example.com")
    permission = state.grant(item, guest, ["read"])
    permission.expiration = "2030-01-01T00:00:00Z"
    state.track(permission)
    assert len(state.expirations)
    freed = weakref.ref(state)
    enabled = gc.isenabled()
    gc.disable()
    try:
        del state, drive, item, guest, permission
        assert freed() is None
    finally:
        if enabled:
            gc.enable()


def test_a_copied_state_draws_and_expires_against_itself():
    """A deep copy (tests arrange once and reset to copies) checks its new ids against its own
    items and expires its own permissions, whether or not the original is still there."""
    original = default_state("t")
    original.clock.pin()
    state = copy.deepcopy(original)
    drive = next(iter(state.store.drives.values()))
    item = state.make_path(drive, "/Shared/a.txt", is_folder=False)
    assert state.ids.in_use(item.id) and not original.ids.in_use(item.id)
    permission = state.grant(item, state.add_user("Guest", "guest@example.com"), ["read"])
    permission.expiration = "2024-01-02T00:00:00Z"
    state.track(permission)
    del original
    state.clock.advance(days=2)
    assert state.expirations.sweep(state.clock.moment()) == 1
    assert permission not in item.permissions
