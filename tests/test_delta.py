"""delta: everything, then a deltaLink that returns only changes (created, renamed, new
content, deleted, and with Prefer: deltashowsharingchanges, permissions), token=latest,
scoping to a folder, paging, and 410 resyncRequired after a reset or past the retention."""

from __future__ import annotations

import base64
import random
from collections import deque

import pytest
import requests
from conftest import as_user, assert_graph_error, follow_delta

from mockdrive.model.delta import TOKEN_RETENTION_DAYS
from mockdrive.testing.fixture import MockDriveFixture

SHARING = {"Prefer": "deltashowsharingchanges, hierarchicalsharing"}


@pytest.fixture
def arranged(projects):
    """The shared projects, plus /Notes.txt at the root."""
    projects.add_file("/Notes.txt", "notes")
    return projects


def test_a_sequence_of_changes_then_410_after_a_reset(arranged, graph):
    base = arranged.graph_url + "/me/drive/root/delta"
    everything, link = follow_delta(graph, base)
    assert sorted(e["name"] for e in everything) == ["Notes.txt", "Plan.docx", "Projects", "root"]
    assert follow_delta(graph, link)[0] == []  # nothing changed yet

    created = graph.put("/me/drive/root:/Projects/Budget.xlsx:/content", data=b"1")
    assert created.status_code == 201
    assert graph.put("/me/drive/root:/Notes.txt:/content", data=b"new").status_code == 200
    changes, link = follow_delta(graph, link)
    # each changed item comes after the folders above it, each once
    assert [e["name"] for e in changes] == ["root", "Projects", "Budget.xlsx", "Notes.txt"]
    assert "deleted" not in changes[2] and changes[3]["size"] == 3

    plan = arranged.item("/Projects/Plan.docx")
    arranged.server.call(lambda: arranged.state.rename_item(arranged.owner, plan, "Plan v2.docx"))
    assert graph.delete("/me/drive/root:/Notes.txt").status_code == 204
    changes, link = follow_delta(graph, link)
    assert [e["name"] for e in changes] == ["root", "Projects", "Plan v2.docx", "Notes.txt"]
    assert changes[2]["id"] == plan.id and "deleted" not in changes[2]
    assert changes[3]["deleted"] == {"state": "deleted"}

    # a permission change shows only to clients that ask for sharing changes
    invite = {"recipients": [{"email": "bob@contoso.example"}], "roles": ["read"]}
    assert graph.post("/me/drive/root:/Projects:/invite", json=invite).status_code == 200
    assert follow_delta(graph, link)[0] == []
    shared, link = follow_delta(graph, link, SHARING)
    assert [e["name"] for e in shared] == ["root", "Projects"]
    assert shared[1]["@microsoft.graph.sharedChanged"] == "True"
    assert "@microsoft.graph.sharedChanged" not in shared[0]  # only the item that changed
    graph.post("/me/drive/root:/Projects:/createLink", json={"type": "view"})
    shared, link = follow_delta(graph, link, SHARING)
    assert [e["name"] for e in shared] == ["root", "Projects"]

    token = arranged.token
    assert requests.post(arranged.url + "/_mockdrive/reset", timeout=10).status_code == 204
    arranged.load({"users": [{"displayName": "Ada", "email": "ada@x.example", "token": token}],
                   "drives": [{"owner": "ada@x.example"}]})  # fmt: skip
    gone = graph.get(link, headers={"Authorization": f"Bearer {token}"})
    error = assert_graph_error(gone, 410, "resyncRequired")
    assert error["innerError"]["code"] == "resyncRequired"


def test_token_latest_and_a_folder_scope(arranged, graph):
    latest = graph.get("/me/drive/root/delta", params={"token": "latest"}).json()
    assert latest["value"] == [] and "@odata.deltaLink" in latest
    folder = arranged.item("/Projects").id
    scoped, scoped_link = follow_delta(graph, f"{arranged.graph_url}/me/drive/items/{folder}/delta")
    assert sorted(e["name"] for e in scoped) == ["Plan.docx", "Projects"]
    graph.put("/me/drive/root:/Outside.txt:/content", data=b"x")
    graph.put("/me/drive/root:/Projects/Inside.txt:/content", data=b"y")
    # the folders above a change reach up to the delta's own folder, never past it
    assert [e["name"] for e in follow_delta(graph, scoped_link)[0]] == ["Projects", "Inside.txt"]
    assert [e["name"] for e in follow_delta(graph, latest["@odata.deltaLink"])[0]] == [
        "root",
        "Outside.txt",
        "Projects",
        "Inside.txt",
    ]


def test_the_function_call_forms_msgraph_sdk_sends(arranged, graph):
    drive = arranged.drive.id
    first = graph.get(f"/drives/{drive}/items/root/delta()")
    assert first.status_code == 200, first.text
    token = first.json()["@odata.deltaLink"].split("token=")[1]
    graph.put("/me/drive/root:/New.txt:/content", data=b"n")
    again = graph.get(f"/drives/{drive}/items/root/delta(token='{token}')")
    assert [e["name"] for e in again.json()["value"]] == ["root", "New.txt"]


def test_pages_of_the_first_round_and_of_changes(arranged, graph):
    for n in range(5):
        arranged.add_file(f"/Many/f{n}.txt", "x")
    everything, link = follow_delta(graph, arranged.graph_url + "/me/drive/root/delta?$top=2")
    assert len(everything) == 10 and len({e["id"] for e in everything}) == 10
    for n in range(5):
        graph.put(f"/me/drive/root:/Many/f{n}.txt:/content", data=b"changed")
    changes, _ = follow_delta(graph, link.replace("delta?", "delta?$top=2&"))
    # $top counts changed items; each page names the folders above its own, once
    assert [e["name"] for e in changes] == [
        *("root", "Many", "f0.txt", "f1.txt"),
        *("root", "Many", "f2.txt", "f3.txt"),
        *("root", "Many", "f4.txt"),
    ]


def test_a_token_older_than_the_retention_resyncs(arranged, graph):
    link = graph.get("/me/drive/root/delta", params={"token": "latest"}).json()["@odata.deltaLink"]
    arranged.clock.advance(days=TOKEN_RETENTION_DAYS - 1)
    assert follow_delta(graph, link)[0] == []
    arranged.clock.advance(days=2)
    gone = graph.get(link, headers={"Authorization": f"Bearer {arranged.token}"})
    assert_graph_error(gone, 410, "resyncRequired")


def test_a_time_as_the_token_gives_the_changes_made_after_it(arranged, graph):
    """The docs' ?token=<time> (business drives): what changed after that second, with the
    drive's own deltaLink to go on; a time past the retention resyncs."""
    arranged.clock.advance(hours=1)
    since = arranged.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    arranged.clock.advance(hours=1)
    arranged.add_file("/Later.txt", "later")
    changes, link = follow_delta(graph, f"/me/drive/root/delta?token={since}")
    assert [entry["name"] for entry in changes] == ["root", "Later.txt"]
    arranged.add_file("/Later2.txt", "later")
    assert [entry["name"] for entry in follow_delta(graph, link)[0]] == ["root", "Later2.txt"]
    future = "2099-01-01T00:00:00Z"
    assert follow_delta(graph, f"/me/drive/root/delta?token={future}")[0] == []
    arranged.clock.advance(days=TOKEN_RETENTION_DAYS + 1)
    assert_graph_error(graph.get(f"/me/drive/root/delta?token={since}"), 410, "resyncRequired")


