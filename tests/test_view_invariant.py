"""The view invariant, generated: every route that enumerates shows a caller exactly what they
may see, over HTTP, after every step of random sequences.

Steps (as the tenant's members of ``stateful_support``, or without a token): create folders,
upload files, rename, move, delete, copy, invite users, the group and outsiders (with
``retainInheritedPermissions: false``: a break in inheritance), createLink (anonymous,
organization, specific people, with a password, expiring), grant a link to more people, use a
link with ``Prefer: redeemSharingLink``, advance the virtual clock, export → load the state.

After every step, for every caller (Ada owns the drive; Bob and Carol are the group; Dan and
Kim hold only what the sequence gave them; outsiders hold invitations; no token) the answers
are compared with an oracle computed here by hand from the server's state (walk the ancestors;
never the model's own view or access helpers):

- ``children`` (paged with ``$top``, every ``@odata.nextLink`` followed), ``$expand=children``,
  ``delta`` (first round, paged; and the deltaLinks kept per caller and followed in later steps),
  ``search``, the same ``children`` and ``delta`` inside ``$batch``, Onehub's folder listing,
  ``sharedWithMe``, ``/shares/{id}/driveItem`` (+ ``/children``, ``/permission``),
  ``permissions``, ``thumbnails`` and ``versions``: the ids and names listed are exactly the
  oracle's; a file listed carries a downloadUrl only when the caller may read it, and every URL
  handed out (downloadUrl, nextLink, deltaLink, the copy monitor's Location) works for the caller.
- A copy holds exactly what the copier could see of the source; a redeem adds the caller to a
  link only when the link is for them.

What the oracle says where the service's documentation had to decide it:

- An item is readable by the drive's owner, and by whoever holds a permission on it or on an
  ancestor it inherits from (stopping after the first item that does not inherit): a user, a
  group they belong to, an invited address equal to theirs (case-folded), or a link they are a
  member of (granted to them, or redeemed). Pending invitations and expired permissions grant
  nothing.
- ``children`` and ``$expand=children`` list the children the caller can read. ``delta`` on a
  folder lists the folder and every descendant reachable through readable folders: an item
  shared directly with the caller below a folder they cannot read is not in that folder's
  children or delta (it is reachable by id and listed in sharedWithMe). This is the connected
  view of the OneDrive sync model ("the service starts enumerating the drive's hierarchy").
- ``search`` is security-trimmed per item, as SharePoint search is: every readable item below
  the folder whose name contains the text, including items shared with the caller inside parts
  they cannot read (mockdrive's documented behaviour).
- ``delta`` is asked with ``Prefer: deltashowremovedasdeleted`` (the service's header that
  reports an item removed from the caller's view as deleted) and without
  ``deltatraversepermissiongaps`` (so it does not descend below folders the caller cannot read).
  A later round names only items in the caller's view now, or reports as ``deleted`` an item the
  caller has seen before ("Deleted items are returned with the deleted facet ... should be
  removed from your local state"). After
  applying a round (a deleted folder takes what the client holds below it), the caller's local
  copy holds nothing outside the view, whether the item was deleted, moved out or lost to a
  change of permissions, and every item created since the token inside the view. Items that
  enter the view through a sharing change alone need not be reported (the service's own
  behaviour there depends on ``deltashowsharingchanges`` and is not pinned down here).
- ``sharedWithMe``: the items of drives the caller does not own that carry a non-owner
  permission of their own applying to the caller (inherited access is not a share).
- ``/shares/{id}``: anyone may use an anonymous link, any signed-in member an organization link,
  only its recipients (and those who can read the item anyway) a specific-people link; a password
  link only those who can read the item anyway (the API has no way to present the password).
  Whoever may not use a link gets what a share id that does not exist gets. Through a link, a
  folder's children are those the link reaches (descendants that inherit) plus those the caller
  can read anyway. ``Prefer: redeemSharingLink`` makes the caller a member only of an anonymous
  or organization link without a password, or of a specific-people link they are a recipient of.
- ``/shares/{id}/permission``: a caller without write on the item sees no other member's name.
- ``permissions``: a writer sees every effective permission; a reader only those that apply to
  them.
- Copy: the copy holds what the copier could read of the source through readable folders;
  nothing the copier cannot read ends up where they can read it.

Failures print the route, the caller, what was extra or missing (by path), and the HTTP steps
of the sequence so far: a readable reproduction.

CI runs a small seeded set (about 30 s). The long run (≥ 10,000 steps)::

    MOCKDRIVE_STATEFUL_EXAMPLES=800 MOCKDRIVE_STATEFUL_STEPS=15 \\
        .venv/bin/pytest -p no:xdist -s tests/test_view_invariant.py

``MOCKDRIVE_VIEW_COLLECT=FILE`` writes every violation to FILE (one JSON line each) and goes on,
for a census of all violations instead of the first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from stateful_support import MEMBERS, RunStats, initial_state, machine_settings, pick
from wire_client import WireSession

from mockdrive.model.clock import format_time, parse_time
from mockdrive.model.tree import Item
from mockdrive.server import MockDrive

PINNED = "2024-01-01T00:00:00Z"  # these tests compare exports: the clock must not follow the wall

INDEX = st.integers(min_value=0, max_value=10_000)
CALLERS: list[str | None] = [token for _, _, token in MEMBERS] + [None]
WHO = st.just(0) | st.integers(0, len(CALLERS) - 1)  # the owner often: most steps succeed
NAMES = st.sampled_from(["a", "b", "A", "Finance", "Payroll", "Q3.xlsx", "x.txt", "doc"])
RECIPIENTS = [
    "bob@contoso.example",
    "CAROL@contoso.example",
    "dan@contoso.example",
    "kim@contoso.example",
    "team@contoso.example",
    "eve@outside.example",
]
PAGE = 2  # $top: every listing of more than two items is paged
DOWNLOAD_URL = "@microsoft.graph.downloadUrl"
COLLECT = os.environ.get("MOCKDRIVE_VIEW_COLLECT")
NO_SUCH_SHARE = "s!no-such-link-token"
# items that leave the caller's view are reported as deleted only when asked to
DELTA_PREFER = {"Prefer": "deltashowremovedasdeleted"}
EXTRA_GROUPS = 4  # the routes beyond children and delta, probed in turn


class Violation(AssertionError):
    pass


class Server:
    def __init__(self) -> None:
        self.server = MockDrive(initial_state(), state_factory=initial_state, clock=PINNED).start()
        # requests' bytes through http.client: a third of the client's CPU (tests/wire_client.py)
        self.session = WireSession()

    @property
    def state(self):
        return self.server.state

    def call(self, fn):
        return self.server.call(fn)

    def send(self, method: str, url: str, token: str | None = None, **kwargs: Any):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if url.startswith("/"):
            url = self.server.url + url
        response = self.session.request(method, url, headers=headers, timeout=60, **kwargs)
        assert response.status_code < 500, f"{method} {url}: {response.status_code} {response.text}"
        return response


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    started = Server()
    ViewMachine.server = started
    yield started
    started.session.close()
    started.server.stop()


# -- the oracle: computed by hand from the state, never through the model's helpers -------------
class Oracle:
    """What each caller may see in one state (runs on the server's loop)."""

    def __init__(self, state) -> None:
        self.state = state
        self.store = state.store
        self.items = state.store.items
        self.now = state.clock.moment()
        self._groups: dict[str, set[str]] = {}  # by user id: the state stands still meanwhile

    def user(self, token: str | None):
        return self.state.directory.by_token(token) if token else None

    def groups_of(self, user) -> set[str]:
        """The groups whose member list names ``user`` (read only by the caller)."""
        found = self._groups.get(user.id)
        if found is None:
            groups = self.state.directory.groups.values()
            found = self._groups[user.id] = {g.id for g in groups if user.id in g.member_ids}
        return found

    def holds(self, permission, user) -> bool:
        if user is None or permission.pending:
            return False
        if permission.expiration and parse_time(permission.expiration) <= self.now:
            return False
        ids = {user.id} | self.groups_of(user)
        link = permission.link
        if link is not None:
            emails = {e.casefold() for e in link.member_emails}
            return bool(ids & set(link.member_ids)) or user.email.casefold() in emails
        if permission.grantee_id is not None:
            return permission.grantee_id in ids
        email = permission.invitation_email
        return email is not None and email.casefold() == user.email.casefold()

    def chain(self, item: Item) -> list[Item]:
        chain, current = [item], item
        while current.inherits and current.parent_id is not None:
            current = self.items[current.parent_id]
            chain.append(current)
        return chain

    def owns(self, user, item: Item) -> bool:
        owner = self.store.drives[item.drive_id].owner_id
        return user is not None and (owner == user.id or owner in self.groups_of(user))

    def roles(self, user, item: Item) -> set[str]:
        if user is None:
            return set()
        roles = {"owner"} if self.owns(user, item) else set()
        for holder in self.chain(item):
            for permission in holder.permissions:
                if self.holds(permission, user):
                    roles.update(permission.roles)
        return roles

    def reads(self, user, item: Item) -> bool:
        return bool(self.roles(user, item))

    def writes(self, user, item: Item) -> bool:
        return bool(self.roles(user, item) & {"write", "owner"})

    def children(self, folder: Item) -> list[Item]:
        return [self.items[i] for i in (folder.children or {}).values()]

    def subtree(self, item: Item) -> list[Item]:
        result, stack = [], [item]
        while stack:
            current = stack.pop()
            result.append(current)
            stack.extend(self.children(current))
        return result

    def visible_children(self, user, folder: Item) -> list[Item]:
        return [c for c in self.children(folder) if self.reads(user, c)]

    def connected(self, user, folder: Item) -> list[Item]:
        """The folder and what is reachable below it through readable folders."""
        result, stack = [], [folder]
        while stack:
            current = stack.pop()
            result.append(current)
            stack.extend(self.visible_children(user, current))
        return result

    def search(self, user, folder: Item, needle: str) -> list[Item]:
        return [
            d
            for d in self.subtree(folder)
            if d is not folder and self.reads(user, d) and needle in d.name.casefold()
        ]

    def shared_with_me(self, user) -> list[Item]:
        if user is None:
            return []
        found = []
        for item in self.items.values():
            if self.owns(user, item):
                continue
            if any(not p.is_owner and self.holds(p, user) for p in item.permissions):
                found.append(item)
        return found

    def links(self) -> list[tuple[Item, Any]]:
        return sorted(
            (
                (item, p)
                for item in self.items.values()
                for p in item.permissions
                if p.link is not None
            ),
            key=lambda entry: entry[1].id,
        )

    def link_live(self, permission) -> bool:
        expiration = permission.expiration
        return not (expiration and parse_time(expiration) <= self.now)

    def may_use(self, user, item: Item, permission) -> bool:
        if not self.link_live(permission):
            return False
        if user is None and self.state.store.drives[item.drive_id].drive_type != "personal":
            return False  # the Shares API needs a signed-in caller on business drives
        link = permission.link
        reads = self.reads(user, item)
        if permission.has_password or link.password is not None:
            return reads
        if link.scope == "anonymous":
            return self.state.policy.anonymous_links or reads
        if user is None:
            return False
        if link.scope == "users":
            return self.link_member(user, permission) or reads
        return True  # organization: every signed-in member of the tenant

    def link_member(self, user, permission) -> bool:
        if user is None:
            return False
        link = permission.link
        ids = {user.id} | self.groups_of(user)
        emails = {e.casefold() for e in link.member_emails}
        return bool(ids & set(link.member_ids)) or user.email.casefold() in emails

    def may_redeem(self, user, item: Item, permission) -> bool:
        """Does ``Prefer: redeemSharingLink`` make ``user`` a member?"""
        link = permission.link
        if user is None or not self.link_live(permission) or link.password is not None:
            return False
        if link.scope == "users":
            return self.link_member(user, permission)
        return link.scope == "organization" or self.state.policy.anonymous_links

    def reached(self, link_item: Item, target: Item) -> bool:
        return any(a is link_item for a in self.chain(target))

    def path(self, item: Item) -> str:
        names = [item.name] if item.parent_id else []
        current = item
        while current.parent_id is not None:
            current = self.items[current.parent_id]
            if current.parent_id is not None:
                names.append(current.name)
        return "/" + "/".join(reversed(names))

    def onehub_role(self, user, item: Item) -> str | None:
        """Onehub: the drive's owner is Administrator everywhere; else the nearest role held."""
        if user is None:
            return None
        if self.owns(user, item):
            return "Administrator"
        for holder in self.chain(item):
            held = [p for p in holder.permissions if self.holds(p, user)]
            if held:
                native = [p.native_role for p in held if p.native_role]
                if (
                    native
                    and all(n == "Access Denied" for n in native)
                    and len(native) == len(held)
                ):
                    return None
                return "held"
        return None


# -- the machine --------------------------------------------------------------------------------
class ViewMachine(RuleBasedStateMachine):
    server: Server
    stats = RunStats()

    def __init__(self) -> None:
        super().__init__()
        self.stats["sequences"] += 1
        self.server.send("POST", "/_mockdrive/reset")
        self.log: list[str] = []
        self.tokens: dict[tuple[int, str], tuple[str, dict[str, str], set[str]]] = {}
        self.ever_seen: dict[int, set[str]] = {i: set() for i in range(len(CALLERS))}
        self.steps = 0
        self._drive_id: str | None = None

    # -- helpers ------------------------------------------------------------------------------
    def oracle_call(self, fn):
        return self.server.call(lambda: fn(Oracle(self.server.state)))

    def drive_id(self) -> str:
        """The tenant's one drive, looked up once per sequence (every URL names it, and each
        look-up is a hop onto the server's loop). No step adds or removes a drive, and the
        export → load step keeps every id."""
        if self._drive_id is None:
            self._drive_id = self.server.call(lambda: next(iter(self.server.state.store.drives)))
        return self._drive_id

    def item_id(self, index: int, folders: bool = False) -> str:
        def find(o: Oracle) -> str:
            items = sorted(o.items.values(), key=lambda i: (i.depth, i.id))
            if folders:
                items = [i for i in items if i.is_folder]
            return pick(items, index).id

        return self.oracle_call(find)

    def url(self, item_id: str, action: str = "") -> str:
        base = f"/v1.0/drives/{self.drive_id()}/items/{item_id}"
        return base + ("/" + action if action else "")

    def describe(self, item_id: str) -> str:
        def path(o: Oracle) -> str:
            item = o.items.get(item_id)
            return o.path(item) if item is not None else f"<gone {item_id}>"

        return self.oracle_call(path)

    def act(self, who: int, method: str, url: str, note: str = "", **kwargs: Any):
        token = CALLERS[who]
        response = self.server.send(method, url, token, **kwargs)
        self.stats["operations"] += 1
        self.stats["refused"] += response.status_code >= 400
        self.log.append(f"{name_of(who)}: {method} {note or url} → {response.status_code}")
        location = response.headers.get("Location")
        if response.status_code == 201 and location:  # a created item: its URL works for them
            got = self.follow(who, location, token, f"{method} {note}: Location")
            if got is not None and got.status_code != 200:
                self.fail(f"{method} {note}: Location", who, f"answers {got.status_code}")
        return response

    def fail(self, route: str, who: int, message: str) -> None:
        text = f"{route} as {name_of(who)}: {message}\nsteps so far:\n  " + "\n  ".join(
            self.log[-40:]
        )
        if COLLECT:
            with open(COLLECT, "a", encoding="utf-8") as out:
                record = {"route": route, "caller": name_of(who), "what": message}
                out.write(json.dumps({**record, "steps": self.log[-12:]}))
                out.write("\n")
            return
        raise Violation(text)

    # -- operations ---------------------------------------------------------------------------
    @initialize(
        writer=st.sampled_from(RECIPIENTS[:5]),
        reader=st.sampled_from(RECIPIENTS[:5]),
        inside=st.sampled_from(RECIPIENTS),
        link_scope=st.sampled_from(["anonymous", "organization", "users"]),
        copy_first=st.booleans(),
    )
    def team(self, writer: str, reader: str, inside: str, link_scope: str, copy_first: bool):
        """Start from fixtures/team.yaml's shape: /Finance shared (a writer, a reader),
        /Finance/Payroll stops inheriting and is shared with someone else only, a file in
        each, a link on /Finance; the writer may also write /Public (somewhere to copy to)."""
        root = self.item_id(0)
        for parent, name in ((root, "Finance"), ("Finance", "Payroll"), (root, "Public")):
            parent_id = root if parent == root else self.find("/" + parent)
            self.act(0, "POST", self.url(parent_id, "children"), f"create {name!r}",
                     json={"name": name, "folder": {}})  # fmt: skip
        for path in ("Finance/Budget.xlsx", "Finance/Payroll/Salaries 2024.xlsx", "Public/a.txt"):
            self.act(0, "PUT", self.url(root) + f":/{path}:/content", f"upload {path}",
                     data=path.encode())  # fmt: skip
        finance, payroll = self.find("/Finance"), self.find("/Finance/Payroll")
        public = self.find("/Public")
        for email, role, folder in ((writer, "write", finance), (reader, "read", finance),
                                    (writer, "write", public)):  # fmt: skip
            body = {"recipients": [{"email": email}], "roles": [role], "sendInvitation": False}
            note = f"invite {email} {role} on {self.describe(folder)}"
            self.act(0, "POST", self.url(folder, "invite"), note, json=body)
        body = {"recipients": [{"email": inside}], "roles": ["read"],
                "retainInheritedPermissions": False, "sendInvitation": False}  # fmt: skip
        note = f"invite {inside} read on /Finance/Payroll, stop inheriting"
        self.act(0, "POST", self.url(payroll, "invite"), note, json=body)
        body = {"type": "view", "scope": link_scope}
        if link_scope == "users":
            body["recipients"] = [{"email": reader}]
        self.act(0, "POST", self.url(finance, "createLink"), f"createLink {body} on /Finance",
                 json=body)  # fmt: skip
        if copy_first:  # the writer copies /Finance (Payroll inside is not theirs) to /Public
            members = {email.casefold(): i for i, (_, email, _) in enumerate(MEMBERS)}
            self._copy(members.get(writer.casefold(), 1), finance, public)  # the group: Bob

    def find(self, path: str) -> str:
        def walk(o: Oracle) -> str:
            return next(i.id for i in o.items.values() if o.path(i) == path)

        return self.oracle_call(walk)

    @rule(who=WHO, parent=INDEX, name=NAMES)
    def create_folder(self, who: int, parent: int, name: str) -> None:
        target = self.item_id(parent, folders=True)
        body = {"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": "rename"}
        self.act(who, "POST", self.url(target, "children"),
                 f"create {name!r} in {self.describe(target)}", json=body)  # fmt: skip

    @rule(who=WHO, parent=INDEX, name=NAMES, content=st.binary(max_size=12))
    def upload(self, who: int, parent: int, name: str, content: bytes) -> None:
        target = self.item_id(parent, folders=True)
        url = self.url(target) + f":/{name}:/content"
        self.act(who, "PUT", url, f"upload {name!r} into {self.describe(target)}", data=content)

    @rule(who=WHO, victim=INDEX, name=NAMES)
    def rename(self, who: int, victim: int, name: str) -> None:
        target = self.item_id(victim)
        self.act(who, "PATCH", self.url(target), f"rename {self.describe(target)} to {name!r}",
                 json={"name": name})  # fmt: skip

    @rule(who=WHO, victim=INDEX, parent=INDEX)
    def move(self, who: int, victim: int, parent: int) -> None:
        target, to = self.item_id(victim), self.item_id(parent, folders=True)
        body = {"parentReference": {"id": to}}
        self.act(who, "PATCH", self.url(target),
                 f"move {self.describe(target)} into {self.describe(to)}", json=body)  # fmt: skip

    @rule(who=WHO, victim=INDEX)
    def delete(self, who: int, victim: int) -> None:
        target = self.item_id(victim)
        self.act(who, "DELETE", self.url(target), f"delete {self.describe(target)}")

    @rule(who=WHO, victim=INDEX, parent=INDEX)
    def copy(self, who: int, victim: int, parent: int) -> None:
        self._copy(who, self.item_id(victim), self.item_id(parent, folders=True))

    @rule(who=st.integers(1, 4), victim=INDEX, parent=INDEX)
    def copy_what_they_see(self, who: int, victim: int, parent: int) -> None:
        """A member copies a folder they can read into one they can write (a random pair is
        mostly refused)."""
        token = CALLERS[who]

        def choose(o: Oracle):
            user = o.user(token)
            ordered = sorted(o.items.values(), key=lambda i: (i.depth, i.id))
            sources = [i for i in ordered if i.parent_id and o.reads(user, i)]
            targets = [i for i in ordered if i.is_folder and o.writes(user, i)]
            if not sources or not targets:
                return None
            return pick(sources, victim).id, pick(targets, parent).id

        chosen = self.oracle_call(choose)
        if chosen is not None:
            self._copy(who, *chosen)

    def _copy(self, who: int, source: str, to: str) -> None:
        """A copy holds exactly what the copier could see of the source."""
        user_token = CALLERS[who]

        def view(o: Oracle) -> Any:
            item = o.items[source]
            return (
                tree_of(o, o.user(user_token), item) if o.reads(o.user(user_token), item) else None
            )

        expected = self.oracle_call(view)
        body = {"parentReference": {"id": to}, "name": "copy of " + source[-6:]}
        note = f"copy {self.describe(source)} into {self.describe(to)}"
        response = self.act(who, "POST", self.url(source, "copy"), note, json=body)
        if response.status_code != 202:
            return
        monitor = self.server.send("GET", response.headers["Location"])
        if monitor.status_code != 200:
            self.fail("copy monitor", who, f"Location answers {monitor.status_code}")
            return
        new_id = monitor.json()["resourceId"]

        def copied(o: Oracle) -> Any:
            item = o.items.get(new_id)
            return None if item is None else tree_of(o, None, item, everything=True)

        got = self.oracle_call(copied)
        self.stats["copies checked"] += 1
        if expected is None or got is None:
            self.fail("POST copy", who, f"copied what the copier cannot read: {got}")
        elif got[1] != expected[1]:
            self.fail("POST copy", who,
                      f"the copy holds {got[1]}, the copier could see {expected[1]}")  # fmt: skip

    @rule(
        who=WHO,
        victim=INDEX,
        recipients=st.lists(st.sampled_from(RECIPIENTS), min_size=1, max_size=2),
        role=st.sampled_from(["read", "write"]),
        retain=st.booleans(),
    )
    def invite(self, who: int, victim: int, recipients: list[str], role: str, retain: bool):
        target = self.item_id(victim)
        body = {
            "recipients": [{"email": r} for r in recipients],
            "roles": [role],
            "retainInheritedPermissions": retain,
            "requireSignIn": True,
            "sendInvitation": False,
        }
        note = f"invite {recipients} {role} on {self.describe(target)} retain={retain}"
        self.act(who, "POST", self.url(target, "invite"), note, json=body)

    @rule(
        who=WHO,
        victim=INDEX,
        kind=st.sampled_from(["view", "edit"]),
        scope=st.sampled_from(["anonymous", "organization", "users"]),
        recipients=st.lists(st.sampled_from(RECIPIENTS), max_size=2),
        password=st.booleans(),
        expires_in_days=st.none() | st.integers(1, 5),
    )
    def create_link(self, who, victim, kind, scope, recipients, password, expires_in_days):
        target = self.item_id(victim)
        body: dict[str, Any] = {"type": kind, "scope": scope}
        if scope == "users" and recipients:
            body["recipients"] = [{"email": r} for r in recipients]
        if password:
            body["password"] = "s3cret!"
        if expires_in_days is not None:
            now = self.server.call(lambda: self.server.state.clock.moment())
            body["expirationDateTime"] = format_time(now + timedelta(days=expires_in_days))
        note = f"createLink {body} on {self.describe(target)}"
        self.act(who, "POST", self.url(target, "createLink"), note, json=body)

    def share(self, which: int) -> tuple[str, str, str] | None:
        """(share id, item id, permission id) of the ``which``-th link, or None."""

        def find(o: Oracle):
            entry = pick(o.links(), which)
            return None if entry is None else (entry[1].link.share_id, entry[0].id, entry[1].id)

        return self.oracle_call(find)

    @rule(who=WHO, which=INDEX)
    def redeem(self, who: int, which: int) -> None:
        found = self.share(which)
        if found is None:
            return
        share_id, item_id, permission_id = found
        token = CALLERS[who]

        def expected(o: Oracle):
            item = o.items[item_id]
            p = next(p for p in item.permissions if p.id == permission_id)
            user = o.user(token)
            return o.link_member(user, p) or o.may_redeem(user, item, p)

        member_after = self.oracle_call(expected)
        self.act(who, "GET", f"/v1.0/shares/{share_id}/driveItem",
                 f"redeem the link {permission_id[:8]} on {self.describe(item_id)}",
                 headers={"Prefer": "redeemSharingLink"})  # fmt: skip

        def member(o: Oracle):
            item = o.items.get(item_id)
            p = next((p for p in (item.permissions if item else []) if p.id == permission_id), None)
            return p is not None and o.link_member(o.user(token), p)

        self.stats["redeems checked"] += 1
        if token is not None and self.oracle_call(member) != member_after:
            self.fail("redeem", who, f"link member: {not member_after}, expected {member_after}")

    @rule(who=WHO, which=INDEX, recipients=st.lists(st.sampled_from(RECIPIENTS), min_size=1,
                                                     max_size=2))  # fmt: skip
    def grant(self, who: int, which: int, recipients: list[str]) -> None:
        found = self.share(which)
        if found is None:
            return
        body = {"recipients": [{"email": r} for r in recipients], "roles": ["read"]}
        note = f"grant {recipients} the link on {self.describe(found[1])}"
        self.act(who, "POST", f"/v1.0/shares/{found[0]}/permission/grant", note, json=body)

    @rule(days=st.integers(1, 40))
    def advance_clock(self, days: int) -> None:
        response = self.server.send("POST", "/_mockdrive/clock", json={"days": days})
        self.log.append(f"admin: advance the clock {days} days → {response.status_code}")

    @rule()
    def export_load(self) -> None:
        exported = self.server.send("GET", "/_mockdrive/state")
        loaded = self.server.send("PUT", "/_mockdrive/state", data=exported.content)
        assert loaded.status_code == 200, loaded.text[:2000]
        self.log.append("admin: export → load")
        self.stats["reloads"] += 1

    # -- after every step ---------------------------------------------------------------------
    @invariant()
    def every_route_shows_exactly_the_view(self) -> None:
        self.stats["steps"] += 1
        self.steps += 1
        for who in range(len(CALLERS)):
            self.probe(who)

    def probe(self, who: int) -> None:
        token = CALLERS[who]
        step = self.steps

        def plan(o: Oracle) -> dict[str, Any]:
            user = o.user(token)
            readable = [i for i in o.items.values() if o.reads(user, i)]
            folders = sorted((i for i in readable if i.is_folder), key=lambda i: (i.depth, i.id))
            hidden = sorted((i for i in o.items.values() if not o.reads(user, i)),
                            key=lambda i: i.id)  # fmt: skip
            folder = pick(folders, step + who)
            result: dict[str, Any] = {"readable": {i.id for i in readable}}
            result["hidden"] = pick(hidden, step).id if hidden else None
            result["shared"] = names_of(o, o.shared_with_me(user))
            if folder is not None:
                result["folder"] = folder.id
                result["path"] = o.path(folder)
                result["children"] = names_of(o, o.visible_children(user, folder))
                result["delta"] = names_of(o, o.connected(user, folder))
                result["search"] = names_of(o, o.search(user, folder, "a"))
                result["writes"] = o.writes(user, folder)
                effective = [p for h in o.chain(folder) for p in h.permissions]
                result["permissions"] = {p.id for p in effective}
                result["own_permissions"] = {p.id for p in effective if o.holds(p, user)}
                role = o.onehub_role(user, folder)
                if role is not None:
                    result["onehub"] = o.state.onehub.number("node", folder.id)
                    result["onehub_children"] = sorted(
                        c.name for c in o.children(folder) if o.onehub_role(user, c) is not None
                    )
            result["files"] = {i.id: i.content or b"" for i in readable if not i.is_folder}
            return result

        view = self.oracle_call(plan)
        self.ever_seen[who] |= view["readable"]
        self.stats["probes"] += 1
        self.check_delta_tokens(who, view)
        # every step: children and delta; the other routes in turn (a bounded probe per step)
        extra = (step + who) % EXTRA_GROUPS
        if extra == 0:
            self.check_shared_with_me(who, view)
            self.check_shares(who)
        if extra == 1 and view["hidden"] is not None:
            self.check_hidden(who, view["hidden"])
        if "folder" not in view:
            return
        folder, path = view["folder"], view["path"]
        got = self.listing(who, self.url(folder, "children") + f"?$top={PAGE}", view)
        self.compare(f"GET {path} children", who, got, view["children"])
        got, link = self.delta_round(who, self.url(folder, "delta") + f"?$top={PAGE}", view)
        self.compare(f"GET {path} delta (first round)", who, got, view["delta"])
        if link is not None:
            existed = self.server.call(lambda: set(self.server.state.store.items))
            # the local copy a client keeps: what it was shown, minus what it should not have been
            shown = {i: n for i, n in got.items() if i in view["delta"]}
            self.tokens[(who, folder)] = (link, shown, self.parents_of(shown), existed)
        if extra == 1:
            got = self.listing(who, self.url(folder) + "?$expand=children", view, key="children")
            self.compare(f"GET {path}?$expand=children", who, got, view["children"])
            got = self.listing(who, self.url(folder, "search(q='a')") + f"?$top={PAGE}", view)
            self.compare(f"GET {path} search(q='a')", who, got, view["search"])
        if extra == 2:
            self.check_batch(who, folder, path, view)
        if extra == 3:
            self.check_permissions(who, folder, path, view)
            self.check_onehub(who, path, view)

    def check_onehub(self, who: int, path: str, view: dict) -> None:
        """Onehub's listing of the same folder: the children the caller has a Onehub role on."""
        if "onehub" not in view:
            return
        response = self.server.send("GET", f"/folders/{view['onehub']}", CALLERS[who])
        if response.status_code != 200:
            self.fail(f"Onehub GET /folders ({path})", who, f"{response.status_code}")
            return
        rows = response.json()["items"]
        names = sorted((r.get("folder") or r.get("file"))["filename"] for r in rows)
        if names != view["onehub_children"] and response.json()["total_pages"] == 1:
            self.fail(f"Onehub GET /folders ({path})", who,
                      f"lists {names}, expected {view['onehub_children']}")  # fmt: skip

    # -- one route each -----------------------------------------------------------------------
    def listing(self, who: int, url: str, view: dict, key: str = "value") -> dict[str, str] | None:
        """id → name of everything a (paged) listing returns, following each nextLink; checks
        every downloadUrl on the way. None when the route refused."""
        token, found, first = CALLERS[who], {}, url
        while url:
            response = self.follow(who, url, token, f"GET {first}")
            if response is None:
                return None
            if response.status_code != 200:
                self.fail(f"GET {url}", who, f"answered {response.status_code}: {response.text}")
                return None
            body = response.json()
            for entry in body.get(key, []):
                self.check_entry(who, entry, view, url)
                found[entry["id"]] = entry.get("name")
            url = body.get("@odata.nextLink" if key == "value" else "children@odata.nextLink")
        return found

    def check_entry(self, who: int, entry: dict, view: dict, route: str) -> None:
        url = entry.get(DOWNLOAD_URL)
        if url is None:
            return
        if entry["id"] not in view["files"]:
            self.fail(route, who, f"a downloadUrl for {entry.get('name')!r}, which it cannot read")
            return
        got = self.follow(who, url, None, route)
        if got is None:
            return
        if got.status_code != 200 or got.content != view["files"][entry["id"]]:
            self.fail(route, who, f"the downloadUrl of {entry.get('name')!r} answers "
                                  f"{got.status_code}")  # fmt: skip

    def follow(self, who: int, url: str, token: str | None, route: str, **kwargs: Any):
        """GET a URL the service handed out; None (and a violation) if it leads nowhere."""
        try:
            return self.server.send("GET", url, token, **kwargs)
        except requests.ConnectionError:
            pass  # (outside the handler: the violation without the socket's traceback)
        self.fail(route, who, f"handed out {url!r}, which does not reach the server")
        return None

    def compare(self, route: str, who: int, got: dict | None, expected: dict[str, str]) -> None:
        if got is None:
            return
        extra = {i: n for i, n in got.items() if i not in expected}
        missing = {i: n for i, n in expected.items() if i not in got}
        wrong = {i: (got[i], n) for i, n in expected.items() if i in got and got[i] != n}
        if extra or missing or wrong:
            self.fail(route, who, f"extra {self.paths(extra)}, missing {self.paths(missing)}, "
                                  f"misnamed {wrong}")  # fmt: skip

    def paths(self, found: dict[str, str]) -> list[str]:
        return sorted(self.describe(i) for i in found)

    def delta_round(self, who: int, url: str, view: dict):
        """(id → name of a whole round, its deltaLink); deleted entries map to None."""
        token, found, link, first = CALLERS[who], {}, None, url
        self.parents: dict[str, str | None] = {}  # the round's parentReference ids
        while url:
            response = self.follow(who, url, token, f"GET {first}", headers=dict(DELTA_PREFER))
            if response is None:
                return None, None
            if response.status_code != 200:
                self.fail(f"GET {url}", who, f"answered {response.status_code}: {response.text}")
                return None, None
            body = response.json()
            for entry in body["value"]:
                self.check_entry(who, entry, view, url)
                found[entry["id"]] = None if "deleted" in entry else entry.get("name")
                self.parents[entry["id"]] = (entry.get("parentReference") or {}).get("id")
            url, link = body.get("@odata.nextLink"), body.get("@odata.deltaLink")
        return found, link

    def parents_of(self, ids) -> dict[str, str | None]:
        items = self.server.state.store.items
        return self.server.call(lambda: {i: items[i].parent_id for i in ids if i in items})

    def check_delta_tokens(self, who: int, view: dict) -> None:
        """Follow the deltaLinks this caller kept: later rounds name nothing outside the view."""
        token = CALLERS[who]
        for (owner, folder), (link, local, parents, existed) in list(self.tokens.items()):
            if owner != who:
                continue
            del self.tokens[(owner, folder)]

            def now(o: Oracle, folder=folder):
                item = o.items.get(folder)
                user = o.user(token)
                if item is None or not o.reads(user, item):
                    return None
                return names_of(o, o.connected(user, item))

            current = self.oracle_call(now)
            response = self.follow(who, link, token, "GET deltaLink", headers=dict(DELTA_PREFER))
            if current is None or response is None or response.status_code == 410:
                continue  # the folder is gone for the caller, or a resync (after a load)
            if response.status_code != 200:
                self.fail("GET deltaLink", who, f"answered {response.status_code}")
                continue
            got, next_link = self.delta_round(who, link, view)
            if got is None:
                continue
            route = f"delta later round of {self.describe(folder)}"
            for item_id, name in got.items():
                if name is not None and item_id not in current:
                    self.fail(route, who, f"names {name!r} ({self.describe(item_id)}), not in view")
                if name is None and item_id not in self.ever_seen[who]:
                    self.fail(route, who, f"reports the deletion of {item_id}, never visible")
            for item_id, name in got.items():
                if name is None:  # a deleted folder takes what the client holds below it
                    for below in descendants(parents, local, item_id):
                        local.pop(below, None)
                elif item_id in current:  # (a leak is reported above, not kept)
                    local[item_id] = name
                    parents[item_id] = self.parents.get(item_id)
            stale = {i: n for i, n in local.items() if i not in current}
            if stale:
                self.fail(route, who, f"left the view unreported: {sorted(stale.values())}")
            unreported = {i: n for i, n in current.items() if i not in local and i not in existed}
            if unreported:
                self.fail(route, who, f"new items not reported: {self.paths(unreported)}")
            if next_link is not None:
                existed = self.server.call(lambda: set(self.server.state.store.items))
                self.tokens[(who, folder)] = (next_link, current, self.parents_of(current), existed)

    def check_batch(self, who: int, folder: str, path: str, view: dict) -> None:
        """children, delta, search and sharedWithMe as $batch steps: the same view."""
        base = self.url(folder).removeprefix("/v1.0")
        body = {"requests": [
            {"id": "1", "method": "GET", "url": base + "/children"},
            {"id": "2", "method": "GET", "url": base + "/delta", "headers": DELTA_PREFER},
            {"id": "3", "method": "GET", "url": base + "/search(q='a')"},
            {"id": "4", "method": "GET", "url": "/me/drive/sharedWithMe"},
        ]}  # fmt: skip
        response = self.server.send("POST", "/v1.0/$batch", CALLERS[who], json=body)
        if response.status_code != 200:
            self.fail("POST $batch", who, f"answered {response.status_code}")
            return
        answers = {r["id"]: r for r in response.json()["responses"]}
        for step, route, expected in (("1", "children", view["children"]),
                                      ("2", "delta", view["delta"]),
                                      ("3", "search(q='a')", view["search"]),
                                      ("4", "sharedWithMe", view["shared"])):  # fmt: skip
            answer = answers[step]
            if answer["status"] != 200:
                self.fail(f"$batch {path} {route}", who, f"step answered {answer['status']}")
                continue
            got = {}
            for entry in answer["body"]["value"]:
                self.check_entry(who, entry, view, f"$batch {route}")
                got[entry["id"]] = entry.get("name")
            if answer["body"].get("@odata.nextLink"):  # a page: the rest by the link
                more = self.listing(who, answer["body"]["@odata.nextLink"], view)
                got.update(more or {})
            self.compare(f"$batch {path} {route}", who, got, expected)

    def check_permissions(self, who: int, folder: str, path: str, view: dict) -> None:
        response = self.server.send("GET", self.url(folder, "permissions"), CALLERS[who])
        if response.status_code != 200:
            self.fail(f"GET {path} permissions", who, f"answered {response.status_code}")
            return
        listed = {p["id"] for p in response.json()["value"]}
        expected = view["permissions"] if view["writes"] else view["own_permissions"]
        if listed != expected:
            counts = f"extra {len(listed - expected)}, missing {len(expected - listed)}"
            self.fail(f"GET {path} permissions", who, counts)
        readable_files = sorted(view["files"])
        first = self.steps % max(1, len(readable_files))
        targets = [folder, *readable_files[first : first + 1]]
        for target in targets:
            for action in ("thumbnails", "versions", "content"):
                if action == "content" and target == folder:
                    continue
                got = self.server.send("GET", self.url(target, action), CALLERS[who])
                if got.status_code != 200:
                    route = f"GET {self.describe(target)} {action}"
                    self.fail(route, who, f"answered {got.status_code}")
                elif action == "content" and got.content != view["files"][target]:
                    self.fail(f"GET {self.describe(target)} content", who, "other bytes")

    def check_hidden(self, who: int, item_id: str) -> None:
        """An item the caller cannot read: every route answers as for an id that does not
        exist."""
        token = CALLERS[who]
        for action in ("", "children", "delta", "thumbnails", "versions", "permissions",
                       "search(q='a')"):  # fmt: skip
            got = self.server.send("GET", self.url(item_id, action), token)
            absent = self.server.send("GET", self.url("01NOSUCHITEM" + "A" * 22, action), token)
            if got.status_code != absent.status_code:
                self.fail(f"GET hidden item {action or 'item'}", who,
                          f"{self.describe(item_id)}: {got.status_code} where a missing id "
                          f"answers {absent.status_code}")  # fmt: skip

    def check_shared_with_me(self, who: int, view: dict) -> None:
        token = CALLERS[who]
        if token is None:
            return
        got = self.listing(who, f"/v1.0/me/drive/sharedWithMe?$top={PAGE}", view)
        self.compare("GET sharedWithMe", who, got, view["shared"])

    def check_shares(self, who: int) -> None:
        """Every link of the drive, used (not redeemed) by this caller."""
        token = CALLERS[who]
        absent = self.server.send("GET", f"/v1.0/shares/{NO_SUCH_SHARE}/driveItem", token)

        def plan(o: Oracle):
            user = o.user(token)
            result = []
            for item, p in o.links()[:3]:
                entry: dict[str, Any] = {
                    "share": p.link.share_id,
                    "item": item.id,
                    "path": o.path(item),
                    "scope": p.link.scope,
                    "may": o.may_use(user, item, p),
                    "writer": o.writes(user, item),
                    "caller": (user.id, user.email) if user else (),
                    "files": {i.id: i.content or b"" for i in o.subtree(item)
                              if not i.is_folder and (o.reached(item, i) or o.reads(user, i))},
                }  # fmt: skip
                if item.is_folder:
                    entry["children"] = names_of(
                        o, [c for c in o.children(item) if c.inherits or o.reads(user, c)]
                    )
                result.append(entry)
            return result

        for entry in self.oracle_call(plan):
            route = f"/shares/{{{entry['scope']} link on {entry['path']}}}"
            url = f"/v1.0/shares/{entry['share']}/driveItem"
            got = self.server.send("GET", url, token)
            if not entry["may"]:
                if (got.status_code, shape(got)) != (absent.status_code, shape(absent)):
                    self.fail(f"GET {route}/driveItem", who,
                              f"{got.status_code} {got.text[:200]} where a share id that does "
                              f"not exist answers {absent.status_code}")  # fmt: skip
                continue
            if got.status_code != 200:
                self.fail(f"GET {route}/driveItem", who, f"answered {got.status_code}")
                continue
            view = {"files": entry["files"]}
            if "children" in entry:
                found = self.listing(who, url + f"/children?$top={PAGE}", view)
                self.compare(f"GET {route}/driveItem/children", who, found, entry["children"])
                found = self.listing(who, url + "?$expand=children", view, key="children")
                self.compare(f"GET {route}/driveItem?$expand=children", who, found,
                             entry["children"])  # fmt: skip
            permission = self.server.send("GET", f"/v1.0/shares/{entry['share']}/permission", token)
            if permission.status_code == 200 and not entry["writer"]:
                named = {u.get("id") or u.get("email") for u in identities(permission.json())}
                others = named - {*entry["caller"], None}
                if others:
                    self.fail(f"GET {route}/permission", who,
                              f"names {len(others)} other member(s) to a non-writer")  # fmt: skip

    def teardown(self) -> None:
        self.stats.sequence_done("view")


# -- small pieces --------------------------------------------------------------------------------
def descendants(parents: dict[str, str | None], local: dict[str, str], top: str) -> set[str]:
    """``top`` and everything the client holds below it (by the parents it was told)."""
    found = {top}
    for item_id in local:
        chain, current = [], item_id
        while current is not None and current not in found and len(chain) <= len(parents):
            chain.append(current)
            current = parents.get(current)
        if current in found:
            found.update(chain)
    return found


def name_of(who: int) -> str:
    token = CALLERS[who]
    return token.removesuffix("-token") if token else "anonymous"


def names_of(o: Oracle, items: list[Item]) -> dict[str, str]:
    return {i.id: i.name for i in items}


def tree_of(o: Oracle, user, item: Item, everything: bool = False) -> tuple[str, list]:
    """(name, sorted children trees) of what ``user`` sees below ``item`` (everything: all)."""
    below = o.children(item) if everything else o.visible_children(user, item)
    return item.name, sorted(tree_of(o, user, c, everything) for c in below)


def identities(data: Any) -> Iterator[dict]:
    """Every ``user`` object in a rendered permission."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "user" and isinstance(value, dict):
                yield value
            else:
                yield from identities(value)
    elif isinstance(data, list):
        for value in data:
            yield from identities(value)


def shape(response: requests.Response) -> Any:
    """The keys of an error body and its code: what two 'not found' answers must share."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    error = body.get("error", {}) if isinstance(body, dict) else {}
    return sorted(body) if isinstance(body, dict) else None, error.get("code")


def test_every_route_shows_exactly_what_the_caller_may_see(server: Server) -> None:
    """The quick seeded run: 14 sequences of up to 12 steps."""
    run = ViewMachine.TestCase
    run.settings = machine_settings(examples=14, steps=12)
    ViewMachine.stats.clear()
    run().runTest()
    found = "violations collected in " + COLLECT if COLLECT else "0 violations"
    stats = ViewMachine.stats
    checked = f"{stats['copies checked']} copies and {stats['redeems checked']} redeems checked"
    print("\n" + stats.report("view machine") + ", " + checked, found)
