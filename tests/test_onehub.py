"""Onehub at its own paths over the shared model: tree, invitations, rolemaps, errors, and the
same grants seen through Graph."""

from __future__ import annotations

import pytest
import requests
from conftest import assert_graph_error

from mockdrive.model.permissions import roles_of


class Onehub:
    """A small Onehub client: Onehub's base URL is the mock's URL, unmodified."""

    def __init__(self, mock_drive, token=None):
        self.mock_drive = mock_drive
        self.headers = {"Authorization": f"Bearer {token or mock_drive.token}",
                        "Accept": "application/json"}  # fmt: skip

    def request(self, method, path, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return requests.request(method, self.mock_drive.url + path, headers=headers,
                                timeout=10, **kwargs)  # fmt: skip

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def node(self, path):
        return self.mock_drive.onehub_id(path)

    def workspace(self):
        return self.mock_drive.workspace_id()

    def invite(self, kind, number, emails, role=None):
        invitation = {"emails": emails}
        if role is not None:
            invitation["role_name"] = role
        return self.post(f"/{kind}/{number}/invitations", json={"invitation": invitation})


@pytest.fixture
def hub(mock_drive):
    mock_drive.add_file("/Finance/Q3/Budget.xlsx", "b")
    mock_drive.add_user("Bob Member", "bob@contoso.example")
    mock_drive.add_user("Mia Moderator", "mia@contoso.example")
    return Onehub(mock_drive)


def assert_onehub_error(response, status, message=None):
    assert response.status_code == status, response.text
    errors = response.json()["errors"]
    assert errors["base"] and (message is None or message in errors["base"][0])


# -- tree ------------------------------------------------------------------------------------------
def test_workspaces_and_root_folder(hub, mock_drive):
    listed = hub.get("/workspaces").json()
    assert listed["total_entries"] == 1 and listed["per_page"] == 30
    workspace = listed["items"][0]["workspace"]
    assert workspace["id"] == hub.workspace()
    assert workspace["is_owner"] is True and workspace["effective_role"] == "Administrator"
    assert hub.get(f"/workspaces/{workspace['id']}").json() == {"workspace": workspace}
    root = hub.get(f"/workspaces/{workspace['id']}/folders").json()["items"][0]["folder"]
    assert root["id"] == workspace["root_folder_id"] and root["ancestor_ids"] == []
    assert root["workspace_id"] == workspace["id"]


def test_folders_files_ancestor_ids_and_paging(hub, mock_drive):
    for n in range(31):
        mock_drive.add_folder(f"/Many/f{n:02}")
    many = hub.node("/Many")
    first = hub.get(f"/folders/{many}").json()
    assert (first["total_entries"], first["total_pages"], len(first["items"])) == (31, 2, 30)
    second = hub.get(f"/folders/{many}?offset=30").json()
    assert second["current_page"] == 2 and [i["folder"]["filename"] for i in second["items"]] == [
        "f30"
    ]

    budget = hub.get(f"/files/{hub.node('/Finance/Q3/Budget.xlsx')}").json()["file"]
    assert budget["ancestor_ids"] == [hub.node("/"), hub.node("/Finance"), hub.node("/Finance/Q3")]
    assert budget["filename"] == "Budget.xlsx" and budget["size"] == 1


def test_create_rename_upload_delete(hub, mock_drive):
    workspace = hub.workspace()
    created = hub.post(f"/workspaces/{workspace}/folders", json={"folder": {"filename": "a/b"}})
    assert created.status_code == 201
    folder = created.json()["folder"]
    assert folder["filename"] == "a-b"  # "/" becomes "-"
    duplicate = hub.post(f"/workspaces/{workspace}/folders", json={"folder": {"filename": "A-B"}})
    assert duplicate.status_code == 422
    assert duplicate.json()["folder"]["errors"]["filename"] == ["has already been taken"]
    nested = hub.post(f"/workspaces/{workspace}/folders/{folder['id']}/folders",
                      json={"folder": {"filename": "Inner"}})  # fmt: skip
    assert nested.json()["folder"]["ancestor_ids"] == [hub.node("/"), folder["id"]]

    uploaded = hub.post(f"/folders/{folder['id']}/files", files={"file": ("n.txt", b"hello")})
    assert uploaded.status_code == 201
    file = uploaded.json()["file"]
    assert file["size"] == 5 and file["content_type"] == "text/plain"
    renamed = hub.request("PUT", f"/files/{file['id']}", json={"file": {"filename": "m.txt"}})
    assert renamed.json()["file"]["filename"] == "m.txt"
    assert mock_drive.item("/a-b/m.txt").id
    assert hub.request("DELETE", f"/folders/{folder['id']}").status_code == 204
    assert_onehub_error(hub.get(f"/folders/{folder['id']}"), 404, "Not found")


# -- invitations -----------------------------------------------------------------------------------
def test_mixed_valid_invalid_and_already_member_in_one_call(hub, mock_drive):
    q3 = hub.node("/Finance/Q3")
    assert hub.invite("folders", q3, "bob@contoso.example").status_code == 201
    response = hub.invite(
        "folders", q3, "new@ext.example, bad@, bob@contoso.example, mia@contoso.example, "
        "NEW@ext.example", role="creator",
    )  # fmt: skip
    assert response.status_code == 422
    share = response.json()["share"]
    invited = [next(iter(e)) for e in share["invited_emails"]]
    assert invited == ["new@ext.example", "mia@contoso.example"]  # duplicates invited once
    assert share["email_errors"] == ["bad@ is not a valid email address"]
    assert share["join_errors"] == ["bob@contoso.example already has access to this item"]
    assert share["emails"] == "bad@" and share["errors"] == {
        "emails": ["contain invalid addresses"]
    }

    rolemaps = hub.get(f"/folders/{q3}/rolemaps").json()["items"]
    states = {r["rolemap"]["user"]["email"]: r["rolemap"] for r in rolemaps}
    assert states["new@ext.example"]["state"] == "pending"  # provisioned, not yet accepted
    assert states["mia@contoso.example"]["state"] == "active"
    assert states["mia@contoso.example"]["role_name"] == "Creator"
    assert states["bob@contoso.example"]["role_name"] == "Downloader"  # the default role
    assert [m["to"] for m in mock_drive.outbox] == [
        "bob@contoso.example",
        "new@ext.example",
        "mia@contoso.example",
    ]


def test_all_valid_is_201_with_empty_errors(hub):
    response = hub.invite("workspaces", hub.workspace(), "bob@contoso.example", role="Moderator")
    assert response.status_code == 201
    share = response.json()["share"]
    assert share["errors"] == {} and share["emails"] == "" and share["join_errors"] == []
    assert list(share["invited_emails"][0]) == ["bob@contoso.example"]


@pytest.mark.parametrize(
    "role, expected",
    [(None, "Downloader"), ("Nonsense", "Downloader"), ("viewer", "Viewer"),
     ("Administrator", "Downloader"), ("Access Denied", "Downloader")],
)  # fmt: skip
def test_role_defaults_on_a_folder(hub, role, expected):
    q3 = hub.node("/Finance/Q3")
    hub.invite("folders", q3, "bob@contoso.example", role=role)
    rolemap = hub.get(f"/folders/{q3}/rolemaps").json()["items"][0]["rolemap"]
    assert rolemap["role_name"] == expected
    assert "Administrator" not in rolemap["available_roles"]


def test_empty_list_is_422_blank(hub):
    response = hub.invite("folders", hub.node("/Finance"), " , ")
    assert response.status_code == 422
    assert response.json()["share"]["errors"] == {"emails": ["can't be blank"]}


def test_only_moderators_and_administrators_may_invite(hub, mock_drive):
    hub.invite("workspaces", hub.workspace(), "bob@contoso.example", role="Collaborator")
    hub.invite("workspaces", hub.workspace(), "mia@contoso.example", role="Moderator")
    mock_drive.add_user("Stranger", "st@contoso.example")
    before = mock_drive.digest()
    bob = Onehub(mock_drive, "bob-token")
    assert_onehub_error(bob.invite("folders", hub.node("/Finance"), "x@ext.example"), 403)
    stranger = Onehub(mock_drive, "st-token")
    assert_onehub_error(stranger.invite("folders", hub.node("/Finance"), "x@ext.example"), 404)
    assert mock_drive.digest() == before
    mia = Onehub(mock_drive, "mia-token")
    assert mia.invite("folders", hub.node("/Finance"), "x@ext.example").status_code == 201


def test_pending_invitation_grants_access_once_accepted(hub, mock_drive):
    finance = hub.node("/Finance")
    hub.invite("folders", finance, "new@ext.example")
    rolemap = hub.get(f"/folders/{finance}/rolemaps").json()["items"][0]["rolemap"]
    newcomer_user = mock_drive.state.user("new@ext.example")
    mock_drive.server.call(lambda: mock_drive.state.directory.set_token(newcomer_user, "new-token"))
    newcomer = Onehub(mock_drive, "new-token")
    assert_onehub_error(newcomer.get(f"/folders/{finance}"), 404)
    accepted = requests.post(f"{mock_drive.url}/_mockdrive/onehub/rolemaps/{rolemap['id']}/accept")
    assert accepted.json()["rolemap"]["state"] == "active"
    assert newcomer.get(f"/folders/{finance}").status_code == 200


# -- rolemaps --------------------------------------------------------------------------------------
def test_rolemaps_list_get_update_delete(hub, mock_drive):
    finance, q3 = hub.node("/Finance"), hub.node("/Finance/Q3")
    hub.invite("folders", finance, "bob@contoso.example", role="Viewer")
    listed = hub.get(f"/folders/{q3}/rolemaps").json()
    assert (
        listed["offset"] == 0
        and listed["next_offset"] is None
        and listed["previous_offset"] is None
    )
    kinds = {r["rolemap"]["user"]["email"]: r["rolemap"]["object_type"] for r in listed["items"]}
    assert kinds == {"bob@contoso.example": "Folder", "ada@contoso.example": "Workspace"}
    bob_map = next(r["rolemap"] for r in listed["items"] if r["rolemap"]["object_type"] == "Folder")

    assert hub.get(f"/rolemaps/{bob_map['id']}").json()["rolemap"]["role_name"] == "Viewer"
    updated = hub.request("PUT", f"/rolemaps/{bob_map['id']}", json={"role_name": "Collaborator"})
    assert updated.status_code == 200 and updated.content == b""
    graph_view = mock_drive.permissions("/Finance/Q3")
    assert any(p["roles"] == ["write"] and p["inheritedFrom"]["path"] == "/drive/root:/Finance"
               for p in graph_view)  # fmt: skip
    refused = hub.request(
        "PUT", f"/rolemaps/{bob_map['id']}", json={"rolemap": {"role_name": "God"}}
    )
    assert refused.status_code == 422 and refused.json()["rolemap"]["errors"]["role_name"]

    owner_map = next(
        r["rolemap"] for r in listed["items"] if r["rolemap"]["object_type"] == "Workspace"
    )
    assert hub.request("DELETE", f"/rolemaps/{owner_map['id']}").status_code == 422
    assert hub.request("DELETE", f"/rolemaps/{bob_map['id']}").status_code == 204
    assert_onehub_error(hub.get(f"/rolemaps/{bob_map['id']}"), 404, "Not found")


@pytest.mark.parametrize("body", [{"folder": {}}, {"folder": {"filename": 5}}, [], b"{not json"])
def test_a_folder_by_a_viewer_is_refused_for_the_role_whatever_the_body(hub, mock_drive, body):
    """Without the role to create, the answer is the 403 whatever the body holds: what the
    body lacks is not told to a caller who may not create anything there."""
    hub.invite("folders", hub.node("/Finance"), "bob@contoso.example", role="Viewer")
    bob_hub = Onehub(mock_drive, "bob-token")
    path = f"/workspaces/{hub.workspace()}/folders/{hub.node('/Finance')}/folders"
    sent = {"data": body} if isinstance(body, bytes) else {"json": body}
    assert_onehub_error(bob_hub.post(path, **sent), 403)


@pytest.mark.parametrize("body", [{"folder": {}}, {"invitation": 5}, [], b"{not json"])
def test_renaming_inviting_and_changing_a_role_refuse_the_role_before_the_body(
    hub, mock_drive, body
):
    """Renaming, inviting and changing a rolemap are refused for the caller's role (403) or
    because the caller cannot see the rolemap (404) whatever the body holds, as creating a
    folder is: a caller without the role learns nothing from the body's checks."""
    finance, budget = hub.node("/Finance"), hub.node("/Finance/Q3/Budget.xlsx")
    hub.invite("folders", finance, "bob@contoso.example", role="Viewer")
    listed = hub.get(f"/folders/{finance}/rolemaps").json()["items"]
    rolemaps = {r["rolemap"]["user"]["email"]: r["rolemap"]["id"] for r in listed}
    mock_drive.add_user("Stranger", "st@contoso.example")
    bob, stranger = Onehub(mock_drive, "bob-token"), Onehub(mock_drive, "st-token")
    sent = {"data": body} if isinstance(body, bytes) else {"json": body}
    before = mock_drive.digest()
    assert_onehub_error(bob.request("PUT", f"/folders/{finance}", **sent), 403)
    assert_onehub_error(bob.request("PUT", f"/files/{budget}", **sent), 403)
    assert_onehub_error(bob.post(f"/folders/{finance}/invitations", **sent), 403)
    own = rolemaps["bob@contoso.example"]
    assert_onehub_error(bob.request("PUT", f"/rolemaps/{own}", **sent), 403)
    owners = rolemaps["ada@contoso.example"]
    assert_onehub_error(bob.request("PUT", f"/rolemaps/{owners}", **sent), 404, "Not found")
    assert_onehub_error(stranger.request("PUT", f"/folders/{finance}", **sent), 404)
    assert_onehub_error(stranger.post(f"/folders/{finance}/invitations", **sent), 404)
    assert_onehub_error(stranger.request("PUT", f"/rolemaps/{own}", **sent), 404)
    assert mock_drive.digest() == before


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "can't be blank"),
        ("   ", "can't be blank"),
        ("a\x00b", "is invalid"),
        ("bell\x07", "is invalid"),
        ("x" * 256, "is too long (maximum is 255 characters)"),
    ],
)
def test_a_workspace_name_is_checked_as_names_are(hub, mock_drive, name, error):
    """A workspace's name is refused as a folder's would be: blank, with a control character,
    longer than 255 characters; 422 with Onehub's field errors, and no workspace made."""
    before = hub.get("/workspaces").json()["total_entries"]
    answer = hub.post("/workspaces", json={"workspace": {"name": name}})
    assert answer.status_code == 422, answer.text
    assert answer.json() == {"workspace": {"errors": {"name": [error]}}}
    assert hub.get("/workspaces").json()["total_entries"] == before
    assert hub.post("/workspaces", json={"workspace": {"name": "x" * 255}}).status_code == 201