def test_a_time_token_on_a_loaded_scenario_counts_what_the_scenario_made_as_earlier(mock_drive):
    """A scenario is built before its clock is set (back, to its ``clock:``): what it made
    counts as made before that time, not at the hour the scenario was loaded."""
    mock_drive.load({"clock": "2020-03-01T00:00:00Z",
                     "users": [{"displayName": "Ada", "email": "ada@contoso.example",
                                "token": "ada-token"}],
                     "drives": [{"owner": "ada@contoso.example", "driveType": "business",
                                 "root": {"children": [{"name": "Old.txt", "file": {},
                                                        "content": "old"}]}}]})  # fmt: skip
    ada = mock_drive.session_for("ada@contoso.example")
    since = "2020-03-01T00:00:00Z"
    assert follow_delta(ada, f"/me/drive/root/delta?token={since}")[0] == []
    mock_drive.clock.advance(hours=1)
    assert ada.put("/me/drive/root:/New.txt:/content", data=b"new").status_code == 201
    changes = follow_delta(ada, f"/me/drive/root/delta?token={since}")[0]
    assert [entry["name"] for entry in changes] == ["root", "New.txt"]


def test_a_time_as_the_token_is_refused_on_a_personal_drive(mock_drive, graph):
    dora = mock_drive.add_user("Dora", "dora@contoso.example")
    mock_drive.add_drive(dora, drive_type="personal", name="OneDrive")
    dora_client = as_user(graph, "dora-token")
    before = mock_drive.digest()
    for token in ("2024-01-01T00:00:00Z", "2024-01-01T08:00:00%2B8:00"):  # %2B: a '+'
        answer = dora_client.get(f"/me/drive/root/delta?token={token}")
        error = assert_graph_error(answer, 400, "invalidRequest")
        assert "business drives only" in error["message"]  # read as a time, then refused
    assert_graph_error(graph.get("/me/drive/root/delta?token=2024-13-01T00:00:00Z"), 400,
                       "invalidRequest")  # fmt: skip
    assert mock_drive.digest() == before


def test_bad_delta_requests(arranged, graph):
    before = arranged.digest()
    assert_graph_error(graph.get("/me/drive/root/delta?token=%%%"), 400, "invalidRequest")
    assert_graph_error(graph.get("/me/drive/root/delta?token=bm90LWEtdG9rZW4"), 400,
                       "invalidRequest")  # fmt: skip
    assert_graph_error(graph.post("/me/drive/root/delta"), 405, "notSupported")
    assert_graph_error(graph.get("/me/drive/root/delta(nonsense)"), 400, "invalidRequest")
    assert_graph_error(as_user(graph, "bob-token").get(
        f"/drives/{arranged.drive.id}/root/delta"), 404, "itemNotFound")  # fmt: skip
    assert arranged.digest() == before


def test_moves_renames_replacements_and_copies_through_the_api_show_in_delta(arranged, graph):
    """PATCH and copy report what they change, so sync code sees them."""
    arranged.add_folder("/Archive")
    arranged.add_file("/Archive/Old.txt", "old")
    replaced = arranged.add_file("/Readme.txt", "to be replaced")
    _, link = follow_delta(graph, arranged.graph_url + "/me/drive/root/delta")
    archive = arranged.item("/Archive").id
    moved = graph.patch(
        "/me/drive/root:/Projects/Plan.docx", json={"parentReference": {"id": archive}}
    )
    assert moved.status_code == 200, moved.text
    renamed = graph.patch("/me/drive/root:/Notes.txt?@microsoft.graph.conflictBehavior=replace",
                          json={"name": "Readme.txt"})  # fmt: skip
    assert renamed.status_code == 200, renamed.text
    copied = graph.post("/me/drive/root:/Archive:/copy", json={"name": "Archive copy"})
    assert copied.status_code == 202, copied.text
    changes, _ = follow_delta(graph, link)
    seen = {(e["name"], e.get("parentReference", {}).get("id")) for e in changes}
    assert ("Plan.docx", archive) in seen
    assert any(e["name"] == "Readme.txt" and "deleted" not in e for e in changes)
    assert any(e["id"] == replaced.id and "deleted" in e for e in changes)
    assert {"Archive copy", "Old.txt"} <= {e["name"] for e in changes}


def test_a_file_replaced_by_a_new_one_of_its_name_is_reported_deleted(arranged, graph):
    """POST children with conflictBehavior=replace removes the old item: delta says so, or a
    sync client keeps a file whose id no longer exists."""
    old = arranged.item("/Notes.txt")
    _, link = follow_delta(graph, arranged.graph_url + "/me/drive/root/delta")
    body = {"name": "Notes.txt", "file": {}, "@microsoft.graph.conflictBehavior": "replace"}
    created = graph.post("/me/drive/root/children", json=body)
    assert created.status_code == 201, created.text
    changes, _ = follow_delta(graph, link)
    by_id = {e["id"]: e for e in changes}
    assert by_id[old.id]["deleted"] == {"state": "deleted"}
    assert "deleted" not in by_id[created.json()["id"]]


def test_a_deletion_keeps_its_file_or_folder_facet_across_an_export(arranged, graph):
    """Sync clients (Debian's ``onedrive``) read ``file``/``folder`` on every delta entry and
    skip one with neither as unsupported, so a deletion without its facet is never applied."""
    _, link = follow_delta(graph, arranged.graph_url + "/me/drive/root/delta")
    notes, projects = arranged.item("/Notes.txt"), arranged.item("/Projects")
    assert graph.delete("/me/drive/root:/Projects").status_code == 204
    assert graph.delete("/me/drive/root:/Notes.txt").status_code == 204
    arranged.load(arranged.export())  # the log, and what each change was, survive a reload
    changes, _ = follow_delta(graph, link)
    by_id = {e["id"]: e for e in changes}
    assert set(by_id) == {notes.id, projects.id}  # a folder's deletion stands for its content
    assert by_id[notes.id]["file"] == {} and "folder" not in by_id[notes.id]
    assert by_id[projects.id]["folder"] == {"childCount": 0} and "file" not in by_id[projects.id]
    assert all(e["deleted"] == {"state": "deleted"} for e in changes)


# -- later rounds name exactly what left the caller's view ---------------------------------------
# Dan reads /Finance; /Finance/Payroll stops inheriting and only Carol (and Ada, the owner) reads
# it; /Finance/Board stops inheriting too and Dan reads it by a permission of his own.
FINANCE = {
    "users": [
        {"displayName": "Ada", "email": "ada@contoso.example", "token": "ada-token"},
        {"displayName": "Dan", "email": "dan@contoso.example", "token": "dan-token"},
        {"displayName": "Carol", "email": "carol@contoso.example", "token": "carol-token"},
        {"displayName": "Kim", "email": "kim@contoso.example", "token": "kim-token"},
    ],
    "drives": [{
        "owner": "ada@contoso.example",
        "driveType": "business",
        "root": {"children": [{
            "name": "Finance",
            "folder": {},
            "permissions": [{"user": "dan@contoso.example", "roles": ["read"]}],
            "children": [
                {"name": "Q3.xlsx", "file": {}, "content": "q3"},
                {"name": "Plans", "folder": {}, "children": [
                    {"name": "Plan.docx", "file": {}, "content": "plan"},
                ]},
                {"name": "Payroll", "folder": {}, "inherits": False,
                 "permissions": [{"user": "carol@contoso.example", "roles": ["write"]}],
                 "children": [{"name": "Salaries.xlsx", "file": {}, "content": "secret"}]},
                {"name": "Board", "folder": {}, "inherits": False,
                 "permissions": [{"user": "dan@contoso.example", "roles": ["read"]}]},
            ],
        }]},
    }],
}  # fmt: skip


