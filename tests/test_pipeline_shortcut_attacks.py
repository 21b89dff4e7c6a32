"""Attacks on the pipeline's and GET item's shortcuts from the request line and headers: the
Host header every ``@odata.context`` and download URL is made from, a Graph version spelt with
escapes, and what GET item keeps of a state once the state is gone."""

from __future__ import annotations

import gc
import json
import weakref

import pytest
from test_pipeline_attacks import exchange

from mockdrive.api.graph import render

TOKEN_HEADER = b"Authorization: Bearer %s\r\n"


def request_line(mock_drive, target: bytes, host: bytes = b"graph.example") -> bytes:
    token = mock_drive.token.encode()
    return (
        b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\n" + TOKEN_HEADER % token
        + b"Connection: close\r\n\r\n"
    )  # fmt: skip


TARGETS = (
    b"/v1.0/me/drive/root",
    b"/v1.0/me/drive/root:/T:/children",
    b"/v1.0/me/drive",
    b"/beta/me/drive/root:/T/doc.txt:",
    b"/v1.0/me/drive/root:/T/doc.txt:?$select=name",
)


@pytest.mark.parametrize("host", [b"\xff\xfe", b"x:99999999", b"x:port", "\u00ad.example".encode()])
def test_a_host_header_that_names_no_host_is_refused_not_a_500(mock_drive, host):
    """Every ``@odata.context`` and download URL is made on the Host header. One of bytes that
    are not UTF-8 (aiohttp reads them with surrogate escapes), or with a port that is not one,
    or a name IDNA refuses, made them unencodable or unbuildable: a 500 on Graph's reads."""
    mock_drive.add_file("/T/doc.txt", "d")
    before = mock_drive.digest()
    for target in TARGETS:
        status, headers, body = exchange(mock_drive.server, request_line(mock_drive, target, host))
        assert status == 400, (target, body)
        error = json.loads(body)["error"]
        assert error["code"] == "invalidRequest"
        assert error["message"] == "the Host header is not a valid host"
        assert headers["request-id"]
    assert mock_drive.digest() == before


def test_a_host_header_idna_cannot_decode_is_refused_not_a_500(mock_drive):
    """A name in ASCII that IDNA cannot decode (``xn--a``) passed the check, which builds the
    URL without decoding its name: the upload URL reads it decoded, and createUploadSession
    was a 500."""
    before = mock_drive.digest()
    token = mock_drive.token.encode()
    for host in (b"xn--a", b"ok.xn--a.example"):
        raw = (
            b"POST /v1.0/me/drive/root:/up.bin:/createUploadSession HTTP/1.1\r\nHost: " + host
            + b"\r\n" + TOKEN_HEADER % token + b"Content-Type: application/json\r\n"
            + b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
        )  # fmt: skip
        status, _, body = exchange(mock_drive.server, raw)
        assert status == 400, body
        assert json.loads(body)["error"]["message"] == "the Host header is not a valid host"
    assert mock_drive.digest() == before


def test_an_absolute_target_whose_host_idna_cannot_decode_is_answered(mock_drive):
    """aiohttp builds a request in absolute form (``GET http://xn--a/...``) with the target's
    host decoded, before any handler: the error ended the connection's task, and the client
    waited for an answer that never came on a connection left open."""
    before = mock_drive.digest()
    for target in (b"http://xn--a/v1.0/me/drive/root", b"http://ok.xn--a.example:80/v1.0/me"):
        raw = request_line(mock_drive, target)
        status, headers, body = exchange(mock_drive.server, raw, timeout=3)
        assert status == 400, body
        assert json.loads(body)["error"]["message"] == "the Host header is not a valid host"
        assert headers["request-id"]
    status, _, body = exchange(mock_drive.server, request_line(mock_drive, b"http://x/v1.0/me"))
    assert status == 200, body  # a host it can decode: served as before
    assert mock_drive.digest() == before


@pytest.mark.parametrize("authority", [b"[::1]:8080", b"[::1]", b"localhost:8080"])
def test_an_absolute_target_is_served_on_its_host_and_port(mock_drive, authority):
    """An absolute-form target's host and port stand for the Host header, as RFC 9112 has it.
    aiohttp took the bare name as the request's host: an IPv6 literal lost its brackets and
    every URL an answer made was unbuildable (a 500 on a listing, a download, delta), and a
    port was dropped from the URLs it gave."""
    mock_drive.add_file("/T/a.txt", "a")
    mock_drive.add_file("/T/b.txt", "b")
    origin = "http://" + authority.decode() + "/"
    target = b"http://user:secret@" + authority
    page = b"/v1.0/me/drive/root:/T:/children?$top=1"
    status, _, body = exchange(mock_drive.server, request_line(mock_drive, target + page))
    assert status == 200, body
    listing = json.loads(body)
    assert listing["@odata.context"].startswith(origin)
    assert listing["@odata.nextLink"].startswith(origin)
    assert listing["value"][0]["@microsoft.graph.downloadUrl"].startswith(origin)
    content = b"/v1.0/me/drive/root:/T/a.txt:/content"
    status, headers, body = exchange(mock_drive.server, request_line(mock_drive, target + content))
    assert status == 302, body
    assert headers["location"].startswith(origin)
    status, _, body = exchange(mock_drive.server, request_line(mock_drive, target + b"/v1.0/me"))
    assert status == 200, body
    assert b"secret" not in body  # the userinfo is no part of the host


