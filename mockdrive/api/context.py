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
    # (caller, item, roles), handed to the handler's read check instead of a second walk
    seen: tuple[User, Item, set[str]] | None = None

    def viewed_by(self, viewer_id: str | None) -> Call:
        """This call rendering for ``viewer_id`` (``dataclasses.replace``, without its cost)."""
        return Call(self.state, self.caller, self.request_id, self.fired_faults, viewer_id,
                    self.downloads, self.principal, self.options, self.seen)  # fmt: skip

    def with_downloads(self, downloads: Downloads | None) -> Call:
        """This call rendering files with the download URLs of ``downloads``."""
        return Call(self.state, self.caller, self.request_id, self.fired_faults, self.viewer_id,
                    downloads, self.principal, self.options, self.seen)  # fmt: skip


def _key(name: str, kind: type) -> Any:
    return web.RequestKey(name, kind) if hasattr(web, "RequestKey") else name


BACKEND = web.AppKey("backend", Backend)
REQUEST_ID = _key("request_id", str)
STATE = _key("state", State)
CALLER = _key("caller", User)
PRINCIPAL = _key("principal", Principal)
FIRED_FAULTS = _key("fired_faults", list)


def call_of(request: web.Request) -> Call:
    """The request's own state (captured when it started), caller and bookkeeping."""
    return Call(
        request[STATE],
        request[CALLER],
        request[REQUEST_ID],
        request[FIRED_FAULTS],
        principal=request.get(PRINCIPAL),
    )


def backend_of(request: web.Request) -> Backend:
    """The server's Backend (the admin routes reset and load it)."""
    return request.app[BACKEND]