@pytest.fixture
def finance(mock_drive):
    mock_drive.load(FINANCE)
    return mock_drive


def first_round(team, who: str, path: str = "/Finance", top: int | None = None):
    """``who``'s delta on ``path``, followed to its deltaLink: (their session, the delta's URL,
    the round's entries, the deltaLink)."""
    session = team.session_for(who)
    item = team.item(path)
    url = f"/drives/{item.drive_id}/items/{item.id}/delta" + (f"?$top={top}" if top else "")
    entries, link = follow_delta(session, url)
    return session, url, entries, link


def rounds(team, who: str, path: str = "/Finance", top: int | None = None):
    """(the caller's session, a function that returns one later round's entries each call)."""
    session, _, _, link = first_round(team, who, path, top)
    state = {"link": link}

    def next_round(headers: dict | None = None) -> list[dict]:
        entries, state["link"] = follow_delta(session, state["link"], headers)
        return entries

    return session, next_round


def removal(team, item_id: str) -> dict:
    reference = {"driveId": team.drive.id, "driveType": "business"}
    folder = team.server.call(lambda: team.state.store.items[item_id].is_folder)
    facet = {"folder": {"childCount": 0}} if folder else {"file": {}}  # as each still is
    return {"id": item_id, "deleted": {"state": "deleted"}, "parentReference": reference, **facet}


def test_a_change_to_an_item_never_seen_is_not_reported(finance):
    _, dan_round = rounds(finance, "dan@contoso.example")
    ada, payroll = finance.session, finance.item("/Finance/Payroll")
    invite = {"recipients": [{"email": "kim@contoso.example"}], "roles": ["read"]}
    assert ada.post(f"/me/drive/items/{payroll.id}/invite", json=invite).status_code == 200
    assert dan_round() == []  # a sharing change of Payroll: Dan never saw it
    carol = next(p for p in payroll.permissions if p.roles == ["write"])
    url = f"/me/drive/items/{payroll.id}/permissions/{carol.id}"
    assert ada.patch(url, json={"roles": ["read"]}).status_code == 200
    assert ada.delete(url).status_code == 204
    assert dan_round() == []
    salaries = finance.item("/Finance/Payroll/Salaries.xlsx")
    assert ada.delete(f"/me/drive/items/{salaries.id}").status_code == 204
    assert ada.delete(f"/me/drive/items/{payroll.id}").status_code == 204
    assert dan_round() == []  # deleted, but never in his view: not even its id


def test_an_item_made_and_gone_since_the_token_is_not_reported(finance):
    _, dan_round = rounds(finance, "dan@contoso.example")
    _, ada_round = rounds(finance, "ada@contoso.example")
    ada = finance.session
    made = ada.put("/me/drive/root:/Finance/Draft.txt:/content", data=b"d")
    assert made.status_code == 201
    assert ada.delete(f"/me/drive/items/{made.json()['id']}").status_code == 204
    assert dan_round() == [] and ada_round() == []


def test_a_page_of_a_later_round_asks_about_the_round_s_own_token(finance):
    """Made after the token, then moved below Payroll: no page of the round names it, though
    the page that sees the move starts after the item was made."""
    _, dan_round = rounds(finance, "dan@contoso.example", top=1)
    ada = finance.session
    made = ada.put("/me/drive/root:/Finance/New.txt:/content", data=b"n").json()["id"]
    assert ada.put("/me/drive/root:/Finance/Other.txt:/content", data=b"o").status_code == 201
    payroll = finance.item("/Finance/Payroll").id
    moved = ada.patch(f"/me/drive/items/{made}", json={"parentReference": {"id": payroll}})
    assert moved.status_code == 200, moved.text
    assert [e.get("name") for e in dan_round()] == ["Finance", "Other.txt"]


@pytest.mark.parametrize("who", ["ada@contoso.example", "dan@contoso.example"])
def test_an_item_a_page_listed_and_gone_before_the_next_page_is_reported_gone(finance, who):
    """Made after the round's token, listed on its first page, deleted (or moved below Payroll)
    before the next pages are asked for: a later page reports it gone, or the client keeps it.
    (Whether a page listed it depends on when that page was served, not only on where it goes
    on from: the existing test above needs the same item left out when it was gone before.)"""
    session, url, _, link = first_round(finance, who)
    ada = finance.session
    made = ada.put("/me/drive/root:/Finance/New.txt:/content", data=b"n").json()["id"]
    moved = ada.put("/me/drive/root:/Finance/Moved.txt:/content", data=b"m").json()["id"]
    assert ada.put("/me/drive/root:/Finance/Later.txt:/content", data=b"l").status_code == 201
    first = session.get(link.replace("delta?", "delta?$top=2&")).json()
    assert [e["name"] for e in first["value"]] == ["Finance", "New.txt", "Moved.txt"]
    assert ada.delete(f"/me/drive/items/{made}").status_code == 204
    payroll = finance.item("/Finance/Payroll").id
    away = ada.patch(f"/me/drive/items/{moved}", json={"parentReference": {"id": payroll}})
    assert away.status_code == 200, away.text
    rest, _ = follow_delta(session, first["@odata.nextLink"])
    gone = {e["id"] for e in rest if "deleted" in e}
    assert made in gone
    if who == "dan@contoso.example":  # below a folder he cannot read: gone from his view
        assert moved in gone
    kept: dict[str, str] = {}  # what a client that applies the round's pages in order keeps
    for entry in first["value"] + rest:
        if "deleted" in entry:
            kept.pop(entry["id"], None)
        else:
            kept[entry["id"]] = entry["name"]
    fresh = {e["id"]: e["name"] for e in follow_delta(session, url)[0]}
    assert kept == {i: fresh[i] for i in kept if i in fresh}  # nothing the view no longer has


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("who", ["ada@contoso.example", "dan@contoso.example"])
def test_a_round_paged_while_the_drive_changes_leaves_the_client_with_the_view(finance, who, seed):
    """Between every two pages of a round (``$top=2``) files are made, deleted, renamed and
    moved in and out of Payroll (which Dan cannot read). A client that applies the previous
    round's view and then the pages in order holds exactly what a fresh enumeration lists, and
    no removal names an item it was never shown."""
    chance = random.Random(seed)
    session, url, start, link = first_round(finance, who)
    folder = finance.item("/Finance")
    kept, shown = client_view(start), set(client_view(start))
    ada = finance.session
    payroll = finance.item("/Finance/Payroll").id
    made: list[str] = []

    def change() -> None:
        move = chance.random()
        if not made or move < 0.4:
            name = f"F{len(made)}.txt"
            answer = ada.put(f"/me/drive/root:/Finance/{name}:/content", data=b"f")
            assert answer.status_code == 201, answer.text
            made.append(answer.json()["id"])
            return
        item = chance.choice(made)
        if move < 0.6:
            assert ada.delete(f"/me/drive/items/{item}").status_code in (204, 404)
            return
        target = {"name": f"R{chance.randrange(10**6)}.txt"} if move < 0.8 else {
            "parentReference": {"id": chance.choice([payroll, folder.id])}}  # fmt: skip
        assert ada.patch(f"/me/drive/items/{item}", json=target).status_code in (200, 404)

    for number in range(6):
        answer = ada.put(f"/me/drive/root:/Finance/G{number}.txt:/content", data=b"g")
        made.append(answer.json()["id"])
    page = session.get(link.replace("delta?", "delta?$top=2&")).json()
    pages = 1
    while True:
        apply_page(kept, shown, page["value"])
        if "@odata.deltaLink" in page:
            break
        for _ in range(chance.randrange(3)):
            change()
        page = session.get(page["@odata.nextLink"]).json()
        pages += 1
    assert pages >= 3
    assert kept == fresh_view(session, url)


