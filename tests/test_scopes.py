"""Scopes by routes by kinds of token: every answer is what the scope table (``model/scopes.py``,
docs/identity.md) and the resource permissions together allow.

The routes are those of the OpenAPI document, so a route is covered the day it is added: every
operation on an item in the canonical form (``/drives/{driveId}/items/{itemId}…``), a read and
a write in every other addressing form, the drive resources, ``/shares``, ``sharedWithMe`` and
the directory. Each runs against three drives of one arrangement: Ada's OneDrive, where Walt
writes /Projects; a SharePoint document library of Olga's, where Walt writes /Team; and Olga's
own OneDrive, where Walt holds nothing.

The expected answer is computed, never written down:

* the resource permissions are the answer to the same request with a static token, which keeps
  every scope: Walt's own for his delegated tokens; for an app, a *twin* (a user holding, on
  every drive the app's roles reach, the role they allow at the root and at every item that stops
  inheriting), or a stranger (Sam, who holds nothing) where they reach nothing; the twins' and
  Walt's static answers on bare items are checked against the access oracle
  (``mock_drive.access``);
* the scopes are the table's entries (``DELEGATED``, ``APPLICATION_ROLES``, the directory sets),
  read with the reach rule docs/identity.md states.

So with a delegated token: what Walt cannot see answers as with his static token, whatever the
scopes; what the scopes do not allow on a drive he sees is 403 ``accessDenied``; anything else
is his static answer. An app-only token: ``/me`` and ``/drive`` are 400 ``BadRequest``; anything
else is its twin's answer, or the stranger's. Answers are compared by status and error code.
"""

from __future__ import annotations

import copy
import re
import types
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from wire_client import WireSession

from mockdrive.api.openapi import openapi_document
from mockdrive.model import scopes

VERSION = "/v1.0"
CANONICAL = VERSION + "/drives/{driveId}/items/{itemId}"
DELEGATED_SETS = (
    ("Files.Read",),
    ("Files.ReadWrite",),
    ("Files.Read.All",),
    ("Files.ReadWrite.All",),
    ("Sites.Read.All",),
    ("Sites.ReadWrite.All",),
    ("User.Read",),
    ("Files.ReadWrite", "Sites.Read.All", "User.ReadBasic.All"),
)
APPS = {  # client id → (roles, granted drives by target name)
    "app-every-write": (("Files.ReadWrite.All",), ()),
    "app-every-read": (("Files.Read.All", "User.Read.All"), ()),
    "app-selected": (("Sites.Selected",), ("lib",)),
    "app-no-files": (("User.Read.All",), ()),
}
TARGETS = ("ada", "lib", "hidden")
BODIES = {
    "": {"name": "renamed"},
    "children": {"name": "N", "folder": {}},
    "copy": {"name": "C"},
    "invite": {"recipients": [{"email": "x@ext.example"}], "roles": ["read"]},
    "action.invite": {"recipients": ["x@ext.example"], "roles": ["read"]},
    "createLink": {"type": "view", "scope": "organization"},
    "action.createLink": {"type": "view", "scope": "organization"},
    "grant": {"recipients": [{"email": "x@ext.example"}], "roles": ["read"]},
    "createUploadSession": {},
    "preview": {},
    "permissionId": {"roles": ["write"]},
}
METHODS = ("get", "head", "post", "put", "patch", "delete")
FILE_ACTIONS = ("content", "versions", "preview", "createUploadSession")


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # an OpenAPI path template
    target: str  # which drive of the arrangement: ada, lib, hidden; "walt": his own

    @property
    def id(self) -> str:
        return f"{self.method} {self.path} @{self.target}"


ITEM_FORM = re.compile(r"^(.*?(?:items/\{itemId\}|root:/\{itemPath\}:|/root|special/\{\w+\}"
                       r"|children\('\{name\}'\)))(/.*)?$")  # fmt: skip


