"""delta: everything, then a deltaLink that returns only changes (created, renamed, new
content, deleted, and with Prefer: deltashowsharingchanges, permissions), token=latest,
scoping to a folder, paging, and 410 resyncRequired after a reset or past the retention."""

from __future__ import annotations

import pytest
import requests
from conftest import assert_graph_error

from mockdrive.model.delta import TOKEN_RETENTION_DAYS

SHARING = {"Prefer": "deltashowsharingchanges, hierarchicalsharing"}


@pytest.fixture
def arranged(mock_drive):
    mock_drive.add_file("/Projects/Plan.docx", "plan")
    mock_drive.add_file("/Notes.txt", "notes")
    mock_drive.add_user("Bob", "bob@contoso.example")
    return mock_drive


def follow(graph, link: str, headers: dict | None = None) -> tuple[list[dict], str]:
    """Call a delta or next link until a deltaLink: (every entry, the deltaLink)."""
    entries: list[dict] = []
    for _ in range(100):
        response = graph.session.get(
            link, headers={"Authorization": f"Bearer {graph.token}", **(headers or {})}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        entries.extend(body["value"])
        if "@odata.deltaLink" in body:
            return entries, body["@odata.deltaLink"]
        link = body["@odata.nextLink"]
    raise AssertionError("no deltaLink after 100 pages")


def test_a_sequence_of_changes_then_410_after_a_reset(arranged, graph):
    base = arranged.graph_url + "/me/drive/root/delta"
    everything, link = follow(graph, base)
    assert sorted(e["name"] for e in everything) == ["Notes.txt", "Plan.docx", "Projects", "root"]
    assert follow(graph, link)[0] == []  # nothing changed yet

    created = graph.put("/me/drive/root:/Projects/Budget.xlsx:/content", data=b"1")
    assert created.status_code == 201
    assert graph.put("/me/drive/root:/Notes.txt:/content", data=b"new").status_code == 200
    changes, link = follow(graph, link)
    assert [e["name"] for e in changes] == ["Budget.xlsx", "Notes.txt"]
    assert "deleted" not in changes[0] and changes[1]["size"] == 3

    plan = arranged.item("/Projects/Plan.docx")
    arranged.server.call(lambda: arranged.state.rename_item(arranged.owner, plan, "Plan v2.docx"))
    assert graph.delete("/me/drive/root:/Notes.txt").status_code == 204
    changes, link = follow(graph, link)
    assert [e["name"] for e in changes] == ["Plan v2.docx", "Notes.txt"]
    assert changes[0]["id"] == plan.id and "deleted" not in changes[0]
    assert changes[1]["deleted"] == {"state": "deleted"}

    # a permission change shows only to clients that ask for sharing changes
    invite = {"recipients": [{"email": "bob@contoso.example"}], "roles": ["read"]}
    assert graph.post("/me/drive/root:/Projects:/invite", json=invite).status_code == 200
    assert follow(graph, link)[0] == []
    shared, link = follow(graph, link, SHARING)
    assert [e["name"] for e in shared] == ["Projects"]
    assert shared[0]["@microsoft.graph.sharedChanged"] == "True"
    graph.post("/me/drive/root:/Projects:/createLink", json={"type": "view"})
    shared, link = follow(graph, link, SHARING)
    assert [e["name"] for e in shared] == ["Projects"]

    token = graph.token
    assert requests.post(arranged.url + "/_mockdrive/reset", timeout=10).status_code == 204
    arranged.load({"users": [{"displayName": "Ada", "email": "ada@x.example", "token": token}],
                   "drives": [{"owner": "ada@x.example"}]})  # fmt: skip
    gone = graph.session.get(link, headers={"Authorization": f"Bearer {token}"})
    error = assert_graph_error(gone, 410, "resyncRequired")
    assert error["innerError"]["code"] == "resyncRequired"


def test_token_latest_and_a_folder_scope(arranged, graph):
    latest = graph.get("/me/drive/root/delta", params={"token": "latest"}).json()
    assert latest["value"] == [] and "@odata.deltaLink" in latest
    folder = arranged.item("/Projects").id
    scoped, scoped_link = follow(graph, f"{arranged.graph_url}/me/drive/items/{folder}/delta")
    assert sorted(e["name"] for e in scoped) == ["Plan.docx", "Projects"]
    graph.put("/me/drive/root:/Outside.txt:/content", data=b"x")
    graph.put("/me/drive/root:/Projects/Inside.txt:/content", data=b"y")
    assert [e["name"] for e in follow(graph, scoped_link)[0]] == ["Inside.txt"]
    assert [e["name"] for e in follow(graph, latest["@odata.deltaLink"])[0]] == [
        "Outside.txt",
        "Inside.txt",
    ]


def test_the_function_call_forms_msgraph_sdk_sends(arranged, graph):
    drive = arranged.drive.id
    first = graph.get(f"/drives/{drive}/items/root/delta()")
    assert first.status_code == 200, first.text
    token = first.json()["@odata.deltaLink"].split("token=")[1]
    graph.put("/me/drive/root:/New.txt:/content", data=b"n")
    again = graph.get(f"/drives/{drive}/items/root/delta(token='{token}')")
    assert [e["name"] for e in again.json()["value"]] == ["New.txt"]


def test_pages_of_the_first_round_and_of_changes(arranged, graph):
    for n in range(5):
        arranged.add_file(f"/Many/f{n}.txt", "x")
    everything, link = follow(graph, arranged.graph_url + "/me/drive/root/delta?$top=2")
    assert len(everything) == 10 and len({e["id"] for e in everything}) == 10
    for n in range(5):
        graph.put(f"/me/drive/root:/Many/f{n}.txt:/content", data=b"changed")
    changes, _ = follow(graph, link.replace("delta?", "delta?$top=2&"))
    assert [e["name"] for e in changes] == [f"f{n}.txt" for n in range(5)]


def test_a_token_older_than_the_retention_resyncs(arranged, graph):
    link = graph.get("/me/drive/root/delta", params={"token": "latest"}).json()["@odata.deltaLink"]
    arranged.clock.advance(days=TOKEN_RETENTION_DAYS - 1)
    assert follow(graph, link)[0] == []
    arranged.clock.advance(days=2)
    gone = graph.session.get(link, headers={"Authorization": f"Bearer {arranged.token}"})
    assert_graph_error(gone, 410, "resyncRequired")


def test_bad_delta_requests(arranged, graph):
    before = arranged.digest()
    assert_graph_error(graph.get("/me/drive/root/delta?token=%%%"), 400, "invalidRequest")
    assert_graph_error(graph.get("/me/drive/root/delta?token=bm90LWEtdG9rZW4"), 400,
                       "invalidRequest")  # fmt: skip
    assert_graph_error(graph.post("/me/drive/root/delta"), 405, "notSupported")
    assert_graph_error(graph.get("/me/drive/root/delta(nonsense)"), 400, "invalidRequest")
    assert_graph_error(graph.as_user("bob-token").get(
        f"/drives/{arranged.drive.id}/root/delta"), 404, "itemNotFound")  # fmt: skip
    assert arranged.digest() == before


def test_moves_renames_replacements_and_copies_through_the_api_show_in_delta(arranged, graph):
    """PATCH and copy (issue 13) report what they change, so sync code sees them."""
    arranged.add_folder("/Archive")
    arranged.add_file("/Archive/Old.txt", "old")
    replaced = arranged.add_file("/Readme.txt", "to be replaced")
    _, link = follow(graph, arranged.graph_url + "/me/drive/root/delta")
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
    changes, _ = follow(graph, link)
    seen = {(e["name"], e.get("parentReference", {}).get("id")) for e in changes}
    assert ("Plan.docx", archive) in seen
    assert any(e["name"] == "Readme.txt" and "deleted" not in e for e in changes)
    assert any(e["id"] == replaced.id and "deleted" in e for e in changes)
    assert {"Archive copy", "Old.txt"} <= {e["name"] for e in changes}


def test_a_file_replaced_by_a_new_one_of_its_name_is_reported_deleted(arranged, graph):
    """POST children with conflictBehavior=replace removes the old item: delta says so, or a
    sync client keeps a file whose id no longer exists."""
    old = arranged.item("/Notes.txt")
    _, link = follow(graph, arranged.graph_url + "/me/drive/root/delta")
    body = {"name": "Notes.txt", "file": {}, "@microsoft.graph.conflictBehavior": "replace"}
    created = graph.post("/me/drive/root/children", json=body)
    assert created.status_code == 201, created.text
    changes, _ = follow(graph, link)
    by_id = {e["id"]: e for e in changes}
    assert by_id[old.id]["deleted"] == {"state": "deleted"}
    assert "deleted" not in by_id[created.json()["id"]]
