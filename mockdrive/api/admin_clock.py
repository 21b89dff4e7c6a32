"""The virtual clock: ``GET /_mockdrive/clock`` reads it, ``POST /_mockdrive/clock`` moves it
forward (``{"days": 8}``, also ``hours``, ``minutes``, ``seconds``) and expires what is due.
``admin.ROUTES`` routes them. Tests have the same as ``mock_drive.clock.advance(days=8)``
(``mockdrive.testing.handles``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..model.errors import InvalidRequest
from ..model.links import expire_due
from ..model.ranges import finite_number
from ..model.state import State
from .context import backend_of
from .jsonio import json_response, read_json_object

UNITS = ("days", "hours", "minutes", "seconds")
UNIT_PER_DAY = {"days": 1, "hours": 24, "minutes": 1440, "seconds": 86400}
MAX_STEP_DAYS = 100 * 366  # a step beyond a century is a typo, not a test


def parse_step(body: object) -> dict[str, float]:
    """``{"days": 8, "hours": 1}`` → keyword arguments of ``advance_clock``, checked."""
    if not isinstance(body, dict) or not body:
        raise InvalidRequest(f"the body must be an object with any of {', '.join(UNITS)}")
    step: dict[str, float] = {}
    for key, value in body.items():
        if key not in UNITS:
            raise InvalidRequest(f"unknown field {key!r} (known: {', '.join(UNITS)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise InvalidRequest(f"{key} must be a number, 0 or more")
        step[key] = finite_number(value, key, 0, MAX_STEP_DAYS * UNIT_PER_DAY[key])
    total_days = sum(value / UNIT_PER_DAY[unit] for unit, value in step.items())
    if total_days > MAX_STEP_DAYS:
        raise InvalidRequest(f"the clock moves at most {MAX_STEP_DAYS} days at a time")
    return step


def clock_body(state: State, expired: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"now": state.clock.peek(), "pending": state.expirations.pending()}
    if expired is not None:
        body["deadlinesReached"] = expired
    return body


async def read_clock(request: web.Request) -> web.Response:
    return json_response(clock_body(backend_of(request).state))


async def move_clock(request: web.Request) -> web.Response:
    state = backend_of(request).state  # the state this request began with, not a later one
    step = parse_step(await read_json_object(request))
    state.clock.advance(**step)
    return json_response(clock_body(state, expire_due(state)))
