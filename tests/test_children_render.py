"""A children page renders each child once for the whole page (what the children share is worked
out once): every entry must still be the item exactly as GET renders it to the same caller, in
every listing that renders children, and follow every change to what it shows."""

from __future__ import annotations

from urllib.parse import quote

import requests

FOLDER = "/Docs é (1) & more+"
URL_KEY = "@microsoft.graph.downloadUrl"


def arrange(mock_drive) -> None:
    """Files and folders with names that need quoting, one shared, one with a description, one
    last written by someone else, one that stops inheriting, and a file at the root."""
    bob = mock_drive.add_user("Bob Writer", "bob@contoso.example")
    mock_drive.add_file("/root file.txt", "top")
    mock_drive.add_file(f"{FOLDER}/a b.txt", "alpha")
    mock_drive.add_file(f"{FOLDER}/ü €.txt", "umlaut")
    mock_drive.add_file(f"{FOLDER}/Sub/deep.txt", "deep")
    mock_drive.add_file(f"{FOLDER}/shared.txt", "shared")
    mock_drive.add_file(f"{FOLDER}/by bob.txt", "ada's")
    mock_drive.grant(f"{FOLDER}/shared.txt", "bob@contoso.example", ["read"])
    mock_drive.grant(FOLDER, "bob@contoso.example", ["write"])
    bob_session = mock_drive.session_for(bob)
    folder = quote(FOLDER)
    written = bob_session.put(
        f"/drives/{mock_drive.drive.id}/root:{folder}/by bob.txt:/content", data=b"bob's"
    )
    assert written.status_code == 200, written.text
    described = mock_drive.session.patch(
        f"/me/drive/root:{folder}/a b.txt", json={"description": "the first"}
    )
    assert described.status_code == 200, described.text


def without_url(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k not in (URL_KEY, "@odata.context")}


def assert_entries_are_items(session: requests.Session, entries: list[dict], base: str) -> None:
    """Each entry equals GET of the item (by id, below ``base``) for the same caller; a file's
    download URL is there in both or neither and opens the file's bytes (its expiry follows the
    clock, so the text itself is compared only up to it)."""
    assert entries
    for entry in entries:
        got = session.get(f"{base}/items/{entry['id']}")
        assert got.status_code == 200, got.text
        item = got.json()
        assert without_url(entry) == without_url(item)
        assert (URL_KEY in entry) == (URL_KEY in item)
        if URL_KEY in entry:
            assert entry[URL_KEY].split(".")[:2] == item[URL_KEY].split(".")[:2]
            assert (
                requests.get(entry[URL_KEY], timeout=10).content
                == requests.get(item[URL_KEY], timeout=10).content
            )


def test_a_children_page_is_each_item_as_get_renders_it(mock_drive):
    arrange(mock_drive)
    session = mock_drive.session
    page = session.get(f"/me/drive/root:{quote(FOLDER)}:/children").json()["value"]
    assert {e["name"] for e in page} == {"a b.txt", "ü €.txt", "Sub", "shared.txt", "by bob.txt"}
    assert_entries_are_items(session, page, "/me/drive")
    by_name = {e["name"]: e for e in page}
    assert by_name["by bob.txt"]["lastModifiedBy"]["user"]["displayName"] == "Bob Writer"
    assert by_name["shared.txt"]["shared"] == {"scope": "users"}
    assert by_name["a b.txt"]["description"] == "the first"
    assert by_name["Sub"]["folder"] == {"childCount": 1}
    root_page = session.get("/me/drive/root/children").json()["value"]
    assert_entries_are_items(session, root_page, "/me/drive")


def test_every_listing_of_children_renders_the_items_as_get(mock_drive):
    arrange(mock_drive)
    session = mock_drive.session
    folder = quote(FOLDER)
    ordered = session.get(f"/me/drive/root:{folder}:/children?$orderby=name desc").json()
    assert ordered["value"][0]["name"] == "ü €.txt"
    assert_entries_are_items(session, ordered["value"], "/me/drive")
    expanded = session.get(f"/me/drive/root:{folder}?$expand=children").json()
    assert_entries_are_items(session, expanded["children"], "/me/drive")
    selected = session.get(f"/me/drive/root:{folder}:/children?$select=name,webUrl").json()
    for entry in selected["value"]:
        item = session.get(f"/me/drive/items/{entry['id']}").json()
        assert entry == {k: item[k] for k in ("id", "name", "webUrl")}


