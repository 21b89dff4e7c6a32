"""The dashboard: its JSON routes over HTTP, and the page itself in a real headless Chromium."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from aiohttp.test_utils import make_mocked_request
from conftest import raw
from test_call_budget import counted

from mockdrive.api import dashboard
from mockdrive.api.app import build_app
from mockdrive.backend import Backend
from mockdrive.model.permissions import Permission
from mockdrive.model.state import State
from mockdrive.pytest_plugin import MockDriveFixture

ROOT = Path(__file__).parent.parent
SCREENSHOT_ENV = "MOCKDRIVE_SCREENSHOT"  # set to a path to save the README screenshot there


def admin(mock_drive: MockDriveFixture, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{mock_drive.url}/_mockdrive/dashboard/{path}", params=params)


def tree(mock_drive: MockDriveFixture, **params: Any) -> dict[str, Any]:
    response = admin(mock_drive, "tree", **params)
    assert response.status_code == 200, response.text
    return response.json()


def child(listing: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in listing["children"] if c["name"] == name)


def effective(listing: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """A child's effective permissions as the page completes them: its own, then (if it
    inherits) what the listing says every inheriting child gets from above."""
    node = child(listing, name)
    return node["permissions"] + (listing["inherited"] if node["inherits"] else [])


def invite(mock_drive: MockDriveFixture, path: str, email: str, role: str = "read"):
    return requests.post(
        f"{mock_drive.graph_url}/me/drive/root:{path}:/invite",
        headers=mock_drive.headers(),
        json={"recipients": [{"email": email}], "roles": [role], "sendInvitation": True},
    )


@pytest.fixture
def shared_folder(mock_drive: MockDriveFixture) -> MockDriveFixture:
    """Bob writes on /Folder (so on /Folder/Plan.docx); /Folder/Private stops inheriting."""
    bob = mock_drive.add_user("Bob Builder", "bob@contoso.example")
    mock_drive.add_user("Carol Jones", "carol@contoso.example")
    mock_drive.add_file("/Folder/Plan.docx", "draft")
    mock_drive.add_file("/Folder/Private/Secret.txt", "s")
    mock_drive.add_file("/Notes.txt", "n")
    mock_drive.grant("/Folder", bob, ["write"])
    mock_drive.stop_inheriting("/Folder/Private")
    return mock_drive


# -- the page and its files ---------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/_mockdrive/ui", "/_mockdrive/ui/"])
def test_page_is_served_at_root_and_ui(mock_drive, path):
    response = requests.get(mock_drive.url + path, headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "/_mockdrive/ui/dashboard.js" in response.text
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("name", "kind"), [("dashboard.js", "javascript"), ("dashboard.css", "css")]
)
def test_page_files_are_served(mock_drive, name, kind):
    response = requests.get(f"{mock_drive.url}/_mockdrive/ui/{name}")
    assert response.status_code == 200 and kind in response.headers["Content-Type"]


def test_page_loads_nothing_from_elsewhere_and_never_writes_html():
    static = ROOT / "mockdrive" / "static"
    for name in ("dashboard.html", "dashboard.js", "dashboard.css"):
        text = (static / name).read_text()
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text), name
        assert "@import" not in text
    script = (static / "dashboard.js").read_text()
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", script)


def test_root_without_accept_html_is_still_the_graph_404(mock_drive):
    response = requests.get(mock_drive.url + "/", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "itemNotFound"


def test_unknown_page_file_and_other_methods_answer_404(mock_drive):
    # requests would normalise ``..`` away: send the path byte for byte
    for escape in ("/_mockdrive/ui/../state", "/_mockdrive/ui/%2e%2e/state"):
        status, body = raw(mock_drive, "GET", escape)
        assert status == 404 and body["error"]["code"] == "itemNotFound", (escape, body)
    missing = requests.get(f"{mock_drive.url}/_mockdrive/ui/nope.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "itemNotFound"
    assert requests.post(mock_drive.url + "/").status_code == 404


# -- JSON: tree, access, journal ----------------------------------------------------------------
def test_tree_of_root_shows_each_childs_own_permissions(shared_folder):
    root = tree(shared_folder)
    assert root["item"]["path"] == "/" and root["total"] == 2
    assert [c["name"] for c in root["children"]] == ["Folder", "Notes.txt"]  # folders first
    folder = child(root, "Folder")
    assert folder["folder"] and folder["childCount"] == 2
    bob = next(
        p for p in effective(root, "Folder") if p["grantee"].get("email") == "bob@contoso.example"
    )
    assert bob["roles"] == ["write"] and bob["inherited"] is False
    owner = next(p for p in effective(root, "Folder") if p["role"] == "owner")
    assert owner["inheritedFrom"]["path"] == "/"


def test_tree_of_folder_shows_where_permissions_are_inherited_from(shared_folder):
    folder_id = shared_folder.item("/Folder").id
    listing = tree(shared_folder, item=folder_id)
    inherited = [
        p for p in effective(listing, "Plan.docx") if p["grantee"]["name"] == "Bob Builder"
    ]
    assert inherited and inherited[0]["inheritedFrom"] == {
        "id": folder_id,
        "path": "/Folder",
        "name": "Folder",
    }
    private = child(listing, "Private")
    assert private["inherits"] is False
    assert all(p["grantee"]["name"] != "Bob Builder" for p in effective(listing, "Private"))


def test_a_folder_page_costs_its_children_plus_its_grants_not_their_product(mock_drive):
    """Each child of a listing carried every permission it inherits, and the first view drew a
    chip for each: a root under 1,000 grants with 1,000 children answered 250 MB in 12 s (the
    loop blocked all along), the page 55 MB in 4 s for its first 200 children. What every child
    inherits is now listed once per folder (``inherited``), and a row draws a few of those
    chips; the details pane still lists them all."""
    grants, children = 300, 200

    def build() -> None:
        state = mock_drive.state
        root = state.store.root(mock_drive.drive)
        for n in range(grants):
            address = f"guest{n}@ext.example"
            root.permissions.append(Permission(id=f"P{n}", item_id=root.id, roles=["read"],
                                               invitation_email=address))  # fmt: skip
        state.store.drives[root.drive_id].shared_item_ids.add(root.id)
        for n in range(children):
            state.make_path(mock_drive.drive, f"/c{n:03}")

    mock_drive.server.call(build)
    listing = tree(mock_drive)
    assert listing["total"] == children and len(listing["children"]) == children
    entries = len(listing["item"]["permissions"]) + len(listing["inherited"])
    entries += sum(len(c["permissions"]) for c in listing["children"])
    assert entries <= 2 * (grants + 1) + children  # before: (grants + 1) * (children + 1)
    assert all(c["inherits"] and c["permissions"] == [] for c in listing["children"])
    inherited = listing["inherited"]
    assert len(inherited) == grants + 1  # the owner's and the guests'
    assert all(p["inherited"] and p["inheritedFrom"]["path"] == "/" for p in inherited)
    page_text = requests.get(f"{mock_drive.url}/_mockdrive/ui", timeout=30).text
    chips = page_text.count("data-permission=")
    assert chips <= grants + 1 + children * dashboard.INHERITED_CHIPS  # before: (grants + 1) * 201
    assert page_text.count(f"+{grants + 1 - dashboard.INHERITED_CHIPS} inherited") == children


def as_user_listing_calls(grants: int, children: int) -> int:
    """Python calls the server makes for one folder's listing ``as`` a user, in process (counted
    as tests/test_call_budget.py counts), with ``grants`` guests' grants on the folder."""
    state = State(seed=1)
    owner = state.add_user("Ada Owner", "ada@contoso.example")
    bob = state.add_user("Bob Builder", "bob@contoso.example")
    drive = state.add_drive(owner)
    folder = state.make_path(drive, "/Team")
    state.grant(folder, bob, ["read"])
    for n in range(grants):
        state.grant(folder, state.add_user(f"Guest {n}", f"guest{n}@ext.example"), ["read"])
    for n in range(children):
        state.make_path(drive, f"/Team/c{n:03}", is_folder=False, content=b"x")
    state.clock.pin()
    app = build_app(Backend(state))
    app.freeze()
    path = f"/_mockdrive/dashboard/tree?item={folder.id}&limit={children}&as=bob@contoso.example"

    async def run() -> int:
        await counted(app, make_mocked_request("GET", path, app=app))  # the warm-up
        return sum((await counted(app, make_mocked_request("GET", path, app=app))).values())

    return asyncio.run(run())


