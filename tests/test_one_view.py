"""One view per caller: what a caller sees below an item (``model/view.py``) against the plain
computation, and every walk over HTTP (children, $expand=children, delta first and later rounds,
search, copy, Onehub listings, the dashboard's per-user view, $batch steps) kept to it.

Scenario: Bob writes /Finance through the Finance group; /Finance/Payroll stops inheriting and
only Carol (and Ada, the owner) can see it.
"""

from __future__ import annotations

import random

import pytest
import requests
from conftest import follow_delta

from mockdrive.model.access import entries
from mockdrive.model.grants import INDEX_FROM
from mockdrive.model.identity import Group
from mockdrive.model.links import SharingLink
from mockdrive.model.permissions import Permission, roles_of
from mockdrive.model.state import State
from mockdrive.model.view import roles_within, visible_below

TEAM = {
    "users": [
        {"displayName": "Ada Owner", "email": "ada@contoso.example", "token": "ada-token"},
        {"displayName": "Bob Analyst", "email": "bob@contoso.example", "token": "bob-token"},
        {
            "displayName": "Carol Controller",
            "email": "carol@contoso.example",
            "token": "carol-token",
        },
    ],
    "groups": [
        {
            "id": "finance-team",
            "displayName": "Finance Team",
            "email": "finance@contoso.example",
            "members": ["bob@contoso.example", "carol@contoso.example"],
        },
    ],
    "drives": [
        {
            "owner": "ada@contoso.example",
            "driveType": "business",
            "root": {
                "children": [
                    {
                        "name": "Finance",
                        "folder": {},
                        "permissions": [{"group": "finance-team", "roles": ["write"]}],
                        "children": [
                            {"name": "Q3.xlsx", "file": {}, "content": "q3"},
                            {
                                "name": "Payroll",
                                "folder": {},
                                "inherits": False,
                                "permissions": [
                                    {"user": "carol@contoso.example", "roles": ["write"]}
                                ],
                                "children": [
                                    {"name": "Salaries 2024.xlsx", "file": {}, "content": "secret"}
                                ],
                            },
                        ],
                    },
                    {
                        "name": "Desk",
                        "folder": {},
                        "permissions": [{"user": "bob@contoso.example", "roles": ["write"]}],
                    },
                ]
            },
        }
    ],
}
HIDDEN = {"Payroll", "Salaries 2024.xlsx"}


@pytest.fixture
def team(mock_drive):
    mock_drive.load(TEAM)
    return mock_drive


def bob(team) -> requests.Session:
    return team.session_for("bob@contoso.example")


# -- the view against the plain computation ----------------------------------------------------
def plain_view(state: State, user, start) -> list[tuple[str, set[str]]]:
    """``roles_of`` for every item below ``start``, kept when every item from ``start`` down to
    it is visible: the linear computation the view must agree with."""
    store = state.store
    result = []
    for item in store.iter_subtree(start):
        chain = [item]
        while chain[-1] is not start:
            chain.append(store.items[chain[-1].parent_id])
        if all(roles_of(store, user, link) for link in chain):
            result.append((item.id, roles_of(store, user, item)))
    return result


