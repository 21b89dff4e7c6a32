"""Attacks on the features added in this round: delta's time token, copy's childrenOnly,
sharedWithMe's remoteItem parent, search hits, new content and fileSystemInfo."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
import requests
from conftest import assert_graph_error, follow_delta

MAX_PATH = 400
RENAME = "?@microsoft.graph.conflictBehavior=rename"


def children_names(graph, path: str) -> list[str]:
    return sorted(c["name"] for c in graph.get(f"/me/drive/root:{path}:/children").json()["value"])


def test_children_only_rename_at_the_path_limit_copies_all_or_nothing(mock_drive, graph):
    """Under rename a later child may be renamed against an earlier child's copy: its longer
    name must be counted against the path limit before the first copy is made."""
    mock_drive.add_file("/A/a.txt", "1")
    mock_drive.add_file("/A/a 1.txt", "2")
    # /T/xxx…/a 1.txt is exactly at the limit; /T/xxx…/a 1 1.txt is two characters over it
    rest = MAX_PATH - len("/T/") - len("/a 1.txt")
    deep = "/T/" + "x" * 200 + "/" + "y" * (rest - 201)
    target = mock_drive.add_folder(deep)
    mock_drive.add_file(deep + "/a.txt", "old")
    before = mock_drive.digest()
    body = {"parentReference": {"id": target.id}, "childrenOnly": True}
    answer = graph.post("/me/drive/root:/A:/copy" + RENAME, json=body)
    assert_graph_error(answer, 400, "invalidRequest")
    assert "path" in answer.json()["error"]["message"]
    assert mock_drive.digest() == before
    # one level up there is room: each child takes the name free after the copies before it
    up = deep.rsplit("/", 1)[0]
    mock_drive.add_file(up + "/a.txt", "old")
    moved = graph.post("/me/drive/root:/A:/copy" + RENAME,
                       json={"parentReference": {"id": mock_drive.item(up).id},
                             "childrenOnly": True})  # fmt: skip
    assert moved.status_code == 202, moved.text
    assert children_names(graph, up) == ["a 1 1.txt", "a 1.txt", "a.txt", deep.rsplit("/")[-1]]
    assert graph.get(f"/me/drive/root:{up}/a 1.txt:/content").text == "1"
    assert graph.get(f"/me/drive/root:{up}/a 1 1.txt:/content").text == "2"


# -- delta with a time as the token ------------------------------------------------------------
def time_token(value: str) -> str:
    return "/me/drive/root/delta?token=" + quote(value, safe="")


def test_a_time_token_includes_what_changed_later_in_the_same_second(mock_drive, graph):
    """The clock counts whole seconds and a deletion reads no new second: a change made after
    the one a client saw, but within its second, is still after that time. Leaving it out
    loses it for good (a time token is how a client says what it already has)."""
    gone = mock_drive.add_file("/y.txt", "y")
    seen = graph.put("/me/drive/root:/x.txt:/content", data=b"x").json()
    assert graph.delete("/me/drive/root:/y.txt").status_code == 204
    changes, _ = follow_delta(graph, time_token(seen["lastModifiedDateTime"]))
    by_id = {entry["id"]: entry for entry in changes}
    assert gone.id in by_id, changes
    assert by_id[gone.id]["deleted"] == {"state": "deleted"} and by_id[gone.id]["file"] == {}


# -- upload sessions: a repeat of the completing fragment --------------------------------------
def put_range(url: str, data: bytes, start: int, total: int) -> requests.Response:
    headers = {"Content-Range": f"bytes {start}-{start + len(data) - 1}/{total}"}
    return requests.put(url, data=data, headers=headers, timeout=30)


def test_a_repeat_tells_nothing_of_a_file_its_uploader_can_no_longer_see(mock_drive, graph):
    """The answer to a repeated last fragment is the file as it is now: once the uploader has
    lost sight of it (moved into a folder they cannot read), the repeat finds nothing, as a GET
    by id does, instead of answering its new name and path."""
    mock_drive.add_folder("/Shared")
    private = mock_drive.add_folder("/Private")
    bob = mock_drive.add_user("Bob", "bob@contoso.example")
    mock_drive.grant("/Shared", bob, ["write"])
    as_bob = mock_drive.session_for("bob@contoso.example")
    drive = f"/drives/{mock_drive.drive.id}"
    url = as_bob.post(f"{drive}/root:/Shared/b.txt:/createUploadSession", json={}).json()
    done = put_range(url["uploadUrl"], b"hello", 0, 5)
    assert done.status_code == 201, done.text
    assert put_range(url["uploadUrl"], b"hello", 0, 5).status_code == 200  # still visible
    into_private = {"parentReference": {"id": private.id}, "name": "plan.txt"}
    moved = graph.patch(f"/me/drive/items/{done.json()['id']}", json=into_private)
    assert moved.status_code == 200, moved.text
    assert_graph_error(as_bob.get(f"{drive}/items/{done.json()['id']}"), 404, "itemNotFound")
    before = mock_drive.digest()
    again = put_range(url["uploadUrl"], b"hello", 0, 5)
    assert_graph_error(again, 404, "itemNotFound")
    assert "plan" not in again.text and "Private" not in again.text
    assert mock_drive.digest() == before
    mock_drive.set_policy(lenientUploadSessions=True)
    before = mock_drive.digest()
    no_bytes = {"Content-Range": "bytes 0-4/5", "Content-Length": "0"}
    empty = requests.put(url["uploadUrl"], data=b"", headers=no_bytes, timeout=30)
    assert_graph_error(empty, 404, "itemNotFound")
    assert mock_drive.digest() == before


# -- the change log in a scenario ----------------------------------------------------------------
@pytest.mark.parametrize("key", ["times", "chains", "log"])
@pytest.mark.parametrize("value", [{}, {"a": 1}, "", 0, False, True])
def test_a_change_log_part_that_is_not_a_list_is_refused(mock_drive, graph, key, value):
    """``changes.times``, ``chains`` and ``log`` are lists: anything else (an empty object, a
    number, false) is a mistake the load names, not a list it reads as empty."""
    mock_drive.add_file("/a.txt", "a")
    assert graph.get("/me/drive/root/delta?token=latest").status_code == 200
    scenario = mock_drive.export()
    scenario["changes"][key] = value
    url = mock_drive.url + "/_mockdrive/state"
    before = requests.get(url, params={"format": "yaml"}, timeout=30).text
    answer = requests.put(url, data=json.dumps(scenario), timeout=30)
    assert answer.status_code == 400, answer.text
    assert f"changes.{key}" in answer.text
    assert requests.get(url, params={"format": "yaml"}, timeout=30).text == before


def test_a_time_token_names_the_same_changes_after_a_reload_without_a_token_issued(
    mock_drive, graph
):
    """A time needs no token handed out before it: what changed after it is the same on the
    reloaded copy of a state whose changes no delta call has seen yet."""
    mock_drive.clock.advance(hours=1)
    since = time_token(mock_drive.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"))
    mock_drive.clock.advance(hours=1)
    made = mock_drive.add_file("/made.txt", "m")
    mock_drive.load(mock_drive.export())
    root = mock_drive.item("/").id  # the folder above the change comes first
    assert [entry["id"] for entry in follow_delta(graph, since)[0]] == [root, made.id]


def test_a_time_token_with_an_offset_of_sixty_minutes_is_refused(mock_drive, graph):
    """An offset's minutes go to 59: ``+8:60`` is no time (it was read as nine hours)."""
    before = mock_drive.digest()
    for token in ("2024-01-01T00:00:00+8:60", "2024-01-01T00:00:00-00:99"):
        assert_graph_error(graph.get(time_token(token)), 400, "invalidRequest")
    assert mock_drive.digest() == before


