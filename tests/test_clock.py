"""The virtual clock: read and moved forward by tests, the admin API and scenarios; what
expires in the service expires in mockdrive when it passes, and nothing waits for real time."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import requests
from conftest import as_user
from hypothesis import given
from hypothesis import strategies as st

from mockdrive.model.clock import Clock, Expirations
from mockdrive.model.links import INVITATION_LIFETIME_DAYS
from mockdrive.scenario import build_state, export_scenario
from mockdrive.server import MockDrive


def test_the_fixture_advances_the_clock(mock_drive):
    start = mock_drive.clock.now()
    assert start.tzinfo is not None and start.date() == date(2024, 1, 1)
    assert mock_drive.clock.advance(days=8).startswith("2024-01-09T")
    assert mock_drive.clock.now().date() == date(2024, 1, 9)
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


def test_the_fixture_clock_is_a_datetime_and_set_moves_it_forward_only(mock_drive):
    now = mock_drive.clock.now()
    assert now == datetime(2024, 1, 1, tzinfo=timezone.utc) + (now - now.replace(second=0))
    assert mock_drive.clock.set(datetime(2024, 3, 1, 9, tzinfo=timezone.utc)) == (
        "2024-03-01T09:00:00Z"
    )
    assert mock_drive.clock.now() == datetime(2024, 3, 1, 9, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="only moves forward"):
        mock_drive.clock.set(datetime(2024, 2, 1, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="timezone-aware"):
        mock_drive.clock.set(datetime(2025, 1, 1))
    assert mock_drive.clock.now() == datetime(2024, 3, 1, 9, tzinfo=timezone.utc)


def test_clock_set_expires_what_falls_due(mock_drive, graph):
    mock_drive.add_file("/a.txt", "a")
    expiry = {"type": "view", "expirationDateTime": "2024-01-05T00:00:00Z"}
    link = graph.post("/me/drive/root:/a.txt:/createLink", json=expiry)
    assert link.status_code in (200, 201), link.text
    permissions = "/me/drive/root:/a.txt:/permissions"
    assert any("link" in p for p in graph.get(permissions).json()["value"])
    mock_drive.clock.set(datetime(2024, 1, 6, tzinfo=timezone.utc))
    assert not any("link" in p for p in graph.get(permissions).json()["value"])


def test_a_deadline_falls_due_at_its_instant(mock_drive, graph):
    """The pipeline asks whether anything may be due in whole epoch seconds (cheaper than the
    clock's datetime), then sweeps at the instant: a link is there a second before its
    expiration and gone at it."""
    mock_drive.add_file("/a.txt", "a")
    expiry = {"type": "view", "expirationDateTime": "2024-01-05T00:00:00Z"}
    link = graph.post("/me/drive/root:/a.txt:/createLink", json=expiry)
    assert link.status_code in (200, 201), link.text
    permissions = "/me/drive/root:/a.txt:/permissions"
    mock_drive.clock.set(datetime(2024, 1, 4, 23, 59, 59, tzinfo=timezone.utc))
    assert any("link" in p for p in graph.get(permissions).json()["value"])
    mock_drive.clock.set(datetime(2024, 1, 5, tzinfo=timezone.utc))
    assert not any("link" in p for p in graph.get(permissions).json()["value"])


@given(
    when=st.datetimes(max_value=datetime(9990, 1, 1), timezones=st.just(timezone.utc)),
    after=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2)),
)
def test_a_reached_deadline_is_never_after_the_clocks_epoch_second(when, after):
    """What the pipeline's whole-second test relies on: once a deadline is reached (``when`` at
    or before the clock's moment), its ``due`` is at most ``epoch_seconds()``, whatever the
    deadline's and the clock's fractions of a second, before 1970 too."""
    expirations = Expirations()
    expirations.schedule(when, "permission", "x")
    now = when + after
    for clock in (Clock(now), Clock(now.replace(microsecond=0))):
        if clock.moment() >= when:
            assert expirations.heap[0].due <= clock.epoch_seconds()


@pytest.mark.mock_drive(clock="wall")
def test_the_marker_makes_the_clock_follow_the_wall(mock_drive, graph):
    wall = datetime.now(timezone.utc)
    assert abs(mock_drive.clock.now() - wall) < timedelta(seconds=5)
    session = graph.post("/me/drive/root:/big.bin:/createUploadSession", json={}).json()
    expires = datetime.fromisoformat(session["expirationDateTime"].replace("Z", "+00:00"))
    assert expires > datetime.now(timezone.utc)  # what msgraph-core's upload task checks
    mock_drive.clock.advance(days=1)
    assert mock_drive.clock.now() - wall > timedelta(hours=23)


@pytest.mark.mock_drive(clock="2030-05-06T07:08:09Z")
def test_the_marker_pins_the_clock(mock_drive):
    assert mock_drive.clock.now() == datetime(2030, 5, 6, 7, 8, 9, tzinfo=timezone.utc)


def test_a_wall_clock_keeps_up_with_real_time_and_advances():
    wall = [100.0]
    clock = Clock()
    clock.follow_wall(lambda: wall[0])
    start = clock.moment()
    assert abs(start - datetime.now(timezone.utc)) < timedelta(seconds=5)
    assert start.microsecond == 0
    wall[0] += 90.7  # real time passes
    assert clock.moment() == start + timedelta(seconds=90)
    clock.advance(hours=1)
    assert clock.moment() == start + timedelta(seconds=90 + 3600)
    before = clock.now()  # readings still tick, so events stay ordered
    assert clock.now() > before
    clock.set("2024-01-01T00:00:00Z")  # a pin stops following the wall
    wall[0] += 1000
    assert clock.peek() == "2024-01-01T00:00:00Z"


def test_a_server_follows_the_wall_unless_pinned():
    with MockDrive() as server:
        assert abs(server.state.clock.moment() - datetime.now(timezone.utc)) < timedelta(seconds=5)
    with MockDrive(clock="2024-06-01T00:00:00Z") as server:
        assert server.state.clock.peek() == "2024-06-01T00:00:00Z"
    pinned = build_state({"clock": "2025-02-03T04:05:06Z"})
    with MockDrive(pinned) as server:  # the scenario's clock: wins over the default
        assert server.state.clock.peek() == "2025-02-03T04:05:06Z"


def test_epoch_seconds_read_what_the_moment_reads():
    """The download URLs' expiry reads the clock in epoch seconds: the same second as the
    moment, however the clock was started, set, moved or left to follow a wall."""
    wall = [100.0]  # a wall that moves only when the test moves it
    clock = Clock()
    readings = []
    for move in (
        lambda: None,
        clock.now,
        lambda: clock.advance(days=3, seconds=5),
        lambda: clock.set("1969-07-20T20:17:40Z"),
        clock.tick,
        lambda: clock.set(datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc)),
        lambda: clock.follow_wall(lambda: wall[0]),
        lambda: wall.__setitem__(0, 163.5),
        clock.now,
        lambda: clock.advance(hours=2),
    ):
        move()
        readings.append((clock.epoch_seconds(), int(clock.moment().timestamp())))
    assert all(seconds == expected for seconds, expected in readings), readings
    late = Clock(datetime(2024, 1, 1, 0, 0, 0, 500_000, tzinfo=timezone.utc))  # a fraction
    late.now()
    assert late.epoch_seconds() == int(late.moment().timestamp())
