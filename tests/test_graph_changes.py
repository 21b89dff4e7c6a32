"""Changing items over HTTP: PATCH (rename, move, description, fileSystemInfo) and copy."""

from __future__ import annotations

import pytest
import requests
from conftest import as_user, assert_graph_error


@pytest.fixture
def tree(mock_drive):
    mock_drive.add_file("/A/a.txt", "alpha")
    mock_drive.add_file("/A/Sub/deep.txt", "deep")
    mock_drive.add_folder("/B")
    mock_drive.add_user("Bob Reader", "bob@contoso.example")
    return mock_drive


def bob(graph):
    return as_user(graph, "bob-token")


def unchanged(mock_drive, before: str) -> None:
    assert mock_drive.digest() == before


# -- rename, description, fileSystemInfo ------------------------------------------------------
def test_rename_keeps_the_id_and_changes_the_etag(tree, graph):
    item = tree.item("/A/a.txt")
    old = graph.get(f"/me/drive/items/{item.id}").json()
    response = graph.patch(f"/me/drive/items/{item.id}", json={"name": "renamed.txt"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["name"]) == (item.id, "renamed.txt")
    assert body["eTag"] != old["eTag"] and response.headers["ETag"] == body["eTag"]
    assert graph.get("/me/drive/root:/A/renamed.txt").json()["id"] == item.id
    assert_graph_error(graph.get("/me/drive/root:/A/a.txt"), 404, "itemNotFound")


def test_description_and_file_system_info(tree, graph):
    body = graph.patch(
        "/me/drive/root:/A/a.txt",
        json={
            "description": "the first letter",
            "fileSystemInfo": {
                "createdDateTime": "2020-02-03T04:05:06Z",
                "lastModifiedDateTime": "2021-03-04T05:06:07.123+00:00",
            },
        },
    ).json()
    assert body["description"] == "the first letter"
    assert body["fileSystemInfo"] == {
        "createdDateTime": "2020-02-03T04:05:06Z",
        "lastModifiedDateTime": "2021-03-04T05:06:07Z",
    }
    again = graph.get("/me/drive/root:/A/a.txt").json()
    assert again["fileSystemInfo"] == body["fileSystemInfo"]


def test_if_match_on_patch(tree, graph):
    item = tree.item("/A/a.txt")
    etag = graph.get(f"/me/drive/items/{item.id}").json()["eTag"]
    ok = graph.patch(f"/me/drive/items/{item.id}", json={"name": "b.txt"},
                     headers={"If-Match": etag})  # fmt: skip
    assert ok.status_code == 200
    before = tree.digest()
    stale = graph.patch(f"/me/drive/items/{item.id}", json={"name": "c.txt"},
                        headers={"If-Match": etag})  # fmt: skip
    assert_graph_error(stale, 412, "resourceModified")
    unchanged(tree, before)


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"name": "B"}, 409, "nameAlreadyExists"),  # a sibling folder (case-insensitive: "b")
        ({"name": "bad:name"}, 400, "invalidRequest"),
        ({"name": 7}, 400, "invalidRequest"),
        ({"size": 3}, 400, "invalidRequest"),
        ({"fileSystemInfo": {"lastModifiedDateTime": "yesterday"}}, 400, "invalidRequest"),
        (
            {"fileSystemInfo": {"lastModifiedDateTime": "2020-01-01T00:00:00"}},
            400,
            "invalidRequest",
        ),
        ({"parentReference": {"id": "NOPE"}}, 404, "itemNotFound"),
        ({"parentReference": "B"}, 400, "invalidRequest"),
        ({"parentReference": {"path": "/elsewhere:/B"}}, 400, "invalidRequest"),
        ({"name": "x", "@microsoft.graph.conflictBehavior": "merge"}, 400, "invalidRequest"),
    ],
)
def test_bad_patches_change_nothing(tree, graph, body, status, code):
    before = tree.digest()
    assert_graph_error(graph.patch("/me/drive/root:/A", json=body), status, code)
    unchanged(tree, before)
    assert "description" not in graph.get("/me/drive/root:/A").json()


def test_root_cannot_be_renamed_or_moved(tree, graph):
    before = tree.digest()
    assert_graph_error(graph.patch("/me/drive/root", json={"name": "x"}), 400, "invalidRequest")
    unchanged(tree, before)


