"""Attacks on what a state forgets when a permission goes (its sharing times, link token,
deadlines, Onehub's memory of it) and on the clock's heap, rebuilt without the deadlines that
cannot stand: a rebuilt heap must withdraw what one never rebuilt withdraws, in the same order
(a seeded differential on ``Expirations`` alone, and one over HTTP on two runs of a server);
whatever a withdrawal leaves must not grow for ever; a refusal must not withdraw anything."""

from __future__ import annotations

import base64
import copy
import heapq
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any
from unittest.mock import patch

import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mockdrive.model import clock
from mockdrive.model.clock import COMPACT_FROM
from mockdrive.model.errors import DomainError
from mockdrive.model.state import State
from mockdrive.scenario.defaults import default_state

SHARING = {"Prefer": "deltashowsharingchanges"}


def ok(response) -> dict:
    assert response.status_code < 300, response.text
    return response.json() if response.content else {}


def at(today: datetime, hours: int) -> str:
    return (today + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def delta_names(graph, link: str) -> tuple[list[str], str]:
    names, url = [], link
    while True:
        page = ok(graph.get(url, headers=SHARING))
        names += [entry.get("name") for entry in page["value"]]
        if "@odata.nextLink" not in page:
            return names, page["@odata.deltaLink"]
        url = page["@odata.nextLink"]


def run_late_expiry(mock_drive, graph, rebuild: bool) -> list[str]:
    for name in ("a.txt", "b.txt", "c.txt"):
        ok(graph.put(f"/me/drive/root:/{name}:/content", data=b"x"))
    today = mock_drive.clock.now()
    links = {}
    for name in ("a.txt", "b.txt", "c.txt"):
        links[name] = ok(graph.post(f"/me/drive/root:/{name}:/createLink",
                                    json={"type": "view", "scope": "anonymous"}))  # fmt: skip

    def expire(name: str, hours: int) -> None:
        ok(graph.patch(f"/me/drive/root:/{name}:/permissions/{links[name]['id']}",
                       json={"expirationDateTime": at(today, hours)}))  # fmt: skip

    expire("a.txt", 24)
    expire("a.txt", 72)  # a's deadline moves after b's
    expire("b.txt", 48)
    if rebuild:  # c's deadline replaced until the heap is rebuilt
        for n in range(2 * COMPACT_FROM):
            expire("c.txt", 100 + n)
    _, link = delta_names(graph, "/me/drive/root/delta")
    mock_drive.clock.advance(days=3, hours=1)
    names, _ = delta_names(graph, link)
    return [name for name in names if name in ("a.txt", "b.txt")]


def test_a_link_whose_expiry_moved_later_expires_after_one_due_before_it(mock_drive, graph):
    """The deadline a's expiration moved away from must not withdraw a at its own place in the
    sweep (before b), as a heap that kept it did, and a rebuilt or reloaded one did not."""
    assert run_late_expiry(mock_drive, graph, rebuild=False) == ["b.txt", "a.txt"]


def test_rebuilt_heap_expires_in_the_same_order(mock_drive, graph):
    """The same, once a rebuild dropped a's replaced deadline."""
    assert run_late_expiry(mock_drive, graph, rebuild=True) == ["b.txt", "a.txt"]


# -- the heap's rebuild against a heap that never rebuilds ---------------------------------------
KINDS = ("permission", "invitation")
KEYS = [("item", str(n)) for n in range(6)]
EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
MOMENTS = st.integers(0, 40).map(lambda hours: EPOCH + timedelta(hours=hours))
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("schedule"), MOMENTS, st.sampled_from(KINDS), st.sampled_from(KEYS)),
        st.tuples(st.just("unset"), st.sampled_from(KINDS), st.sampled_from(KEYS)),
        st.tuples(st.just("gone"), st.sampled_from(KEYS)),
        st.tuples(st.just("sweep"), st.integers(0, 6)),
        st.just(("copy",)),
    ),
    max_size=60,
)


ALWAYS, NEVER = -(10**9), 10**9  # COMPACT_FROM: the heap is rebuilt at every schedule, or never


