"""The ready sessions' in-process transport, tried as a user's test would use the session.

Each test does one thing a user may do with ``mock_drive.session`` and compares it with the
socket: a plain ``requests.Session`` with the same headers, or the ready session as it would be
with ``clients.in_process = False``. A failing test here is a place where a user's test would
behave differently in process than over a real socket.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from mockdrive.model.ids import EPOCH
from mockdrive.scenario.defaults import OWNER_TOKEN, default_state
from mockdrive.server import MockDrive
from mockdrive.testing.inprocess import mount_in_process


class CountingAdapter(HTTPAdapter):
    """A user's own adapter: counts what it sends."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sent = 0

    def send(self, request, *args, **kwargs):
        self.sent += 1
        return super().send(request, *args, **kwargs)


_OPENED: list[requests.Session] = []  # the plain sessions of a test, closed after it


@pytest.fixture(autouse=True)
def _close_plain_sessions() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


def _plain(mock_drive) -> tuple[requests.Session, dict[str, str]]:
    """A requests session over the socket, and the ready session's Authorization header."""
    plain = requests.Session()
    plain.trust_env = False
    _OPENED.append(plain)
    return plain, {"Authorization": f"Bearer {mock_drive.server.owner_token()}"}


def test_an_adapter_the_user_mounts_on_the_server_url_sends_the_request(mock_drive):
    """``session.mount(mock_drive.url, adapter)`` is the longest prefix a user has for the
    server; over a socket every request to the server goes through it, and so it must in
    process (an in-process adapter mounted at ``url + "/"`` once took the request: the user's
    adapter, with its retries, logging or recorder, was silently skipped)."""
    plain, auth = _plain(mock_drive)
    theirs = CountingAdapter()
    plain.mount(mock_drive.url, theirs)
    assert plain.get(mock_drive.server.graph_url + "/me/drive", headers=auth).status_code == 200
    assert theirs.sent == 1  # the socket: the user's adapter sent it

    session = mock_drive.session
    mine = CountingAdapter()
    session.mount(mock_drive.url, mine)
    try:
        response = session.get("/me/drive")
        assert response.status_code == 200
        assert mine.sent == 1, f"the user's adapter was skipped for {response.connection!r}"
    finally:
        session.adapters.pop(mock_drive.url).close()


def test_an_adapter_the_user_mounts_for_http_sends_the_request(mock_drive):
    """``session.mount("http://", HTTPAdapter(max_retries=...))`` is the documented way to add
    retries to a session; the ready session over a socket honours it (its only adapters are
    requests' ``http://`` and ``https://``). In process the request never reaches it."""
    session = mock_drive.session
    mine = CountingAdapter(max_retries=Retry(total=3, backoff_factor=0))
    original = session.adapters["http://"]
    session.mount("http://", mine)
    try:
        assert session.get("/me/drive").status_code == 200
        assert mine.sent == 1
    finally:
        session.mount("http://", original)
        mine.close()


def test_a_retry_adapter_on_the_server_url_retries_a_throttled_request(mock_drive):
    """A user's retry policy for 503s, mounted for the server, retries over the socket; in
    process the throttled answer comes straight back."""
    plain, auth = _plain(mock_drive)
    retry = Retry(
        total=2,
        status_forcelist=[429, 503],
        backoff_factor=0,
        respect_retry_after_header=False,
        allowed_methods=None,
        raise_on_status=False,
    )
    plain.mount(mock_drive.url, HTTPAdapter(max_retries=retry))
    mock_drive.faults.add(
        effect="error", status=503, code="serviceNotAvailable", times=1, path="/me/drive"
    )
    over_socket = plain.get(mock_drive.server.graph_url + "/me/drive", headers=auth)
    assert over_socket.status_code == 200  # the socket: retried once, then answered

    session = mock_drive.session
    session.mount(mock_drive.url, HTTPAdapter(max_retries=retry))
    try:
        mock_drive.faults.add(
            effect="error", status=503, code="serviceNotAvailable", times=1, path="/me/drive"
        )
        response = session.get("/me/drive")
        assert response.status_code == 200, response.text
    finally:
        session.adapters.pop(mock_drive.url).close()


def _cut_off_by_stop(in_process: bool) -> BaseException:
    """A GET held by a latency rule while its server stops: what the caller gets."""
    server = MockDrive(default_state(OWNER_TOKEN), clock=EPOCH).start()
    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {OWNER_TOKEN}"
    if in_process:
        assert mount_in_process(session, server)
    assert session.get(server.graph_url + "/me/drive").status_code == 200
    rule = server.call(lambda: server.state.faults.add({"effect": "latency", "latencyMs": 3000}))
    caught: list[BaseException] = []

    def send() -> None:
        try:
            session.get(server.graph_url + "/me/drive")
        except requests.RequestException as error:
            caught.append(error)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    deadline = time.monotonic() + 10
    while not server.call(lambda: rule.fired):  # until the server holds the request
        assert time.monotonic() < deadline, "the latency rule never fired"
        time.sleep(0.005)
    server.stop()
    sender.join(15)
    assert not sender.is_alive(), "the request never came back"
    assert caught, "the request cut off by stop() succeeded"
    return caught[0]


