"""The route tables are the truth about what is served: every row is served by its handler, the
OpenAPI document lists exactly the rows, and nothing is registered outside a table (but Graph's
routes: aiohttp hands every path under the version to Graph's dispatch, which reads Graph's
table, ``graph.routes.ROUTES``, once the path is in its normal form)."""

from __future__ import annotations

import base64
import json
import re
import socket

import pytest
from aiohttp.test_utils import make_mocked_request

from mockdrive.api import admin, dashboard, entra, onedrive_v1, onehub
from mockdrive.api.aiohttp_internals import serve
from mockdrive.api.app import build_app, handler_of
from mockdrive.api.graph import routes as graph_routes
from mockdrive.api.openapi import DRIVE_PATHS, ITEM_BASES, USER_PATHS, openapi_document
from mockdrive.api.routing import Route, plain_template
from mockdrive.backend import Backend

TABLES = {
    "admin": admin.ROUTES,
    "dashboard": dashboard.ROUTES,
    "onehub": onehub.ROUTES,
    "entra": entra.ROUTES,
    "identity": entra.ADMIN_ROUTES,
}
ROWS = [row for table in TABLES.values() for row in table]
# Graph's routes, registered by app.py and the graph package (Graph's own rows are matched by
# its dispatch: the tests of ``graph_routes.ROUTES`` below).
GRAPH_RESOURCES = {
    "/v1.0/$batch",
    "/v1.0/{rest}",
    "/beta/$batch",
    "/beta/{rest}",
    "/up/{session}",
    "/download/{token}",
    "/preview/{token}",
    "/_api/v2.0/monitor/{jobId}",
    "/{tail}",  # the catch-all: Graph's 404 envelope for any other path (and, in the same
    # place, whatever the router matches to no route: ``app.Unrouted``)
}
GRAPH_DOCUMENTED = ("/v1.0/", "/up/", "/download/", "/preview/", "/_api/")
# Request bodies for rows that read one, by (method, plain path).
BODIES = {
    ("POST", "/workspaces"): {"workspace": {"name": "Made"}},
    ("POST", "/workspaces/{id}/folders"): {"folder": {"filename": "Made"}},
    ("POST", "/workspaces/{id}/folders/{folderId}/folders"): {"folder": {"filename": "Made"}},
    ("PUT", "/{kind}/{id}"): {"folder": {"filename": "Renamed"}},
    ("POST", "/{kind}/{id}/invitations"): {"invitation": {"emails": "ivy@ext.example"}},
    ("PUT", "/rolemaps/{id}"): {"rolemap": {"role_name": "Viewer"}},
    ("POST", "/_mockdrive/faults"): {"effect": "error", "status": 503, "path": "^/never$"},
    ("PUT", "/_mockdrive/policy"): {"externalSharing": True},
    ("POST", "/_mockdrive/clock"): {"seconds": 1},
    ("PUT", "/_mockdrive/identity/device-flow"): {"pending": 0},
}
# Form bodies (Entra's endpoints take forms) and queries, by (method, plain path).
CLIENT = "d50ca740-c83f-4d1b-b616-12c519384f0c"
FORMS = {
    ("POST", "/{tenant}/oauth2/v2.0/token"): {
        "grant_type": "client_credentials",
        "client_id": CLIENT,
        "client_secret": "any",
        "scope": "https://graph.microsoft.com/.default",
    },
    ("POST", "/{tenant}/oauth2/v2.0/devicecode"): {"client_id": CLIENT, "scope": "Files.Read"},
}
QUERIES = {
    ("GET", "/{tenant}/oauth2/v2.0/authorize"): {
        "client_id": CLIENT,
        "response_type": "code",
        "redirect_uri": "http://localhost/done",
        "scope": "Files.Read",
    },
}

# (body, status) of a request each OneDrive row serves: everyone invited; a new link.
ONEDRIVE_REQUESTS = {
    "action.invite": ({"recipients": ["bob@contoso.example"], "roles": ["read"]}, 200),
    "action.createLink": ({"type": "view", "scope": "organization"}, 201),
}


def row_id(row: Route) -> str:
    return f"{row.method} {row.plain_path}"