class ReferenceHeap:
    """Every deadline ever scheduled stays until due: what ``Expirations`` did before it
    dropped any (the same order: by time, kind, key)."""

    def __init__(self) -> None:
        self.heap: list[tuple[datetime, str, tuple[str, ...]]] = []
        self.handlers: dict[str, Callable[[tuple[str, ...], datetime], bool]] = {}
        self.live: dict[str, Callable[[tuple[str, ...], datetime], bool]] = {}

    def schedule(self, when: datetime, kind: str, *key: str) -> None:
        heapq.heappush(self.heap, (when, kind, key))

    def withdraw(self, *key: str) -> None:
        pass

    def sweep(self, now: datetime) -> int:
        fired = 0
        while self.heap and self.heap[0][0] <= now:
            when, kind, key = heapq.heappop(self.heap)
            fired += self.handlers[kind](key, when)
        return fired

    def pending(self) -> int:
        return len({entry for entry in self.heap if self.live[entry[1]](entry[2], entry[0])})


class World:
    """The things the deadlines stand for: (kind, key) -> the deadline each has now. A
    handler withdraws a thing when its deadline stands (as model/links.py's do), and the
    thing's other deadlines go with it (as ``State._forget`` tells ``withdraw``)."""

    def __init__(self, deadlines: Any) -> None:
        self.deadlines = deadlines
        self.things: dict[tuple[str, tuple[str, ...]], datetime] = {}
        self.withdrawn: list[tuple[str, tuple[str, ...]]] = []
        self.install()

    def install(self) -> None:
        for kind in KINDS:
            self.deadlines.live[kind] = partial(self.stands, kind)
            self.deadlines.handlers[kind] = partial(self.due, kind)

    def stands(self, kind: str, key: tuple[str, ...], when: datetime) -> bool:
        return self.things.get((kind, key)) == when

    def due(self, kind: str, key: tuple[str, ...], when: datetime) -> bool:
        if not self.stands(kind, key, when):
            return False
        self.withdrawn.append((kind, key))
        self.gone(key)
        return True

    def gone(self, key: tuple[str, ...]) -> None:
        for kind in KINDS:
            self.things.pop((kind, key), None)
        self.deadlines.withdraw(*key)

    def apply(self, operation: tuple[Any, ...], now: datetime) -> Any:
        name, *rest = operation
        if name == "schedule":
            when, kind, key = rest
            self.things[(kind, key)] = when
            self.deadlines.schedule(when, kind, *key)
        elif name == "unset":
            self.things.pop(tuple(rest), None)  # type: ignore[arg-type]
        elif name == "gone":
            self.gone(rest[0])
        elif name == "sweep":
            return self.deadlines.sweep(now)
        elif name == "copy":  # a state's copy: the copy goes on in its place
            self.deadlines = copy.deepcopy(self.deadlines)
            self.install()
        return None


@settings(max_examples=400, deadline=None, derandomize=True)
@given(OPERATIONS)
def test_a_rebuilt_heap_withdraws_what_a_heap_never_rebuilt_withdraws(operations):
    with patch.object(clock, "COMPACT_FROM", ALWAYS):
        rebuilt, reference = World(clock.Expirations()), World(ReferenceHeap())
        now = EPOCH
        for operation in operations:
            if operation[0] == "sweep":
                now += timedelta(hours=operation[1])
            assert rebuilt.apply(operation, now) == reference.apply(operation, now), operation
            assert rebuilt.withdrawn == reference.withdrawn
            assert rebuilt.deadlines.pending() == reference.deadlines.pending()
            heap = rebuilt.deadlines
            if operation[0] == "schedule":  # rebuilt: one deadline at most of each that stands
                assert len(heap) <= len(heap.latest), "the heap was not rebuilt"


