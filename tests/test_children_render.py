"""A children page renders each child once for the whole page (what the children share is worked
out once): every entry must still be the item exactly as GET renders it to the same caller, in
every listing that renders children, and follow every change to what it shows."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import fields
from urllib.parse import quote

import requests

from mockdrive.api.graph.render import OWNER_VIEW, render_children, render_item
from mockdrive.model.state import State
from mockdrive.model.tree import Item

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


def token_of(entry: dict) -> list[str]:
    """A download URL's token: item id, user id, expiry (epoch seconds), signature."""
    return entry[URL_KEY].split("/download/")[1].split(".")


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
            assert token_of(entry)[:3] == token_of(item)[:3]  # item, user, expiry
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
    assert token_of(changed)[1] == mock_drive.owner.id
    assert token_of(bobs)[1] == mock_drive.user("bob@contoso.example").id


def test_an_item_rendered_for_a_test_holds_objects_of_its_own(mock_drive):
    mock_drive.add_file("/a.txt", "a")
    item = mock_drive.item_json("/a.txt")
    assert item["createdBy"] == item["lastModifiedBy"]
    item["createdBy"]["user"]["displayName"] = "changed"
    assert item["lastModifiedBy"]["user"]["displayName"] != "changed"


# How each field of an item is changed in place (and back), to show that a page never serves a
# fragment rendered before the change. The fields left out are named with the reason.
def _bump(field: str, by: int) -> Callable[[Item, State], None]:
    return lambda item, state: setattr(item, field, getattr(item, field) + by)


def _set(field: str, value: object) -> Callable[[Item, State], None]:
    return lambda item, state: setattr(item, field, value)


def _other_person(field: str) -> Callable[[Item, State], None]:
    return lambda item, state: setattr(item, field, state.user("bob@contoso.example").id)


FIELD_CHANGES: dict[str, Callable[[Item, State], None]] = {
    "name": _set("name", "renamed in place.txt"),
    "created": _set("created", "2020-05-06T07:08:09Z"),
    "modified": _set("modified", "2021-05-06T07:08:09Z"),
    "created_by": _other_person("created_by"),
    "modified_by": _other_person("modified_by"),
    "size": _bump("size", 7),
    "mime_type": _set("mime_type", "text/x-changed"),
    "content": _set("content", b"other bytes"),
    "version": _bump("version", 1),
    "content_version": _bump("content_version", 1),
    "inherits": _set("inherits", False),
    "description": _set("description", "said in place"),
    "fs_created": _set("fs_created", "2019-01-02T03:04:05Z"),
    "fs_modified": _set("fs_modified", "2019-02-03T04:05:06Z"),
    "content_hashes": _set("content_hashes", None),
    "filler": _set("filler", "a seed"),
    "special": _set("special", "documents"),
}
FIELDS_NOT_CHANGED = {
    "id": "another id is another item",
    "drive_id": "the page's own drive (another drive's children: a test above)",
    "parent_id": "the page's own folder (moves and renames of the folder: a test above)",
    "is_folder": "a file or folder for life (a load or reset that reuses an id: a test below)",
    "depth": "not rendered",
    "children": "a folder's: changed in place below",
    "permissions": "the shared facet: a test above shares",
}