def concrete(row: Route, values: dict[str, str]) -> str:
    """The row's template with a value for each variable (``{kind}`` takes its first choice)."""

    def value(match: re.Match[str]) -> str:
        name, pattern = match["name"], match["pattern"]
        if name == "kind":
            return pattern.split("|")[0]
        return values[name]

    return re.sub(r"\{(?P<name>\w+)(?::(?P<pattern>(?:[^{}]|\{[^{}]*\})*))?\}", value, row.path)


def test_the_tables_have_no_duplicate_rows():
    keys = [(row.method, row.plain_path) for row in ROWS]
    assert len(keys) == len(set(keys))
    actions = [(row.method, row.action) for row in onedrive_v1.ROUTES]
    assert len(actions) == len(set(actions))


@pytest.mark.parametrize("row", ROWS, ids=row_id)
async def test_the_router_gives_each_row_to_its_handler(row):
    """No earlier route shadows a row: a URL of its template reaches its handler."""
    app = build_app(Backend())
    values = {
        "id": "12",
        "folderId": "34",
        "ruleId": "r1",
        "name": "dashboard.js",
        "tenant": "t",
        "username": "ada@contoso.example",
    }
    request = make_mocked_request(row.method, concrete(row, values), app=app)
    match = await app.router.resolve(request)
    assert handler_of(match.handler) is row.handler, (row, match)


@pytest.fixture
def ids(mock_drive) -> dict[str, str]:
    """A value for every template variable that names something real: the tables' requests
    reach their handlers' work, not a 404 for a missing target."""
    mock_drive.add_file("/Finance/Budget.xlsx", "b")
    url, session = mock_drive.url, mock_drive.session
    folder = mock_drive.onehub_id("/Finance")
    invited = session.post(
        f"{url}/folders/{folder}/invitations",
        json={"invitation": {"emails": "new@ext.example", "role_name": "Viewer"}},
    )
    assert invited.status_code == 201, invited.text
    rolemaps = session.get(f"{url}/folders/{folder}/rolemaps").json()["items"]
    pending = next(r["rolemap"]["id"] for r in rolemaps if r["rolemap"]["state"] == "pending")
    rule = session.post(
        f"{url}/_mockdrive/faults", json={"effect": "error", "status": 503, "path": "^/never$"}
    )
    assert rule.status_code == 201, rule.text
    return {
        "workspace": str(mock_drive.workspace_id()),
        "folder": str(folder),
        "file": str(mock_drive.onehub_id("/Finance/Budget.xlsx")),
        "rolemap": str(pending),
        "ruleId": rule.json()["id"],
        "name": "dashboard.js",
        "tenant": "common",
        "username": mock_drive.owner.email,
    }


def values_for(row: Route, ids: dict[str, str]) -> dict[str, str]:
    """Which real id each variable of this row takes."""
    path = row.plain_path
    if path.startswith("/workspaces/"):
        number = ids["workspace"]
    elif path.startswith("/files/"):
        number = ids["file"]
    elif "rolemaps/{id}" in path:
        number = ids["rolemap"]
    else:
        number = ids["folder"]  # /folders/{id} and /{kind}/{id} (kind: folders)
    return {**ids, "id": number, "folderId": ids["folder"]}


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_every_row_is_served(mock_drive, ids, row):
    """A request to each row, with real ids and a valid body, is answered by its handler with
    success (never the router's 404 or 405)."""
    url = mock_drive.url + concrete(row, values_for(row, ids))
    kwargs: dict = {"headers": {"Accept": "text/html"}} if row.plain_path == "/" else {}
    if row.handler is onehub.upload_file:
        kwargs["files"] = {"file": ("made.txt", b"made")}
    elif row.handler is admin.import_state:
        kwargs["data"] = b"{}"
    elif (row.method, row.plain_path) in BODIES:
        kwargs["json"] = BODIES[row.method, row.plain_path]
    elif (row.method, row.plain_path) in FORMS:
        kwargs["data"] = FORMS[row.method, row.plain_path]
    elif row.handler is entra.live_token:  # redeems a refresh token the mock issued
        refresh = mock_drive.refresh_token_for(mock_drive.owner, CLIENT)
        kwargs["data"] = {"grant_type": "refresh_token", "client_id": CLIENT,
                          "refresh_token": refresh}  # fmt: skip
    kwargs["params"] = QUERIES.get((row.method, row.plain_path))
    if row.handler is dashboard.get_access:
        kwargs["params"] = {"user": mock_drive.owner.email}
    response = mock_drive.session.request(row.method, url, allow_redirects=False, **kwargs)
    if row.handler is entra.authorize:  # signs in at once: the redirect carries the code
        assert response.status_code == 302 and "code=" in response.headers["Location"]
        return
    assert 200 <= response.status_code < 300, (row, response.status_code, response.text)