def targets_of(path: str) -> tuple[str, ...]:
    """The drives a route is tried on: all three through ``/drives/{driveId}`` and
    ``/shares``; the owners' default drives through ``/users/{userId}``; the library through
    its group and site; Walt's own through ``/me`` and ``/drive``."""
    if "{driveId}" in path or "{shareId}" in path:
        return TARGETS
    if "{userId}" in path:
        return ("ada", "lib")
    if "{groupId}" in path or "{siteId}" in path:
        return ("lib",)
    return ("walt",)


def routes() -> list[Route]:
    """Every route family of the OpenAPI document (see the module's docstring)."""
    found: list[Route] = []
    for path, operations in openapi_document(None)["paths"].items():
        if not path.startswith(VERSION + "/") or path.endswith("$batch"):
            continue
        methods = [m.upper() for m in METHODS if m in operations]
        item = ITEM_FORM.match(path)
        if item is not None and not path.startswith(CANONICAL) and "/shares/" not in path:
            # another addressing form: the item read, and written (renamed, or a child added)
            suffix = item[2] or ""
            keep = {
                "": ("GET", "PATCH"),
                "/children": ("POST",),
                "/children('{name}')": ("GET",),
            }.get(suffix, ())
            methods = [m for m in methods if m in keep]
        found += [Route(m, path, t) for m in methods for t in targets_of(path)]
    return found


ROUTES = routes()


@dataclass
class World:
    """The arrangement's ids, a copy of its state to restore, and the tokens."""

    ids: dict[str, dict[str, str]]
    template: Any
    tokens: dict[str, str] = field(default_factory=dict)
    visible: dict[str, bool] = field(default_factory=dict)  # Walt sees something in the drive


_WORLDS: dict[int, World] = {}


def world_of(mock_drive) -> World:
    """The arrangement, made once per server and restored (a copy of its state) per test."""
    server = mock_drive.server
    world = _WORLDS.get(id(server))
    if world is None:
        world = _WORLDS[id(server)] = arrange(mock_drive)
    else:
        server.reset(copy.deepcopy(world.template))
    return world