def test_a_folder_listing_as_a_user_costs_its_children_plus_its_grants_not_their_product():
    """With ``as``, each child's access was asked over every grant it inherits: a folder under
    1,000 grants with 1,000 children took 1.1 s with the loop blocked. The grants above that
    cannot bear on the user are now set aside once per listing. Counted, not timed: 200 more
    grants on a folder of 100 children cost a few calls per grant, not one per grant and child."""
    children = 100
    extra = as_user_listing_calls(210, children) - as_user_listing_calls(10, children)
    assert extra <= 40 * 200, extra  # before: ~140 calls a grant (20,000 for its children)


@pytest.mark.parametrize("who", ["bob@contoso.example", "carol@contoso.example"])
def test_a_childs_access_in_a_listing_is_its_access_asked_alone(shared_folder, who):
    """What a listing ``as`` a user says of each child (its grants sorted out once per folder)
    is what the child's own listing says: over grants held directly, pending invitations, links
    of two scopes, guests' grants that bear on nobody listed, and a child that stops inheriting."""
    session = shared_folder.session
    for path, body in [
        ("/Folder", {"type": "view", "scope": "anonymous"}),
        ("/Folder/Plan.docx", {"type": "edit", "scope": "organization"}),
    ]:
        made = session.post(f"/me/drive/root:{path}:/createLink", json=body)
        assert made.status_code == 201, made.text
    invited = session.post("/me/drive/root:/Folder/Private:/invite", json={
        "recipients": [{"email": "carol@contoso.example"}], "roles": ["read"],
        "requireSignIn": True, "sendInvitation": False})  # fmt: skip
    assert invited.status_code == 200, invited.text
    for n in range(30):
        shared_folder.grant("/Folder", f"guest{n}@ext.example", ["read"])
    for folder in ("/", "/Folder"):
        listing = tree(shared_folder, item=shared_folder.item(folder).id, **{"as": who})
        assert listing["children"]
        for row in listing["children"]:
            alone = tree(shared_folder, item=row["id"], **{"as": who})["item"]["access"]
            assert row["access"] == alone, (folder, row["name"])