def test_rename_onto_a_hidden_sibling_conflicts_and_changes_nothing(tree, graph):
    tree.grant("/A", "bob@contoso.example", ["write"])
    tree.stop_inheriting("/A/Sub")  # Bob cannot see Sub
    assert_graph_error(bob(graph).get("/me/drive/root:/A/Sub"), 404, "itemNotFound")
    item = tree.item("/A/a.txt")
    drive = tree.drive.id
    before = tree.digest()
    for behaviour in ("fail", "replace"):
        response = bob(graph).patch(
            f"/drives/{drive}/items/{item.id}?@microsoft.graph.conflictBehavior={behaviour}",
            json={"name": "sub"},
        )
        assert_graph_error(response, 409, "nameAlreadyExists")
    unchanged(tree, before)
    renamed = bob(graph).patch(
        f"/drives/{drive}/items/{item.id}",
        json={"name": "sub", "@microsoft.graph.conflictBehavior": "rename"},
    )
    assert renamed.json()["name"] == "sub 1"


def test_replace_on_rename_removes_the_visible_sibling(tree, graph):
    tree.add_file("/B/old.txt", "old")
    tree.add_file("/B/new.txt", "new")
    new_id = tree.item("/B/new.txt").id
    body = graph.patch(
        "/me/drive/root:/B/new.txt?@microsoft.graph.conflictBehavior=replace",
        json={"name": "old.txt"},
    ).json()
    assert (body["id"], body["name"]) == (new_id, "old.txt")
    names = [c["name"] for c in graph.get("/me/drive/root:/B:/children").json()["value"]]
    assert names == ["old.txt"]


# -- move -------------------------------------------------------------------------------------
def test_move_by_id_and_by_path_with_a_new_name(tree, graph):
    a = tree.item("/A/a.txt")
    b = tree.item("/B")
    moved = graph.patch(f"/me/drive/items/{a.id}", json={"parentReference": {"id": b.id}})
    assert moved.status_code == 200, moved.text
    assert moved.json()["parentReference"]["path"] == "/drive/root:/B"
    assert graph.get("/me/drive/root:/A").json()["size"] == len("deep")
    assert graph.get("/me/drive/root:/B").json()["size"] == len("alpha")
    back = graph.patch(
        f"/me/drive/items/{a.id}",
        json={"parentReference": {"path": "/drive/root:/A/Sub"}, "name": "z.txt"},
    ).json()
    assert back["parentReference"]["path"] == "/drive/root:/A/Sub" and back["name"] == "z.txt"
    other_form = graph.patch(
        f"/me/drive/items/{a.id}",
        json={
            "parentReference": {"driveId": tree.drive.id, "path": f"/drives/{tree.drive.id}/root:"}
        },
    ).json()
    assert other_form["parentReference"]["path"] == "/drive/root:"


def test_moving_into_itself_or_a_descendant_or_a_file_is_refused(tree, graph):
    a = tree.item("/A")
    before = tree.digest()
    for target in ("/A", "/A/Sub", "/A/a.txt"):
        response = graph.patch(
            f"/me/drive/items/{a.id}",
            json={"parentReference": {"id": tree.item(target).id}, "name": "A2"},
        )
        assert_graph_error(response, 400, "invalidRequest")
    unchanged(tree, before)


def test_moving_to_another_drive_is_refused(tree, graph):
    other = tree.add_drive(tree.owner, name="Other")
    before = tree.digest()
    response = graph.patch(
        "/me/drive/root:/A/a.txt", json={"parentReference": {"driveId": other.id, "id": "x"}}
    )
    error = assert_graph_error(response, 400, "invalidRequest")
    assert "between drives" in error["message"]
    root = graph.get(f"/drives/{other.id}/root").json()
    response = graph.patch("/me/drive/root:/A/a.txt", json={"parentReference": {"id": root["id"]}})
    assert_graph_error(response, 400, "invalidRequest")
    unchanged(tree, before)


def test_move_name_conflict_in_the_target(tree, graph):
    tree.add_file("/B/a.txt", "other")
    before = tree.digest()
    b = tree.item("/B")
    response = graph.patch("/me/drive/root:/A/a.txt", json={"parentReference": {"id": b.id}})
    assert_graph_error(response, 409, "nameAlreadyExists")
    unchanged(tree, before)
    renamed = graph.patch(
        "/me/drive/root:/A/a.txt?@microsoft.graph.conflictBehavior=rename",
        json={"parentReference": {"id": b.id}},
    ).json()
    assert renamed["name"] == "a 1.txt"