def arrange(mock_drive) -> World:
    server = mock_drive.server
    users = {n: mock_drive.add_user(n.title(), f"{n}@contoso.example")
             for n in ("walt", "olga", "sam", "bob", "twinw", "twinr", "twinlib")}  # fmt: skip
    walt, olga = users["walt"], users["olga"]
    walts = mock_drive.add_drive(walt, name="Walts")
    mock_drive.add_file("/Mine/m.txt", "mine", drive=walts)
    lib = mock_drive.add_drive(olga, name="Team Library", drive_type="documentLibrary",
                               also_default_for=("team-group", "team-site"))  # fmt: skip
    hidden = mock_drive.add_drive(olga, name="Olgas")
    drives = {"ada": mock_drive.drive, "lib": lib, "hidden": hidden, "walt": walts}
    layout = {"ada": "Projects", "lib": "Team", "hidden": "O", "walt": "Mine"}
    ids: dict[str, dict[str, str]] = {}
    for name, drive in drives.items():
        folder = layout[name]
        if name != "walt":
            mock_drive.add_file(f"/{folder}/f.txt", "text", drive=drive)
            mock_drive.add_file(f"/{folder}/Closed/c.txt", "closed", drive=drive)
            mock_drive.stop_inheriting(f"/{folder}/Closed", drive=drive)
        bob = mock_drive.grant(f"/{folder}", users["bob"], ["read"], drive=drive)
        ids[name] = {
            "driveId": drive.id,
            "folder": mock_drive.item(f"/{folder}", drive=drive).id,
            "file": mock_drive.item(
                f"/{folder}/{'m' if name == 'walt' else 'f'}.txt", drive=drive
            ).id,
            "path": folder,
            "file_path": f"{folder}/{'m' if name == 'walt' else 'f'}.txt",
            "permissionId": bob.id,
            "userId": drive.owner_id,
        }
    for name in ("ada", "lib"):
        mock_drive.grant(f"/{layout[name]}", walt, ["write"], drive=drives[name])
    twins = {"twinw": ("write", ("ada", "lib", "hidden", "walt")),
             "twinr": ("read", ("ada", "lib", "hidden", "walt")),
             "twinlib": ("write", ("lib",))}  # fmt: skip
    for twin, (role, reached) in twins.items():
        for name in reached:
            mock_drive.grant("/", users[twin], [role], drive=drives[name])
            if name != "walt":
                mock_drive.grant(f"/{layout[name]}/Closed", users[twin], [role],
                                 drive=drives[name])  # fmt: skip
    for name in ("ada", "lib", "hidden"):  # a link for Walt alone, and for Bob in Olga's own
        owner_token = mock_drive.token if name == "ada" else "olga-link-token"
        if name != "ada":
            server.call(lambda: mock_drive.state.directory.set_token(olga, "olga-link-token"))
        who = "bob" if name == "hidden" else "walt"
        body = {
            "type": "view",
            "scope": "users",
            "recipients": [{"email": f"{who}@contoso.example"}],
        }
        url = f"{mock_drive.graph_url}/drives/{ids[name]['driveId']}/items/{ids[name]['folder']}"
        answer = requests.post(url + "/createLink", json=body, timeout=10,
                               headers={"Authorization": f"Bearer {owner_token}"})  # fmt: skip
        assert answer.status_code == 201, answer.text
        ids[name]["shareId"] = answer.json()["shareId"]

    for client_id, (roles, granted) in APPS.items():
        mock_drive.app(client_id, secret="s", roles=roles, drives=[drives[g] for g in granted])
    world = World(ids, None)
    for name in ("walt", "sam", "twinw", "twinr", "twinlib"):
        world.tokens[f"static:{name}"] = f"{name}-static-token"
        user = users[name]
        server.call(lambda u=user, n=name: mock_drive.state.directory.set_token(
            u, f"{n}-static-token"))  # fmt: skip
    for scope_set in DELEGATED_SETS:
        world.tokens[" ".join(scope_set)] = mock_drive.token_for(walt, scopes=list(scope_set))
    for client_id in APPS:
        world.tokens[client_id] = mock_drive.app_token(client_id)
    for name, drive in drives.items():  # the oracle: does Walt hold anything in the drive?
        paths = ("/", f"/{layout[name]}", f"/{layout[name]}/f.txt", f"/{layout[name]}/Closed")
        world.visible[name] = name == "walt" or any(
            mock_drive.access(walt, p, drive=drive).roles for p in paths if name != "walt"
        )
    assert world.visible == {"ada": True, "lib": True, "hidden": False, "walt": True}
    # the static answers stand on the oracle: on the folder, Walt and the twins read (and
    # write) exactly what access() says
    for name, drive in drives.items():
        for who in ("walt", "twinw", "twinr", "twinlib"):
            access = mock_drive.access(users[who], f"/{layout[name]}", drive=drive)
            url = f"{mock_drive.graph_url}/drives/{drive.id}/items/{ids[name]['folder']}"
            got = requests.get(url, headers={"Authorization": f"Bearer {who}-static-token"},
                               timeout=10).status_code  # fmt: skip
            assert got == (200 if access.can("read") else 404), (who, name, access.explain())
    world.template = server.call(lambda: copy.deepcopy(mock_drive.state))
    return world