def test_a_round_of_many_pages_served_at_many_moments_keeps_its_token_short(finance):
    """Forty-odd pages of one file each, a file made and the one made before deleted between
    every two: the nextLink keeps at most 32 moments, and past them no removal names an item
    no page showed."""
    session, _, start, link = first_round(finance, "dan@contoso.example")
    shown = {e["id"] for e in start}
    ada = finance.session
    for number in range(40):
        assert ada.put(f"/me/drive/root:/Finance/S{number}.txt:/content", data=b"s").ok
    page = session.get(link.replace("delta?", "delta?$top=1&")).json()
    parts, made = [], []
    for number in range(100):
        for entry in page["value"]:
            if "deleted" in entry:
                assert entry["id"] in shown, ("named but never shown", entry)
            shown.add(entry["id"])
        if "@odata.deltaLink" in page:
            break
        token = page["@odata.nextLink"].split("token=")[1]
        parts.append(len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).split(b".")))
        if made:
            assert ada.delete(f"/me/drive/items/{made.pop()}").status_code == 204
        if number < 45:
            path = f"/me/drive/root:/Finance/M{number}.txt:/content"
            made.append(ada.put(path, data=b"m").json()["id"])
        page = session.get(page["@odata.nextLink"]).json()
    assert "@odata.deltaLink" in page and len(parts) > 45
    assert max(parts) == 4 + 2 * 32 - 1 == parts[-1], parts  # 32 moments, no more


Entries = dict[str, tuple[str, str | None]]  # what a client keeps: item id → (name, parent id)


def client_view(entries: list[dict]) -> Entries:
    """A first round's entries as a sync client keeps them."""
    kept: Entries = {}
    apply_page(kept, set(), entries)
    return kept


def apply_page(kept: Entries, shown: set[str], entries: list[dict]) -> list[str]:
    """What a sync client does with a page of a round: it keeps each item listed, with its
    name and parent, and drops one reported gone with what it kept below it. A removal must
    name an item a page showed (``shown`` grows with each listed); the ids removed."""
    removed = []
    for entry in entries:
        if "deleted" not in entry:
            kept[entry["id"]] = (entry["name"], entry.get("parentReference", {}).get("id"))
            shown.add(entry["id"])
            continue
        assert entry["id"] in shown, ("named but never shown", entry)
        removed.append(entry["id"])
        gone = {entry["id"]}
        for item in list(kept):  # and whatever it held, at any depth
            parent = kept[item][1]
            while parent is not None and parent not in gone and parent in kept:
                parent = kept[parent][1]
            if parent in gone:
                gone.add(item)
        for item in gone:
            kept.pop(item, None)
    return removed


def fresh_view(session, url: str) -> Entries:
    return client_view(follow_delta(session, url)[0])


@pytest.mark.parametrize(
    ("who", "arrives", "leaves", "reloaded"),
    [
        *(
            (who, arrives, leaves, False)
            for who in ("ada@contoso.example", "dan@contoso.example")
            for arrives in ("made", "moved in")
            for leaves in ("deleted", "moved out")
        ),
        ("dan@contoso.example", "made", "deleted", True),
        ("ada@contoso.example", "moved in", "moved out", True),
    ],
)
def test_a_folder_a_page_listed_above_an_item_and_gone_before_the_next_page_is_reported_gone(
    finance, who, arrives, leaves, reloaded
):
    """A folder that came into the view after a page's window (made in /Finance, or moved in
    from the root), with the item of that window moved into it before the page was served: the
    page lists the folder above the item. Deleted or moved back out before the next page, it is
    reported gone (the client drops what it holds), though the log shows no change of the
    folder's own in a window before the page that sees it go; also when the state was exported
    and loaded again in between (the nextLink names the log's positions)."""
    session, url, start, link = first_round(finance, who)
    folder = finance.item("/Finance")
    kept, shown = client_view(start), set(client_view(start))
    ada = finance.session
    q3 = finance.item("/Finance/Q3.xlsx").id
    root = ada.get("/me/drive/root").json()["id"]
    new = {"name": "G", "folder": {}}
    if arrives == "moved in":  # made outside /Finance: no change in the delta's scope
        made = ada.post(f"/me/drive/items/{root}/children", json=new)
    renamed = ada.patch(f"/me/drive/items/{q3}", json={"name": "Q3 v2.xlsx"})
    assert renamed.status_code == 200, renamed.text
    if arrives == "made":
        made = ada.post(f"/me/drive/items/{folder.id}/children", json=new)
    assert made.status_code == 201, made.text
    g = made.json()["id"]
    if arrives == "moved in":
        moved = ada.patch(f"/me/drive/items/{g}", json={"parentReference": {"id": folder.id}})
        assert moved.status_code == 200, moved.text
    into = ada.patch(f"/me/drive/items/{q3}", json={"parentReference": {"id": g}})
    assert into.status_code == 200, into.text
    first = session.get(link.replace("delta?", "delta?$top=1&")).json()
    assert [e["name"] for e in first["value"]] == ["Finance", "G", "Q3 v2.xlsx"]
    apply_page(kept, shown, first["value"])
    if reloaded:
        finance.load(finance.export())
    if leaves == "deleted":
        assert ada.delete(f"/me/drive/items/{g}").status_code == 204
    else:
        away = ada.patch(f"/me/drive/items/{g}", json={"parentReference": {"id": root}})
        assert away.status_code == 200, away.text
    rest, _ = follow_delta(session, first["@odata.nextLink"])
    assert g in apply_page(kept, shown, rest)
    assert kept == fresh_view(session, url)


def test_folders_a_page_listed_above_items_changed_in_any_order_are_reported_gone(finance):
    """One page lists two items below folders made after its window, the first item changed
    before and after the second: the nextLink names both changes (in the log's order), and
    both folders are reported gone once deleted."""
    session, url, start, link = first_round(finance, "dan@contoso.example")
    folder = finance.item("/Finance")
    kept, shown = client_view(start), set(client_view(start))
    ada = finance.session
    q3, plan = finance.item("/Finance/Q3.xlsx").id, finance.item("/Finance/Plans/Plan.docx").id
    for item, name in ((q3, "Q3 v2.xlsx"), (plan, "Plan v2.docx"), (q3, "Q3 v3.xlsx")):
        assert ada.patch(f"/me/drive/items/{item}", json={"name": name}).status_code == 200
    made = []
    for item, name in ((q3, "G1"), (plan, "G2")):
        answer = ada.post(
            f"/me/drive/items/{folder.id}/children", json={"name": name, "folder": {}}
        )
        assert answer.status_code == 201, answer.text
        made.append(answer.json()["id"])
        into = {"parentReference": {"id": made[-1]}}
        assert ada.patch(f"/me/drive/items/{item}", json=into).status_code == 200
    first = session.get(link.replace("delta?", "delta?$top=2&")).json()
    names = [e["name"] for e in first["value"]]
    assert names == ["Finance", "G1", "Q3 v3.xlsx", "G2", "Plan v2.docx"], names
    apply_page(kept, shown, first["value"])
    for gone in made:
        assert ada.delete(f"/me/drive/items/{gone}").status_code == 204
    rest, _ = follow_delta(session, first["@odata.nextLink"])
    assert set(made) <= set(apply_page(kept, shown, rest))
    assert kept == fresh_view(session, url)


