"""GET /me/drive/sharedWithMe: what others shared with the caller (directly, via a group, via
a link granted or redeemed) as remoteItems, with the policy's visibility delay."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests
from conftest import as_user, assert_graph_error


@pytest.fixture
def arranged(projects):
    """The shared projects, plus /Finance/Q3.xlsx, an unshared /Private, Bob's own drive (never
    listed as shared with him) and a Finance Team group with Bob in it."""
    projects.add_file("/Finance/Q3.xlsx", "q3")
    projects.add_folder("/Private")
    projects.add_drive(projects.user("bob@contoso.example"))
    projects.add_group("Finance Team", ["bob@contoso.example"], group_id="finance-team")
    return projects


def names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [entry["name"] for entry in response.json()["value"]]


def test_direct_group_and_link_shares_are_listed_as_remote_items(arranged, graph):
    bob = as_user(graph, "bob-token")
    assert names(bob.get("/me/drive/sharedWithMe")) == []
    invite = {"recipients": [{"email": "bob@contoso.example"}], "roles": ["write"]}
    assert graph.post("/me/drive/root:/Projects:/invite", json=invite).status_code == 200
    arranged.grant("/Finance/Q3.xlsx", arranged.state.directory.groups["finance-team"], ["read"])
    link = graph.post(
        "/me/drive/root:/Private:/createLink", json={"type": "view", "scope": "organization"}
    ).json()
    assert names(bob.get("/me/drive/sharedWithMe")) == ["Q3.xlsx", "Projects"]
    assert bob.get(
        f"/shares/{link['shareId']}/driveItem", headers={"Prefer": "redeemSharingLink"}
    ).ok
    listed = bob.get("/me/drive/sharedWithMe").json()["value"]
    assert [e["name"] for e in listed] == ["Q3.xlsx", "Projects", "Private"]
    remote = listed[1]["remoteItem"]
    assert remote["id"] == arranged.item("/Projects").id and "folder" in remote
    assert remote["parentReference"] == {
        "driveId": arranged.drive.id,
        "driveType": "business",
        "id": arranged.item("/").id,
    }
    assert remote["shared"]["owner"]["user"]["email"] == arranged.owner.email
    assert "file" in listed[0]["remoteItem"]
    # the owner sees nothing of her own; Carol nothing at all
    assert names(graph.get("/me/drive/sharedWithMe")) == []
    assert names(as_user(graph, "carol-token").get("/me/drive/sharedWithMe")) == []
    # the SDK's form and paging
    drive = arranged.drive.id
    assert names(bob.get(f"/drives/{drive}/sharedWithMe()")) == ["Q3.xlsx", "Projects", "Private"]
    page = bob.get("/me/drive/sharedWithMe", params={"$top": 2}).json()
    assert len(page["value"]) == 2 and "$skiptoken=2" in page["@odata.nextLink"]


def test_the_policy_delays_visibility_on_the_virtual_clock(arranged, graph):
    arranged.set_policy(sharedWithMeDelaySeconds=300)
    invite = {"recipients": [{"email": "bob@contoso.example"}], "roles": ["read"]}
    assert graph.post("/me/drive/root:/Projects:/invite", json=invite).status_code == 200
    bob = as_user(graph, "bob-token")
    assert names(bob.get("/me/drive/sharedWithMe")) == []
    arranged.clock.advance(minutes=4)
    assert names(bob.get("/me/drive/sharedWithMe")) == []
    arranged.clock.advance(minutes=1)
    assert names(bob.get("/me/drive/sharedWithMe")) == ["Projects"]


def test_an_expired_share_leaves_shared_with_me(arranged, graph):
    invite = {
        "recipients": [{"email": "bob@contoso.example"}],
        "roles": ["read"],
        "expirationDateTime": "2024-01-02T00:00:00Z",
    }
    assert graph.post("/me/drive/root:/Projects:/invite", json=invite).status_code == 200
    bob = as_user(graph, "bob-token")
    assert names(bob.get("/me/drive/sharedWithMe")) == ["Projects"]
    arranged.clock.advance(days=1)
    assert names(bob.get("/me/drive/sharedWithMe")) == []


def test_bad_shared_with_me_requests(arranged, graph):
    assert_graph_error(graph.post("/me/drive/sharedWithMe", json={}), 405, "notSupported")
    assert_graph_error(graph.get("/drives/nope/sharedWithMe"), 404, "itemNotFound")
    assert_graph_error(graph.get("/me/drive/sharedWithMe?$top=0"), 400, "invalidRequest")
    assert_graph_error(as_user(graph, None).get("/me/drive/sharedWithMe"), 401, "unauthenticated")


def test_readme_example_share_shows_up_later(mock_drive):
    import requests

    mock_drive.add_folder("/Projects")
    mock_drive.add_user("Bob", "bob@contoso.example")  # token bob-token
    mock_drive.set_policy(sharedWithMeDelaySeconds=300)
    body = {"recipients": [{"email": "bob@contoso.example"}], "roles": ["read"]}
    requests.post(
        f"{mock_drive.graph_url}/me/drive/root:/Projects:/invite",
        json=body,
        headers=mock_drive.headers(),
        timeout=10,
    )
    mine = f"{mock_drive.graph_url}/me/drive/sharedWithMe"
    bob = mock_drive.headers("bob-token")
    assert requests.get(mine, headers=bob, timeout=10).json()["value"] == []
    mock_drive.clock.advance(minutes=5)
    assert len(requests.get(mine, headers=bob, timeout=10).json()["value"]) == 1


def test_a_drive_addressed_through_me_answers_its_shared_with_me(arranged, graph):
    """``/me/drives/{id}`` is the drive of ``/drives/{id}``, so its sharedWithMe is served there
    too (python-o365 lists it so once it has read the drive), with the docs' ``allowexternal``."""
    bob = as_user(graph, "bob-token")
    invite = {"recipients": [{"email": "bob@contoso.example"}], "roles": ["read"]}
    assert graph.post("/me/drive/root:/Projects:/invite", json=invite).status_code == 200
    own = bob.get("/me/drive").json()["id"]
    listed = bob.get(f"/me/drives/{own}/sharedWithMe", params={"allowexternal": "False"})
    assert names(listed) == names(bob.get("/me/drive/sharedWithMe")) == ["Projects"]
    assert names(bob.get(f"/me/drives/{own}/sharedWithMe()")) == ["Projects"]
    assert_graph_error(bob.get("/me/drives/nope/sharedWithMe"), 404, "itemNotFound")
    assert_graph_error(bob.post(f"/me/drives/{own}/sharedWithMe", json={}), 405, "notSupported")


