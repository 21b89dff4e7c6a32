"""The ready session's in-process transport answers exactly as the socket does.

The requests the ready sessions sent during a run of the Graph suites (recorded by
``tests/ready_requests/recorder.py``, each test with the state it started from) are replayed on
one server twice, each time from a fresh copy of that state: once over the socket, once in
process. Every answer must match: status, reason, every header in order (but ``Date``, the
wall clock's second, which two runs need not share), the body byte for byte, the redirects
followed and the final URL. Hostile requests are added by hand.
"""

from __future__ import annotations

import base64
import copy
import gzip
import io
import json
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mockdrive.model.ids import EPOCH
from mockdrive.model.state import State
from mockdrive.scenario import build_state
from mockdrive.scenario.defaults import OWNER_TOKEN, default_state
from mockdrive.server import MockDrive
from mockdrive.testing import inprocess
from mockdrive.testing.inprocess import mount_in_process

RECORDED = Path(__file__).parent / "ready_requests" / "recorded.jsonl.gz"
# The wall clock's second: two runs of the same request may straddle one. (Request ids, ETags,
# signed download URLs, delta tokens come from the state, whose copies are equal: compared.)
UNSHARED_HEADERS = {"date"}


def _recorded() -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """(test, the state it started from, its requests), in the order they were sent."""
    tests: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    with gzip.open(RECORDED, "rt") as lines:
        for line in lines:
            entry = json.loads(line)
            if "state" in entry:
                tests[entry["test"]] = (entry["state"], [])
            else:
                tests[entry["test"]][1].append(entry)
    return [(test, state, sent) for test, (state, sent) in tests.items() if sent]


RECORDINGS = _recorded()


@pytest.fixture(scope="module")
def server() -> Iterator[MockDrive]:
    with MockDrive(default_state(OWNER_TOKEN), clock=EPOCH) as started:
        yield started


def _session(server: MockDrive, in_process: bool) -> requests.Session:
    """A plain session that sends the recorded headers as they are (no defaults of its own)."""
    session = requests.Session()
    session.trust_env = False
    session.headers.clear()
    if in_process:
        assert mount_in_process(session, server)
    return session