# -- over HTTP: a server whose heap is rebuilt as often as it may be, against one never rebuilt ---
PINNED = "2024-01-01T00:00:00Z"
OWNER, BOB, CAROL = "ada-token", "bob-token", "carol-token"
ITEMS = ["/F", "/F/a.txt", "/F/Sub", "/G", "/G/b.txt", "/F/Sub/c.txt"]
ADDRESSES = ["bob@contoso.example", "carol@contoso.example", "eve@outside.example"]
HOURS = st.none() | st.sampled_from([1, 20, 30, 24 * 40])
HTTP_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("invite"), st.sampled_from(ITEMS), st.sampled_from(ADDRESSES), HOURS),
        st.tuples(
            st.just("link"),
            st.sampled_from(ITEMS),
            st.sampled_from(["anonymous", "organization", "users"]),
            HOURS,
        ),
        st.tuples(st.just("expire"), st.sampled_from(ITEMS), st.integers(0, 3), HOURS),
        st.tuples(st.just("unshare"), st.sampled_from(ITEMS), st.integers(0, 3)),
        st.tuples(st.just("delete"), st.sampled_from(ITEMS)),
        st.tuples(st.just("replace"), st.sampled_from(ITEMS)),
        st.tuples(st.just("upload"), st.sampled_from(["/F/a.txt", "/G/b.txt"])),
        st.tuples(st.just("redeem"), st.sampled_from([BOB, CAROL, None]), st.integers(0, 3)),
        st.tuples(st.just("clock"), st.sampled_from([1, 10, 25, 24 * 41, 24 * 91])),
        st.tuples(st.just("look"), st.sampled_from([OWNER, BOB, CAROL])),
        st.tuples(
            st.just("grant"), st.sampled_from(ITEMS), st.integers(0, 3), st.sampled_from(ADDRESSES)
        ),
        st.tuples(st.just("onehub"), st.sampled_from(ITEMS), st.sampled_from(ADDRESSES)),
        st.tuples(st.just("rolemap"), st.sampled_from(ITEMS), st.integers(0, 3)),
    ),
    min_size=1,
    max_size=14,
)
SIGNED = re.compile(r"(/download/[A-Za-z0-9._-]*\.)[0-9a-f]{24}")
DELTA_TOKEN = re.compile(r"(delta\?token=)[A-Za-z0-9_-]+")  # it names the server's reset too


def http_initial_state() -> State:
    """Ada's drive: /F/a.txt, /F/Sub/c.txt, /G/b.txt; Bob and Carol are members."""
    state = default_state(OWNER)
    owner = next(iter(state.directory.users.values()))
    for name, token in (("Bob", BOB), ("Carol", CAROL)):
        state.add_user(name, f"{name.lower()}@contoso.example", token=token)
    root = state.store.root(next(iter(state.store.drives.values())))
    for path in ("/F/a.txt", "/F/Sub/c.txt", "/G/b.txt"):
        state.upload(owner, root, path, path.encode())
    return state


