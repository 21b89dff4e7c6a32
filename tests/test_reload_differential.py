"""Differential reload test over the whole HTTP API: a reloaded copy behaves as the original.

Each run resets server A to a small tenant, sends it a short generated sequence of requests
(creates, uploads, renames, moves, deletes, copies, invitations of members and outsiders, links
of every scope with passwords and expiries, redemptions, permission changes and removals,
half-done upload sessions, delta tokens, Onehub folders, invitations, rolemap changes and
deletions, policy changes, fault rules, clock advances), exports A (``GET /_mockdrive/state``)
and loads the export into server B (``PUT /_mockdrive/state``, how users reload a state). B's
export must be the same bytes. Then the same next requests go to both, and their answers must
agree: delta tokens taken before the export, a member's sharedWithMe (before and after the
clock passes share delays, link and invitation deadlines), children and permissions for the
owner, a member or anonymous, a link used anonymously and by a member (redeeming), the
half-done uploads continued, a new Onehub folder (the sequences), the clock, the delta tokens
again (now that the copy has changed); last, both whole states (items, permissions, links and
their members, policy, fault rules and their counters).
The tenant a run starts from already holds a grant, a group grant, a pending invitation, a
link and a Onehub rolemap, so that a short run reaches them. Which member, viewer, folder,
link and clock step the probes use is drawn with the operations.

Answers are compared with each server's origin replaced, request ids (a per-server counter that
a load restarts) left out, download URL signatures (each state signs with its own secret) left
out, and ids the two servers generate after the load relabelled in order of appearance (a
loaded state draws its ids from a sequence of its own, model/ids.py). At its first change the
reloaded copy's change log forks (model/delta.py, ``ChangeLog.fork``): from then on its delta
tokens name the generation reserved for it where the original's name the original's, and its
export names that generation and the original's [generation, serial at the export] as an
ancestor; exactly that is mapped back before comparing. Every download URL is also followed,
on its own server, and must give the same bytes.

CI runs 1,000 seeded runs; the long run (random seeds) is::

    MOCKDRIVE_RELOAD_EXAMPLES=10000 \\
        .venv/bin/pytest -p no:xdist -s tests/test_reload_differential.py
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from stateful_support import Canon

from mockdrive.model import links, onehub, sharing
from mockdrive.model.errors import DomainError
from mockdrive.model.identity import Group
from mockdrive.model.ids import format_time
from mockdrive.model.links import LINK_BASE
from mockdrive.model.state import State
from mockdrive.server import MockDrive

PINNED = "2024-01-01T00:00:00Z"  # these tests compare exports: the clock must not follow the wall

EXAMPLES = int(os.environ.get("MOCKDRIVE_RELOAD_EXAMPLES", "0"))
RUNS = EXAMPLES or 1000

PEOPLE = [
    ("Ada Owner", "ada@contoso.example", "ada-token"),
    ("Bob Writer", "bob@contoso.example", "bob-token"),
    ("Carol Reader", "carol@contoso.example", "carol-token"),
]
OWNER, BOB, CAROL = (token for _, _, token in PEOPLE)
CALLERS = [OWNER, OWNER, BOB, CAROL]  # the owner half the time: most others' writes are refused
ANONYMOUS = None
ADDRESSES = [
    "bob@contoso.example",
    "carol@contoso.example",
    "team@contoso.example",
    "eve@outside.example",
    "zed@fabrikam.example",
]
PATHS = ["/F", "/F/a.txt", "/F/Sub", "/G", "/G/b.txt", "/F/Sub/n", "/G/n"]
FOLDERS = ["/F", "/F/Sub", "/G", "/"]
NAMES = ["n", "m.txt", "a.txt", "Sub"]
CLOCK_STEPS = [{"seconds": 30}, {"hours": 2}, {"days": 8}, {"days": 31}, {"days": 91}]


def initial_state() -> State:
    """Ada owns the drive: /F/a.txt, /F/Sub/, /G/b.txt (G is her documents special folder,
    so that renames, moves and deletes reach one); Bob and Carol are members, Bob is in the
    group Team."""
    state = State()
    users = [state.add_user(name, email, token=token) for name, email, token in PEOPLE]
    drive = state.add_drive(users[0])
    team = Group(state.ids.guid(), "Team", [users[1].id], "team@contoso.example")
    state.directory.add_group(team)
    root = state.store.root(drive)
    state.upload(users[0], root, "/F/a.txt", b"alpha")
    folder = state.store.child(root, "F")
    state.create_item(users[0], folder, "Sub", is_folder=True)
    state.upload(users[0], root, "/G/b.txt", b"beta")
    # already shared, so that a short run reaches grants to change and links to use: Bob
    # writes in F (through Team too), eve@outside has a pending invitation on G, b.txt has an
    # anonymous view link, and Carol a Onehub rolemap on Sub
    owner = users[0]
    sharing.invite(state, owner, folder, sharing.InviteRequest(
        [sharing.Recipient("bob@contoso.example"), sharing.Recipient("team@contoso.example")],
        ["write"]))  # fmt: skip
    other = state.store.child(root, "G")
    other.special, drive.special["documents"] = "documents", other.id
    sharing.invite(state, owner, other, sharing.InviteRequest(
        [sharing.Recipient("eve@outside.example")], ["read"], require_sign_in=True))  # fmt: skip
    beta = state.store.child(other, "b.txt")
    links.create_link(state, owner, beta, links.LinkRequest("view", "anonymous"))
    # Onehub numbers on first sight: the workspace is 1, its root folder 1, F 2, a.txt 3 ...
    state.onehub.number("workspace", drive.id)
    for item in state.store.iter_subtree(root):
        state.onehub.number("node", item.id)
    sub = state.store.child(folder, "Sub")
    context = sharing.RequestContext()
    onehub.invite_emails(state, owner, sub, "carol@contoso.example", "Viewer", context)
    return state


class Answer:
    """What a request got back (the few things the test reads)."""

    def __init__(self, status: int, headers: Any, content: bytes) -> None:
        self.status_code, self.headers, self.content = status, headers, content
        self.text = content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Server:
    """A live server and one kept-alive connection to it (``http.client``: a run sends ~25
    requests, and a fuller client's own work per request would be most of the test's time)."""

    def __init__(self) -> None:
        self.server = MockDrive(initial_state(), state_factory=initial_state, clock=PINNED).start()
        self.connection = http.client.HTTPConnection(self.server.host, self.server.port)
        self.drive = self.server.call(lambda: next(iter(self.server.state.store.drives)))
        self.last_status = 0

    @property
    def url(self) -> str:
        return self.server.url

    def send(self, method: str, path: str, token: str | None = OWNER, **kwargs: Any) -> Answer:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = kwargs.pop("data", None)
        if "json" in kwargs:
            body = json.dumps(kwargs.pop("json")).encode()
            headers["Content-Type"] = "application/json"
        assert not kwargs, kwargs
        if path.startswith(self.url):
            path = path[len(self.url) :]
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.HTTPException, ConnectionError):  # the server closed it: again
            self.connection.close()
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        answer = Answer(response.status, response.headers, response.read())
        STATS["requests"] += 1
        self.last_status = answer.status_code
        injected = "by a mockdrive fault rule" in answer.text  # a 503 asked for
        assert answer.status_code < 500 or injected, f"{method} {path}: {answer.text}"
        return answer

    def look(self, find: Any) -> Any:
        """``find(state)`` on the server's loop: a look-up of the arranging side (as the
        fixture's helpers do), cheaper than a request and changing nothing but Onehub's
        numbering (which is exported)."""
        return self.server.call(lambda: find(self.server.state))

    def item_id(self, path: str) -> str | None:
        def find(state: State) -> str | None:
            root = state.store.root(state.store.drives[self.drive])
            try:
                return state.store.resolve(root, path).id
            except DomainError:
                return None

        return self.look(find)

    def stop(self) -> None:
        self.connection.close()
        self.server.stop()


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Server, Server]]:
    pair = (Server(), Server())
    started = time.perf_counter()
    yield pair
    STATS["seconds"] = round(time.perf_counter() - started, 1)
    print("\nreload differential:", STATS)
    print("operations (succeeded):", {k: f"{n} ({SUCCEEDED[k]})" for k, n in OPERATIONS.items()})
    for server in pair:
        server.stop()


def item_path(server: Server, path: str) -> str:
    return f"/v1.0/drives/{server.drive}/root" + ("" if path == "/" else f":{path}:")


def share_id(web_url: str) -> str:
    return "u!" + base64.urlsafe_b64encode(web_url.encode()).decode().rstrip("=")


# -- the operations before the export ---------------------------------------------------------
class Run:
    """What the operations left behind for the probes: delta links, links, upload URLs."""

    def __init__(self, a: Server) -> None:
        self.a = a
        self.delta_links: list[str] = []
        self.link_urls: list[str] = []
        self.uploads: list[tuple[str, bytes, int]] = []  # (path after the origin, rest, start)
        self.ops: list[str] = []

    def do(self, op: tuple) -> None:
        kind, *args = op
        self.ops.append(repr(op))
        self.a.last_status = 0
        getattr(self, kind)(*args)
        OPERATIONS[kind] += 1
        SUCCEEDED[kind] += 200 <= self.a.last_status < 300  # the operation's own request

    def create(self, who: str, parent: str, name: str, conflict: str) -> None:
        body = {"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": conflict}
        self.a.send("POST", item_path(self.a, parent) + "/children", who, json=body)

    def upload(self, who: str, path: str, content: bytes) -> None:
        self.a.send("PUT", item_path(self.a, path) + "/content", who, data=content)

    def rename(self, who: str, path: str, name: str) -> None:
        self.a.send("PATCH", item_path(self.a, path), who, json={"name": name})

    def move(self, who: str, path: str, folder: str) -> None:
        target = self.a.item_id(folder)
        if target is not None:
            body = {"parentReference": {"id": target}}
            self.a.send("PATCH", item_path(self.a, path), who, json=body)

    def delete(self, who: str, path: str) -> None:
        self.a.send("DELETE", item_path(self.a, path), who)

    def copy(self, who: str, path: str, folder: str, name: str) -> None:
        target = self.a.item_id(folder)
        if target is not None:
            body = {"parentReference": {"id": target}, "name": name}
            self.a.send("POST", item_path(self.a, path) + "/copy", who, json=body)

    def invite(self, who: str, path: str, address: str, role: str, expires: int | None) -> None:
        body: dict[str, Any] = {
            "recipients": [{"email": address}],
            "roles": [role],
            "requireSignIn": True,
            "sendInvitation": False,
        }
        if expires is not None:
            body["expirationDateTime"] = self.later(expires)
        self.a.send("POST", item_path(self.a, path) + "/invite", who, json=body)

    def later(self, days: int) -> str:
        now = self.a.look(lambda state: state.clock.moment())
        return format_time(now + timedelta(days=days))

    def link(
        self, who: str, path: str, kind: str, scope: str, password: bool, expires: int | None
    ) -> None:
        body: dict[str, Any] = {"type": kind, "scope": scope}
        if password:
            body["password"] = "s3cret!"
        if expires is not None:
            body["expirationDateTime"] = self.later(expires)
        if scope == "users":
            body["recipients"] = [{"email": "carol@contoso.example"}]
        made = self.a.send("POST", item_path(self.a, path) + "/createLink", who, json=body)
        if made.status_code in (200, 201):
            self.link_urls.append(made.json()["link"]["webUrl"])

    def redeem(self, who: str | None, index: int) -> None:
        if self.link_urls:
            url = self.link_urls[index % len(self.link_urls)]
            headers = {"Prefer": "redeemSharingLink"}
            self.a.send("GET", f"/v1.0/shares/{share_id(url)}/driveItem", who, headers=headers)

    def permission(self, who: str, path: str, index: int, role: str | int | None) -> None:
        """Change or remove one of the item's own permissions (not the drive owner's): its
        role, or its expiration (days from now: a link's deadline replaced by another)."""

        def own(state: State) -> list[str]:
            item = state.store.items.get(self.a.item_id(path) or "")
            return [p.id for p in item.permissions if not p.is_owner] if item else []

        found = self.a.look(own)
        if not found:
            return
        target = item_path(self.a, path) + "/permissions/" + found[index % len(found)]
        if role is None:
            self.a.send("DELETE", target, who)
        elif isinstance(role, int):
            self.a.send("PATCH", target, who, json={"expirationDateTime": self.later(role)})
        else:
            self.a.send("PATCH", target, who, json={"roles": [role]})

    def session(self, who: str, path: str, size: int, sent: int) -> None:
        opened = self.a.send("POST", item_path(self.a, path) + "/createUploadSession", who, json={})
        if opened.status_code != 200:
            return
        url = opened.json()["uploadUrl"]
        content = bytes(range(size))
        if sent:
            headers = {"Content-Range": f"bytes 0-{sent - 1}/{size}"}
            self.a.send("PUT", url, None, data=content[:sent], headers=headers)
        self.uploads.append((url[len(self.a.url) :], content[sent:], sent))

    def delta(self, who: str, path: str) -> None:
        answer = self.a.send("GET", item_path(self.a, path) + "/delta", who)
        if answer.status_code == 200 and "@odata.deltaLink" in answer.json():
            self.delta_links.append(answer.json()["@odata.deltaLink"][len(self.a.url) :])

    def onehub_folder(self, who: str, name: str) -> None:
        body = {"folder": {"filename": name}}
        self.a.send("POST", "/workspaces/1/folders", who, json=body)

    def onehub_invite(self, who: str, node: int, address: str, role: str) -> None:
        body = {"invitation": {"emails": address, "role_name": role}}
        self.a.send("POST", f"/folders/{node}/invitations", who, json=body)

    def onehub_node_delete(self, who: str, node: int) -> None:
        self.a.send("DELETE", f"/folders/{node}", who)

    def rolemap_number(self, index: int) -> int | None:
        """The Onehub number of one of the drive's grants but the owner's (numbered now, as
        a listing of its folder's rolemaps would)."""

        def find(state: State) -> int | None:
            drive = state.store.drives[self.a.drive]
            grants = [
                p
                for item_id in sorted(drive.shared_item_ids)
                for p in state.store.items[item_id].permissions
                if p.link is None and not (p.is_owner and p.native_role is None)
            ]
            if not grants:
                return None
            return state.onehub.number("rolemap", grants[index % len(grants)].id)

        return self.a.look(find)

    def rolemap(self, who: str, index: int, role: str | None) -> None:
        number = self.rolemap_number(index)
        if number is None:
            return
        if role is None:
            self.a.send("DELETE", f"/rolemaps/{number}", who)
        else:
            self.a.send("PUT", f"/rolemaps/{number}", who, json={"rolemap": {"role_name": role}})

    def onehub_accept(self, index: int) -> None:
        number = self.rolemap_number(index)
        if number is not None:
            self.a.send("POST", f"/_mockdrive/onehub/rolemaps/{number}/accept", None)

    def policy(self, changes: dict[str, Any]) -> None:
        self.a.send("PUT", "/_mockdrive/policy", None, json=changes)

    def fault(self, rule: dict[str, Any]) -> None:
        self.a.send("POST", "/_mockdrive/faults", None, json=rule)

    def clock(self, step: dict[str, int]) -> None:
        self.a.send("POST", "/_mockdrive/clock", None, json=step)

    def special(self, who: str, name: str) -> None:
        # the folder taken as it, or made at its place on first use by a writer of the root
        self.a.send("GET", f"/v1.0/drives/{self.a.drive}/special/{name}", who)


WHO = st.sampled_from(CALLERS)
PATH = st.sampled_from(PATHS)
FOLDER = st.sampled_from(FOLDERS)
NAME = st.sampled_from(NAMES)
EXPIRES = st.none() | st.sampled_from([1, 10, 40])
ONEHUB_ROLE = st.sampled_from(["Viewer", "Downloader", "Collaborator", "Moderator"])
SMALL = st.integers(min_value=0, max_value=6)
POLICIES = st.fixed_dictionaries(
    {},
    optional={
        "sharedWithMeDelaySeconds": st.sampled_from([0, 60, 3600, 86400]),
        "anonymousLinks": st.booleans(),
        "anonymousLinkMaxDays": st.sampled_from([7, 30]),
        "externalSharing": st.booleans(),
        "maxRecipients": st.sampled_from([1, 50]),
    },
)
FAULTS = st.fixed_dictionaries(
    {
        "effect": st.just("error"),
        "status": st.sampled_from([503, 429]),
        "code": st.just("serviceNotAvailable"),
        "path": st.sampled_from(["sharedWithMe", "children", "permissions", "delta"]),
    },
    optional={"nth": st.sampled_from([1, 2]), "times": st.sampled_from([1, 2])},
)
OPERATION = st.one_of(
    st.tuples(st.just("create"), WHO, FOLDER, NAME, st.sampled_from(["fail", "rename"])),
    st.tuples(st.just("upload"), WHO, PATH, st.sampled_from([b"x", b"new content"])),
    st.tuples(st.just("rename"), WHO, PATH, NAME),
    st.tuples(st.just("move"), WHO, PATH, FOLDER),
    st.tuples(st.just("delete"), WHO, PATH),
    st.tuples(st.just("copy"), WHO, PATH, FOLDER, NAME),
    st.tuples(
        st.just("invite"),
        WHO,
        PATH,
        st.sampled_from(ADDRESSES),
        st.sampled_from(["read", "write"]),
        EXPIRES,
    ),
    st.tuples(
        st.just("link"),
        WHO,
        PATH,
        st.sampled_from(["view", "edit"]),
        st.sampled_from(["anonymous", "organization", "users"]),
        st.booleans(),
        EXPIRES,
    ),
    st.tuples(st.just("redeem"), st.sampled_from([BOB, CAROL, ANONYMOUS]), SMALL),
    st.tuples(
        st.just("permission"), WHO, PATH, SMALL, st.sampled_from([None, "read", "write", 1, 40])
    ),
    st.tuples(
        st.just("session"),
        WHO,
        st.sampled_from(["/F/up.bin", "/G/b.txt"]),
        st.sampled_from([4, 9]),
        st.sampled_from([0, 3]),
    ),
    st.tuples(st.just("delta"), WHO, st.sampled_from(["/", "/F"])),
    st.tuples(st.just("onehub_folder"), WHO, NAME),
    st.tuples(st.just("onehub_invite"), WHO, SMALL, st.sampled_from(ADDRESSES), ONEHUB_ROLE),
    st.tuples(st.just("onehub_node_delete"), WHO, SMALL),
    st.tuples(st.just("rolemap"), WHO, SMALL, st.none() | ONEHUB_ROLE),
    st.tuples(st.just("onehub_accept"), SMALL),
    st.tuples(st.just("policy"), POLICIES),
    st.tuples(st.just("fault"), FAULTS),
    st.tuples(st.just("clock"), st.sampled_from(CLOCK_STEPS)),
    st.tuples(st.just("special"), WHO, st.sampled_from(["documents", "photos"])),
)
PROBES = st.fixed_dictionaries(
    {
        "viewer": st.sampled_from([OWNER, BOB, CAROL, ANONYMOUS]),
        "folder": st.sampled_from(["/F", "/G", "/"]),
        "member": st.sampled_from([BOB, CAROL]),
        "link": st.integers(min_value=0, max_value=3),
        "clock": st.sampled_from(CLOCK_STEPS),
    }
)


# -- comparing answers ------------------------------------------------------------------------
SIGNATURE = re.compile(r"(/download/[A-Za-z0-9._-]*\.)[0-9a-f]{24}")
DOWNLOAD_URL = re.compile(r'"(https?://[^"]*/download/[^"]*)"')
DELTA_TOKEN = re.compile(r"(?<=[?&])(token=|\$skiptoken=)([A-Za-z0-9_-]+)")


@dataclass(frozen=True)
class Fork:
    """What the reloaded copy's first change does to its change log: it takes generation
    ``own`` where the original goes on with ``original``, exported at ``serial``."""

    own: int
    original: int
    serial: int

    def token(self, match: re.Match[str]) -> str:
        """A delta token (a link's ``token=`` or ``$skiptoken=``) of ``own``, as ``original``'s."""
        text = match.group(2)
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            generation, rest = raw.split(b".", 1)
            if int(generation) != self.own:
                return match.group(0)
        except ValueError:  # not a token mockdrive wrote: left as it is
            return match.group(0)
        STATS["tokens mapped"] += 1
        raw = str(self.original).encode() + b"." + rest
        return match.group(1) + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def export(self, body: Any) -> None:
        """The copy's export as the original's, in place: its generation, and the one ancestor
        the fork added."""
        changes = body.get("changes") if isinstance(body, dict) else None
        if not isinstance(changes, dict) or changes.get("generation") != self.own:
            return
        changes["generation"] = self.original
        ancestors = changes.get("ancestors")
        if isinstance(ancestors, list) and [self.original, self.serial] in ancestors:
            ancestors.remove([self.original, self.serial])
            if not ancestors:
                del changes["ancestors"]


class Side:
    """One server's answers, normalised as they arrive (ids relabelled in order; on the
    reloaded copy, what its ``fork`` changes mapped back)."""

    def __init__(self, server: Server, fork: Fork | None = None) -> None:
        self.server = server
        self.fork = fork
        self.canon = Canon()
        self.answers: list[Any] = []
        self.followed: dict[str, tuple[int, bytes]] = {}  # download URL -> what it gave

    def record(self, label: str, answer: Answer) -> None:
        text = answer.text.replace(self.server.url, "ORIGIN")
        downloads = []
        for url in DOWNLOAD_URL.findall(answer.text):
            if url not in self.followed:  # each URL once (a listing repeats them)
                followed = self.server.send("GET", url, None)
                self.followed[url] = (followed.status_code, followed.content)
            downloads.append(self.followed[url])
        text = SIGNATURE.sub(r"\1SIGNED", text)
        fork = self.fork
        if fork is not None and "token=" in text:
            text = DELTA_TOKEN.sub(fork.token, text)
        try:
            body: Any = orjson.loads(text)
        except ValueError:
            try:  # what orjson refuses that json reads: NaN, a number past 64 bits
                body = json.loads(text)
            except ValueError:
                body = text
        _drop_request_ids(body)
        if fork is not None and label == "state":
            fork.export(body)
        location = answer.headers.get("Location", "").replace(self.server.url, "ORIGIN")
        self.answers.append(
            (label, answer.status_code, self.canon(body), self.canon(location), downloads)
        )


def _drop_request_ids(data: Any) -> None:
    """Takes every ``request-id`` out of a parsed answer, in place (it is ours alone)."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            node.pop("request-id", None)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def probe(side: Side, run: Run, probes: dict[str, Any]) -> None:
    """The same next requests, on one server."""
    server, send, record = side.server, side.server.send, side.record
    sharing_changes = {"Prefer": "deltashowsharingchanges"}
    for link in run.delta_links:
        record("delta", send("GET", link, OWNER, headers=sharing_changes))
    member = probes["member"]
    record("sharedWithMe", send("GET", "/v1.0/me/drive/sharedWithMe", member))
    folder = item_path(server, probes["folder"])
    record("children", send("GET", folder + "/children", probes["viewer"]))
    record("permissions", send("GET", folder + "/permissions", probes["viewer"]))
    special = f"/v1.0/drives/{server.drive}/special/"
    record("special", send("GET", special + "documents", probes["viewer"]))
    if run.link_urls:  # one link: used anonymously, then redeemed by a member
        item = f"/v1.0/shares/{share_id(run.link_urls[probes['link'] % len(run.link_urls)])}"
        record("link anonymous", send("GET", item + "/driveItem", ANONYMOUS))
        headers = {"Prefer": "redeemSharingLink"}
        record("link redeemed", send("GET", item + "/driveItem", member, headers=headers))
    for path, rest, start in run.uploads:
        size = start + len(rest)
        if rest:
            headers = {"Content-Range": f"bytes {start}-{size - 1}/{size}"}
            record("upload", send("PUT", server.url + path, None, data=rest, headers=headers))
    record("onehub folder", send("POST", "/workspaces/1/folders", OWNER,
                                 json={"folder": {"filename": "probe"}}))  # fmt: skip
    record("clock", send("POST", "/_mockdrive/clock", None, json=probes["clock"]))
    record("sharedWithMe later", send("GET", "/v1.0/me/drive/sharedWithMe", member))
    for link in run.delta_links:  # again, once the copy has changed (its change log forked)
        record("delta later", send("GET", link, OWNER, headers=sharing_changes))
    # what the clock withdrew, Onehub's sequences, the policy and the fault rules' counters
    record("state", send("GET", "/_mockdrive/state", None))


def kept_beside_permissions(state: State) -> tuple[Any, ...]:
    """What a state keeps beside its permissions (when each was shared, the link tokens, the
    deadlines that stand) and whether its deadlines all name permissions that exist. A reload
    keeps these for the permissions that stand alone: the original must keep no more, or a
    state that shares and unshares for ever grows for ever."""
    expirations = state.expirations
    standing = sorted(
        (deadline.when, deadline.kind, deadline.key)
        for deadline in expirations.heap
        if expirations.live[deadline.kind](deadline.key, deadline.when)
    )
    existing = {
        (item.id, permission.id)
        for item in state.store.items.values()
        for permission in item.permissions
    }
    orphans = sorted(key for _, key in expirations.latest if key not in existing)
    return dict(state.shared_at), dict(state.links.by_token), sorted(set(standing)), orphans


def differences(one: list[Any], two: list[Any]) -> str:
    for left, right in zip(one, two, strict=False):
        if left != right:
            return f"\n original: {left!r:.3000}\n reloaded: {right!r:.3000}"
    return f"{len(one)} answers against {len(two)}"


STATS = {"runs": 0, "operations": 0, "requests": 0, "tokens mapped": 0, "seconds": 0.0}
OPERATIONS: Counter[str] = Counter()  # by kind: how many were sent, and how many succeeded
SUCCEEDED: Counter[str] = Counter()


@settings(
    max_examples=RUNS,
    deadline=None,
    derandomize=not EXAMPLES,  # CI: the same runs every time
    suppress_health_check=list(HealthCheck),
    database=None,
    print_blob=True,
    # shrinking a failure can take minutes: the long run shrinks, CI reports it as found
    phases=list(Phase) if EXAMPLES else [Phase.explicit, Phase.generate],
)
@given(operations=st.lists(OPERATION, min_size=1, max_size=5), probes=PROBES)
def test_a_reloaded_copy_answers_as_the_original(servers, operations, probes) -> None:
    a, b = servers
    a.send("POST", "/_mockdrive/reset", None)
    run = Run(a)
    run.link_urls = a.look(lambda state: [LINK_BASE + token for token in state.links.by_token])
    for op in operations:
        run.do(op)
    exported = a.send("GET", "/_mockdrive/state", None)
    loaded = b.send("PUT", "/_mockdrive/state", None, data=exported.content)
    assert loaded.status_code == 200, f"the export does not load: {loaded.text}\n{run.ops}"
    again = b.send("GET", "/_mockdrive/state", None)
    assert again.content == exported.content, f"export → load → export differs\n{run.ops}"
    kept = a.look(kept_beside_permissions), b.look(kept_beside_permissions)
    assert kept[0] == kept[1], f"the original keeps more than its reload\n{run.ops}"
    # the generation B's first change will take, and the original's it forks from
    own = b.look(lambda state: state.changes.successor)
    original, serial = a.look(lambda state: (state.changes.generation, state.changes.serial))
    sides = (Side(a), Side(b, Fork(own, original, serial) if own else None))
    for side in sides:
        probe(side, run, probes)
    assert sides[0].answers == sides[1].answers, (
        f"the reloaded copy answers differently after {run.ops} and {probes}:"
        + differences(sides[0].answers, sides[1].answers)
    )
    STATS["runs"] += 1
    STATS["operations"] += len(operations)