def test_an_absolute_targets_host_is_checked_as_a_host_header_is(mock_drive):
    """A name in capitals that IDNA cannot decode (``XN--A``) is refused as a Host header; as
    an absolute-form target's host aiohttp did not decode it, and it was served."""
    for host in (b"XN--A", b"Xn--a.example"):
        status, _, body = exchange(mock_drive.server, request_line(mock_drive, b"/v1.0/me", host))
        assert status == 400, body
        target = b"http://" + host + b"/v1.0/me"
        status, _, body = exchange(mock_drive.server, request_line(mock_drive, target))
        assert status == 400, body
        assert json.loads(body)["error"]["message"] == "the Host header is not a valid host"


def test_a_host_of_utf8_outside_ascii_is_served_on_that_host(mock_drive):
    """An IDN as typed (UTF-8) is a host: served as before, its answers naming it."""
    mock_drive.add_file("/T/doc.txt", "d")
    for target in TARGETS:
        host = "é.example".encode()
        status, _, body = exchange(mock_drive.server, request_line(mock_drive, target, host))
        assert status == 200, body
        assert json.loads(body)["@odata.context"].startswith("http://é.example/")


def test_a_host_header_that_is_not_utf8_is_entras_400_on_its_endpoints(mock_drive):
    """The identity endpoints name the host in every URL they give (a 500 before)."""
    target = b"/common/v2.0/.well-known/openid-configuration"
    status, _, body = exchange(mock_drive.server, request_line(mock_drive, target, b"\xff"))
    assert status == 400, body
    assert json.loads(body)["error"] == "invalid_request"
    status, _, body = exchange(mock_drive.server, request_line(mock_drive, target))
    assert status == 200 and json.loads(body)["issuer"], body


@pytest.mark.parametrize("escaped", [b"/%62eta", b"/b%65ta", b"/v1%2E0", b"/%76%31%2E%30"])
def test_a_version_spelt_with_escapes_is_served_as_the_version(mock_drive, escaped):
    """The router decodes the path before matching ``/beta/``; the dispatch then took the rest
    five characters into the raw path (``/%62eta/me`` dispatched ``ta/me``: a 400)."""
    mock_drive.add_file("/T/doc.txt", "d")
    plain_version = b"/beta" if b"eta" in escaped or b"%65" in escaped else b"/v1.0"
    for tail in (b"/me/drive/root:/T/doc.txt:", b"/me/drive/root/children", b"/me"):
        status, _, body = exchange(mock_drive.server, request_line(mock_drive, escaped + tail))
        plain_status, _, plain = exchange(
            mock_drive.server, request_line(mock_drive, plain_version + tail)
        )
        assert (status, plain_status) == (200, 200), body
        assert json.loads(body) == json.loads(plain)


def test_a_dropped_state_leaves_no_encoded_item_behind(mock_drive):
    """GET item keeps its encoded fields for the last state only, by a weak reference: once
    that state is freed, its items' JSON goes with it (not held until another state's GET)."""
    for n in range(20):
        mock_drive.add_file(f"/K/f{n}.txt", "x" * n)
    session = mock_drive.session
    for n in range(20):
        assert session.get(f"/me/drive/root:/K/f{n}.txt:").status_code == 200
    # the old state and its items' JSON, held weakly / as the cache holds them: ``_ENCODED`` is
    # the process's, and another server of this worker may render an item of its own meanwhile
    old, kept = mock_drive.server.call(
        lambda: (weakref.ref(mock_drive.server.state), render._ENCODED[1])
    )
    assert render._ENCODED[0]() is old() and len(kept) >= 20
    mock_drive.load(mock_drive.export())  # a new state (of the same ids)
    for _ in range(2):  # served by the new state (no item read): the old one is let go of
        assert mock_drive.session.get("/me").status_code == 200
    gc.collect()
    assert old() is None  # the old state is gone
    assert len(kept) == 0  # and its items' JSON with it, though nothing has been read since
