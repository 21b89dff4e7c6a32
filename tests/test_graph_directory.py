"""What apps touch first: /me, /users, drive collections, special folders, search, the OData key
form children('name'), thumbnails and versions; honest 501s; paths of non-default drives."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from conftest import as_user, assert_graph_error


def test_me_and_users(mock_drive, graph):
    me = graph.get("/me")
    assert me.status_code == 200 and me.headers["OData-Version"] == "4.0"
    body = me.json()
    owner = mock_drive.owner
    assert body["@odata.context"].endswith("/$metadata#users/$entity")
    assert (body["id"], body["mail"], body["userPrincipalName"]) == (owner.id, owner.email,
                                                                      owner.email)  # fmt: skip
    assert None not in body.values()
    bob = mock_drive.add_user("Bob Builder", "bob@contoso.example")
    by_id = graph.get(f"/users/{bob.id}").json()
    by_upn = graph.get("/users/bob@contoso.example").json()
    assert by_id == by_upn and (by_id["givenName"], by_id["surname"]) == ("Bob", "Builder")
    assert set(graph.get("/me?$select=displayName").json()) == {"@odata.context", "id",
                                                                 "displayName"}  # fmt: skip
    missing = graph.get("/users/nobody@contoso.example")
    assert_graph_error(missing, 404, "Request_ResourceNotFound")
    assert_graph_error(graph.post("/me", json={}), 405, "notSupported")


def test_drive_collections(mock_drive, graph):
    second = mock_drive.add_drive(mock_drive.owner, name="Second")
    bob = mock_drive.add_user("Bob", "bob@contoso.example")
    mock_drive.add_drive(bob, name="Bob's")
    for path in ("/me/drives", "/drives"):
        body = graph.get(path).json()
        assert body["@odata.context"].endswith("/$metadata#drives")
        assert [d["id"] for d in body["value"]] == [mock_drive.drive.id, second.id]
    assert graph.get(f"/users/{bob.id}/drives").json()["value"] == []  # nothing shared with Ada
    assert len(as_user(graph, "bob-token").get(f"/users/{bob.id}/drives").json()["value"]) == 1


@pytest.mark.parametrize(
    "name, path",
    [
        ("approot", "/Apps/mockdrive"),
        ("documents", "/Documents"),
        ("photos", "/Pictures"),
        ("cameraroll", "/Pictures/Camera Roll"),
        ("music", "/Music"),
    ],
)
def test_special_folders_are_created_on_first_use(mock_drive, graph, name, path):
    first = graph.get(f"/me/drive/special/{name}")
    assert first.status_code == 200, first.text
    assert graph.get(f"/me/drive/special/{name}").json()["id"] == first.json()["id"]
    assert mock_drive.item(path).id == first.json()["id"]
    upload = graph.put(f"/me/drive/special/{name}:/note.txt:/content", data=b"hi")
    assert upload.status_code == 201
    assert graph.get(f"/me/drive/root:{path}/note.txt:/content").content == b"hi"


def test_special_folders_are_not_created_for_someone_who_cannot_write_the_root(mock_drive, graph):
    mock_drive.add_user("Bob", "bob@contoso.example")
    mock_drive.add_folder("/Shared")
    mock_drive.grant("/Shared", "bob@contoso.example", ["write"])
    before = mock_drive.digest()
    response = as_user(graph, "bob-token").get(f"/drives/{mock_drive.drive.id}/special/approot")
    assert_graph_error(response, 404, "itemNotFound")
    assert mock_drive.digest() == before
    assert_graph_error(graph.get("/me/drive/special/recordings"), 501, "notImplemented")


def test_search_finds_names_the_caller_can_see(mock_drive, graph):
    mock_drive.add_file("/Plans/Plan A.docx", "a")
    mock_drive.add_file("/Plans/Secret/plan b.docx", "b")
    mock_drive.add_file("/Plans/Secret/Shared/plan c.docx", "c")
    mock_drive.add_file("/Other/unrelated.txt", "x")
    names = sorted(i["name"] for i in graph.get("/me/drive/root/search(q='plan')").json()["value"])
    assert names == ["Plan A.docx", "Plans", "plan b.docx", "plan c.docx"]
    mock_drive.add_user("Bob", "bob@contoso.example")
    mock_drive.grant("/Plans", "bob@contoso.example", ["read"])
    mock_drive.stop_inheriting("/Plans/Secret")
    mock_drive.grant("/Plans/Secret/Shared", "bob@contoso.example", ["read"])
    bob = as_user(graph, "bob-token")
    drive = mock_drive.drive.id
    body = bob.get(f"/drives/{drive}/items/{mock_drive.item('/Plans').id}/search(q='PLAN')").json()
    assert sorted(i["name"] for i in body["value"]) == ["Plan A.docx", "plan c.docx"]
    assert body["@odata.context"].endswith("$metadata#Collection(driveItem)")
    # the root itself is hidden from bob: searching from it answers like a missing item
    assert_graph_error(bob.get(f"/drives/{drive}/root/search(q='plan')"), 404, "itemNotFound")
    paged = graph.get("/me/drive/search(q='plan')?$top=1").json()
    assert len(paged["value"]) == 1 and "@odata.nextLink" in paged
    assert_graph_error(graph.get("/me/drive/root/search(x='plan')"), 400, "invalidRequest")


def test_children_key_form_reads_and_uploads(mock_drive, graph):
    mock_drive.add_file("/Docs/it's.txt", "quoted")
    key = quote("children('it''s.txt')")
    assert graph.get(f"/me/drive/root/children('Docs')/{key}").json()["name"] == "it's.txt"
    assert graph.get(f"/me/drive/root:/Docs:/{key}/content").content == b"quoted"
    docs = mock_drive.item("/Docs")
    new = graph.put(f"/me/drive/items/{docs.id}/children('new.txt')/content", data=b"fresh")
    assert new.status_code == 201, new.text
    assert mock_drive.item("/Docs/new.txt").id == new.json()["id"]


def test_thumbnails_and_versions(mock_drive, graph):
    mock_drive.add_file("/a.txt", "one")
    assert graph.get("/me/drive/root:/a.txt:/thumbnails").json()["value"] == []
    versions = graph.get("/me/drive/root:/a.txt:/versions").json()["value"]
    assert len(versions) == 1 and versions[0]["size"] == 3
    graph.put("/me/drive/root:/a.txt:/content", data=b"two!")
    current = graph.get("/me/drive/root:/a.txt:/versions").json()["value"]
    assert current[0]["id"] != versions[0]["id"] and current[0]["size"] == 4
    one = graph.get(f"/me/drive/root:/a.txt:/versions/{current[0]['id']}")
    assert one.json()["id"] == current[0]["id"]
    old = graph.get(f"/me/drive/root:/a.txt:/versions/{versions[0]['id']}")
    assert_graph_error(old, 404, "itemNotFound")
    restore = graph.post(f"/me/drive/root:/a.txt:/versions/{versions[0]['id']}/restoreVersion")
    assert_graph_error(restore, 501, "notImplemented")


def test_the_current_version_has_no_content_of_its_own(mock_drive, graph):
    """The service refuses ``versions/{id}/content`` for the current version ("You cannot get
    the content of the current version."): its bytes are the item's own ``/content``. An older
    version's content is not kept here (501)."""
    mock_drive.add_file("/a.txt", "one")
    first = graph.get("/me/drive/root:/a.txt:/versions").json()["value"][0]["id"]
    graph.put("/me/drive/root:/a.txt:/content", data=b"two!")
    current = graph.get("/me/drive/root:/a.txt:/versions").json()["value"][0]["id"]
    refused = graph.get(f"/me/drive/root:/a.txt:/versions/{current}/content")
    assert_graph_error(refused, 400, "invalidRequest")
    assert "current version" in refused.json()["error"]["message"]
    older = graph.get(f"/me/drive/root:/a.txt:/versions/{first}/content")
    assert_graph_error(older, 501, "notImplemented")
    assert graph.get("/me/drive/root:/a.txt:/content").content == b"two!"
    # HEAD answers as GET does, without the body
    assert graph.head(f"/me/drive/root:/a.txt:/versions/{current}/content").status_code == 400
    assert graph.head(f"/me/drive/root:/a.txt:/versions/{first}/content").status_code == 501


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/me/drive/root:/a.txt:/checkin"),
        ("POST", "/me/drive/root:/a.txt:/checkout"),
        ("POST", "/me/drive/root:/a.txt:/follow"),
        ("GET", "/me/drive/root:/a.txt:/analytics"),
        ("GET", "/me/drive/root:/a.txt:/workbook"),
        ("GET", "/me/drive/recent"),
        ("GET", "/me/messages"),
        ("GET", "/groups/g1"),
        ("GET", "/users"),
    ],
)
def test_graph_features_mockdrive_lacks_answer_501(mock_drive, graph, method, path):
    mock_drive.add_file("/a.txt", "x")
    before = mock_drive.digest()
    error = assert_graph_error(graph.request(method, path, json={}), 501, "notImplemented")
    assert "mockdrive does not implement" in error["message"]
    assert mock_drive.digest() == before


