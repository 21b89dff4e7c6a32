"""Escapes found by attacking the server as a hostile user: nothing a caller cannot write is
replaced, moved or deleted; a caller without read access learns nothing about what exists; Onehub
roles never rise above the giver's own; Graph and Onehub agree on a role; the drive owner always
reaches everything in their drive."""

from __future__ import annotations

import copy
import json

import pytest
import requests
from conftest import as_user, assert_graph_error

TEAM = "fixtures/team.yaml"
INVITE = {"recipients": [{"email": "x@ext.example"}], "roles": ["read"]}


@pytest.fixture
def finance(mock_drive) -> dict:
    """Ada's drive: Walt writes /Finance; /Finance/Payroll (a folder with a file and Carol's
    grant) and /Finance/Q3.xlsx stop inheriting, so Walt cannot see them; /Finance/Memo.txt
    stops inheriting and Walt only reads it. Sam holds nothing."""
    users = {
        name: mock_drive.add_user(name.title(), f"{name}@contoso.example")
        for name in ("walt", "carol", "sam")
    }
    mock_drive.add_file("/Finance/Payroll/Salaries.xlsx", "salaries")
    mock_drive.add_file("/Finance/Q3.xlsx", "q3")
    mock_drive.add_file("/Finance/Memo.txt", "memo")
    mock_drive.grant("/Finance", users["walt"], ["write"])
    for path in ("/Finance/Payroll", "/Finance/Q3.xlsx", "/Finance/Memo.txt"):
        mock_drive.stop_inheriting(path)
    carol = mock_drive.grant("/Finance/Payroll", users["carol"], ["write"])
    mock_drive.grant("/Finance/Memo.txt", users["walt"], ["read"])
    return {
        "d": mock_drive.drive.id,
        "finance": mock_drive.item("/Finance").id,
        "payroll": mock_drive.item("/Finance/Payroll").id,
        "q3": mock_drive.item("/Finance/Q3.xlsx").id,
        "carol_permission": carol.id,
        "ws": mock_drive.workspace_id(),
        "payroll_node": mock_drive.onehub_id("/Finance/Payroll"),
        "q3_node": mock_drive.onehub_id("/Finance/Q3.xlsx"),
        "carol_rolemap": mock_drive.server.call(
            lambda: mock_drive.state.onehub.number("rolemap", carol.id)
        ),
    }


def shape(response: requests.Response, *names: str) -> tuple[int, str]:
    """Status and body, without the per-request ids and with ``names`` blanked out."""
    body = response.json() if response.content else None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = copy.deepcopy(body)
        body["error"].pop("innerError", None)
    text = json.dumps(body, sort_keys=True)
    for name in names:
        text = text.replace(name, "NAME")
    return response.status_code, text


# -- nothing a caller cannot write is replaced or deleted -----------------------------
def test_replace_never_deletes_a_folder_the_caller_cannot_see(mock_drive, graph, finance):
    walt = as_user(graph, "walt-token")
    before = mock_drive.digest()
    url = f"/drives/{finance['d']}/items/{finance['finance']}/children"
    answers = {}
    for behavior in ("replace", "fail"):
        body = {"name": "payroll", "folder": {}, "@microsoft.graph.conflictBehavior": behavior}
        answers[behavior] = response = walt.post(url, json=body)
        assert_graph_error(response, 409, "nameAlreadyExists")
        assert "Payroll" not in response.text  # the hidden item's own spelling does not show
        assert mock_drive.digest() == before  # the folder, its file and Carol's grant remain
    assert shape(answers["replace"]) == shape(answers["fail"])  # replace tells no more than fail
    body = {"name": "Payroll", "folder": {}, "@microsoft.graph.conflictBehavior": "rename"}
    renamed = walt.post(url, json=body)
    assert renamed.status_code == 201 and renamed.json()["name"] == "Payroll 1"
    mock_drive.assert_can("carol@contoso.example", "write", "/Finance/Payroll/Salaries.xlsx")


def test_replace_of_a_visible_item_the_caller_cannot_write_is_refused(mock_drive, graph, finance):
    walt = as_user(graph, "walt-token")
    before = mock_drive.digest()
    url = f"/drives/{finance['d']}/items/{finance['finance']}/children"
    body = {"name": "Memo.txt", "file": {}, "@microsoft.graph.conflictBehavior": "replace"}
    assert_graph_error(walt.post(url, json=body), 403, "accessDenied")
    upload = walt.put(f"/drives/{finance['d']}/root:/Finance/Memo.txt:/content", data=b"x")
    assert_graph_error(upload, 403, "accessDenied")
    assert mock_drive.digest() == before