@pytest.mark.parametrize("who", ["ada@contoso.example", "dan@contoso.example"])
def test_each_page_of_a_round_reports_gone_what_any_earlier_page_listed(finance, who):
    """Eight files made after the token, a page of one file each: between every two pages the
    file listed by the page before the last is moved out of the view (below Payroll for Dan,
    out of /Finance for Ada) or deleted, a file is made, and another made that is deleted
    once the next page is served. Each listed file that went is reported gone by a later page
    of the same round (the log reaches those changes after the eight files: nine pages on);
    none of those made and deleted is named, though each was in the view when a page was
    served."""
    session, url, start, link = first_round(finance, who)
    kept, shown = client_view(start), set(client_view(start))
    ada = finance.session
    away = finance.item("/Finance/Payroll").id
    if who == "ada@contoso.example":  # the owner sees Payroll: out of the delta's folder
        away = ada.get("/me/drive/root").json()["id"]

    def make(name: str) -> str:
        answer = ada.put(f"/me/drive/root:/Finance/{name}:/content", data=b"x")
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    files = [make(f"N{number}.txt") for number in range(8)]
    page = session.get(link.replace("delta?", "delta?$top=1&")).json()
    listed: list[str] = []  # the files in the order the pages listed them
    gone: set[str] = set()
    never_listed: set[str] = set()
    removed: list[str] = []
    pages = 0
    while True:
        pages += 1
        removed += apply_page(kept, shown, page["value"])
        listed += [e["id"] for e in page["value"] if e["id"] in files and "deleted" not in e]
        if "@odata.deltaLink" in page:
            break
        if 2 <= pages <= 7:  # the file the page before this one listed
            item = listed[pages - 2]
            if pages % 2:
                assert ada.delete(f"/me/drive/items/{item}").status_code == 204
            else:
                moved = ada.patch(f"/me/drive/items/{item}", json={"parentReference": {"id": away}})
                assert moved.status_code == 200, moved.text
            gone.add(item)
        brief = None
        if pages <= 8:
            files.append(make(f"M{pages}.txt"))
            brief = make(f"Brief{pages}.txt")  # in the view as the next page is served
            never_listed.add(brief)
        answer = session.get(page["@odata.nextLink"])
        assert answer.status_code == 200, answer.text
        page = answer.json()
        if brief is not None:
            assert ada.delete(f"/me/drive/items/{brief}").status_code == 204
    assert pages >= 9 and len(gone) == 6
    assert gone <= set(removed)
    assert not never_listed & shown
    assert kept == fresh_view(session, url)


@pytest.mark.parametrize("seed", range(16))
@pytest.mark.parametrize("who", ["ada@contoso.example", "dan@contoso.example"])
def test_a_round_paged_while_folders_come_and_go_leaves_the_client_with_the_view(
    finance, who, seed
):
    """Like the round paged while files change, with folders: between every two pages
    (``$top=2``) folders are made in
    /Finance, moved below Payroll or out of /Finance (never back: a folder moved into the
    view comes without what it holds) or deleted, and files are made, renamed, deleted and
    moved between /Finance, those folders, Payroll and the root. A client that drops what a
    removed folder held holds exactly what a fresh enumeration lists, and no removal names an
    item no page showed."""
    chance = random.Random(seed)
    session, url, start, link = first_round(finance, who)
    folder = finance.item("/Finance")
    kept, shown = client_view(start), set(client_view(start))
    ada = finance.session
    payroll = finance.item("/Finance/Payroll").id
    root = ada.get("/me/drive/root").json()["id"]
    files: list[str] = []
    folders: list[str] = []

    def change() -> None:
        roll = chance.random()
        if roll < 0.2 or not folders:
            new = {"name": f"D{chance.randrange(10**6)}", "folder": {}}
            made = ada.post(f"/me/drive/items/{folder.id}/children", json=new)
            assert made.status_code == 201, made.text
            folders.append(made.json()["id"])
        elif roll < 0.35 or not files:
            where = chance.choice([folder.id, *folders])
            new = {"name": f"F{chance.randrange(10**6)}.txt", "file": {}}
            made = ada.post(f"/me/drive/items/{where}/children", json=new)
            assert made.status_code < 500, made.text
            if made.status_code == 201:
                files.append(made.json()["id"])
        elif roll < 0.45:
            item = chance.choice(folders)
            if chance.random() < 0.5:
                assert ada.delete(f"/me/drive/items/{item}").status_code in (204, 404)
            else:
                away = {"parentReference": {"id": chance.choice([payroll, root])}}
                assert ada.patch(f"/me/drive/items/{item}", json=away).status_code < 500
            folders.remove(item)
        elif roll < 0.5:
            assert ada.delete(f"/me/drive/items/{chance.choice(files)}").status_code in (204, 404)
        elif roll < 0.55:
            name = {"name": f"R{chance.randrange(10**6)}.txt"}
            assert ada.patch(f"/me/drive/items/{chance.choice(files)}", json=name).status_code < 500
        else:  # often into the newest folder, which the log may not have reached yet
            where = folders[-1] if roll < 0.85 else chance.choice([folder.id, payroll, root])
            into = {"parentReference": {"id": where}}
            moved = ada.patch(f"/me/drive/items/{chance.choice(files)}", json=into)
            assert moved.status_code < 500, moved.text

    for _ in range(30):
        change()
    page = session.get(link.replace("delta?", "delta?$top=2&")).json()
    pages = 1
    while True:
        apply_page(kept, shown, page["value"])
        if "@odata.deltaLink" in page:
            break
        for _ in range(chance.randrange(5) if pages < 20 else 0):
            change()
        answer = session.get(page["@odata.nextLink"])
        assert answer.status_code == 200, answer.text
        page, pages = answer.json(), pages + 1
    assert pages >= 3
    assert kept == fresh_view(session, url)


def test_past_the_moments_a_token_keeps_no_page_names_what_it_did_not_list(finance):
    """A file of Payroll changed after the token is in a page's window while Dan cannot see it;
    moved into /Finance before the next page and back out forty pages later (each page served
    at a moment of its own), it is in the view at many moments no page lists it at. The token
    forgets its oldest pages past 32 moments: the round never names the file."""
    session, url, start, link = first_round(finance, "dan@contoso.example")
    folder = finance.item("/Finance")
    kept, shown = client_view(start), set(client_view(start))
    ada = finance.session
    salaries = finance.item("/Finance/Payroll/Salaries.xlsx").id
    payroll = finance.item("/Finance/Payroll").id
    assert ada.patch(f"/me/drive/items/{salaries}", json={"name": "S.xlsx"}).status_code == 200
    for number in range(40):
        assert ada.put(f"/me/drive/root:/Finance/S{number}.txt:/content", data=b"s").ok
    page = session.get(link.replace("delta?", "delta?$top=1&")).json()
    for number in range(100):
        apply_page(kept, shown, page["value"])
        if "@odata.deltaLink" in page:
            break
        if number in (0, 38):  # into the view, and out of it before its own window
            into = {"parentReference": {"id": folder.id if number == 0 else payroll}}
            moved = ada.patch(f"/me/drive/items/{salaries}", json=into)
            assert moved.status_code == 200, moved.text
        else:  # a change outside the delta's folder: the next page is served at a new moment
            assert ada.put(f"/me/drive/root:/Other{number}.txt:/content", data=b"o").ok
        page = session.get(page["@odata.nextLink"]).json()
    assert "@odata.deltaLink" in page and number > 40
    assert salaries not in shown
    assert kept == fresh_view(session, url)


