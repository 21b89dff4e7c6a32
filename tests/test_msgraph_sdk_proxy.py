"""msgraph-sdk (Python), unchanged and with its default base URL, through ``--proxy``.

The client never learns the mock's address: ``HTTPS_PROXY`` sends its requests to the mock,
``SSL_CERT_FILE`` (httpx) and ``REQUESTS_CA_BUNDLE`` (azure-core) make it trust the mock's CA, and
a static token comes from a Kiota access-token provider that, like the SDK's own ones, sends it to
Graph's host only. The steps below run in order over one drive, each asserted against the mock's
state; each is reported as its own test (``test_step[...]``), so the log lists every step.
"""

from __future__ import annotations

import base64
import io
import os
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

try:
    import httpx
    from kiota_abstractions.authentication import (
        AccessTokenProvider,
        AllowedHostsValidator,
        BaseBearerTokenAuthenticationProvider,
    )
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from kiota_http.middleware.options.headers_inspection_handler_option import (
        HeadersInspectionHandlerOption,
    )
    from msgraph import GraphServiceClient
    from msgraph.generated.drives.item.items.item.copy.copy_post_request_body import (
        CopyPostRequestBody,
    )
    from msgraph.generated.drives.item.items.item.create_link.create_link_post_request_body import (
        CreateLinkPostRequestBody,
    )
    from msgraph.generated.drives.item.items.item.create_upload_session.create_upload_session_post_request_body import (  # noqa: E501
        CreateUploadSessionPostRequestBody,
    )
    from msgraph.generated.drives.item.items.item.invite.invite_post_request_body import (
        InvitePostRequestBody,
    )
    from msgraph.generated.models.drive_item import DriveItem
    from msgraph.generated.models.drive_item_uploadable_properties import (
        DriveItemUploadableProperties,
    )
    from msgraph.generated.models.drive_recipient import DriveRecipient
    from msgraph.generated.models.item_reference import ItemReference
    from msgraph.generated.models.permission import Permission
    from msgraph.generated.shares.item.permission.grant.grant_post_request_body import (
        GrantPostRequestBody,
    )
    from msgraph_core.requests.batch_request_content import BatchRequestContent
    from msgraph_core.requests.batch_request_item import BatchRequestItem
    from msgraph_core.tasks.large_file_upload import LargeFileUploadTask
    from test_msgraph_sdk import SdkClients
except ImportError:
    if os.environ.get("CI"):
        raise  # CI installs the test extra: a missing SDK fails there
    pytest.skip("msgraph-sdk is not installed (pip install -e '.[test]')", allow_module_level=True)

from mockdrive.cli import default_state
from mockdrive.model.errors import NotFound
from mockdrive.model.hashes import quick_xor_hash
from mockdrive.pytest_plugin import MockDriveFixture
from mockdrive.server import MockDrive

pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:This API is deprecated:DeprecationWarning"),  # sharedWithMe
]

TOKEN = "sdk-proxy-token"
BOB_TOKEN = "sdk-proxy-bob"
GRAPH_HOST = "graph.microsoft.com"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")


class StaticToken(AccessTokenProvider):
    """A fixed bearer token for Graph's host, none elsewhere (the uploadUrl's storage host and
    the copy monitor need none), as the SDK's own providers decide with their allowed hosts."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.hosts = AllowedHostsValidator([GRAPH_HOST])

    async def get_authorization_token(self, uri, additional_authentication_context=None) -> str:
        return self.token if self.hosts.is_url_host_valid(uri) else ""

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self.hosts


def default_client(sdk: SdkClients, token: str) -> GraphServiceClient:
    """The SDK as an application builds it: no base URL, so Graph's own."""
    return sdk(BaseBearerTokenAuthenticationProvider(StaticToken(token)))


@dataclass
class Run:
    """What the steps share: the server, the clients and what earlier steps made."""

    mock: MockDriveFixture
    owner: GraphServiceClient
    bob: GraphServiceClient
    seen: dict[str, Any] = field(default_factory=dict)

    @property
    def items(self):
        return self.owner.drives.by_drive_id(self.mock.drive.id).items

    def fragments(self) -> list[int]:
        return [e["status"] for e in self.mock.requests if e["path"].startswith("/up/")]


