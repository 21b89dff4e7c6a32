"""Every number from outside has a range: past it the answer is a 400 in the dialect's envelope
and nothing changes; NaN, infinities and non-ASCII digits are never numbers. Each test here is
a case that once answered 500 or was taken as a number."""

from __future__ import annotations

import base64
import http.client
import json
from datetime import datetime, timezone

import pytest
import requests
from conftest import as_user, assert_graph_error
from yarl import URL

HUGE = str(2**63 + 5)  # past every C integer: islice() and timedelta() refuse it
# digits of other scripts, which int() and \d take: ARABIC-INDIC, FULLWIDTH, EXTENDED
# ARABIC-INDIC and MATHEMATICAL BOLD DIGIT ONE
ARABIC, FULLWIDTH, PERSIAN, BOLD = "\u0661", "\uff11", "\u06f1", "\U0001d7cf"


@pytest.fixture
def arranged(projects):
    """The shared projects, plus a second file in /Projects."""
    projects.add_file("/Projects/Notes.txt", "notes")
    return projects


def admin(mock_drive, method, path, **kwargs):
    return requests.request(method, mock_drive.url + "/_mockdrive" + path, timeout=30, **kwargs)


def shared_folder_children(graph) -> str:
    link = graph.post("/me/drive/root:/Projects:/createLink", json={"type": "view"})
    assert link.status_code == 201, link.text
    return f"/shares/{link.json()['shareId']}/root/children"


@pytest.mark.parametrize("token", [HUGE, "1" * 40, "-1", ARABIC, " 1", "+1", "1_0", "1e3"])
@pytest.mark.parametrize(
    "listing",
    [
        "/me/drive/root/children",
        "/me/drive/root/search(q='o')",
        "/me/drive/root/delta",
        "/me/drive/root:/Projects:/children",
        "shared",
    ],
)
def test_a_skiptoken_past_its_range_is_a_400(arranged, graph, listing, token):
    path = shared_folder_children(graph) if listing == "shared" else listing
    before = arranged.digest()
    response = graph.get(path, params={"$skiptoken": token})
    assert_graph_error(response, 400, "invalidRequest")
    assert arranged.digest() == before


@pytest.mark.parametrize("offset", [HUGE, "-1", ARABIC, "", " 1", "1e3"])
def test_a_delta_walks_skiptoken_with_its_offset_past_its_range_is_a_400(arranged, graph, offset):
    """A first delta round's ``$skiptoken`` is a token of the state, a dot and the offset: the
    offset has the range of every other listing's."""
    link = URL(graph.get("/me/drive/root/delta", params={"$top": "1"}).json()["@odata.nextLink"])
    token = link.query["$skiptoken"].rpartition(".")[0]
    before = arranged.digest()
    response = graph.get(
        "/me/drive/root/delta", params={"$top": "1", "$skiptoken": f"{token}.{offset}"}
    )
    assert_graph_error(response, 400, "invalidRequest")
    assert arranged.digest() == before


@pytest.mark.parametrize("token", ["o:" + HUGE, "o:-1", "o:" + ARABIC])
def test_an_ordered_listings_offset_token_past_its_range_is_a_400(arranged, graph, token):
    response = graph.get(
        "/me/drive/root:/Projects:/children", params={"$orderby": "size", "$skiptoken": token}
    )
    assert_graph_error(response, 400, "invalidRequest")


@pytest.mark.parametrize("top", [HUGE, ARABIC, "0", "-1", "1_0", "NaN"])
def test_top_past_its_range_is_a_400(arranged, graph, top):
    assert_graph_error(graph.get("/me/drive/root/children", params={"$top": top}), 400,
                       "invalidRequest")  # fmt: skip


@pytest.mark.parametrize(
    "raw",
    [
        b'{"days": NaN}',
        b'{"seconds": Infinity}',
        b'{"hours": -Infinity}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"days":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"days": 1e400}',
    ],
    ids=["NaN", "Infinity", "-Infinity", "deep array", "deep object", "1e400"],
)
def test_a_clock_move_that_is_not_a_finite_number_is_a_400(arranged, raw):
    before = arranged.digest()
    clock = arranged.clock.now()
    response = admin(arranged, "POST", "/clock", data=raw,
                     headers={"Content-Type": "application/json"})  # fmt: skip
    assert_graph_error(response, 400, "invalidRequest")
    assert arranged.clock.now() == clock
    assert arranged.digest() == before


