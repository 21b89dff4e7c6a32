"""The real msgraph-sdk (Kiota, httpx) against mockdrive: drive, children, invite, permissions."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
import pytest
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    AuthenticationProvider,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.drives.item.items.item.invite.invite_post_request_body import (
    InvitePostRequestBody,
)
from msgraph.generated.models.drive_recipient import DriveRecipient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.graph_request_adapter import options as SDK_OPTIONS
from msgraph_core import GraphClientFactory

from mockdrive.pytest_plugin import MockDriveFixture

# The SDK's generated builders warn about their own deprecated configuration classes.
pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]


class FixedToken(AccessTokenProvider):
    def __init__(self, token: str) -> None:
        self.token = token

    async def get_authorization_token(self, uri, additional_authentication_context=None) -> str:
        return self.token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator([])


class SdkClients:
    """msgraph-sdk clients as an application builds them, each on the httpx client the SDK
    makes for itself when given none (its middleware and options), made here so that ``aclose``
    (or the end of ``async with``) can close their connections: the SDK has no close of its
    own, and a connection left open is collected later, warning in whatever test runs then."""

    def __init__(self, base_url: str | None = None, token: str | None = None) -> None:
        self.base_url = base_url  # None: Graph's own
        self.token = token  # whom ``sdk()`` calls as
        self.opened: list[httpx.AsyncClient] = []

    def __call__(self, auth: AuthenticationProvider | str | None = None) -> GraphServiceClient:
        """A client with ``auth``: a Kiota provider, a bearer token, or None for ``token``."""
        if not isinstance(auth, AuthenticationProvider):
            auth = BaseBearerTokenAuthenticationProvider(FixedToken(auth or self.token))
        http = GraphClientFactory.create_with_default_middleware(options=SDK_OPTIONS)
        self.opened.append(http)
        adapter = GraphRequestAdapter(auth, client=http)
        if self.base_url is not None:
            adapter.base_url = self.base_url
        return GraphServiceClient(request_adapter=adapter)

    def own(self, client: GraphServiceClient) -> GraphServiceClient:
        """A client the SDK built itself (``GraphServiceClient(credential, scopes)``), closed
        with the others: its httpx client is reachable only as its adapter's private field."""
        self.opened.append(client.request_adapter._http_client)
        return client

    async def aclose(self) -> None:
        for http in self.opened:
            # msgraph-core's transport (the middleware it puts in front of httpx's own, for the
            # client and each proxy mount) has no aclose of its own, so closing the client
            # leaves the connections open: close the transports it wraps.
            for outer in (http._transport, *http._mounts.values()):
                if outer is not None:
                    await getattr(outer, "transport", outer).aclose()
            await http.aclose()
        self.opened.clear()

    async def __aenter__(self) -> SdkClients:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


@pytest.fixture
async def sdk_client(mock_drive: MockDriveFixture) -> AsyncIterator[SdkClients]:
    """``sdk_client()``: a client at the mock as its owner; closed before the test's loop is."""
    async with SdkClients(mock_drive.graph_url, mock_drive.token) as clients:
        yield clients


def invite_body(emails: list[str], roles: list[str]) -> InvitePostRequestBody:
    return InvitePostRequestBody(
        recipients=[DriveRecipient(email=e) for e in emails],
        roles=roles,
        require_sign_in=True,
        send_invitation=True,
        message="Plan for Q3",
    )


async def test_invite_list_and_revoke_through_the_sdk(
    mock_drive: MockDriveFixture, sdk_client: SdkClients
):
    mock_drive.add_user("Carol", "carol@contoso.example")
    mock_drive.add_user("Bob", "bob@contoso.example")
    projects = mock_drive.add_folder("/Projects")
    plan = mock_drive.add_file("/Projects/Plan.docx", "draft")
    client = sdk_client()

    drive = await client.me.drive.get()
    assert drive is not None and drive.id == mock_drive.drive.id
    items = client.drives.by_drive_id(drive.id).items
    root = await client.drives.by_drive_id(drive.id).root.get()
    assert root is not None and root.root is not None
    children = await items.by_drive_item_id(root.id).children.get()
    assert [c.name for c in children.value] == ["Projects"]
    assert children.value[0].folder.child_count == 1

    folder = await items.by_drive_item_id("root:/Projects:").get()
    assert folder.id == projects.id and folder.name == "Projects"

    emails = ["carol@contoso.example", "bob@contoso.example"]
    invited = await items.by_drive_item_id(folder.id).invite.post(invite_body(emails, ["write"]))
    assert len(invited.value) == 2
    assert [p.roles for p in invited.value] == [["write"], ["write"]]
    assert [p.granted_to_v2.user.display_name for p in invited.value] == ["Carol", "Bob"]
    assert [p.invitation.email for p in invited.value] == emails
    folder_pid = {p.granted_to_v2.user.display_name: p.id for p in invited.value}

    child = items.by_drive_item_id(plan.id)
    listed = await child.permissions.get()
    inherited = {
        p.granted_to_v2.user.display_name: p
        for p in listed.value
        if p.inherited_from is not None and p.inherited_from.id == folder.id
    }
    assert {"Carol", "Bob"} <= set(inherited)
    assert inherited["Carol"].id == folder_pid["Carol"]
    assert inherited["Carol"].roles == ["write"]

    folder_permissions = items.by_drive_item_id(folder.id).permissions
    await folder_permissions.by_permission_id(folder_pid["Carol"]).delete()

    relisted = await child.permissions.get()
    ids = {p.id for p in relisted.value}
    assert folder_pid["Carol"] not in ids and folder_pid["Bob"] in ids
    for path in ("/Projects", "/Projects/Plan.docx"):
        server_ids = {p["id"] for p in mock_drive.permissions(path)}
        assert folder_pid["Carol"] not in server_ids and folder_pid["Bob"] in server_ids
    sent = mock_drive.outbox
    assert [m["to"] for m in sent] == emails
    assert all(m["itemId"] == folder.id and m["message"] == "Plan for Q3" for m in sent)


