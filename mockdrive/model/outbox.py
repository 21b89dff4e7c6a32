"""Invitation e-mails that would have been sent: recorded here instead of being delivered."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

from .copying import deepcopy_attrs


@dataclass(slots=True)
class OutboxMessage:
    id: int
    to: str
    sender: str
    sender_name: str
    item_id: str
    item_name: str
    web_url: str
    roles: list[str]
    message: str | None
    sign_in_required: bool
    time: str
    status: str = "delivered"  # or "failed"
    error_code: str | None = None
    rule_id: str | None = None  # the fault rule that failed it

    def to_dict(self) -> dict:
        """camelCase keys, absent values left out (as every JSON the mock emits)."""
        return {_camel(k): v for k, v in asdict(self).items() if v is not None}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


DEFAULT_OUTBOX_SIZE = 10_000


class Outbox:
    """The newest ``size`` messages (a ring buffer: a long soak cannot grow it without bound)."""

    __deepcopy__ = deepcopy_attrs  # a state's copy: see model/copying.py

    def __init__(self, size: int = DEFAULT_OUTBOX_SIZE) -> None:
        self.messages: deque[OutboxMessage] = deque(maxlen=size)

    def record(self, message: OutboxMessage) -> OutboxMessage:
        self.messages.append(message)
        return message

    def clear(self) -> None:
        self.messages.clear()

    def to_list(self) -> list[dict]:
        return [m.to_dict() for m in self.messages]
