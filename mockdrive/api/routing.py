"""A dialect's route table: rows of (method, path template) → handler.

Each dialect module (``onehub``, ``admin``, ``dashboard``) declares one tuple of ``Route`` rows;
``onedrive_v1``, whose actions sit on Graph's item addresses, declares ``ItemRoute`` rows.
Three readers share a table: ``add_table`` registers its rows on the aiohttp router, the
OpenAPI document lists exactly these rows, and the expect handler and the pipeline read a
row's body limit through ``route_of``. "What serves X?" is answered by reading one table.

A template is aiohttp's: ``{name}`` or ``{name:regex}``; ``plain_template`` drops the regexes
(``/workspaces/{id}``), as OpenAPI spells it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from .jsonio import MAX_JSON_BODY

if TYPE_CHECKING:
    from ..model.tree import Item
    from .context import Call

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ItemHandler = Callable[[web.Request, "Call", "Item"], Awaitable[web.StreamResponse]]
ExpectHandler = Callable[[web.Request], Awaitable[object]]

# one level of braces inside a regex, as in {id:[0-9]{1,18}}
_VARIABLE = re.compile(r"\{(\w+):(?:[^{}]|\{[^{}]*\})*\}")


@dataclass(frozen=True, slots=True)
class Route:
    """One row: ``method`` on ``path`` is served by ``handler``.

    ``summary`` is the line the admin index and the OpenAPI document show. ``max_body`` is the
    most body bytes the route takes (an announced larger body gets no ``100 Continue`` and a
    413); ``too_large`` makes that 413 when the route words it its own way.
    """

    method: str
    path: str
    handler: Handler
    summary: str = ""
    max_body: int = MAX_JSON_BODY
    too_large: Callable[[], Exception] | None = None

    @property
    def plain_path(self) -> str:
        return plain_template(self.path)


@dataclass(frozen=True, slots=True)
class ItemRoute:
    """One row of operations on an addressed item: ``method`` on ``{item}/action`` is served by
    ``handler(request, call, item)`` once Graph's addressing has found the item (every form:
    ``/me/drive/items/{itemId}``, ``/drives/{driveId}/root:/{itemPath}:`` and the rest)."""

    method: str
    action: str
    handler: ItemHandler
    summary: str = ""


def plain_template(path: str) -> str:
    """``/workspaces/{id:[0-9]{1,18}}`` → ``/workspaces/{id}``."""
    return _VARIABLE.sub(r"{\1}", path)


TABLE_ROUTES = web.AppKey("table_routes", dict)


def add_table(app: web.Application, table: Iterable[Route], expect_handler: ExpectHandler) -> None:
    """Register every row on the app's router, in the table's order (aiohttp tries resources in
    the order they were added). A GET row also answers HEAD, as ``add_get`` does."""
    rows = app.setdefault(TABLE_ROUTES, {})
    for row in table:
        methods = ("HEAD", "GET") if row.method == "GET" else (row.method,)
        for method in methods:
            added = app.router.add_route(
                method, row.path, row.handler, expect_handler=expect_handler
            )
            rows[added] = row


def route_of(request: web.Request) -> Route | None:
    """The table row that serves this request, or None (Graph's routes, no route at all)."""
    rows = request.app.get(TABLE_ROUTES)
    if not rows:
        return None
    return rows.get(request.match_info.route)
