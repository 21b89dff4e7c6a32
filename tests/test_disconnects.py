"""Clients that hang up mid-request leave the state consistent and the server serving."""

from __future__ import annotations

import json
import socket
import time

INVITE = "/v1.0/me/drive/root:/Projects:/invite"


def raw_send(mock_drive, data: bytes) -> None:
    """Send bytes and hang up without reading the answer."""
    with socket.create_connection((mock_drive.server.host, mock_drive.server.port)) as sock:
        sock.sendall(data)


def request_bytes(mock_drive, body: bytes, content_length: int | None = None) -> bytes:
    length = len(body) if content_length is None else content_length
    head = (
        f"POST {INVITE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {mock_drive.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
    return head.encode() + body


def own_permissions(mock_drive) -> list[dict]:
    return [p for p in mock_drive.permissions("/Projects") if "inheritedFrom" not in p]


def wait_for_journal(mock_drive, count: int) -> list[dict]:
    deadline = time.monotonic() + 5
    while len(mock_drive.requests) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return list(mock_drive.requests)


def test_hang_up_while_the_answer_is_delayed_changes_nothing(projects):
    """The connection is gone before the handler reads the body: the request is dropped whole
    (journaled as 499, as nginx would log it), never half-applied and never a 5xx."""
    projects.faults.add(effect="latency", path="/invite$", latencyMs=300)
    before = projects.digest()
    body = json.dumps({"recipients": [{"email": "a@ext.example"}, {"email": "b@ext.example"}],
                       "roles": ["write"]}).encode()  # fmt: skip
    raw_send(projects, request_bytes(projects, body))
    entries = wait_for_journal(projects, 1)
    assert [e["status"] for e in entries] == [499]
    assert projects.digest() == before
    assert own_permissions(projects) == []


def test_hang_up_in_the_middle_of_the_body_changes_nothing(projects):
    before = projects.digest()
    body = b'{"recipients": [{"email": "a@ext.example"}], "ro'
    raw_send(projects, request_bytes(projects, body, content_length=len(body) + 100))
    entries = wait_for_journal(projects, 1)
    assert [e["status"] for e in entries] == [499]
    assert projects.digest() == before
    follow_up = projects.server.call(lambda: len(projects.state.journal.entries))
    import requests

    response = requests.get(projects.graph_url + "/me/drive", headers=projects.headers(), timeout=5)
    assert response.status_code == 200  # still serving
    assert len(projects.requests) == follow_up + 1
