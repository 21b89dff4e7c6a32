"""The virtual clock: read and moved forward by tests, the admin API and scenarios; what
expires in the service expires in mockdrive when it passes, and nothing waits for real time."""

from __future__ import annotations

import pytest
import requests
from conftest import as_user

from mockdrive.model.links import INVITATION_LIFETIME_DAYS
from mockdrive.scenario import build_state, export_scenario


def test_the_fixture_advances_the_clock(mock_drive):
    start = mock_drive.clock.now()
    assert start.startswith("2024-01-01T")
    assert mock_drive.clock.advance(days=8).startswith("2024-01-09T")
    assert mock_drive.clock.now().startswith("2024-01-09T")
    with pytest.raises(ValueError, match="0 or more"):
        mock_drive.clock.advance(days=-1)


def test_the_admin_route_reads_and_moves_the_clock(mock_drive):
    url = mock_drive.url + "/_mockdrive/clock"
    before = requests.get(url, timeout=10).json()["now"]
    moved = requests.post(url, json={"days": 1, "hours": 2}, timeout=10)
    assert moved.status_code == 200, moved.text
    assert moved.json()["now"] > before
    assert moved.json()["now"].startswith("2024-01-02T02:")


@pytest.mark.parametrize(
    "body",
    [{"days": -1}, {"weeks": 1}, {"days": "8"}, {}, [1], {"days": True}, {"days": 10**9}],
)
def test_bad_clock_moves_are_refused_and_change_nothing(mock_drive, body):
    url = mock_drive.url + "/_mockdrive/clock"
    before = mock_drive.clock.now()
    response = requests.post(url, json=body, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalidRequest"
    assert mock_drive.clock.now() == before


def test_graph_errors_carry_the_virtual_date(mock_drive, graph):
    mock_drive.clock.advance(days=30)
    error = graph.get("/me/drive/items/nope").json()["error"]
    assert error["innerError"]["date"].startswith("2024-01-31T")


def test_a_scenario_sets_the_clock_and_export_round_trips_it():
    data = {
        "clock": "2025-03-01T09:00:00Z",
        "users": [{"displayName": "Ada", "email": "ada@contoso.example", "token": "t"}],
        "drives": [{"owner": "ada@contoso.example"}],
    }
    state = build_state(data)
    assert state.clock.peek() == "2025-03-01T09:00:00Z"
    exported = export_scenario(state)
    assert exported["clock"] == "2025-03-01T09:00:00Z"
    assert export_scenario(build_state(exported)) == exported


def test_a_scenario_with_a_bad_clock_says_where():
    from mockdrive.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="clock"):
        build_state({"clock": "next tuesday", "users": []})


def test_a_permission_with_an_expiration_expires_when_the_clock_passes_it(mock_drive, graph):
    mock_drive.add_folder("/Projects")
    mock_drive.add_user("Bob", "bob@contoso.example")
    response = graph.post(
        "/me/drive/root:/Projects:/invite",
        json={
            "recipients": [{"email": "bob@contoso.example"}],
            "roles": ["read"],
            "expirationDateTime": "2024-01-05T00:00:00Z",
        },
    )
    assert response.status_code == 200, response.text
    bob = as_user(graph, "bob-token")
    item_id = mock_drive.item("/Projects").id
    drive_id = mock_drive.drive.id
    assert bob.get(f"/drives/{drive_id}/items/{item_id}").status_code == 200
    mock_drive.clock.advance(days=3)
    assert bob.get(f"/drives/{drive_id}/items/{item_id}").status_code == 200
    mock_drive.clock.advance(days=2)
    assert bob.get(f"/drives/{drive_id}/items/{item_id}").status_code == 404
    assert [p for p in mock_drive.permissions("/Projects") if "invitation" in p] == []


def test_a_pending_invitation_is_withdrawn_after_its_lifetime(mock_drive, graph):
    mock_drive.add_folder("/Projects")
    body = {"recipients": [{"email": "guest@outside.example"}], "roles": ["read"]}
    assert graph.post("/me/drive/root:/Projects:/invite", json=body).status_code == 200
    invited = [p for p in mock_drive.permissions("/Projects") if "invitation" in p]
    assert len(invited) == 1
    mock_drive.clock.advance(days=INVITATION_LIFETIME_DAYS - 1)
    assert len([p for p in mock_drive.permissions("/Projects") if "invitation" in p]) == 1
    mock_drive.clock.advance(days=1)
    assert [p for p in mock_drive.permissions("/Projects") if "invitation" in p] == []


def test_a_scenario_permission_expires_against_the_scenario_clock(mock_drive):
    mock_drive.load(
        {
            "clock": "2024-06-01T00:00:00Z",
            "users": [
                {"displayName": "Ada", "email": "ada@contoso.example", "token": "ada-token"},
                {"displayName": "Bob", "email": "bob@contoso.example", "token": "bob-token"},
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
                                        "user": "bob@contoso.example",
                                        "roles": ["read"],
                                        "expiration": "2024-06-02T00:00:00Z",
                                    }
                                ],
                            }
                        ]
                    },
                }
            ],
        }
    )
    mock_drive.assert_can("bob@contoso.example", "read", "/Finance")
    mock_drive.clock.advance(days=1)
    mock_drive.assert_cannot("bob@contoso.example", "read", "/Finance")


def test_the_clock_stops_short_of_the_end_of_time(mock_drive):
    url = mock_drive.url + "/_mockdrive/clock"
    for _ in range(69):  # 69 centuries from 2024 stays below the year 9000
        assert requests.post(url, json={"days": 36600}, timeout=10).status_code == 200
    before = mock_drive.clock.now()
    response = requests.post(url, json={"days": 36600}, timeout=10)
    assert response.status_code == 400 and "9000" in response.json()["error"]["message"]
    assert mock_drive.clock.now() == before


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00-01:00", "9999-12-31T23:59:59+00:00"])
def test_expirations_out_of_range_are_refused_and_change_nothing(mock_drive, graph, when):
    mock_drive.add_folder("/Projects")
    before = mock_drive.digest()
    invite = graph.post(
        "/me/drive/root:/Projects:/invite",
        json={
            "recipients": [{"email": "guest@outside.example"}],
            "roles": ["read"],
            "expirationDateTime": when,
        },
    )
    assert invite.status_code == 400, invite.text
    link = graph.post(
        "/me/drive/root:/Projects:/createLink", json={"type": "view", "expirationDateTime": when}
    )
    assert link.status_code == 400, link.text
    assert mock_drive.digest() == before


def test_an_unaccepted_onehub_invitation_is_withdrawn_after_its_lifetime(mock_drive):
    mock_drive.add_folder("/Projects")
    folder = mock_drive.onehub_id("/Projects")
    response = requests.post(
        f"{mock_drive.url}/folders/{folder}/invitations",
        json={"invitation": {"emails": "joe@outside.example", "role_name": "Viewer"}},
        headers=mock_drive.headers(),
        timeout=10,
    )
    assert response.status_code == 201, response.text

    def pending() -> int:
        listed = requests.get(
            f"{mock_drive.url}/folders/{folder}/rolemaps", headers=mock_drive.headers(), timeout=10
        ).json()
        return sum(1 for row in listed["items"] if row["rolemap"]["state"] == "pending")

    assert pending() == 1
    mock_drive.clock.advance(days=INVITATION_LIFETIME_DAYS)
    assert pending() == 0