def test_tree_as_a_user_gives_their_roles_and_why(shared_folder):
    folder_id = shared_folder.item("/Folder").id
    listing = tree(shared_folder, item=folder_id, **{"as": "bob@contoso.example"})
    plan = child(listing, "Plan.docx")["access"]
    assert plan["highest"] == "write" and "invite others" in plan["abilities"]
    assert "inherited from /Folder" in plan["grants"][0]
    private = child(listing, "Private")["access"]
    assert private["roles"] == [] and private["stopsAt"] == "/Folder/Private"


def test_tree_is_one_folder_at_a_time_and_paged(mock_drive):
    for n in range(30):
        mock_drive.add_file(f"/Big/f{n:02}.txt", "x")
    big = mock_drive.item("/Big").id
    listing = tree(mock_drive, item=big, limit=10)
    assert listing["total"] == 30 and listing["limit"] == 10
    assert [c["name"] for c in listing["children"]] == [f"f{n:02}.txt" for n in range(10)]


@pytest.mark.parametrize(
    ("path", "params"),
    [("tree", {"limit": "0"}), ("tree", {"limit": "5001"}), ("tree", {"limit": "\u0661\u0660"}),
     ("journal", {"after": "-1"}), ("journal", {"after": "9" * 40})],
)  # fmt: skip
def test_numbers_past_their_range_are_refused_not_clamped(mock_drive, path, params):
    response = admin(mock_drive, path, **params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalidRequest"


def test_access_lists_where_a_user_holds_roles_and_where_inheritance_stops(shared_folder):
    response = admin(shared_folder, "access", user="bob@contoso.example")
    assert response.status_code == 200
    data = response.json()
    assert data["user"]["email"] == "bob@contoso.example"
    [entry] = data["entries"]
    assert entry["path"] == "/Folder" and entry["access"]["roles"] == ["write"]
    assert entry["exceptions"] == ["/Folder/Private"]
    owner = admin(shared_folder, "access", user=shared_folder.owner.email).json()
    assert [e["path"] for e in owner["entries"]] == ["/"]
    assert owner["entries"][0]["access"]["highest"] == "owner"


def test_overview_names_drives_users_and_a_state_that_changes_on_reset(shared_folder):
    first = admin(shared_folder, "overview").json()
    assert [d["driveType"] for d in first["drives"]] == ["business"]
    assert {u["email"] for u in first["users"]} >= {"bob@contoso.example", "carol@contoso.example"}
    assert first["itemCount"] == 6
    assert requests.post(f"{shared_folder.url}/_mockdrive/reset").status_code == 204
    assert admin(shared_folder, "overview").json()["stateId"] != first["stateId"]


def test_journal_since_an_id_and_fired_faults(shared_folder):
    shared_folder.faults.add(effect="error", status=503, path="children$")
    requests.get(
        f"{shared_folder.graph_url}/me/drive/root/children", headers=shared_folder.headers()
    )
    requests.get(f"{shared_folder.graph_url}/me/drive", headers=shared_folder.headers())
    journal = admin(shared_folder, "journal").json()
    assert [e["status"] for e in journal["value"]] == [503, 200]
    assert journal["value"][0]["faults"][0]["effect"] == "error"
    later = admin(shared_folder, "journal", after=journal["lastId"]).json()
    assert later["value"] == [] and later["lastId"] == journal["lastId"]


def test_onehub_roles_show_on_workspace_permissions(mock_drive):
    hub = requests.Session()
    hub.headers.update(mock_drive.headers())
    created = hub.post(mock_drive.url + "/workspaces", json={"workspace": {"name": "Portal"}})
    number = created.json()["workspace"]["id"]
    invited = hub.post(
        f"{mock_drive.url}/workspaces/{number}/invitations",
        json={"invitation": {"emails": "pat@partner.example", "role_name": "Collaborator"}},
    )
    assert invited.status_code == 201, invited.text
    drive = next(d for d in admin(mock_drive, "overview").json()["drives"] if d["name"] == "Portal")
    assert drive["onehubWorkspace"] is True
    root = tree(mock_drive, item=drive["rootId"])["item"]
    pat = next(p for p in root["permissions"] if p["grantee"].get("email") == "pat@partner.example")
    assert pat["nativeRole"] == "Collaborator" and pat["roles"] == ["write"] and pat["pending"]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("tree", {"item": "nope"}, 404),
        ("tree", {"item": "<script>"}, 404),
        ("tree", {"limit": "ten"}, 400),
        ("tree", {"as": "nobody@x.example"}, 404),
        ("access", {}, 400),
        ("access", {"user": "nobody@x.example"}, 404),
        ("journal", {"after": "x"}, 400),
    ],
)
def test_bad_queries_get_an_error_envelope_not_a_500(mock_drive, path, params, status):
    response = admin(mock_drive, path, **params)
    assert response.status_code == status
    assert response.json()["error"]["message"]