def test_a_time_token_in_the_function_form_is_read_as_a_time(mock_drive, graph):
    """``delta(token='…')`` (msgraph-sdk's delta_with_token, the time percent-encoded or not)
    takes a time as the query form does; its colons are not the ':' of a path address, nor is
    one in a search query."""
    mock_drive.clock.advance(hours=1)
    since = mock_drive.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    mock_drive.clock.advance(hours=1)
    made = mock_drive.add_file("/a b.txt", "made")
    folder = f"/drives/{mock_drive.drive.id}/items/{mock_drive.item('/').id}"
    for url in (f"/me/drive/root/delta(token='{since}')",
                f"/me/drive/root/delta(token='{quote(since, safe='')}')",
                f"{folder}/delta(token='{since}')"):  # fmt: skip
        changes, link = follow_delta(graph, url)
        assert [entry["id"] for entry in changes] == [mock_drive.item("/").id, made.id], url
        assert follow_delta(graph, link)[0] == []
    for url in ("/me/drive/root/search(q='a:b')", "/me/drive/search(q='a:b')"):
        answer = graph.get(url)
        assert answer.status_code == 200, answer.text


def test_a_time_token_reports_a_rename_and_a_move_made_after_it(mock_drive, graph):
    """A PATCH (rename, move) is a change like any other: made after the time, it is reported,
    also when it is the first change of its second."""
    renamed = mock_drive.add_file("/old.txt", "o")
    moved = mock_drive.add_file("/m.txt", "m")
    folder = mock_drive.add_folder("/F")
    mock_drive.clock.advance(hours=1)
    since = time_token(mock_drive.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"))
    mock_drive.clock.advance(hours=1)
    assert graph.patch(f"/me/drive/items/{renamed.id}", json={"name": "new.txt"}).ok
    mock_drive.clock.advance(hours=1)
    into_folder = {"parentReference": {"id": folder.id}}
    assert graph.patch(f"/me/drive/items/{moved.id}", json=into_folder).ok
    changes, _ = follow_delta(graph, since)
    root = mock_drive.item("/").id  # each change after the folders above it, each once
    assert [(entry["id"], entry["name"]) for entry in changes] == [
        (root, "root"), (renamed.id, "new.txt"), (folder.id, "F"), (moved.id, "m.txt")]  # fmt: skip
    mock_drive.load(mock_drive.export())
    assert len(follow_delta(graph, since)[0]) == 4


# -- fileSystemInfo a client sets ----------------------------------------------------------------
@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                   "0001-01-01T00:00:00Z", "1899-12-31T23:59:59Z"])  # fmt: skip
def test_a_file_system_time_out_of_range_is_refused_and_changes_nothing(mock_drive, graph, stamp):
    """Times out of the years a scenario holds (1900 to the clock's last) were stored, so the
    export no longer loaded, or overflowed into a 500."""
    mock_drive.add_file("/a.txt", "a")
    before = mock_drive.digest()
    info = {"fileSystemInfo": {"lastModifiedDateTime": stamp}}
    assert_graph_error(graph.patch("/me/drive/root:/a.txt", json=info), 400, "invalidRequest")
    opened = graph.post("/me/drive/root:/b.txt:/createUploadSession", json={"item": info})
    assert_graph_error(opened, 400, "invalidRequest")
    assert mock_drive.digest() == before


