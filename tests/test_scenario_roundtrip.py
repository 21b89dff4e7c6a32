"""Every state the API can reach exports and loads back, over real HTTP:
trees as deep as the 400-character path limit allows, names and contents with characters YAML
itself cannot hold, Onehub "Access Denied", addresses provisioned later, passwords, group
invitation addresses. The path limit itself is refused at create/upload/scenario-load time."""

from __future__ import annotations

import requests
from conftest import assert_graph_error

from mockdrive.model.tree import MAX_PATH_LENGTH
from mockdrive.scenario import export_scenario

# C1 controls, NEL (U+0085, a line break to YAML), DEL, noncharacters, a line separator
ODD = "".join(chr(c) for c in range(0x80, 0xA0)) + "\ufffe\uffff\u2028"
ODD_CONTENT = "\x7f" + ODD + "\x00 tab\t nl\n"


def state_url(mock_drive, fmt: str = "json") -> str:
    return f"{mock_drive.url}/_mockdrive/state?format={fmt}"


def round_trip(mock_drive, fmt: str) -> None:
    """GET the state, PUT it back, GET it again: the same text, and the same digest."""
    before = requests.get(state_url(mock_drive, fmt), timeout=30)
    assert before.status_code == 200, before.text
    digest = mock_drive.digest()
    loaded = requests.put(f"{mock_drive.url}/_mockdrive/state", data=before.content, timeout=30)
    assert loaded.status_code == 200, loaded.text[:2000]
    after = requests.get(state_url(mock_drive, fmt), timeout=30)
    assert after.text == before.text
    assert mock_drive.export() == requests.get(state_url(mock_drive), timeout=30).json()
    assert isinstance(digest, str) and len(mock_drive.digest()) == 64


def deepest_chain(mock_drive) -> str:
    """Folders ``/a/a/.../a`` down to the path limit, plus a file at the very limit."""
    levels = MAX_PATH_LENGTH // 2 - 1
    path = "/a" * levels
    mock_drive.add_folder(path)
    last = "f" * (MAX_PATH_LENGTH - len(path) - 1)
    mock_drive.add_file(f"{path}/{last}", "deep")
    return path


def test_a_tree_as_deep_as_the_path_limit_exports_and_loads_as_yaml_and_json(mock_drive, graph):
    path = deepest_chain(mock_drive)
    assert len(mock_drive.item(path).name) == 1 and mock_drive.item(path).depth == 199
    round_trip(mock_drive, "yaml")
    round_trip(mock_drive, "json")
    listed = graph.get(f"/me/drive/root:{path}:/children")
    assert listed.status_code == 200 and len(listed.json()["value"]) == 1


def test_the_path_limit_is_refused_with_the_real_error_and_changes_nothing(mock_drive, graph):
    path = deepest_chain(mock_drive)
    digest = mock_drive.digest()
    parent = mock_drive.item(path).id
    created = graph.post(
        f"/me/drive/items/{parent}/children", json={"name": "toolong", "folder": {}}
    )
    error = assert_graph_error(created, 400, "invalidRequest")
    assert error["innerError"].get("code") == "pathIsTooLong", error
    uploaded = graph.put(f"/me/drive/root:/new/a/b/c{path}/x.txt:/content", data=b"x")
    assert_graph_error(uploaded, 400, "invalidRequest")
    assert mock_drive.digest() == digest  # not even the missing folders were made


def test_a_scenario_beyond_the_path_limit_names_the_item(mock_drive):
    names = [{"name": "n" * 200, "folder": {}}, {"name": "m" * 200, "folder": {}}]
    names[0]["children"] = [names[1]]
    scenario = {
        "users": [{"displayName": "Ada", "email": "ada@x.example"}],
        "drives": [{"owner": "ada@x.example", "root": {"children": [names[0]]}}],
    }
    response = requests.put(f"{mock_drive.url}/_mockdrive/state", json=scenario, timeout=10)
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "drives[0].root.children[0].children[0].name: the path would be 402 characters" in (
        message
    ), message