def test_segments_graph_does_not_have_answer_as_its_gateway(graph):
    for path in ("/me/drive/root/bogus", "/bogus", "/me/bogus"):
        error = assert_graph_error(graph.get(path), 400, "BadRequest")
        assert error["message"] == "Resource not found for the segment 'bogus'."


def test_paths_of_a_drive_that_is_not_the_callers_default(mock_drive, graph):
    other = mock_drive.add_drive(mock_drive.owner, name="Second")
    mock_drive.add_file("/F/x.txt", "x", drive=other)
    mock_drive.add_user("Bob", "bob@contoso.example")
    mock_drive.grant("/F", "bob@contoso.example", ["read"], drive=other)
    body = graph.get(f"/drives/{other.id}/root:/F/x.txt").json()
    assert body["parentReference"]["path"] == f"/drives/{other.id}/root:/F"
    permissions = graph.get(f"/drives/{other.id}/root:/F/x.txt:/permissions").json()["value"]
    inherited = {p["inheritedFrom"]["path"] for p in permissions}
    assert inherited == {f"/drives/{other.id}/root:", f"/drives/{other.id}/root:/F"}
    # in the caller's own default drive the short form stays
    mock_drive.add_file("/G/y.txt", "y")
    mine = graph.get("/me/drive/root:/G/y.txt").json()
    assert mine["parentReference"]["path"] == "/drive/root:/G"
    # Bob sees Ada's default drive as someone else's
    mock_drive.grant("/G", "bob@contoso.example", ["read"])
    bobs = as_user(graph, "bob-token").get(f"/drives/{mock_drive.drive.id}/root:/G/y.txt").json()
    assert bobs["parentReference"]["path"] == f"/drives/{mock_drive.drive.id}/root:/G"


