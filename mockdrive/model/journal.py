"""The request journal: every request and its answer, in a bounded ring buffer."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

DEFAULT_JOURNAL_SIZE = 1000


@dataclass(slots=True)
class JournalEntry:
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


class Journal:
    def __init__(self, size: int = DEFAULT_JOURNAL_SIZE) -> None:
        self.entries: deque[JournalEntry] = deque(maxlen=size)
        self._serial = 0

    def next_id(self) -> int:
        self._serial += 1
        return self._serial

    def record(self, entry: JournalEntry) -> None:
        self.entries.append(entry)

    def clear(self) -> None:
        self.entries.clear()

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
