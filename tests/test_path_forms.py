"""Every Graph route answers every path form a client sends as it answers the plain form: an
empty segment (``/v1.0//shares/…``), ``.`` segments, a leading ``./`` inside ``root:/…:``, an
encoded ``/`` inside a path, and percent-encoding in every id position. ``..`` stays refused.

Requests go byte for byte through http.client: requests would normalise ``.`` segments away."""

from __future__ import annotations

import http.client
import json
import re
from typing import Any
from urllib.parse import quote

import pytest
import requests

from mockdrive.api.graph.paths import normalize_path
from mockdrive.api.graph.routes import ITEM_OPERATIONS

# what differs between any two requests: the answer's own request id and date, and the token
# of a deltaLink (a new one for every delta answer), the signature of a download or preview URL
# (salted; a preview's also carries its expiry, read from the ticking clock), and the random
# half of an upload URL's session id
VOLATILE = re.compile(
    rb'"(request-id|client-request-id|date)": ?"[^"]*"|token=[^"&]*|(?<=/download/)[^"]*'
    rb'|(?<=/preview/)[^"]*|(?<=/up/[A-Za-z0-9_-]{32})[^"]*'
)
ID_PARAMETERS = ("driveId", "itemId", "userId", "permissionId", "shareId", "versionId")


def encode_all(text: str) -> str:
    """Every byte percent-encoded, letters included (``b!x`` → ``%62%21%78``)."""
    return "".join(f"%{byte:02X}" for byte in text.encode())


