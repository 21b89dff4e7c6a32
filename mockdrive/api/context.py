"""What a handler needs about the request it serves, resolved once by the pipeline.

The keys under which the pipeline (``app.py``) keeps the request's state, caller, id and fired
faults live here, so a dialect's module-level handlers read them without importing the app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..backend import Backend
from ..model.identity import User
from ..model.principal import Principal
from ..model.state import State
from ..model.tree import Item
from .graph.downloads import Downloads
from .graph.odata import Options


@dataclass(slots=True)
class Call:
    state: State
    caller: User
    request_id: str
    fired_faults: list[dict[str, Any]] = field(default_factory=list)  # journaled with the request
    # how answers are rendered for this request: for whom (None: each drive's owner) and the
    # download URLs of files (None: rendered without them); the dialect sets them
    viewer_id: str | None = None
    downloads: Downloads | None = None
    # who the request acts for and with which scopes or roles (model/principal.py); the
    # pipeline sets it; None: the caller with every scope, as a scenario's static token
    principal: Principal | None = None
    # a Graph GET's OData query options, parsed by the dispatch before its handler runs
    options: Options | None = None
    # the caller's roles on the item the dispatch found readable (``addressing.resolve_visible``):
    # (caller, item, roles), handed to the handler's read check instead of a second walk;
    # roles None: a read by the drive's owner, whose roles are walked only if asked for
    seen: tuple[User, Item, set[str] | None] | None = None


class Exchange:
    """What the pipeline resolves for one request, kept under one request key (``EXCHANGE``):
    the state it runs against, its id, the faults fired, and for an API request who it acts
    for; ``identity``: one of Entra's endpoints (its errors in Entra's words)."""

    __slots__ = ("caller", "fired_faults", "identity", "principal", "request_id", "state")

    def __init__(self, state: State, request_id: str, fired_faults: list[dict[str, Any]]) -> None:
        self.state = state
        self.request_id = request_id
        self.fired_faults = fired_faults
        self.principal: Principal | None = None
        self.caller: User | None = None
        self.identity = False


def _key(name: str, kind: type) -> Any:
    return web.RequestKey(name, kind) if hasattr(web, "RequestKey") else name


BACKEND = web.AppKey("backend", Backend)
EXCHANGE = _key("exchange", Exchange)


def call_of(request: web.Request) -> Call:
    """The request's own state (captured when it started), caller and bookkeeping: a new
    ``Call``, the handler's to complete (viewer, downloads, options)."""
    exchange: Exchange = request[EXCHANGE]
    caller = exchange.caller
    assert caller is not None, "an API request's caller is authenticated by the pipeline"
    return Call(exchange.state, caller, exchange.request_id, exchange.fired_faults, None, None,
                exchange.principal)  # fmt: skip


def exchange_of(request: web.Request) -> Exchange | None:
    """What the pipeline resolved for ``request``; None before it ran (or outside it)."""
    return request.get(EXCHANGE)


def backend_of(request: web.Request) -> Backend:
    """The server's Backend (the admin routes reset and load it)."""
    return request.app[BACKEND]