@pytest.mark.parametrize("row", onedrive_v1.ROUTES, ids=lambda row: row.action)
@pytest.mark.parametrize(
    "base", ["/me/drive/items/{itemId}", "/drives/{driveId}/root:/{itemPath}:"]
)
def test_every_onedrive_row_is_served_on_graph_addresses(mock_drive, row, base):
    mock_drive.add_user("Bob", "bob@contoso.example")
    item = mock_drive.add_file("/Plan.docx", "plan")
    path = (
        base.replace("{itemId}", item.id)
        .replace("{driveId}", mock_drive.drive.id)
        .replace("{itemPath}", "/Plan.docx")
    )
    body, status = ONEDRIVE_REQUESTS[row.action]
    response = mock_drive.session.request(row.method, f"{path}/{row.action}", json=body)
    assert response.status_code == status, response.text


def test_the_document_lists_exactly_the_tables_routes():
    documented = {
        (method.upper(), path)
        for path, item in openapi_document()["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    }
    tables = {(row.method, row.plain_path) for row in ROWS}
    outside_graph = {(m, p) for m, p in documented if not p.startswith(GRAPH_DOCUMENTED)}
    assert outside_graph == tables

    tagged_onedrive = {
        (method.upper(), path)
        for path, item in openapi_document()["paths"].items()
        for method, operation in item.items()
        if method != "parameters" and operation.get("tags") == ["onedrive"]
    }
    onedrive = {
        (row.method, "/v1.0" + base + "/" + row.action)
        for base in ITEM_BASES
        for row in onedrive_v1.ROUTES
    }
    assert tagged_onedrive == onedrive


def test_no_route_is_registered_outside_a_table():
    """Every route on the router is a table row (GET rows answer HEAD too), registered once
    with the row's handler (and once more with a ``/`` after its path where the row says
    ``trailing_slash``), or one of Graph's; Entra's POST-only paths answer every other
    method through a row of ``entra.NOT_POSTED`` (Entra's 400, not an operation to document)."""
    app = build_app(Backend())
    registered: list[tuple[str, str, object]] = []
    for route in app.router.routes():
        canonical = route.resource.canonical if route.resource is not None else ""
        if canonical not in GRAPH_RESOURCES:
            registered.append((route.method, canonical, handler_of(route.handler)))
    expected = [
        (method, path, row.handler)
        for row in (*ROWS, *entra.NOT_POSTED)
        for path in (row.plain_path, row.plain_path + "/")[: 2 if row.trailing_slash else 1]
        for method in (("HEAD", "GET") if row.method == "GET" else (row.method,))
    ]
    assert sorted(registered, key=repr) == sorted(expected, key=repr)


# Requests the router matches to no route: no ``{name:.*}`` matches a newline, nor any path
# ``OPTIONS *``. (method, path, with the token?) -> status, error code
UNROUTED = {
    # a 404 carries the code Graph pairs with it, as every path no route serves gets
    ("GET", "/v1.0/me/drive/root:/a%0Ab:", True): (404, "itemNotFound"),
    ("GET", "/v1.0/me/drive/root:/a%0Ab:", False): (401, "unauthenticated"),
    ("GET", "/_mockdrive/x%0Ay", False): (404, "itemNotFound"),
    ("OPTIONS", "*", False): (404, "itemNotFound"),
    ("GET", "/_mockdrive/faults/a%0Ab", False): (405, "notSupported"),  # a DELETE route's path
}


async def test_what_no_route_matches_is_answered_by_the_pipeline():
    """aiohttp's own 404 or 405, in Graph's envelope with a request id, after the token check
    and into the journal on an API's path: never aiohttp's plain-text page."""
    from mockdrive.model.state import State

    state = State(seed=1)
    state.add_drive(state.add_user("Ada", "ada@contoso.example", token="t"))
    app = build_app(Backend(state))
    app.freeze()
    for (method, path, token), (status, code) in UNROUTED.items():
        headers = {"Host": "127.0.0.1", **({"Authorization": "Bearer t"} if token else {})}
        journaled = len(state.journal.entries)
        response = await serve(app, make_mocked_request(method, path, headers=headers, app=app))
        assert (response.status, response.content_type) == (status, "application/json"), path
        assert json.loads(response.body)["error"]["code"] == code, (method, path)
        assert response.headers["request-id"]
        api = path.startswith("/v1.0/")
        assert len(state.journal.entries) == journaled + api, (method, path)


GRAPH_PATHS = [
    "/v1.0/me/drive/items/01ABC",
    "/v1.0/",
    "/v1.0",
    "/v1.0x/me",
    "/beta/me/drive/root:/a%2Fb%25c:/children",
    "/v1.0/me/drive/root:/a%0Ab:",
    "/v1.0/me/drive/root:/a%0Db:",
    "/v1.0/drives/b%21x/items/%2541",
    "/v1.0//me/./drive",
    "/beta/shares/u!aHR0cHM6Ly9leGFtcGxlLmNvbS8_Pz8/driveItem",
    "/v1.0/me/drive/root:/%E2%82%AC%20euro.txt:",
]


@pytest.mark.parametrize("path", GRAPH_PATHS)
async def test_graph_prefix_matches_what_aiohttp_would(path):
    """``app.GraphVersion`` finds what aiohttp's own resource for ``{prefix}/{rest:.*}`` finds,
    with the same ``rest``, for every spelling (escapes, newlines, the bare prefix)."""
    from aiohttp import web

    from mockdrive.api.app import GraphVersion, handler_of

    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    reference = web.Application()
    for prefix in ("/v1.0", "/beta"):
        reference.router.add_route("*", prefix + "/{rest:.*}", handler)
    app = build_app(Backend())
    for method in ("GET", "PATCH"):
        expected = await reference.router.resolve(make_mocked_request(method, path))
        found = await app.router.resolve(make_mocked_request(method, path, app=app))
        graph = isinstance(found.route.resource, GraphVersion)
        assert graph == (expected.http_exception is None), (method, path)
        if graph:
            assert dict(found) == dict(expected), path
            assert handler_of(found.handler).__name__ == "graph_entry"


def test_a_template_is_documented_without_its_patterns():
    assert plain_template("/workspaces/{id:[0-9]{1,18}}/folders/{folderId:[0-9]{1,18}}") == (
        "/workspaces/{id}/folders/{folderId}"
    )
    assert plain_template("/{kind:folders|files}/{id}") == "/{kind}/{id}"


def first_answer_line(mock_drive, method: str, path: str, length: int) -> bytes:
    """Send only the head with ``Expect: 100-continue``; the server's first line."""
    server = mock_drive.server
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\nExpect: 100-continue\r\n\r\n"
        )
        sock.sendall(head.encode())
        return sock.makefile("rb").readline()


def test_the_expect_handler_invites_a_body_up_to_its_rows_limit(mock_drive):
    """``PUT /_mockdrive/state`` takes a scenario far larger than a JSON body elsewhere."""
    state_row = next(row for row in admin.ROUTES if row.handler is admin.import_state)
    faults_row = next(row for row in admin.ROUTES if row.plain_path == "/_mockdrive/faults")
    size = faults_row.max_body + 1
    assert size < state_row.max_body
    assert first_answer_line(mock_drive, "PUT", "/_mockdrive/state", size).startswith(
        b"HTTP/1.1 100"
    )
    assert first_answer_line(mock_drive, "POST", "/_mockdrive/faults", size).startswith(
        b"HTTP/1.1 413"
    )


# -- Graph's table ------------------------------------------------------------------------------
GRAPH_BASES = {
    "/": ("",),
    "{share}": ("/shares/{shareId}",),
    "{user}": USER_PATHS,
    "{drive}": DRIVE_PATHS,
    "{item}": ITEM_BASES,
    "{address}": ITEM_BASES,
}
# a value for each name a documented Graph path holds (none is looked up: ``row_of`` reads paths)
GRAPH_VALUES = {
    "{driveId}": "b!drive",
    "{itemId}": "01ITEM",
    "{itemPath}": "/Projects/Plan.docx",
    "{userId}": "ada@contoso.example",
    "{groupId}": "g1",
    "{siteId}": "s1",
    "{permissionId}": "P1",
    "{versionId}": "current",
    "{shareId}": "u!aHR0cHM6Ly94",
    "{q}": "plan",
    "{specialFolder}": "documents",
    "{name}": "Plan.docx",
}


def graph_paths_of(row) -> list[str]:
    """The documented paths of a Graph row (after the version): its target's every form."""
    if row.target == "/":
        return [row.path]
    return [base + ("/" + row.action if row.action else "") for base in GRAPH_BASES[row.target]]


def concrete_graph(path: str) -> str:
    for name, value in GRAPH_VALUES.items():
        path = path.replace(name, value)
    return path


def test_graph_rows_are_unique():
    keys = [(row.method, row.path) for row in graph_routes.ROUTES]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("row", graph_routes.ROUTES, ids=lambda row: f"{row.method} {row.path}")
def test_the_graph_dispatch_finds_each_row_at_each_of_its_addresses(row):
    for path in graph_paths_of(row):
        assert graph_routes.row_of(row.method, concrete_graph(path)) is row, path


def test_the_document_lists_exactly_graphs_rows():
    """Every row at every address form, and nothing else but ``$batch`` and two more addressing
    forms of the item rows (special folders and the OData key form), which the rows serve."""
    documented = {
        (method.upper(), path.removeprefix("/v1.0"))
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method != "parameters" and path.startswith("/v1.0/") and path != "/v1.0/$batch"
    }
    rows = {(row.method, path) for row in graph_routes.ROUTES for path in graph_paths_of(row)}
    assert rows <= documented
    for method, path in documented - rows:
        assert path.startswith(("/me/drive/special/", "/me/drive/root/children(")), path
        row = graph_routes.row_of(method, concrete_graph(path))
        assert row is not None and row.target in ("{item}", "{address}"), (method, path)


@pytest.fixture
def graph_ids(mock_drive) -> dict[str, str]:
    """Real targets for one request to each Graph row."""
    mock_drive.add_user("Bob", "bob@contoso.example")
    mock_drive.add_folder("/Projects")
    plan = mock_drive.add_file("/Projects/Plan.docx", "plan")
    spare = mock_drive.add_file("/Projects/Spare.docx", "spare")
    graph = mock_drive.session
    base = f"{mock_drive.url}/v1.0/me/drive/items"
    invited = graph.post(f"{base}/{plan.id}/invite", json=GRAPH_BODIES["invite"])
    linked = graph.post(f"{base}/{plan.id}/createLink", json=GRAPH_BODIES["createLink"])
    assert invited.status_code == 200 and linked.status_code == 201, (invited.text, linked.text)
    versions = graph.get(f"{base}/{plan.id}/versions").json()["value"]
    return {
        "plan": plan.id,
        "spare": spare.id,
        "folder": mock_drive.item("/Projects").id,
        "drive": mock_drive.drive.id,
        "user": mock_drive.owner.id,
        "invited": invited.json()["value"][0]["id"],
        "link": linked.json()["id"],
        "share": linked.json()["link"]["webUrl"],
        "version": versions[0]["id"],
    }


GRAPH_BODIES = {
    "invite": {"recipients": [{"email": "bob@contoso.example"}], "roles": ["read"]},
    "action.invite": {"recipients": ["bob@contoso.example"], "roles": ["read"]},
    "createLink": {"type": "view", "scope": "organization"},
    "action.createLink": {"type": "edit", "scope": "organization"},
    "children": {"name": "New", "folder": {}},
    "copy": {"name": "Copy.docx"},
    "": {"description": "changed"},
    "permissions/{permissionId}": {"roles": ["write"]},
    "permissions/{permissionId}/grant": {"recipients": [{"email": "bob@contoso.example"}]},
    "permission/grant": {"recipients": [{"email": "bob@contoso.example"}]},
}


def graph_request(row, ids: dict[str, str]) -> tuple[str, dict]:
    """One path (after the version) and the request options that a row serves with success."""
    folder_actions = ("children", "delta", "search(q='{q}')")
    target = ids["folder"] if row.action in folder_actions else ids["plan"]
    if row.method == "DELETE" and row.action == "":
        target = ids["spare"]
    share = "u!" + base64.urlsafe_b64encode(ids["share"].encode()).decode().rstrip("=")
    path = graph_paths_of(row)[0 if row.target != "{drive}" else 1]
    permission = ids["link"] if row.action.endswith("grant") else ids["invited"]
    path = (
        path.replace("{driveId}", ids["drive"])
        .replace("{itemId}", target)
        .replace("{userId}", ids["user"])
        .replace("{permissionId}", permission)
        .replace("{versionId}", ids["version"])
        .replace("{shareId}", share)
        .replace("{q}", "plan")
    )
    options: dict = {"allow_redirects": False}
    if row.method == "PUT":
        options["data"] = b"new content"
    elif row.method in ("POST", "PATCH"):
        options["json"] = GRAPH_BODIES.get(row.action, {})
    return path, options


@pytest.mark.parametrize("row", graph_routes.ROUTES, ids=lambda row: f"{row.method} {row.path}")
def test_every_graph_row_is_served(mock_drive, graph_ids, row):
    """A request to each row (on its first address form), with real ids and a valid body, is
    answered with success."""
    path, options = graph_request(row, graph_ids)
    response = mock_drive.session.request(row.method, mock_drive.url + "/v1.0" + path, **options)
    assert 200 <= response.status_code < 400, (row, path, response.status_code, response.text)


ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def test_every_405_names_in_allow_the_methods_its_path_is_served_with(mock_drive, graph_ids, ids):
    """HTTP asks every 405 for an ``Allow`` header: at each path of every table, each method no
    row serves there is refused with one that names exactly the methods the rows serve. Graph
    and mockdrive's own API refuse every such method so; Onehub and Entra keep their own answer
    (a Rails app's unrouted method is a 404)."""

    def resource(row) -> tuple[str, str]:  # a target's action, or a whole path of its own
        return (row.target, row.path if row.target == "/" else row.action)

    served: dict[str, set[str]] = {}  # a concrete URL: the methods its rows serve
    for row in graph_routes.ROUTES:
        path, _ = graph_request(row, graph_ids)
        served.setdefault("/v1.0" + path, set()).update(
            other.method for other in graph_routes.ROUTES if resource(other) == resource(row)
        )
    for row in ROWS:
        if row.plain_path.startswith("/_mockdrive/ui") or row.plain_path == "/":
            continue  # the dashboard's pages and files: aiohttp's static routes
        methods = {other.method for other in ROWS if other.plain_path == row.plain_path}
        if "GET" in methods:  # aiohttp serves HEAD wherever a route serves GET
            methods.add("HEAD")
        served.setdefault(concrete(row, values_for(row, ids)), set()).update(methods)
    refused = 0
    for path, methods in served.items():
        for method in ALL_METHODS:
            if method in methods:
                continue
            response = mock_drive.session.request(method, mock_drive.url + path)
            if path.startswith(("/v1.0/", "/_mockdrive")):
                assert response.status_code == 405, (method, path, response.status_code)
            elif response.status_code != 405:
                continue
            refused += 1
            allow = set(response.headers.get("Allow", "").replace(" ", "").split(","))
            assert allow == methods, (method, path, allow, methods)
            assert method not in allow, (method, path, allow)
    batch = mock_drive.session.get(mock_drive.url + "/v1.0/$batch")
    assert (batch.status_code, batch.headers.get("Allow")) == (405, "POST")
    print(f"{refused} refusals at {len(served)} paths")
    assert refused >= len(served), refused  # most paths refuse several methods