class Recorder:
    """One run of the operations on ``server``: every answer, normalised."""

    def __init__(self, server: Any) -> None:
        self.server, self.answers = server, []
        self.session = requests.Session()
        self.links: list[str] = []

    def send(self, method: str, path: str, token: str | None = OWNER, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = path if path.startswith("http") else self.server.url + path
        response = self.session.request(method, url, headers=headers, timeout=30, **kwargs)
        assert response.status_code < 500, f"{method} {path}: {response.text}"
        text = SIGNED.sub(r"\1SIGNED", response.text.replace(self.server.url, "ORIGIN"))
        text = DELTA_TOKEN.sub(r"\1TOKEN", text)
        body = json.loads(text) if text.startswith(("{", "[")) else text
        if isinstance(body, dict):
            body.pop("request-id", None)
            body.pop("stateId", None)  # the server's resets
            body.get("changes", {}).pop("generation", None)
            body.get("error", {}).get("innerError", {}).pop("request-id", None)
        self.answers.append((method, path, response.status_code, body))
        return body if response.status_code < 300 else None

    def node(self, path: str) -> str:
        """The item's Onehub path (its number is given on first sight: both runs alike)."""
        found = self.server.call(lambda: _onehub_node(self.server.state, path))
        return "/folders/0" if found is None else found

    def own(self, path: str, links_only: bool = False) -> list[str]:
        listed = self.send("GET", f"{item(path)}/permissions") or {"value": []}
        return [p["id"] for p in listed["value"]
                if "inheritedFrom" not in p and "owner" not in p["roles"]
                and (not links_only or "link" in p)]  # fmt: skip

    def do(self, operation: tuple[Any, ...]) -> None:
        name, *args = operation
        if name == "invite":
            path, address, hours = args
            body = {"recipients": [{"email": address}], "roles": ["read"],
                    "sendInvitation": False}  # fmt: skip
            if hours is not None:
                body["expirationDateTime"] = later(hours)
            self.send("POST", f"{item(path)}/invite", json=body)
        elif name == "link":
            path, scope, hours = args
            body = {"type": "view", "scope": scope}
            if scope == "users":
                body["recipients"] = [{"email": ADDRESSES[len(self.links) % 2]}]
            if hours is not None:
                body["expirationDateTime"] = later(hours)
            made = self.send("POST", f"{item(path)}/createLink", json=body)
            if made is not None:
                self.links.append(made["link"]["webUrl"])
        elif name == "expire":
            path, index, hours = args
            own = self.own(path, links_only=True)
            if own:
                change = {"expirationDateTime": None if hours is None else later(hours)}
                chosen = own[index % len(own)]
                self.send("PATCH", f"{item(path)}/permissions/{chosen}", json=change)
        elif name == "unshare":
            path, index = args
            own = self.own(path)
            if own:
                self.send("DELETE", f"{item(path)}/permissions/{own[index % len(own)]}")
        elif name == "delete":
            self.send("DELETE", item(args[0]))
        elif name == "replace":  # a new item takes the place (and the name) of the old one
            parent, _, leaf = args[0].rpartition("/")
            body = {"name": leaf, "@microsoft.graph.conflictBehavior": "replace"}
            body["file" if "." in leaf else "folder"] = {}
            self.send("POST", f"{item(parent or '/')}/children", json=body)
        elif name == "upload":  # new content: the same item
            self.send("PUT", f"{item(args[0])}/content", data=b"new")
        elif name == "redeem":
            who, index = args
            if self.links:
                share = "u!" + base64.urlsafe_b64encode(
                    self.links[index % len(self.links)].encode()
                ).decode().rstrip("=")
                self.send("GET", f"/v1.0/shares/{share}/driveItem", who,
                          headers={"Prefer": "redeemSharingLink"})  # fmt: skip
        elif name == "clock":
            self.send("POST", "/_mockdrive/clock", None, json={"hours": args[0]})
        elif name == "grant":  # members added to a link
            path, index, address = args
            own = self.own(path, links_only=True)
            if own:
                body = {"recipients": [{"email": address}], "roles": ["read"]}
                chosen = own[index % len(own)]
                self.send("POST", f"{item(path)}/permissions/{chosen}/grant", json=body)
        elif name == "onehub":
            path, address = args
            invitation = {"emails": address, "role_name": "Viewer"}
            self.send("POST", f"{self.node(path)}/invitations", json={"invitation": invitation})
        elif name == "rolemap":  # Onehub lists an item's rolemaps and revokes one
            path, index = args
            listed = self.send("GET", f"{self.node(path)}/rolemaps") or {"items": []}
            numbers = [entry["rolemap"]["id"] for entry in listed["items"]]  # the owner's: refused
            if numbers:
                self.send("DELETE", f"/rolemaps/{numbers[index % len(numbers)]}")
        elif name == "look":
            self.send("GET", "/v1.0/me/drive/sharedWithMe", args[0])
            self.send("GET", "/v1.0/me/drive/root/delta", OWNER, headers=SHARING)

    def finish(self) -> None:
        self.send("GET", "/_mockdrive/clock", None)
        self.send("GET", "/_mockdrive/dashboard/overview", None)
        self.send("GET", "/_mockdrive/state", None)
        for who in (BOB, CAROL):
            self.send("GET", "/v1.0/me/drive/sharedWithMe", who)


def _onehub_node(state: State, path: str) -> str | None:
    store = state.store
    try:
        found = store.resolve(store.root(next(iter(store.drives.values()))), path)
    except DomainError:
        return None
    kind = "folders" if found.is_folder else "files"
    return f"/{kind}/{state.onehub.number('node', found.id)}"


def item(path: str) -> str:
    return "/v1.0/me/drive/root" + ("" if path == "/" else f":{path}:")


def later(hours: int) -> str:
    return at(datetime(2024, 1, 1, tzinfo=timezone.utc), hours)


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(HTTP_OPERATIONS)
@example([  # a's deadline moves past b's, and one advance passes both
    ("link", "/F/a.txt", "anonymous", 1), ("link", "/G/b.txt", "organization", 20),
    ("expire", "/F/a.txt", 0, 30), ("clock", 24 * 41), ("look", BOB),
])  # fmt: skip
def test_a_server_whose_heap_is_rebuilt_answers_as_one_whose_heap_never_is(
    worker_server, operations
):
    runs = []
    for compact_from in (ALWAYS, NEVER):
        with patch.object(clock, "COMPACT_FROM", compact_from):
            server = worker_server(http_initial_state(), clock=PINNED)
            run = Recorder(server)
            for operation in operations:
                run.do(operation)
                run.send("POST", "/_mockdrive/clock", None, json={"seconds": 1})
            run.finish()
            runs.append(run.answers)
    for rebuilt, never in zip(*runs, strict=True):
        assert rebuilt == never, f"after {operations}"


# -- Onehub's rolemaps -------------------------------------------------------------------------
def test_rolemaps_listed_then_withdrawn_are_not_kept(mock_drive, graph):
    """Onehub keeps every rolemap it rendered to find it again by its number: one withdrawn
    (through Graph, Onehub or its item's deletion) must not stay there for ever."""
    ok(graph.post("/me/drive/root/children", json={"name": "Shared", "folder": {}}))
    headers = {"Authorization": f"Bearer {mock_drive.token}", "Accept": "application/json"}

    def onehub(method: str, path: str, **kwargs: Any) -> dict:
        answer = requests.request(method, mock_drive.url + path, headers=headers, timeout=10,
                                  **kwargs)  # fmt: skip
        return ok(answer)

    def kept() -> int:
        return mock_drive.server.call(lambda: len(mock_drive.state.onehub.rolemaps))

    folder = mock_drive.onehub_id("/Shared")
    before = kept()
    for n in range(30):
        invitation = {"emails": f"guest{n}@fabrikam.example", "role_name": "Viewer"}
        onehub("POST", f"/folders/{folder}/invitations", json={"invitation": invitation})
        listed = onehub("GET", f"/folders/{folder}/rolemaps")["items"]
        guest = next(r["rolemap"] for r in listed if r["rolemap"]["state"] == "pending")
        if n % 3 == 0:
            onehub("DELETE", f"/rolemaps/{guest['id']}")
        elif n % 3 == 1:
            own = ok(graph.get("/me/drive/root:/Shared:/permissions"))["value"]
            invited = next(p for p in own if "owner" not in p["roles"])
            ok(graph.delete(f"/me/drive/root:/Shared:/permissions/{invited['id']}"))
        else:
            ok(graph.delete("/me/drive/root:/Shared:"))
            ok(graph.post("/me/drive/root/children", json={"name": "Shared", "folder": {}}))
            folder = mock_drive.onehub_id("/Shared")
    assert kept() <= before + 2, "withdrawn rolemaps are kept"


# -- one permission id, one permission -----------------------------------------------------------
def test_a_state_giving_one_permission_id_to_two_grants_is_refused(mock_drive, graph):
    """When a permission was shared and its Onehub number are kept by its id: two grants of one
    id would share them, and withdrawing one (its item deleted) would take the other's sharing
    time, so the other's invitation would never expire."""
    for name in ("a.txt", "b.txt"):
        ok(graph.put(f"/me/drive/root:/{name}:/content", data=name.encode()))
        ok(graph.post(f"/me/drive/root:/{name}:/invite", json={
            "recipients": [{"email": "eve@outside.example"}], "roles": ["read"],
        }))  # fmt: skip
    exported = requests.get(f"{mock_drive.url}/_mockdrive/state", timeout=10).json()
    for child in exported["drives"][0]["root"]["children"]:
        for permission in child.get("permissions", []):
            if "email" in permission:
                permission["id"] = "P1"
    loaded = requests.put(f"{mock_drive.url}/_mockdrive/state", json=exported, timeout=10)
    assert loaded.status_code == 400, loaded.text
    assert "duplicate permission id 'P1'" in loaded.json()["error"]["message"]


# -- a refused replace -----------------------------------------------------------------------------
def test_a_replace_refused_for_its_path_length_keeps_the_item_and_its_link(mock_drive, graph):
    """``ß`` and ``SS`` are one name to the folder (case-folded), but ``SS`` is longer: a create
    that would replace the shared folder and is refused for the new path's length must leave
    the folder, and its link, as they were."""
    deep = "f" * 250
    ok(graph.post("/me/drive/root/children", json={"name": deep, "folder": {}}))
    old = ok(
        graph.post(f"/me/drive/root:/{deep}:/children", json={"name": "ß" * 100, "folder": {}})
    )
    link = ok(graph.post(f"/me/drive/items/{old['id']}/createLink",
                         json={"type": "view", "scope": "anonymous"}))  # fmt: skip
    body = {"name": "SS" * 100, "folder": {}, "@microsoft.graph.conflictBehavior": "replace"}
    refused = graph.post(f"/me/drive/root:/{deep}:/children", json=body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["innerError"]["code"] == "pathIsTooLong"
    assert ok(graph.get(f"/me/drive/items/{old['id']}"))["name"] == "ß" * 100
    share = "u!" + base64.urlsafe_b64encode(link["link"]["webUrl"].encode()).decode().rstrip("=")
    assert ok(graph.get(f"/shares/{share}/driveItem"))["id"] == old["id"]
