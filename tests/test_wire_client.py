"""``WireSession`` (tests/wire_client.py) against ``requests``: the property machines send their
requests through it, so it must send what requests sends and read what requests reads.

Both clients send the same requests, of every shape the machines send (tokens or none, Prefer
headers, JSON bodies with hostile names, byte and text uploads, empty bodies, query
parameters, absolute nextLinks, HEAD), to a raw loopback socket that records the bytes and
answers each with the same canned bytes (JSON with a length, chunked, gzip, deflate, no
content, text without a charset, repeated headers, a connection closed after the answer,
redirects followed and one not). The bytes on the wire must be equal, request by request, and
so must every answer as the tests read it.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from stateful_support import ODD, SIMPLE, TWINS
from wire_client import WireSession

DRIVE = "b!" + "A" * 40
ITEM = "01" + "B" * 32
TOKEN = {"Authorization": "Bearer ada-token"}


def _names() -> list[str]:
    return [n for n in SIMPLE + TWINS + ODD if "/" not in n and n not in ("", ".", "..")]


def requests_of_the_machines(base: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, url, keyword arguments): the shapes the machines send."""
    sent: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"{base}/v1.0/drives/{DRIVE}/items/{ITEM}/children?$top=2", {"headers": TOKEN}),
        ("GET", f"{base}/v1.0/drives/{DRIVE}/items/{ITEM}/children", {"params": {"$top": 2}}),
        ("GET", f"{base}/v1.0/drives/{DRIVE}/items/{ITEM}/delta",
         {"headers": {**TOKEN, "Prefer": "deltashowremovedasdeleted"}}),
        ("GET", f"{base}/v1.0/drives/{DRIVE}/root/search(q='Q3 x')", {"headers": {}}),
        ("GET", f"{base}/v1.0/drives/{DRIVE}/items/{ITEM}/delta?token=abc%2Fdef&$skiptoken=7",
         {"headers": TOKEN}),
        ("GET", f"{base}/v1.0/shares/s!no-such-link-token/driveItem", {"headers": {}}),
        ("HEAD", f"{base}/v1.0/me/drive", {"headers": TOKEN}),
        ("GET", f"{base}/folders/123", {"headers": {"Authorization": "Bearer bob-token"}}),
        ("POST", f"{base}/_mockdrive/reset", {}),
        ("POST", f"{base}/_mockdrive/clock", {"json": {"days": 3}}),
        ("GET", f"{base}/_mockdrive/state", {}),
        ("PUT", f"{base}/_mockdrive/state", {"data": b"version: 1\nusers: []\n" * 20}),
        ("PUT", f"{base}/v1.0/drives/{DRIVE}/items/{ITEM}:/x.txt:/content", {"data": b""}),
        ("PUT", f"{base}/v1.0/drives/{DRIVE}/items/{ITEM}:/x.txt:/content",
         {"data": "text \u00df body", "headers": TOKEN}),
        ("PATCH", f"{base}/v1.0/drives/{DRIVE}/items/{ITEM}", {"json": {"name": "b"}}),
        ("DELETE", f"{base}/v1.0/drives/{DRIVE}/items/{ITEM}", {"headers": TOKEN}),
        ("POST", f"{base}/v1.0/$batch", {"headers": TOKEN, "json": {"requests": [
            {"id": "1", "method": "GET", "url": f"/drives/{DRIVE}/items/{ITEM}/children"}]}}),
        ("POST", f"{base}/v1.0/drives/{DRIVE}/items/{ITEM}/invite", {"headers": TOKEN, "json": {
            "recipients": [{"email": "\u212aim@contoso.example"}], "roles": ["write"],
            "requireSignIn": True, "sendInvitation": False}}),
        ("POST", f"{base}/v1.0/drives/{DRIVE}/items/{ITEM}/createLink",
         {"headers": {"Authorization": "Bearer carol-token", "Content-Type": "application/json"},
          "data": b'{"type": "view"}'}),
        ("GET", f"{base}/v1.0/drives/{DRIVE}/items/{ITEM}", {"headers": {"Authorization": None}}),
    ]  # fmt: skip
    for name in _names():  # names in paths (as the machines put them) and in bodies
        path = requests.utils.quote(name.encode("utf-8", "surrogatepass"), safe="")
        content = name.encode("utf-8", "surrogatepass")
        sent.append(("PUT", f"{base}/v1.0/drives/{DRIVE}/items/{ITEM}:/{path}:/content",
                     {"headers": TOKEN, "data": content}))  # fmt: skip
        sent.append(("POST", f"{base}/v1.0/drives/{DRIVE}/items/{ITEM}/children",
                     {"headers": TOKEN, "json": {"name": name, "folder": {}}}))  # fmt: skip
    sent.append(("GET", f"{base}/v1.0/drives/{DRIVE}/root:/a b/\u00e9 #x", {"headers": TOKEN}))
    return sent