def fill(route: Route, ids: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The URL and body of ``route`` on its target."""
    tail = route.path.split("{itemId}", 1)[-1] if "{itemId}" in route.path else ""
    action = tail.strip("/").split("/")[0] if tail else ""
    on_file = action in FILE_ACTIONS or route.path.endswith(("/content", "/versions",
                                                             "{versionId}"))  # fmt: skip
    values = {
        **ids,
        "itemId": ids["file" if on_file else "folder"],
        "itemPath": ids["file_path" if on_file else "path"],
        "groupId": "team-group",
        "siteId": "team-site",
        "specialFolder": "documents",
        "name": ids["path"],
        "versionId": "current",
        "q": "t",
    }
    url = re.sub(r"\{(\w+)\}", lambda m: values[m[1]], route.path)
    if route.method in ("GET", "HEAD", "DELETE"):
        return url, {}
    if url.endswith("/content") or ("/content" in url and route.method == "PUT"):
        return url, {"data": b"new content"}
    last = route.path.rstrip("/").split("/")[-1].strip("{}")
    if last in ("itemId", "itemPath:", "root") or route.path.endswith(":"):
        return url, {"json": BODIES[""]}
    return url, {"json": BODIES.get(last, {})}


def answer(session: requests.Session, base: str, route: Route, url: str, kwargs, token: str):
    response = session.request(route.method, base + url, timeout=10, allow_redirects=False,
                               headers={"Authorization": f"Bearer {token}"}, **kwargs)  # fmt: skip
    code = None
    if response.status_code >= 400 and route.method != "HEAD":
        try:
            code = response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = response.text[:80]
    return response.status_code, code


def operation(route: Route) -> str:
    if route.method in ("GET", "HEAD") or route.path.endswith("/preview"):
        return scopes.READ
    return scopes.WRITE


def delegated_allows(scope_set: tuple[str, ...], op: str, drive_type: str, own: bool) -> bool:
    """The table's delegated rows with the reach rule of docs/identity.md."""
    for name in scope_set:
        allowance = scopes.DELEGATED.get(name)
        if allowance is None or (op == scopes.WRITE and allowance.access != scopes.WRITE):
            continue
        if allowance.reach == scopes.REACHABLE or own or drive_type in ("personal", "business"):
            return True
    return False


def app_reach(client_id: str, target: str) -> tuple[str | None, str]:
    """(the role an app holds on the target drive per the table, the twin that holds it)."""
    roles, granted = APPS[client_id]
    best = None
    for role in roles:
        allowance = scopes.APPLICATION_ROLES.get(role)
        if allowance is None:
            continue
        if allowance.reach == scopes.EVERY or (allowance.reach == scopes.SELECTED
                                                and target in granted):  # fmt: skip
            best = scopes.WRITE if scopes.WRITE in (best, allowance.access) else scopes.READ
    if best is None:
        return None, "sam"
    every = all(scopes.APPLICATION_ROLES[r].reach == scopes.EVERY for r in roles
                if r in scopes.APPLICATION_ROLES)  # fmt: skip
    return best, ("twinw" if best == scopes.WRITE else "twinr") if every else "twinlib"


DENIED = (403, "accessDenied")
DIRECTORY_DENIED = (403, "Authorization_RequestDenied")
ME_APP_ONLY = (400, "BadRequest")


def kind_of(route: Route) -> str:
    path = route.path
    if path in (VERSION + "/me", VERSION + "/users/{userId}"):
        return "user"
    if path.endswith(("/drives", "/drives/")) and "{driveId}" not in path.split("/drives")[-1]:
        return "drives"
    if path.endswith("sharedWithMe"):
        return "sharedWithMe"
    if "/shares/" in path:
        return "shares"
    return "drive"


def expected_delegated(route, scope_set, base, world: World) -> tuple[int, Any]:
    kind, op = kind_of(route), operation(route)
    if kind == "user":
        own = route.path.endswith("/me")  # /users/{userId} names the drive's owner, not Walt
        return base if own or set(scope_set) & scopes.READ_USERS else DIRECTORY_DENIED
    if kind == "drives":
        return base
    if kind == "sharedWithMe":
        return base if set(scope_set) & set(scopes.DELEGATED) else DENIED
    drive_type = "documentLibrary" if route.target == "lib" else "business"
    seen = base[0] != 404 if kind == "shares" else world.visible[route.target]
    if not seen:
        return base
    own = route.target == "walt"
    return base if delegated_allows(scope_set, op, drive_type, own) else DENIED


def expected_app(route, client_id, answers, world: World) -> tuple[int, Any]:
    kind = kind_of(route)
    path = route.path[len(VERSION) :]
    if path == "/me" or path.startswith(("/me/", "/drive/")) or path == "/drive":
        return ME_APP_ONLY
    roles = set(APPS[client_id][0])
    if kind == "user":
        return answers["sam"] if roles & scopes.READ_USERS_APP else DIRECTORY_DENIED
    if kind == "drives":
        return (200, None)
    if kind == "sharedWithMe":
        return DENIED
    role, twin = app_reach(client_id, route.target)
    if role is None:
        return answers["sam"]
    return answers[twin]


def bodiless(route: Route, want: tuple[int, Any]) -> tuple[int, Any]:
    """A HEAD answer has no body, so no error code to compare."""
    return (want[0], None) if route.method == "HEAD" else want


@pytest.fixture(scope="module")
def session():
    with WireSession() as s:  # requests' bytes, cheaper (tests/wire_client.py)
        yield s


@pytest.mark.parametrize("route", ROUTES, ids=[r.id for r in ROUTES])
def test_scopes_and_permissions_together(mock_drive, session, route: Route) -> None:
    world = world_of(mock_drive)
    server, base = mock_drive.server, mock_drive.url
    url, kwargs = fill(route, world.ids[route.target])
    reads = operation(route) == scopes.READ and route.method in ("GET", "HEAD")

    def ask(token_key: str) -> tuple[int, Any]:
        got = answer(session, base, route, url, kwargs, world.tokens[token_key])
        if got[0] < 400 and not reads:  # something changed: the next asks the same state
            server.reset(copy.deepcopy(world.template))
        return got

    answers = {who: ask(f"static:{who}") for who in ("walt", "sam", "twinw", "twinr", "twinlib")}
    wrong = []
    for scope_set in DELEGATED_SETS:
        want = bodiless(route, expected_delegated(route, scope_set, answers["walt"], world))
        got = ask(" ".join(scope_set))
        if got != want:
            wrong.append(f"  Walt with {' '.join(scope_set)}: {got}, expected {want}")
    for client_id in APPS:
        want = bodiless(route, expected_app(route, client_id, answers, world))
        got = ask(client_id)
        if got != want:
            wrong.append(f"  app {client_id} {APPS[client_id]}: {got}, expected {want}")
    assert not wrong, f"{route.method} {url}:\n" + "\n".join(wrong)


def test_the_matrix_covers_every_route_family() -> None:
    """Every operation of the canonical form on every target; every addressing form read and
    written; /shares, sharedWithMe and the directory."""
    from mockdrive.api.graph.routes import ITEM_OPERATIONS

    canonical = {(r.method, r.path[len(CANONICAL) :].lstrip("/")) for r in ROUTES
                 if r.path.startswith(CANONICAL)}  # fmt: skip
    for action, method in ITEM_OPERATIONS:
        assert (method, action) in canonical or action.startswith("action."), (method, action)
    families = {kind_of(r) for r in ROUTES}
    assert families == {"user", "drives", "sharedWithMe", "shares", "drive"}
    assert any("/groups/" in r.path for r in ROUTES) and any("/sites/" in r.path for r in ROUTES)
    assert len({r.target for r in ROUTES}) == 4


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def add_app(mock_drive, client_id: str, roles: list[str], drives: tuple[str, ...] = ()) -> str:
    """Declare an app with these application roles (and ``Sites.Selected`` drives); its
    app-only token."""
    mock_drive.app(client_id, secret="s", roles=roles, drives=drives)
    return mock_drive.app_token(client_id)


def test_a_refusal_by_scope_is_graphs_403_and_changes_nothing(mock_drive) -> None:
    mock_drive.add_file("/Projects/Plan.docx", "plan")
    token = mock_drive.token_for(mock_drive.owner, scopes=["Files.Read"])
    url = f"{mock_drive.graph_url}/me/drive/root:/Projects/Plan.docx"
    before = mock_drive.digest()
    refused = requests.patch(url, json={"name": "x.docx"}, headers=bearer(token), timeout=10)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "accessDenied"
    assert refused.json()["error"]["message"] == "Access denied"
    assert mock_drive.digest() == before
    assert requests.get(url, headers=bearer(token), timeout=10).status_code == 200


def test_scopes_never_widen_what_the_permissions_allow(mock_drive) -> None:
    """Every scope there is, for a user who holds nothing: as missing, read or write."""
    mock_drive.add_file("/Projects/Plan.docx", "plan")
    sam = mock_drive.add_user("Sam Stranger", "sam@contoso.example")
    everything = [*scopes.DELEGATED, *scopes.READ_USERS]
    token = mock_drive.token_for(sam, scopes=everything)
    item = f"{mock_drive.graph_url}/drives/{mock_drive.drive.id}/root:/Projects/Plan.docx"
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"name": "x"}}), ("DELETE", {})):
        got = requests.request(method, item, headers=bearer(token), timeout=10, **kwargs)
        assert got.status_code == 404, (method, got.text)
    walt = mock_drive.add_user("Walt Writer", "walt@contoso.example")
    mock_drive.grant("/Projects", walt, ["read"])
    token = mock_drive.token_for(walt, scopes=everything)
    assert requests.get(item, headers=bearer(token), timeout=10).status_code == 200
    patched = requests.patch(item, json={"name": "x"}, headers=bearer(token), timeout=10)
    assert patched.status_code == 403  # the role, not the scope, refuses
    assert mock_drive.item_json("/Projects/Plan.docx")["name"] == "Plan.docx"


