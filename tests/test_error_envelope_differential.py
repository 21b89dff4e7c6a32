"""The error path's shortcuts against their plain forms: which dialect's envelope a request
gets (``dialect_of``, which reads a path without a ``%`` as its own decoding) and the bytes and
headers of an envelope (encoded as other answers are, through orjson where it is installed)."""

from __future__ import annotations

import json

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from hypothesis import example, given, settings
from hypothesis import strategies as st
from yarl import URL

from mockdrive.api import onedrive_v1, onehub
from mockdrive.api.app import GRAPH_PREFIXES, dialect_of
from mockdrive.api.errors import (
    ApiError,
    graph_error_response,
    onedrive_error_response,
    onehub_error_response,
)
from mockdrive.api.graph.paths import normalize_path
from mockdrive.api.jsonio import dumps
from mockdrive.model.errors import InvalidRequest


def plain_dialect_of(path: str, raw: str) -> str:
    """``dialect_of`` as written before its shortcuts: the decoded path, each prefix tried."""
    if path.startswith(onehub.PREFIXES):
        return "onehub"
    prefix = next((p for p in GRAPH_PREFIXES if raw.startswith(p + "/")), None)
    if prefix is not None:
        try:
            if normalize_path(raw[len(prefix) :]).endswith(onedrive_v1.ACTION_SUFFIXES):
                return "onedrive"
        except InvalidRequest:
            pass
    return "graph"


ACTIONS = sorted({suffix[1:] for suffix in onedrive_v1.ACTION_SUFFIXES})
SEGMENTS = st.sampled_from(
    [
        "",
        ".",
        "..",
        "me",
        "drive",
        "items",
        "a",
        "root:",
        "%2F",
        "%FF",
        "%2e",
        "a%20b",
        "workspaces",
        "%77orkspaces",
        "v1.0",
        "beta",
        "v1%2E0",
        *ACTIONS,
        *(action.replace("a", "%61", 1) for action in ACTIONS),
    ]
)
HEADS = st.sampled_from(["", "/v1.0", "/beta", "/v1.0/", "/beta//", "/%761.0", "/files", "/x"])


@settings(max_examples=400, deadline=None)
@given(HEADS, st.lists(SEGMENTS, max_size=6))
def test_dialect_of_agrees_with_its_plain_form(head, segments):
    raw = head + "/" + "/".join(segments)
    # the path as it arrives off a socket: escapes and dot segments left as sent
    request = make_mocked_request("GET", "/").clone(rel_url=URL.build(path=raw, encoded=True))
    assert request.rel_url.raw_path == raw
    assert dialect_of(request) == plain_dialect_of(request.path, raw)


MESSAGES = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=12)


def answer(make):
    """Status, headers and body of the response ``make()`` builds, or the error it raises."""
    try:
        response = make()
    except Exception as error:  # (the plain path's own error is compared)
        return type(error)
    return response.status, list(response.headers.items()), response.body


def plain(body, status, headers):
    """An envelope as ``json_response`` made it before: ``dumps`` sent as text; text UTF-8
    cannot encode (a message quoting a lone surrogate it was sent) as the standard library's
    JSON writes it in ASCII, the surrogate as its ``\\u`` escape."""
    text = dumps(body)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = json.dumps(body, ensure_ascii=True, separators=(",", ":"))
    return lambda: web.Response(
        text=text, status=status, content_type="application/json", headers=headers
    )


@example(400, "badRequest", "quoting \ud800", None, None)  # text UTF-8 cannot encode
@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([400, 401, 403, 404, 429, 500, 503]),
    MESSAGES,
    MESSAGES,
    st.one_of(st.none(), MESSAGES),
    st.sampled_from([None, {"Retry-After": "3"}, {"WWW-Authenticate": "Bearer x"}]),
)
def test_error_envelopes_are_the_bytes_and_headers_plain_json_gives(
    status, code, message, inner_code, headers
):
    error = ApiError(status, code, message, inner_code, headers)
    inner = {"date": "2024-01-01T00:00:00Z", "request-id": "r1", "client-request-id": "c"}
    if inner_code:
        inner["code"] = inner_code
    graph = {"error": {"code": code, "message": message, "innerError": inner}}
    onedrive_inner = {"code": inner_code or code}
    onedrive = {"error": {"code": code, "message": message, "innererror": onedrive_inner}}
    hub = (
        {"error": "invalid_token"}
        if status == 401
        else {"errors": {"base": ["Not found" if status == 404 else message]}}
    )
    given_headers = error.headers
    cases = [
        (lambda: graph_error_response(error, "r1", "2024-01-01T00:00:00Z", "c"), graph),
        (lambda: onedrive_error_response(error), onedrive),
        (lambda: onehub_error_response(error), hub),
    ]
    for make, body in cases:
        assert answer(make) == answer(plain(body, status, given_headers))


@example(status=400, code="badRequest", message="quoting \ud800", inner_code=None, headers=None)
@settings(max_examples=20, deadline=None)
@given(
    st.sampled_from([400, 404]),
    MESSAGES,
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF).map("quoting {}".format),
    st.none(),
    st.none(),
)
def test_an_envelope_quoting_a_lone_surrogate_is_ascii_json_that_reads_back_as_sent(
    status, code, message, inner_code, headers
):
    """Text UTF-8 cannot encode is written as JSON escapes: the envelope reads back as the
    error it was made from, and the answer is not a 500."""
    error = ApiError(status, code, message, inner_code, headers)
    for response in (
        graph_error_response(error, "r1", "2024-01-01T00:00:00Z", "c"),
        onedrive_error_response(error),
    ):
        assert response.status == status
        assert response.body.isascii()
        assert json.loads(response.body)["error"]["message"] == message
