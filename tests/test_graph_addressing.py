"""Every drive and item addressing form resolves to the same thing over HTTP."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests
from conftest import assert_graph_error, raw

from mockdrive.api.graph.paths import decode_path, parse_graph_path
from mockdrive.model.errors import InvalidRequest


@pytest.fixture
def plan(projects):
    """The shared projects' /Projects/Plan.docx."""
    return projects.item("/Projects/Plan.docx")


def test_drive_forms_all_answer_with_the_callers_drive(mock_drive, graph):
    drive = mock_drive.drive
    owner = mock_drive.owner
    mock_drive.add_drive(owner, name="Team", also_default_for=("group-1", "site-1"))
    forms = [
        "/me/drive",
        "/drive",
        f"/drives/{drive.id}",
        f"/me/drives/{drive.id}",
        f"/users/{owner.id}/drive",
        f"/users/{owner.email}/drive",
        f"/users/{owner.id}/drives/{drive.id}",
        f"/users/{owner.email}/drives/{drive.id}",  # python-o365's form for a user's drive
    ]
    for form in forms:
        response = graph.get(form)
        assert response.status_code == 200, (form, response.text)
        assert response.json()["id"] == drive.id
        assert response.headers["Content-Type"].startswith("application/json")
    team = graph.get("/groups/group-1/drive").json()
    assert team["name"] == "Team"
    assert graph.get("/sites/site-1/drive").json()["id"] == team["id"]


def test_a_users_drive_by_id_is_one_the_user_owns(projects, graph):
    """``/users/{user}/drives/{id}/…`` (what python-o365 sends for a user's drive once it knows
    the id) addresses the drive and what is in it, as ``/drives/{id}/…`` does, when the drive is
    that user's; another user's drive, an unknown user or drive is not found there."""
    drive, owner = projects.drive, projects.owner
    bob = projects.user("bob@contoso.example")
    projects.add_drive(bob)
    base = f"/users/{owner.email}/drives/{drive.id}"
    assert graph.get(f"{base}/root:/Projects/Plan.docx").json()["id"] == (
        projects.item("/Projects/Plan.docx").id
    )
    made = graph.post(f"{base}/root/children", json={"name": "New", "folder": {}})
    assert made.status_code == 201, made.text
    assert projects.item("/New").id == made.json()["id"]
    for wrong in (
        f"/users/{bob.email}/drives/{drive.id}",  # a drive Bob does not own
        f"/users/nobody@contoso.example/drives/{drive.id}",
        f"/users/{owner.email}/drives/b!nope",
    ):
        assert_graph_error(graph.get(wrong + "/root/children"), 404, "itemNotFound")
        assert_graph_error(graph.post(wrong + "/root/children", json={"name": "X", "folder": {}}),
                           404, "itemNotFound")  # fmt: skip
    assert [c["name"] for c in graph.get("/me/drive/root/children").json()["value"]] == [
        "Projects",
        "New",
    ]


def test_drive_resource_shape(mock_drive, graph):
    body = graph.get("/me/drive").json()
    assert body["driveType"] == "business"
    assert body["owner"]["user"]["displayName"] == "Ada Owner"
    assert set(body["quota"]) == {"total", "used", "remaining", "deleted", "state"}
    assert None not in body.values()


def test_beta_is_an_alias_of_v1(mock_drive):
    import requests

    response = requests.get(mock_drive.url + "/beta/me/drive", headers=mock_drive.headers())
    assert response.json()["id"] == mock_drive.drive.id


@pytest.mark.parametrize(
    "form",
    [
        "/me/drive/items/{id}",
        "/drives/{drive}/items/{id}",
        "/drive/items/{id}",
        "/me/drive/root:/Projects/Plan.docx",
        "/me/drive/root:/Projects/Plan.docx:",
        "/me/drive/root:/Projects/Plan.docx:/",
        "/me/drive/root:/projects/PLAN.DOCX",  # names are case-insensitive
        "/me/drive/items/{folder}:/Plan.docx:",
        "/me/drive/items/{folder}:/Plan.docx",
        "/drives/{drive_enc}/items/{id}",  # b!x arrives as b%21x
        "/me/drive/items/root%3A%2FProjects%2FPlan.docx%3A",  # one encoded segment (msgraph-sdk)
        "/me/drive/items/{folder}%3A%2FPlan.docx%3A",
        "/me/drive/root:/Projects/Plan%2Edocx:",
    ],
)
def test_item_forms_address_the_same_item(mock_drive, graph, plan, form):
    folder = mock_drive.item("/Projects")
    drive = mock_drive.drive
    path = form.format(
        id=plan.id, folder=folder.id, drive=drive.id, drive_enc=quote(drive.id, safe="")
    )
    response = graph.get(path)
    assert response.status_code == 200, (path, response.text)
    body = response.json()
    assert body["id"] == plan.id
    assert body["name"] == "Plan.docx"
    assert body["file"]["mimeType"].endswith("wordprocessingml.document")
    assert body["parentReference"] == {
        "driveId": drive.id,
        "driveType": "business",
        "id": folder.id,
        "path": "/drive/root:/Projects",
    }