def test_what_dan_saw_and_lost_is_reported_deleted_with_its_id_only(finance):
    """Lost through an inheritance break, a permission removed, a move below a folder he
    cannot read: each reported once, by id, without name or parent."""
    _, dan_round = rounds(finance, "dan@contoso.example")
    ada = finance.session
    plans, board = finance.item("/Finance/Plans"), finance.item("/Finance/Board")
    invite = {"recipients": [{"email": "kim@contoso.example"}], "roles": ["read"],
              "retainInheritedPermissions": False}  # fmt: skip
    assert ada.post(f"/me/drive/items/{plans.id}/invite", json=invite).status_code == 200
    assert dan_round() == [removal(finance, plans.id)]
    own = next(p for p in board.permissions if not p.is_owner)
    assert ada.delete(f"/me/drive/items/{board.id}/permissions/{own.id}").status_code == 204
    assert dan_round() == [removal(finance, board.id)]
    q3, payroll = finance.item("/Finance/Q3.xlsx"), finance.item("/Finance/Payroll")
    moved = ada.patch(f"/me/drive/items/{q3.id}", json={"parentReference": {"id": payroll.id}})
    assert moved.status_code == 200, moved.text
    assert dan_round() == [removal(finance, q3.id)]


def test_a_permission_or_link_that_expires_is_reported_as_a_removal(finance):
    _, dan_round = rounds(finance, "dan@contoso.example")
    ada = finance.session
    board = finance.item("/Finance/Board")
    own = next(p for p in board.permissions if not p.is_owner)
    assert ada.delete(f"/me/drive/items/{board.id}/permissions/{own.id}").status_code == 204
    invite = {"recipients": [{"email": "dan@contoso.example"}], "roles": ["read"],
              "expirationDateTime": "2024-01-05T00:00:00Z"}  # fmt: skip
    assert ada.post(f"/me/drive/items/{board.id}/invite", json=invite).status_code == 200
    plans = finance.item("/Finance/Plans")
    link = {"type": "view", "scope": "users", "retainInheritedPermissions": False,
            "recipients": [{"email": "dan@contoso.example"}],
            "expirationDateTime": "2024-01-20T00:00:00Z"}  # fmt: skip
    assert ada.post(f"/me/drive/items/{plans.id}/createLink", json=link).status_code == 201
    dan_round()  # whatever it says of Board and Plans: both are his again
    finance.clock.advance(days=6)  # the invitation expires, the link not yet
    assert dan_round() == [removal(finance, board.id)]
    finance.clock.advance(days=15)
    assert dan_round() == [removal(finance, plans.id)]


def test_the_owner_sees_every_change_and_every_deletion(finance):
    _, ada_round = rounds(finance, "ada@contoso.example")
    ada = finance.session
    assert ada.put("/me/drive/root:/Finance/Payroll/Bonus.xlsx:/content", data=b"b").ok
    salaries = finance.item("/Finance/Payroll/Salaries.xlsx")
    assert ada.delete(f"/me/drive/items/{salaries.id}").status_code == 204
    changes = ada_round()
    assert [(e.get("name"), "deleted" in e) for e in changes] == [
        ("Finance", False),
        ("Payroll", False),
        ("Bonus.xlsx", False),
        ("Salaries.xlsx", True),
    ]
    assert changes[3]["parentReference"]["id"] == finance.item("/Finance/Payroll").id


HUB = {"Authorization": "Bearer ada-token", "Accept": "application/json"}  # Ada, on Onehub


def invite_dan_to_payroll_through_onehub(finance: MockDriveFixture) -> str:
    """Ada invites Dan to Payroll as a Viewer through Onehub: the id of his rolemap."""
    node = finance.onehub_id("/Finance/Payroll")
    invitation = {"invitation": {"emails": "dan@contoso.example", "role_name": "Viewer"}}
    invited = requests.post(f"{finance.url}/folders/{node}/invitations", json=invitation,
                            headers=HUB, timeout=10)  # fmt: skip
    assert invited.status_code == 201, invited.text
    rolemaps = requests.get(f"{finance.url}/folders/{node}/rolemaps", headers=HUB, timeout=10)
    return next(r["rolemap"]["id"] for r in rolemaps.json()["items"]
                if r["rolemap"]["user"]["email"] == "dan@contoso.example")  # fmt: skip


def test_a_grant_revoked_through_onehub_is_reported_too(finance):
    """Onehub's invitations and revoked rolemaps are sharing changes of the same items."""
    _, dan_round = rounds(finance, "dan@contoso.example")
    payroll = finance.item("/Finance/Payroll")
    dan_map = invite_dan_to_payroll_through_onehub(finance)
    shared = dan_round(SHARING)  # Payroll is his now
    assert [e.get("name") for e in shared] == ["Finance", "Payroll"]
    revoked = requests.delete(f"{finance.url}/rolemaps/{dan_map}", headers=HUB, timeout=10)
    assert revoked.status_code == 204, revoked.text
    assert dan_round() == [removal(finance, payroll.id)]


def test_a_role_changed_through_onehub_is_a_sharing_change(finance):
    """A rolemap's new role is a sharing change as a Graph permission's new roles are; set to
    Access Denied it takes the item out of the grantee's view, a removal their round reports
    (they saw it), and given back it is theirs again."""
    _, dan_round = rounds(finance, "dan@contoso.example")
    payroll = finance.item("/Finance/Payroll")
    dan_map = invite_dan_to_payroll_through_onehub(finance)
    assert [e.get("name") for e in dan_round(SHARING)] == ["Finance", "Payroll"]

    def set_role(role: str) -> None:
        changed = requests.put(f"{finance.url}/rolemaps/{dan_map}", headers=HUB,
                               json={"rolemap": {"role_name": role}}, timeout=10)  # fmt: skip
        assert changed.status_code == 200, changed.text

    set_role("Collaborator")
    assert [(e.get("name"), "@microsoft.graph.sharedChanged" in e) for e in dan_round(SHARING)] == [
        ("Finance", False),
        ("Payroll", True),
    ]
    set_role("Access Denied")
    assert dan_round() == [removal(finance, payroll.id)]
    set_role("Viewer")
    assert [e.get("name") for e in dan_round(SHARING)] == ["Finance", "Payroll"]


def test_the_fixtures_grant_and_stop_inheriting_are_changes_delta_reports(finance):
    """Arranged after a token was taken, they change what a caller sees as the Graph calls
    do (``add_folder`` and ``add_file`` are logged too): Dan is given Payroll, then loses
    Plans."""
    _, dan_round = rounds(finance, "dan@contoso.example")
    _, ada_round = rounds(finance, "ada@contoso.example")
    finance.grant("/Finance/Payroll", "dan@contoso.example", ["read"])
    assert [e.get("name") for e in dan_round(SHARING)] == ["Finance", "Payroll"]
    finance.stop_inheriting("/Finance/Plans")
    assert dan_round() == [removal(finance, finance.item("/Finance/Plans").id)]
    assert [e.get("name") for e in ada_round(SHARING)] == ["Finance", "Payroll", "Plans"]