# -- the steps ------------------------------------------------------------------------------------
async def upload_with_the_task(run: Run, path: str, size: int) -> None:
    """Open a session with the SDK and let ``LargeFileUploadTask`` send the file (5 MiB
    fragments, its default); it must finish without an exception and store the bytes sent."""
    data = os.urandom(size)
    properties = DriveItemUploadableProperties(
        additional_data={"@microsoft.graph.conflictBehavior": "replace"}
    )
    body = CreateUploadSessionPostRequestBody(item=properties)
    session = await run.items.by_drive_item_id(f"root:{path}:").create_upload_session.post(body)
    assert session.upload_url.startswith("https://api.onedrive.com/up/"), session.upload_url
    task = LargeFileUploadTask(session, run.owner.request_adapter, io.BytesIO(data), DriveItem)
    result = await task.upload()  # raises on any refused fragment
    item = run.mock.item(path)
    assert item.content == data
    assert isinstance(result.item_response, DriveItem)
    assert result.item_response.id == item.id and result.item_response.size == size
    listed = run.mock.item_json(path)
    assert listed["file"]["hashes"]["quickXorHash"] == quick_xor_hash(data)
    assert 201 in run.fragments()


async def upload_1_mb(run: Run) -> None:
    await upload_with_the_task(run, "/Uploads/one.bin", 1_000_000)


async def upload_5_mib(run: Run) -> None:
    await upload_with_the_task(run, "/Uploads/five.bin", 5 * 1024 * 1024)


async def upload_over_two_fragments(run: Run) -> None:
    await upload_with_the_task(run, "/Uploads/eight.bin", 8 * 1024 * 1024 + 123)


async def copy_and_follow_the_monitor(run: Run) -> None:
    source = run.mock.add_file("/Docs/report.txt", "quarterly numbers")
    target = run.mock.add_folder("/Archive")
    inspect = HeadersInspectionHandlerOption(inspect_response_headers=True)
    body = CopyPostRequestBody(
        parent_reference=ItemReference(drive_id=run.mock.drive.id, id=target.id),
        name="report copy.txt",
    )
    await run.items.by_drive_item_id(source.id).copy.post(
        body, RequestConfiguration(options=[inspect])
    )
    location = next(iter(inspect.response_headers.get("location")))
    assert location.startswith(f"https://{GRAPH_HOST}/"), location
    # the monitor takes no token; an application fetches it with a plain client, through the
    # same proxy and CA as the SDK
    async with httpx.AsyncClient() as plain:
        status = (await plain.get(location)).json()
    assert status["status"] == "completed" and status["percentageComplete"] == 100
    copied = run.mock.item("/Archive/report copy.txt")
    assert status["resourceId"] == copied.id and copied.content == b"quarterly numbers"
    assert run.mock.item("/Docs/report.txt").content == b"quarterly numbers"


async def create_a_sharing_link(run: Run) -> None:
    run.mock.add_file("/Shared/plan.txt", "the plan")
    folder = run.mock.item("/Shared")
    body = CreateLinkPostRequestBody(type="view", scope="organization")
    link = await run.items.by_drive_item_id(folder.id).create_link.post(body)
    assert link.link.type == "view" and link.link.scope == "organization"
    assert link.roles == ["read"] and link.link.web_url
    stored = {p["id"]: p for p in run.mock.permissions("/Shared")}
    assert stored[link.id]["link"]["webUrl"] == link.link.web_url
    run.seen["link"] = link


def share_id_of(url: str) -> str:
    """The Shares API's encoding of a sharing URL: ``u!`` and unpadded base64url."""
    return "u!" + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


async def redeem_the_link(run: Run) -> None:
    link = run.seen["link"]
    shares = run.bob.shares.by_shared_drive_item_id(share_id_of(link.link.web_url))
    shared = await shares.drive_item.get()  # access for this request only
    assert shared.id == run.mock.item("/Shared").id and shared.name == "Shared"
    run.mock.assert_cannot("bob@contoso.example", "read", "/Shared/plan.txt")
    redeem = RequestConfiguration(headers={"Prefer": "redeemSharingLink"})
    shared = await shares.drive_item.get(redeem)  # durable: Bob joins the link
    assert shared.id == run.mock.item("/Shared").id
    run.mock.assert_can("bob@contoso.example", "read", "/Shared/plan.txt")
    members = next(p for p in run.mock.permissions("/Shared") if p["id"] == link.id)
    emails = [i["user"]["email"] for i in members["grantedToIdentitiesV2"]]
    assert emails == ["bob@contoso.example"]