def send(drive, method: str, target: str, body: bytes | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(drive.server.host, drive.server.port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {drive.token}", "Content-Type": "application/json"}
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, VOLATILE.sub(b"", response.read())
    finally:
        connection.close()


def difference(plain: tuple[int, bytes], answer: tuple[int, bytes]) -> str:
    """Where two answers part: status, and the bodies from their first differing byte."""
    pairs = zip(plain[1], answer[1], strict=False)
    at = next((i for i, (a, b) in enumerate(pairs) if a != b), 0)
    return f"{plain[0]} {plain[1][at : at + 120]!r} but {answer[0]} {answer[1][at : at + 120]!r}"


def forms(path: str, ids: dict[str, str]) -> dict[str, str]:
    """The forms of a plain path (after the version) that must answer as it does."""
    found = {
        "empty segment after the version": "/" + path,
        "empty segments everywhere": path.replace("/", "//"),
        "'.' segments": "/." + path.replace("/", "/./"),
        "trailing '.'": path + "/.",
    }
    encoded = path
    for value in ids.values():
        encoded = encoded.replace(value, encode_all(value))
    if encoded != path:
        found["percent-encoded ids"] = encoded
    if "root:/" in path:
        head, _, rest = path.partition("root:/")
        inner, colon, tail = rest.partition(":")
        found["leading './' in the path"] = f"{head}root:/./{inner}{colon}{tail}"
        found["'./' and encoded '/' (the sync client)"] = (
            f"{head}root:/.%2F{inner.replace('/', '%2F')}{colon}{tail}"
        )
        found["the selector in one segment (msgraph-sdk)"] = (
            head + quote(f"root:/{inner}{colon}", safe="") + tail
        )
    call = re.search(r"\w+\('[^']*'\)", path)
    if call:
        found["an encoded function argument"] = path.replace(call[0], encode_all(call[0]))
    return found


@pytest.fixture
def arranged(mock_drive):
    mock_drive.add_file("/Projects/Plan.docx", "plan")
    mock_drive.add_file("/Projects/Notes.txt", "notes")
    mock_drive.add_drive(mock_drive.add_user("Bob Smith", "bob@contoso.example"))
    session = mock_drive.session
    link = session.post(mock_drive.graph_url + "/me/drive/root:/Projects:/createLink",
                        json={"type": "edit", "scope": "users"})  # fmt: skip
    assert link.status_code in (200, 201), link.text
    shared = mock_drive.session_for("bob@contoso.example")
    own = shared.put(mock_drive.graph_url + "/me/drive/root:/Bob.txt:/content", data=b"bob")
    assert own.status_code == 201, own.text
    invite = shared.post(mock_drive.graph_url + "/me/drive/root:/Bob.txt:/invite",
                         json={"recipients": [{"email": mock_drive.owner.email}],
                               "roles": ["read"], "requireSignIn": True})  # fmt: skip
    assert invite.status_code == 200, invite.text
    return mock_drive


def substitute(path: str, params: list[dict[str, Any]]) -> tuple[str, dict[str, str]]:
    ids = {}
    for param in params:
        value = param.get("example")
        if value is None:
            value = {"q": "plan", "name": "Projects", "specialFolder": "documents"}.get(
                param["name"], "x"
            )
        path = path.replace("{" + param["name"] + "}", str(value))
        if param["name"] in ID_PARAMETERS:
            ids[param["name"]] = str(value)
    return path, ids


def test_every_graph_read_route_answers_every_path_form_as_the_plain_one(arranged):
    document = requests.get(arranged.url + "/_mockdrive/openapi.json", timeout=30).json()
    failures, tried, routes = [], 0, 0
    for template, entry in document["paths"].items():
        if not template.startswith("/v1.0/") or "$batch" in template:
            continue
        for method in ("get", "head"):
            if method not in entry:
                continue
            params = [p for p in entry.get("parameters", []) if p["in"] == "path"]
            path, ids = substitute(template.removeprefix("/v1.0"), params)
            plain = send(arranged, method.upper(), "/v1.0" + path)
            routes += 1
            for name, form in forms(path, ids).items():
                tried += 1
                answer = send(arranged, method.upper(), "/v1.0" + form)
                if answer != plain:
                    failures.append(
                        f"{method.upper()} {path} ({name}: {form}): " + difference(plain, answer)
                    )
    print(f"\n{tried} forms over {routes} routes")
    assert failures == [], "\n".join(failures[:30]) + f"\n({len(failures)} in all)"
    assert routes >= 100 and tried >= 600


BODIES: dict[str, bytes] = {
    "children": b'{"name": "New", "folder": {}}',
    "content": b"new content",
    "copy": b'{"name": "Copy.docx"}',
    "invite": b'{"recipients": [{"email": "bob@contoso.example"}], "roles": ["read"]}',
    "action.invite": b'{"recipients": [{"email": "bob@contoso.example"}], "roles": ["read"]}',
    "permissions/{permissionId}": b'{"roles": ["read"]}',
    "": b'{"description": "changed"}',
    "createUploadSession": b"{}",
}


@pytest.mark.parametrize(
    ("action", "method"), [op for op in ITEM_OPERATIONS if op[1] not in ("GET", "HEAD")]
)
def test_every_changing_item_operation_answers_every_path_form_as_the_plain_one(
    arranged, action, method
):
    """Each form runs on the same starting state: the same ids, times and answer."""
    start = arranged.export()
    item = arranged.item("/Projects/Plan.docx")
    permission = arranged.permissions("/Projects/Plan.docx")
    permission_id = next((p["id"] for p in permission if p.get("link")), "x")
    suffix = "/" + action.replace("{permissionId}", permission_id) if action else ""
    ids = {"item": item.id, "drive": arranged.drive.id, "permission": permission_id}
    body = BODIES.get(action) if method != "DELETE" else None
    paths = {
        f"/drives/{item.drive_id}/items/{item.id}{suffix}": ids,
        f"/me/drive/root:/Projects/Plan.docx:{suffix}": ids,
    }
    failures = []
    for path, known in paths.items():
        arranged.load(start)
        plain = send(arranged, method, "/v1.0" + path, body)
        for name, form in forms(path, known).items():
            arranged.load(start)
            answer = send(arranged, method, "/v1.0" + form, body)
            if answer != plain:
                failures.append(f"{path} ({name}: {form}): {difference(plain, answer)}")
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize(
    "form",
    [
        "/me/drive/root:/../Projects:",
        "/me/drive/root:/Projects/../..:",
        "/me/drive/root:/%2E%2E/Projects:",
        "/me/drive/root:/Projects%2F..%2F..:",
        "/me/drive/root:/.%2F..%2FProjects:",
        "/me/drive/items/../root",
    ],
)
def test_dot_dot_never_climbs(arranged, form):
    status, body = send(arranged, "GET", "/v1.0" + form)
    assert status in (400, 404), body
    code = re.search(rb'"code":"(\w+)"', body)
    assert code and code[1] in (b"invalidPath", b"invalidRequest", b"itemNotFound"), body


def test_the_sync_clients_new_file_is_found_and_uploaded(arranged):
    """``root:/.%2FDocs%2Fadded.txt:``: asked about (404, not 400), then uploaded there."""
    arranged.add_folder("/Docs")
    status, body = send(arranged, "GET", "/v1.0/me/drive/root:/.%2FDocs%2Fadded.txt:")
    assert status == 404, body
    status, body = send(arranged, "PUT", "/v1.0/me/drive/root:/.%2FDocs%2Fadded.txt:/content", b"x")
    assert status == 201, body
    assert json.loads(body)["parentReference"]["path"] == "/drive/root:/Docs"


def test_shares_and_shared_with_me_after_an_empty_segment(arranged):
    link = arranged.permissions("/Projects")
    token = next(p for p in link if p.get("link"))["link"]["webUrl"]
    share = "u!" + __import__("base64").urlsafe_b64encode(token.encode()).decode().rstrip("=")
    for plain in (f"/shares/{share}/driveItem", f"/drives/{arranged.drive.id}/sharedWithMe()"):
        expected = send(arranged, "GET", "/v1.0" + plain)
        assert expected[0] == 200, expected
        assert send(arranged, "GET", "/v1.0/" + plain) == expected


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("/me/drive/root", "/me/drive/root"),
        ("//shares/u!abc", "/shares/u!abc"),
        ("/me/drive/root:/.%2FDocs%2Fadded.txt:", "/me/drive/root:/Docs/added.txt:"),
        ("/drives/b%21x/items/01A", "/drives/b!x/items/01A"),
        ("/me/drive/root:/50%2541.txt:", "/me/drive/root:/50%2541.txt:"),
        ("/me/drive/root:/a%20b/./c:", "/me/drive/root:/a%20b/c:"),
        ("/me/drive/root:/.:/children", "/me/drive/root/children"),
        ("/me/drive/root:/a/.:/children", "/me/drive/root:/a:/children"),
        ("/me/drive/root:/../a:", "/me/drive/root:/../a:"),
    ],
)
def test_one_normal_form(raw, normal):
    assert normalize_path(raw) == normal


@pytest.mark.parametrize(
    ("qualified", "plain"),
    [
        ("/me/drive/root/microsoft.graph.delta()", "/me/drive/root/delta()"),
        ("/me/drive/root/microsoft.graph.delta", "/me/drive/root/delta"),
        ("/me/drive/root:/Projects:/microsoft.graph.delta()", "/me/drive/root:/Projects:/delta()"),
        ("/me/drive/root/microsoft.graph.search(q='plan')", "/me/drive/root/search(q='plan')"),
        ("/me/drive/microsoft.graph.search(q='plan')", "/me/drive/search(q='plan')"),
    ],
)
def test_functions_named_with_their_namespace(arranged, qualified, plain):
    """``microsoft.graph.delta()`` and ``microsoft.graph.search(q='…')``, as some SDKs name
    them, answer as the plain names do (their links too)."""
    expected = send(arranged, "GET", "/v1.0" + quote(plain, safe="/:()'=!"))
    assert expected[0] == 200, expected
    got = send(arranged, "GET", "/v1.0" + quote(qualified, safe="/:()'=!"))
    assert (got[0], VOLATILE.sub(b"", got[1])) == (200, VOLATILE.sub(b"", expected[1]))
