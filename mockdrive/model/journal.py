"""The request journal: every request and its answer, in a ring buffer bounded in entries and
in bytes.

A journaled body costs its parsed form (many times its size in Python objects), so a body over
``MAX_BODY_BYTES`` of JSON is kept as a marker with its size and the start of its text, and the
oldest entries go once the bodies held add up to more than ``MAX_JOURNAL_BYTES``. Strings that
are not valid Unicode (header bytes decoded with surrogate escapes) are kept escaped, so the
journal can always be rendered.
"""

from __future__ import annotations

import copy
import json
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Any

from .copying import deepcopy_attrs, deepcopy_slots
from .text import escape_non_unicode

DEFAULT_JOURNAL_SIZE = 1000
MAX_BODY_BYTES = 16 * 1024  # a larger body is journaled as TRUNCATED_KEY: {bytes, start}
MAX_JOURNAL_BYTES = 8 * 1024 * 1024  # bodies (and a fixed cost per entry) held at most
ENTRY_OVERHEAD = 512  # what an entry costs besides its body, as counted against the budget
TRUNCATED_KEY = "@mockdrive.truncated"


@dataclass(slots=True)
class JournalEntry:
    __deepcopy__ = deepcopy_slots  # a state's copy (model/copying.py): ``_copy_entry`` below
    id: int
    request_id: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int
    duration_ms: float
    caller: str | None = None
    body: Any = None
    faults: list[dict[str, Any]] = field(default_factory=list)
    batch: dict[str, str] | None = None  # {"requestId", "id"} of the $batch this step ran in
    body_bytes: int = 0  # the size of the body as it arrived (0: unknown or none)

    def to_dict(self, timing: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "requestId": self.request_id,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "status": self.status,
        }
        if timing:
            data["durationMs"] = round(self.duration_ms, 3)
        if self.caller is not None:
            data["caller"] = self.caller
        if self.body is not None:
            data["body"] = self.body
        if self.faults:
            data["faults"] = self.faults
        if self.batch is not None:
            data["batch"] = self.batch
        return data


# ``body`` read through a property over its slot. A handler that never changes the body it
# read journals the bytes that arrived (``jsonio``'s ``unchanged``): plain bytes are not walked
# by the garbage collector, while the parsed form (dicts and lists) would be, by every
# collection, for as long as the entry lives. They are parsed on first read and the value kept
# in their place (every reader, ``__eq__`` and ``__repr__`` included, sees the parsed body);
# the dataclass's ``__init__`` stores through the property as before.
_body_slot = JournalEntry.body


def _read_body(entry: JournalEntry) -> Any:
    body = _body_slot.__get__(entry, JournalEntry)
    if type(body) is bytes:
        body = parse_arrived(body)
        _body_slot.__set__(entry, body)
    return body


JournalEntry.body = property(_read_body, _body_slot.__set__)  # type: ignore[assignment]
_ENTRY_FIELDS = tuple(f.name for f in fields(JournalEntry))


def _copy_entry(entry: JournalEntry, memo: dict[int, Any]) -> JournalEntry:
    """A state's copy of ``entry``, its body as it is held: bytes not yet read stay bytes, in
    the copy and in ``entry`` (``deepcopy_slots`` reads through the property, parsing them)."""
    cls = type(entry)
    if cls is not JournalEntry:  # a subclass's own slots or __dict__: the general copy
        return deepcopy_slots(entry, memo)
    new = cls.__new__(cls)
    memo[id(entry)] = new
    for name in _ENTRY_FIELDS:
        if name == "body":
            _body_slot.__set__(new, copy.deepcopy(_body_slot.__get__(entry, cls), memo))
        else:
            object.__setattr__(new, name, copy.deepcopy(getattr(entry, name), memo))
    return new


JournalEntry.__deepcopy__ = _copy_entry  # type: ignore[method-assign]


def parse_arrived(raw: bytes) -> Any:
    """A journaled body that arrived as ``raw``, which the handler's own parse accepted (UTF-8,
    one JSON object, no NaN, Infinity or number out of a float's range): for such text
    ``json.loads`` gives the value that parse gave."""
    return json.loads(raw.decode("utf-8"))