async def test_errors_reach_the_sdk_as_odata_errors(
    mock_drive: MockDriveFixture, sdk_client: SdkClients
):
    mock_drive.add_user("Carol", "carol@contoso.example")
    mock_drive.add_folder("/Projects")
    client = sdk_client()
    items = client.drives.by_drive_id(mock_drive.drive.id).items

    with pytest.raises(ODataError) as missing:
        await items.by_drive_item_id("root:/Nowhere:").get()
    assert missing.value.response_status_code == 404
    assert missing.value.error.code == "itemNotFound"

    before = mock_drive.digest()
    body = invite_body(["carol@contoso.example"], ["superuser"])
    with pytest.raises(ODataError) as bad_role:
        await items.by_drive_item_id("root:/Projects:").invite.post(body)
    assert bad_role.value.response_status_code == 400
    assert bad_role.value.error.code == "invalidRequest"
    assert mock_drive.digest() == before  # nothing granted, no mail sent


async def test_a_207_reaches_the_sdk_as_a_normal_result_with_the_error_in_additional_data(
    mock_drive: MockDriveFixture, sdk_client: SdkClients
):
    mock_drive.add_user("Carol", "carol@contoso.example")
    mock_drive.add_folder("/Projects")
    mock_drive.faults.add(
        effect="notificationFailure", recipient="x@ext.example", innerCode="exchangeInvalidUser"
    )
    items = sdk_client().drives.by_drive_id(mock_drive.drive.id).items
    body = invite_body(["carol@contoso.example", "x@ext.example"], ["read"])
    result = await items.by_drive_item_id("root:/Projects:").invite.post(body)
    # msgraph-sdk treats 207 as success; the permission model has no `error` property, so the
    # per-recipient error lands in additional_data, where a caller has to look for it.
    carol, external = result.value
    assert "error" not in carol.additional_data
    assert external.additional_data["error"]["innererror"]["code"] == "exchangeInvalidUser"
    assert external.invitation.email == "x@ext.example"
    mock_drive.requests.assert_called(
        "POST", f"/v1.0/drives/{mock_drive.drive.id}/items/root:/Projects:/invite", times=1
    )


async def test_a_429_is_retried_by_the_sdk_after_retry_after(
    mock_drive: MockDriveFixture, sdk_client: SdkClients
):
    mock_drive.faults.add(effect="throttle", path="/me/drive$", times=1, retryAfter=1)
    drive = await sdk_client().me.drive.get()
    assert drive.id == mock_drive.drive.id  # the SDK waited, retried and got the 200
    statuses = [e["status"] for e in mock_drive.requests]
    assert statuses == [429, 200]
    assert [r["violations"] for r in mock_drive.faults] == [0]  # it honoured Retry-After


async def test_a_persistent_429_surfaces_as_odata_error_after_the_sdk_gives_up(
    mock_drive: MockDriveFixture, sdk_client: SdkClients
):
    mock_drive.faults.add(effect="throttle", path="/me/drive$", retryAfter=1)
    with pytest.raises(ODataError) as throttled:
        await sdk_client().me.drive.get()
    assert throttled.value.response_status_code == 429
    assert throttled.value.error.code == "activityLimitReached"
    assert len(mock_drive.requests) == 4  # the first try and the SDK's three retries


@pytest.mark.mock_drive(clock="wall")
async def test_the_sdks_upload_task_takes_our_upload_session_as_live(
    mock_drive: MockDriveFixture, sdk_client: SdkClients
):
    """msgraph-core's LargeFileUploadTask compares expirationDateTime with its own wall clock
    before sending a byte: with the clock following the wall, the session is live to it."""
    from msgraph.generated.drives.item.items.item.create_upload_session.create_upload_session_post_request_body import (  # noqa: E501
        CreateUploadSessionPostRequestBody,
    )
    from msgraph.generated.models.drive_item import DriveItem
    from msgraph_core.tasks.large_file_upload import LargeFileUploadTask

    client = sdk_client()
    drive = mock_drive.drive
    session = (
        await client.drives.by_drive_id(drive.id)
        .items.by_drive_item_id("root:/big.bin:")
        .create_upload_session.post(CreateUploadSessionPostRequestBody())
    )
    data = b"x" * 1000
    task = LargeFileUploadTask(session, client.request_adapter, io.BytesIO(data),
                               DriveItem.create_from_discriminator_value)  # fmt: skip
    assert not task.upload_session_expired(session)
