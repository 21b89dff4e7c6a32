"""Clients that hang up mid-request leave the state consistent and the server serving."""

from __future__ import annotations

import json
import socket
import time

import pytest

INVITE = "/v1.0/me/drive/root:/Projects:/invite"


@pytest.fixture
def arranged(mock_drive):
    mock_drive.add_file("/Projects/Plan.docx", "plan")
    return mock_drive


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


def test_hang_up_while_the_answer_is_delayed_changes_nothing(arranged):
    """The connection is gone before the handler reads the body: the request is dropped whole
    (journaled as 499, as nginx would log it), never half-applied and never a 5xx."""
    arranged.faults.add(effect="latency", path="/invite$", latencyMs=300)
    before = arranged.digest()
    body = json.dumps({"recipients": [{"email": "a@ext.example"}, {"email": "b@ext.example"}],
                       "roles": ["write"]}).encode()  # fmt: skip
    raw_send(arranged, request_bytes(arranged, body))
    entries = wait_for_journal(arranged, 1)
    assert [e["status"] for e in entries] == [499]
    assert arranged.digest() == before
    assert own_permissions(arranged) == []


def test_hang_up_in_the_middle_of_the_body_changes_nothing(arranged):
    before = arranged.digest()
    body = b'{"recipients": [{"email": "a@ext.example"}], "ro'
    raw_send(arranged, request_bytes(arranged, body, content_length=len(body) + 100))
    entries = wait_for_journal(arranged, 1)
    assert [e["status"] for e in entries] == [499]
    assert arranged.digest() == before
    follow_up = arranged.server.call(lambda: len(arranged.state.journal.entries))
    import requests

    response = requests.get(arranged.graph_url + "/me/drive", headers=arranged.headers(), timeout=5)
    assert response.status_code == 200  # still serving
    assert len(arranged.requests) == follow_up + 1
