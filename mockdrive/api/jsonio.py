"""JSON in and out: one place that decides encoding, size limits and what a bad body is."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from aiohttp import hdrs, web

from ..model.errors import InvalidRequest
from ..model.journal import MAX_BODY_BYTES
from ..model.text import is_unicode

try:  # optional speed-up (pip install orjson): 5-15x faster encoding of large listings
    import orjson as _orjson
except ImportError:  # pragma: no cover - the plain json path below is always correct
    _orjson = None

MAX_JSON_BODY = 1024 * 1024  # invite and permission bodies are small; uploads have their own limit


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def dumps_in_pieces(data: Any, split: str = "children", depth: int = 3) -> str:
    """``dumps(data)``, the same text, written as many short calls of the C encoder: a dict
    whose last key is ``split`` (an exported folder and its children) is written without that
    list, then each of its elements in turn, and the containers of the first ``depth`` levels
    (an export's drives) are written element by element. One call of the encoder holds the
    interpreter until it returns, so a thread writing a tree of 100,000 items in one call would
    stop the server's loop as long as writing it on the loop; in pieces, the loop takes turns
    with it. The tree is walked with an explicit stack, so any depth the state holds is
    written."""
    pieces: list[str] = []
    # each entry: (a value still to write, its level), or (_Text, -1): text to write as it is
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, level = stack.pop()
        kind = type(node)
        if kind is _Text:
            pieces.append(node.text)
        elif kind is dict and node and next(reversed(node)) == split and type(node[split]) is list:
            children = node[split]
            head = dumps({key: value for key, value in node.items() if key != split})
            pieces.append(f'{head[:-1]}{"," if len(node) > 1 else ""}"{split}":[')
            stack.append(_CLOSE_SPLIT)
            # runs of children that hold no children (files) are written a run at a time
            segments: list[tuple[Any, int]] = []
            run: list[Any] = []
            weight = 0  # of the run: one a child, one more for each _RUN_TEXT of its content
            for child in children:
                if type(child) is dict and child and next(reversed(child)) == split:
                    if run:
                        segments.append((_Run(run), -1))
                        run, weight = [], 0
                    segments.append((child, level + 1))
                else:
                    run.append(child)
                    weight += 1
                    if type(child) is dict:  # an exported file's content weighs its length
                        text = child.get("content") or child.get("contentBase64")
                        if type(text) is str:
                            weight += len(text) // _RUN_TEXT
                    if weight >= _RUN:
                        segments.append((_Run(run), -1))
                        run, weight = [], 0
            if run:
                segments.append((_Run(run), -1))
            _push_separated(stack, segments)
        elif kind is _Run:
            pieces.append(dumps(node.values)[1:-1])
        elif kind is dict and level < depth and node:
            pieces.append("{")
            stack.append(_CLOSE_DICT)
            entries = list(node.items())
            for index in range(len(entries) - 1, -1, -1):
                key, value = entries[index]
                stack.append((value, level + 1))
                stack.append((_Text(f"{',' if index else ''}{_key(key)}:"), -1))
        elif kind is list and level < depth and node:
            pieces.append("[")
            stack.append(_CLOSE_LIST)
            _push_separated(stack, [(value, level + 1) for value in node])
        else:
            pieces.append(dumps(node))
    return "".join(pieces)


def _push_separated(stack: list[tuple[Any, int]], entries: list[tuple[Any, int]]) -> None:
    """Put ``entries`` on ``stack`` to be written in their order, with commas between."""
    for index in range(len(entries) - 1, -1, -1):
        stack.append(entries[index])
        if index:
            stack.append(_COMMA)


def _key(key: Any) -> str:
    """A dict's key as ``dumps`` writes it: text, as JSON keys are (``1`` is ``"1"``, ``None``
    is ``"null"``), or the same TypeError for a key JSON cannot hold (a tuple)."""
    return dumps(key) if type(key) is str else dumps({key: 0})[1:-3]


class _Run:
    """Elements of a list ``dumps_in_pieces`` writes in one call, without their brackets."""

    __slots__ = ("values",)

    def __init__(self, values: list[Any]) -> None:
        self.values = values


# What one call writes of a run: 256 files without content (~0.3 ms), or their content up to
# ~64 KB of text; a single larger content is written alone, in one call.
_RUN = 256
_RUN_TEXT = 256


class _Text:
    """Text ``dumps_in_pieces`` writes as it is (not a value to encode)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_COMMA, _CLOSE_SPLIT = (_Text(","), -1), (_Text("]}"), -1)