# -- in a real browser --------------------------------------------------------------------------
@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.set_default_timeout(10_000)
    yield opened
    context.close()
    assert not errors, errors


def node(page: Any, path: str) -> Any:
    return page.locator(f'li.node[data-path="{path}"]').first


POLL_MS = 1000  # dashboard.js polls the admin API this often


def next_poll(page: Any) -> None:
    """Brings the page's next poll forward to now, instead of waiting up to a second for it.
    The page's clock must be installed (``page.clock.install()``) before it loads; its time
    still flows as it would, this only jumps it ahead, so the poll runs as it would have."""
    page.clock.fast_forward(POLL_MS)


def browser_processes() -> list[int]:
    """The Chromium browser processes (not their renderers) this test process started."""
    parents: dict[int, list[tuple[int, bytes]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # a process that has ended
        parent = int(status.split("PPid:", 1)[1].split()[0])
        parents.setdefault(parent, []).append((int(entry.name), command))
    found, pending = [], [os.getpid()]
    while pending:
        for pid, command in parents.get(pending.pop(), []):
            pending.append(pid)
            if b"--remote-debugging-pipe" in command and b"--type=" not in command:
                found.append(pid)
    return found


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="finds Chromium in /proc")
def test_a_crash_of_the_workers_chromium_costs_only_the_test_it_happened_in(
    chromium_session, browser, mock_drive
):
    """The browser tests of a worker share one Chromium: after it crashed, the next browser
    test gets one launched anew, not a browser that is gone."""
    chromium, _ = chromium_session
    (crashed,) = browser_processes()
    os.kill(crashed, signal.SIGKILL)
    relaunched = chromium.get()  # what the browser fixture hands the next test
    assert relaunched is not browser and relaunched.is_connected()
    context = relaunched.new_context()
    try:
        opened = context.new_page()
        opened.goto(mock_drive.url + "/_mockdrive/ui")
        assert opened.title()
    finally:
        context.close()


def test_browser_shows_inherited_permissions_and_an_invite_without_reloading(shared_folder, page):
    from playwright.sync_api import expect

    tricky = shared_folder.add_user("<img src=x onerror=window.pwned=1>Eve", "eve@contoso.example")
    shared_folder.grant("/Folder", tricky, ["read"])
    page.clock.install()
    page.goto(shared_folder.url + "/")
    folder = node(page, "/Folder")
    expect(folder.locator(":scope > .row .perm", has_text="Bob Builder · write")).to_be_visible()
    folder.locator(":scope > .row .toggle").click()
    plan = node(page, "/Folder/Plan.docx").locator(".perm", has_text="Bob Builder")
    expect(plan).to_contain_text("inherited from /Folder")
    expect(node(page, "/Folder/Plan.docx")).to_contain_text("<img src=x onerror=window.pwned=1>Eve")
    page.evaluate("window.notReloaded = true")

    response = invite(shared_folder, "/Folder", "carol@contoso.example")
    assert response.status_code == 200, response.text
    next_poll(page)

    carol = node(page, "/Folder/Plan.docx").locator(".perm", has_text="Carol Jones · read")
    expect(carol).to_contain_text("inherited from /Folder")
    expect(page.locator("#outbox tbody tr", has_text="carol@contoso.example")).to_have_count(1)
    expect(page.locator("#journal tbody tr", has_text="/invite")).to_contain_text("200")
    assert page.evaluate("window.notReloaded") is True
    assert page.evaluate("window.pwned") is None
    assert page.locator("#tree img").count() == 0


def test_browser_user_view_faults_and_reset(shared_folder, page):
    from playwright.sync_api import expect

    page.clock.install()
    page.goto(shared_folder.url + "/_mockdrive/ui")
    page.select_option("#as-user", "bob@contoso.example")
    entry = page.locator("#user-access li", has_text="/Folder")
    expect(entry).to_contain_text("write")
    expect(entry).to_contain_text("except below: /Folder/Private")
    expect(node(page, "/Folder").locator(":scope > .row .as")).to_have_text("bob: write")

    page.locator("#fault-add summary").click()
    page.select_option("#fault-form select[name=effect]", "error")
    page.fill("#fault-form input[name=status]", "503")
    page.fill("#fault-form input[name=path]", "children$")
    page.click("#fault-form button[type=submit]")
    expect(page.locator("#faults li")).to_have_count(1)
    assert [rule["status"] for rule in shared_folder.faults] == [503]

    url = f"{shared_folder.graph_url}/me/drive/root/children"
    assert requests.get(url, headers=shared_folder.headers()).status_code == 503
    next_poll(page)
    failed = page.locator("#journal tbody tr.status-5")
    expect(failed).to_contain_text("rule-1 error")
    page.select_option("#journal-status", "2")
    expect(page.locator("#journal tbody tr.status-5")).to_have_count(0)

    page.locator("#faults li button", has_text="Remove").click()
    expect(page.locator("#faults li")).to_have_count(0)
    assert list(shared_folder.faults) == []

    invite(shared_folder, "/Notes.txt", "carol@contoso.example")
    next_poll(page)
    expect(page.locator("#outbox tbody tr")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#reset")
    expect(page.locator("#outbox tbody tr")).to_have_count(0)
    expect(node(page, "/Folder")).to_have_count(0)


def test_browser_renders_a_team_with_a_onehub_workspace(mock_drive, page, tmp_path):
    """The README screenshot: ``MOCKDRIVE_SCREENSHOT=docs/dashboard.png pytest -k team``."""
    from playwright.sync_api import expect

    mock_drive.load(ROOT / "fixtures" / "team.yaml")
    ada = {"Authorization": "Bearer ada-token"}
    hub = mock_drive.url
    number = requests.post(
        hub + "/workspaces", headers=ada, json={"workspace": {"name": "Client Portal"}}
    ).json()["workspace"]["id"]
    requests.post(
        f"{hub}/workspaces/{number}/invitations",
        headers=ada,
        json={"invitation": {"emails": "pat@partner.example", "role_name": "Collaborator"}},
    )
    requests.post(
        f"{mock_drive.graph_url}/me/drive/root:/Finance:/invite",
        headers=ada,
        json={"recipients": [{"email": "dan@contoso.example"}], "roles": ["read"]},
    )
    mock_drive.faults.add(effect="throttle", retryAfter=2, path="/children$")
    requests.get(f"{mock_drive.graph_url}/me/drive/root/children", headers=ada)
    requests.get(f"{mock_drive.graph_url}/me/drive/root/children", headers=ada)
    requests.get(f"{mock_drive.graph_url}/me/drive/root:/Nope.txt", headers=ada)

    page.goto(mock_drive.url + "/")
    expect(page.locator(".badge.onehub", has_text="Onehub workspace")).to_be_visible()
    node(page, "/Finance").locator(":scope > .row .toggle").first.click()
    expect(node(page, "/Finance/Payroll")).to_contain_text("stops inheriting")
    page.select_option("#as-user", "bob@contoso.example")
    expect(page.locator("#user-access li").first).to_contain_text("Finance")
    node(page, "/Finance/Q3.xlsx").locator(":scope > .row").click()
    expect(page.locator("#details")).to_contain_text("inherited from /Finance")
    workspace_root = page.locator(".drive-row", has_text="Client Portal")
    expect(workspace_root).to_contain_text("Collaborator")
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    target = os.environ.get(SCREENSHOT_ENV)
    if target:
        shutil.copyfile(shot, ROOT / target)


# -- the browser tests never skip silently in CI ------------------------------------------------
@pytest.mark.parametrize(("ci", "outcome"), [("true", "1 error"), ("", "1 skipped")])
def test_a_missing_chromium_fails_in_ci_and_skips_visibly_elsewhere(
    pytester, monkeypatch, tmp_path, ci, outcome
):
    """With CI=true a missing browser is an error, never a skip; elsewhere the skip says why."""
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("MOCKDRIVE_CHROMIUM", str(tmp_path / "no-chromium"))
    result = pytester.runpytest_inprocess(
        "-p", "no:xdist", "-p", "no:cacheprovider", "-rs", "-q",
        f"{__file__}::test_browser_user_view_faults_and_reset",
    )  # fmt: skip
    stdout = result.stdout.str()
    assert outcome in stdout, stdout[-3000:]
    assert "no-chromium is missing: sudo apt-get install chromium" in stdout
    assert (result.ret == 0) == (outcome == "1 skipped")


def test_browser_summary_counts_one_of_a_kind_in_the_singular(mock_drive, page):
    from playwright.sync_api import expect

    mock_drive.add_file("/Notes.txt", "n")
    mock_drive.add_group("Readers", [mock_drive.owner])
    link = requests.post(
        f"{mock_drive.graph_url}/me/drive/root:/Notes.txt:/createLink",
        headers=mock_drive.headers(),
        json={"type": "view", "scope": "anonymous"},
    )
    assert link.status_code in (200, 201), link.text
    assert invite(mock_drive, "/Notes.txt", "guest@partner.example").status_code == 200
    page.goto(mock_drive.url + "/")
    summary = page.locator("#summary")
    expect(summary).to_contain_text("1 drive · ")
    expect(summary).to_contain_text(" · 1 group · 1 e-mail · 0 fault rules · 1 link")
    assert summary.inner_text().endswith("· 1 link")


def test_browser_draws_a_few_inherited_chips_a_row_and_lists_them_all_in_the_details(
    mock_drive, page
):
    """The script completes each child from the listing's ``inherited`` and draws what the
    server's first view drew: the first few inherited chips, then how many more."""
    from playwright.sync_api import expect

    shown = dashboard.INHERITED_CHIPS
    guests = [mock_drive.add_user(f"Guest {n}", f"guest{n}@contoso.example") for n in range(15)]
    mock_drive.add_file("/Folder/Plan.docx", "p")
    for guest in guests:
        mock_drive.grant("/Folder", guest, ["read"])
    page.clock.install()
    page.goto(mock_drive.url + "/_mockdrive/ui")
    folder = node(page, "/Folder")
    folder.locator(":scope > .row .toggle").click()
    plan = node(page, "/Folder/Plan.docx").locator(":scope > .row")
    expect(plan.locator(".perm.more")).to_have_text(f"+{16 - shown} inherited")  # and the owner
    expect(plan.locator(".perm[data-permission]")).to_have_count(shown)
    plan.click()
    expect(page.locator("#details tbody tr")).to_have_count(16)