def test_upload_onto_or_below_a_hidden_item_answers_like_fail(mock_drive, graph, finance):
    walt = as_user(graph, "walt-token")
    before = mock_drive.digest()
    drive = f"/drives/{finance['d']}/root:"
    onto_file = walt.put(drive + "/Finance/Q3.xlsx:/content", data=b"overwrite")
    below_file = walt.put(drive + "/Finance/Q3.xlsx/x.txt:/content", data=b"x")
    below_folder = walt.put(drive + "/Finance/Payroll/x.txt:/content", data=b"x")
    for response in (onto_file, below_file, below_folder):
        error = assert_graph_error(response, 409, "nameAlreadyExists")
        assert "is a file" not in error["message"]
    # a hidden file and a hidden folder in the way look the same
    assert shape(below_file, "Q3.xlsx") == shape(below_folder, "Payroll")
    assert mock_drive.digest() == before
    assert mock_drive.server.call(lambda: mock_drive.item("/Finance/Q3.xlsx").content) == b"q3"
    rename = {"@microsoft.graph.conflictBehavior": "rename"}
    renamed = walt.put(drive + "/Finance/Q3.xlsx:/content", params=rename, data=b"mine")
    assert renamed.status_code == 201 and renamed.json()["name"] == "Q3 1.xlsx", renamed.text


def test_deleting_a_folder_that_holds_what_the_caller_cannot_write_is_refused(
    mock_drive, graph, finance
):
    walt = as_user(graph, "walt-token")
    before = mock_drive.digest()
    refused = walt.delete(f"/drives/{finance['d']}/items/{finance['finance']}")
    assert_graph_error(refused, 403, "accessDenied")
    assert mock_drive.digest() == before  # nothing deleted, not even what Walt could delete
    onehub = requests.delete(
        f"{mock_drive.url}/folders/{mock_drive.onehub_id('/Finance')}",
        headers=mock_drive.headers("walt-token"),
    )
    assert onehub.status_code == 403 and mock_drive.digest() == before
    memo = walt.delete(f"/drives/{finance['d']}/root:/Finance/Memo.txt")
    assert_graph_error(memo, 403, "accessDenied")
    assert graph.delete(f"/drives/{finance['d']}/items/{finance['finance']}").status_code == 204


# -- without read access, every route answers as if the item did not exist ------------
GRAPH_ROUTES = [  # (suffix after the item, method, keyword arguments)
    ("", "GET", {"headers": {"If-None-Match": '"x"'}}),
    ("", "DELETE", {"headers": {"If-Match": '"bogus"'}}),
    ("/children", "GET", {"params": {"$top": "0"}}),
    ("/children", "GET", {"params": {"$top": "5"}}),
    ("/children", "POST", {"json": {"name": "n", "folder": {}}}),
    ("/children", "POST", {"json": {"name": 5}}),
    ("/content", "GET", {}),
    ("/invite", "POST", {"json": INVITE}),
    ("/invite", "POST", {"json": {"recipients": "nonsense"}}),
    ("/action.invite", "POST", {"json": {"recipients": ["x@ext.example"], "roles": ["read"]}}),
    ("/permissions", "GET", {"headers": {"If-None-Match": '"x"'}}),
    ("/permissions/{perm}", "GET", {}),
    ("/permissions/{perm}", "PATCH", {"json": {"roles": ["write"]}, "headers": {"If-Match": "x"}}),
    ("/permissions/{perm}", "PATCH", {"json": {"bogus": 1}}),
    ("/permissions/{perm}", "DELETE", {"headers": {"If-Match": '"bogus"'}}),
    ("/nonsense", "GET", {}),
]


