"""The headers the journal keeps (Content-Type, Accept, client-request-id, If-Match,
If-None-Match) are checked only when one is not ASCII (the pipeline's shortcut): a value of
bytes that are not UTF-8 is still refused (400, Graph's envelope, nothing changed) with or
without a query string, and whatever passes is journaled exactly as it was sent."""

from __future__ import annotations

import json

import pytest
from test_pipeline_attacks import exchange

NOT_UTF8 = (b"\xff", b"\xc3", b"\xed\xa0\x80", b"application/json; charset=\xe9")
PASSING = {
    b"a\tb": "a\tb",  # ASCII with a control character aiohttp lets through
    b"x" * 4000: "x" * 4000,
    "caf\u00e9".encode(): "caf\u00e9",  # non-ASCII, valid UTF-8: checked, and passes
    b"\xe2\x82\xac" * 3: "\u20ac" * 3,
}


def post_children(mock_drive, header: bytes, value: bytes, query: bytes = b"") -> bytes:
    body = b'{"name": "N", "folder": {}}'
    return (
        b"POST /v1.0/me/drive/root/children" + query + b" HTTP/1.1\r\nHost: localhost\r\n"
        + b"Authorization: Bearer " + mock_drive.token.encode() + b"\r\n"
        + header + b": " + value + b"\r\nContent-Length: %d\r\n" % len(body)
        + b"Connection: close\r\n\r\n" + body
    )  # fmt: skip


@pytest.mark.parametrize("query", [b"", b"?$select=id"])
@pytest.mark.parametrize("header", [b"Accept", b"client-request-id", b"If-None-Match"])
@pytest.mark.parametrize("value", NOT_UTF8)
def test_a_journaled_header_that_is_not_utf8_is_refused(mock_drive, header, value, query):
    before = mock_drive.digest()
    status, _, body = exchange(mock_drive.server, post_children(mock_drive, header, value, query))
    assert status == 400, body
    error = json.loads(body)["error"]
    assert error["code"] == "invalidRequest"
    assert error["message"] == f"the {header.decode()} header is not valid UTF-8"
    assert mock_drive.digest() == before
    assert list(mock_drive.requests)[-1]["status"] == 400


@pytest.mark.parametrize("query", [b"", b"?$select=id"])
@pytest.mark.parametrize("value", list(PASSING))
def test_a_journaled_header_that_passes_is_kept_as_sent(mock_drive, value, query):
    status, _, body = exchange(
        mock_drive.server, post_children(mock_drive, b"client-request-id", value, query)
    )
    assert status == 201, body
    entry = list(mock_drive.requests)[-1]
    assert entry["headers"]["client-request-id"] == PASSING[value]
    assert entry["status"] == 201