_CLOSE_DICT, _CLOSE_LIST = (_Text("}"), -1), (_Text("]"), -1)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None):
    text = dumps(data)
    try:
        body = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (a refusal quoting a key it was sent)
        body = json.dumps(data, separators=(",", ":")).encode("ascii")  # as \u escapes
    return web.Response(
        body=body, status=status, content_type="application/json", charset="utf-8",
        headers=headers,
    )  # fmt: skip


def fast_json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None):
    """``json_response`` through orjson when it is installed, for payloads without floats.

    orjson writes the same bytes as ``dumps`` for strings, ints, bools, None, lists and dicts
    with string keys, but not for some floats (``1e-05`` vs ``0.00001``): Graph items and
    permissions carry none. Anything orjson refuses (a big int, a non-str key) takes the
    plain path, so the answer never depends on whether orjson is installed.
    """
    if _orjson is not None:
        try:
            body = _orjson.dumps(data)
        except TypeError:
            pass
        else:
            # the headers as ``content_type="application/json", charset="utf-8"`` make them
            # (after the given ones), in the one dict the response copies
            given = _JSON_HEADERS if headers is None else {**headers, **_JSON_HEADERS}
            return web.Response(body=body, status=status, headers=given)
    return json_response(data, status, headers)


def encode(data: Any) -> bytes | None:
    """``data`` as ``fast_json_response`` sends it through orjson, or None where it would take
    the plain path (orjson not installed, or refusing a value)."""
    if _orjson is None:
        return None
    try:
        return _orjson.dumps(data)
    except TypeError:
        return None


def encode_kept(data: Any) -> bytes | None:
    """``encode``, for JSON kept past the request (a cache): orjson's result holds a buffer of
    at least 4 KB whatever its length, so a kept one is copied to its own size."""
    whole = encode(data)
    return None if whole is None else bytes(memoryview(whole))


def encoded_json_response(
    body: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """The answer of ``fast_json_response`` for JSON already encoded (``encode``)."""
    given = _JSON_HEADERS if headers is None else {**headers, **_JSON_HEADERS}
    return web.Response(body=body, status=status, headers=given)


_JSON_HEADERS = {hdrs.CONTENT_TYPE: "application/json; charset=utf-8"}  # copied, never changed


# What a handler read, for the journal: the body parsed, or the bytes that arrived (their
# size then is theirs), and the size of the body as it arrived where it was kept parsed
PARSED_BODY = web.RequestKey("parsed_body", object) if hasattr(web, "RequestKey") else "body"
BODY_BYTES = web.RequestKey("body_bytes", int) if hasattr(web, "RequestKey") else "body_bytes"
# A JSON escape of a UTF-16 surrogate: the only way a decoded body can hold a lone one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def body_too_large(limit: int = MAX_JSON_BODY) -> web.HTTPRequestEntityTooLarge:
    """aiohttp's own 413 (the pipeline renders it in the dialect's envelope)."""
    return web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=limit + 1)


async def read_body(
    request: web.Request,
    limit: int,
    too_large: Callable[[], Exception] | None = None,
) -> bytes:
    """The whole body, read until the end of the stream (``content.read(n)`` returns only what
    has arrived so far). Past ``limit`` bytes, announced or counted while reading (chunked
    bodies announce nothing), raise ``too_large()`` without reading the rest."""
    length = request.content_length
    if length is not None and length > limit:
        raise too_large() if too_large is not None else body_too_large(limit)
    content = request.content
    if content.is_eof():  # all of it has arrived (most bodies): taken at once, no wait
        whole = content.read_nowait()
        if len(whole) > limit:
            raise too_large() if too_large is not None else body_too_large(limit)
        return whole if type(whole) is bytes else bytes(whole)
    body = bytearray()
    async for chunk in content.iter_any():
        body += chunk
        if len(body) > limit:
            raise too_large() if too_large is not None else body_too_large(limit)
    return bytes(body)


async def read_json_object(request: web.Request, unchanged: bool = False) -> dict[str, Any]:
    """Read and parse the body as a JSON object, keeping it on the request for the journal.
    ``unchanged``: the handler never changes the value it is given, so the journal may keep
    the bytes that arrived and parse them when read (``model.journal.parse_arrived``)."""
    return _kept(request, await read_body(request, MAX_JSON_BODY), unchanged)