def test_batch_steps_answer_as_alone(mock_drive) -> None:
    """A step re-enters the pipeline: its token's scopes apply as to the request alone."""
    mock_drive.add_file("/Projects/Plan.docx", "plan")
    reader = mock_drive.token_for(mock_drive.owner, scopes=["Files.Read", "User.Read"])
    steps = [
        {"id": "1", "method": "GET", "url": "/me/drive/root:/Projects/Plan.docx"},
        {"id": "2", "method": "PATCH", "url": "/me/drive/root:/Projects/Plan.docx",
         "body": {"name": "x.docx"}, "headers": {"Content-Type": "application/json"}},
        {"id": "3", "method": "GET", "url": "/me"},
    ]  # fmt: skip
    batch = requests.post(f"{mock_drive.graph_url}/$batch", json={"requests": steps},
                          headers=bearer(reader), timeout=10)  # fmt: skip
    statuses = {r["id"]: r["status"] for r in batch.json()["responses"]}
    assert statuses == {"1": 200, "2": 403, "3": 200}
    app = add_app(mock_drive, "batch-app", ["Files.ReadWrite.All"])
    batch = requests.post(f"{mock_drive.graph_url}/$batch", json={"requests": steps},
                          headers=bearer(app), timeout=10)  # fmt: skip
    answers = {r["id"]: r for r in batch.json()["responses"]}
    assert {k: a["status"] for k, a in answers.items()} == {"1": 400, "2": 400, "3": 400}
    assert answers["3"]["body"]["error"]["message"] == scopes.ME_NEEDS_DELEGATED


