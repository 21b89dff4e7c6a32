"""Stateful property test over HTTP, against real mockdrive servers on loopback.

Random sequences of Graph creates, uploads, deletes, invites, permission PATCHes and DELETEs
(``retainInheritedPermissions: false`` breaks inheritance), Onehub invitations, rolemap changes
and acceptances, new workspaces, state exports, reloads (``GET`` → ``PUT /_mockdrive/state``)
and resets, as the tenant's members (``stateful_support.MEMBERS``).

After every step, on every live server: no answer was a 5xx; the model invariants of
``stateful_support.check_state`` hold on the server's state; for a sample of items and every
member, what the oracle (``mockdrive.testing.oracle.access``, the naive Onehub recomputation) says
equals what the API allows (Graph read: ``GET`` item; Graph write: a ``PATCH`` of a permission
that does not exist answers 404 to a writer and 403 to a reader; Onehub: ``GET`` the node).
A reload loads the primary's export into a second server (the twin): the twin's export must be
byte-identical, and from then on every request goes to both and must get the same answer
(the differential test).

CI runs a quick seeded set; the long run (random seeds, the machine with every switch on) is::

    MOCKDRIVE_STATEFUL_EXAMPLES=10000 \\
        .venv/bin/pytest -p no:xdist -s tests/test_stateful_http.py -k full
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from stateful_support import (
    ADDRESSES,
    BAD_ROLES,
    GRAPH_ROLES,
    TOKENS,
    Canon,
    RunStats,
    check_state,
    contents,
    differences,
    initial_state,
    machine_settings,
    naive_onehub_role,
    names,
    pick,
    sample_items,
)
from url_check import RuleChecker
from wire_client import WireSession

from mockdrive.model import onehub
from mockdrive.model.tree import Item
from mockdrive.server import MockDrive
from mockdrive.testing.oracle import access

PINNED = "2024-01-01T00:00:00Z"  # these tests compare exports: the clock must not follow the wall

INDEX = st.integers(min_value=0, max_value=10_000)
CALLER = st.just(0) | INDEX  # the owner half the time, or most requests are refusals
CONFLICTS = st.sampled_from(["fail", "replace", "rename", "bogus"])
ONEHUB_ROLES = st.sampled_from([*onehub.ROLES, "moderator", "Owner", ""])
SAFE_DEPTH = 150
PATH_LIMIT_DEPTH = 200
PROBED_ITEMS = 2
# Fields that differ between a state and its reload by design of the export (times, versions,
# Onehub's numbers): compared only with ``fidelity`` on.
VOLATILE = {
    "createdDateTime",
    "lastModifiedDateTime",
    "eTag",
    "cTag",
    "date",
    "request-id",
    "created_at",
    "updated_at",
    "activated_at",
    "id",
    "user_id",
    "workspace_id",
    "owner_id",
    "root_folder_id",
    "ancestor_ids",
    "invited_emails",
}


class Server:
    """One live server and a session to it."""

    def __init__(self) -> None:
        self.checker = RuleChecker()  # refusals change nothing; URLs handed out work
        self.checker.start_test()
        self.server = MockDrive(
            initial_state(),
            state_factory=initial_state,
            middlewares=[self.checker.middleware],
            clock=PINNED,
        ).start()
        # requests' bytes through http.client: a third of the client's CPU (tests/wire_client.py)
        self.session = WireSession()

    @property
    def state(self):
        return self.server.state

    def call(self, fn):
        return self.server.call(fn)

    def send(self, method: str, path: str, token: str | None = None, **kwargs: Any):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.session.request(
            method, self.server.url + path, headers=headers, timeout=60, **kwargs
        )
        assert response.status_code < 500, (
            f"{method} {path} answered {response.status_code}: {response.text[:500]}"
        )
        assert not self.checker.failures, self.checker.failures
        return response

    def stop(self) -> list[str]:
        """Stop; what the rule checker found when following the URLs handed out."""
        self.session.close()
        self.server.stop()
        failures = self.checker.finish_test()
        self.checker.stop()
        return failures


@pytest.fixture(scope="module")
def servers() -> Iterator[list[Server]]:
    started = [Server(), Server()]
    HttpMachine.servers = started
    yield started
    failures = [failure for server in started for failure in server.stop()]
    assert failures == []


ItemKey = tuple[int, tuple[str, ...]]


def encode(name: str) -> str:
    return quote(name.encode("utf-8", "surrogatepass"), safe="")


DOWNLOAD_URL = "@microsoft.graph.downloadUrl"


def normalise(data: Any, fidelity: bool) -> Any:
    """``data`` without what a reload does not keep today (unless ``fidelity``): the VOLATILE
    fields and the spelling of e-mail addresses."""
    if isinstance(data, str) and not fidelity and "@" in data:
        return data.casefold()
    if isinstance(data, dict):
        return {
            # a download URL names its server (the twin listens on another port) and is signed
            # for it: that it is there is what both twins must agree on
            k: "<download url>" if k == DOWNLOAD_URL else normalise(v, fidelity)
            for k, v in data.items()
            if fidelity or k not in VOLATILE
        }
    if isinstance(data, list):
        return [normalise(v, fidelity) for v in data]
    return data


class HttpMachine(RuleBasedStateMachine):
    servers: list[Server] = []
    hostile = False  # surrogates, C1 controls, noncharacters
    to_the_limit = False  # trees deeper than 150
    fidelity = False  # times, eTags, Onehub numbers, spellings
    access_denied_rolemaps = False  # an Access Denied rolemap does not export
    owner_check = False  # the drive owner keeps write everywhere
    stats = RunStats()

    def __init__(self) -> None:
        super().__init__()
        self.stats["sequences"] += 1
        self.primary, self.twin = self.servers
        self.primary.send("POST", "/_mockdrive/reset")
        self.twin_live = False
        self.seq = 0

    @property
    def live(self) -> list[Server]:
        return [self.primary, self.twin] if self.twin_live else [self.primary]

    # -- addressing ---------------------------------------------------------------------------
    def item_key(self, index: int) -> ItemKey:
        def find() -> ItemKey:
            state = self.primary.state
            items = sorted(state.store.items.values(), key=lambda i: (i.drive_id, i.depth, i.id))
            item = pick(items, index)
            names_up = [item.name] if item.parent_id else []
            names_up += [a.name for a in state.store.ancestors(item) if a.parent_id]
            return list(state.store.drives).index(item.drive_id), tuple(reversed(names_up))

        return self.primary.call(find)

    @staticmethod
    def graph_path(server: Server, key: ItemKey, extra: tuple[str, ...] = ()) -> str:
        drive_id = server.call(lambda: list(server.state.store.drives)[key[0]])
        names_ = key[1] + extra
        base = f"/v1.0/drives/{drive_id}/root"
        return base + (":/" + "/".join(encode(n) for n in names_) + ":" if names_ else "")

    @staticmethod
    def resolve(server: Server, key: ItemKey) -> Item | None:
        def find() -> Item | None:
            state = server.state
            item = state.store.root(list(state.store.drives.values())[key[0]])
            for name in key[1]:
                item = state.store.child(item, name)
                if item is None:
                    return None
            return item

        return server.call(find)

    def onehub_path(self, server: Server, key: ItemKey) -> str:
        def number() -> str:
            item = self.resolve(server, key)
            if item.parent_id is None:
                drive = server.state.store.drives[item.drive_id]
                return f"/workspaces/{server.state.onehub.number('workspace', drive.id)}"
            kind = "folders" if item.is_folder else "files"
            return f"/{kind}/{server.state.onehub.number('node', item.id)}"

        return server.call(number)

    def send_all(self, build) -> None:
        """``build(server)`` → (method, path, token, kwargs) for each live server; the answers
        must agree (status and, normalised, body)."""
        answers = []
        for server in self.live:
            method, path, token, kwargs = build(server)
            response = server.send(method, path, token, **kwargs)
            self.stats["operations"] += 1
            self.stats["refused"] += response.status_code >= 400
            # each twin names itself in absolute URLs (``@odata.context``, ``webUrl`` of a
            # link): the origin is where they may differ, nothing after it
            text = response.text.replace(server.server.url, "<origin>")
            try:
                body: Any = json.loads(text)
            except ValueError:
                body = text
            answers.append(
                json.dumps(
                    [response.status_code, Canon()(normalise(body, self.fidelity))],
                    sort_keys=True,
                    ensure_ascii=False,
                )
            )
        if len(answers) == 2:
            assert answers[0] == answers[1], (
                f"the reloaded twin answers differently: {differences(answers[0], answers[1])}"
            )

    # -- Graph --------------------------------------------------------------------------------
    @rule(who=CALLER, parent=INDEX, name=names(True), conflict=CONFLICTS)
    def create_folder(self, who: int, parent: int, name: str, conflict: str) -> None:
        self._create_folder(who, parent, name, conflict)

    def _create_folder(self, who: int, parent: int, name: str, conflict: str) -> None:
        key = self.item_key(parent)
        body = {"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": conflict}
        data = json.dumps(body)  # ASCII escapes: a lone surrogate travels as \\ud800
        headers = {"Content-Type": "application/json"}
        self.send_all(
            lambda s: (
                "POST",
                self.graph_path(s, key) + "/children",
                pick(TOKENS, who),
                {"data": data, "headers": dict(headers)},
            )
        )

    @rule(
        who=CALLER,
        parent=INDEX,
        path=st.lists(names(True), min_size=1, max_size=3),
        content=contents(True),
        conflict=CONFLICTS,
    )
    def upload(self, who: int, parent: int, path: list[str], content: bytes, conflict: str):
        self._upload(who, parent, path, content, conflict)

    def _upload(self, who: int, parent: int, path: list[str], content: bytes, conflict: str):
        key = self.item_key(parent)
        query = f"?@microsoft.graph.conflictBehavior={conflict}"
        self.send_all(
            lambda s: (
                "PUT",
                self.graph_path(s, key, tuple(path)) + "/content" + query,
                pick(TOKENS, who),
                {"data": content},
            )
        )

    @precondition(lambda self: self.primary.call(lambda: len(self.primary.state.store.items)) < 400)
    @rule(depth=st.integers(1, 8) | st.integers(1, SAFE_DEPTH))
    def deepen(self, depth: int) -> None:
        self._upload(0, 0, ["d"] * depth + ["leaf.txt"], b"deep", "rename")

    @rule(who=CALLER, victim=INDEX)
    def delete(self, who: int, victim: int) -> None:
        key = self.item_key(victim)
        self.send_all(lambda s: ("DELETE", self.graph_path(s, key), pick(TOKENS, who), {}))

    @rule(
        who=CALLER,
        victim=INDEX,
        recipients=st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=3),
        roles=st.lists(st.sampled_from(GRAPH_ROLES + BAD_ROLES), min_size=1, max_size=2),
        retain=st.booleans(),
        send_invitation=st.booleans(),
    )
    def invite(self, who, victim, recipients, roles, retain, send_invitation) -> None:
        key = self.item_key(victim)
        body = {
            "recipients": [{"email": r} for r in recipients],
            "roles": roles,
            "retainInheritedPermissions": retain,
            "sendInvitation": send_invitation,
            "requireSignIn": True,
        }
        self.send_all(
            lambda s: (
                "POST",
                self.graph_path(s, key) + "/invite",
                pick(TOKENS, who),
                {"json": body},
            )
        )

    def permission_id(self, server: Server, key: ItemKey, which: int) -> str:
        """The ``which``-th permission the owner sees on the item (own and inherited)."""
        response = server.send("GET", self.graph_path(server, key) + "/permissions", TOKENS[0])
        if response.status_code != 200:
            return "no-such-permission"
        entry = pick(response.json()["value"], which)
        return entry["id"] if entry else "no-such-permission"

    @rule(
        who=CALLER,
        victim=INDEX,
        which=INDEX,
        roles=st.lists(st.sampled_from(GRAPH_ROLES + BAD_ROLES), max_size=2),
    )
    def patch_permission(self, who: int, victim: int, which: int, roles: list[str]) -> None:
        key = self.item_key(victim)
        self.send_all(
            lambda s: (
                "PATCH",
                self.graph_path(s, key) + "/permissions/" + self.permission_id(s, key, which),
                pick(TOKENS, who),
                {"json": {"roles": roles}},
            )
        )

    @rule(who=CALLER, victim=INDEX, which=INDEX)
    def delete_permission(self, who: int, victim: int, which: int) -> None:
        key = self.item_key(victim)
        self.send_all(
            lambda s: (
                "DELETE",
                self.graph_path(s, key) + "/permissions/" + self.permission_id(s, key, which),
                pick(TOKENS, who),
                {},
            )
        )

    # -- Onehub -------------------------------------------------------------------------------
    @rule(
        who=CALLER,
        victim=INDEX,
        recipients=st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=3),
        role=ONEHUB_ROLES,
    )
    def onehub_invite(self, who: int, victim: int, recipients: list[str], role: str) -> None:
        key = self.item_key(victim)
        body = {"invitation": {"emails": ",".join(recipients), "role_name": role}}
        self.send_all(
            lambda s: (
                "POST",
                self.onehub_path(s, key) + "/invitations",
                pick(TOKENS, who),
                {"json": body},
            )
        )

    def rolemap_id(self, server: Server, key: ItemKey, which: int) -> str:
        response = server.send("GET", self.onehub_path(server, key) + "/rolemaps", TOKENS[0])
        if response.status_code != 200:
            return "999999"
        row = pick(response.json()["items"], which)
        return str(row["rolemap"]["id"]) if row else "999999"

    @rule(who=CALLER, victim=INDEX, which=INDEX, role=ONEHUB_ROLES)
    def onehub_set_role(self, who: int, victim: int, which: int, role: str) -> None:
        if role.casefold() == "access denied" and not self.access_denied_rolemaps:
            return  # an Access Denied rolemap makes the export unloadable
        key = self.item_key(victim)
        body = {"rolemap": {"role_name": role}}
        self.send_all(
            lambda s: (
                "PUT",
                "/rolemaps/" + self.rolemap_id(s, key, which),
                pick(TOKENS, who),
                {"json": body},
            )
        )

    @rule(who=CALLER, victim=INDEX, which=INDEX)
    def onehub_delete_rolemap(self, who: int, victim: int, which: int) -> None:
        key = self.item_key(victim)
        self.send_all(
            lambda s: (
                "DELETE",
                "/rolemaps/" + self.rolemap_id(s, key, which),
                pick(TOKENS, who),
                {},
            )
        )

    @rule(victim=INDEX, which=INDEX)
    def onehub_accept(self, victim: int, which: int) -> None:
        key = self.item_key(victim)
        self.send_all(
            lambda s: (
                "POST",
                f"/_mockdrive/onehub/rolemaps/{self.rolemap_id(s, key, which)}/accept",
                None,
                {},
            )
        )

    @rule(who=CALLER, name=st.sampled_from(["Team site", "team SITE", "Ünïcode", " "]))
    def create_workspace(self, who: int, name: str) -> None:
        body = {"workspace": {"name": name}}
        self.send_all(lambda s: ("POST", "/workspaces", pick(TOKENS, who), {"json": body}))

    # -- admin --------------------------------------------------------------------------------
    @rule(as_yaml=st.booleans())
    def reload(self, as_yaml: bool) -> None:
        """Export the primary, load it into the twin: the twin exports the same bytes."""
        query = "?format=yaml" if as_yaml else ""
        exported = self.primary.send("GET", "/_mockdrive/state" + query)
        loaded = self.twin.send("PUT", "/_mockdrive/state", data=exported.content)
        assert loaded.status_code == 200, f"the export does not load: {loaded.text[:2000]}"
        again = self.twin.send("GET", "/_mockdrive/state" + query)
        assert again.content == exported.content, (
            f"export → load → export differs {differences(exported.text, again.text)}"
        )
        self.seq += 1
        self.twin_live = True
        self.stats["reloads"] += 1

    @rule()
    def reset(self) -> None:
        self.primary.send("POST", "/_mockdrive/reset")
        self.twin_live = False

    # -- after every step -----------------------------------------------------------------------
    @invariant()
    def model_invariants_hold(self) -> None:
        self.stats["steps"] += 1
        for server in self.live:
            server.call(lambda s=server: check_state(s.state, self.owner_check))

    def teardown(self) -> None:
        self.stats.sequence_done("http")

    @invariant()
    def twins_export_the_same(self) -> None:
        if not self.twin_live:
            return
        exports = [s.send("GET", "/_mockdrive/state").json() for s in self.live]
        for export in exports:  # Onehub numbers go out on first sight, and only the primary is
            export.pop("onehub", None)  # probed by the oracle: the twins may have seen less
        exports = [json.dumps(Canon()(e), sort_keys=True) for e in exports]
        assert exports[0] == exports[1], f"the twin drifted {differences(*exports)}"

    @invariant()
    def api_allows_what_the_oracle_says(self) -> None:
        server = self.primary
        probes = server.call(lambda: self._expectations(server))
        for graph_path, onehub_path, token, read, write, onehub_ok in probes:
            self.stats["probes"] += 1
            got = server.send("GET", graph_path, token).status_code
            assert got == (200 if read else 404), f"GET {graph_path} as {token}: {got}"
            if read:
                got = server.send(
                    "PATCH",
                    graph_path + "/permissions/no-such-permission",
                    token,
                    json={"roles": ["read"]},
                ).status_code
                assert got == (404 if write else 403), f"write probe {graph_path} as {token}: {got}"
            got = server.send("GET", onehub_path, token).status_code
            assert got == (200 if onehub_ok else 404), f"GET {onehub_path} as {token}: {got}"

    def _expectations(self, server: Server) -> list[tuple[str, str, str, bool, bool, bool]]:
        """What the oracle expects for a few items and every member (runs on the server loop)."""
        state = server.state
        drive_index = {d: i for i, d in enumerate(state.store.drives)}
        result = []
        for item in sample_items(state, PROBED_ITEMS + 1)[-PROBED_ITEMS:]:
            names_up = [item.name] if item.parent_id else []
            names_up += [a.name for a in state.store.ancestors(item) if a.parent_id]
            key = (drive_index[item.drive_id], tuple(reversed(names_up)))
            graph_path = self.graph_path(server, key)
            onehub_path = self.onehub_path(server, key)
            for token in TOKENS:
                user = state.directory.by_token(token)
                oracle = access(state, user, item)
                onehub_ok = naive_onehub_role(state, user, item) is not None
                result.append(
                    (
                        graph_path,
                        onehub_path,
                        token,
                        oracle.can("read"),
                        oracle.can("write"),
                        onehub_ok,
                    )
                )
        return result


class FullHttpMachine(HttpMachine):
    hostile = True
    to_the_limit = True
    fidelity = True
    access_denied_rolemaps = True
    owner_check = True

    @initialize(name=names(False), depth=st.integers(SAFE_DEPTH, PATH_LIMIT_DEPTH))
    def hostile_tree(self, name: str, depth: int) -> None:
        """Start from a folder with a hostile name and a chain down to the path limit."""
        if self.hostile:
            self._create_folder(0, 0, name, "rename")
        if self.to_the_limit:
            self._upload(0, 0, ["d"] * depth + ["leaf.txt"], b"deep", "rename")

    @precondition(lambda self: self.hostile)
    @rule(who=CALLER, parent=INDEX, name=names(False), conflict=CONFLICTS)
    def create_hostile(self, who: int, parent: int, name: str, conflict: str) -> None:
        self._create_folder(who, parent, name, conflict)

    @precondition(lambda self: self.hostile)
    @rule(
        who=CALLER,
        parent=INDEX,
        path=st.lists(names(False), min_size=1, max_size=3),
        content=contents(False),
    )
    def upload_hostile(self, who: int, parent: int, path: list[str], content: bytes) -> None:
        self._upload(who, parent, path, content, "replace")

    @precondition(lambda self: self.to_the_limit)
    @rule(depth=st.integers(SAFE_DEPTH, PATH_LIMIT_DEPTH))
    def deepen_to_the_limit(self, depth: int) -> None:
        self._upload(0, 0, ["d"] * depth + ["leaf.txt"], b"deep", "rename")


def http_machine_with(**switches: bool) -> type[FullHttpMachine]:
    return type("HttpMachineWith", (FullHttpMachine,), dict(switches))


def test_http_state_machine(servers: list[Server]) -> None:
    """The green run: everything but the triggers of the known defects."""
    run = HttpMachine.TestCase
    run.settings = machine_settings(examples=8, steps=15)
    HttpMachine.stats.clear()
    run().runTest()
    print("\n" + HttpMachine.stats.report("stateful HTTP machine"), "0 violations")


def test_http_state_machine_full(servers: list[Server]) -> None:
    """Every switch on (see the model's full machine); the long run uses this machine."""
    run = FullHttpMachine.TestCase
    run.settings = machine_settings(examples=6, steps=15)
    FullHttpMachine.stats.clear()
    run().runTest()
    print("\n" + FullHttpMachine.stats.report("full stateful HTTP machine"), "0 violations")


# -- regression tests for what the machines found -------------------------------------------
def _onehub(mock_drive, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, mock_drive.url + path, headers=headers, timeout=30, **kwargs)


def _break_inheritance(graph, path: str) -> None:
    assert graph.post("/me/drive/root/children", json={"name": path, "folder": {}}).ok
    invite = {
        "recipients": [{"email": "carol@contoso.example"}],
        "roles": ["read"],
        "retainInheritedPermissions": False,
    }
    assert graph.post(f"/me/drive/root:/{path}:/invite", json=invite).status_code == 200


@pytest.mark.parametrize("action", ["demote", "delete"])
def test_a_onehub_moderator_cannot_lock_the_drive_owner_out(mock_drive, graph, action: str):
    """on a folder that stopped inheriting, the owner's access is a copied owner permission;
    a Moderator there demoted it to Access Denied (or deleted it) and the drive owner lost
    their own folder. Graph refuses to touch an owner permission; Onehub must too."""
    mock_drive.add_user("Bob", "bob@contoso.example", token="bob-token")
    mock_drive.add_user("Carol", "carol@contoso.example", token="carol-token")
    _break_inheritance(graph, "Finance")
    folder = mock_drive.onehub_id("/Finance")
    invitation = {"invitation": {"emails": "bob@contoso.example", "role_name": "Moderator"}}
    owner = mock_drive.token
    assert (
        _onehub(
            mock_drive, "POST", f"/folders/{folder}/invitations", owner, json=invitation
        ).status_code
        == 201
    )
    rows = _onehub(mock_drive, "GET", f"/folders/{folder}/rolemaps", "bob-token").json()["items"]
    owners = [r["rolemap"] for r in rows if r["rolemap"]["user"]["email"] == mock_drive.owner.email]
    assert owners, rows
    rolemap = owners[0]["id"]
    if action == "demote":
        _onehub(
            mock_drive,
            "PUT",
            f"/rolemaps/{rolemap}",
            "bob-token",
            json={"rolemap": {"role_name": "Access Denied"}},
        )
    else:
        _onehub(mock_drive, "DELETE", f"/rolemaps/{rolemap}", "bob-token")
    assert graph.get("/me/drive/root:/Finance").status_code == 200
    mock_drive.assert_can(mock_drive.owner, "write", "/Finance")


def _reload(mock_drive) -> None:
    exported = requests.get(mock_drive.url + "/_mockdrive/state", timeout=30)
    loaded = requests.put(mock_drive.url + "/_mockdrive/state", data=exported.content, timeout=30)
    assert loaded.status_code == 200, loaded.text


def test_a_reload_keeps_etags_and_times(mock_drive, graph):
    """an item's eTag/cTag (its version) and its times are not in the export, so after
    export → load a client's stored eTag no longer matches (If-Match → 412) and
    lastModifiedDateTime moves."""
    assert graph.put("/me/drive/root:/a.txt:/content", data=b"1").status_code == 201
    assert graph.put("/me/drive/root:/a.txt:/content", data=b"22").status_code == 200
    before = graph.get("/me/drive/root:/a.txt:").json()
    _reload(mock_drive)
    after = graph.get("/me/drive/root:/a.txt:").json()
    keys = ("eTag", "cTag", "createdDateTime", "lastModifiedDateTime")
    assert {k: after[k] for k in keys} == {k: before[k] for k in keys}


def test_a_reload_keeps_onehub_ids(mock_drive, graph):
    """Onehub's integer ids are handed out on first sight and not exported: after a reload
    the ids a client holds point at other objects (or nothing)."""
    for name in ("A", "B"):
        assert graph.post("/me/drive/root/children", json={"name": name, "folder": {}}).ok
    token = mock_drive.token
    b_before = mock_drive.onehub_id("/B")  # B is seen first: it gets the lower number
    a_before = mock_drive.onehub_id("/A")
    _reload(mock_drive)
    assert mock_drive.onehub_id("/A") == a_before  # A asked first now
    listing = _onehub(mock_drive, "GET", f"/folders/{b_before}", token)
    assert listing.status_code == 200 and mock_drive.onehub_id("/B") == b_before


def test_a_graph_reinvite_updates_the_onehub_role(mock_drive, graph):
    """bob holds Viewer through Onehub; a Graph invite raises the same permission to write,
    but Onehub still says Viewer and refuses what Graph allows."""
    mock_drive.add_user("Bob", "bob@contoso.example", token="bob-token")
    assert graph.post("/me/drive/root/children", json={"name": "F", "folder": {}}).ok
    folder = mock_drive.onehub_id("/F")
    invitation = {"invitation": {"emails": "bob@contoso.example", "role_name": "Viewer"}}
    assert (
        _onehub(
            mock_drive, "POST", f"/folders/{folder}/invitations", mock_drive.token, json=invitation
        ).status_code
        == 201
    )
    invite = {"recipients": [{"email": "bob@contoso.example"}], "roles": ["write"]}
    assert graph.post("/me/drive/root:/F:/invite", json=invite).status_code == 200
    mock_drive.assert_can("bob@contoso.example", "write", "/F")
    created = _onehub(
        mock_drive,
        "POST",
        f"/workspaces/{mock_drive.workspace_id()}/folders/{folder}/folders",
        "bob-token",
        json={"folder": {"filename": "x"}},
    )
    assert created.status_code == 201, created.text


def test_a_reload_keeps_the_invited_spelling(mock_drive, graph):
    """a Onehub invitation typed as BOB@… keeps that spelling as the Graph permission's
    invitation.email; the export only names the user, so after a reload it reads bob@…."""
    mock_drive.add_user("Bob", "bob@contoso.example", token="bob-token")
    assert graph.post("/me/drive/root/children", json={"name": "F", "folder": {}}).ok
    folder = mock_drive.onehub_id("/F")
    invitation = {"invitation": {"emails": "BOB@contoso.example", "role_name": "Viewer"}}
    assert (
        _onehub(
            mock_drive, "POST", f"/folders/{folder}/invitations", mock_drive.token, json=invitation
        ).status_code
        == 201
    )
    before = graph.get("/me/drive/root:/F:/permissions").json()
    _reload(mock_drive)
    assert graph.get("/me/drive/root:/F:/permissions").json() == before


def test_two_workspaces_of_one_owner_have_distinct_owner_rolemaps(mock_drive):
    """every drive root's owner permission has the id ``owner-<user id>``; Onehub numbers
    rolemaps by permission id, so a second workspace's owner rolemap is the first one's and
    ``GET /rolemaps/{id}`` answers with the wrong workspace."""
    token = mock_drive.token
    created = _onehub(mock_drive, "POST", "/workspaces", token, json={"workspace": {"name": "T"}})
    assert created.status_code == 201
    second = created.json()["workspace"]["id"]
    first = mock_drive.workspace_id()
    ids = []
    for workspace in (first, second):
        rows = _onehub(mock_drive, "GET", f"/workspaces/{workspace}/rolemaps", token).json()
        ids.append([r["rolemap"]["id"] for r in rows["items"]])
    assert set(ids[0]).isdisjoint(ids[1]), ids


def test_a_onehub_invitation_to_a_group_address_does_not_hijack_the_group(mock_drive, graph):
    """Onehub looked recipients up among users only, so inviting a group's address provisioned
    a pending user with that address; afterwards a Graph invite to the group's address granted
    that shadow user instead of the group, and the group's members got nothing. Now a Onehub
    invitation to a group's address grants the group, as a Graph invite does."""
    bob = mock_drive.add_user("Bob", "bob@contoso.example", token="bob-token")
    mock_drive.add_group("Team", [bob], email="team@contoso.example")
    for name in ("F", "G"):
        assert graph.post("/me/drive/root/children", json={"name": name, "folder": {}}).ok
    invitation = {"invitation": {"emails": "team@contoso.example", "role_name": "Viewer"}}
    _onehub(
        mock_drive,
        "POST",
        f"/folders/{mock_drive.onehub_id('/F')}/invitations",
        mock_drive.token,
        json=invitation,
    )
    mock_drive.assert_can("bob@contoso.example", "read", "/F")  # through the group
    directory = mock_drive.state.directory
    assert mock_drive.server.call(lambda: directory.by_email("team@contoso.example")) is None
    invite = {"recipients": [{"email": "team@contoso.example"}], "roles": ["read"]}
    assert graph.post("/me/drive/root:/G:/invite", json=invite).status_code == 200
    mock_drive.assert_can("bob@contoso.example", "read", "/G")


def test_an_owner_copy_for_an_invited_address_keeps_the_address(mock_drive, graph):
    """Found by the long run: a folder that stops inheriting copies every inherited owner
    permission onto itself, but the copy kept only the grantee's account. An outsider invited by
    address (no account yet) and raised to Moderator (owner tier) got a copy with neither
    account nor address: it applied to nobody, and the export held ``email: null``, which does
    not load back."""
    for parent, name in (("/me/drive/root", "Projects"), ("/me/drive/root:/Projects:", "Deep")):
        created = graph.post(f"{parent}/children", json={"name": name, "folder": {}})
        assert created.status_code == 201, created.text
    invite = {"recipients": [{"email": "eve@outside.example"}], "roles": ["write"]}
    assert graph.post("/me/drive/root:/Projects:/invite", json=invite).status_code == 200
    folder = mock_drive.onehub_id("/Projects")
    owner = mock_drive.token
    rows = _onehub(mock_drive, "GET", f"/folders/{folder}/rolemaps", owner).json()["items"]
    eve = next(r["rolemap"] for r in rows if r["rolemap"]["user"]["email"] == "eve@outside.example")
    raised = _onehub(
        mock_drive, "PUT", f"/rolemaps/{eve['id']}", owner,
        json={"rolemap": {"role_name": "Moderator"}},
    )  # fmt: skip
    assert raised.status_code == 200, raised.text
    stop = {
        "recipients": [{"email": "carol@contoso.example"}],
        "roles": ["read"],
        "retainInheritedPermissions": False,
    }
    mock_drive.add_user("Carol", "carol@contoso.example")
    assert graph.post("/me/drive/root:/Projects/Deep:/invite", json=stop).status_code == 200
    listed = graph.get("/me/drive/root:/Projects/Deep:/permissions").json()["value"]
    copies = [p for p in listed if "owner" in p["roles"] and "inheritedFrom" not in p]
    assert any(
        (p.get("invitation") or {}).get("email") == "eve@outside.example"
        or (p.get("grantedToV2") or p.get("grantedTo") or {}).get("user", {}).get("email")
        == "eve@outside.example"
        for p in copies
    ), copies
    _reload(mock_drive)  # the export loads back