def random_state(seed: int, permissions_per_item: int) -> tuple[State, list]:
    """A random tree with inheritance breaks and permissions of every kind (user, group,
    pending invitation, invited address, link member), some items holding more than
    ``INDEX_FROM`` permissions so that the indexed path is taken."""
    rng = random.Random(seed)
    state = State(seed)
    users = [state.add_user(f"U{n}", f"u{n}@x.example", token=f"t{n}") for n in range(6)]
    group = state.directory.add_group(Group("g1", "G1", [users[1].id, users[2].id], None))
    drive = state.add_drive(users[0])
    store = state.store
    folders = [store.root(drive)]
    for n in range(40):
        parent = rng.choice(folders)
        item = state.make_path(drive, store.path_of(parent).rstrip("/") + f"/i{n}",
                               is_folder=rng.random() < 0.5)  # fmt: skip
        if item.is_folder:
            folders.append(item)
        if rng.random() < 0.3:
            item.inherits = False
    everything = list(store.items.values())
    for item in everything:
        count = rng.choice([0, 0, 1, permissions_per_item])
        for k in range(count):
            kind = rng.choice(["user", "group", "pending", "address", "link", "filler"])
            roles = [rng.choice(["read", "write"])]
            pid = f"p{item.id}-{k}"
            if kind == "user":
                p = Permission(pid, item.id, roles, grantee_id=rng.choice(users).id)
            elif kind == "group":
                p = Permission(pid, item.id, roles, grantee_id=group.id)
            elif kind == "pending":
                p = Permission(pid, item.id, roles, grantee_id=rng.choice(users).id, pending=True)
            elif kind == "address":
                who = rng.choice(users)
                p = Permission(pid, item.id, roles, invitation_email=who.email.upper())
            elif kind == "link":
                scope = rng.choice(["users", "organization", "anonymous"])
                link = SharingLink(type="view", scope=scope, token=pid, created_by=users[0].id)
                link.member_ids.append(rng.choice([*(u.id for u in users), group.id]))
                p = Permission(pid, item.id, ["read"], link=link)
            else:  # someone else's grant: makes long lists
                p = Permission(pid, item.id, roles, grantee_id=f"other-{k}")
            item.permissions.append(p)
            store.drives[drive.id].shared_item_ids.add(item.id)
    return state, users


@pytest.mark.parametrize("per_item", [3, INDEX_FROM - 1, INDEX_FROM, INDEX_FROM + 9])
@pytest.mark.parametrize("seed", range(6))
def test_the_view_agrees_with_the_plain_computation(seed, per_item):
    state, users = random_state(seed, per_item)
    store = state.store
    for user in users:
        for start in list(store.items.values()):
            seen = [(item.id, set(roles)) for item, roles in visible_below(store, user, start)]
            assert seen == plain_view(state, user, start), (user.email, store.path_of(start))
            ids = {item_id for item_id, _ in seen}
            for item in store.iter_subtree(start):
                expected = roles_of(store, user, item) if item.id in ids else set()
                assert roles_within(store, user, start, item) == expected


def plain_entries(state: State, user) -> list[tuple[str, tuple[str, ...]]]:
    """(item id, exceptions) of every item where a permission applies to ``user``, computed
    item by item: the non-inheriting children of the entry and of every item below it reached
    through visible items that are not another entry."""
    store = state.store
    held = [
        item
        for drive in store.drives.values()
        for item in sorted((store.items[i] for i in drive.shared_item_ids), key=lambda i: i.id)
        if any(p.holds(user) for p in item.permissions)
    ]
    entry_ids = {item.id for item in held}
    result = []
    for entry in held:
        stops = []
        for folder in store.iter_subtree(entry):
            chain = [folder]
            while chain[-1] is not entry:
                chain.append(store.items[chain[-1].parent_id])
            if not all(roles_of(store, user, link) for link in chain):
                continue
            if any(link.id in entry_ids for link in chain[:-1]):
                continue
            stops += [store.path_of(c) for c in store.iter_children(folder) if not c.inherits]
        result.append((entry.id, tuple(sorted(stops))))
    return result


@pytest.mark.parametrize("seed", range(6))
def test_the_access_entries_agree_with_the_plain_computation(seed):
    """The dashboard's per-user view (``model.access.entries``) keeps to the one view."""
    state, users = random_state(seed, 3)
    for user in users:
        found = [(entry.item.id, entry.exceptions) for entry in entries(state, user)]
        assert found == plain_entries(state, user), user.email


def test_the_view_prunes_hidden_folders_without_walking_them():
    state = State(1)
    owner = state.add_user("Ada", "ada@x.example")
    reader = state.add_user("Bob", "bob@x.example")
    drive = state.add_drive(owner)
    shared = state.make_path(drive, "/Shared")
    state.grant(shared, reader, ["read"])
    hidden = state.make_path(drive, "/Shared/Hidden")
    hidden.inherits = False
    for n in range(2000):
        state.make_path(drive, f"/Shared/Hidden/f{n}", is_folder=False)
    below = state.make_path(drive, "/Shared/Hidden/f7")
    state.grant(below, reader, ["read"])  # shared below a hidden folder: not in the view
    walked = []
    real = state.store.items

    class Counting(dict):
        def __getitem__(self, key):
            walked.append(key)
            return real[key]

    state.store.items = Counting(real)
    try:
        seen = [item.name for item, _ in visible_below(state.store, reader, shared)]
    finally:
        state.store.items = real
    assert seen == ["Shared"]
    assert len(walked) < 10  # the hidden folder's 2000 children are never looked at