@pytest.mark.parametrize("raw", [b'{"maxRecipients": NaN}', b"[" * 100_000 + b"]" * 100_000])
def test_policy_and_fault_bodies_refuse_nan_and_deep_json(arranged, raw):
    for path, method in (("/policy", "PUT"), ("/faults", "POST")):
        response = admin(arranged, method, path, data=raw,
                         headers={"Content-Type": "application/json"})  # fmt: skip
        assert_graph_error(response, 400, "invalidRequest")
    assert admin(arranged, "GET", "/faults").json() == {"value": []}


@pytest.mark.parametrize("value", [10**30, 2**63, 36501])
def test_anonymous_link_max_days_has_a_range_and_links_keep_working(arranged, graph, value):
    before = admin(arranged, "GET", "/policy").json()
    response = admin(arranged, "PUT", "/policy", json={"anonymousLinkMaxDays": value})
    assert_graph_error(response, 400, "invalidRequest")
    assert admin(arranged, "GET", "/policy").json() == before
    created = graph.post("/me/drive/root:/Projects:/createLink",
                         json={"type": "view", "scope": "anonymous"})  # fmt: skip
    assert created.status_code == 201, created.text


def test_the_largest_anonymous_link_max_days_still_creates_links(arranged, graph):
    arranged.clock.advance(days=100 * 366)  # further on, years of clock still remain
    assert admin(arranged, "PUT", "/policy", json={"anonymousLinkMaxDays": 36500}).ok
    created = graph.post("/me/drive/root:/Projects:/createLink",
                         json={"type": "view", "scope": "anonymous"})  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["expirationDateTime"] > "2124-"


@pytest.mark.parametrize("value", [10**30, 2**63, 10 * 366 * 86400 + 1])
def test_shared_with_me_delay_has_a_range_and_shared_with_me_keeps_working(arranged, graph, value):
    response = admin(arranged, "PUT", "/policy", json={"sharedWithMeDelaySeconds": value})
    assert_graph_error(response, 400, "invalidRequest")
    listed = as_user(graph, "bob-token").get("/me/drive/sharedWithMe")
    assert listed.status_code == 200, listed.text


def test_the_largest_shared_with_me_delay_still_lists(arranged, graph):
    assert admin(arranged, "PUT", "/policy",
                 json={"sharedWithMeDelaySeconds": 10 * 366 * 86400}).ok  # fmt: skip
    listed = as_user(graph, "bob-token").get("/me/drive/sharedWithMe")
    assert listed.status_code == 200, listed.text


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "http://a:b/v1.0/me",
        "http://graph.example:65536/v1.0/me",
        "http://graph.example:99999999999999999999/v1.0/me",
        "https://[zz]/v1.0/me",
    ],
)
def test_a_batch_step_with_a_malformed_absolute_url_is_a_400(arranged, graph, url):
    before = arranged.digest()
    response = graph.post("/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": url},
        {"id": "2", "method": "POST", "url": "/me/drive/root/children",
         "body": {"name": "Made", "folder": {}}, "headers": {"Content-Type": "application/json"}},
    ]})  # fmt: skip
    assert_graph_error(response, 400, "invalidRequest")
    assert arranged.digest() == before


def reload(mock_drive) -> requests.Response:
    exported = admin(mock_drive, "GET", "/state").json()
    return admin(mock_drive, "PUT", "/state", json=exported)


