"""msgraph-sdk end to end: a link on a folder, read through /shares with another user's token
and with none, granted to a user, and refused once the virtual clock passes its expiration."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator

import pytest
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.drives.item.items.item.create_link.create_link_post_request_body import (
    CreateLinkPostRequestBody,
)
from msgraph.generated.models.drive_recipient import DriveRecipient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.shares.item.permission.grant.grant_post_request_body import (
    GrantPostRequestBody,
)
from msgraph.generated.shares.item.root.root_request_builder import RootRequestBuilder
from test_msgraph_sdk import SdkClients

from mockdrive.pytest_plugin import MockDriveFixture

ExpandChildren = RootRequestBuilder.RootRequestBuilderGetQueryParameters
pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]


@pytest.fixture
async def client(mock_drive: MockDriveFixture) -> AsyncIterator[SdkClients]:
    """``client(token)``, ``client(ANONYMOUS)``: closed before the test's loop is."""
    async with SdkClients(mock_drive.graph_url) as clients:
        yield clients


ANONYMOUS = AnonymousAuthenticationProvider()


async def test_link_lifecycle_through_the_sdk(mock_drive: MockDriveFixture, client: SdkClients):
    mock_drive.add_file("/Finance/Q3.xlsx", "numbers")
    mock_drive.add_user("Bob", "bob@contoso.example")
    mock_drive.add_user("Carol", "carol@contoso.example")
    owner = client(mock_drive.token)
    drive_id = mock_drive.drive.id
    folder_id = mock_drive.item("/Finance").id
    items = owner.drives.by_drive_id(drive_id).items

    expires = datetime.datetime(2024, 1, 8, tzinfo=datetime.timezone.utc)
    body = CreateLinkPostRequestBody(type="view", scope="anonymous", expiration_date_time=expires)
    link = await items.by_drive_item_id(folder_id).create_link.post(body)
    assert link.link.scope == "anonymous" and link.link.type == "view"
    assert link.roles == ["read"] and link.share_id.startswith("s!")

    reader = client("bob-token")
    shared = await reader.shares.by_shared_drive_item_id(link.share_id).drive_item.get()
    assert shared.id == folder_id and shared.name == "Finance"
    expand = RequestConfiguration(query_parameters=ExpandChildren(expand=["children"]))
    root = await reader.shares.by_shared_drive_item_id(link.share_id).root.get(expand)
    assert [c.name for c in root.children] == ["Q3.xlsx"]
    # a business drive: the Shares API needs a signed-in caller, even for an anonymous link
    nobody = client(ANONYMOUS).shares.by_shared_drive_item_id(link.share_id)
    with pytest.raises(ODataError) as refused:
        await nobody.drive_item.get()
    assert refused.value.response_status_code == 401

    org = await items.by_drive_item_id(folder_id).create_link.post(
        CreateLinkPostRequestBody(type="edit", scope="organization")
    )
    granted = await owner.shares.by_shared_drive_item_id(org.share_id).permission.grant.post(
        GrantPostRequestBody(
            recipients=[DriveRecipient(email="carol@contoso.example")], roles=["write"]
        )
    )
    assert granted.value[0].link.scope == "organization"
    people = granted.value[0].granted_to_identities_v2
    assert [p.user.display_name for p in people] == ["Carol"]
    mock_drive.assert_can("carol@contoso.example", "write", "/Finance/Q3.xlsx")

    mock_drive.clock.advance(days=8)
    with pytest.raises(ODataError) as refused:
        await client("bob-token").shares.by_shared_drive_item_id(link.share_id).drive_item.get()
    assert refused.value.response_status_code == 404
    assert refused.value.error.code == "itemNotFound"
    listed = await items.by_drive_item_id(folder_id).permissions.get()
    ids = [p.id for p in listed.value]
    assert link.id not in ids and org.id in ids
