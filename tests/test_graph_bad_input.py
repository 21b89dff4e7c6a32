"""Bad input gets Graph's envelope with the right status and leaves the state exactly as it was."""

from __future__ import annotations

import json

import pytest
from conftest import assert_graph_error

GOOD = {"recipients": [{"email": "bob@contoso.example"}], "roles": ["write"]}


def body(**changes):
    data = {**GOOD, **changes}
    return json.dumps({k: v for k, v in data.items() if v is not ...}).encode()


BAD_INVITES = {
    "malformed JSON": b'{"recipients": [',
    "truncated JSON": body()[:-5],
    "empty body": b"",
    "not an object": b"[1, 2]",
    "a string": b'"recipients"',
    "non-UTF-8 bytes": b'{"recipients": "\xff\xfe"}',
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "recipients missing": body(recipients=...),
    "recipients empty": body(recipients=[]),
    "recipients not a list": body(recipients={"email": "bob@contoso.example"}),
    "recipient not an object": body(recipients=["bob@contoso.example"]),
    "recipient with no address": body(recipients=[{}]),
    "recipient with two addresses": body(recipients=[{"email": "a@x.example", "alias": "a"}]),
    "email of wrong type": body(recipients=[{"email": 42}]),
    "malformed e-mail": body(recipients=[{"email": "not-an-address"}]),
    "unknown objectId": body(recipients=[{"objectId": "00000000-0000-0000-0000-000000000000"}]),
    "unknown alias": body(recipients=[{"alias": "nobody"}]),
    "one bad among good": body(recipients=[{"email": "bob@contoso.example"}, {"email": "x@"}]),
    "roles missing": body(roles=...),
    "roles empty": body(roles=[]),
    "roles not a list": body(roles="write"),
    "role unknown": body(roles=["admin"]),
    "role owner": body(roles=["owner"]),
    "role of wrong type": body(roles=[1]),
    "message 2001 chars": body(message="m" * 2001),
    "message of wrong type": body(message=["hi"]),
    "sendInvitation of wrong type": body(sendInvitation="yes"),
    "requireSignIn of wrong type": body(requireSignIn=1),
    "retainInheritedPermissions of wrong type": body(retainInheritedPermissions="no"),
    "expirationDateTime unparsable": body(expirationDateTime="next tuesday"),
}


@pytest.mark.parametrize("raw", BAD_INVITES.values(), ids=BAD_INVITES.keys())
def test_bad_invite_bodies(projects, graph, raw):
    before = projects.digest()
    response = graph.post(
        "/me/drive/root:/Projects:/invite", data=raw, headers={"Content-Type": "application/json"}
    )
    assert_graph_error(response, 400, "invalidRequest")
    assert projects.digest() == before
    assert projects.outbox == []


def test_message_of_exactly_2000_chars_is_fine(projects, graph):
    response = graph.post("/me/drive/root:/Projects:/invite", data=body(message="m" * 2000))
    assert response.status_code == 200


def test_oversize_body_is_413_before_parsing(projects, graph):
    before = projects.digest()
    response = graph.post("/me/drive/root:/Projects:/invite", data=b" " * (10 * 1024 * 1024))
    assert_graph_error(response, 413, "invalidRequest")
    assert projects.digest() == before


def test_unknown_item_and_unknown_permission(projects, graph):
    before = projects.digest()
    assert_graph_error(graph.post("/me/drive/items/NOPE/invite", data=body()), 404, "itemNotFound")
    assert_graph_error(graph.post("/me/drive/root:/Nope:/invite", data=body()), 404, "itemNotFound")
    for method in ("GET", "PATCH", "DELETE"):
        response = graph.request(
            method, "/me/drive/root:/Projects:/permissions/NOPE", json={"roles": ["read"]}
        )
        assert_graph_error(response, 404, "itemNotFound")
    assert projects.digest() == before


BAD_PATCHES = {
    "not JSON": b"{roles",
    "not an object": b'["read"]',
    "roles missing": b"{}",
    "role unknown": b'{"roles": ["owner"]}',
    "roles empty": b'{"roles": []}',
    "roles a string": b'{"roles": "read"}',
    "not updatable property": b'{"roles": ["read"], "grantedTo": {}}',
}


@pytest.mark.parametrize("raw", BAD_PATCHES.values(), ids=BAD_PATCHES.keys())
def test_bad_permission_patches(projects, graph, raw):
    granted = graph.post("/me/drive/root:/Projects:/invite", data=body()).json()["value"][0]
    before = projects.digest()
    response = graph.patch(f"/me/drive/root:/Projects:/permissions/{granted['id']}", data=raw)
    assert_graph_error(response, 400, "invalidRequest")
    assert projects.digest() == before


BAD_FOLDERS = {
    "no facet": {"name": "A"},
    "folder not an object": {"name": "A", "folder": True},
    "name missing": {"folder": {}},
    "name of wrong type": {"name": 5, "folder": {}},
    "unknown conflict behaviour": {
        "name": "A",
        "folder": {},
        "@microsoft.graph.conflictBehavior": "x",
    },
    "conflict behaviour of wrong type": {
        "name": "A",
        "folder": {},
        "@microsoft.graph.conflictBehavior": 1,
    },
    "over-long name": {"name": "n" * 300, "folder": {}},
    "header injection in name": {"name": "a\r\nX-Injected: 1", "folder": {}},
}


@pytest.mark.parametrize("data", BAD_FOLDERS.values(), ids=BAD_FOLDERS.keys())
def test_bad_create_folder_bodies(projects, graph, data):
    before = projects.digest()
    assert_graph_error(graph.post("/me/drive/root/children", json=data), 400, "invalidRequest")
    assert projects.digest() == before
