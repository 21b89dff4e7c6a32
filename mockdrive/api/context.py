"""What a handler needs about the request it serves, resolved once by the app."""

from __future__ import annotations

from dataclasses import dataclass

from ..model.identity import User
from ..model.state import State


@dataclass(slots=True)
class Call:
    state: State
    caller: User
    request_id: str