def test_what_a_scenario_with_a_clock_shares_is_listed_at_once(mock_drive):
    """The shares a scenario declares without their own sharedDateTime were shared when it
    loaded: at its clock:, which the clock reads once loaded, not in the clock's future."""
    mock_drive.load(
        {
            "clock": "2024-06-01T00:00:00Z",
            "users": [
                {"displayName": "Ada", "email": "ada@contoso.example", "token": "ada-token"},
                {"displayName": "Bob", "email": "bob@contoso.example", "token": "bob-token"},
                {"displayName": "Cy", "email": "cy@contoso.example", "token": "cy-token"},
            ],
            "groups": [{"id": "eng", "displayName": "Eng", "members": ["bob@contoso.example"]}],
            "drives": [
                {
                    "owner": "ada@contoso.example",
                    "root": {
                        "children": [
                            {
                                "name": "Projects",
                                "folder": {},
                                "permissions": [{"group": "eng", "roles": ["write"]}],
                            },
                            {
                                "name": "Plan.docx",
                                "file": {},
                                "content": "draft",
                                "permissions": [
                                    {
                                        "link": {
                                            "type": "view",
                                            "scope": "users",
                                            "members": ["cy@contoso.example"],
                                        }
                                    },
                                ],
                            },
                        ]
                    },
                }
            ],
        }
    )
    assert mock_drive.clock.now() == datetime(2024, 6, 1, tzinfo=timezone.utc)
    session = requests.Session()
    url = f"{mock_drive.graph_url}/me/drive/sharedWithMe"
    bob = session.get(url, headers=mock_drive.headers("bob-token"))
    assert names(bob) == ["Projects"]
    assert names(session.get(url, headers=mock_drive.headers("cy-token"))) == ["Plan.docx"]
    shared = mock_drive.export()["drives"][0]["root"]["children"][0]["permissions"][0]
    assert shared["sharedDateTime"] == "2024-06-01T00:00:00Z"


@pytest.mark.mock_drive(scenario="team", clock="2023-06-01T00:00:00Z")
def test_a_scenario_served_at_an_earlier_marker_clock_lists_its_shares(mock_drive):
    """The marker's clock= is the moment the scenario loads at: its shares (dated at the load)
    are not in the clock's future, which sharedWithMe would leave out."""
    assert mock_drive.clock.now() == datetime(2023, 6, 1, tzinfo=timezone.utc)
    dan = mock_drive.session_for("dan@contoso.example")
    assert names(dan.get("/me/drive/sharedWithMe")) == ["Q3.xlsx"]
    drive = mock_drive.export()["drives"][0]
    shared = drive["root"]["children"][0]["children"][0]["permissions"][0]
    assert shared["sharedDateTime"] == "2023-06-01T00:00:00Z"