def test_a_request_the_server_hangs_up_on_is_not_sent_again_over_the_socket():
    """Over a socket, a request the server hangs up on (it stops while the answer is held)
    raises ``ConnectionError('Connection aborted.', RemoteDisconnected(...))``. In process, the
    adapter takes the failure for "refused before a byte left" (http.client dropped the socket
    on the failure, so the bytes sent cannot be counted) and sends the request a second time
    over the socket: here a NewConnectionError (the port is closed); on a running server, a
    second execution of a request that was already delivered."""
    over_socket = _cut_off_by_stop(in_process=False)
    in_process = _cut_off_by_stop(in_process=True)
    assert "RemoteDisconnected" in str(over_socket)
    assert "NewConnectionError" not in str(in_process), str(in_process)
    assert "RemoteDisconnected" in str(in_process), str(in_process)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_five_thousand_requests_leave_no_threads_or_fds(mock_drive):
    session = mock_drive.session
    for _ in range(50):
        assert session.get("/me/drive").status_code == 200
    threads, fds = threading.active_count(), _open_fds()
    for _ in range(5000):
        assert session.get("/me/drive").status_code == 200
    assert threading.active_count() <= threads
    assert _open_fds() <= fds + 2


def test_threads_share_the_session_in_process_and_over_the_socket(mock_drive):
    """8 workers x 200 requests on one session, every other one over the socket (timeout=)."""
    session = mock_drive.session

    def one(n: int) -> tuple[int, str]:
        kwargs = {"timeout": 30} if n % 2 else {}
        response = session.get("/me/drive", **kwargs)
        return response.status_code, response.json()["id"] if n % 7 == 0 else ""

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(1600)))
    assert {status for status, _ in answers} == {200}
    assert len({first for _, first in answers if first}) == 1
    adapter = session.get_adapter(mock_drive.url + "/")
    assert len(adapter._idle) <= 10


def _held_then_reset(mock_drive, session: requests.Session, **headers: str) -> int:
    # held for a quarter of a second: reset as soon as the rule holds it (milliseconds)
    rule = mock_drive.faults.add(effect="latency", latencyMs=250, path="/me/drive$")
    status: list[int] = []
    sender = threading.Thread(
        target=lambda: status.append(
            session.get(mock_drive.server.graph_url + "/me/drive", headers=headers).status_code
        ),
        daemon=True,
    )
    sender.start()
    deadline = time.monotonic() + 10
    while not mock_drive.server.call(lambda: rule.fired):
        assert time.monotonic() < deadline, "the latency rule never fired"
        time.sleep(0.005)
    mock_drive.server.reset()
    assert sender.is_alive(), "the request was answered before the reset: nothing tested"
    sender.join(10)
    assert not sender.is_alive()
    return status[0]


def test_a_request_held_by_latency_across_a_reset_comes_back(mock_drive):
    """The test thread blocks while the answer is held, and gets it once the rule lets go,
    with a reset in between (the status after a reset is not the transport's to decide)."""
    assert _held_then_reset(mock_drive, mock_drive.session) in (200, 401)


def test_a_closed_session_still_sends(mock_drive):
    session = mock_drive.session
    assert session.get("/me/drive").status_code == 200
    session.close()
    assert session.get("/me/drive").status_code == 200
    assert session.get("/me/drive", timeout=10).status_code == 200


@pytest.mark.parametrize("redirects", [True, False])
def test_a_download_redirect_is_followed_as_over_the_socket(mock_drive, redirects):
    session = mock_drive.session
    plain, auth = _plain(mock_drive)
    item = session.put("/me/drive/root:/r.txt:/content", data=b"hello").json()
    url = f"{mock_drive.server.graph_url}/me/drive/items/{item['id']}/content"
    mine = session.get(url, allow_redirects=redirects)
    theirs = plain.get(url, headers=auth, allow_redirects=redirects)
    assert (mine.status_code, mine.content, mine.url) == (
        theirs.status_code,
        theirs.content,
        theirs.url,
    )
    assert [r.status_code for r in mine.history] == [r.status_code for r in theirs.history]


def _raise_for_status(response: requests.Response, *args, **kwargs) -> None:
    response.raise_for_status()


