"""Attacks on the features added in this round: delta's time token, copy's childrenOnly,
sharedWithMe's remoteItem parent, search hits, new content and fileSystemInfo."""

from __future__ import annotations

from urllib.parse import quote

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