def test_a_file_system_time_is_kept_in_the_form_an_export_reloads(mock_drive, graph):
    """An offset or fractions are read as the time they name and kept to the second in UTC,
    by PATCH and by an upload session alike; the export reloads to the same answer."""
    mock_drive.add_file("/a.txt", "a")
    info = {"fileSystemInfo": {"lastModifiedDateTime": "2021-03-04T13:06:07.123456789+08:00"}}
    patched = graph.patch("/me/drive/root:/a.txt", json=info).json()
    url = graph.post("/me/drive/root:/b.txt:/createUploadSession", json={"item": info})
    made = put_range(url.json()["uploadUrl"], b"b", 0, 1).json()
    for item in (patched, made):
        assert item["fileSystemInfo"]["lastModifiedDateTime"] == "2021-03-04T05:06:07Z"
    mock_drive.load(mock_drive.export())
    again = graph.get("/me/drive/root:/b.txt").json()
    assert again["fileSystemInfo"]["lastModifiedDateTime"] == "2021-03-04T05:06:07Z"


def test_a_rename_of_a_name_at_the_length_limit_keeps_it_within_the_limit(mock_drive, graph):
    """``name 1`` of a 255-character name was 257 characters: stored, and the export no longer
    loaded. The numbered name is shortened before its number instead."""
    name = "n" * 251 + ".txt"
    mock_drive.add_file("/A/" + name, "a")
    mock_drive.add_file("/" + name, "b")
    root = mock_drive.item("/").id
    copied = graph.post(f"/me/drive/root:/A/{name}:/copy" + RENAME,
                        json={"parentReference": {"id": root}})  # fmt: skip
    assert copied.status_code == 202, copied.text
    put = graph.put(f"/me/drive/root:/{name}:/content" + RENAME, data=b"c")
    assert put.status_code == 201, put.text
    names = sorted(c["name"] for c in graph.get("/me/drive/root/children").json()["value"])
    assert [len(n) for n in names] == [1, 255, 255, 255]
    assert sorted(n[-7:] for n in names[1:]) == ["n 1.txt", "n 2.txt", "nnn.txt"]
    mock_drive.load(mock_drive.export())
    assert graph.get("/me/drive/root:/" + "n" * 249 + " 2.txt").status_code == 200