def test_another_drives_children_render_as_its_items_do_for_that_caller(mock_drive):
    arrange(mock_drive)
    bob = mock_drive.session_for("bob@contoso.example")
    base = f"/drives/{mock_drive.drive.id}"
    folder_id = mock_drive.item(FOLDER).id
    page = bob.get(f"{base}/items/{folder_id}/children").json()["value"]
    assert all(e["parentReference"]["path"].startswith(f"{base}/root:") for e in page)
    assert_entries_are_items(bob, page, base)
    # the link's holder lists the folder through /shares: the same children, rendered whole
    link = mock_drive.session.post(
        f"/me/drive/items/{folder_id}/createLink", json={"type": "view", "scope": "anonymous"}
    ).json()
    shared = bob.get(f"/shares/{link['shareId']}/driveItem/children").json()["value"]
    by_id = {e["id"]: e for e in page}
    for entry in shared:
        mine = by_id[entry["id"]]
        assert {k: entry[k] for k in ("name", "eTag", "webUrl", "createdBy", "lastModifiedBy")} == {
            k: mine[k] for k in ("name", "eTag", "webUrl", "createdBy", "lastModifiedBy")
        }


def test_a_page_follows_every_change_to_what_it_shows(mock_drive):
    arrange(mock_drive)
    session = mock_drive.session
    folder_id = mock_drive.item(FOLDER).id
    url = f"/me/drive/items/{folder_id}/children"

    def entry(name: str) -> dict:
        return next(e for e in session.get(url).json()["value"] if e["name"] == name)

    before = entry("a b.txt")
    renamed = session.patch(f"/me/drive/items/{folder_id}", json={"name": "Renamed"})
    assert renamed.status_code == 200, renamed.text
    after = entry("a b.txt")
    assert after["parentReference"]["path"] == "/drive/root:/Renamed"
    assert after["webUrl"].endswith("/Renamed/a%20b.txt") and after["webUrl"] != before["webUrl"]

    assert "shared" not in entry("Sub")
    mock_drive.grant("/Renamed/Sub", "bob@contoso.example", ["read"])
    assert entry("Sub")["shared"] == {"scope": "users"}

    sub = entry("Sub")
    session.put("/me/drive/root:/Renamed/Sub/new.txt:/content", data=b"new")
    assert entry("Sub")["folder"] == {"childCount": 2}
    assert entry("Sub")["eTag"] == session.get(f"/me/drive/items/{sub['id']}").json()["eTag"]

    written = session.put(f"/me/drive/items/{before['id']}/content", data=b"longer content")
    assert written.status_code == 200, written.text
    changed = entry("a b.txt")
    assert changed["size"] == len(b"longer content") and changed["cTag"] != before["cTag"]
    assert changed["file"]["hashes"] != before["file"]["hashes"]

    bob = mock_drive.session_for("bob@contoso.example")
    bobs_url = f"/drives/{mock_drive.drive.id}/items/{folder_id}/children"
    bobs = next(e for e in bob.get(bobs_url).json()["value"] if e["name"] == "a b.txt")
    owner_token, bob_token = (e[URL_KEY].split("/download/")[1] for e in (changed, bobs))
    assert owner_token.split(".")[1] == mock_drive.owner.id
    assert bob_token.split(".")[1] != mock_drive.owner.id


def test_an_item_rendered_for_a_test_holds_objects_of_its_own(mock_drive):
    mock_drive.add_file("/a.txt", "a")
    item = mock_drive.item_json("/a.txt")
    assert item["createdBy"] == item["lastModifiedBy"]
    item["createdBy"]["user"]["displayName"] = "changed"
    assert item["lastModifiedBy"]["user"]["displayName"] != "changed"
