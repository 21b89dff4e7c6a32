"""Attacks on the request pipeline as a wrapper of each route's handler (with ``Unrouted`` and
``GraphVersion`` in the router) and on the fixture's reset that hands a state over without a hop
onto the server's loop.

Every answer comes in a JSON envelope with a ``request-id``, whatever the request line looks
like; what the pipeline journals and the faults it fires are those of the aiohttp middleware it
replaced; a reset never mixes two states in one request nor leaks a request into the next test.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests

from mockdrive.cli import default_state
from mockdrive.model.ids import EPOCH

ADMIN = "admin-secret"


def exchange(server, request: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` byte for byte (``Connection: close``): (status, headers, body)."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 100"):  # an interim 100 Continue
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def request_line(target: bytes, method: bytes = b"GET", headers: bytes = b"") -> bytes:
    return (
        method + b" " + target + b" HTTP/1.1\r\nHost: localhost\r\n" + headers
        + b"Connection: close\r\n\r\n"
    )  # fmt: skip


def assert_json_error(status: int, headers: dict[str, str], body: bytes) -> dict:
    """An error in a JSON envelope (never aiohttp's text), with the pipeline's request id."""
    assert status >= 400, (status, body)
    assert headers.get("content-type", "").startswith("application/json"), (headers, body)
    assert "request-id" in headers, headers
    return json.loads(body)


def journal(server) -> list[dict]:
    return server.call(lambda: [entry.to_dict() for entry in server.backend.state.journal.entries])


@pytest.fixture
def server(worker_server):
    return worker_server(default_state("ada-token"), clock=EPOCH)


@pytest.fixture
def guarded(worker_server):
    """A server whose admin routes require a token."""
    return worker_server(default_state("ada-token"), clock=EPOCH, admin_token=ADMIN)


# -- request lines the router has no path for --------------------------------------------------
# ``CONNECT host:port`` and an absolute-form target without a path have an empty path: the
# router's walk over its index never starts, so neither ``Unrouted`` nor the catch-all is tried
# and aiohttp answers "404: Not Found" in text/plain, outside the pipeline. As a middleware, the
# pipeline answered both in Graph's envelope (404; 401 where the admin token is required).
EMPTY_PATHS = {
    "connect": request_line(b"example.com:443", b"CONNECT"),
    "absolute form without a path": request_line(b"http://localhost"),
    "absolute form without a path, OPTIONS": request_line(b"http://localhost", b"OPTIONS"),
}


@pytest.mark.parametrize("request_bytes", EMPTY_PATHS.values(), ids=EMPTY_PATHS)
def test_a_request_with_an_empty_path_is_answered_in_json(server, request_bytes):
    error = assert_json_error(*exchange(server, request_bytes))["error"]
    assert error["code"] and error["innerError"]["request-id"]


@pytest.mark.parametrize("request_bytes", EMPTY_PATHS.values(), ids=EMPTY_PATHS)
def test_a_request_with_an_empty_path_needs_the_admin_token_as_before(guarded, request_bytes):
    status, headers, body = exchange(guarded, request_bytes)
    assert_json_error(status, headers, body)
    assert status == 401, body


# -- what the router matched only through Unrouted (a newline in the path) ---------------------
def test_a_newline_path_of_a_route_with_other_methods_is_405_with_allow_in_json(server):
    status, headers, body = exchange(server, request_line(b"/_mockdrive/faults/a%0Ab"))
    assert status == 405
    assert headers["allow"] == "DELETE"
    assert assert_json_error(status, headers, body)["error"]["code"]


def sent_once_invited(server, head: bytes, body: bytes) -> bytes:
    """Send ``head`` (with ``Expect: 100-continue`` and ``Connection: close``), assert the
    server answers ``100 Continue`` before the body, send ``body``: the final answer, whole."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(head)
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"HTTP/1.1 100")
        assert reader.readline() == b"\r\n"
        sock.sendall(body)
        return reader.read()