def test_a_page_never_shows_an_item_as_it_was_before_any_field_changed(mock_drive):
    """Each field of one file changed in place, then put back: the page's entry is the item as
    GET renders it afresh each time (every field is either changed here or named as covered)."""
    assert set(FIELD_CHANGES) | set(FIELDS_NOT_CHANGED) == {f.name for f in fields(Item)}
    arrange(mock_drive)
    session = mock_drive.session
    folder_id = mock_drive.item(FOLDER).id
    target = mock_drive.item(f"{FOLDER}/a b.txt")
    page_url = f"/me/drive/items/{folder_id}/children"

    def assert_page_shows_the_item(shown: Item = target) -> None:
        entry = next(e for e in session.get(page_url).json()["value"] if e["id"] == shown.id)
        item = session.get(f"/me/drive/items/{shown.id}").json()
        item.pop("@odata.context")
        assert entry == item

    assert_page_shows_the_item()  # rendered once: later pages may reuse it
    for name, change in FIELD_CHANGES.items():
        before = mock_drive.server.call(lambda name=name: getattr(target, name))
        mock_drive.server.call(lambda change=change: change(target, mock_drive.state))
        assert_page_shows_the_item()
        mock_drive.server.call(lambda name=name, before=before: setattr(target, name, before))
        assert_page_shows_the_item()
    sub = mock_drive.item(f"{FOLDER}/Sub")  # a folder's childCount, its version unchanged
    assert_page_shows_the_item(sub)
    mock_drive.server.call(lambda: sub.children.update({"another": target.id}))
    assert_page_shows_the_item(sub)
    mock_drive.server.call(lambda: sub.children.pop("another"))
    assert_page_shows_the_item(sub)


def test_a_page_follows_the_people_it_names_and_the_clock(mock_drive):
    arrange(mock_drive)
    session = mock_drive.session
    page_url = f"/me/drive/items/{mock_drive.item(FOLDER).id}/children"

    def entry(name: str) -> dict:
        return next(e for e in session.get(page_url).json()["value"] if e["name"] == name)

    first = entry("by bob.txt")
    bob = mock_drive.user("bob@contoso.example")
    mock_drive.server.call(lambda: setattr(bob, "display_name", "Robert Writer"))
    assert entry("by bob.txt")["lastModifiedBy"]["user"]["displayName"] == "Robert Writer"
    expiry = int(token_of(first)[2])
    mock_drive.clock.advance(hours=2)
    assert int(token_of(entry("by bob.txt"))[2]) == expiry + 7200


def scenario(content: str, name: str) -> dict:
    return {
        "users": [{"displayName": "Ada", "email": "ada@contoso.example", "token": "ada-token"}],
        "drives": [
            {
                "owner": "ada@contoso.example",
                "driveType": "business",
                "root": {"children": [{"name": name, "file": {}, "content": content}]},
            }
        ],
    }


def test_a_page_after_a_load_or_a_reset_shows_the_new_state(mock_drive):
    """Loads with the same seed give the same ids: a fragment of one state must not be shown
    for the next."""
    mock_drive.load(scenario("one", "A.txt"))
    ada = mock_drive.session_for("ada@contoso.example")
    first = ada.get("/me/drive/root/children").json()["value"]
    mock_drive.load(scenario("two two", "B.txt"))
    ada = mock_drive.session_for("ada@contoso.example")
    second = ada.get("/me/drive/root/children").json()["value"]
    assert [(e["name"], e["size"]) for e in first] == [("A.txt", 3)]
    assert [(e["name"], e["size"]) for e in second] == [("B.txt", 7)]
    assert second[0]["id"] == first[0]["id"]  # the same item id, another item
    assert_entries_are_items(ada, second, "/me/drive")
    assert requests.post(mock_drive.url + "/_mockdrive/reset", timeout=10).status_code == 204
    mock_drive.load(scenario("one", "A.txt"))
    ada = mock_drive.session_for("ada@contoso.example")
    again = ada.get("/me/drive/root/children").json()["value"]
    assert [(e["id"], e["name"], e["size"]) for e in again] == [
        (e["id"], e["name"], e["size"]) for e in first
    ]
    assert_entries_are_items(ada, again, "/me/drive")