def test_names_and_contents_with_odd_characters_round_trip_through_json_and_yaml(mock_drive, graph):
    name = "odd" + ODD + ".txt"
    uploaded = graph.put(
        f"/me/drive/root:/Docs/{requests.utils.quote(name)}:/content",
        data=ODD_CONTENT.encode("utf-8"),
    )
    assert uploaded.status_code == 201, uploaded.text
    folder = graph.post("/me/drive/root/children", json={"name": "F" + ODD + "G", "folder": {}})
    assert folder.status_code == 201, folder.text
    for fmt in ("json", "yaml"):
        round_trip(mock_drive, fmt)
        assert mock_drive.item(f"/Docs/{name}").content == ODD_CONTENT.encode("utf-8")
        assert mock_drive.item("/F" + ODD + "G").name == "F" + ODD + "G"


def test_onehub_access_denied_and_a_graph_address_provisioned_by_onehub_round_trip(
    mock_drive, graph
):
    mock_drive.add_folder("/Finance/Q3")
    bob = mock_drive.add_user("Bob", "bob@contoso.example")
    hub_headers = {**mock_drive.headers(), "Accept": "application/json"}
    q3 = mock_drive.onehub_id("/Finance/Q3")
    invited = requests.post(
        f"{mock_drive.url}/folders/{q3}/invitations",
        json={"invitation": {"emails": [bob.email], "role_name": "Viewer"}},
        headers=hub_headers,
        timeout=10,
    )
    assert invited.status_code < 300, invited.text
    rolemap = requests.get(
        f"{mock_drive.url}/folders/{q3}/rolemaps", headers=hub_headers, timeout=10
    ).json()["items"][0]["rolemap"]
    denied = requests.put(
        f"{mock_drive.url}/rolemaps/{rolemap['id']}",
        json={"role_name": "Access Denied"},
        headers=hub_headers,
        timeout=10,
    )
    assert denied.status_code == 200, denied.text
    # an outside address invited through Graph, later provisioned by a Onehub invitation
    outside = "olga@fabrikam.example"
    shared = graph.post(
        "/me/drive/root:/Finance:/invite",
        json={"recipients": [{"email": outside}], "roles": ["read"], "sendInvitation": False},
    )
    assert shared.status_code == 200, shared.text
    finance = mock_drive.onehub_id("/Finance")
    provisioned = requests.post(
        f"{mock_drive.url}/folders/{finance}/invitations",
        json={"invitation": {"emails": [outside.upper()], "role_name": "Viewer"}},
        headers=hub_headers,
        timeout=10,
    )
    assert provisioned.status_code < 300, provisioned.text
    before = mock_drive.access("bob@contoso.example", "/Finance/Q3")
    round_trip(mock_drive, "yaml")
    round_trip(mock_drive, "json")
    assert mock_drive.access("bob@contoso.example", "/Finance/Q3") == before


def test_has_password_and_a_group_invitation_address_are_kept(mock_drive, graph):
    mock_drive.add_folder("/Shared")
    mock_drive.add_user("Bob", "bob@contoso.example")
    mock_drive.add_group("Team", ["bob@contoso.example"], email="team@contoso.example")
    answer = graph.post(
        "/me/drive/root:/Shared:/invite",
        json={
            "recipients": [{"email": "team@contoso.example"}, {"email": "x@fabrikam.example"}],
            "roles": ["read"],
            "password": "secret",
            "sendInvitation": False,
        },
    )
    assert answer.status_code == 200, answer.text
    listed = graph.get("/me/drive/root:/Shared:/permissions").json()["value"]
    round_trip(mock_drive, "yaml")
    round_trip(mock_drive, "json")
    assert graph.get("/me/drive/root:/Shared:/permissions").json()["value"] == listed
    exported = mock_drive.export()["drives"][0]["root"]["children"][0]["permissions"]
    assert all(p.get("hasPassword") for p in exported)
    assert any(p.get("invitationEmail") == "team@contoso.example" for p in exported)


