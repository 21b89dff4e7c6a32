"""The older OneDrive API's action.invite: body variants, outcomes, inheritance, its own errors."""

from __future__ import annotations

import json

import pytest
from conftest import as_user


@pytest.fixture
def arranged(mock_drive):
    mock_drive.add_file("/Docs/Report.docx", "r")
    mock_drive.add_user("Joe Doe", "joe@contoso.example")
    return mock_drive


def assert_onedrive_error(response, status, code, inner=None):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert error["innererror"] == {"code": inner or code}
    assert "innerError" not in error


@pytest.mark.parametrize(
    "target",
    ["/drive/items/{id}", "/drive/root:/Docs:", "/drives/{drive}/items/{id}",
     "/drives/{drive}/root:/Docs:", "/me/drive/items/{id}"],
)  # fmt: skip
def test_every_action_invite_form(arranged, graph, target):
    folder = arranged.item("/Docs")
    path = target.format(id=folder.id, drive=arranged.drive.id) + "/action.invite"
    response = graph.post(path, json={"recipients": ["joe@contoso.example"], "roles": ["read"]})
    assert response.status_code == 200, response.text
    (permission,) = response.json()["value"]
    assert permission["roles"] == ["read"]
    assert permission["invitation"]["email"] == "joe@contoso.example"
    assert permission["grantedTo"]["user"]["displayName"] == "Joe Doe"


BODIES = {
    "shape A: strings, suppressNotification, type mail": (
        {"recipients": ["joe@contoso.example", "ryan@ext.example"], "roles": ["write"],
         "type": "mail", "suppressNotification": False, "message": "hi"}, 2),
    "shape A: notification suppressed": (
        {"recipients": ["joe@contoso.example"], "roles": ["write"], "type": "mail",
         "suppressNotification": True}, 0),
    "shape B: objects and sendInvitation": (
        {"recipients": [{"email": "joe@contoso.example"}], "roles": ["read"],
         "sendInvitation": True}, 1),
    "sendInvitation wins over suppressNotification": (
        {"recipients": ["joe@contoso.example"], "roles": ["read"], "sendInvitation": True,
         "suppressNotification": True}, 1),
    "mixed strings and objects": (
        {"recipients": ["joe@contoso.example", {"email": "x@ext.example"}], "roles": ["read"]}, 2),
}  # fmt: skip


@pytest.mark.parametrize("body, mails", BODIES.values(), ids=BODIES.keys())
def test_body_variants(arranged, graph, body, mails):
    response = graph.post("/drive/root:/Docs:/action.invite", json=body)
    assert response.status_code == 200, response.text
    assert len(response.json()["value"]) == len(body["recipients"])
    assert len(arranged.outbox) == mails


@pytest.mark.parametrize("key", ["requireSignIn", "requiresSignIn"])
def test_both_sign_in_spellings(arranged, graph, key):
    body = {"recipients": ["joe@contoso.example"], "roles": ["read"], key: True}
    response = graph.post("/drive/root:/Docs:/action.invite", json=body)
    assert response.json()["value"][0]["invitation"]["signInRequired"] is True


def test_partial_failure_is_207_with_per_recipient_innererror(arranged, graph):
    arranged.faults.add(effect="notificationFailure", recipient="ryan@ext.example",
                        innerCode="exchangeOutOfMailboxQuota")  # fmt: skip
    body = {"recipients": ["joe@contoso.example", "ryan@ext.example"], "roles": ["write"],
            "type": "mail"}  # fmt: skip
    response = graph.post("/drive/root:/Docs:/action.invite", json=body)
    assert response.status_code == 207
    joe, ryan = response.json()["value"]
    assert "error" not in joe
    assert ryan["error"]["innererror"] == {"code": "exchangeOutOfMailboxQuota"}
    assert [m["status"] for m in arranged.outbox] == ["delivered", "failed"]


def test_inherited_by_children_and_visible_through_graph(arranged, graph):
    body = {"recipients": ["joe@contoso.example"], "roles": ["write"]}
    granted = graph.post("/drive/root:/Docs:/action.invite", json=body).json()["value"][0]
    child = graph.get("/me/drive/root:/Docs/Report.docx:/permissions").json()["value"]
    assert any(
        p["id"] == granted["id"] and p["inheritedFrom"]["path"] == "/drive/root:/Docs"
        for p in child
    )


BAD = {
    "type not mail": ({"recipients": ["a@x.example"], "roles": ["read"], "type": "sms"}, 400,
                      "invalidRequest"),
    "recipient number": ({"recipients": [5], "roles": ["read"]}, 400, "invalidRequest"),
    "no recipients": ({"recipients": [], "roles": ["read"]}, 400, "invalidRequest"),
    "unknown role": ({"recipients": ["a@x.example"], "roles": ["admin"]}, 400, "invalidRequest"),
    "message too long": ({"recipients": ["a@x.example"], "roles": ["read"], "message": "m" * 2001},
                         400, "invalidRequest", "parameterIsTooLong"),
    "suppressNotification not bool": ({"recipients": ["a@x.example"], "roles": ["read"],
                                       "suppressNotification": "yes"}, 400, "invalidRequest"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_bad_input_gets_the_onedrive_envelope_and_changes_nothing(arranged, graph, case):
    body, status, code, *inner = case
    before = arranged.digest()
    response = graph.post("/drive/root:/Docs:/action.invite", data=json.dumps(body))
    assert_onedrive_error(response, status, code, *inner)
    assert arranged.digest() == before


def test_malformed_json_unknown_item_and_reader(arranged, graph):
    before = arranged.digest()
    malformed = graph.post("/drive/root:/Docs:/action.invite", data=b"{")
    assert_onedrive_error(malformed, 400, "invalidRequest")
    missing = graph.post("/drive/items/NOPE/action.invite", json={"recipients": ["a@x.example"]})
    assert_onedrive_error(missing, 404, "itemNotFound")
    assert arranged.digest() == before

    arranged.grant("/Docs", arranged.state.user("joe@contoso.example"), ["read"])
    granted = arranged.digest()
    reader = as_user(graph, "joe-token").post(
        f"/drives/{arranged.drive.id}/root:/Docs:/action.invite",
        json={"recipients": ["a@x.example"], "roles": ["read"]},
    )
    assert_onedrive_error(reader, 403, "accessDenied")
    assert arranged.digest() == granted