class _Counted:
    """How many answers came in process (the differential is empty if none did)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = inprocess._InProcessConnection.getresponse

        def getresponse(conn: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return original(conn, *args, **kwargs)

        monkeypatch.setattr(inprocess._InProcessConnection, "getresponse", getresponse)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> _Counted:
    return _Counted(monkeypatch)


def _answer(response: requests.Response) -> dict[str, Any]:
    """What a test can see of an answer, but for what two runs need not share."""

    def seen(one: requests.Response) -> dict[str, Any]:
        body = _DURATION.sub(b'"durationMs":0', one.content)
        # where a duration was masked, its digits also changed the length
        unshared = UNSHARED_HEADERS | ({"content-length"} if body != one.content else set())
        return {
            "status": one.status_code,
            "reason": one.reason,
            "headers": [(k, v) for k, v in one.headers.items() if k.lower() not in unshared],
            "raw headers": [
                (k, v) for k, v in one.raw.headers.items() if k.lower() not in unshared
            ],
            "version": one.raw.version,
            "body": body,
            "url": one.url,
            "encoding": one.encoding,
            "cookies": one.cookies.get_dict(),
            "request": (one.request.method, one.request.url, list(one.request.headers.items())),
            "request body": _body_seen(one.request.body),
        }

    return {**seen(response), "history": [seen(one) for one in response.history]}


# How long the server took over a request (the journal's durationMs): a time, not an answer.
_DURATION = re.compile(rb'"durationMs":[0-9.e+-]+')


def _body_seen(body: Any) -> Any:
    """A request body as sent; a file or generator by its kind (each run made its own)."""
    return body if body is None or isinstance(body, (bytes, str)) else type(body).__name__


def _outcome(send: Callable[..., requests.Response], *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        return _answer(send(*args, **kwargs))
    except Exception as error:  # the same exception, both ways
        return {"raised": type(error).__name__, "args": repr(error.args)}


def _serve_copy(server: MockDrive, state: State, generation: int) -> None:
    """Serve a copy of ``state`` as the server's state number ``generation``: a reset numbers
    each state anew and delta tokens carry the number, so both runs of a comparison are given
    the same one (the server's count is set back for it)."""
    server.backend.generation = generation - 1
    server.reset(copy.deepcopy(state))


def _replay(
    server: MockDrive, state: State, sent: list[dict[str, Any]], in_process: bool, generation: int
) -> list[dict[str, Any]]:
    """Every answer to ``sent`` from a copy of ``state`` (its download key too) served as state
    number ``generation``, and the state they left."""
    _serve_copy(server, state, generation)
    session = _session(server, in_process)
    answers = []
    handed: dict[str, str] = {}  # an upload session id's drawn half -> the id this run handed out
    for entry in sent:
        body, path = entry["body"], entry["path"]
        answers.append(
            _outcome(
                session.request,
                entry["method"],
                server.url + path if path.startswith("/") else path,
                headers=dict(entry["headers"]),
                data=None if body is None else zlib.decompress(base64.b64decode(body)),
                allow_redirects=entry["allow_redirects"],
                stream=entry["stream"],
            )
        )
        if b"/up/" in answers[-1].get("body", b""):
            for match in _UPLOAD_ID.finditer(answers[-1]["body"].decode("utf-8", "replace")):
                handed[match.group(1)] = match.group(0)
    answers.append({"state": server.call(lambda: _digest(server))})
    session.close()
    ids = {full.encode(): drawn.encode() + b"~" for drawn, full in handed.items()}
    return [_with_ids_drawn(answer, ids) for answer in answers]


# An upload session's id: its first half drawn from the state's ids, its second at random (each
# run its own, model/uploads.py): both runs' answers are compared by the drawn half. (No
# recording sends to an upload URL: the recorder sees the ready session's requests only.)
_UPLOAD_ID = re.compile(r"(?<=/up/)([A-Za-z0-9_-]{32})[A-Za-z0-9_-]{32}")


def _with_ids_drawn(value: Any, ids: dict[bytes, bytes]) -> Any:
    """``value`` with each upload session id in ``ids`` replaced by its drawn half."""
    if not ids:
        return value
    if isinstance(value, bytes):
        for full, drawn in ids.items():
            value = value.replace(full, drawn)
        return value
    if isinstance(value, str):
        return _with_ids_drawn(value.encode(), ids).decode()
    if isinstance(value, dict):
        return {key: _with_ids_drawn(item, ids) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_with_ids_drawn(item, ids) for item in value)
    return value


def _digest(server: MockDrive) -> str:
    from mockdrive.scenario import export_scenario

    return json.dumps(export_scenario(server.state), sort_keys=True, default=str)


@pytest.mark.parametrize("test, state_data, sent", RECORDINGS, ids=[t for t, _, _ in RECORDINGS])
def test_recorded_requests_answer_the_same_in_process(
    server: MockDrive, counted: _Counted, test: str, state_data: dict, sent: list
) -> None:
    state = build_state(state_data)
    generation = server.backend.generation + 1
    over_socket = _replay(server, state, sent, in_process=False, generation=generation)
    assert counted.count == 0
    in_process = _replay(server, state, sent, in_process=True, generation=generation)
    assert counted.count > 0
    assert _differences(over_socket, in_process, sent) == []


def _differences(
    over_socket: list[dict[str, Any]], in_process: list[dict[str, Any]], sent: list[dict[str, Any]]
) -> list[str]:
    """Each request whose answer differs, with the parts that differ."""
    found = []
    for index, (one, other) in enumerate(zip(over_socket, in_process, strict=True)):
        if one != other:
            where = sent[index]["method"] + " " + sent[index]["path"] if index < len(sent) else ""
            parts = sorted(k for k in one.keys() | other.keys() if one.get(k) != other.get(k))
            shown = {k: (one.get(k), other.get(k)) for k in parts}
            found.append(f"{where}: {str(shown)[:2000]}")
    return found


def _hostile_state() -> State:
    state = default_state(OWNER_TOKEN)
    state.clock.pin()
    drive = next(iter(state.store.drives.values()))
    state.make_path(drive, "/Projects/Plan.docx", is_folder=False, content=b"plan")
    state.make_path(drive, "/Big.bin", is_folder=False, content=bytes(range(256)) * 12_000)
    return state


def _chunks() -> Iterator[bytes]:
    yield b"chunked "
    yield b"body"


AUTH = {"Authorization": f"Bearer {OWNER_TOKEN}"}
ITEM = "/v1.0/me/drive/root:/Projects/Plan.docx"
# (method, path, send options): what the recorded suites do not send, or not often
HOSTILE: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/v1.0/me/drive/root:/%FF%FE.txt", {}),  # non-UTF-8 path bytes
    ("GET", "/v1.0/me/drive/root:/%ff%fe.txt", {}),  # lower-case escapes: urllib3 rewrites them
    ("GET", "/v1.0/me/drive/root:/caf\u00e9 \u2603.txt", {}),  # non-ASCII, quoted by requests
    ("GET", "/v1.0/me/drive/root:/a%00b", {}),
    ("GET", "/v1.0/me/drive/root:/" + "x" * 9000, {}),  # a request line past aiohttp's limit
    ("GET", ITEM, {"headers": {"X-Big": "a" * 9000}}),  # a header past aiohttp's limit
    ("GET", ITEM, {"headers": {f"X-{n}": "v" for n in range(200)}}),  # many headers
    ("GET", ITEM, {"headers": {"X-Latin": "caf\u00e9"}}),  # a latin-1 header value
    ("GET", ITEM, {"headers": {"X-Bad": "a\r\nInjected: yes"}}),  # refused by http.client
    ("GET", ITEM, {"headers": {"Bad Name": "x"}}),
    ("GET", ITEM, {"headers": {"X-Snow": "\u2603"}}),  # not latin-1: http.client refuses it
    ("GET", ITEM, {}),
    ("HEAD", ITEM, {}),
    ("HEAD", ITEM + ":/content", {}),
    ("HEAD", "/v1.0/me/drive/root:/Missing", {}),
    ("GET", ITEM + ":/content", {}),  # a redirect to the download URL, followed
    ("GET", ITEM + ":/content", {"allow_redirects": False}),
    ("GET", "/v1.0/me/drive/root:/Big.bin:/content", {}),  # a 3 MB download
    ("GET", "/v1.0/me/drive/root:/Big.bin:/content", {"headers": {"Range": "bytes=10-99"}}),
    ("GET", "/v1.0/me/drive/root:/Big.bin:/content", {"stream": True}),  # the socket
    ("GET", ITEM, {"timeout": 5}),  # the socket
    ("GET", ITEM, {"headers": {"Accept-Encoding": "gzip"}}),
    ("GET", ITEM, {"headers": {"Accept-Encoding": "identity"}}),
    ("PUT", "/v1.0/me/drive/root:/New.txt:/content", {"data": b"bytes body"}),
    ("PUT", "/v1.0/me/drive/root:/Str.txt:/content", {"data": "str body caf\u00e9"}),
    ("PUT", "/v1.0/me/drive/root:/Empty.txt:/content", {"data": b""}),
    ("PUT", "/v1.0/me/drive/root:/File.txt:/content", {"data": io.BytesIO(b"a file body")}),
    ("PUT", "/v1.0/me/drive/root:/Gen.txt:/content", {"data": _chunks}),  # chunked: the socket
    (
        "PUT",
        "/v1.0/me/drive/root:/Gz.txt:/content",
        {"data": gzip.compress(b"zipped"), "headers": {"Content-Encoding": "gzip"}},
    ),
    (
        "PUT",
        "/v1.0/me/drive/root:/Expect.txt:/content",
        {"data": b"waited for", "headers": {"Expect": "100-continue"}},
    ),
    (
        "PUT",
        "/v1.0/me/drive/root:/Expect2.txt:/content",
        {"data": b"x", "headers": {"Expect": "something-else"}},
    ),
    ("PUT", "/v1.0/me/drive/root:/Huge.bin:/content", {"data": b"h" * 5_000_000}),  # 413, hang-up
    ("GET", ITEM, {}),  # the next request after that hang-up
    ("POST", "/v1.0/me/drive/root/children", {"json": {"name": "F", "folder": {}}}),
    ("POST", "/v1.0/me/drive/root/children", {"data": {"name": "form"}}),  # a form body
    ("POST", "/v1.0/me/drive/root/children", {"data": b"{not json"}),
    ("POST", "/v1.0/me/drive/root/children", {"data": b"\xff\xfe\x00"}),
    (
        "POST",
        ITEM + ":/invite",
        {
            "json": {
                "recipients": [{"email": "x@y.example"}],
                "roles": ["read"],
                "requireSignIn": True,
            }
        },
    ),
    ("PROPFIND", ITEM, {}),
    ("DELETE", ITEM, {"headers": {"If-Match": "*"}}),
    ("GET", ITEM, {"headers": {"Connection": "close"}}),  # the server ends the connection
    ("GET", ITEM, {}),
    ("GET", "/_mockdrive/journal", {}),  # what the server saw of each request
]