class Journal:
    __deepcopy__ = deepcopy_attrs  # a state's copy: see model/copying.py

    def __init__(
        self, size: int = DEFAULT_JOURNAL_SIZE, max_bytes: int = MAX_JOURNAL_BYTES
    ) -> None:
        self.entries: deque[JournalEntry] = deque(maxlen=size)
        self.max_bytes = max_bytes
        self.bytes = 0  # the budget the entries held use (see ``cost``)
        self._serial = 0

    def next_id(self) -> int:
        self._serial += 1
        return self._serial

    def record(self, entry: JournalEntry) -> None:
        """Keep ``entry`` (its body truncated past MAX_BODY_BYTES), dropping the oldest entries
        while the journal is over its entry or byte budget."""
        if not entry.path.isascii():
            entry.path = escape_non_unicode(entry.path)
        if entry.query:
            entry.query = {
                escape_non_unicode(k): escape_non_unicode(v) for k, v in entry.query.items()
            }
        headers = entry.headers
        if headers and not "".join(headers.values()).isascii():
            entry.headers = {k: escape_non_unicode(v) for k, v in headers.items()}
        if entry.caller is not None and not entry.caller.isascii():
            entry.caller = escape_non_unicode(entry.caller)
        if entry.body_bytes > MAX_BODY_BYTES and entry.body is not None:
            entry.body = truncated(entry.body, entry.body_bytes)
            entry.body_bytes = MAX_BODY_BYTES
        entries = self.entries
        size = entry.body_bytes  # ``cost``, without its call (here on every request)
        size = ENTRY_OVERHEAD + (size if size < MAX_BODY_BYTES else MAX_BODY_BYTES)
        if len(entries) == entries.maxlen:  # the oldest goes: its ``cost`` back
            dropped = entries[0].body_bytes
            size -= ENTRY_OVERHEAD + (dropped if dropped < MAX_BODY_BYTES else MAX_BODY_BYTES)
        entries.append(entry)
        self.bytes += size
        if self.bytes > self.max_bytes:
            while self.bytes > self.max_bytes and len(entries) > 1:
                self.bytes -= cost(entries.popleft())

    def clear(self) -> None:
        self.entries.clear()
        self.bytes = 0

    def to_list(self, timing: bool = True) -> list[dict[str, Any]]:
        return [e.to_dict(timing) for e in self.entries]

    def find(
        self, method: str, path: str, json: dict[str, Any] | None = None
    ) -> list[JournalEntry]:
        """Entries with this method and path whose JSON body contains ``json`` as a subset."""
        return [
            e
            for e in self.entries
            if e.method == method.upper() and e.path == path and contains(e.body, json)
        ]

    def explain_miss(self, method: str, path: str, json: dict[str, Any] | None = None) -> str:
        """Why nothing matched: the nearest requests that did arrive and how they differ."""
        wanted = f"{method.upper()} {path}" + (f" with body ⊇ {json}" if json else "")
        if not self.entries:
            return f"expected {wanted}, but no request arrived"
        scored = sorted(
            self.entries,
            key=lambda e: (e.path != path, e.method != method.upper(), -e.id),
        )
        lines = [f"expected {wanted}; nearest requests that arrived:"]
        for entry in scored[:3]:
            differences = []
            if entry.method != method.upper():
                differences.append(f"method {entry.method}")
            if entry.path != path:
                differences.append(f"path {entry.path}")
            if json is not None and not contains(entry.body, json):
                differences.append(f"body {entry.body}")
            lines.append(
                f"  #{entry.id} {entry.method} {entry.path} → {entry.status}"
                f" (differs in: {'; '.join(differences) or 'nothing'})"
            )
        return "\n".join(lines)


def contains(actual: Any, expected: Any) -> bool:
    """True if ``expected`` is a subset of ``actual`` (dicts by key, lists item by item)."""
    if expected is None:
        return True
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and contains(actual[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(contains(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return actual == expected


def cost(entry: JournalEntry) -> int:
    return ENTRY_OVERHEAD + min(entry.body_bytes, MAX_BODY_BYTES)


def truncated(body: Any, size: int) -> dict[str, Any]:
    """What the journal keeps of a large body: its size and the start of its JSON text."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return {TRUNCATED_KEY: {"bytes": size, "start": escape_non_unicode(text[:MAX_BODY_BYTES])}}
