"""Reading a JSON body: the object read by the decoder's scanner alone (most bodies) against
the whole decoder, over generated texts that are objects, other values, and near misses
(whitespace around, text after, cut short, NaN and 1e400, a BOM, lone surrogates, deep
nesting). The answer or the error's words must be the same."""

from __future__ import annotations

import gzip
import json
import math
import socket
import time
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockdrive.api.jsonio import loads, parse_json_object, require_unicode
from mockdrive.model.errors import InvalidRequest


def reference(raw: bytes) -> dict[str, Any]:
    """``parse_json_object`` as it was, through the whole decoder."""
    if not raw.strip():
        raise InvalidRequest("the request body is empty; a JSON object is required")
    try:
        data = loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidRequest("the request body is not valid UTF-8") from None
    except RecursionError:
        raise InvalidRequest("the request body is nested too deeply") from None
    except ValueError as error:
        raise InvalidRequest(f"the request body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidRequest("the request body must be a JSON object")
    if b"\\u" in raw:
        require_unicode(data)
    return data


def outcome(parse: Any, raw: bytes) -> Any:
    try:
        value = parse(raw)
    except InvalidRequest as error:
        return ("refused", str(error))
    return ("read", json.dumps(value, sort_keys=False), repr(value))


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)
OBJECTS = st.dictionaries(st.text(max_size=4), VALUES, max_size=4)
EDITS = st.sampled_from(
    ["", " ", "\n", "x", "}", ",", "NaN", "1e400", "\\ud800", "\ufeff", "\x0c", '"', "]"]
)


@settings(max_examples=400, deadline=None)
@given(value=st.one_of(OBJECTS, VALUES), before=EDITS, after=EDITS, cut=st.integers(0, 3))
def test_a_body_reads_as_the_whole_decoder_reads_it(
    value: Any, before: str, after: str, cut: int
) -> None:
    text = json.dumps(value, ensure_ascii=bool(cut & 1))
    if cut == 3:
        text = text[: len(text) // 2]
    for candidate in (text, before + text + after, text.replace("0", "NaN", 1)):
        raw = candidate.encode("utf-8", "surrogatepass")
        assert outcome(parse_json_object, raw) == outcome(reference, raw), candidate


def test_deep_and_out_of_range_bodies_are_refused_in_the_same_words() -> None:
    refused = (
        b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"a":1e400}',
        b'{"a":NaN}',
        b'{"a":"\\ud800"}',
        b'{"a":1}}',
        b"\xef\xbb\xbf{}",
        b'{"a":\xff}',
    )
    for raw in refused:
        assert outcome(parse_json_object, raw) == outcome(reference, raw), raw
        assert outcome(parse_json_object, raw)[0] == "refused"
    assert parse_json_object(b' {"a":1} ') == {"a": 1}
    big = b'{"n":123456789012345678901234567890,"f":0.1,"z":-0}'
    assert parse_json_object(big) == {"n": 123456789012345678901234567890, "f": 0.1, "z": 0}
    assert math.copysign(1, parse_json_object(b'{"z":-0.0}')["z"]) == -1


# -- over HTTP: however the body travels, it is read alike ---------------------------------
FORMS = ("whole", "chunked", "gzip", "deflate", "expect", "pieces")


def send(server: Any, path: str, token: str, body: bytes, form: str) -> bytes:
    """POST ``body`` to ``path`` as ``form`` says it travels; the whole answer, as sent."""
    headers = [f"POST {path} HTTP/1.1", "Host: x", f"Authorization: Bearer {token}",
               "Content-Type: application/json", "Connection: close"]  # fmt: skip
    if form == "gzip":
        body, form = gzip.compress(body), "whole"
        headers.append("Content-Encoding: gzip")
    elif form == "deflate":
        body, form = zlib.compress(body), "whole"
        headers.append("Content-Encoding: deflate")
    if form == "chunked":
        headers.append("Transfer-Encoding: chunked")
        payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks(body, 5)) + b"0\r\n\r\n"
    else:
        headers.append(f"Content-Length: {len(body)}")
        payload = body
    head = ("\r\n".join(headers) + "\r\n").encode()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        if form == "expect":
            sock.sendall(head + b"Expect: 100-continue\r\n\r\n")
            assert sock.recv(25) == b"HTTP/1.1 100 Continue\r\n\r\n"
            sock.sendall(payload)
        elif form == "pieces":  # the handler starts before the rest has arrived
            sock.sendall(head + b"\r\n" + payload[:3])
            for piece in chunks(payload[3:], max(1, len(payload) // 3)):
                time.sleep(0.05)
                sock.sendall(piece)
        else:
            sock.sendall(head + b"\r\n" + payload)
        return sock.makefile("rb").read()


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("form", FORMS)
def test_an_invite_body_is_read_alike_however_it_travels(mock_drive, form: str) -> None:
    """The body read at once where it has all arrived, or waited for: decompressed, de-chunked
    or trickled in, the invite grants the same, and the journal holds the body and its size
    as it was read; a body with a lone surrogate is refused the same way and grants nothing."""
    folder = mock_drive.add_folder(f"/{form}")
    path = f"/v1.0/drives/{folder.drive_id}/items/{folder.id}/invite"
    sent = {"recipients": [{"email": f"{form}@contoso.example"}], "roles": ["write"]}
    body = json.dumps(sent).encode()
    answer = send(mock_drive.server, path, mock_drive.token, body, form)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    granted = json.loads(answer.partition(b"\r\n\r\n")[2])["value"]
    assert [p["roles"] for p in granted] == [["write"]], granted
    (entry,) = mock_drive.requests.find("POST", path)
    assert entry.body == sent and entry.body_bytes == len(body), (entry.body, entry.body_bytes)

    lone = b'{"recipients":[{"email":"a\\ud800@contoso.example"}],"roles":["read"]}'
    refused = send(mock_drive.server, path, mock_drive.token, lone, form)
    assert refused.startswith(b"HTTP/1.1 400 "), refused[:300]
    assert b'"invalidRequest"' in refused, refused[-300:]
    emails = [p.get("invitation", {}).get("email") for p in mock_drive.permissions(f"/{form}")]
    assert f"{form}@contoso.example" in emails and not any("a\ud800" in (e or "") for e in emails)


@pytest.mark.parametrize("key", ["\\ud800", "a\\udfffb"])
def test_a_refusal_quoting_a_key_with_a_lone_surrogate_is_a_400_not_a_500(mock_drive, key):
    """A scenario's unknown key is named in the refusal; one holding a lone surrogate (sent as
    its JSON escape) made a message UTF-8 cannot encode, and the answer was aiohttp's 500."""
    import requests

    before = requests.get(f"{mock_drive.url}/_mockdrive/state", timeout=10).content
    body = '{"' + key + '": 1}'
    answer = requests.put(f"{mock_drive.url}/_mockdrive/state", data=body.encode(), timeout=10)
    assert answer.status_code == 400, answer.text
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    message = answer.json()["error"]["message"]
    assert "unknown key" in message and json.loads(f'"{key}"') in message
    assert requests.get(f"{mock_drive.url}/_mockdrive/state", timeout=10).content == before