@pytest.mark.parametrize("caller", ["walt-token", "sam-token"])
def test_graph_hidden_and_missing_items_answer_alike(mock_drive, graph, finance, caller):
    """Every Graph/OneDrive item route, by id and by path, on a hidden folder and file and on
    a missing one: the same status and body (modulo the name); nothing changes."""
    client = as_user(graph, caller)
    drive = f"/drives/{finance['d']}"
    missing_id = "01" + "Z" * (len(finance["payroll"]) - 2)
    pairs = [
        (f"{drive}/items/{finance['payroll']}", finance["payroll"], f"{drive}/items/{missing_id}",
         missing_id),
        (f"{drive}/items/{finance['q3']}", finance["q3"], f"{drive}/items/{missing_id}",
         missing_id),
        (f"{drive}/root:/Finance/Payroll:", "Payroll", f"{drive}/root:/Finance/Nope:", "Nope"),
        (f"{drive}/root:/Finance/Q3.xlsx:", "Q3.xlsx", f"{drive}/root:/Finance/Q4.xlsx:",
         "Q4.xlsx"),
    ]  # fmt: skip
    before = mock_drive.digest()
    checked = 0
    for hidden, hidden_name, missing, missing_name in pairs:
        for suffix, method, kwargs in [*GRAPH_ROUTES, ("/content", "PUT", {"data": b"x"})]:
            if suffix == "/content" and method == "PUT":
                if hidden.endswith(":") and caller == "walt-token":
                    continue  # an upload to a free path creates it: see the replace tests
                kwargs = {"data": b"x", "headers": {"If-Match": '"bogus"'}}
            suffix = suffix.format(perm=finance["carol_permission"])
            a = client.request(method, hidden + suffix, **kwargs)
            b = client.request(method, missing + suffix, **kwargs)
            assert a.status_code == 404, (method, hidden + suffix, a.text)
            assert shape(a, hidden_name) == shape(b, missing_name), (method, hidden + suffix)
            checked += 1
    assert checked >= 60
    assert mock_drive.digest() == before


@pytest.mark.parametrize("caller", ["walt-token", "sam-token"])
def test_onehub_hidden_and_missing_nodes_answer_alike(mock_drive, finance, caller):
    headers = mock_drive.headers(caller)
    ws, missing = finance["ws"], 987654
    routes = [
        ("GET", "/folders/{n}", None), ("PUT", "/folders/{n}", {"folder": {"filename": "x"}}),
        ("PUT", "/folders/{n}", {"folder": {"filename": ""}}), ("DELETE", "/folders/{n}", None),
        ("POST", "/folders/{n}/invitations", {"invitation": {"emails": "x@ext.example"}}),
        ("GET", "/folders/{n}/rolemaps", None),
        ("POST", f"/workspaces/{ws}/folders/{{n}}/folders", {"folder": {"filename": "x"}}),
        ("POST", "/folders/{n}/files", "multipart"),
    ]  # fmt: skip
    file_routes = [("GET", "/files/{n}", None), ("DELETE", "/files/{n}", None),
                   ("PUT", "/files/{n}", {"file": {"filename": "x"}})]  # fmt: skip
    rolemap_routes = [("GET", "/rolemaps/{n}", None), ("DELETE", "/rolemaps/{n}", None),
                      ("PUT", "/rolemaps/{n}", {"role_name": "Viewer"})]  # fmt: skip
    before = mock_drive.digest()
    for hidden, table in ((finance["payroll_node"], routes), (finance["q3_node"], file_routes),
                          (finance["carol_rolemap"], rolemap_routes)):  # fmt: skip
        for method, path, body in table:
            answers = []
            for number in (hidden, missing):
                kwargs = {"files": {"file": ("a.txt", b"a")}} if body == "multipart" else {}
                if body not in (None, "multipart"):
                    kwargs["json"] = body
                url = mock_drive.url + path.format(n=number)
                answers.append(requests.request(method, url, headers=headers, **kwargs))
            assert answers[0].status_code == 404, (method, path, answers[0].text)
            assert shape(answers[0]) == shape(answers[1]), (method, path)
    assert mock_drive.digest() == before


# -- defects 9 and 10: Onehub roles ------------------------------------------------------------
def onehub(mock_drive, method: str, path: str, token: str | None = None, **kwargs):
    return requests.request(
        method, mock_drive.url + path, headers=mock_drive.headers(token), timeout=10, **kwargs
    )


def invite(mock_drive, path: str, emails: str, role: str, token: str | None = None):
    body = {"invitation": {"emails": emails, "role_name": role}}
    return onehub(mock_drive, "POST", path + "/invitations", token, json=body)