# -- HTTP: each walk keeps to the view ---------------------------------------------------------
def test_delta_first_round_lists_only_what_bob_sees(team):
    finance = team.item("/Finance")
    session = bob(team)
    entries, _ = follow_delta(session, f"/drives/{finance.drive_id}/items/{finance.id}/delta")
    assert sorted(e["name"] for e in entries) == ["Finance", "Q3.xlsx"]
    paged, _ = follow_delta(session, f"/drives/{finance.drive_id}/items/{finance.id}/delta?$top=1")
    assert [e["name"] for e in paged] == ["Finance", "Q3.xlsx"]
    carol = team.session_for("carol@contoso.example")
    entries, _ = follow_delta(carol, f"/drives/{finance.drive_id}/items/{finance.id}/delta")
    assert {e["name"] for e in entries} >= HIDDEN


def test_delta_later_rounds_say_nothing_of_hidden_changes(team):
    finance = team.item("/Finance")
    session = bob(team)
    _, link = follow_delta(session, f"/drives/{finance.drive_id}/items/{finance.id}/delta")
    ada = team.session
    assert ada.put("/me/drive/root:/Finance/Payroll/Bonus.xlsx:/content", data=b"b").ok
    assert ada.patch("/me/drive/root:/Finance/Payroll/Salaries 2024.xlsx",
                     json={"name": "Salaries 2025.xlsx"}).ok  # fmt: skip
    assert ada.delete("/me/drive/root:/Finance/Payroll/Bonus.xlsx").status_code == 204
    assert ada.put("/me/drive/root:/Finance/Q4.xlsx:/content", data=b"q4").ok
    changes, link = follow_delta(session, link)
    assert [e["name"] for e in changes] == ["Finance", "Q4.xlsx"]  # Q4 and the folder above it
    assert "Salaries" not in str(changes) and "Bonus" not in str(changes)
    assert team.item("/Finance/Payroll").id not in str(changes)  # nor the folder above them


def test_delta_reports_an_item_leaving_the_view_as_deleted_with_its_id_only(team):
    finance = team.item("/Finance")
    session = bob(team)
    assert session.put("/me/drive/root:/Finance/Notes.txt:/content", data=b"n").status_code == 404
    drive = finance.drive_id
    made = session.put(f"/drives/{drive}/items/{finance.id}:/Notes.txt:/content", data=b"n")
    assert made.status_code == 201, made.text
    notes = made.json()["id"]
    _, link = follow_delta(session, f"/drives/{drive}/items/{finance.id}/delta")
    payroll = team.item("/Finance/Payroll").id
    moved = team.session.patch(
        f"/me/drive/items/{notes}", json={"parentReference": {"id": payroll}}
    )
    assert moved.status_code == 200, moved.text
    changes, link = follow_delta(session, link)
    reference = {"driveId": drive, "driveType": "business"}
    assert changes == [
        {"id": notes, "deleted": {"state": "deleted"}, "parentReference": reference, "file": {}}
    ]  # the facet stays: sync clients skip an entry with neither file nor folder
    # moved out of the folder (Bob still sees it elsewhere): gone from this folder's feed
    desk = team.item("/Desk")
    q3 = team.item("/Finance/Q3.xlsx").id
    assert team.session.patch(f"/me/drive/items/{q3}", json={"parentReference": {"id": desk.id}}).ok
    changes, _ = follow_delta(session, link)
    assert [(c["id"], "deleted" in c, "name" in c) for c in changes] == [(q3, True, False)]