@pytest.mark.parametrize("name", [" " + "x" * 255, "x" * 255 + "\n", "\x1fBudgets\x1f"])
def test_a_workspace_name_is_judged_as_stored_with_its_edges_trimmed_as_a_folders_is(
    hub, mock_drive, name
):
    """A folder's name is trimmed, then checked; a workspace's was checked untrimmed, so a
    name a folder takes (255 characters and a space; a separator at either end) was refused
    as too long or invalid, though what is stored is trimmed."""
    folder = hub.post(f"/workspaces/{hub.workspace()}/folders", json={"folder": {"filename": name}})
    assert folder.status_code == 201, folder.text
    answer = hub.post("/workspaces", json={"workspace": {"name": name}})
    assert answer.status_code == 201, answer.text
    assert answer.json()["workspace"]["name"] == name.strip() == folder.json()["folder"]["filename"]


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("a:b", "contains characters that are not allowed: ':'"),
        ("nul\x00", "contains characters that are not allowed: '\\x00'"),
        ("x" * 256, "is longer than 255 characters"),
    ],
)
def test_a_name_the_drive_refuses_is_onehubs_422_field_error_and_changes_nothing(
    hub, mock_drive, name, error
):
    """A folder made, a file uploaded or renamed under a name the drive does not take: 422 with
    the resource's envelope and the filename's error, as a blank or taken name gets (it was a
    400 with a general error), and nothing made or renamed."""
    workspace, q3 = hub.workspace(), hub.node("/Finance/Q3")
    before = mock_drive.digest()
    answers = {
        "folder": hub.post(f"/workspaces/{workspace}/folders", json={"folder": {"filename": name}}),
    }
    if "\x00" not in name:  # (a NUL in a multipart header: the body cannot be read, a 400)
        answers["file"] = hub.post(f"/folders/{q3}/files", files={"file": (name, b"x")})
    budget = hub.node("/Finance/Q3/Budget.xlsx")
    answers["renamed file"] = hub.request(
        "PUT", f"/files/{budget}", json={"file": {"filename": name}}
    )
    for kind, answer in answers.items():
        assert answer.status_code == 422, (kind, answer.text)
        envelope = "folder" if kind == "folder" else "file"
        assert answer.json() == {envelope: {"filename": name, "errors": {"filename": [error]}}}
    assert mock_drive.digest() == before