def test_app_only_on_me_is_graphs_400(mock_drive) -> None:
    token = add_app(mock_drive, "daemon", ["Files.ReadWrite.All", "User.Read.All"])
    for path in ("/me", "/me/drive", "/me/drive/root/children", "/drive/root"):
        got = requests.get(mock_drive.graph_url + path, headers=bearer(token), timeout=10)
        assert got.status_code == 400, path
        error = got.json()["error"]
        assert error["code"] == "BadRequest"
        assert error["message"] == "/me request is only valid with delegated authentication flow."
    owner = requests.get(f"{mock_drive.graph_url}/users/{mock_drive.owner.id}",
                         headers=bearer(token), timeout=10)  # fmt: skip
    assert owner.status_code == 200


def test_an_app_reaches_every_drive_without_holding_anything(mock_drive) -> None:
    """Files.ReadWrite.All app-only: every item of every drive, those behind a stop in
    inheritance too; it writes, uploads and downloads; it holds no permission and is not a
    user of the directory."""
    mock_drive.add_file("/Projects/Private/Notes.txt", "notes")
    mock_drive.stop_inheriting("/Projects/Private")
    olga = mock_drive.add_user("Olga Other", "olga@contoso.example")
    olgas = mock_drive.add_drive(olga, name="Olgas")
    mock_drive.add_file("/O/o.txt", "olga", drive=olgas)
    token = add_app(mock_drive, "backup", ["Files.ReadWrite.All"])
    graph = mock_drive.graph_url
    permissions_before = len(mock_drive.permissions("/Projects/Private"))
    private = requests.get(f"{graph}/drives/{mock_drive.drive.id}/root:/Projects/Private:/children",
                           headers=bearer(token), timeout=10)  # fmt: skip
    assert [c["name"] for c in private.json()["value"]] == ["Notes.txt"]
    content = requests.get(f"{graph}/drives/{olgas.id}/root:/O/o.txt:/content",
                           headers=bearer(token), timeout=10)  # fmt: skip
    assert content.status_code == 200 and content.content == b"olga"  # through its download URL
    session = requests.post(
        f"{graph}/drives/{olgas.id}/root:/O/new.txt:/createUploadSession",
        json={}, headers=bearer(token), timeout=10)  # fmt: skip
    assert session.status_code == 200, session.text
    upload = requests.put(session.json()["uploadUrl"], data=b"hello", timeout=10,
                          headers={"Content-Range": "bytes 0-4/5"})  # fmt: skip
    assert upload.status_code == 201, upload.text
    assert mock_drive.item_json("/O/new.txt", drive=olgas)["size"] == 5
    assert len(mock_drive.permissions("/Projects/Private")) == permissions_before
    app_id = mock_drive.server.call(lambda: mock_drive.state.entra.app("backup").object_id)
    assert mock_drive.state.directory.by_id(app_id) is None
    listed = requests.get(f"{graph}/users/{app_id}", headers=mock_drive.headers(), timeout=10)
    assert listed.status_code == 404


