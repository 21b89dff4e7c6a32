"""Numbers from outside, checked in one place: every one has a range (docs/number-ranges.md).

A number arrives as text (a query parameter, a header, a path segment) or as a JSON value.
Text is read as ASCII digits only (``int()`` would also take other scripts' digits, ``" 5 "``,
``"+5"`` and ``"1_0"``) and a JSON value must be a real number (not a bool, not NaN or an
infinity). Past the range, or not a number at all, the request is refused with InvalidRequest
before anything changes; each dialect renders that as its own 400.
"""

from __future__ import annotations

import math
import re

from .errors import InvalidRequest

# Up to 19 digits: anything longer is past every range below, and int() never sees a huge text.
_WHOLE = re.compile("-?[0-9]{1,19}")

LARGEST_OFFSET = 1_000_000_000  # $skiptoken, Onehub's offset: past any listing the mock holds
LARGEST_ID_NUMBER = 10**18 - 1  # Onehub ids: up to 18 digits


def whole_number_text(text: str | None, name: str, low: int, high: int) -> int:
    """``text`` as an integer in ``low..high``: ASCII digits, an optional leading ``-``."""
    if text is None or not _WHOLE.fullmatch(text):
        raise InvalidRequest(f"{name} must be a whole number from {low} to {high}")
    value = int(text)
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be a whole number from {low} to {high}, not {text}")
    return value


def whole_number(value: object, name: str, low: int, high: int) -> int:
    """A JSON integer (not a bool, not a float) in ``low..high``."""
    if type(value) is not int or not low <= value <= high:
        raise InvalidRequest(f"{name} must be a whole number from {low} to {high}")
    return value


def finite_number(value: object, name: str, low: float, high: float) -> float:
    """A JSON number (int or float, not a bool; never NaN or an infinity) in ``low..high``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequest(f"{name} must be a number from {low:g} to {high:g}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidRequest(f"{name} must be a finite number")
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be a number from {low:g} to {high:g}")
    return value
