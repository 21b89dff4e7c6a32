"""Sharing links: createLink (Graph and OneDrive), how links are listed, inherited, changed,
removed and granted, the policy's link settings, and bad input that changes nothing."""

from __future__ import annotations

import pytest
from conftest import as_user, assert_graph_error

PROJECTS = "/me/drive/root:/Projects:"


def create(graph, body, path=PROJECTS):
    return graph.post(path + "/createLink", json=body)


def test_an_anonymous_view_link_is_created_once_then_returned(projects, graph):
    first = create(graph, {"type": "view", "scope": "anonymous"})
    assert first.status_code == 201, first.text
    link = first.json()
    assert link["roles"] == ["read"]
    assert link["link"] == {
        "type": "view",
        "scope": "anonymous",
        "webUrl": link["link"]["webUrl"],
        "preventsDownload": False,
    }
    assert link["link"]["webUrl"].startswith("https://mockdrive.example/s/")
    assert link["shareId"].startswith("s!") and link["hasPassword"] is False
    again = create(graph, {"type": "view", "scope": "anonymous"})
    assert again.status_code == 200 and again.json()["id"] == link["id"]
    edit = create(graph, {"type": "edit", "scope": "anonymous"})
    assert edit.status_code == 201 and edit.json()["roles"] == ["write"]
    assert edit.json()["id"] != link["id"]


def test_a_link_is_listed_on_its_item_and_inherited_below_it(projects, graph):
    link = create(graph, {"type": "view", "scope": "organization"}).json()
    own = graph.get(PROJECTS + "/permissions").json()["value"]
    assert next(p for p in own if p["id"] == link["id"])["link"]["scope"] == "organization"
    below = graph.get("/me/drive/root:/Projects/Plan.docx:/permissions").json()["value"]
    inherited = next(p for p in below if p["id"] == link["id"])
    assert inherited["inheritedFrom"]["path"] == "/drive/root:/Projects"
    assert inherited["link"] == link["link"]
    one = graph.get(PROJECTS + f"/permissions/{link['id']}").json()
    assert one["shareId"] == link["shareId"]
    # stored once: changing it on the child is refused, deleting it on the folder removes it
    child = f"/me/drive/root:/Projects/Plan.docx:/permissions/{link['id']}"
    assert_graph_error(graph.delete(child), 403, "notAllowed")
    assert graph.delete(PROJECTS + f"/permissions/{link['id']}").status_code == 204
    below = graph.get("/me/drive/root:/Projects/Plan.docx:/permissions").json()["value"]
    assert all("link" not in p for p in below)


def test_a_users_link_lists_the_people_it_was_granted_to_and_notifies_them(projects, graph):
    response = create(
        graph,
        {
            "type": "edit",
            "scope": "users",
            "recipients": [{"email": "bob@contoso.example"}, {"email": "guest@outside.example"}],
            "sendNotification": True,
            "message": "have a look",
        },
    )
    assert response.status_code == 201, response.text
    people = response.json()["grantedToIdentitiesV2"]
    assert people[0]["user"]["email"] == "bob@contoso.example"
    assert people[1] == {"user": {"email": "guest@outside.example"}}
    assert [m["to"] for m in projects.outbox] == ["bob@contoso.example", "guest@outside.example"]
    # the link is Bob's way in: he holds write on the folder and what is below it
    projects.assert_can("bob@contoso.example", "write", "/Projects/Plan.docx")
    projects.assert_cannot("carol@contoso.example", "read", "/Projects")


def test_grant_adds_people_to_a_link_and_keeps_its_roles(projects, graph):
    link = create(graph, {"type": "view", "scope": "organization"}).json()
    response = graph.post(
        PROJECTS + f"/permissions/{link['id']}/grant",
        json={"recipients": [{"email": "carol@contoso.example"}], "roles": ["read"]},
    )
    assert response.status_code == 200, response.text
    value = response.json()["value"]
    assert value[0]["id"] == link["id"] and value[0]["link"]["scope"] == "organization"
    assert [p["user"]["email"] for p in value[0]["grantedToIdentitiesV2"]] == [
        "carol@contoso.example"
    ]
    projects.assert_can("carol@contoso.example", "read", "/Projects/Plan.docx")
    projects.assert_cannot("carol@contoso.example", "write", "/Projects")


