"""Special folders (``/drive/special/{name}``) as the service keeps them: the folder made (or
found at its place) on first use by a writer is known by its id from then on, renamed or moved,
and shows the ``specialFolder`` facet wherever it is rendered; someone who may only read the
root meets a 403 for one not made yet; a state's export keeps which folder each one is."""

from __future__ import annotations

import pytest
import requests
from conftest import assert_graph_error, follow_delta

SPECIAL = "/me/drive/special/documents"


def facet(entry: dict) -> dict | None:
    return entry.get("specialFolder")


def test_first_use_makes_the_folder_with_its_facet_everywhere(mock_drive):
    made = mock_drive.session.get(SPECIAL)
    assert made.status_code == 200, made.text
    folder = made.json()
    assert folder["name"] == "Documents" and facet(folder) == {"name": "documents"}
    assert mock_drive.item("/Documents").id == folder["id"]
    by_id = mock_drive.session.get(f"/me/drive/items/{folder['id']}").json()
    assert facet(by_id) == {"name": "documents"}
    children = mock_drive.session.get("/me/drive/root/children").json()["value"]
    assert [facet(e) for e in children if e["id"] == folder["id"]] == [{"name": "documents"}]
    selected = mock_drive.session.get(SPECIAL, params={"$select": "id,specialFolder"}).json()
    assert selected["specialFolder"] == {"name": "documents"} and "name" not in selected
    # other folders show no facet
    mock_drive.add_folder("/Plain")
    assert facet(mock_drive.session.get("/me/drive/root:/Plain").json()) is None


def test_a_renamed_or_moved_special_folder_is_still_found_and_nothing_new_is_made(mock_drive):
    session = mock_drive.session
    folder_id = session.get(SPECIAL).json()["id"]
    archive = session.post("/me/drive/root/children", json={"name": "Archive", "folder": {}})
    assert archive.status_code == 201, archive.text
    renamed = session.patch(
        f"/me/drive/items/{folder_id}",
        json={"name": "Dokumente", "parentReference": {"id": archive.json()["id"]}},
    )
    assert renamed.status_code == 200, renamed.text
    found = session.get(SPECIAL).json()
    assert found["id"] == folder_id and found["name"] == "Dokumente"
    assert found["parentReference"]["path"] == "/drive/root:/Archive"
    assert facet(found) == {"name": "documents"}
    assert session.get("/me/drive/root:/Documents").status_code == 404  # none made anew
    # a child created through the alias lands in the moved folder
    child = session.post(f"{SPECIAL}/children", json={"name": "Notes", "folder": {}})
    assert child.status_code == 201, child.text
    assert mock_drive.item("/Archive/Dokumente/Notes").id == child.json()["id"]


def test_a_deleted_special_folder_is_made_again_on_next_use(mock_drive):
    session = mock_drive.session
    first = session.get(SPECIAL).json()["id"]
    assert session.delete(f"/me/drive/items/{first}").status_code == 204
    again = session.get(SPECIAL).json()
    assert again["id"] != first and again["name"] == "Documents"
    assert facet(again) == {"name": "documents"}


def test_a_folder_already_at_its_place_is_taken_as_it(mock_drive):
    existing = mock_drive.add_folder("/Documents")
    assert facet(mock_drive.session.get("/me/drive/root:/Documents").json()) is None
    _, token = follow_delta(mock_drive.session, "/me/drive/root/delta")
    taken = mock_drive.session.get(SPECIAL).json()
    assert taken["id"] == existing.id and facet(taken) == {"name": "documents"}
    # delta reports the folder again: it is shown with its facet from now on
    changed, _ = follow_delta(mock_drive.session, token)
    assert [facet(e) for e in changed if e["id"] == existing.id] == [{"name": "documents"}]


def test_a_copy_of_a_special_folder_is_a_plain_folder(mock_drive):
    session = mock_drive.session
    folder_id = session.get(SPECIAL).json()["id"]
    copied = session.post(f"/me/drive/items/{folder_id}/copy", json={"name": "Copy"})
    assert copied.status_code == 202, copied.text
    copy = session.get("/me/drive/root:/Copy").json()
    assert copy["id"] != folder_id and facet(copy) is None
    assert session.get(SPECIAL).json()["id"] == folder_id


