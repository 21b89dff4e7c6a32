"""The pytest plugin: marker, arrange helpers, access explanations, snapshots, TLS, in-loop app."""

from __future__ import annotations

import json
import re
import textwrap

import aiohttp
import pytest
import requests
from conftest import UNUSED_PLUGINS

from mockdrive.cli import default_state
from mockdrive.pytest_plugin import OWNER_TOKEN

TEAM = "fixtures/team.yaml"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.mock_drive(scenario=TEAM)
def test_marker_loads_a_scenario_and_its_owner_token(mock_drive):
    assert mock_drive.token == "ada-token"
    listing = requests.get(
        f"{mock_drive.graph_url}/me/drive/root/children", headers=mock_drive.headers()
    )
    assert [i["name"] for i in listing.json()["value"]] == ["Finance", "Audit"]
    # Bob edits Q3 through his group's permission on /Finance.
    put = requests.put(
        f"{mock_drive.graph_url}/users/ada@contoso.example/drive/root:/Finance/Q3.xlsx:/content",
        headers=bearer("bob-token"),
        data=b"new numbers",
    )
    assert put.status_code == 200, put.text


@pytest.mark.mock_drive(scenario=TEAM)
def test_access_explains_group_and_inherited_grants(mock_drive):
    result = mock_drive.assert_can("bob@contoso.example", "write", "/Finance/Q3.xlsx")
    assert result.roles == ["write"]
    [grant] = result.grants
    assert grant.via == "via group Finance Team" and grant.inherited
    assert grant.granted_on == "OneDrive:/Finance"
    dan = mock_drive.assert_can("dan@contoso.example", "read", "/Finance/Q3.xlsx")
    assert [g.inherited for g in dan.grants] == [False]

    with pytest.raises(AssertionError) as failed:
        mock_drive.assert_can("dan@contoso.example", "write", "/Finance/Q3.xlsx")
    assert str(failed.value) == (
        "dan@contoso.example cannot write OneDrive:/Finance/Q3.xlsx\n"
        "dan@contoso.example holds read on OneDrive:/Finance/Q3.xlsx:\n"
        f"  - read directly (permission {dan.grants[0].permission_id}, granted on this item)"
    )
    with pytest.raises(AssertionError, match="inherited from OneDrive:/Finance"):
        mock_drive.assert_cannot("carol@contoso.example", "write", "/Finance/Q3.xlsx")


@pytest.mark.mock_drive(scenario=TEAM)
def test_access_names_where_inheritance_stops(mock_drive):
    path = "/Finance/Payroll/Salaries 2024.xlsx"
    mock_drive.assert_cannot("bob@contoso.example", "read", path)
    with pytest.raises(AssertionError) as failed:
        mock_drive.assert_can("bob@contoso.example", "read", path)
    message = str(failed.value)
    assert "holds no permission on OneDrive:/Finance/Payroll/Salaries 2024.xlsx" in message
    assert "inheritance stops at OneDrive:/Finance/Payroll" in message
    mock_drive.assert_can("carol@contoso.example", "write", path)
    denied = requests.get(
        f"{mock_drive.graph_url}/users/ada@contoso.example/drive/root:{path}",
        headers=bearer("bob-token"),
    )
    assert denied.status_code == 404


def test_snapshot_diff_reads_like_a_change_log(mock_drive):
    bob = mock_drive.add_user("Bob", "bob@x.example")
    mock_drive.add_file("/Finance/Q3.xlsx", size=100)
    permission = mock_drive.grant("/Finance", bob, ["read"])
    before = mock_drive.snapshot()
    patched = requests.patch(
        f"{mock_drive.graph_url}/me/drive/root:/Finance:/permissions/{permission.id}",
        headers=mock_drive.headers(),
        json={"roles": ["write"]},
    )
    assert patched.status_code == 200, patched.text
    invited = requests.post(
        f"{mock_drive.graph_url}/me/drive/root:/Finance/Q3.xlsx:/invite",
        headers=mock_drive.headers(),
        json={"recipients": [{"email": "eve@outside.example"}], "roles": ["read"]},
    )
    assert invited.status_code == 200, invited.text
    mock_drive.add_file("/Finance/Q4.xlsx")
    changes = mock_drive.diff(before)
    assert list(changes) == [
        "bob@x.example: read → write on /Finance (direct)",
        "bob@x.example: read → write on /Finance/Q3.xlsx (inherited from /Finance)",
        "eve@outside.example (invited): + read on /Finance/Q3.xlsx (direct)",
        "+ /Finance/Q4.xlsx",
    ]
    assert str(mock_drive.diff(mock_drive.snapshot())) == "(no changes)"