def test_patch_of_a_link_changes_its_expiration_not_its_roles(projects, graph):
    link = create(graph, {"type": "view", "scope": "anonymous"}).json()
    path = PROJECTS + f"/permissions/{link['id']}"
    before = projects.digest()
    assert_graph_error(graph.patch(path, json={"roles": ["write"]}), 400, "invalidRequest")
    assert projects.digest() == before
    response = graph.patch(path, json={"expirationDateTime": "2024-02-01T00:00:00Z"})
    assert response.status_code == 200, response.text
    assert response.json()["expirationDateTime"] == "2024-02-01T00:00:00Z"
    assert response.json()["roles"] == ["read"]


def test_a_link_expires_with_the_clock(projects, graph):
    link = create(
        graph, {"type": "view", "scope": "anonymous", "expirationDateTime": "2024-01-08T00:00:00Z"}
    ).json()
    assert link["expirationDateTime"] == "2024-01-08T00:00:00Z"
    projects.clock.advance(days=6)
    listed = graph.get(PROJECTS + "/permissions").json()["value"]
    assert any(p["id"] == link["id"] for p in listed)
    projects.clock.advance(days=2)
    listed = graph.get(PROJECTS + "/permissions").json()["value"]
    assert all(p["id"] != link["id"] for p in listed)
    assert create(graph, {"type": "view", "scope": "anonymous"}).status_code == 201  # a new one


def test_retain_inherited_permissions_false_stops_inheritance_on_first_share(projects, graph):
    projects.grant("/Projects", "bob@contoso.example", ["read"])
    path = "/me/drive/root:/Projects/Plan.docx:"
    body = {"type": "view", "scope": "organization", "retainInheritedPermissions": False}
    assert create(graph, body, path).status_code == 201
    projects.assert_cannot("bob@contoso.example", "read", "/Projects/Plan.docx")
    projects.assert_can(projects.owner.email, "owner", "/Projects/Plan.docx")


def test_readers_cannot_create_links(projects, graph):
    projects.grant("/Projects", "bob@contoso.example", ["read"])
    drive, item = projects.drive.id, projects.item("/Projects").id
    bob = as_user(graph, "bob-token")
    response = bob.post(f"/drives/{drive}/items/{item}/createLink", json={"type": "view"})
    assert_graph_error(response, 403, "accessDenied")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"type": "share"}, 400, "invalidRequest"),
        ({}, 400, "invalidRequest"),
        ({"type": "view", "scope": "everyone"}, 400, "invalidRequest"),
        ({"type": "embed"}, 400, "invalidRequest"),  # only files in OneDrive personal
        ({"type": "view", "expirationDateTime": "2023-12-31T00:00:00Z"}, 400, "invalidRequest"),
        ({"type": "view", "expirationDateTime": "soon"}, 400, "invalidRequest"),
        (
            {"type": "view", "scope": "anonymous", "recipients": [{"email": "a@b.example"}]},
            400,
            "invalidRequest",
        ),
        (
            {"type": "view", "scope": "users", "recipients": [{"email": "not an address"}]},
            400,
            "invalidRequest",
        ),
        ({"type": "view", "scope": "users", "recipients": "bob"}, 400, "invalidRequest"),
        ({"type": "view", "password": 7}, 400, "invalidRequest"),
    ],
)
def test_bad_create_link_requests_change_nothing(projects, graph, body, status, code):
    before = projects.digest()
    assert_graph_error(create(graph, body), status, code)
    assert projects.digest() == before


def test_grant_on_a_permission_that_is_not_a_link_is_refused(projects, graph):
    permission = projects.grant("/Projects", "bob@contoso.example", ["read"])
    before = projects.digest()
    response = graph.post(
        PROJECTS + f"/permissions/{permission.id}/grant",
        json={"recipients": [{"email": "carol@contoso.example"}], "roles": ["read"]},
    )
    assert_graph_error(response, 400, "invalidRequest")
    link = create(graph, {"type": "view", "scope": "users"}).json()
    before = projects.digest()
    for body in (
        {"recipients": [{"email": "carol@contoso.example"}], "roles": ["write"]},  # not its role
        {"recipients": [], "roles": ["read"]},
        {"roles": ["read"]},
    ):
        response = graph.post(PROJECTS + f"/permissions/{link['id']}/grant", json=body)
        assert_graph_error(response, 400, "invalidRequest")
    response = graph.post(PROJECTS + "/permissions/nope/grant", json={"recipients": []})
    assert_graph_error(response, 404, "itemNotFound")
    assert projects.digest() == before