def test_nearest_rolemap_wins_in_onehub_while_graph_adds_up(hub, mock_drive):
    bob = mock_drive.state.user("bob@contoso.example")
    hub.invite("workspaces", hub.workspace(), "bob@contoso.example", role="Collaborator")
    hub.invite("folders", hub.node("/Finance"), "mia@contoso.example", role="Moderator")
    mia = Onehub(mock_drive, "mia-token")
    mia.invite("folders", hub.node("/Finance"), "bob@contoso.example", role="Viewer")
    bob_hub = Onehub(mock_drive, "bob-token")
    create = bob_hub.post(f"/workspaces/{hub.workspace()}/folders/{hub.node('/Finance')}/folders",
                          json={"folder": {"filename": "X"}})  # fmt: skip
    assert_onehub_error(create, 403)  # Viewer on /Finance overrides Collaborator above it
    folder = mock_drive.item("/Finance")
    roles = mock_drive.server.call(lambda: roles_of(mock_drive.state.store, bob, folder))
    assert roles == {"read", "write"}  # Graph: the highest of all grants applies

    mia.invite("folders", hub.node("/Finance/Q3"), "bob@contoso.example", role="Access Denied")
    listed = bob_hub.get(f"/folders/{hub.node('/Finance')}").json()["items"]
    assert [i["folder"]["filename"] for i in listed] == ["Q3"]  # Access Denied→default role