def test_a_permission_granted_and_removed_since_the_token_is_not_reported(finance):
    """The log cannot tell whether Dan saw Payroll in between: mockdrive leaves it out rather
    than name an item he may never have seen (documented in the README)."""
    _, dan_round = rounds(finance, "dan@contoso.example")
    ada, payroll = finance.session, finance.item("/Finance/Payroll")
    invite = {"recipients": [{"email": "dan@contoso.example"}], "roles": ["read"]}
    assert ada.post(f"/me/drive/items/{payroll.id}/invite", json=invite).status_code == 200
    mine = next(p for p in payroll.permissions if p.roles == ["read"])
    assert ada.delete(f"/me/drive/items/{payroll.id}/permissions/{mine.id}").status_code == 204
    link = {"type": "view", "scope": "users", "recipients": [{"email": "dan@contoso.example"}]}
    made = ada.post(f"/me/drive/items/{payroll.id}/createLink", json=link)
    assert made.status_code == 201, made.text
    link_id = made.json()["id"]
    assert ada.delete(f"/me/drive/items/{payroll.id}/permissions/{link_id}").status_code == 204
    assert dan_round() == []


def test_the_per_item_index_drops_what_the_bounded_log_drops(finance):
    log = finance.state.changes
    finance.server.call(lambda: setattr(log, "changes", deque(log.changes, maxlen=3)))
    ada = finance.session
    first = ada.put("/me/drive/root:/Finance/a.txt:/content", data=b"1")
    ids = [first.json()["id"]]
    for n in range(4):
        ada.put("/me/drive/root:/Finance/a.txt:/content", data=str(n).encode())
    ids.append(ada.put("/me/drive/root:/Finance/b.txt:/content", data=b"b").json()["id"])

    def index() -> tuple[list[int], dict[str, list[int]]]:
        kept = {key: [c.serial for c in log.history(key, 0)] for key in ids}
        return [c.serial for c in log.changes], kept

    serials, kept = finance.server.call(index)
    assert len(serials) == 3 and kept == {ids[0]: serials[:2], ids[1]: serials[2:]}
    assert sum(len(v) for v in finance.server.call(lambda: list(log.by_item.values()))) == 3


def test_a_token_whose_round_begins_after_its_page_is_invalid(arranged, graph):
    link = graph.get("/me/drive/root/delta", params={"token": "latest"}).json()["@odata.deltaLink"]
    token = link.split("token=")[1]
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    forged = base64.urlsafe_b64encode(f"{raw}.999999".encode()).decode().rstrip("=")
    assert_graph_error(graph.get("/me/drive/root/delta", params={"token": forged}), 400,
                       "invalidRequest")  # fmt: skip


def page_token(arranged, graph, pages: str, files: int = 4) -> str:
    """A later page's token of this state (position 3, its round begun at 0) that says
    ``pages`` of the pages served before it, after ``files`` files are made."""
    for number in range(files):
        arranged.add_file(f"/T{number}.txt", "t")
    link = graph.get("/me/drive/root/delta", params={"token": "latest"}).json()["@odata.deltaLink"]
    token = link.split("token=")[1]
    generation, _, issued = (
        base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(".")
    )
    raw = f"{generation}.3.{issued}.0{pages}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "pages",
    [
        ".5.3",  # an even count: a window end without its moment
        ".1",  # served before its window ended (the window ends at the token's position)
        ".9.1.9",  # two entries served at one moment (those are one entry)
        ".6.3.5",  # served earlier than the page before
        ".5.0.6",  # a window that ends where the round began
        ".5.4.6",  # windows out of order (the last ends at the token's position, 3)
        "".join(f".{n + 10}.{n + 1}" for n in range(40)) + ".99",  # more than a token keeps
        ".99999999999",  # served at a moment the log has not reached
        ".x",
        ".5.1.0",  # the last entry forgotten (only the oldest is)
        ".0.1.0.2.5",  # two forgotten entries (the oldest are one)
        ".0.0.5",  # a forgotten window that ends where the round began
        "~2",  # changes listed above, but no page served
        ".5~0",  # a change listed above before the round began
        ".5~4",  # after the token's position
        ".0.1.5~1",  # in a forgotten window
        ".5~2.2",  # twice
        ".5~2.1",  # out of order
        ".5~",
        ".5~x",
        ".5~1~2",
        ".5~" + ".".join(["1"] * 33),  # more than a token keeps
    ],
)
def test_a_page_token_whose_pages_served_do_not_add_up_is_invalid_or_resyncs(
    arranged, graph, pages
):
    """A later page's token says when the round's earlier pages were served; a list that
    could not have come from the pages of a round (forged, cut, edited) is refused."""
    forged, made = page_token(arranged, graph, pages), page_token(arranged, graph, ".5", 0)
    answer = graph.get("/me/drive/root/delta", params={"token": forged})
    if pages == ".99999999999":
        assert_graph_error(answer, 410, "resyncRequired")
    else:
        assert_graph_error(answer, 400, "invalidRequest")
    assert graph.get("/me/drive/root/delta", params={"token": made}).status_code == 200


@pytest.mark.parametrize(
    "pages", [".5", ".0.1.5", ".4.1.5", ".0.2.5", ".5~1.3", ".0.1.5~2.3", ".4.1.5~1"]
)
def test_a_page_token_that_forgot_pages_or_names_changes_listed_above_is_followed(
    arranged, graph, pages
):
    """What a later page's token may say: the oldest pages forgotten (served at 0), the changes
    whose folders above a page listed (after ``~``)."""
    answer = graph.get("/me/drive/root/delta", params={"token": page_token(arranged, graph, pages)})
    assert answer.status_code == 200, answer.text


def test_select_shapes_every_delta_entry_and_its_links(arranged, graph):
    """``$select`` (or ``select``, as the Debian client sends it) on delta, as on any item; a
    removal keeps ``deleted`` even where it is not selected."""
    base = arranged.graph_url + "/me/drive/root/delta?select=id,name,file,folder"
    everything, link = follow_delta(graph, base)
    assert everything and all(set(e) <= {"id", "name", "file", "folder"} for e in everything)
    assert "$select=id" in link
    assert graph.put("/me/drive/root:/Notes.txt:/content", data=b"new").status_code == 200
    changes, link = follow_delta(graph, link)
    assert [set(e) for e in changes] == [{"id", "name", "folder"}, {"id", "name", "file"}]
    assert graph.delete("/me/drive/root:/Notes.txt").status_code == 204
    changes, link = follow_delta(graph, link)
    assert set(changes[0]) == {"id", "name", "file", "deleted"}


# -- a change comes with the folders above it ----------------------------------------------------
# The service lists a changed item's ancestors with it, from the delta's folder down, each before
# what is below it, as they are now, so that a client can place the item (a file shared at
# root/folder/sub-folder/sample.jpg comes as four entries). A deletion needs no placing.


@pytest.fixture
def deep(mock_drive):
    """/A/B/C, and a deltaLink of the root taken after them."""
    mock_drive.add_folder("/A/B/C")
    link = follow_delta(mock_drive.session, "/me/drive/root/delta")[1]
    return mock_drive, link