def test_children_only_into_the_folder_itself_or_below_it(mock_drive, graph):
    """Into itself: under fail each child meets itself (409), under replace a child would
    replace its own source (400), under rename each is copied beside itself; into one of its
    own children: that child would go into itself (400). Refusals copy nothing."""
    mock_drive.add_file("/A/a.txt", "1")
    mock_drive.add_file("/A/Sub/deep.txt", "2")
    a, sub = mock_drive.item("/A"), mock_drive.item("/A/Sub")
    before = mock_drive.digest()
    for query, target, status, code in (
        ("", a, 409, "nameAlreadyExists"),
        ("?@microsoft.graph.conflictBehavior=replace", a, 400, "invalidRequest"),
        (RENAME, sub, 400, "invalidRequest"),
    ):
        body = {"parentReference": {"id": target.id}, "childrenOnly": True}
        assert_graph_error(graph.post("/me/drive/root:/A:/copy" + query, json=body), status, code)
        assert mock_drive.digest() == before
    body = {"parentReference": {"id": a.id}, "childrenOnly": True}
    assert graph.post("/me/drive/root:/A:/copy" + RENAME, json=body).status_code == 202
    assert children_names(graph, "/A") == ["Sub", "Sub 1", "a 1.txt", "a.txt"]
    assert graph.get("/me/drive/root:/A/Sub 1/deep.txt:/content").text == "2"
    assert children_names(graph, "/A/Sub 1") == ["deep.txt"]  # not a copy of itself inside


def test_children_only_copies_no_child_the_caller_cannot_see(mock_drive):
    """A child hidden from the caller (it stops inheriting) is neither copied nor named."""
    mock_drive.load({"users": [{"displayName": "Ada", "email": "ada@contoso.example",
                                "token": "ada-token"},
                               {"displayName": "Bob", "email": "bob@contoso.example",
                                "token": "bob-token"}],
                     "drives": [{"owner": "ada@contoso.example", "driveType": "business",
                                 "root": {"children": [
                                     {"name": "A", "folder": {}, "permissions": [
                                         {"user": "bob@contoso.example", "roles": ["write"]}],
                                      "children": [
                                          {"name": "open.txt", "file": {}, "content": "o"},
                                          {"name": "Secret", "folder": {}, "inherits": False,
                                           "children": [{"name": "s.txt", "file": {},
                                                         "content": "s"}]}]},
                                     {"name": "B", "folder": {}, "permissions": [
                                         {"user": "bob@contoso.example",
                                          "roles": ["write"]}]}]}}]})  # fmt: skip
    bob = mock_drive.session_for("bob@contoso.example")
    drive = f"/drives/{mock_drive.drive.id}"
    body = {"parentReference": {"id": mock_drive.item("/B").id}, "childrenOnly": True}
    answer = bob.post(f"{drive}/items/{mock_drive.item('/A').id}/copy", json=body)
    assert answer.status_code == 202, answer.text
    listed = bob.get(f"{drive}/root:/B:/children").json()["value"]
    assert [c["name"] for c in listed] == ["open.txt"]
    assert [c.name for c in mock_drive.server.call(
        lambda: [mock_drive.state.store.items[i] for i in mock_drive.item("/B").children.values()]
    )] == ["open.txt"]  # fmt: skip


def test_an_export_names_the_state_generation_only_once_a_token_names_it(mock_drive, graph):
    """The change log goes along with any change, but the generation (how many states the
    server has had) only once a token was handed out: the same steps export the same bytes
    whichever test, or server, runs them."""
    mock_drive.add_file("/a.txt", "a")
    exported = mock_drive.export()
    assert "generation" not in exported["changes"] and exported["changes"]["times"]
    mock_drive.load(exported)
    assert mock_drive.export() == exported
    assert graph.get("/me/drive/root/delta?token=latest").status_code == 200
    assert mock_drive.export()["changes"]["generation"] > 0