def test_permissions_follow_the_new_ancestors_at_once(tree, graph):
    """Lazy inheritance: moving out of a shared folder drops its grant, into one adds it;
    an item that stops inheriting keeps only its own wherever it goes."""
    carol = tree.add_user("Carol", "carol@contoso.example")
    tree.grant("/A", "bob@contoso.example", ["read"])
    tree.grant("/B", carol, ["write"])
    tree.add_file("/A/Private/secret.txt", "s")
    tree.stop_inheriting("/A/Private")
    tree.grant("/A/Private", carol, ["read"])
    tree.grant("/A/Private", tree.owner, ["owner"])  # the owner keeps access, as the service does
    a_txt, private, b = tree.item("/A/a.txt"), tree.item("/A/Private"), tree.item("/B")

    def holders(item_id):
        value = graph.get(f"/me/drive/items/{item_id}/permissions").json()["value"]
        return sorted(
            (p["grantedToV2"]["user"]["email"], p.get("inheritedFrom", {}).get("path", "direct"))
            for p in value
            if "user" in p.get("grantedToV2", {})
        )

    assert holders(a_txt.id) == [("ada@contoso.example", "/drive/root:"),
                                 ("bob@contoso.example", "/drive/root:/A")]  # fmt: skip
    graph.patch(f"/me/drive/items/{a_txt.id}", json={"parentReference": {"id": b.id}})
    assert holders(a_txt.id) == [("ada@contoso.example", "/drive/root:"),
                                 ("carol@contoso.example", "/drive/root:/B")]  # fmt: skip
    assert bob(graph).get(f"/drives/{tree.drive.id}/items/{a_txt.id}").status_code == 404
    assert as_user(graph, "carol-token").get(f"/drives/{tree.drive.id}/items/{a_txt.id}").ok
    # the broken-inheritance folder keeps exactly its own grants after the move
    before = holders(private.id)
    graph.patch(f"/me/drive/items/{private.id}", json={"parentReference": {"id": b.id}})
    assert holders(private.id) == before
    assert before == [("ada@contoso.example", "direct"), ("carol@contoso.example", "direct")]
    assert holders(tree.item("/B/Private/secret.txt").id) == [
        ("ada@contoso.example", "/drive/root:/B/Private"),
        ("carol@contoso.example", "/drive/root:/B/Private"),
    ]


def test_moving_needs_write_on_source_parent_target_and_item(tree, graph):
    drive = tree.drive.id
    a_txt, b = tree.item("/A/a.txt"), tree.item("/B")
    tree.grant("/A", "bob@contoso.example", ["write"])
    tree.grant("/B", "bob@contoso.example", ["read"])
    before = tree.digest()
    move = {"parentReference": {"id": b.id}}
    response = bob(graph).patch(f"/drives/{drive}/items/{a_txt.id}", json=move)
    assert_graph_error(response, 403, "accessDenied")  # read only on the target
    tree.grant("/A/Sub/deep.txt", "bob@contoso.example", ["write"])  # the item, not its parent
    tree.grant("/B", "bob@contoso.example", ["write"])
    deep = tree.item("/A/Sub/deep.txt")
    tree.stop_inheriting("/A/Sub")
    before = tree.digest()
    response = bob(graph).patch(f"/drives/{drive}/items/{deep.id}", json=move)
    assert_graph_error(response, 404, "itemNotFound")  # cannot see the source's parent
    unchanged(tree, before)
    assert bob(graph).patch(f"/drives/{drive}/items/{a_txt.id}", json=move).status_code == 200


def test_a_reader_cannot_rename(tree, graph):
    tree.grant("/A", "bob@contoso.example", ["read"])
    before = tree.digest()
    item = tree.item("/A/a.txt")
    response = bob(graph).patch(f"/drives/{tree.drive.id}/items/{item.id}", json={"name": "x"})
    assert_graph_error(response, 403, "accessDenied")
    unchanged(tree, before)


# -- copy -------------------------------------------------------------------------------------
def follow_monitor(response) -> dict:
    assert response.status_code == 202, response.text
    monitor = requests.get(response.headers["Location"], timeout=10)  # no token needed
    assert monitor.status_code == 200, monitor.text
    status = monitor.json()
    assert status["status"] == "completed" and status["percentageComplete"] == 100.0
    return status


def test_copy_a_folder_answers_202_and_the_monitor_names_the_copy(tree, graph):
    b = tree.item("/B")
    response = graph.post("/me/drive/root:/A:/copy",
                          json={"parentReference": {"id": b.id}, "name": "A copy"})  # fmt: skip
    status = follow_monitor(response)
    copy = graph.get(f"/me/drive/items/{status['resourceId']}").json()
    assert copy["name"] == "A copy" and copy["parentReference"]["path"] == "/drive/root:/B"
    deep = graph.get("/me/drive/root:/B/A copy/Sub/deep.txt:/content")
    assert deep.content == b"deep"
    assert graph.get("/me/drive/root:/A/Sub/deep.txt").ok  # the source is still there
    assert graph.get("/me/drive/root:/B").json()["size"] == len("alpha") + len("deep")