def _send_hostile(
    session: requests.Session, url: str, method: str, path: str, options: dict
) -> requests.Response:
    options = dict(options)
    if callable(options.get("data")):
        options["data"] = options["data"]()  # a fresh generator each time
    if isinstance(options.get("data"), io.BytesIO):
        options["data"] = io.BytesIO(options["data"].getvalue())
    headers = {**AUTH, **options.pop("headers", {})}
    target = path if path == "*" else url + path
    return session.request(method, target, headers=headers, **options)


def test_hostile_requests_answer_the_same_in_process(server: MockDrive, counted: _Counted) -> None:
    state = _hostile_state()
    generation = server.backend.generation + 1
    answers = {}
    for in_process in (False, True):
        _serve_copy(server, state, generation)
        session = _session(server, in_process)
        answers[in_process] = [
            _outcome(_send_hostile, session, server.url, method, path, options)
            for method, path, options in HOSTILE
        ] + [{"state": server.call(lambda: _digest(server))}]
        session.close()
    sent = [{"method": m, "path": p[:80]} for m, p, _ in HOSTILE]
    assert _differences(answers[False], answers[True], sent) == []
    assert counted.count >= len(HOSTILE) - 12  # most of them went in process


def test_a_session_shared_between_threads_has_a_connection_per_request_in_flight(
    server: MockDrive, counted: _Counted
) -> None:
    state = _hostile_state()
    server.reset(state)
    session = _session(server, in_process=True)
    failures: list[str] = []

    def client(n: int) -> None:
        for i in range(25):
            path = f"/v1.0/me/drive/root:/T{n}-{i}.txt:/content"
            put = session.put(server.url + path, data=f"{n}-{i}".encode(), headers=AUTH)
            got = session.get(server.url + path, headers=AUTH)
            if put.status_code != 201 or got.content != f"{n}-{i}".encode():
                failures.append(f"{path}: {put.status_code} {got.status_code} {got.content!r}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert counted.count == 4 * 25 * 3  # each GET is a redirect to its download URL
    open_now = server.call(lambda: len(server.protocol_factory()[1].connections))
    assert 1 <= open_now <= 4  # one for each request that was in flight at once, kept alive
    session.close()
    for _ in range(200):  # aiohttp forgets a connection once its handler task has ended
        if server.call(lambda: len(server.protocol_factory()[1].connections)) == 0:
            break
        time.sleep(0.01)
    assert server.call(lambda: len(server.protocol_factory()[1].connections)) == 0  # hung up


def test_an_answer_still_being_read_keeps_its_connection(server: MockDrive) -> None:
    """A second request, from another thread say, while the first answer is unread (requests
    reads a body after the adapter returns) takes another connection, and the first answer
    reads whole."""
    server.reset(_hostile_state())
    session = _session(server, in_process=True)
    adapter = session.get_adapter(server.url + "/")
    first = session.prepare_request(
        requests.Request("GET", server.url + "/v1.0/me/drive/root:/Big.bin", headers=AUTH)
    )
    unread = adapter.send(first)
    second = adapter.send(first.copy())
    assert second.content == unread.content  # read after the second was sent
    assert json.loads(unread.content)["size"] == 3_072_000
    session.close()
