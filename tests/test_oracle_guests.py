"""The access oracle on invited guests: an address outside the directory is a caller it can
reason about, and what it says is what the API answers to that guest once it signs in."""

from __future__ import annotations

import pytest
import requests

from mockdrive.model.access import access, describe_path, outside_caller
from mockdrive.model.errors import NotFound
from mockdrive.model.permissions import effective_permissions
from mockdrive.pytest_plugin import MockDriveFixture

GUEST = "guest@partner.example"


def invite(mock_drive: MockDriveFixture, path: str, email: str, role: str) -> None:
    response = mock_drive.session.post(
        f"/me/drive/root:{path}:/invite",
        json={"recipients": [{"email": email}], "roles": [role], "sendInvitation": True},
    )
    assert response.status_code == 200, response.text


def as_guest(mock_drive: MockDriveFixture, method: str, path: str, **kwargs) -> requests.Response:
    url = f"{mock_drive.graph_url}/users/{mock_drive.owner.id}/drive/root:{path}"
    return requests.request(method, url, headers=mock_drive.headers("guest-token"), **kwargs)


@pytest.fixture
def folder(mock_drive: MockDriveFixture) -> MockDriveFixture:
    mock_drive.add_file("/Folder/Plan.docx", "draft")
    mock_drive.add_file("/Other/Budget.xlsx", "numbers")
    return mock_drive


def test_an_invited_address_gets_what_the_api_gives_the_guest_once_signed_in(folder):
    invite(folder, "/Folder", GUEST, "read")
    result = folder.assert_can(GUEST, "read", "/Folder/Plan.docx")
    assert result.guest and result.roles == ["read"]
    [grant] = result.grants
    assert grant.via == f"via an invitation to {GUEST}"
    assert grant.inherited and grant.granted_on == "/Folder"
    with pytest.raises(AssertionError) as failed:
        folder.assert_can(GUEST, "write", "/Folder/Plan.docx")
    message = str(failed.value)
    assert message.startswith(f"{GUEST} cannot write /Folder/Plan.docx\n{GUEST} holds read")
    assert f"read via an invitation to {GUEST}" in message
    assert "inherited from /Folder" in message
    assert (
        f"({GUEST} is not in the directory: this is what the API gives it once it signs in"
        in message
    )
    folder.assert_cannot(GUEST, "read", "/Other/Budget.xlsx")

    with pytest.raises(ValueError, match=r"not in the directory: add_user\(name, 'guest@"):
        folder.session_for(GUEST)  # no account yet, so no token to call with
    # The guest signs in with the address invited: the API agrees with the oracle.
    folder.add_user("Guest", GUEST)
    assert as_guest(folder, "GET", "/Folder/Plan.docx:/content").text == "draft"
    renamed = as_guest(folder, "PATCH", "/Folder/Plan.docx", json={"name": "Mine.docx"})
    assert renamed.status_code == 403, renamed.text
    assert as_guest(folder, "GET", "/Other/Budget.xlsx").status_code == 404
    signed_in = folder.assert_can(GUEST, "read", "/Folder/Plan.docx")
    assert not signed_in.guest and signed_in.grants == result.grants
    folder.assert_cannot(GUEST, "write", "/Folder/Plan.docx")


def test_a_write_invitation_lets_the_guest_write_and_the_oracle_says_so(folder):
    invite(folder, "/Folder/Plan.docx", GUEST, "write")
    folder.assert_can(GUEST.upper(), "write", "/Folder/Plan.docx")  # addresses fold case
    folder.assert_cannot(GUEST, "read", "/Folder")
    folder.add_user("Guest", GUEST)
    put = as_guest(folder, "PUT", "/Folder/Plan.docx:/content", data=b"final")
    assert put.status_code == 200, put.text
    assert as_guest(folder, "GET", "/Folder").status_code == 404


def test_an_address_nobody_invited_holds_nothing_and_says_why(folder):
    result = folder.assert_cannot("stranger@partner.example", "read", "/Folder/Plan.docx")
    assert result.guest and result.grants == []
    assert str(result) == (
        "stranger@partner.example holds no permission on /Folder/Plan.docx or the folders "
        "above it\n  (stranger@partner.example is not in the directory: no invitation to it "
        "applies here)"
    )


def test_an_invitation_nobody_accepted_expires_for_the_oracle_and_the_api(folder):
    invite(folder, "/Folder", GUEST, "read")
    folder.clock.advance(days=91)
    result = folder.assert_cannot(GUEST, "read", "/Folder/Plan.docx")
    assert result.grants == []
    folder.add_user("Guest", GUEST)
    assert as_guest(folder, "GET", "/Folder/Plan.docx").status_code == 404


def test_a_guest_reaches_anyone_links_but_not_the_organizations(folder):
    for scope in ("organization", "anonymous"):
        created = folder.session.post(
            "/me/drive/root:/Folder:/createLink", json={"type": "view", "scope": scope}
        )
        assert created.status_code in (200, 201), created.text
    guest = folder.access(GUEST, "/Folder")
    assert [link.split(" link ")[0] for link in guest.links] == ["read via anonymous view"]
    member = folder.access(folder.add_user("Bob", "bob@contoso.example"), "/Folder")
    assert len(member.links) == 2


def test_what_is_not_a_caller_is_refused_with_the_reason(folder):
    folder.add_group("Partners", email="partners@partner.example")
    with pytest.raises(ValueError, match="address of group 'Partners': a group never calls"):
        folder.access("partners@partner.example", "/Folder")
    with pytest.raises(NotFound, match="no user 'nobody'"):
        folder.access("nobody", "/Folder")


def test_a_pending_invitation_to_an_address_grants_nothing_and_says_so(mock_drive):
    mock_drive.load(
        {
            "users": [{"displayName": "Ada", "email": "ada@contoso.example", "token": "ada-token"}],
            "drives": [
                {
                    "owner": "ada@contoso.example",
                    "root": {
                        "children": [
                            {
                                "name": "Folder",
                                "folder": {},
                                "permissions": [
                                    {"email": GUEST, "roles": ["read"], "pending": True}
                                ],
                                "children": [{"name": "Plan.docx", "file": {}, "content": "p"}],
                            }
                        ]
                    },
                }
            ],
        }
    )
    result = mock_drive.assert_cannot(GUEST, "read", "/Folder/Plan.docx")
    assert result.guest and result.pending == ["/Folder"]
    explained = str(result)
    assert "(pending invitation on /Folder: grants nothing until accepted)" in explained
    assert "is not in the directory: this is what the API gives it once it signs in" in explained
    mock_drive.add_user("Guest", GUEST)
    assert as_guest(mock_drive, "GET", "/Folder/Plan.docx").status_code == 404


def test_the_oracle_given_an_items_path_and_permissions_answers_as_when_it_finds_them(folder):
    """``access`` with the item's path and effective permissions handed in (one item asked
    about for many users) answers exactly as when it computes them itself."""
    invite(folder, "/Folder", GUEST, "read")
    rita = folder.add_user("Rita", "rita@contoso.example")
    folder.grant("/Folder", rita, ["write"])
    folder.stop_inheriting("/Other")
    state = folder.state
    callers = [folder.owner, rita, outside_caller(GUEST)]
    for path in ("/", "/Folder", "/Folder/Plan.docx", "/Other", "/Other/Budget.xlsx"):
        item = folder.item(path)
        shown, effective = describe_path(state, item), effective_permissions(state.store, item)
        for user in callers:
            given = access(state, user, item, path=shown, effective=effective)
            assert given == access(state, user, item), f"{user.email} on {path}"
