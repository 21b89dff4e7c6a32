"""The real-client step tables' runner: every step runs once, in order, and each step's own
test reports its outcome (a step after a failed one still runs, and says what it lacks)."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any


def outcome_of(step: Callable[[Any], object], run: Any) -> str | None:
    """None when ``step(run)`` passes, else its traceback (for the step's own test to show)."""
    try:
        step(run)
    except Exception:  # reported by the step's own test
        return traceback.format_exc()
    return None