def test_arrange_groups_and_pending_invitations(mock_drive):
    carol = mock_drive.add_user("Carol", "carol@x.example")
    team = mock_drive.add_group("Team", [carol])
    mock_drive.add_file("/Shared/Notes.txt", "hello")
    mock_drive.grant("/Shared", team, ["read"])
    mock_drive.grant("/Shared", "guest@outside.example", ["read"])
    notes = requests.get(
        f"{mock_drive.graph_url}/users/{mock_drive.owner.id}/drive/root:/Shared/Notes.txt:/content",
        headers=bearer("carol-token"),
    )
    assert notes.text == "hello"
    invitations = [p for p in mock_drive.permissions("/Shared/Notes.txt") if "invitation" in p]
    assert [p["invitation"]["email"] for p in invitations] == ["guest@outside.example"]
    mock_drive.stop_inheriting("/Shared/Notes.txt")
    mock_drive.assert_cannot(carol, "read", "/Shared/Notes.txt")


@pytest.mark.mock_drive(seed=7)
def test_seed_marker_gives_the_seeded_ids(mock_drive):
    expected = default_state(OWNER_TOKEN, seed=7)
    assert mock_drive.drive.id == next(iter(expected.store.drives))
    assert mock_drive.token == OWNER_TOKEN


@pytest.mark.mock_drive(demo=True, seed=3, users=10, items=60)
def test_demo_marker(mock_drive):
    assert len(mock_drive.state.directory.users) == 10
    drive = requests.get(f"{mock_drive.graph_url}/me/drive", headers=mock_drive.headers())
    assert drive.status_code == 200


@pytest.mark.mock_drive(tls=True)
def test_tls_marker_serves_https_with_a_ca_bundle(mock_drive):
    assert mock_drive.url.startswith("https://127.0.0.1:")
    drive = requests.get(
        f"{mock_drive.graph_url}/me/drive", headers=mock_drive.headers(), verify=mock_drive.ca_path
    )
    assert drive.status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{mock_drive.url}/_mockdrive/health", verify=True)


def test_load_replaces_the_state_from_a_file(mock_drive):
    mock_drive.load("fixtures/quickstart.yaml")
    assert mock_drive.token == "ada-token"
    mock_drive.assert_can("bob@contoso.example", "read", "/Projects/Plan.docx")


def test_the_admin_reset_goes_back_to_the_state_the_test_started_with(mock_drive):
    start = mock_drive.export()
    mock_drive.add_file("/Projects/Plan.docx", "draft")
    assert requests.post(f"{mock_drive.url}/_mockdrive/reset").status_code == 204
    assert mock_drive.export() == start
    listing = mock_drive.session.get("/me/drive/root/children")
    assert listing.status_code == 200 and listing.json()["value"] == []


@pytest.mark.mock_drive(scenario=TEAM)
def test_the_admin_reset_goes_back_to_the_tests_scenario(mock_drive):
    start = mock_drive.export()
    mock_drive.session.delete("/me/drive/root:/Finance")
    assert requests.post(f"{mock_drive.url}/_mockdrive/reset").status_code == 204
    assert mock_drive.export() == start
    mock_drive.assert_can("bob@contoso.example", "write", "/Finance/Q3.xlsx")


@pytest.mark.mock_drive(scenario=TEAM)
async def test_the_in_loop_apps_admin_reset_goes_back_to_the_tests_scenario(
    aiohttp_client, mock_drive_app
):
    client = await aiohttp_client(mock_drive_app.app)
    mock_drive_app.add_file("/Inbox/new.txt", "hi")
    assert (await client.post("/_mockdrive/reset")).status == 204
    response = await client.get("/v1.0/me/drive/root:/Finance:", headers=bearer("ada-token"))
    assert response.status == 200
    mock_drive_app.assert_can("bob@contoso.example", "write", "/Finance")


def test_a_state_without_drives_has_no_owner_and_says_what_gives_one(mock_drive):
    mock_drive.load({"users": [{"displayName": "Ada", "email": "ada@contoso.example"}]})
    with pytest.raises(LookupError, match=r"no drive, so no owner: add_drive\(owner\)"):
        mock_drive.owner  # noqa: B018
    mock_drive.add_drive(mock_drive.user("ada@contoso.example"))
    assert mock_drive.owner.email == "ada@contoso.example"