def json_object_arrived(request: web.Request, unchanged: bool = False) -> dict[str, Any] | None:
    """``read_json_object`` without waiting, when the whole body has arrived (a handler then
    runs on with nothing else run in between); None when more is to come."""
    content = request.content
    if not content.is_eof():
        return None
    # ``read_body``'s checks, on what is at hand: an announced length over MAX_JSON_BODY was
    # refused by the pipeline already (the limit of every route that reads a body this way)
    raw = content.read_nowait()
    if len(raw) > MAX_JSON_BODY:
        raise body_too_large()
    return _kept(request, raw if type(raw) is bytes else bytes(raw), unchanged)


def _kept(request: web.Request, raw: bytes, unchanged: bool = False) -> dict[str, Any]:
    """The body parsed as a JSON object, kept on the request for the journal (as it arrived,
    where the handler leaves it ``unchanged``)."""
    data = parse_json_object(raw)
    if unchanged and len(raw) <= MAX_BODY_BYTES:  # its size is that of the bytes kept
        request[PARSED_BODY] = raw
    else:  # (a body the journal truncates is kept parsed: the journal writes it out at once)
        request[PARSED_BODY] = data
        request[BODY_BYTES] = len(raw)
    return data


async def read_optional_json_object(request: web.Request) -> dict[str, Any]:
    """Like ``read_json_object``, for routes whose body may be left out: empty is ``{}``."""
    raw = await read_body(request, MAX_JSON_BODY)
    data = parse_json_object(raw) if raw.strip() else {}
    request[PARSED_BODY] = data
    request[BODY_BYTES] = len(raw)
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400: a literal JSON allows, whose value a float cannot hold
        raise ValueError(f"{text} is out of range for a number")
    return value


# ``json.loads`` with these options builds a decoder per call: one serves every body
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def loads(text: str) -> Any:
    """``json.loads`` without NaN and the infinities (Python would take ``NaN``, ``Infinity``
    and ``1e400`` as floats that no range check compares sensibly)."""
    if text.startswith("\ufeff"):  # as ``json.loads`` refuses a str that starts with one
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


_SCAN = _DECODER.scan_once  # the decoder's own scanner (C), without its two wrappers


def _object_at_once(text: str) -> Any:
    """The value of a text that is one JSON object with nothing around it (most bodies), read
    by the decoder's scanner alone; None for any other text or any error (``loads`` then
    reads it again and words the error)."""
    if text[:1] != "{" or text[-1:] != "}":
        return None
    try:
        value, end = _SCAN(text, 0)
    except (ValueError, StopIteration, RecursionError):
        return None
    return value if end == len(text) else None


# orjson reads a body as ``loads`` does where it holds at most this many digits in all (so
# no integer past 64 bits, which orjson would read as a float) and is this short (so nested
# no deeper than the decoder's recursion reaches): the same value, sooner. Anything else, and
# anything orjson refuses, is read by ``loads`` (whose errors are the ones worded).
ORJSON_DIGITS = 18
ORJSON_BYTES = 512
_DIGITS = b"0123456789"


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Decode a request body that must be a JSON object, or raise InvalidRequest."""
    if (
        _orjson is not None
        and len(raw) <= ORJSON_BYTES
        and len(raw) - len(raw.translate(None, _DIGITS)) <= ORJSON_DIGITS
    ):
        try:
            value = _orjson.loads(raw)
        except _orjson.JSONDecodeError:
            value = None
        if type(value) is dict:
            if b"\\u" in raw and _SURROGATE_ESCAPE.search(raw):
                require_unicode(value)
            return value
    if not raw.strip():
        raise InvalidRequest("the request body is empty; a JSON object is required")
    try:
        text = raw.decode("utf-8")
        data = _object_at_once(text)
        if data is None:
            data = loads(text)
    except UnicodeDecodeError:
        raise InvalidRequest("the request body is not valid UTF-8") from None
    except RecursionError:
        raise InvalidRequest("the request body is nested too deeply") from None
    except ValueError as error:
        raise InvalidRequest(f"the request body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidRequest("the request body must be a JSON object")
    if b"\\u" in raw and _SURROGATE_ESCAPE.search(raw):  # (most bodies: no escape to look at)
        require_unicode(data)
    return data


def require_unicode(data: Any) -> None:
    """Refuse a JSON value holding a string that is not valid Unicode (a lone surrogate such
    as ``"a\\ud800b"``): it could be neither stored, rendered nor journaled."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str) and not is_unicode(value):
            raise InvalidRequest(
                "the request body holds a string that is not valid Unicode (a lone surrogate)"
            )


def optional(body: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    """``body[key]`` if present and not null, checked against ``kind``; else None."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise InvalidRequest(f"{key} must be {what}")
    return value