def test_a_group_drive_is_owned_by_the_group(mock_drive, graph):
    group = mock_drive.add_group("Finance", [mock_drive.owner], group_id="g-fin",
                                 email="finance@contoso.example")  # fmt: skip
    mock_drive.add_drive(mock_drive.owner, name="Finance", drive_type="documentLibrary",
                         also_default_for=(group.id,))  # fmt: skip
    body = graph.get(f"/groups/{group.id}/drive").json()
    assert body["owner"] == {
        "group": {"id": "g-fin", "displayName": "Finance", "email": "finance@contoso.example"}
    }
    assert "user" in graph.get("/me/drive").json()["owner"]


def test_an_unimplemented_action_on_a_path_that_does_not_exist_yet_is_501(graph):
    """An action on a path that does not exist yet: the answer names the gap, not a missing
    item."""
    response = graph.post("/me/drive/root:/new.bin:/checkin", json={})
    assert_graph_error(response, 501, "notImplemented")


def test_a_drive_search_also_finds_what_others_shared(mock_drive, graph):
    """``/me/drive/search(q=…)`` includes items of other drives shared with the caller (and
    what they see below them), as ``remoteItem``s, as the docs' sample does; ``root/search``
    and a search of someone else's drive keep to that drive."""
    mock_drive.add_file("/My plan.txt", "mine")
    bob = mock_drive.add_user("Bob", "bob@contoso.example")
    theirs = mock_drive.add_drive(bob, drive_type="business", name="OneDrive")
    mock_drive.add_file("/Plans/Q3 plan.txt", "q3", drive=theirs)
    mock_drive.add_file("/Private plan.txt", "no", drive=theirs)
    mock_drive.grant("/Plans", mock_drive.owner, ["read"], drive=theirs)
    found = graph.get("/me/drive/search(q='plan')").json()["value"]
    assert sorted(hit["name"] for hit in found) == ["My plan.txt", "Plans", "Q3 plan.txt"]
    remote = {hit["name"]: hit for hit in found if "remoteItem" in hit}
    assert sorted(remote) == ["Plans", "Q3 plan.txt"]
    assert remote["Q3 plan.txt"]["remoteItem"]["parentReference"]["driveId"] == theirs.id
    assert all(hit["searchResult"] == {} for hit in found)
    own = graph.get("/me/drive/root/search(q='plan')").json()["value"]
    assert [hit["name"] for hit in own] == ["My plan.txt"]
    mock_drive.grant("/", bob, ["read"])  # bob reads the owner's drive: its search is its own
    as_bob = as_user(graph, "bob-token")
    bobs = as_bob.get(f"/drives/{mock_drive.drive.id}/search(q='plan')").json()["value"]
    assert [(hit["name"], "remoteItem" in hit) for hit in bobs] == [("My plan.txt", False)]