def test_delta_reports_an_item_whose_permission_was_removed_as_deleted(team):
    team.add_folder("/Desk/Inner")
    team.add_file("/Desk/Inner/Plan.docx", "plan")
    team.stop_inheriting("/Desk/Inner")
    permission = team.grant("/Desk/Inner", "bob@contoso.example", ["read"])
    desk, inner = team.item("/Desk"), team.item("/Desk/Inner")
    session = bob(team)
    entries, link = follow_delta(session, f"/drives/{desk.drive_id}/items/{desk.id}/delta")
    assert sorted(e["name"] for e in entries) == ["Desk", "Inner", "Plan.docx"]
    removed = team.session.delete(f"/me/drive/items/{inner.id}/permissions/{permission.id}")
    assert removed.status_code == 204, removed.text
    changes, _ = follow_delta(session, link)
    reference = {"driveId": desk.drive_id, "driveType": "business"}
    assert changes == [
        {
            "id": inner.id,
            "deleted": {"state": "deleted"},
            "parentReference": reference,
            "folder": {"childCount": 0},
        }
    ]


def test_a_hidden_file_gets_no_download_url_in_delta(team):
    finance = team.item("/Finance")
    entries, _ = follow_delta(bob(team), f"/drives/{finance.drive_id}/items/{finance.id}/delta")
    urls = [e["@microsoft.graph.downloadUrl"] for e in entries if "file" in e]
    assert len(urls) == 1  # Q3.xlsx only
    assert requests.get(urls[0], timeout=10).content == b"q3"


def test_copy_of_finance_by_bob_leaves_payroll_out(team):
    session = bob(team)
    finance, desk = team.item("/Finance"), team.item("/Desk")
    drive = finance.drive_id
    answer = session.post(f"/drives/{drive}/items/{finance.id}/copy",
                          json={"parentReference": {"driveId": drive, "id": desk.id}})  # fmt: skip
    assert answer.status_code == 202, answer.text
    copy = team.item("/Desk/Finance")
    listing = session.get(f"/drives/{drive}/items/{copy.id}/children").json()["value"]
    assert [c["name"] for c in listing] == ["Q3.xlsx"]
    ada_view = team.session.get(f"/drives/{drive}/items/{copy.id}/children").json()["value"]
    assert [c["name"] for c in ada_view] == ["Q3.xlsx"]  # not made at all, not just hidden


def test_a_copy_past_the_path_limit_is_refused_before_anything_changes(team):
    """Only a copied item deep below the copy passes the limit: nothing is made at all."""
    session = bob(team)
    desk = team.item("/Desk")
    drive = desk.drive_id

    def folder(parent: str, name: str) -> str:
        made = session.post(f"/drives/{drive}/items/{parent}/children",
                            json={"name": name, "folder": {}})  # fmt: skip
        assert made.status_code == 201, made.text
        return made.json()["id"]

    source = folder(desk.id, "a" * 200)
    folder(source, "b" * 150)
    target = folder(desk.id, "x" * 60)
    before = team.digest()
    answer = session.post(f"/drives/{drive}/items/{source}/copy",
                          json={"parentReference": {"driveId": drive, "id": target}})  # fmt: skip
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["innerError"]["code"] == "pathIsTooLong"
    assert team.digest() == before


def test_search_and_expand_children_keep_to_the_view(team):
    session = bob(team)
    finance = team.item("/Finance")
    drive = finance.drive_id
    hits = session.get(f"/drives/{drive}/items/{finance.id}/search(q='xlsx')").json()["value"]
    assert [h["name"] for h in hits] == ["Q3.xlsx"]
    expanded = session.get(f"/drives/{drive}/items/{finance.id}?$expand=children").json()
    assert [c["name"] for c in expanded["children"]] == ["Q3.xlsx"]
    ordered = session.get(f"/drives/{drive}/items/{finance.id}/children?$orderby=size desc")
    assert [c["name"] for c in ordered.json()["value"]] == ["Q3.xlsx"]


def test_the_owner_searches_past_inheritance_breaks(team):
    finance = team.item("/Finance")
    hits = team.session.get(f"/me/drive/items/{finance.id}/search(q='salaries')").json()["value"]
    assert [h["name"] for h in hits] == ["Salaries 2024.xlsx"]