def rolemap_of(mock_drive, path: str, email: str, token: str | None = None) -> dict:
    rows = onehub(mock_drive, "GET", path + "/rolemaps", token).json()["items"]
    return next(r["rolemap"] for r in rows if r["rolemap"]["user"]["email"] == email)


def test_a_moderator_cannot_raise_themselves_or_grant_above_their_role(mock_drive):
    mock_drive.add_user("Mo", "mo@contoso.example")
    ws = f"/workspaces/{mock_drive.workspace_id()}"
    assert invite(mock_drive, ws, "mo@contoso.example", "Moderator").status_code == 201
    mine = rolemap_of(mock_drive, ws, "mo@contoso.example")
    before = mock_drive.digest()
    raised = onehub(mock_drive, "PUT", f"/rolemaps/{mine['id']}", "mo-token",
                    json={"role_name": "Administrator"})  # fmt: skip
    assert raised.status_code == 403, raised.text
    outsiders = invite(mock_drive, ws, "out@ext.example", "Administrator", "mo-token")
    assert outsiders.status_code == 403, outsiders.text
    assert mock_drive.digest() == before  # nobody raised, nobody invited
    # the owner makes someone Administrator: the Moderator can neither demote nor remove them
    assert invite(mock_drive, ws, "admin@ext.example", "Administrator").status_code == 201
    admin = rolemap_of(mock_drive, ws, "admin@ext.example")
    before = mock_drive.digest()
    for method, body in (("PUT", {"role_name": "Viewer"}), ("DELETE", None)):
        refused = onehub(mock_drive, method, f"/rolemaps/{admin['id']}", "mo-token", json=body)
        assert refused.status_code == 403, refused.text
    assert mock_drive.digest() == before
    # a Moderator may give what they have, and the owner may always revoke anyone else
    assert invite(mock_drive, ws, "peer@ext.example", "Moderator", "mo-token").status_code == 201
    for rolemap in (admin, mine):
        assert onehub(mock_drive, "DELETE", f"/rolemaps/{rolemap['id']}").status_code == 204
    owner = rolemap_of(mock_drive, ws, mock_drive.owner.email)
    kept = onehub(mock_drive, "DELETE", f"/rolemaps/{owner['id']}")
    assert kept.status_code == 422  # only the owner's own rolemap is protected


def test_other_peoples_rolemaps_are_hidden_from_a_viewer(mock_drive):
    mock_drive.add_user("Vi", "vi@contoso.example")
    mock_drive.add_folder("/Shared")
    folder = f"/folders/{mock_drive.onehub_id('/Shared')}"
    assert invite(mock_drive, folder, "vi@contoso.example", "Viewer").status_code == 201
    assert invite(mock_drive, folder, "guest@ext.example", "Viewer").status_code == 201
    guest = rolemap_of(mock_drive, folder, "guest@ext.example")
    own = rolemap_of(mock_drive, folder, "vi@contoso.example")
    assert guest["state"] == "pending"
    hidden = onehub(mock_drive, "GET", f"/rolemaps/{guest['id']}", "vi-token")
    missing = onehub(mock_drive, "GET", "/rolemaps/987654", "vi-token")
    assert hidden.status_code == 404 and "guest@ext.example" not in hidden.text
    assert shape(hidden) == shape(missing)
    assert onehub(mock_drive, "GET", f"/rolemaps/{own['id']}", "vi-token").status_code == 200
    assert onehub(mock_drive, "GET", f"{folder}/rolemaps", "vi-token").status_code == 403


# -- a Graph role change is Onehub's too ---------------------------------------------
def test_graph_patch_of_a_onehub_rolemap_changes_the_onehub_role(mock_drive, graph):
    mock_drive.add_user("Bob", "bob@contoso.example")
    mock_drive.add_folder("/Shared")
    folder = f"/folders/{mock_drive.onehub_id('/Shared')}"
    assert invite(mock_drive, folder, "bob@contoso.example", "Viewer").status_code == 201
    rolemap = rolemap_of(mock_drive, folder, "bob@contoso.example")
    permissions = graph.get("/me/drive/root:/Shared:/permissions").json()["value"]
    bob = next(p for p in permissions if p["invitation"]["email"] == "bob@contoso.example")
    assert bob["roles"] == ["read"]
    patched = graph.patch(f"/me/drive/root:/Shared:/permissions/{bob['id']}",
                          json={"roles": ["write"]})  # fmt: skip
    assert patched.status_code == 200, patched.text
    shown = onehub(mock_drive, "GET", f"/rolemaps/{rolemap['id']}").json()["rolemap"]
    assert shown["role_name"] == "Collaborator"  # write, as Onehub names it
    ws = mock_drive.workspace_id()
    created = onehub(mock_drive, "POST", f"/workspaces/{ws}/{folder.lstrip('/')}/folders",
                     "bob-token", json={"folder": {"filename": "Bob's"}})  # fmt: skip
    assert created.status_code == 201, created.text  # Onehub allows what Graph allows
    access = mock_drive.access("bob@contoso.example", "/Shared")
    assert access.can("write") and access.onehub_role == "Collaborator"