def test_renames_and_moves_cannot_push_a_path_past_the_limit(mock_drive, graph):
    """A long stateful run found a rename that made a 402-character path the loader refuses: a
    rename or move that would pass the limit, for the item or anything below it, is refused."""
    deep = "/" + "/".join(["d" * 9] * 38)  # 380 characters
    mock_drive.add_file(deep + "/x.txt", "x")  # 386
    mock_drive.add_folder("/" + "e" * 40)
    before = mock_drive.digest()
    top = "/" + "d" * 9
    grown = graph.patch(f"/me/drive/root:{top}", json={"name": "d" * 30})  # below: 407
    assert (
        grown.status_code == 400 and grown.json()["error"]["innerError"]["code"] == "pathIsTooLong"
    )
    target = mock_drive.item("/" + "e" * 40).id
    moved = graph.patch(f"/me/drive/root:{top}", json={"parentReference": {"id": target}})
    assert moved.status_code == 400, moved.text
    leaf = graph.patch(f"/me/drive/root:{deep}/x.txt", json={"name": "y" * 20})  # 401
    assert leaf.status_code == 400, leaf.text
    assert mock_drive.digest() == before
    assert graph.patch(f"/me/drive/root:{deep}/x.txt", json={"name": "y" * 14}).status_code == 200
    exported = mock_drive.server.call(lambda: export_scenario(mock_drive.state))
    mock_drive.load(exported)  # and the state still loads back


def test_a_rename_past_the_path_limit_moves_neither_the_clock_nor_the_ids(mock_drive, graph):
    """The long run of the full model machine: an upload with ``conflictBehavior: rename`` whose
    free name ("abcde 1.txt") no longer fits the 400 characters was refused only after the new
    item had read the clock and taken an id, so the refusal changed the state."""
    deep = "/" + "/".join(["d" * 9] * 39)  # 390 characters
    mock_drive.add_file(deep + "/abcde.txt", "x")  # 400: "abcde 1.txt" would be 402
    mock_drive.add_file(deep + "/ab.txt", "x")  # 397: "ab 1.txt" is 399
    state = mock_drive.state

    def clock_and_next_id() -> tuple[str, str]:
        return state.clock.peek(), state.ids._rng.getstate()[1][:8]

    before, digest = mock_drive.server.call(clock_and_next_id), mock_drive.digest()
    url = f"/me/drive/root:{deep}/abcde.txt:/content?@microsoft.graph.conflictBehavior=rename"
    refused = graph.put(url, data=b"y")
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["innerError"]["code"] == "pathIsTooLong"
    assert mock_drive.server.call(clock_and_next_id) == before
    assert mock_drive.digest() == digest
    assert graph.put(url.replace("abcde.txt", "ab.txt"), data=b"y").status_code == 201  # fits


def test_an_owner_tier_onehub_grant_without_an_inviter_round_trips(mock_drive, graph):
    """The full model machine's long run: a folder that stops inheriting copies Bob's Moderator
    (owner tier) permission without an inviter; set to Moderator again through Onehub, it was
    exported without ``invitedBy`` and loaded with the drive owner as inviter, so export → load
    → export differed. Loading now gives owner-tier grants no default inviter, as the export
    assumes."""
    mock_drive.add_user("Bob", "bob@contoso.example", token="bob-token")
    mock_drive.add_user("Carol", "carol@contoso.example")
    mock_drive.add_folder("/A/B")
    owner = mock_drive.token
    invitation = {"invitation": {"emails": "bob@contoso.example", "role_name": "Moderator"}}
    base = mock_drive.url
    folder_a, folder_b = mock_drive.onehub_id("/A"), mock_drive.onehub_id("/A/B")
    headers = {"Authorization": f"Bearer {owner}"}
    invited = requests.post(
        f"{base}/folders/{folder_a}/invitations", json=invitation, headers=headers, timeout=30
    )
    assert invited.status_code == 201, invited.text
    stop = {
        "recipients": [{"email": "carol@contoso.example"}],
        "roles": ["read"],
        "retainInheritedPermissions": False,
    }
    assert graph.post("/me/drive/root:/A/B:/invite", json=stop).status_code == 200
    rows = requests.get(f"{base}/folders/{folder_b}/rolemaps", headers=headers, timeout=30)
    bobs = [
        r["rolemap"]["id"]
        for r in rows.json()["items"]
        if r["rolemap"]["user"]["email"] == "bob@contoso.example"
    ]
    assert bobs, rows.text
    for rolemap in bobs:
        body = {"rolemap": {"role_name": "Moderator"}}
        changed = requests.put(f"{base}/rolemaps/{rolemap}", json=body, headers=headers, timeout=30)
        assert changed.status_code == 200, changed.text
    first = mock_drive.export()
    mock_drive.load(first)
    assert mock_drive.export() == first