def test_a_newline_path_with_expect_continue_is_invited_and_answered_in_json(server):
    head = (
        b"POST /v1.0/me%0A HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ada-token\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\n"
        b"Connection: close\r\n\r\n"
    )
    answer = sent_once_invited(server, head, b"{}")
    assert b"application/json" in answer and b"request-id:" in answer.lower()
    assert answer.split(b"\r\n", 1)[0].split()[1] == b"404"
    # the code Graph pairs with a 404, as any path no route serves gets (not invalidRequest)
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["code"] == "itemNotFound"


@pytest.mark.parametrize(
    ("path", "envelope"),
    [
        ("/v1.0/me/drive/root:/a.txt:/content", "innerError"),  # Graph
        ("/v1.0/me/drive/items/x/action.invite", "innererror"),  # the OneDrive API's
        ("/_mockdrive/clock", "innerError"),  # the mock's own routes
        ("/v1.0/nowhere", "innerError"),  # no route
    ],
)
def test_an_unknown_expectation_is_a_417_in_the_dialects_envelope_and_changes_nothing(
    server, path, envelope
):
    """Only ``100-continue`` is an expectation HTTP/1.1 knows: any other is refused with 417
    (RFC 9110), in JSON with a request id, as every refusal is (it was aiohttp's plain text),
    journaled on an API route, and the body is never read or stored."""
    before = server.call(lambda: len(server.backend.state.journal.entries))
    answer = requests.put(
        server.url + path,
        data=b"abc",
        headers={"Authorization": "Bearer ada-token", "Expect": "bogus"},
        timeout=10,
    )
    assert answer.status_code == 417, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] == "expectationFailed" and envelope in error
    assert "bogus" in error["message"] and answer.headers["request-id"]
    journal = server.call(
        lambda: [(e.path, e.status) for e in server.backend.state.journal.entries]
    )
    if path.startswith("/v1.0"):
        assert journal[before:] == [(path, 417)]
    names = server.call(lambda: [i.name for i in server.backend.state.store.items.values()])
    assert "a.txt" not in names


@pytest.mark.parametrize(
    "lines",
    [
        [b"100-continue", b"bogus"],  # two lines: one list, "100-continue, bogus" (RFC 9110)
        [b"bogus", b"100-continue"],
        [b"100-continue, bogus"],
        [b"100-Continue", b"100-continue; x=1"],
    ],
)
def test_an_expectation_sent_on_several_lines_is_refused_as_on_one(server, lines):
    """A field sent on several lines is one comma-separated list: an unknown member on any of
    them is the 417 a single line gets, before the body is invited or read; the first line
    alone decided (100-continue first: invited, and the file stored)."""
    expect = b"".join(b"Expect: " + line + b"\r\n" for line in lines)
    head = (
        b"PUT /v1.0/me/drive/root:/several.txt:/content HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer ada-token\r\nContent-Length: 3\r\n" + expect
        + b"Connection: close\r\n\r\n"
    )  # fmt: skip
    status, headers, body = exchange(server, head + b"abc")
    assert status == 417, body
    assert assert_json_error(status, headers, body)["error"]["code"] == "expectationFailed"
    names = server.call(lambda: [i.name for i in server.backend.state.store.items.values()])
    assert "several.txt" not in names


def test_expect_continue_on_one_line_or_several_invites_the_body(server):
    """``100-continue`` alone, in any case, once or repeated, is still invited."""
    for number, expect in enumerate(
        [b"Expect: 100-Continue\r\n", b"Expect: 100-continue\r\nExpect: 100-CONTINUE\r\n"]
    ):
        head = (
            f"PUT /v1.0/me/drive/root:/c{number}.txt:/content HTTP/1.1\r\nHost: x\r\n".encode()
            + b"Authorization: Bearer ada-token\r\nContent-Length: 3\r\n" + expect
            + b"Connection: close\r\n\r\n"
        )  # fmt: skip
        assert sent_once_invited(server, head, b"abc").split()[1] == b"201"