def _open_after_raising_hook(mock_drive, session: requests.Session, **headers: str) -> int:
    """Connections the server still holds after 200 answers a raising hook never read."""
    server = mock_drive.server.protocol_factory()[1]  # aiohttp's Server: its open connections
    before = len(server.connections)
    session.hooks["response"].append(_raise_for_status)
    try:
        for _ in range(200):
            with pytest.raises(requests.HTTPError):
                session.get(mock_drive.server.graph_url + "/me/drive/root:/nope", headers=headers)
    finally:
        session.hooks["response"].remove(_raise_for_status)
    gc.collect()
    deadline = time.monotonic() + 5  # the server sees the closed ones within milliseconds
    while len(server.connections) - before > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    return len(server.connections) - before


def test_a_raise_for_status_hook_leaves_no_connection_open(mock_drive):
    """``session.hooks["response"].append(lambda r, *a, **k: r.raise_for_status())`` is a common
    pattern; the hook raises before the session reads the body. Over the socket the unread
    answer's connection goes with the response; in process the adapter keeps every such
    connection in its idle list forever (its last answer is never read, so it is neither
    reused nor closed): the server holds one connection per failed request, and every later
    request scans them all."""
    plain, auth = _plain(mock_drive)
    assert _open_after_raising_hook(mock_drive, plain, **auth) <= 1
    assert _open_after_raising_hook(mock_drive, mock_drive.session) <= 1


def _status_retry() -> Retry:
    return Retry(
        total=2,
        status_forcelist=[503],
        backoff_factor=0,
        respect_retry_after_header=False,
        allowed_methods=None,
        raise_on_status=False,
    )


def test_a_retry_policy_set_on_the_sessions_adapter_is_honoured(mock_drive):
    """``session.get_adapter(url).max_retries = Retry(status_forcelist=[503])``: over a socket
    urllib3 retries the 503; the in-process adapter only copies ``max_retries`` onto the
    answer and hands the 503 back."""
    plain, auth = _plain(mock_drive)
    url = mock_drive.server.graph_url + "/me/drive"
    plain.get_adapter(url).max_retries = _status_retry()
    mock_drive.faults.add(
        effect="error", status=503, code="serviceNotAvailable", times=1, path="/me/drive$"
    )
    assert plain.get(url, headers=auth).status_code == 200  # the socket: retried

    adapter = mock_drive.session.get_adapter(url)
    kept = adapter.max_retries
    adapter.max_retries = _status_retry()
    try:
        mock_drive.faults.add(
            effect="error", status=503, code="serviceNotAvailable", times=1, path="/me/drive$"
        )
        response = mock_drive.session.get(url)
        assert response.status_code == 200, response.text
    finally:
        adapter.max_retries = kept


BODIES = {
    "json": {"json": {"name": "é ü 😀.txt", "file": {}}},
    "form": {"data": {"name": "a b&c=d", "x": "é"}},
    "multipart": {"files": {"file": ("a.txt", b"\x00\xff" * 1000)}},
    "generator": {},  # made per request: a generator is used up by the first
    "str": {
        "data": '{"name": "é € str", "folder": {}}',
        "headers": {"Content-Type": "application/json"},
    },
    "big": {"data": b"x" * (4 * 1024 * 1024 - 1)},
}


@pytest.mark.parametrize("kind", list(BODIES))
def test_bodies_answer_as_over_the_socket(mock_drive, kind):
    """The same body in process and over the socket gets the same status and error code."""
    plain, auth = _plain(mock_drive)
    answers = []
    for side, session, headers in (("s", plain, auth), ("p", mock_drive.session, {})):
        kwargs = dict(BODIES[kind])
        if kind == "generator":
            kwargs["data"] = iter([b'{"name":', b' "gen%s", "folder": {}}' % side.encode()])
        if kind == "str":
            kwargs["data"] = kwargs["data"].replace("str", f"str {side}")
            kwargs["headers"] = {**headers, **kwargs["headers"]}
            headers = kwargs.pop("headers")
        if kind == "json":
            kwargs["json"] = {**kwargs["json"], "name": f"é ü 😀 {side}.txt"}
        if kind == "big":
            path = f"/me/drive/root:/big{side}.bin:/content"
            response = session.put(
                mock_drive.server.graph_url + path, headers=headers, params={"q": "é"}, **kwargs
            )
        else:
            response = session.post(
                mock_drive.server.graph_url + "/me/drive/root/children",
                headers=headers,
                params={"q": "é €"},
                **kwargs,
            )
        body = response.json()
        answers.append((response.status_code, body.get("error", {}).get("code"), body.get("size")))
    assert answers[0][:2] == answers[1][:2]
    if kind == "big":
        assert answers[0][2] == answers[1][2] == 4 * 1024 * 1024 - 1