async def test_threaded_fixture_from_an_async_test(mock_drive):
    mock_drive.add_file("/a.txt", "x")
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{mock_drive.graph_url}/me/drive/root/children", headers=mock_drive.headers()
        ) as response,
    ):
        body = await response.json()
    assert [i["name"] for i in body["value"]] == ["a.txt"]


@pytest.mark.mock_drive(scenario=TEAM)
async def test_in_loop_app_with_aiohttp_client(aiohttp_client, mock_drive_app):
    client = await aiohttp_client(mock_drive_app.app)
    mock_drive_app.add_file("/Inbox/new.txt", "hi")
    response = await client.get(
        "/v1.0/me/drive/root:/Inbox/new.txt:/content", headers=bearer("ada-token")
    )
    assert response.status == 200 and await response.text() == "hi"
    mock_drive_app.assert_can("bob@contoso.example", "write", "/Finance")


# An inner run that needs no process of its own (no xdist) runs in this one: the same plugin,
# without a Python and pytest start-up of its own (~2 s of CPU each).
INNER = (
    "-p",
    "no:cacheprovider",
    "-p",
    "no:xdist",
    "-o",
    "asyncio_default_fixture_loop_scope=function",
)


def test_isolation_under_xdist(pytester):
    """Two workers, each with its own server; every test sees only what it arranged."""
    pytester.makepyfile(
        test_isolated=textwrap.dedent(
            """
            import json, os
            import pytest
            import requests

            @pytest.mark.parametrize("n", range(40))
            def test_only_my_file(mock_drive, n):
                mock_drive.add_file(f"/file-{n}.txt", str(n))
                listing = requests.get(
                    f"{mock_drive.graph_url}/me/drive/root/children",
                    headers=mock_drive.headers(),
                ).json()["value"]
                assert [i["name"] for i in listing] == [f"file-{n}.txt"]
                assert mock_drive.outbox == []
                with open(os.environ["RECORD"], "a") as record:
                    worker = os.environ.get("PYTEST_XDIST_WORKER")
                    record.write(json.dumps([worker, mock_drive.url]) + "\\n")
            """
        )
    )
    record = pytester.path / "record.jsonl"
    pytester._monkeypatch.setenv("RECORD", str(record))
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", *UNUSED_PLUGINS)
    result.assert_outcomes(passed=40)
    seen = {tuple(json.loads(line)) for line in record.read_text().splitlines()}
    workers = {worker for worker, _ in seen}
    assert workers == {"gw0", "gw1"}
    assert len({url for _, url in seen}) == 2, "one server per worker"


# -- helpers that refuse nonsense, naming what is allowed ---------------------------------------
@pytest.mark.mock_drive(scenario=TEAM)
def test_grant_takes_what_a_scenario_takes(mock_drive):
    mock_drive.add_folder("/Shared")
    before = mock_drive.digest()
    mock_drive.grant("/Shared", "Finance Team", ["read"])  # a group by display name
    mock_drive.grant("/Shared", "finance-team", ["write"])  # ... and by id
    dan = mock_drive.user("dan@contoso.example")
    mock_drive.grant("/Shared", dan.id, ["read"])  # a user by id
    mock_drive.grant("/Shared", "guest2@outside.example", ["read"])  # outside: an invitation
    assert mock_drive.digest() != before
    listed = mock_drive.permissions("/Shared")
    groups = [p["grantedToV2"]["group"]["displayName"] for p in listed if "group" in
              p.get("grantedToV2", {})]  # fmt: skip
    assert groups == ["Finance Team", "Finance Team"]
    assert [p["invitation"]["email"] for p in listed if "grantedToV2" not in p] == [
        "guest2@outside.example"
    ]
    mock_drive.assert_can("bob@contoso.example", "write", "/Shared")  # a Finance Team member
    mock_drive.assert_can(dan, "read", "/Shared")


@pytest.mark.parametrize(
    ("who", "roles", "message"),
    [
        ("bob@contoso.example", ["editor"], "unknown role 'editor': roles are read, write, owner"),
        ("bob@contoso.example", "read", "roles must be a non-empty list of read, write, owner"),
        ("bob@contoso.example", [], "roles must be a non-empty list of read, write, owner"),
        ("not-an-email", ["read"], "cannot grant to 'not-an-email': give a directory user"),
        ("Marketing", ["read"], "a group (id or display name: 'Finance Team')"),
    ],
)
@pytest.mark.mock_drive(scenario=TEAM)
def test_grant_refuses_nonsense_at_the_call_and_changes_nothing(mock_drive, who, roles, message):
    before = mock_drive.digest()
    with pytest.raises(ValueError) as refused:
        mock_drive.grant("/Finance", who, roles)
    assert message in str(refused.value)
    assert mock_drive.digest() == before
    # and nothing broke later: Onehub and Graph still answer for the folder
    mock_drive.assert_can("bob@contoso.example", "write", "/Finance/Q3.xlsx")