async def grant_the_link(run: Run) -> None:
    link = run.seen["link"]
    shares = run.owner.shares.by_shared_drive_item_id(share_id_of(link.link.web_url))
    body = GrantPostRequestBody(
        recipients=[DriveRecipient(email="carol@contoso.example")], roles=["read"]
    )
    granted = await shares.permission.grant.post(body)
    assert granted.value[0].link.scope == "organization"
    people = [p.user.display_name for p in granted.value[0].granted_to_identities_v2]
    assert people == ["Carol"]
    run.mock.assert_can("carol@contoso.example", "read", "/Shared/plan.txt")


async def shared_with_me(run: Run) -> None:
    """The granted folder in Bob's sharedWithMe (``/v1.0//drives/{id}/sharedWithMe()``)."""
    shared = await run.bob.drives.by_drive_id(run.mock.drive.id).shared_with_me.get()
    found = {item.name: item for item in shared.value}
    assert "Shared" in found, list(found)
    assert found["Shared"].remote_item.id == run.mock.item("/Shared").id


async def download_content(run: Run) -> None:
    """``/content`` answers 302 to the downloadUrl; the SDK follows it through the proxy."""
    data = await run.items.by_drive_item_id(run.mock.item("/Uploads/eight.bin").id).content.get()
    assert data == run.mock.item("/Uploads/eight.bin").content


async def delta_pages(run: Run, url: str | None) -> tuple[list[DriveItem], str]:
    """Every page of a delta round, from the start or from a deltaLink: (items, deltaLink)."""
    root = run.items.by_drive_item_id("root").delta
    page = await (root.with_url(url).get() if url else root.get())
    found = list(page.value)
    while page.odata_next_link:
        page = await root.with_url(page.odata_next_link).get()
        found += page.value
    assert page.odata_delta_link, "a round ends with a deltaLink"
    return found, page.odata_delta_link


async def delta_initial(run: Run) -> None:
    found, token = await delta_pages(run, None)
    names = {item.name for item in found}
    assert {"Uploads", "one.bin", "Docs", "report.txt", "Shared", "plan.txt"} <= names
    assert token.startswith(f"https://{GRAPH_HOST}/v1.0/"), token
    run.seen["delta"] = token


async def delta_changes(run: Run) -> None:
    run.mock.add_file("/Docs/new.txt", "fresh")
    found, token = await delta_pages(run, run.seen["delta"])
    names = {item.name for item in found}
    assert "new.txt" in names and "plan.txt" not in names  # only what changed since
    run.seen["delta"] = token


async def delta_deletes(run: Run) -> None:
    gone = run.mock.item("/Docs/new.txt")
    await run.items.by_drive_item_id(gone.id).delete()
    found, token = await delta_pages(run, run.seen["delta"])
    deleted = [item for item in found if item.id == gone.id]
    assert deleted and deleted[0].deleted is not None
    with pytest.raises(NotFound):
        run.mock.item("/Docs/new.txt")
    run.seen["delta"] = token


async def batch_with_depends_on(run: Run) -> None:
    folders = {name: run.mock.add_folder(f"/Batch/{name}") for name in ("Alpha", "Beta")}
    content = BatchRequestContent()
    for name, folder in folders.items():
        info = run.items.by_drive_item_id(folder.id).to_get_request_information()
        content.add_request(name, BatchRequestItem(info, id=name))
    info = run.items.by_drive_item_id(folders["Alpha"].id).to_delete_request_information()
    content.add_request("drop", BatchRequestItem(info, id="drop", depends_on=["Alpha", "Beta"]))
    answer = await run.owner.batch.post(content)
    assert answer.get_response_status_codes() == {"Alpha": 200, "Beta": 200, "drop": 204}
    with pytest.raises(NotFound):
        run.mock.item("/Batch/Alpha")
    assert run.mock.item("/Batch/Beta").is_folder
    journal = [e for e in run.mock.requests if e["path"].endswith("$batch")]
    assert journal and journal[-1]["status"] == 200


