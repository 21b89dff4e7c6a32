"""What a handler needs about the request it serves, resolved once by the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model.identity import User
from ..model.state import State


@dataclass(slots=True)
class Call:
    state: State
    caller: User
    request_id: str
    fired_faults: list[dict[str, Any]] = field(default_factory=list)  # journaled with the request