def test_policy_refuses_anonymous_links_when_they_are_turned_off(projects, graph):
    projects.set_policy(anonymousLinks=False)
    before = projects.digest()
    error = assert_graph_error(create(graph, {"type": "view", "scope": "anonymous"}), 403,
                               "notAllowed")  # fmt: skip
    assert error["innerError"]["code"] == "anonymousLinksDisabled"
    assert projects.digest() == before
    assert create(graph, {"type": "view", "scope": "organization"}).status_code == 201


def test_policy_caps_and_defaults_the_expiration_of_anonymous_links(projects, graph):
    projects.set_policy(anonymousLinkMaxDays=7)
    before = projects.digest()
    too_far = {"type": "view", "scope": "anonymous", "expirationDateTime": "2024-03-01T00:00:00Z"}
    error = assert_graph_error(create(graph, too_far), 400, "invalidRequest")
    assert error["innerError"]["code"] == "expirationDateTimeTooFar"
    assert projects.digest() == before
    link = create(graph, {"type": "view", "scope": "anonymous"}).json()
    assert link["expirationDateTime"].startswith("2024-01-08T")  # the limit is the default
    org = create(graph, {"type": "view", "scope": "organization"}).json()
    assert "expirationDateTime" not in org  # the cap is for anonymous links only


def test_policy_default_link_scope(projects, graph):
    assert create(graph, {"type": "view"}).json()["link"]["scope"] == "anonymous"
    projects.set_policy(defaultLinkScope="organization")
    assert create(graph, {"type": "edit"}).json()["link"]["scope"] == "organization"
    with pytest.raises(ValueError, match="defaultLinkScope"):
        projects.set_policy(defaultLinkScope="world")


def test_embed_links_on_personal_drives_and_organization_links_refused_there(mock_drive, graph):
    owner = mock_drive.add_user("Pat", "pat@outlook.example", token="pat-token")
    drive = mock_drive.add_drive(owner, drive_type="personal", name="OneDrive")
    mock_drive.add_file("/photo.jpg", "jpg", drive=drive)
    pat = as_user(graph, "pat-token")
    embed = pat.post("/me/drive/root:/photo.jpg:/createLink", json={"type": "embed"})
    assert embed.status_code == 201, embed.text
    assert embed.json()["link"]["webHtml"].startswith("<iframe")
    org = pat.post(
        "/me/drive/root:/photo.jpg:/createLink", json={"type": "view", "scope": "organization"}
    )
    assert_graph_error(org, 400, "invalidRequest")