def test_sites_selected_reaches_only_the_granted_drives(mock_drive) -> None:
    olga = mock_drive.add_user("Olga Other", "olga@contoso.example")
    library = mock_drive.add_drive(olga, name="Team", drive_type="documentLibrary")
    mock_drive.add_file("/T/t.txt", "team", drive=library)
    mock_drive.add_file("/Projects/Plan.docx", "plan")
    token = add_app(mock_drive, "selected", ["Sites.Selected"], (library.id,))
    graph = mock_drive.graph_url
    granted = requests.get(f"{graph}/drives/{library.id}/root:/T/t.txt", headers=bearer(token),
                           timeout=10)  # fmt: skip
    assert granted.status_code == 200
    renamed = requests.patch(f"{graph}/drives/{library.id}/root:/T/t.txt", json={"name": "u.txt"},
                             headers=bearer(token), timeout=10)  # fmt: skip
    assert renamed.status_code == 200
    other = requests.get(f"{graph}/drives/{mock_drive.drive.id}/root:/Projects/Plan.docx",
                         headers=bearer(token), timeout=10)  # fmt: skip
    missing = requests.get(f"{graph}/drives/b!{'N' * 40}/root:/Projects/Plan.docx",
                           headers=bearer(token), timeout=10)  # fmt: skip
    assert other.status_code == missing.status_code == 404  # as a drive that does not exist
    assert other.json()["error"]["code"] == missing.json()["error"]["code"] == "itemNotFound"