async def update_a_permission(run: Run) -> None:
    permissions = run.items.by_drive_item_id(run.mock.item("/Shared").id).permissions
    body = InvitePostRequestBody(
        recipients=[DriveRecipient(email="bob@contoso.example")],
        roles=["read"],
        require_sign_in=True,
        send_invitation=False,
    )
    invited = await run.items.by_drive_item_id(run.mock.item("/Shared").id).invite.post(body)
    bob_permission = invited.value[0].id
    updated = await permissions.by_permission_id(bob_permission).patch(Permission(roles=["write"]))
    assert updated.roles == ["write"]
    stored = {p["id"]: p for p in run.mock.permissions("/Shared")}
    assert stored[bob_permission]["roles"] == ["write"]
    run.mock.assert_can("bob@contoso.example", "write", "/Shared/plan.txt")
    run.seen["bob permission"] = bob_permission


async def delete_a_permission(run: Run) -> None:
    folder = run.mock.item("/Shared")
    permission = run.seen["bob permission"]
    await run.items.by_drive_item_id(folder.id).permissions.by_permission_id(permission).delete()
    assert permission not in {p["id"] for p in run.mock.permissions("/Shared")}
    run.mock.assert_cannot("bob@contoso.example", "write", "/Shared/plan.txt")


Step = Callable[[Run], Awaitable[None]]
STEPS: list[tuple[str, Step]] = [
    ("upload 1 MB with LargeFileUploadTask", upload_1_mb),
    ("upload 5 MiB with LargeFileUploadTask", upload_5_mib),
    ("upload 8 MiB in two fragments", upload_over_two_fragments),
    ("copy, then follow its monitor", copy_and_follow_the_monitor),
    ("create_link", create_a_sharing_link),
    ("redeem the link through /shares/u!", redeem_the_link),
    ("grant the link to a user", grant_the_link),
    ("sharedWithMe of the redeemer", shared_with_me),
    ("download content through the downloadUrl", download_content),
    ("delta: initial round", delta_initial),
    ("delta: changes since the token", delta_changes),
    ("delta: deletes since the token", delta_deletes),
    ("BatchRequestContent with dependsOn", batch_with_depends_on),
    ("update a permission", update_a_permission),
    ("delete a permission", delete_a_permission),
]


@pytest.fixture(scope="module")
def outcomes() -> Iterator[dict[str, str | None]]:
    """Run every step once, in order, through the proxy: {step: None, or why it failed}."""
    import asyncio

    with MockDrive(default_state(TOKEN), proxy=True) as server, pytest.MonkeyPatch.context() as env:
        for key in list(os.environ):
            if key.lower() in PROXY_VARIABLES:
                env.delenv(key)
        env.setenv("HTTPS_PROXY", server.url)
        env.setenv("SSL_CERT_FILE", str(server.ca_path))
        env.setenv("REQUESTS_CA_BUNDLE", str(server.ca_path))
        mock = MockDriveFixture(server)
        mock.add_user("Bob", "bob@contoso.example", token=BOB_TOKEN)
        mock.add_user("Carol", "carol@contoso.example")
        # the task's repeat of a single fragment comes with an empty body, which the service
        # refuses (400) and the lenient upload policy answers with the file
        mock.set_policy(lenientUploadSessions=True)
        sdk = SdkClients()  # no base URL: Graph's own
        run = Run(mock, default_client(sdk, TOKEN), default_client(sdk, BOB_TOKEN))
        results: dict[str, str | None] = {}

        async def all_steps() -> None:
            async with sdk:  # their connections closed before the loop is
                for name, step in STEPS:  # a step after a failed one runs, says what it lacks
                    try:
                        await step(run)
                        results[name] = None
                    except Exception:  # reported by the step's own test
                        results[name] = traceback.format_exc()

        asyncio.run(all_steps())
        yield results


@pytest.mark.parametrize("name", [name for name, _ in STEPS])
def test_step(outcomes: dict[str, str | None], name: str):
    assert outcomes[name] is None, outcomes[name]
