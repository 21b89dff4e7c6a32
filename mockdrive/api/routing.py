"""A dialect's route table: rows of (method, path template) → handler.

Each dialect module (``onehub``, ``admin``, ``dashboard``) declares one tuple of ``Route`` rows.
Three readers share a table: ``add_table`` registers its rows on the aiohttp router, the
OpenAPI document lists exactly these rows, and the expect handler and the pipeline read a
row's body limit through ``route_of``. "What serves X?" is answered by reading one table.

Graph's table (``graph/routes.py``, with ``onedrive_v1``'s rows, whose actions sit on Graph's
item addresses) holds ``GraphRoute`` rows: aiohttp hands it every path under the version, and
Graph's own dispatch matches the rows once the path is in its one normal form (``root:/a:``
and percent-encoded forms are beyond a router's templates).

A template is aiohttp's: ``{name}`` or ``{name:regex}``; ``plain_template`` drops the regexes
(``/workspaces/{id}``), as OpenAPI spells it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import web

from .jsonio import MAX_JSON_BODY

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ExpectHandler = Callable[[web.Request], Awaitable[object]]

# one level of braces inside a regex, as in {id:[0-9]{1,18}}
_VARIABLE = re.compile(r"\{(\w+):(?:[^{}]|\{[^{}]*\})*\}")


@dataclass(frozen=True, slots=True)
class Route:
    """One row: ``method`` on ``path`` is served by ``handler``.

    ``summary`` is the line the admin index and the OpenAPI document show. ``max_body`` is the
    most body bytes the route takes (an announced larger body gets no ``100 Continue`` and a
    413); ``too_large`` makes that 413 when the route words it its own way. ``trailing_slash``
    serves the path with one ``/`` after it too, as the same row (the OpenAPI document lists
    the path once), where the service does.
    """

    method: str
    path: str
    handler: Handler
    summary: str = ""
    max_body: int = MAX_JSON_BODY
    too_large: Callable[[], Exception] | None = None
    trailing_slash: bool = False

    @property
    def plain_path(self) -> str:
        return plain_template(self.path)


@dataclass(frozen=True, slots=True)
class GraphRoute:
    """One row of Graph's table (``graph/routes.py``; OneDrive's rows are the same kind):
    ``method`` on ``path``, the path after the version, is served by ``handler``.

    A path starts with what the dispatch resolves before the handler runs, and the handler
    takes it after ``(request, call)``:

    - ``{item}/…``: an item in any of Graph's addressing forms (``/me/drive/items/{itemId}``,
      ``/drives/{driveId}/root:/{itemPath}:`` and the rest), found and readable by the caller;
    - ``{address}/…``: the same forms, for an item that need not exist yet (an upload): the
      handler takes the drive and the parsed address;
    - ``{drive}``: a drive in any of its forms (``/me/drive``, ``/drives/{driveId}``, …): the
      handler takes the drive and the parsed address;
    - ``{user}``: ``/me`` or ``/users/{userId}``, a user that exists;
    - ``{share}``: ``/shares/{shareId}``, a sharing link the caller may use: the handler takes
      the shared item and the link's permission;
    - ``/…``: a resource of its own (``/me``, ``/shares/{shareId}``).

    Each ``{name}`` segment after that passes the segment's text, in order. ``pattern``, a
    regular expression, is what the last segment matches instead of its literal text where it
    has more than one spelling (``delta``, ``delta()``, ``delta(token='…')``); the segment is
    then passed as spelled. ``max_body`` and ``too_large`` are as in ``Route``.
    """

    method: str
    path: str
    handler: Callable[..., Awaitable[web.StreamResponse]]
    summary: str = ""
    pattern: str | None = None
    max_body: int = MAX_JSON_BODY
    too_large: Callable[[], Exception] | None = None
    # ``{item}``, ``{address}``, ``{drive}``, ``{user}``, ``{share}``, or ``/`` for a resource
    # of its own: taken from the path
    target: str = field(init=False)

    def __post_init__(self) -> None:
        target = "/" if self.path.startswith("/") else self.path.split("/", 1)[0]
        object.__setattr__(self, "target", target)

    @property
    def action(self) -> str:
        """What follows the target: ``children``, ``permissions/{permissionId}``, ``""``."""
        return "" if self.target == "/" else self.path.partition("/")[2]


def plain_template(path: str) -> str:
    """``/workspaces/{id:[0-9]{1,18}}`` → ``/workspaces/{id}``."""
    return _VARIABLE.sub(r"{\1}", path)


TABLE_ROUTES = web.AppKey("table_routes", dict)


def add_table(
    app: web.Application,
    table: Iterable[Route],
    expect_handler: ExpectHandler,
    through: Callable[[Handler], Handler] = lambda handler: handler,
) -> None:
    """Register every row on the app's router, in the table's order (aiohttp tries resources in
    the order they were added), its handler served ``through`` what wraps every handler (the
    pipeline). A GET row also answers HEAD, as ``add_get`` does; a row with ``trailing_slash``
    is registered at its path and at its path with ``/`` after it."""
    rows = app.setdefault(TABLE_ROUTES, {})
    for row in table:
        methods = ("HEAD", "GET") if row.method == "GET" else (row.method,)
        paths = (row.path, row.path + "/") if row.trailing_slash else (row.path,)
        handler = through(row.handler)
        for path in paths:
            for method in methods:
                added = app.router.add_route(method, path, handler, expect_handler=expect_handler)
                rows[added] = row


def route_of(request: web.Request) -> Route | None:
    """The table row that serves this request, or None (Graph's routes: ``graph.routes.row_of``;
    no route at all)."""
    rows = request.app.get(TABLE_ROUTES)
    if not rows:
        return None
    return rows.get(request.match_info.route)