# -- errors and faults -----------------------------------------------------------------------------
def test_auth_unknown_ids_and_malformed_bodies(hub, mock_drive):
    before = mock_drive.digest()
    unauthenticated = requests.get(mock_drive.url + "/workspaces")
    assert unauthenticated.status_code == 401 and unauthenticated.json() == {
        "error": "invalid_token"
    }
    assert_onehub_error(hub.get("/folders/99999"), 404, "Not found")
    assert_onehub_error(hub.get("/workspaces/abc"), 404, "Not found")
    assert_onehub_error(hub.get(f"/files/{hub.node('/Finance')}"), 404)  # a folder is no file
    bad_json = hub.post(f"/folders/{hub.node('/Finance')}/invitations", data=b"{oops")
    assert_onehub_error(bad_json, 400)
    wrong_type = hub.post(f"/folders/{hub.node('/Finance')}/invitations",
                          json={"invitation": {"emails": 5}})  # fmt: skip
    assert_onehub_error(wrong_type, 400)
    assert_onehub_error(hub.get("/folders/1?offset=x"), 400)
    assert mock_drive.digest() == before


def test_fault_rules_and_journal_cover_onehub(hub, mock_drive):
    mock_drive.faults.add(effect="error", recipient="bob@contoso.example", status=403,
                          code="accessDenied", message="blocked by rule")  # fmt: skip
    response = hub.invite(
        "folders", hub.node("/Finance"), "bob@contoso.example, mia@contoso.example"
    )
    share = response.json()["share"]
    assert share["join_errors"] == ["bob@contoso.example: blocked by rule"]
    assert [next(iter(e)) for e in share["invited_emails"]] == ["mia@contoso.example"]

    mock_drive.faults.add(effect="throttle", path="^/workspaces$", retryAfter=3, times=1)
    throttled = hub.get("/workspaces")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
    assert throttled.json()["errors"]["base"]
    mock_drive.requests.assert_called("GET", "/workspaces", times=1)