@pytest.mark.mock_drive(scenario=TEAM)
def test_assert_can_names_the_allowed_actions(mock_drive):
    for check in (mock_drive.assert_can, mock_drive.assert_cannot):
        with pytest.raises(
            ValueError, match=r"unknown action 'edit': use one of read, write, owner"
        ):
            check("bob@contoso.example", "edit", "/Finance/Q3.xlsx")


MARKER_MISTAKES = [
    ('scenrio="team"', "got unknown argument(s) scenrio; known: scenario=, seed=, tls="),
    (
        '"team"',
        "takes keyword arguments only (scenario=, seed=, tls=, demo=, users=, items=, clock=)",
    ),
    ("users=3", "users= and items= only apply to demo=True"),
    ('scenario="team", demo=True', "give scenario= or demo=True, not both"),
    ('scenario="no-such-scenario"', "a shipped scenario named 'no-such-scenario' (one of:"),
]


def test_marker_mistakes_fail_at_set_up_naming_what_is_known(pytester):
    """Each mistake is an error at set-up (not a test quietly run on the default state)."""
    tests = "".join(
        f"""
@pytest.mark.mock_drive({marker})
def test_mistake_{number}(mock_drive):
    pass
"""
        for number, (marker, _message) in enumerate(MARKER_MISTAKES)
    )
    pytester.makepyfile("import pytest\n" + tests)
    result = pytester.runpytest_inprocess(*INNER, "-rE")
    result.assert_outcomes(errors=len(MARKER_MISTAKES))
    parts = re.split(r"_+ ERROR at setup of (test_mistake_\d+) _+", result.stdout.str())
    sections = dict(zip(parts[1::2], parts[2::2], strict=True))
    for number, (_marker, message) in enumerate(MARKER_MISTAKES):
        assert message in sections[f"test_mistake_{number}"], number


@pytest.mark.mock_drive(scenario="team")
def test_marker_and_load_take_a_shipped_scenario_by_name(mock_drive):
    mock_drive.assert_can("bob@contoso.example", "write", "/Finance/Q3.xlsx")
    mock_drive.load("quickstart")
    mock_drive.assert_can("bob@contoso.example", "read", "/Projects/Plan.docx")
    with pytest.raises(Exception, match="one of: partial-failure, quickstart, team, throttling"):
        mock_drive.load("no-such-scenario")


def test_marker_prefers_an_existing_file_over_a_shipped_name(pytester):
    pytester.makefile(
        ".yaml",
        team="""
        users: [{displayName: Local, email: local@x.example, token: local-token}]
        drives: [{owner: local@x.example, root: {}}]
        """,
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.mock_drive(scenario="team.yaml")
        def test_local_file(mock_drive):
            assert mock_drive.token == "local-token"

        @pytest.mark.mock_drive(scenario="team")
        def test_shipped_name(mock_drive):
            assert mock_drive.token == "ada-token"
        """
    )
    result = pytester.runpytest_inprocess(*INNER)
    result.assert_outcomes(passed=2)


@pytest.mark.mock_drive(scenario="team")
def test_a_fixture_asked_for_after_an_inner_run_follows_the_outer_tests_marker(pytester, request):
    pytester.makepyfile(
        "def test_inner(mock_drive):\n    assert mock_drive.token == 'owner-token'\n"
    )
    pytester.runpytest_inprocess(*INNER).assert_outcomes(passed=1)
    assert request.getfixturevalue("mock_drive").token == "ada-token"  # the team scenario's


def test_item_json_is_the_item_as_graph_renders_it_to_the_owner(projects):
    item = projects.item("/Projects/Plan.docx")
    rendered = projects.item_json("/Projects/Plan.docx")
    served = projects.session.get(f"/drives/{projects.drive.id}/items/{item.id}").json()
    assert rendered["id"] == item.id and rendered["name"] == "Plan.docx"
    for key in ("@odata.context", "@microsoft.graph.downloadUrl"):  # per response / per request
        served.pop(key, None)
        rendered.pop(key, None)
    assert rendered == served
