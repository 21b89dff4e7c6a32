"""The real-client step tables' runner: every step runs once, in order, and each step's own
test reports its outcome (a step after a failed one still runs, and says what it lacks)."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from mockdrive.model.errors import NotFound


def outcome_of(step: Callable[[Any], object], run: Any) -> str | None:
    """None when ``step(run)`` passes, else its traceback (for the step's own test to show)."""
    try:
        step(run)
    except Exception:  # reported by the step's own test
        return traceback.format_exc()
    return None


def item_or_none(mock: Any, path: str) -> Any:
    """The fixture's model item at ``path`` (``mock.item``), or None where there is none."""
    try:
        return mock.item(path)
    except NotFound:
        return None