def test_unmatched_and_batch_steps_are_journaled_with_their_faults(server):
    """A fault rule on a newline path fires on the request no route matches and on a ``$batch``
    step to it; both are journaled with their caller."""
    server.call(
        lambda: server.backend.state.faults.add(
            {"effect": "error", "path": "\n", "status": 503, "code": "boom"}
        )
    )
    auth = {"Authorization": "Bearer ada-token"}
    direct = requests.get(server.url + "/v1.0/me%0A", headers=auth, timeout=10)
    assert (direct.status_code, direct.json()["error"]["code"]) == (503, "boom")
    assert direct.headers["request-id"]
    batch = requests.post(
        server.url + "/v1.0/$batch",
        json={"requests": [{"id": "1", "method": "GET", "url": "/me%0A"}]},
        headers=auth,
        timeout=10,
    )
    step = batch.json()["responses"][0]
    assert (step["status"], step["body"]["error"]["code"]) == (503, "boom")
    entries = [e for e in journal(server) if e["path"] == "/v1.0/me\n"]
    assert len(entries) == 2
    for entry in entries:
        assert entry["status"] == 503
        assert entry["caller"] == "ada@contoso.example"
        assert entry["faults"] and entry["faults"][0]["effect"] == "error"
    assert "batch" in entries[1] and "batch" not in entries[0]


def test_headers_in_any_case_are_checked_echoed_and_journaled(server):
    """The journaled headers are read once by their case-insensitive names: a client's spelling
    (lowercase, uppercase) is found as before."""
    status, headers, body = exchange(
        server,
        request_line(
            b"/v1.0/nope",
            headers=b"Authorization: Bearer ada-token\r\nCLIENT-REQUEST-ID: abc\r\n"
            b"accept: application/json\r\n",
        ),
    )
    assert_json_error(status, headers, body)
    assert headers["client-request-id"] == "abc"
    entry = journal(server)[-1]
    assert entry["headers"] == {"Accept": "application/json", "client-request-id": "abc"}
    bad = b"Authorization: Bearer ada-token\r\nclient-request-id: \xff\r\n"
    status, headers, body = exchange(server, request_line(b"/v1.0/me", headers=bad))
    assert status == 400 and "client-request-id" not in headers


def test_a_client_that_hangs_up_mid_body_is_journaled_as_499(server):
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1.0/me/drive/root/children HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer ada-token\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"na'
        )
        time.sleep(0.2)
    for _ in range(50):
        entries = journal(server)
        if entries:
            break
        time.sleep(0.05)
    assert [(e["status"], e["caller"]) for e in entries] == [(499, "ada@contoso.example")]


# -- resets while requests are in flight ---------------------------------------------------------
def test_a_request_held_across_a_reset_keeps_its_state_and_the_next_starts_the_new_one(server):
    """A request waiting on a latency rule when the state is reset: it answers and journals in
    the state it began with; the new state starts with an empty journal and request id 1."""
    rule = server.call(
        lambda: server.backend.state.faults.add(
            {"effect": "latency", "path": "/me$", "latencyMs": 250}  # the reset takes ms
        )
    )
    old = server.state
    answers: list[requests.Response] = []
    auth = {"Authorization": "Bearer ada-token"}
    held = threading.Thread(
        target=lambda: answers.append(requests.get(server.url + "/v1.0/me", headers=auth))
    )
    held.start()
    deadline = time.monotonic() + 10
    while not server.call(lambda: rule.fired):  # until the request waits on its latency
        assert time.monotonic() < deadline, "the latency rule never fired"
        time.sleep(0.005)
    fresh = server.reset(default_state("zed-token"))
    assert held.is_alive(), "the request was answered before the reset: nothing tested"
    held.join(10)
    assert answers[0].status_code == 200, answers[0].text
    assert [e.path for e in old.journal.entries] == ["/v1.0/me"]
    after = requests.get(server.url + "/v1.0/me", headers={"Authorization": "Bearer zed-token"})
    assert after.status_code == 200
    assert after.headers["request-id"] == "00000000-0000-4000-8000-000000000001"
    assert [e.path for e in fresh.journal.entries] == ["/v1.0/me"]
    assert requests.get(server.url + "/v1.0/me", headers=auth).status_code == 401