@pytest.mark.parametrize(
    "form",
    [
        "/me/drive/root",
        "/me/drive/items/root",
        "/me/drive/root:/:",
        "/me/drive/root:",
        "/drives/{drive}/root",
    ],
)
def test_root_forms(mock_drive, graph, form):
    body = graph.get(form.format(drive=mock_drive.drive.id)).json()
    assert body["root"] == {}
    assert body["folder"] == {"childCount": 0}
    assert "id" not in body["parentReference"]


def test_names_with_reserved_url_characters(mock_drive, graph):
    mock_drive.add_file("/Q3 plan+budget (v2) & co.txt", "x")
    encoded = quote("/Q3 plan+budget (v2) & co.txt")
    body = graph.get(f"/me/drive/root:{encoded}").json()
    assert body["name"] == "Q3 plan+budget (v2) & co.txt"


def test_relative_path_from_a_shared_folder(mock_drive, graph, plan):
    folder = mock_drive.item("/Projects")
    children = graph.get(f"/me/drive/items/{folder.id}:/:/children").json()["value"]
    assert [c["id"] for c in children] == [plan.id]


@pytest.mark.parametrize(
    "form, status, code",
    [
        ("/me/drive/items/NOPE", 404, "itemNotFound"),
        ("/me/drive/root:/Nope/Plan.docx", 404, "itemNotFound"),
        ("/drives/b!nope", 404, "itemNotFound"),
        ("/users/nobody@x/drive", 404, "itemNotFound"),
        ("/groups/nogroup/drive", 404, "itemNotFound"),
        ("/me/drive/root:/Projects/../Projects/Plan.docx", 400, "invalidRequest"),
        ("/me/drive/root:/Projects/%2e%2e/Plan.docx", 400, "invalidRequest"),
        # segments Graph does not have: its gateway's 400 BadRequest
        ("/me/drive/root/unknownSegment", 400, "BadRequest"),
        ("/me/drive/root:/Projects:/children/extra", 400, "BadRequest"),
        ("/me/unknownSegment", 400, "BadRequest"),
        ("/me/drive/special/nope", 400, "invalidRequest"),
        ("/me/drive/root:Projects", 400, "invalidRequest"),
        ("/me/drive/root:/a%ff", 400, "invalidRequest"),
        # Graph features mockdrive does not implement: 501, never 400/404/405
        ("/me/drive/items", 501, "notImplemented"),
        ("/me/calendar", 501, "notImplemented"),
        ("/me/drive/root/checkin", 501, "notImplemented"),
    ],
)
def test_bad_addresses(mock_drive, graph, plan, form, status, code):
    if "/../" not in form:  # requests would resolve the dot segment before sending
        assert_graph_error(graph.get(form), status, code)
    raw_status, body = raw(mock_drive, "GET", "/v1.0" + form, token=mock_drive.token)
    assert (raw_status, body["error"]["code"]) == (status, code)


def test_item_of_another_drive_is_not_found_through_this_drive(mock_drive, graph, plan):
    other = mock_drive.add_drive(mock_drive.owner, name="Other")
    assert_graph_error(graph.get(f"/drives/{other.id}/items/{plan.id}"), 404, "itemNotFound")


def test_unknown_routes_and_methods_get_the_envelope(mock_drive, graph):
    import requests

    for url in ["/", "/v2.0/me/drive", "/favicon.ico"]:
        response = requests.get(mock_drive.url + url)
        assert_graph_error(response, 404, "itemNotFound")
    assert_graph_error(graph.request("PATCH", "/me/drive"), 405, "notSupported")
    assert_graph_error(graph.request("PUT", "/me/drive/root/children"), 405, "notSupported")


def test_parser_keeps_encoded_slashes_inside_one_segment():
    parsed = parse_graph_path(decode_path("/drives/b%21x/items/root%3A%2Fa%2Fb%3A/invite"))
    assert (parsed.drive_kind, parsed.drive_key) == ("drives", "b!x")
    assert (parsed.item_base, parsed.item_path, parsed.action) == ("root", "/a/b", ("invite",))
    plain = parse_graph_path("/me/drive/root:/a b+c:/permissions/P1")
    assert (plain.item_path, plain.action) == ("/a b+c", ("permissions", "P1"))
    with pytest.raises(InvalidRequest):
        decode_path("/a%C3%28")


@pytest.mark.parametrize("path", ["/me/drive", "/drives/x/root/children", "/shares/s!x/driveItem"])
def test_a_graph_path_sent_without_its_version_says_where_the_version_goes(mock_drive, path):
    response = requests.get(mock_drive.url + path, headers=mock_drive.headers())
    error = assert_graph_error(response, 404, "itemNotFound")
    assert error["message"] == (
        f"no resource at {path!r}: Graph paths start with the version, as in '/v1.0{path}'"
    )


def test_a_path_that_is_no_graph_path_is_only_not_found(mock_drive):
    response = requests.get(mock_drive.url + "/nothing/here", headers=mock_drive.headers())
    error = assert_graph_error(response, 404, "itemNotFound")
    assert error["message"] == "no resource at '/nothing/here'"