def test_onedrive_action_create_link_answers_in_its_own_shape(projects, graph):
    response = graph.post("/drive/root:/Projects:/action.createLink", json={"type": "edit"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "roles", "link"} and body["roles"] == ["write"]
    assert set(body["link"]) == {"type", "scope", "webUrl"}
    bad = graph.post("/drive/root:/Projects:/action.createLink", json={"type": "nope"})
    assert bad.status_code == 400
    assert bad.json()["error"]["innererror"]["code"] == "invalidRequest"


def test_fault_rules_fail_create_link_and_grant_like_any_route(projects, graph):
    projects.faults.add(
        effect="error", path="/createLink$", nth=1, status=503, code="serviceNotAvailable"
    )
    before = projects.digest()
    assert_graph_error(create(graph, {"type": "view"}), 503, "serviceNotAvailable")
    assert projects.digest() == before
    link = create(graph, {"type": "view", "scope": "users"}).json()  # fired once
    projects.faults.add(effect="throttle", path="/grant$", retryAfter=3)
    response = graph.post(
        PROJECTS + f"/permissions/{link['id']}/grant",
        json={"recipients": [{"email": "bob@contoso.example"}]},
    )
    assert_graph_error(response, 429, "activityLimitReached")
    assert response.headers["Retry-After"] == "3"


def test_create_link_accepts_only_post(projects, graph):
    assert_graph_error(graph.get(PROJECTS + "/createLink"), 405, "notSupported")


# -- the oracle, diff, scenarios --------------------------------------------------------------
def test_access_explains_a_link(projects, graph):
    link = create(graph, {"type": "view", "scope": "anonymous"}).json()
    carol = projects.access("carol@contoso.example", "/Projects/Plan.docx")
    assert not carol.can("read")
    assert "read via anonymous view link on /Projects (through /shares" in carol.explain()
    as_user(graph, "carol-token").get(
        f"/shares/{link['shareId']}/driveItem", headers={"Prefer": "redeemSharingLink"}
    )
    explained = projects.assert_can("carol@contoso.example", "read", "/Projects/Plan.docx")
    assert "read via anonymous view link (permission" in explained.explain()
    assert "inherited from /Projects" in explained.explain()
    with pytest.raises(AssertionError, match="via anonymous view link"):
        projects.assert_cannot("carol@contoso.example", "read", "/Projects/Plan.docx")


def test_diff_shows_links_created_granted_and_expired(projects, graph):
    before = projects.snapshot()
    body = {"type": "view", "scope": "users", "expirationDateTime": "2024-01-03T00:00:00Z"}
    link = create(graph, body).json()
    token = link["link"]["webUrl"].rsplit("/", 1)[1][:6]
    name = f"users view link {token}"
    assert f"{name}: + read on /Projects (direct)" in projects.diff(before)
    granted = projects.snapshot()
    graph.post(
        PROJECTS + f"/permissions/{link['id']}/grant",
        json={"recipients": [{"email": "bob@contoso.example"}]},
    )
    assert f"bob@contoso.example (via {name}): + read on /Projects (direct)" in projects.diff(
        granted
    )
    expired = projects.snapshot()
    projects.clock.advance(days=3)
    changes = projects.diff(expired)
    assert f"{name}: - read on /Projects (was direct)" in changes
    assert f"bob@contoso.example (via {name}): - read on /Projects (was direct)" in changes


def test_scenarios_declare_links_and_export_round_trips_them(mock_drive, graph):
    from mockdrive.scenario import build_state, dump_yaml, export_scenario

    data = {
        "clock": "2024-05-01T00:00:00Z",
        "users": [
            {"displayName": "Ada", "email": "ada@contoso.example", "token": "ada-token"},
            {"displayName": "Bob", "email": "bob@contoso.example", "token": "bob-token"},
            {"displayName": "Gus", "email": "gus@outside.example", "token": "gus-token"},
        ],
        "drives": [
            {
                "owner": "ada@contoso.example",
                "root": {
                    "children": [
                        {
                            "name": "Finance",
                            "folder": {},
                            "permissions": [
                                {
                                    "id": "L1",
                                    "link": {"type": "view", "scope": "anonymous", "token": "fin"},
                                    "expiration": "2024-05-08T00:00:00Z",
                                },
                                {
                                    "link": {
                                        "type": "edit",
                                        "scope": "users",
                                        "members": ["bob@contoso.example", "g@outside.example"],
                                        "password": "pw",
                                    }
                                },
                            ],
                        }
                    ]
                },
            }
        ],
        "policy": {"anonymousLinkMaxDays": 30, "defaultLinkScope": "organization"},
    }
    exported = export_scenario(build_state(data))
    assert dump_yaml(export_scenario(build_state(exported))) == dump_yaml(exported)
    assert exported["clock"] == "2024-05-01T00:00:00Z"
    assert exported["policy"]["anonymousLinkMaxDays"] == 30
    mock_drive.load(data)
    anyone = as_user(graph, "gus-token")  # a business drive's links need a signed-in caller
    assert anyone.get("/shares/s!fin/driveItem").json()["name"] == "Finance"
    mock_drive.assert_can("bob@contoso.example", "write", "/Finance")
    mock_drive.clock.advance(days=7)
    assert_graph_error(anyone.get("/shares/s!fin/driveItem"), 404, "itemNotFound")


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ({"type": "view", "scope": "anyone"}, "scope"),
        ({"type": "view", "scope": "users", "members": ["nobody"]}, "no user, group or address"),
        ({"type": "view"}, "scope"),
    ],
)
def test_bad_scenario_links_say_where(link, reason):
    import json

    from mockdrive.scenario import ScenarioError, build_state, load_scenario_text

    data = {
        "users": [{"displayName": "Ada", "email": "ada@contoso.example"}],
        "drives": [{"owner": "ada@contoso.example", "root": {"permissions": [{"link": link}]}}],
    }
    with pytest.raises(ScenarioError, match=reason):
        build_state(data)
    with pytest.raises(ScenarioError, match=reason):
        load_scenario_text(json.dumps(data))  # the schema says it first


def test_onehub_rolemaps_do_not_list_links(projects, graph):
    import requests

    create(graph, {"type": "view", "scope": "users", "recipients": [{"email": "g@out.example"}]})
    folder = projects.onehub_id("/Projects")
    rolemaps = requests.get(
        f"{projects.url}/folders/{folder}/rolemaps", headers=projects.headers(), timeout=10
    ).json()
    assert rolemaps["total_entries"] == 1  # the owner's, inherited; no link