def _answer(status: str, headers: list[tuple[str, str]], body: bytes, length: bool = True) -> bytes:
    head = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers)]
    if length:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


JSON_BODY = json.dumps({"value": [{"name": "\u00df\u212a", "id": ITEM}]}).encode()
CHUNKED = (
    b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (JSON_BODY[:10], JSON_BODY[10:]))
    + b"0\r\n\r\n"
)
# fmt: off
ANSWERS = [
    _answer("200 OK", [("Content-Type", "application/json; charset=utf-8")], JSON_BODY),
    _answer("200 OK", [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")],
            CHUNKED, length=False),
    _answer("200 OK", [("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
            gzip.compress(JSON_BODY)),
    _answer("200 OK", [("Content-Type", "application/json"), ("Content-Encoding", "deflate")],
            zlib.compress(JSON_BODY)),
    _answer("204 No Content", [("request-id", "r1")], b"", length=False),
    _answer("200 OK", [("Content-Type", "text/plain")], "caf\u00e9".encode("latin-1")),
    _answer("200 OK", [("Content-Type", "application/octet-stream")], bytes(range(256))),
    _answer("404 Not Found", [("Content-Type", "application/json"), ("Vary", "Origin"),
                              ("vary", "Accept"), ("X-Two", "a"), ("X-Two", "b")],
            b'{"error": {"code": "itemNotFound", "message": "x"}}'),
    _answer("201 Created", [("Location", "http://127.0.0.1:1/v1.0/x"),
                            ("Content-Type", "application/json")], b"{}"),
    _answer("200 OK", [("Content-Type", "application/json"), ("Connection", "close")], b"[1]"),
    _answer("202 Accepted", [("Location", "/monitor/1")], b""),
    _answer("400 Bad Request", [("Content-Type", "application/json; charset=utf-8")], b"not json"),
    # redirects, followed by requests' rules: the method, the body, the token across hosts
    _answer("302 Found", [("Location", "{base}/download?sig=a%2Fb")], b""),
    _answer("200 OK", [("Content-Type", "application/octet-stream")], b"content"),
    _answer("307 Temporary Redirect", [("Location", "/again")], b""),
    _answer("303 See Other", [("Location", "{other}/elsewhere#frag")], b""),
    _answer("200 OK", [("Content-Type", "text/plain; charset=utf-8")], "\u00e9".encode()),
    _answer("301 Moved Permanently", [("Location", "//127.0.0.1:{port}/moved")], b""),
]
# fmt: on


class RawServer:
    """A loopback socket that records each request's bytes and answers with ``ANSWERS`` in
    turn (a HEAD gets the answer's head only).

    ``close`` ends every thread of it before the listener is closed. A thread left blocked in
    ``accept()`` on a closed listener is not woken by the close (Linux), and when a signal or a
    profiler's ptrace stop (``py-spy record``) restarts that call, it runs on the same
    descriptor number, which by then names the next server's listener: the old server took
    one of the next test's connections and answered it from its own ``ANSWERS`` and count."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received: list[bytes] = []
        self.turn = 0
        self.next_answer: bytes | None = None  # instead of ``ANSWERS``' next, once
        self._closing = False
        self._lock = threading.Lock()  # guards _open: a connection is closed only under it
        self._open: set[socket.socket] = set()
        self._serving: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while True:
            connection, _ = self.listener.accept()
            if self._closing:  # the connection ``close`` makes to wake this thread
                connection.close()
                return
            with self._lock:
                self._open.add(connection)
            serving = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._serving.append(serving)
            serving.start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            self._answer_each(connection)
        except OSError:
            if not self._closing:  # a connection ``close`` shut down ends here
                raise
        finally:
            with self._lock:
                self._open.discard(connection)
                connection.close()

    def _answer_each(self, connection: socket.socket) -> None:
        buffered = b""
        while True:
            while b"\r\n\r\n" not in buffered:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                buffered += chunk
            head, _, rest = buffered.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(rest) < length:
                chunk = connection.recv(65536)
                if not chunk:  # the client hung up inside a body
                    return
                rest += chunk
            self.received.append(head + b"\r\n\r\n" + rest[:length])
            buffered = rest[length:]
            answer = self.next_answer or ANSWERS[self.turn % len(ANSWERS)]
            answer = (answer.replace(b"{base}", b"http://127.0.0.1:%d" % self.port)
                      .replace(b"{other}", b"http://localhost:%d" % self.port)
                      .replace(b"{port}", b"%d" % self.port))  # fmt: skip
            self.next_answer = None
            self.turn += 1
            if head.startswith(b"HEAD "):
                answer = answer.partition(b"\r\n\r\n")[0] + b"\r\n\r\n"
            connection.sendall(answer)
            if b"Connection: close" in answer:
                return

    def close(self) -> None:
        """Stop accepting, end every connection, and close the listener once no thread of the
        server is left blocked on it."""
        self._closing = True
        socket.create_connection(("127.0.0.1", self.port), timeout=10).close()  # wakes accept()
        self._accepting.join(10)
        with self._lock:
            for connection in self._open:
                with contextlib.suppress(OSError):  # one the client has reset already
                    connection.shutdown(socket.SHUT_RDWR)  # its thread's recv() reads the end
        for serving in self._serving:
            serving.join(10)
        left = [t for t in (self._accepting, *self._serving) if t.is_alive()]
        assert not left, f"RawServer threads still running after close: {left}"
        self.listener.close()


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    server = RawServer()
    yield server
    server.close()


def as_read(response: requests.Response) -> dict[str, Any]:
    """Everything a test reads from an answer."""
    try:
        parsed: Any = response.json()
    except ValueError as error:
        parsed = type(error).__name__
    return {
        "status": response.status_code,
        "reason": response.reason,
        "headers": list(response.headers.items()),
        "content": response.content,
        "text": response.text,
        "json": parsed,
        "encoding": response.encoding,
        "url": response.url,
        "ok": response.ok,
        "history": [(r.status_code, r.url, r.request.method) for r in response.history],
        "next": response.next and (response.next.method, response.next.url),
    }


def run(client: Any, server: RawServer, sent: list[tuple[str, str, dict[str, Any]]]) -> list:
    server.received.clear()
    server.turn = 0
    answers = []
    for method, url, kwargs in sent:
        answers.append(as_read(client.request(method, url, timeout=10, **kwargs)))
    elsewhere = f"http://127.0.0.1:{server.port}/elsewhere"
    server.next_answer = _answer("302 Found", [("Location", elsewhere)], b"")
    answers.append(as_read(client.request("GET", url, timeout=10, allow_redirects=False)))
    return answers


def run_by_requests(server: RawServer, sent: list[tuple[str, str, dict[str, Any]]]) -> tuple:
    """What a ``requests.Session(trust_env=False)`` reads of ``sent`` (``run``), and the
    requests the server received from it, byte for byte: what ``WireSession`` must match."""
    reference = requests.Session()
    reference.trust_env = False
    with reference:
        answers = run(reference, server, sent)
    return answers, list(server.received)


def test_the_same_bytes_on_the_wire_and_the_same_answers(raw_server: RawServer) -> None:
    base = f"http://127.0.0.1:{raw_server.port}"
    sent = requests_of_the_machines(base)
    expected, wire_expected = run_by_requests(raw_server, sent)
    module_level = run(requests, raw_server, sent)  # requests.request: a session each call
    assert raw_server.received == wire_expected
    assert module_level == expected
    wire = WireSession()
    got = run(wire, raw_server, sent)
    wire.close()
    assert len(raw_server.received) == len(wire_expected) > len(sent)  # hops of redirects too
    for index, (ours, theirs) in enumerate(zip(raw_server.received, wire_expected, strict=True)):
        assert ours == theirs, f"request {index}:\n{ours!r}\n{theirs!r}"
    for index, (ours, theirs) in enumerate(zip(got, expected, strict=True)):
        assert ours == theirs, f"answer {index}:\n{ours}\n{theirs}"
    kinds = {answer["status"] for answer in got}
    assert {200, 201, 202, 204, 302, 400, 404} <= kinds  # every canned answer was read
    hops = {hop[0] for answer in got for hop in answer["history"]}
    assert hops == {301, 302, 303, 307}  # and every redirect followed


def test_a_url_and_headers_prepared_before_go_out_the_same(raw_server: RawServer) -> None:
    """The URL and headers of a request are prepared once and reused: every request sent a
    second time (each URL and set of headers then known) goes out as requests sends it, and a
    header requests refuses is refused every time."""
    base = f"http://127.0.0.1:{raw_server.port}"
    sent = requests_of_the_machines(base)
    expected, wire_expected = run_by_requests(raw_server, sent)
    wire = WireSession()
    run(wire, raw_server, sent)
    got = run(wire, raw_server, sent)  # all of it prepared before
    assert raw_server.received == wire_expected
    assert got == expected
    for _ in range(2):
        with pytest.raises(requests.exceptions.InvalidHeader):
            wire.request("GET", f"{base}/a", headers={"Prefer": "a\nb"}, timeout=10)
        with pytest.raises(requests.exceptions.InvalidHeader):
            wire.request("GET", f"{base}/a", headers={"Prefer": 7}, timeout=10)
        with pytest.raises(requests.exceptions.MissingSchema):
            wire.request("GET", "/no/scheme", timeout=10)
    wire.close()


def test_what_it_does_not_do_it_refuses(raw_server: RawServer) -> None:
    """A cookie it would have to keep, or a form it would have to encode, raises."""
    base = f"http://127.0.0.1:{raw_server.port}"
    wire = WireSession()
    raw_server.next_answer = _answer("200 OK", [("Set-Cookie", "a=b")], b"")
    with pytest.raises(NotImplementedError):
        wire.request("GET", f"{base}/a", timeout=10)
    with pytest.raises(TypeError):
        wire.request("POST", f"{base}/a", data={"form": "field"})
    wire.close()


def test_what_is_not_plain_http_is_sent_by_requests() -> None:
    """An https URL on a plain-http port fails as it fails through requests (a handed-out URL
    that does not reach the server is a finding the machines report, not a crash)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer_plainly() -> None:
        for _ in range(2):
            connection, _ = listener.accept()
            with connection:
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    answering = threading.Thread(target=answer_plainly, daemon=True)
    answering.start()
    url = f"https://127.0.0.1:{listener.getsockname()[1]}/a"
    with listener:
        with requests.Session() as reference, pytest.raises(requests.exceptions.SSLError):
            reference.request("GET", url, timeout=10)
        with WireSession() as wire, pytest.raises(requests.exceptions.SSLError):
            wire.request("GET", url, timeout=10)
        answering.join(10)  # both answered: not left in accept() on a listener closed (RawServer)
        assert not answering.is_alive()
    with WireSession() as wire, pytest.raises(requests.exceptions.InvalidSchema):
        wire.request("GET", "ftp://127.0.0.1/a", timeout=10)


def test_a_refused_connection_is_requests_connection_error() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(requests.ConnectionError):
        WireSession().request("GET", f"http://127.0.0.1:{port}/", timeout=10)
