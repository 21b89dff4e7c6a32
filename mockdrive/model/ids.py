"""Deterministic ids and timestamps: the same seed and the same operations give the same values."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


class IdFactory:
    """Seeded generator of the id shapes Graph uses (GUIDs, item ids, business drive ids)."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._serial = 0

    def guid(self) -> str:
        h = f"{self._rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def item_id(self) -> str:
        return "01" + "".join(self._rng.choice(_BASE32) for _ in range(32))

    def drive_id(self) -> str:
        return "b!" + "".join(self._rng.choice(_URLSAFE) for _ in range(40))

    def token(self) -> str:
        return "".join(self._rng.choice(_URLSAFE) for _ in range(32))

    def serial(self) -> int:
        """A strictly increasing integer (Onehub-style ids, skiptokens)."""
        self._serial += 1
        return self._serial


class LogicalClock:
    """A clock that advances one second per reading, starting at ``start``.

    Real time would make two runs of the same scenario differ; a logical clock keeps exports
    byte-identical while still ordering events.
    """

    def __init__(self, start: datetime = EPOCH) -> None:
        self._start = start
        self._ticks = 0

    def now(self) -> str:
        """Advance one second and return the new time."""
        self._ticks += 1
        return self.peek()

    def peek(self) -> str:
        """The current time, without advancing (for response metadata that changes nothing)."""
        return format_time(self._start + timedelta(seconds=self._ticks))


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