def test_two_resets_back_to_back_serve_the_second(server):
    auth = {"Authorization": "Bearer ada-token"}
    delta = requests.get(server.url + "/v1.0/me/drive/root/delta", headers=auth).json()
    link = delta["@odata.deltaLink"]
    first = server.reset(default_state("one-token"))
    first.outbox.clear()
    second = server.reset(default_state("ada-token"))
    assert server.state is second
    answer = requests.get(link, headers=auth)
    assert (answer.status_code, answer.json()["error"]["code"]) == (410, "resyncRequired")
    assert answer.headers["request-id"] == "00000000-0000-4000-8000-000000000001"
    one = requests.get(server.url + "/v1.0/me", headers={"Authorization": "Bearer one-token"})
    assert one.status_code == 401
    assert server.backend.state is second and not first.journal.entries
    assert len(second.journal.entries) == 2


def test_resets_racing_requests_never_fail_a_request(server):
    """A client hammering the server while the test thread resets it again and again: every
    answer is the JSON of one state or the other (200, or 401 for the other state's token)."""
    stop = threading.Event()
    statuses: list[int] = []
    failures: list[str] = []

    def hammer() -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = "Bearer ada-token"
            while not stop.is_set():
                answer = session.get(server.url + "/v1.0/me/drive/root/children")
                statuses.append(answer.status_code)
                if answer.status_code not in (200, 401) or "request-id" not in answer.headers:
                    failures.append(answer.text)

    workers = [threading.Thread(target=hammer) for _ in range(2)]
    for worker in workers:
        worker.start()
    served = []
    try:
        for round_ in range(60):
            token = "ada-token" if round_ % 2 else "bob-token"
            served.append(server.reset(default_state(token)))
            time.sleep(0.005)
    finally:
        stop.set()
        for worker in workers:
            worker.join(10)
    assert statuses and not failures, failures[:3]
    for state in served:  # each state's requests numbered from 1, once each, in order
        ids = [int(entry.request_id.rsplit("-", 1)[1], 16) for entry in state.journal.entries]
        assert ids == list(range(1, len(ids) + 1)), ids
    final = server.reset(default_state("ada-token"))
    answer = requests.get(server.url + "/v1.0/me", headers={"Authorization": "Bearer ada-token"})
    assert answer.headers["request-id"] == "00000000-0000-4000-8000-000000000001"
    assert [e.path for e in final.journal.entries] == ["/v1.0/me"]


def test_clock_outbox_and_journal_after_a_reset_are_the_new_states(server):
    """What an earlier test moved or filled (the clock, the outbox, the journal) is gone after
    the reset, for the fixture's helpers at once and for the next request."""
    fresh_now = requests.get(server.url + "/_mockdrive/clock").json()["now"]
    moved = requests.post(server.url + "/_mockdrive/clock", json={"days": 3})
    assert moved.json()["now"] != fresh_now
    auth = {"Authorization": "Bearer ada-token"}
    body = {"recipients": [{"email": "x@example.com"}], "roles": ["read"], "sendInvitation": True}
    invite = requests.post(server.url + "/v1.0/me/drive/root/invite", json=body, headers=auth)
    assert invite.status_code == 200, invite.text
    assert server.state.outbox.to_list() and server.state.journal.entries
    fresh = server.reset(default_state("ada-token"))
    assert not fresh.outbox.to_list() and not fresh.journal.entries  # before any request
    assert requests.get(server.url + "/_mockdrive/clock").json()["now"] == fresh_now
    assert requests.get(server.url + "/_mockdrive/outbox").json() == {"value": []}
    assert requests.get(server.url + "/v1.0/me", headers=auth).status_code == 200
    assert [e.path for e in fresh.journal.entries] == ["/v1.0/me"]


def test_the_fixture_helpers_see_the_handed_over_state_before_any_request(mock_drive):
    """A helper called before the test's first request works on the state the test's requests
    will be served (not the previous test's, still served until that first request)."""
    folder = mock_drive.add_folder("Reports")
    answer = mock_drive.session.get("/me/drive/root:/Reports")
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == folder.id
    assert [e.path for e in mock_drive.state.journal.entries] == ["/v1.0/me/drive/root:/Reports"]