def test_a_reader_of_the_root_gets_403_for_one_not_made_and_changes_nothing(mock_drive):
    mock_drive.add_user("Carol", "carol@contoso.example")
    mock_drive.grant("/", "carol@contoso.example", ["read"])
    carol = mock_drive.session_for("carol@contoso.example")
    drive = f"/drives/{mock_drive.drive.id}/special/documents"
    before = mock_drive.digest()
    assert_graph_error(carol.get(drive), 403, "accessDenied")
    assert mock_drive.digest() == before
    # one at its place is shown to her as it is, and not taken as the special folder by her
    mock_drive.add_folder("/Documents")
    before = mock_drive.digest()
    shown = carol.get(drive)
    assert shown.status_code == 200 and facet(shown.json()) is None
    assert mock_drive.digest() == before
    # once a writer has used it, she finds it, renamed too
    owner_view = mock_drive.session.get(SPECIAL).json()
    mock_drive.session.patch(f"/me/drive/items/{owner_view['id']}", json={"name": "Docs"})
    assert facet(carol.get(drive).json()) == {"name": "documents"}


def test_someone_who_cannot_see_the_drive_gets_its_404(mock_drive):
    mock_drive.add_user("Eve", "eve@contoso.example")
    eve = mock_drive.session_for("eve@contoso.example")
    before = mock_drive.digest()
    real = eve.get(f"/drives/{mock_drive.drive.id}/special/documents")
    made_up = eve.get("/drives/b!made-up-drive/special/documents")
    assert_graph_error(real, 404, "itemNotFound")
    assert real.json()["error"]["message"].replace(mock_drive.drive.id, "X") == made_up.json()[
        "error"
    ]["message"].replace("b!made-up-drive", "X")
    assert mock_drive.digest() == before


def test_export_and_reload_keep_which_folder_each_special_folder_is(mock_drive):
    session = mock_drive.session
    folder_id = session.get(SPECIAL).json()["id"]
    session.patch(f"/me/drive/items/{folder_id}", json={"name": "Renamed"})
    state_url = mock_drive.server.url + "/_mockdrive/state"
    exported = requests.get(state_url, timeout=30)
    assert exported.status_code == 200
    nodes = [n for n in exported.json()["drives"][0]["root"]["children"] if n["id"] == folder_id]
    assert nodes[0]["specialFolder"] == {"name": "documents"}
    loaded = requests.put(state_url, data=exported.content, timeout=30)
    assert loaded.status_code == 200, loaded.text
    found = session.get(SPECIAL).json()
    assert found["id"] == folder_id and found["name"] == "Renamed"
    assert facet(found) == {"name": "documents"}
    assert requests.get(state_url, timeout=30).content == exported.content


SCENARIO = {
    "users": [{"displayName": "Ada", "email": "ada@contoso.example", "token": "ada-token"}],
    "drives": [{"owner": "ada@contoso.example", "root": {"children": []}}],
}


def scenario_with(*children: dict) -> dict:
    return {**SCENARIO, "drives": [{**SCENARIO["drives"][0], "root": {"children": list(children)}}]}


def test_a_scenario_names_its_special_folders(mock_drive):
    mock_drive.load(scenario_with({"name": "Mine", "specialFolder": {"name": "photos"}}))
    session = mock_drive.session_for("ada@contoso.example")
    found = session.get("/me/drive/special/photos").json()
    assert found["name"] == "Mine" and facet(found) == {"name": "photos"}
    assert session.get("/me/drive/root:/Pictures").status_code == 404


@pytest.mark.parametrize(
    ("children", "said"),
    [
        ([{"name": "f.txt", "file": {}, "specialFolder": {"name": "music"}}], "only a folder"),
        (
            [
                {"name": "A", "specialFolder": {"name": "music"}},
                {"name": "B", "specialFolder": {"name": "music"}},
            ],
            "another 'music'",
        ),
        ([{"name": "A", "specialFolder": {"name": "recordings"}}], "specialFolder"),
        ([{"name": "A", "specialFolder": {}}], "specialFolder"),
    ],
)
def test_a_scenario_with_a_wrong_special_folder_is_refused_and_changes_nothing(
    mock_drive, children, said
):
    state_url = mock_drive.server.url + "/_mockdrive/state"
    before = mock_drive.digest()
    refused = requests.put(state_url, json=scenario_with(*children), timeout=30)
    assert refused.status_code == 400, refused.text
    assert said in refused.text
    assert mock_drive.digest() == before


def test_a_refused_write_through_a_folder_at_its_place_takes_it_as_the_service_does(mock_drive):
    """The service makes (or takes) a special folder on first use, whatever follows: a write
    below it that is then refused leaves it taken, and nothing else changed (the rule checker
    this suite runs allows exactly that)."""
    existing = mock_drive.add_folder("/Documents")
    refused = mock_drive.session.put(f"{SPECIAL}:/bad<name>.txt:/content", data=b"x")
    assert_graph_error(refused, 400, "invalidRequest")
    assert mock_drive.session.get("/me/drive/root:/Documents:/children").json()["value"] == []
    taken = mock_drive.session.get(f"/me/drive/items/{existing.id}").json()
    assert facet(taken) == {"name": "documents"}