def test_a_batch_step_answers_as_the_same_request_alone(team):
    """A step that sets no download context (a share) must not inherit one from the step
    before it (a drive request): it answers exactly as alone."""
    link = team.session.post("/me/drive/root:/Finance/Q3.xlsx:/createLink",
                             json={"type": "view", "scope": "organization"})  # fmt: skip
    assert link.status_code == 201, link.text
    share = f"/shares/{link.json()['shareId']}/driveItem"
    session = team.session_for("carol@contoso.example")
    alone = session.get(share)
    assert alone.status_code == 200, alone.text
    batch = session.post("/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": "/me/drive/root:/Finance/Payroll:/children"},
        {"id": "2", "method": "GET", "url": share},
    ]})  # fmt: skip
    assert batch.status_code == 200, batch.text
    step = next(r for r in batch.json()["responses"] if r["id"] == "2")
    assert step["status"] == alone.status_code
    assert set(step["body"]) == set(alone.json())
    assert ("@microsoft.graph.downloadUrl" in step["body"]) == (
        "@microsoft.graph.downloadUrl" in alone.json()
    )


def test_onehub_listing_of_a_workspace_administrators_folder_keeps_to_onehub_access(team):
    """A non-owner Administrator (granted on the workspace) does not see a folder that stops
    inheriting: listing its parent agrees with opening it (404)."""
    team.grant("/", "carol@contoso.example", ["owner"])
    carol = {"Authorization": "Bearer carol-token", "Accept": "application/json"}
    finance = team.onehub_id("/Finance")
    team.stop_inheriting("/Finance/Q3.xlsx")
    listing = requests.get(f"{team.url}/folders/{finance}", headers=carol, timeout=10)
    assert listing.status_code == 200, listing.text
    names = [next(iter(row.values()))["filename"] for row in listing.json()["items"]]
    q3 = team.onehub_id("/Finance/Q3.xlsx")
    opened = requests.get(f"{team.url}/files/{q3}", headers=carol, timeout=10)
    assert ("Q3.xlsx" in names) == (opened.status_code == 200)
    bob_headers = {"Authorization": "Bearer bob-token", "Accept": "application/json"}
    listing = requests.get(f"{team.url}/folders/{finance}", headers=bob_headers, timeout=10)
    names = [next(iter(row.values()))["filename"] for row in listing.json()["items"]]
    assert names == []  # Q3 stops inheriting, Payroll is Carol's


def test_dashboard_access_view_finds_inheritance_stops_in_what_the_user_sees(team):
    data = requests.get(f"{team.url}/_mockdrive/dashboard/access",
                        params={"user": "bob@contoso.example"}, timeout=10).json()  # fmt: skip
    [entry] = [e for e in data["entries"] if e["path"] == "/Desk"] or [None]
    assert entry is not None
    ada = requests.get(f"{team.url}/_mockdrive/dashboard/access",
                       params={"user": "ada@contoso.example"}, timeout=10).json()  # fmt: skip
    [root] = ada["entries"]
    assert root["exceptions"] == ["/Finance/Payroll"]


def test_copy_takes_the_parameters_msgraph_sdk_always_sends(team):
    """msgraph-sdk sends ``childrenOnly`` and ``includeAllVersionHistory`` (false) on every
    copy; anything not a boolean is refused. ``childrenOnly: true`` copies the children Bob
    sees (Q3.xlsx), not Payroll, which he cannot see."""
    session = bob(team)
    finance, desk = team.item("/Finance"), team.item("/Desk")
    url = f"/drives/{finance.drive_id}/items/{finance.id}/copy"
    target = {"driveId": desk.drive_id, "id": desk.id}
    before = team.digest()
    refused = session.post(url, json={"parentReference": target, "childrenOnly": "no"})
    assert refused.status_code == 400, refused.text
    assert team.digest() == before
    body = {"parentReference": target, "childrenOnly": False, "includeAllVersionHistory": False}
    assert session.post(url, json=body).status_code == 202
    children = session.post(url, json={"parentReference": target, "childrenOnly": True})
    assert children.status_code == 202, children.text
    listed = team.session.get(f"/drives/{desk.drive_id}/items/{desk.id}/children").json()
    assert sorted(c["name"] for c in listed["value"]) == ["Finance", "Q3.xlsx"]