def ids_of(team, *paths: str) -> list[str]:
    return [team.item(path).id for path in paths]


def test_a_file_added_deep_comes_after_the_root_and_each_folder_above_it(deep):
    team, link = deep
    graph = team.session
    assert graph.put("/me/drive/root:/A/B/C/deep.txt:/content", data=b"12345").status_code == 201
    changes, _ = follow_delta(graph, link)
    chain = ids_of(team, "/", "/A", "/A/B", "/A/B/C", "/A/B/C/deep.txt")
    assert [e["id"] for e in changes] == chain
    folder_c = changes[3]  # as it is now: the new file counted in it
    assert folder_c["folder"]["childCount"] == 1 and folder_c["size"] == 5
    assert changes[0]["size"] == 5 and "root" in changes[0]
    assert all("@microsoft.graph.sharedChanged" not in e for e in changes)


def test_a_folder_that_changed_with_its_child_is_listed_once_above_it(deep):
    """Whichever changed first, the folder comes once, as it is now, before its child."""
    team, link = deep
    graph = team.session
    b = team.item("/A/B").id
    assert graph.put("/me/drive/root:/A/B/x.txt:/content", data=b"x").status_code == 201
    assert graph.patch(f"/me/drive/items/{b}", json={"name": "B2"}).ok  # after its child
    changes, link = follow_delta(graph, link)
    assert [e["name"] for e in changes] == ["root", "A", "B2", "x.txt"]
    assert changes[2]["id"] == b
    a = team.item("/A").id
    assert graph.patch(f"/me/drive/items/{a}", json={"name": "A2"}).ok  # before its child
    assert graph.put("/me/drive/root:/A2/B2/C/y.txt:/content", data=b"y").status_code == 201
    changes, _ = follow_delta(graph, link)
    assert [e["name"] for e in changes] == ["root", "A2", "B2", "C", "y.txt"]
    assert len({e["id"] for e in changes}) == len(changes)


def test_a_sharing_change_deep_down_marks_the_item_only(deep):
    """With ``Prefer: deltashowsharingchanges`` the file shared comes after its folders, and
    only it carries ``@microsoft.graph.sharedChanged``; without the header nothing comes."""
    team, link = deep
    graph = team.session
    team.add_user("Bob", "bob@contoso.example")
    file = team.add_file("/A/B/C/sample.jpg", "jpg")
    changes, link = follow_delta(graph, link)
    assert [e["name"] for e in changes] == ["root", "A", "B", "C", "sample.jpg"]
    invite = {"recipients": [{"email": "bob@contoso.example"}], "roles": ["read"]}
    assert graph.post(f"/me/drive/items/{file.id}/invite", json=invite).status_code == 200
    assert follow_delta(graph, link)[0] == []  # a sharing change alone: not without the header
    assert graph.post(f"/me/drive/items/{file.id}/invite", json=invite).status_code == 200
    shared, _ = follow_delta(graph, link, SHARING)
    assert [e["name"] for e in shared] == ["root", "A", "B", "C", "sample.jpg"]
    marked = [e["name"] for e in shared if e.get("@microsoft.graph.sharedChanged") == "True"]
    assert marked == ["sample.jpg"]


def test_select_shapes_the_folders_above_a_change_too(deep):
    team, link = deep
    graph = team.session
    assert graph.put("/me/drive/root:/A/B/x.txt:/content", data=b"x").status_code == 201
    changes, _ = follow_delta(graph, link.replace("delta?", "delta?$select=id,size&"))
    assert [e["id"] for e in changes] == ids_of(team, "/", "/A", "/A/B", "/A/B/x.txt")
    assert all(set(e) == {"id", "size"} for e in changes)


def test_each_page_names_the_folders_above_its_own_changes_once(deep):
    """``$top`` counts changed items; the folders above them come on top, once a page, and
    again on a later page that needs them (a client keeps the last occurrence)."""
    team, link = deep
    graph = team.session
    for name in ("one", "two", "three"):
        assert graph.put(f"/me/drive/root:/A/B/{name}.txt:/content", data=b"1").status_code == 201
    pages, url = [], link.replace("delta?", "delta?$top=2&")
    while url:
        body = graph.get(url).json()
        pages.append([e["name"] for e in body["value"]])
        url = body.get("@odata.nextLink")
    assert pages == [["root", "A", "B", "one.txt", "two.txt"], ["root", "A", "B", "three.txt"]]


def test_a_deletion_comes_without_the_folders_above_it(deep):
    team, link = deep
    graph = team.session
    gone = team.add_file("/A/B/C/gone.txt", "g")
    link = follow_delta(graph, link)[1]
    assert graph.delete(f"/me/drive/items/{gone.id}").status_code == 204
    changes, link = follow_delta(graph, link)
    assert [(e["id"], "deleted" in e) for e in changes] == [(gone.id, True)]
    c = team.item("/A/B/C").id
    assert graph.delete(f"/me/drive/items/{c}").status_code == 204
    assert [e["id"] for e in follow_delta(graph, link)[0]] == [c]


def test_the_delta_exclude_parent_header_leaves_the_folders_out(deep):
    """The documented ``deltaExcludeParent`` request header: only what changed. Sent as a
    ``Prefer`` value instead it is reported to change nothing, so it changes nothing here."""
    team, link = deep
    graph = team.session
    assert graph.put("/me/drive/root:/A/B/x.txt:/content", data=b"x").status_code == 201
    alone = follow_delta(graph, link, {"deltaExcludeParent": "true"})[0]
    assert [e["name"] for e in alone] == ["x.txt"]
    preferred = follow_delta(graph, link, {"Prefer": "deltaExcludeParent"})[0]
    assert [e["name"] for e in preferred] == ["root", "A", "B", "x.txt"]
    for kept in ("false", "False"):  # a boolean header: false keeps the folders
        assert follow_delta(graph, link, {"deltaExcludeParent": kept})[0] == preferred
    assert follow_delta(graph, link, {"deltaExcludeParent": "TRUE"})[0] == alone


def test_the_folders_above_a_change_stay_in_the_callers_view(finance):
    """Kim is granted a folder deep below Payroll and Finance, which she cannot read: her
    delta is on that folder, and its changes name it and what is below it, nothing above.
    Dan reads Finance but not Payroll: a change below Payroll is not in his view at all."""
    finance.add_folder("/Finance/Payroll/Deep/Sub")
    finance.grant("/Finance/Payroll/Deep", "kim@contoso.example", ["read"])
    _, kim_round = rounds(finance, "kim@contoso.example", "/Finance/Payroll/Deep")
    _, dan_round = rounds(finance, "dan@contoso.example")
    kim = finance.session_for("kim@contoso.example")
    root = finance.item("/")
    assert_graph_error(kim.get(f"/drives/{root.drive_id}/items/{root.id}/delta"), 404,
                       "itemNotFound")  # fmt: skip
    ada = finance.session
    assert ada.put("/me/drive/root:/Finance/Payroll/Deep/Sub/x.txt:/content", data=b"x").ok
    changes = kim_round()
    assert [e["name"] for e in changes] == ["Deep", "Sub", "x.txt"]
    hidden = ids_of(finance, "/", "/Finance", "/Finance/Payroll")
    assert not {e["id"] for e in changes} & set(hidden)  # no entry of a folder she cannot see
    assert dan_round() == []