def test_writes_at_the_end_of_the_clock_leave_an_export_that_loads(arranged, graph):
    # move the clock as far as a caller may: the last seconds of the year it may reach
    now = datetime.fromisoformat(admin(arranged, "GET", "/clock").json()["now"])
    left = int((datetime(9000, 12, 31, 23, 59, 55, tzinfo=timezone.utc) - now).total_seconds())
    while left:
        step = min(left, 36_600 * 86_400)
        assert admin(arranged, "POST", "/clock", json={"seconds": step}).ok
        left -= step
    assert_graph_error(admin(arranged, "POST", "/clock", json={"seconds": 10}), 400,
                       "invalidRequest")  # fmt: skip
    for index in range(20):  # every write reads the clock: it passes the settable range
        made = graph.post("/me/drive/root/children", json={"name": f"F{index}", "folder": {}})
        assert made.status_code == 201, made.text
    invited = graph.post("/me/drive/root:/Projects:/invite", json={
        "recipients": [{"email": "guest@fabrikam.example"}], "roles": ["read"]})  # fmt: skip
    assert invited.status_code == 200, invited.text
    assert admin(arranged, "PUT", "/policy", json={"anonymousLinkMaxDays": 36500}).ok
    link = graph.post("/me/drive/root:/Projects:/createLink", json={"type": "view"})
    assert link.status_code == 201, link.text
    assert link.json()["expirationDateTime"] > "9100-"  # a century after the clock
    assert admin(arranged, "GET", "/clock").json()["now"] > "9001-"
    loaded = reload(arranged)
    assert loaded.status_code == 200, loaded.text
    assert admin(arranged, "GET", "/clock").json()["now"] > "9001-"


def test_a_clock_move_past_its_range_is_refused_and_changes_nothing(arranged):
    before = arranged.digest()
    response = admin(arranged, "POST", "/clock", json={"days": 100 * 366})
    assert response.ok
    while response.ok:
        response = admin(arranged, "POST", "/clock", json={"days": 100 * 366})
    assert_graph_error(response, 400, "invalidRequest")
    moved = arranged.digest()
    assert moved != before
    assert_graph_error(admin(arranged, "POST", "/clock", json={"days": 100 * 366}), 400,
                       "invalidRequest")  # fmt: skip
    assert arranged.digest() == moved


@pytest.mark.parametrize("digits", [ARABIC, FULLWIDTH, PERSIAN, BOLD, "1" + ARABIC])
def test_onehub_ids_are_ascii_digits(arranged, digits):
    headers = {"Authorization": f"Bearer {arranged.token}", "Accept": "application/json"}
    folder = arranged.onehub_id("/Projects")
    real = requests.get(f"{arranged.url}/folders/{folder}", headers=headers, timeout=10)
    assert real.status_code == 200
    for kind in ("folders", "files", "workspaces"):
        response = requests.get(f"{arranged.url}/{kind}/{digits}", headers=headers, timeout=10)
        assert response.status_code == 404, response.text
        assert response.json()["errors"]["base"]


@pytest.mark.parametrize("offset", [HUGE, ARABIC, "-1", "1_0", " 1"])
def test_onehub_offsets_have_a_range(arranged, offset):
    headers = {"Authorization": f"Bearer {arranged.token}", "Accept": "application/json"}
    response = requests.get(f"{arranged.url}/workspaces", params={"offset": offset},
                            headers=headers, timeout=10)  # fmt: skip
    assert response.status_code == 400, response.text
    assert response.json()["errors"]["base"]


@pytest.mark.parametrize("header", ["bytes=" + "9" * 5000 + "-", "bytes=-" + "9" * 5000])
def test_a_range_header_with_a_huge_number_is_ignored(arranged, graph, header):
    response = graph.get("/me/drive/root:/Projects/Plan.docx:/content", headers={"Range": header})
    assert response.status_code == 200, response.text
    assert response.content == b"plan"


@pytest.mark.parametrize("top", ["\u00b2", ARABIC, "0", HUGE])
def test_top_inside_expand_has_a_range(arranged, graph, top):
    response = graph.get("/me/drive/root", params={"$expand": f"children($top={top})"})
    assert_graph_error(response, 400, "invalidRequest")


