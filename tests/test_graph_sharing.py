"""Invite, inherited permissions, permission get/patch/delete and access checks over HTTP."""

from __future__ import annotations

import pytest
from conftest import as_user, assert_graph_error, assert_item


@pytest.fixture
def team(projects):
    """The shared projects' Carol and Bob."""
    return projects.user("carol@contoso.example"), projects.user("bob@contoso.example")


def invite(graph, target, *recipients, roles=("write",), **extra):
    body = {
        "recipients": [r if isinstance(r, dict) else {"email": r} for r in recipients],
        "roles": list(roles),
        **extra,
    }
    return graph.post(f"{target}/invite", json=body)


def test_invite_two_users_to_a_folder(mock_drive, graph, team):
    response = invite(
        graph,
        "/me/drive/root:/Projects:",
        "carol@contoso.example",
        "bob@contoso.example",
        sendInvitation=True,
        message="Welcome",
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    value = response.json()["value"]
    assert [p["grantedTo"]["user"]["displayName"] for p in value] == ["Carol Jones", "Bob Smith"]
    for permission in value:
        assert permission["roles"] == ["write"]
        assert permission["grantedToV2"]["user"] == permission["grantedTo"]["user"]
        assert permission["@deprecated.GrantedTo"].startswith("GrantedTo has been deprecated")
        assert permission["invitation"]["signInRequired"] is False
        assert permission["invitation"]["invitedBy"]["user"]["displayName"] == "Ada Owner"
        assert "inheritedFrom" not in permission and "error" not in permission
    outbox = mock_drive.outbox
    assert [m["to"] for m in outbox] == ["carol@contoso.example", "bob@contoso.example"]
    assert outbox[0]["itemName"] == "Projects" and outbox[0]["message"] == "Welcome"
    assert outbox[0]["roles"] == ["write"] and outbox[0]["sender"] == "ada@contoso.example"


def test_child_lists_the_inherited_permission(mock_drive, graph, team):
    folder = mock_drive.item("/Projects")
    granted = invite(graph, "/me/drive/root:/Projects:", "carol@contoso.example").json()["value"][0]
    listed = graph.get("/me/drive/root:/Projects/Plan.docx:/permissions").json()["value"]
    inherited = [p for p in listed if p["id"] == granted["id"]]
    assert len(inherited) == 1
    assert inherited[0]["inheritedFrom"] == {
        "driveId": mock_drive.drive.id,
        "id": folder.id,
        "path": "/drive/root:/Projects",
    }
    owner = [p for p in listed if p["roles"] == ["owner"]]
    assert owner[0]["inheritedFrom"]["path"] == "/drive/root:"
    one = graph.get(f"/me/drive/root:/Projects/Plan.docx:/permissions/{granted['id']}").json()
    assert one["inheritedFrom"]["id"] == folder.id
    own = graph.get(f"/me/drive/root:/Projects:/permissions/{granted['id']}").json()
    assert "inheritedFrom" not in own


def test_external_invitee_has_an_invitation_but_no_grantee(graph, team):
    value = invite(graph, "/me/drive/root:/Projects:", "jd@gmail.example", requireSignIn=True)
    permission = value.json()["value"][0]
    assert permission["invitation"]["email"] == "jd@gmail.example"
    assert permission["invitation"]["signInRequired"] is True
    assert "grantedTo" not in permission and "grantedToV2" not in permission


def test_recipients_by_object_id_and_alias(graph, team):
    carol, bob = team
    response = invite(
        graph,
        "/me/drive/root:/Projects:",
        {"objectId": bob.id},
        {"alias": "CAROLJ"},
        roles=("read",),
    )
    value = response.json()["value"]
    assert [p["grantedTo"]["user"]["id"] for p in value] == [bob.id, carol.id]
    assert value[0]["invitation"]["email"] == "bob@contoso.example"


def test_reinvite_merges_roles_instead_of_duplicating(mock_drive, graph, team):
    first = invite(graph, "/me/drive/root:/Projects:", "carol@contoso.example", roles=("read",))
    second = invite(graph, "/me/drive/root:/Projects:", "CAROL@contoso.example", roles=("write",))
    third = invite(graph, "/me/drive/root:/Projects:", "carol@contoso.example", roles=("read",))
    ids = {r.json()["value"][0]["id"] for r in (first, second, third)}
    assert len(ids) == 1
    assert third.json()["value"][0]["roles"] == ["write"]  # the higher role is kept
    own = [
        p
        for p in graph.get("/me/drive/root:/Projects:/permissions").json()["value"]
        if "inheritedFrom" not in p
    ]
    assert len(own) == 1


def test_send_invitation_false_records_nothing(mock_drive, graph, team):
    invite(graph, "/me/drive/root:/Projects:", "carol@contoso.example", sendInvitation=False)
    invite(graph, "/me/drive/root:/Projects:", "bob@contoso.example")
    assert mock_drive.outbox == []


@pytest.mark.parametrize(
    "target",
    [
        "/drives/{drive}/items/{folder}",
        "/me/drive/items/{folder}",
        "/users/{owner}/drive/items/{folder}",
        "/groups/g1/drive/items/{folder}",
        "/sites/s1/drive/items/{folder}",
        "/drive/items/{folder}",
        "/me/drive/root:/Projects:",
        "/drives/{drive}/root:/Projects:",
        "/me/drive/items/root%3A%2FProjects%3A",
    ],
)
def test_every_invite_form(mock_drive, graph, team, target):
    drive = mock_drive.drive
    mock_drive.state.store.default_drive.update({"g1": drive.id, "s1": drive.id})
    folder = mock_drive.item("/Projects")
    path = target.format(drive=drive.id, folder=folder.id, owner=mock_drive.owner.id)
    response = invite(graph, path, "carol@contoso.example")
    assert response.status_code == 200, response.text
    assert [p["id"] for p in mock_drive.permissions("/Projects") if "inheritedFrom" not in p] == [
        response.json()["value"][0]["id"]
    ]


@pytest.mark.parametrize("target", ["/drive/root", "/drives/{drive}/root", "/me/drive/root"])
def test_early_root_invite_forms_share_the_whole_drive(mock_drive, graph, team, target):
    response = invite(graph, target.format(drive=mock_drive.drive.id), "bob@contoso.example")
    assert response.status_code == 200, response.text
    granted = response.json()["value"][0]["id"]
    plan = mock_drive.permissions("/Projects/Plan.docx")
    assert any(p["id"] == granted and p["inheritedFrom"]["path"] == "/drive/root:" for p in plan)


def test_patch_roles_and_delete(mock_drive, graph, team):
    granted = invite(graph, "/me/drive/root:/Projects:", "bob@contoso.example").json()["value"][0]
    url = f"/me/drive/root:/Projects:/permissions/{granted['id']}"
    patched = graph.patch(url, json={"roles": ["read"]})
    assert patched.status_code == 200 and patched.json()["roles"] == ["read"]
    child = graph.get(f"/me/drive/root:/Projects/Plan.docx:/permissions/{granted['id']}").json()
    assert child["roles"] == ["read"]  # one stored permission, seen through the child

    deleted = graph.delete(url)
    assert deleted.status_code == 204 and deleted.content == b""
    assert_graph_error(graph.get(url), 404, "itemNotFound")
    assert all(p["id"] != granted["id"] for p in mock_drive.permissions("/Projects/Plan.docx"))


def test_inherited_and_owner_permissions_cannot_be_changed_on_a_child(mock_drive, graph, team):
    granted = invite(graph, "/me/drive/root:/Projects:", "bob@contoso.example").json()["value"][0]
    before = mock_drive.digest()
    child_url = f"/me/drive/root:/Projects/Plan.docx:/permissions/{granted['id']}"
    assert_graph_error(graph.delete(child_url), 403, "notAllowed")
    assert_graph_error(graph.patch(child_url, json={"roles": ["read"]}), 403, "notAllowed")
    owner_id = next(p["id"] for p in mock_drive.permissions("/") if p["roles"] == ["owner"])
    assert_graph_error(graph.delete(f"/me/drive/root/permissions/{owner_id}"), 403, "notAllowed")
    assert mock_drive.digest() == before


def test_deleting_on_the_folder_removes_it_from_every_descendant(mock_drive, graph, team):
    mock_drive.add_file("/Projects/a/b/c/deep.txt", "x")
    granted = invite(graph, "/me/drive/root:/Projects:", "bob@contoso.example").json()["value"][0]
    assert any(p["id"] == granted["id"] for p in mock_drive.permissions("/Projects/a/b/c/deep.txt"))
    graph.delete(f"/me/drive/root:/Projects:/permissions/{granted['id']}")
    for path in ["/Projects", "/Projects/Plan.docx", "/Projects/a/b/c/deep.txt"]:
        assert all(p["id"] != granted["id"] for p in mock_drive.permissions(path))


def test_retain_inherited_permissions_false_breaks_inheritance_on_first_share(
    mock_drive, graph, team
):
    invite(graph, "/me/drive/root", "carol@contoso.example", roles=("read",))
    invite(
        graph, "/me/drive/root:/Projects:", "bob@contoso.example", retainInheritedPermissions=False
    )
    listed = graph.get("/me/drive/root:/Projects:/permissions").json()["value"]
    assert all("inheritedFrom" not in p for p in listed)
    emails = sorted(p["grantedTo"]["user"]["email"] for p in listed)
    assert emails == ["ada@contoso.example", "bob@contoso.example"]  # owner kept, Carol gone
    carol_view = as_user(graph, "carol-token").get("/me/drive/root:/Projects:")
    assert_graph_error(carol_view, 404, "itemNotFound")


def test_if_none_match_on_permissions(mock_drive, graph, team):
    etag = graph.get("/me/drive/root:/Projects").json()["eTag"]
    response = graph.get("/me/drive/root:/Projects:/permissions", headers={"If-None-Match": etag})
    assert response.status_code == 304


# -- authentication and access ----------------------------------------------------------------
def test_missing_or_unknown_token_is_401(mock_drive, graph):
    assert_graph_error(as_user(graph, None).get("/me/drive"), 401, "unauthenticated")
    assert_graph_error(as_user(graph, "nope").get("/me/drive"), 401, "unauthenticated")
    basic = graph.get("/me/drive", headers={"Authorization": "Basic abc"})
    assert_graph_error(basic, 401, "unauthenticated")


def test_stranger_sees_nothing_of_the_owners_drive(mock_drive, graph, team):
    mock_drive.add_user("Eve Stranger", "eve@contoso.example")
    eve = as_user(graph, "eve-token")
    drive = mock_drive.drive
    folder = mock_drive.item("/Projects")
    assert_graph_error(eve.get(f"/drives/{drive.id}"), 404, "itemNotFound")
    assert_graph_error(eve.get(f"/drives/{drive.id}/items/{folder.id}"), 404, "itemNotFound")
    assert_graph_error(eve.get(f"/drives/{drive.id}/root/children"), 404, "itemNotFound")
    assert_graph_error(eve.get("/me/drive"), 404, "itemNotFound")  # Eve has no drive of her own
    before = mock_drive.digest()
    response = invite(eve, f"/drives/{drive.id}/items/{folder.id}", "eve@contoso.example")
    assert_graph_error(response, 404, "itemNotFound")
    assert mock_drive.digest() == before


def test_reader_can_read_but_not_invite_or_write(mock_drive, graph, team):
    carol, _ = team
    mock_drive.grant("/Projects", carol, ["read"])
    reader = as_user(graph, "carol-token")
    drive = mock_drive.drive
    seen = reader.get(f"/drives/{drive.id}")
    assert seen.status_code == 200 and seen.json()["id"] == drive.id, seen.text
    assert_item(reader.get(f"/drives/{drive.id}/root:/Projects/Plan.docx"), mock_drive,
                "/Projects/Plan.docx")  # fmt: skip
    assert_graph_error(reader.get(f"/drives/{drive.id}/root"), 404, "itemNotFound")
    own_view = reader.get(f"/drives/{drive.id}/root:/Projects:/permissions").json()["value"]
    assert [p["grantedTo"]["user"]["id"] for p in own_view] == [carol.id]  # only her own

    before = mock_drive.digest()
    refused = invite(reader, f"/drives/{drive.id}/root:/Projects:", "bob@contoso.example")
    assert_graph_error(refused, 403, "accessDenied")
    upload = reader.put(f"/drives/{drive.id}/root:/Projects/x.txt:/content", data=b"x")
    assert_graph_error(upload, 403, "accessDenied")
    folder = reader.post(
        f"/drives/{drive.id}/root:/Projects:/children", json={"name": "N", "folder": {}}
    )
    assert_graph_error(folder, 403, "accessDenied")
    assert_graph_error(
        reader.delete(f"/drives/{drive.id}/root:/Projects/Plan.docx"), 403, "accessDenied"
    )
    assert mock_drive.digest() == before


def test_writer_can_invite_and_the_invitee_gains_access(mock_drive, graph, team):
    carol, _ = team
    mock_drive.grant("/Projects", carol, ["write"])
    drive = mock_drive.drive
    writer = as_user(graph, "carol-token")
    response = invite(
        writer, f"/drives/{drive.id}/root:/Projects:", "bob@contoso.example", roles=("read",)
    )
    assert response.status_code == 200
    assert response.json()["value"][0]["invitation"]["invitedBy"]["user"]["id"] == carol.id
    bob_client = as_user(graph, "bob-token")
    assert (
        bob_client.get(f"/drives/{drive.id}/root:/Projects/Plan.docx:/content").content == b"plan"
    )


def test_personal_drive_root_cannot_be_shared(mock_drive, graph):
    owner = mock_drive.owner
    personal = mock_drive.add_drive(owner, drive_type="personal", name="Personal")
    response = invite(graph, f"/drives/{personal.id}/root", "bob@contoso.example")
    assert_graph_error(response, 403, "accessDenied")


def test_invite_a_group_by_object_id_and_its_members_gain_access(mock_drive, graph, team):
    _, bob = team
    group = mock_drive.add_group("Finance Team", [bob], email="finance@contoso.example")
    response = invite(graph, "/me/drive/root:/Projects:", {"objectId": group.id})
    permission = response.json()["value"][0]
    assert permission["grantedToV2"] == {
        "group": {"id": group.id, "displayName": "Finance Team", "email": "finance@contoso.example"}
    }
    assert "grantedTo" not in permission
    again = invite(graph, "/me/drive/root:/Projects:", "finance@contoso.example", roles=("write",))
    assert again.json()["value"][0]["id"] == permission["id"]  # by its address: the same grant
    drive = mock_drive.drive.id
    plan = as_user(graph, "bob-token").get(f"/drives/{drive}/root:/Projects/Plan.docx")
    assert_item(plan, mock_drive, "/Projects/Plan.docx")
    assert_graph_error(as_user(graph, "carol-token").get(f"/drives/{drive}/root:/Projects"), 404,
                       "itemNotFound")  # fmt: skip