def test_an_apps_upload_session_survives_export_and_load(mock_drive) -> None:
    """The session's owner is the app: found again after a reload, never as a user."""
    token = add_app(mock_drive, "uploader", ["Files.ReadWrite.All"])
    session = requests.post(
        f"{mock_drive.graph_url}/drives/{mock_drive.drive.id}/root:/new.txt:/createUploadSession",
        json={},
        headers=bearer(token),
        timeout=10,
    )
    assert session.status_code == 200, session.text
    mock_drive.load(mock_drive.export())
    upload = requests.put(session.json()["uploadUrl"], data=b"hello", timeout=10,
                          headers={"Content-Range": "bytes 0-4/5"})  # fmt: skip
    assert upload.status_code == 201, upload.text
    assert mock_drive.item_json("/new.txt")["size"] == 5


def test_a_copy_needs_the_scope_of_the_drive_it_writes_into(mock_drive) -> None:
    """Copying from a OneDrive into a document library writes the library: Files.ReadWrite
    reads the source but may not write there; Files.ReadWrite.All may."""
    mock_drive.add_file("/Projects/Plan.docx", "plan")
    walt = mock_drive.add_user("Walt Writer", "walt@contoso.example")
    olga = mock_drive.add_user("Olga Other", "olga@contoso.example")
    library = mock_drive.add_drive(olga, name="Team", drive_type="documentLibrary")
    mock_drive.add_folder("/Team", drive=library)
    mock_drive.grant("/Projects", walt, ["write"])
    mock_drive.grant("/Team", walt, ["write"], drive=library)
    team = mock_drive.item("/Team", drive=library)
    url = f"{mock_drive.graph_url}/drives/{mock_drive.drive.id}/root:/Projects/Plan.docx:/copy"
    body = {"parentReference": {"driveId": library.id, "id": team.id}}
    narrow = mock_drive.token_for(walt, scopes=["Files.ReadWrite"])
    refused = requests.post(url, json=body, headers=bearer(narrow), timeout=10)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "accessDenied"
    beside = requests.post(url, json={"name": "Copy.docx"}, headers=bearer(narrow), timeout=10)
    assert beside.status_code == 202  # within the OneDrive: its scope suffices
    wide = mock_drive.token_for(walt, scopes=["Files.ReadWrite.All"])
    copied = requests.post(url, json=body, headers=bearer(wide), timeout=10)
    assert copied.status_code == 202, copied.text
    assert mock_drive.item_json("/Team/Plan.docx", drive=library)["size"] == 4


# -- the table's reading, kept per set of scopes, against the table read in full -----------------
def allows_as_read_in_full(names: frozenset[str], operation: str, in_reach: bool) -> bool:
    """``scopes.allows`` for a delegated token, as it read the table before it kept each set's
    widest reaches: any scope of the access asked for whose reach covers the drive."""
    for name in names:
        allowance = scopes.DELEGATED.get(name)
        if allowance is None or (operation == scopes.WRITE and allowance.access != scopes.WRITE):
            continue
        if allowance.reach == scopes.REACHABLE or in_reach:
            return True
    return False


@given(
    names=st.frozensets(st.sampled_from([*scopes.DELEGATED, "User.Read", "openid", "Mail.Read"])),
    operation=st.sampled_from([scopes.READ, scopes.WRITE]),
    own=st.booleans(),
    drive_type=st.sampled_from(["personal", "business", "documentLibrary"]),
)
def test_the_kept_reaches_allow_what_the_whole_table_allows(names, operation, own, drive_type):
    caller = types.SimpleNamespace(id="walt", app=None)
    drive = types.SimpleNamespace(owner_id="walt" if own else "olga", drive_type=drive_type)
    principal = types.SimpleNamespace(kind="delegated", scopes=names, roles=frozenset())
    in_reach = own or drive_type in scopes.ONEDRIVE_TYPES
    expected = allows_as_read_in_full(names, operation, in_reach)
    assert scopes.allows(principal, operation, drive, caller) is expected
    assert scopes.allows(principal, operation, drive, caller) is expected  # now from the kept