def test_a_copy_inherits_the_target_and_drops_the_source_grants(tree, graph):
    carol = tree.add_user("Carol", "carol@contoso.example")
    tree.grant("/A/a.txt", "bob@contoso.example", ["write"])
    tree.grant("/B", carol, ["read"])
    b = tree.item("/B")
    status = follow_monitor(graph.post("/me/drive/root:/A/a.txt:/copy",
                                       json={"parentReference": {"id": b.id}}))  # fmt: skip
    value = graph.get(f"/me/drive/items/{status['resourceId']}/permissions").json()["value"]
    emails = sorted(p["grantedToV2"]["user"]["email"] for p in value)
    assert emails == ["ada@contoso.example", "carol@contoso.example"]
    assert all("inheritedFrom" in p for p in value)


def test_copy_beside_the_source_and_conflicts(tree, graph):
    before = tree.digest()
    assert_graph_error(graph.post("/me/drive/root:/A/a.txt:/copy", json={}), 409,
                       "nameAlreadyExists")  # fmt: skip
    unchanged(tree, before)
    status = follow_monitor(graph.post("/me/drive/root:/A/a.txt:/copy", json={"name": "b.txt"}))
    assert graph.get(f"/me/drive/items/{status['resourceId']}").json()["name"] == "b.txt"
    renamed = follow_monitor(
        graph.post("/me/drive/root:/A/a.txt:/copy?@microsoft.graph.conflictBehavior=rename")
    )
    assert graph.get(f"/me/drive/items/{renamed['resourceId']}").json()["name"] == "a 1.txt"


def test_bad_copies_change_nothing(tree, graph):
    tree.grant("/A", "bob@contoso.example", ["read"])
    a, sub = tree.item("/A"), tree.item("/A/Sub")
    before = tree.digest()
    cases = [
        (graph, "/me/drive/root:/A:/copy", {"parentReference": {"id": sub.id}}, 400),
        (graph, "/me/drive/root:/A:/copy", {"parentReference": {"id": "NOPE"}}, 404),
        (graph, "/me/drive/root:/A:/copy", {"name": "bad|name"}, 400),
        (graph, "/me/drive/root:/A:/copy", {"unknown": 1}, 400),
        (
            graph,
            "/me/drive/root:/A/a.txt:/copy",
            {"parentReference": {"id": tree.item("/A/a.txt").id}},
            400,
        ),
        (graph, "/me/drive/root:/A:/copy", {"name": "A"}, 409),
        (bob(graph), f"/drives/{tree.drive.id}/items/{a.id}/copy", {"name": "A2"}, 404),
        (bob(graph), f"/drives/{tree.drive.id}/items/{sub.id}/copy", {"name": "S2"}, 403),
    ]
    for client, path, body, status in cases:
        response = client.post(path, json=body)
        assert response.status_code == status, (path, body, response.text)
    unchanged(tree, before)


def test_copy_children_only_copies_what_is_inside_the_folder(tree, graph):
    """childrenOnly: the folder's children (each with what is below it) land in the target
    under their own names, the folder itself does not; the monitor names the target."""
    b = tree.item("/B")
    status = follow_monitor(graph.post("/me/drive/root:/A:/copy",
                                       json={"parentReference": {"id": b.id},
                                             "childrenOnly": True}))  # fmt: skip
    assert status["resourceId"] == b.id
    names = [c["name"] for c in graph.get("/me/drive/root:/B:/children").json()["value"]]
    assert sorted(names) == ["Sub", "a.txt"]
    assert graph.get("/me/drive/root:/B/Sub/deep.txt:/content").text == "deep"
    assert graph.get("/me/drive/root:/A/a.txt:/content").text == "alpha"  # the source stays
    # a second time: a conflict on any child fails the whole copy; rename names each anew
    before = tree.digest()
    again = graph.post("/me/drive/root:/A:/copy",
                       json={"parentReference": {"id": b.id}, "childrenOnly": True})  # fmt: skip
    assert_graph_error(again, 409, "nameAlreadyExists")
    unchanged(tree, before)
    follow_monitor(graph.post("/me/drive/root:/A:/copy?@microsoft.graph.conflictBehavior=rename",
                              json={"parentReference": {"id": b.id},
                                    "childrenOnly": True}))  # fmt: skip
    names = [c["name"] for c in graph.get("/me/drive/root:/B:/children").json()["value"]]
    assert sorted(names) == ["Sub", "Sub 1", "a 1.txt", "a.txt"]