# -- the drive owner reaches everything in their drive -------------------------
@pytest.mark.mock_drive(scenario=TEAM)
def test_the_owner_keeps_a_folder_that_stops_inheriting_in_every_dialect(mock_drive):
    ada = as_user(mock_drive.session, "ada-token")
    path = "/Finance/Payroll"
    assert ada.get(f"/me/drive/root:{path}").status_code == 200
    listed = ada.get("/me/drive/root:/Finance:/children").json()["value"]
    assert "Payroll" in [c["name"] for c in listed]
    finance = ada.get("/me/drive/root:/Finance").json()
    assert finance["folder"]["childCount"] == len(listed)
    access = mock_drive.assert_can("ada@contoso.example", "owner", path + "/Salaries 2024.xlsx")
    assert "as the owner of the drive" in access.explain()
    assert access.onehub_role == "Administrator"
    node = mock_drive.onehub_id(path)
    assert onehub(mock_drive, "GET", f"/folders/{node}", "ada-token").status_code == 200
    put = ada.put(f"/me/drive/root:{path}/new.txt:/content", data=b"x")
    assert put.status_code == 201, put.text
    assert ada.delete(f"/me/drive/root:{path}").status_code == 204


def test_stop_inheriting_in_the_fixture_keeps_the_owner(mock_drive, graph):
    mock_drive.add_file("/Private/notes.txt", "n")
    mock_drive.stop_inheriting("/Private")
    assert graph.get("/me/drive/root:/Private/notes.txt:/content").content == b"n"
    mock_drive.assert_can(mock_drive.owner, "owner", "/Private")
    invited = graph.post("/me/drive/root:/Private:/invite", json=INVITE)
    assert invited.status_code == 200, invited.text


def test_renaming_onto_a_hidden_name_shows_only_the_name_asked_for(mock_drive, finance):
    mock_drive.add_folder("/Finance/Notes")
    notes = mock_drive.onehub_id("/Finance/Notes")
    before = mock_drive.digest()
    renamed = onehub(mock_drive, "PUT", f"/folders/{notes}", "walt-token",
                     json={"folder": {"filename": "PAYROLL"}})  # fmt: skip
    assert renamed.status_code == 409 and "Payroll" not in renamed.text, renamed.text
    assert mock_drive.digest() == before


def test_moves_never_carry_away_or_replace_what_the_caller_cannot_write(mock_drive, graph, finance):
    """PATCH moves under the same rule as create and delete: Walt writes /Finance but cannot
    move /Finance/Team away (it holds Secret, hidden from him) nor move something onto the
    hidden Payroll with ``replace``."""
    walt = as_user(graph, "walt-token")
    mock_drive.add_folder("/Finance/Drafts")
    mock_drive.add_file("/Finance/Team/Secret/plan.txt", "plan")
    mock_drive.stop_inheriting("/Finance/Team/Secret")
    mock_drive.add_folder("/Archive")
    mock_drive.grant("/Archive", "walt@contoso.example", ["write"])
    before = mock_drive.digest()
    team = f"/drives/{finance['d']}/root:/Finance/Team"
    archive = mock_drive.item("/Archive").id
    refused = walt.patch(team, json={"parentReference": {"id": archive}})
    assert_graph_error(refused, 403, "accessDenied")
    drafts = f"/drives/{finance['d']}/root:/Finance/Drafts"
    onto_hidden = walt.patch(
        drafts + "?@microsoft.graph.conflictBehavior=replace", json={"name": "Payroll"}
    )
    assert_graph_error(onto_hidden, 409, "nameAlreadyExists")
    assert mock_drive.digest() == before
    assert mock_drive.item("/Finance/Payroll/Salaries.xlsx").size == len("salaries")