# -- one model -------------------------------------------------------------------------------------
def test_onehub_invite_is_inherited_in_graph_and_graph_delete_removes_the_rolemap(
    hub, mock_drive, graph
):
    q3 = hub.node("/Finance/Q3")
    hub.invite("folders", q3, "bob@contoso.example", role="Collaborator")
    permissions = graph.get("/me/drive/root:/Finance/Q3/Budget.xlsx:/permissions").json()["value"]
    bob = [p for p in permissions if p.get("grantedTo", {}).get("user", {}).get("email")
           == "bob@contoso.example"]  # fmt: skip
    assert len(bob) == 1 and bob[0]["roles"] == ["write"]
    assert bob[0]["inheritedFrom"]["path"] == "/drive/root:/Finance/Q3"

    rolemap = hub.get(f"/folders/{q3}/rolemaps").json()["items"][0]["rolemap"]
    deleted = graph.delete(f"/me/drive/root:/Finance/Q3:/permissions/{bob[0]['id']}")
    assert deleted.status_code == 204
    assert_onehub_error(hub.get(f"/rolemaps/{rolemap['id']}"), 404)
    assert all(r["rolemap"]["id"] != rolemap["id"]
               for r in hub.get(f"/folders/{q3}/rolemaps").json()["items"])  # fmt: skip