def test_copy_children_only_refusals_change_nothing(tree, graph):
    b = tree.item("/B")
    before = tree.digest()
    for path, body in (
        ("/me/drive/root:/A/a.txt:/copy", {"childrenOnly": True}),  # a file has no children
        ("/me/drive/root:/A:/copy", {"childrenOnly": True, "name": "x", "parentReference":
                                     {"id": b.id}}),  # each child keeps its own name
        ("/me/drive/root:/A:/copy", {"childrenOnly": "yes"}),
    ):  # fmt: skip
        assert_graph_error(graph.post(path, json=body), 400, "invalidRequest")
    unchanged(tree, before)


def test_unknown_monitor_is_not_found(mock_drive):
    response = requests.get(mock_drive.url + "/_api/v2.0/monitor/nope", timeout=10)
    assert_graph_error(response, 404, "itemNotFound")


def test_a_destination_the_caller_cannot_see_is_not_found_even_in_another_drive(tree, graph):
    """Existence of items the caller cannot see must not leak through the move's errors."""
    tree.grant("/A", "bob@contoso.example", ["write"])
    other = tree.add_drive(tree.owner, name="Other")
    hidden = tree.add_folder("/Hidden", drive=other)
    item = tree.item("/A/a.txt")
    before = tree.digest()
    response = bob(graph).patch(f"/drives/{tree.drive.id}/items/{item.id}",
                                json={"parentReference": {"id": hidden.id}})  # fmt: skip
    assert_graph_error(response, 404, "itemNotFound")
    unchanged(tree, before)


def test_the_copy_monitor_needs_no_token_even_with_an_admin_token(worker_server):
    """The monitor is outside /v1.0 like the admin API, but it must stay open as in Graph."""
    from mockdrive.cli import default_state

    server = worker_server(default_state("t"), admin_token="secret")
    server.call(lambda: server.state.make_path(
        server.state.default_drive(server.state.user("ada@contoso.example").id), "/x.txt",
        is_folder=False, content=b"x"))  # fmt: skip
    response = requests.post(
        server.url + "/v1.0/me/drive/root:/x.txt:/copy",
        json={"name": "y.txt"},
        headers={"Authorization": "Bearer t"},
        timeout=10,
    )
    status = follow_monitor(response)
    assert status["resourceId"]
    assert requests.get(server.url + "/_mockdrive/journal", timeout=10).status_code == 401


def test_a_rename_or_move_keeps_the_files_own_time(tree, mock_drive, graph):
    """``fileSystemInfo`` is the client's time: a rename or a move leaves it as it was (the
    Debian onedrive client re-uploads a file whose time changed); the item's own
    ``lastModifiedDateTime`` is the service's, and moves."""
    uploaded = graph.put("/me/drive/root:/A/up.txt:/content", data=b"x").json()
    mock_drive.clock.advance(hours=1)
    renamed = graph.patch("/me/drive/root:/A/up.txt", json={"name": "up2.txt"}).json()
    assert renamed["fileSystemInfo"] == uploaded["fileSystemInfo"]
    assert renamed["lastModifiedDateTime"] > uploaded["lastModifiedDateTime"]
    mock_drive.clock.advance(hours=1)
    folder = {"id": tree.item("/B").id}
    moved = graph.patch("/me/drive/root:/A/up2.txt", json={"parentReference": folder}).json()
    assert moved["fileSystemInfo"] == uploaded["fileSystemInfo"]
    assert moved["lastModifiedDateTime"] > renamed["lastModifiedDateTime"]
    assert (
        graph.get(f"/me/drive/items/{moved['id']}").json()["fileSystemInfo"]
        == (uploaded["fileSystemInfo"])
    )


def test_the_journal_records_a_poll_of_the_copy_monitor(tree, graph):
    """The monitor is journaled as upload and download URLs are, so a test can assert a
    client polled it; an unknown monitor is Graph's 404, journaled too."""
    response = graph.post("/me/drive/root:/A/a.txt:/copy", json={"name": "c.txt"})
    follow_monitor(response)
    path = response.headers["Location"].split("//", 1)[1].partition("/")[2]
    entries = tree.requests.find("GET", "/" + path)
    assert [(e.status, e.caller) for e in entries] == [(200, "anonymous")]
    gone = requests.get(response.headers["Location"] + "x", timeout=10)
    assert_graph_error(gone, 404, "itemNotFound")
    assert tree.requests.find("GET", "/" + path + "x")[0].status == 404
