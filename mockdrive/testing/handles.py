"""The fixture's handles: fault rules, the request journal, the sharing policy, the clock.

They run every call on the server's loop (``MockDrive.call``), so a sync test never races a
request in flight.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from ..api.admin_clock import parse_step
from ..model.errors import InvalidRequest
from ..model.faults import FaultRule
from ..model.journal import JournalEntry
from ..model.links import advance_clock
from ..model.policy import SharingPolicy
from ..server import MockDrive


class Faults:
    """``mock_drive.faults``: add rules (also as a context manager), list and remove them."""

    def __init__(self, server: MockDrive) -> None:
        self._server = server

    def add(self, **rule: Any) -> FaultRule:
        """Add a rule given as keyword arguments in the scenario spelling (``effect="throttle"``,
        ``retryAfter=2``...). A bad rule raises ValueError saying what is wrong."""
        try:
            return self._server.call(lambda: self._server.state.faults.add(rule))
        except InvalidRequest as error:
            raise ValueError(error.message) from None

    @contextmanager
    def active(self, **rule: Any) -> Iterator[FaultRule]:
        """``with mock_drive.faults.active(effect=...) as rule:`` — removed again on exit."""
        added = self.add(**rule)
        try:
            yield added
        finally:
            self.remove(added.id)

    def remove(self, rule_id: str) -> None:
        self._server.call(lambda: self._server.state.faults.remove(rule_id))

    def clear(self) -> None:
        self._server.call(self._server.state.faults.clear)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._server.call(self._server.state.faults.to_list))

    def __len__(self) -> int:
        return self._server.call(lambda: len(self._server.state.faults.rules))


class Requests:
    """``mock_drive.requests``: the request journal, with pytest-httpserver style assertions."""

    def __init__(self, server: MockDrive) -> None:
        self._server = server

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._server.call(self._server.state.journal.to_list))

    def __len__(self) -> int:
        return self._server.call(lambda: len(self._server.state.journal.entries))

    def find(
        self, method: str, path: str, json: dict[str, Any] | None = None
    ) -> list[JournalEntry]:
        return self._server.call(lambda: self._server.state.journal.find(method, path, json))

    def assert_called(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        times: int | None = None,
    ) -> list[JournalEntry]:
        """Assert that ``method path`` arrived (``times`` times, if given), its JSON body
        containing ``json``; the failure lists the nearest requests that did arrive."""
        found = self.find(method, path, json)
        if not found or (times is not None and len(found) != times):
            journal = self._server.state.journal
            reason = self._server.call(lambda: journal.explain_miss(method, path, json))
            if found:
                reason = f"expected {times} matching requests, got {len(found)}\n{reason}"
            raise AssertionError(reason)
        return found

    def assert_not_called(self, method: str, path: str) -> None:
        found = self.find(method, path)
        if found:
            raise AssertionError(f"{method} {path} arrived {len(found)} times, expected none")


def set_policy(server: MockDrive, **policy: Any) -> SharingPolicy:
    """Replace the tenant's sharing policy (``externalSharing``, ``allowedDomains``,
    ``blockedDomains``, ``maxRecipients``); bad values raise ValueError."""
    try:
        parsed = SharingPolicy.from_dict(policy)
    except InvalidRequest as error:
        raise ValueError(error.message) from None

    def apply() -> SharingPolicy:
        server.state.policy = parsed
        return parsed

    return server.call(apply)


class ClockHandle:
    """``mock_drive.clock``: read the virtual time and move it forward (runs on the server's
    loop, so it never races a request). ``POST /_mockdrive/clock`` is the same over HTTP."""

    def __init__(self, server: MockDrive) -> None:
        self._server = server

    def now(self) -> datetime:
        """The current virtual time, timezone-aware in UTC (``format_time`` writes it as the
        API does: ``2024-01-01T00:00:05Z``). Reading it does not move the clock."""
        return self._server.call(lambda: self._server.state.clock.moment())

    def set(self, when: datetime) -> str:
        """Move the clock forward to ``when`` (timezone-aware), expiring what falls due on the
        way, as ``advance`` does; the clock never goes back, so an earlier time is refused
        with ``ValueError``. Returns the new time as the API writes it."""
        if not isinstance(when, datetime) or when.tzinfo is None:
            raise ValueError("clock.set takes a timezone-aware datetime")

        def apply() -> str:
            step = (when - self._server.state.clock.moment()).total_seconds()
            if step < 0:
                raise ValueError(f"the clock only moves forward (it reads past {when})")
            try:
                return advance_clock(self._server.state, seconds=step)
            except InvalidRequest as error:
                raise ValueError(error.message) from None

        return self._server.call(apply)

    def advance(
        self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
    ) -> str:
        """Move the clock forward and expire links, permissions and invitations now due."""
        try:
            step = parse_step(dict(days=days, hours=hours, minutes=minutes, seconds=seconds))
        except InvalidRequest as error:
            raise ValueError(error.message) from None
        return self._server.call(lambda: advance_clock(self._server.state, **step))
