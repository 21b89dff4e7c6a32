"""The legacy OneDrive SDK for Python (``onedrivesdk<2``, Microsoft's, from PyPI) against mockdrive.

The SDK predates Python 3.11: its modules decorate methods with ``asyncio.coroutine``, which
3.11 removed, so importing it needs that name back. Only its synchronous path is used here.
"""

from __future__ import annotations

import asyncio

import pytest

if not hasattr(asyncio, "coroutine"):  # compatibility shim for the SDK's import, nothing more
    asyncio.coroutine = lambda function: function

import onedrivesdk
from onedrivesdk.auth_provider_base import AuthProviderBase
from onedrivesdk.error import OneDriveError
from onedrivesdk.http_provider import HttpProvider
from onedrivesdk.options import HeaderOption


class StaticToken(AuthProviderBase):
    """The SDK's extension point for authentication, with a fixed fake token."""

    def __init__(self, token: str) -> None:
        self.token = token

    def authenticate_request(self, request) -> None:
        request.append_option(HeaderOption("Authorization", "Bearer " + self.token))


@pytest.fixture
def sdk_client(mock_drive):
    """The SDK's client; it wants an event loop of its own for its (unused) async API."""
    loop = asyncio.new_event_loop()
    yield onedrivesdk.OneDriveClient(
        mock_drive.graph_url + "/", StaticToken(mock_drive.token), HttpProvider(), loop=loop
    )
    loop.close()


def test_browse_and_invite_with_action_invite(mock_drive, sdk_client):
    mock_drive.add_file("/Docs/Report.docx", "r")
    mock_drive.add_user("Joe Doe", "joe@contoso.example")
    client = sdk_client

    assert [c.name for c in client.item(drive="me", id="root").children.get()] == ["Docs"]
    docs = client.item(drive="me", path="/Docs").get()
    assert docs.id == mock_drive.item("/Docs").id and docs.folder.child_count == 1

    recipient = onedrivesdk.Recipients()
    recipient.email = "joe@contoso.example"
    invite = client.item(drive="me", id=docs.id).invite(
        recipients=recipient, roles=["write"], send_invitation=True, message="Please review"
    )
    granted = invite.request().post()
    # The SDK sends one recipient object (not a list) and parses the answer as a page of Items
    # (its generated model is wrong); the permission itself arrives intact.
    assert len(granted) == 1
    permission = granted[0]._prop_dict
    assert permission["roles"] == ["write"]
    assert permission["grantedTo"]["user"]["displayName"] == "Joe Doe"
    mock_drive.requests.assert_called(
        "POST",
        f"/v1.0/drives/me/items/{docs.id}/action.invite",
        json={"recipients": {"email": "joe@contoso.example"}, "sendInvitation": True},
    )
    child = mock_drive.permissions("/Docs/Report.docx")
    assert any(p["id"] == permission["id"] and "inheritedFrom" in p for p in child)
    assert [m["to"] for m in mock_drive.outbox] == ["joe@contoso.example"]


def test_errors_reach_the_sdk_as_onedrive_errors(mock_drive, sdk_client):
    mock_drive.add_folder("/Docs")
    client = sdk_client
    with pytest.raises(OneDriveError) as missing:
        client.item(drive="me", path="/Nowhere").get()
    assert missing.value.code == "itemNotFound" and missing.value.status_code == 404

    recipient = onedrivesdk.Recipients()
    recipient.email = "not-an-address"
    with pytest.raises(OneDriveError) as bad:
        client.item(drive="me", path="/Docs").invite(
            recipients=recipient, roles=["read"]
        ).request().post()
    assert bad.value.code == "invalidRequest" and bad.value.status_code == 400