def test_pages_rendered_from_fragments_match_the_plain_rendering_under_random_edits():
    """Differential, in process: after each of many random direct edits (an item's fields, a
    person's name, the folder's name and its parent's, a grant), the page rendered with the
    fragments of earlier pages equals each child rendered afresh by ``render_item``."""
    state = State(seed=3)
    ada = state.add_user("Ada Owner", "ada@contoso.example", token="ada")
    bob = state.add_user("Bob", "bob@contoso.example")
    drive = state.add_drive(ada)
    for n in range(12):
        state.make_path(drive, f"/Top/Folder/f{n}.txt", is_folder=False, content=b"x" * n)
    state.make_path(drive, "/Top/Folder/Sub/inner.txt", is_folder=False, content=b"i")
    top = state.store.resolve(state.store.root(drive), "/Top")
    folder = state.store.resolve(state.store.root(drive), "/Top/Folder")
    children = [state.store.items[i] for i in folder.children.values()]
    sub = state.store.resolve(folder, "/Sub")
    assert sub.children is not None
    inner_id = next(iter(sub.children.values()))

    def toggle_a_child_of_sub() -> None:  # its childCount, without a version
        if sub.children.pop("another", None) is None:
            sub.children["another"] = inner_id

    rng = random.Random(7)
    edits: list[Callable[[], None]] = [
        lambda: setattr(rng.choice(children), "name", f"n{rng.randrange(5)}.txt"),
        lambda: setattr(rng.choice(children), "version", rng.randrange(1, 4)),
        lambda: setattr(rng.choice(children), "content_version", rng.randrange(1, 4)),
        lambda: setattr(rng.choice(children), "size", rng.randrange(3)),
        lambda: setattr(
            rng.choice(children), "modified", f"2024-01-0{rng.randrange(1, 4)}T00:00:00Z"
        ),
        lambda: setattr(rng.choice(children), "modified_by", rng.choice((ada.id, bob.id))),
        lambda: setattr(rng.choice(children), "description", rng.choice((None, "d", "e"))),
        lambda: setattr(
            rng.choice(children), "fs_created", rng.choice((None, "2020-01-01T00:00:00Z"))
        ),
        lambda: setattr(rng.choice(children), "mime_type", rng.choice(("text/plain", "a/b"))),
        lambda: setattr(rng.choice(children), "content", rng.choice((b"", b"a", b"bb"))),
        lambda: setattr(bob, "display_name", rng.choice(("Bob", "Robert"))),
        lambda: setattr(folder, "name", rng.choice(("Folder", "Renamed"))),
        lambda: setattr(top, "name", rng.choice(("Top", "Other top"))),
        lambda: state.grant(rng.choice(children), bob, ["read"]),
        toggle_a_child_of_sub,
    ]
    for _ in range(300):
        rng.choice(edits)()
        page = render_children(state, OWNER_VIEW, folder, children)
        path = state.store.path_of(folder)
        assert page == [render_item(state, OWNER_VIEW, child, path) for child in children]


def test_a_download_url_is_issued_for_the_host_and_the_caller_of_each_request(mock_drive):
    """Download URLs are remembered by item, for one origin, user and expiry at a time: a
    request on another host, by another user, or after the clock moved gets its own."""
    arrange(mock_drive)
    folder_id = mock_drive.item(FOLDER).id
    url = f"{mock_drive.graph_url}/drives/{mock_drive.drive.id}/items/{folder_id}/children"
    port = mock_drive.graph_url.split("://")[1].split("/")[0].rsplit(":", 1)[1]

    def urls(token: str, host: str) -> list[str]:
        headers = {"Authorization": f"Bearer {token}", "Host": f"{host}:{port}"}
        page = requests.get(url, headers=headers, timeout=10).json()["value"]
        return [e[URL_KEY] for e in page if URL_KEY in e]

    bob = mock_drive.user("bob@contoso.example")
    for _ in range(2):  # the second round from what the first remembered
        for user in (mock_drive.owner, bob):
            for host in ("127.0.0.1", "localhost"):
                issued = urls(user.token, host)
                assert issued and all(
                    u.startswith(f"http://{host}:{port}/download/") for u in issued
                )
                assert {u.split("/download/")[1].split(".")[1] for u in issued} == {user.id}
