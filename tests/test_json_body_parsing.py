"""Reading a JSON body: the object read by the decoder's scanner alone (most bodies) against
the whole decoder, over generated texts that are objects, other values, and near misses
(whitespace around, text after, cut short, NaN and 1e400, a BOM, lone surrogates, deep
nesting). The answer or the error's words must be the same."""

from __future__ import annotations

import json
import math
from typing import Any

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