def test_a_content_range_in_other_digits_is_a_400(arranged, graph):
    session = graph.post("/me/drive/root:/Up.bin:/createUploadSession", json={})
    url = URL(session.json()["uploadUrl"])
    before = arranged.digest()
    connection = http.client.HTTPConnection(url.host, url.port)
    try:
        connection.putrequest("PUT", url.raw_path_qs, skip_accept_encoding=True)
        digits = f"bytes 0-1/{ARABIC}{ARABIC}".encode()
        connection.putheader("Content-Range", digits)
        connection.putheader("Content-Length", "2")
        connection.endheaders(b"ab")
        response = connection.getresponse()
        status, body = response.status, json.loads(response.read())
    finally:
        connection.close()
    assert status == 400, body
    assert body["error"]["code"] == "invalidRequest"
    assert arranged.digest() == before


@pytest.mark.parametrize("issued", ["9" * 19, "999999999999", "-99999999999", ARABIC, "1e3"])
def test_a_delta_token_with_numbers_past_their_range_is_a_400(arranged, graph, issued):
    latest = graph.get("/me/drive/root/delta", params={"token": "latest"}).json()
    token = latest["@odata.deltaLink"].rpartition("token=")[2]
    generation, serial, _ = base64.urlsafe_b64decode(token + "==").decode().split(".")
    forged = f"{generation}.{serial}.{issued}".encode()
    before = arranged.digest()
    response = graph.get("/me/drive/root/delta",
                         params={"token": base64.urlsafe_b64encode(forged).decode()})  # fmt: skip
    assert_graph_error(response, 400, "invalidRequest")
    assert arranged.digest() == before


def test_a_delta_token_issued_before_1970_still_works(mock_drive, graph):
    mock_drive.load({"clock": "1950-06-01T00:00:00Z",
                     "users": [{"displayName": "Ada", "email": "ada@contoso.example",
                                "token": "ada-token"}],
                     "drives": [{"owner": "ada@contoso.example"}]})  # fmt: skip
    ada = as_user(graph, "ada-token")
    latest = ada.get("/me/drive/root/delta", params={"token": "latest"})
    assert latest.status_code == 200, latest.text
    follow = ada.get(latest.json()["@odata.deltaLink"].split("/v1.0", 1)[1])
    assert follow.status_code == 200, follow.text


def test_a_policy_with_blocked_domains_null_is_a_400(arranged):
    before = admin(arranged, "GET", "/policy").json()
    response = admin(arranged, "PUT", "/policy", json={"blockedDomains": None})
    assert_graph_error(response, 400, "invalidRequest")
    assert admin(arranged, "GET", "/policy").json() == before


def test_the_documented_ranges_are_the_enforced_ones():
    from pathlib import Path

    from mockdrive.api.admin_clock import MAX_STEP_DAYS
    from mockdrive.api.graph.items import MAX_PAGE_SIZE
    from mockdrive.api.graph.odata import INLINE_CHILDREN
    from mockdrive.api.graph.preview import LARGEST_PAGE, MAX_PAGE_NAME, MAX_ZOOM
    from mockdrive.cli import DEMO_MOST_ITEMS, DEMO_MOST_USERS
    from mockdrive.model import clock, entra, faults, ids, policy, ranges

    page = (Path(__file__).parent.parent / "docs" / "number-ranges.md").read_text()
    for number in (MAX_PAGE_SIZE, ranges.LARGEST_OFFSET, INLINE_CHILDREN, MAX_STEP_DAYS,
                   policy.MAX_RECIPIENTS_LIMIT, policy.MAX_LINK_DAYS,
                   policy.MAX_SHARED_WITH_ME_DELAY, faults.LIMITS["retryAfter"][1],
                   faults.LIMITS["latencyMs"][1], clock.CLOCK_LAST_YEAR,
                   clock.LOADED_CLOCK_LAST_YEAR, clock.LAST_YEAR, MAX_ZOOM, LARGEST_PAGE,
                   MAX_PAGE_NAME, entra.MAX_PENDING, entra.MAX_KEPT_CHARS, entra.MAX_SCOPES,
                   entra.MAX_CLIENT_ID, ids.MAX_COUNT, DEMO_MOST_USERS,
                   DEMO_MOST_ITEMS):  # fmt: skip
        forms = (f"{number:,}", f"**{number}**", f"\u2013 {number} ")  # as the table writes them
        assert any(form in page for form in forms), number