def test_graph_invite_shows_as_a_rolemap_with_the_mapped_role(hub, mock_drive, graph):
    body = {"recipients": [{"email": "bob@contoso.example"}], "roles": ["read"]}
    graph.post("/me/drive/root:/Finance:/invite", json=body)
    rolemap = hub.get(f"/folders/{hub.node('/Finance')}/rolemaps").json()["items"][0]["rolemap"]
    assert rolemap["role_name"] == "Downloader" and rolemap["state"] == "active"
    assert_graph_error(graph.get("/me/drive/root:/Nope"), 404, "itemNotFound")


def test_access_explains_onehub_grants_and_pending_invitations(hub, mock_drive):
    hub.invite("workspaces", hub.workspace(), "bob@contoso.example", role="Collaborator")
    hub.invite("folders", hub.node("/Finance"), "bob@contoso.example", role="Viewer")
    hub.invite("folders", hub.node("/Finance"), "new@ext.example")
    explained = str(mock_drive.access("bob@contoso.example", "/Finance/Q3"))
    assert "read (Onehub Viewer) directly" in explained
    assert "write (Onehub Collaborator) directly" in explained
    assert "Onehub (nearest rolemap wins): Viewer from /Finance" in explained
    mock_drive.assert_can("bob@contoso.example", "write", "/Finance/Q3")  # Graph adds up
    newcomer = str(mock_drive.access("new@ext.example", "/Finance"))
    assert "pending invitation on /Finance" in newcomer
    assert mock_drive.accept_invitations("new@ext.example") == 1
    mock_drive.assert_can("new@ext.example", "read", "/Finance")


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("multipart/form-data", b"--x--"),  # no boundary (found by schemathesis)
        ("multipart/form-data; boundary=b", b"--b\r\n[]\r\n\r\nx\r\n--b--\r\n"),  # bad part header
        (
            "multipart/form-data; boundary=b",
            b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--",
        ),
    ],
)
def test_broken_multipart_uploads_are_400(hub, mock_drive, content_type, body):
    before = mock_drive.digest()
    response = hub.post(f"/folders/{hub.node('/Finance')}/files", data=body,
                        headers={"Content-Type": content_type})  # fmt: skip
    assert_onehub_error(response, 400)
    assert mock_drive.digest() == before
