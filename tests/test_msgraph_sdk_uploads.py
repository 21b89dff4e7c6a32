"""msgraph-core's ``LargeFileUploadTask``, unchanged, uploading through an upload session.

The task reads the end of ``nextExpectedRanges[0]`` ("5242880-8388607", the service's form once
the file's size is known); from the open-ended form ("5242880-") it cannot build its next
Content-Range and stops after the first fragment.
"""

from __future__ import annotations

import io
import os
from datetime import datetime, timezone

import pytest
from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph.generated.drives.item.items.item.create_upload_session.create_upload_session_post_request_body import (  # noqa: E501
    CreateUploadSessionPostRequestBody,
)
from msgraph.generated.models.drive_item import DriveItem
from msgraph.generated.models.drive_item_uploadable_properties import (
    DriveItemUploadableProperties,
)
from msgraph_core.tasks.large_file_upload import LargeFileUploadTask
from test_msgraph_sdk import SdkClients

from mockdrive.model.hashes import quick_xor_hash
from mockdrive.pytest_plugin import MockDriveFixture

pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]

DEFAULT_CHUNK = 5 * 1024 * 1024  # the task's default max_chunk_size (16 times 320 KiB)


class GraphOnlyToken(AccessTokenProvider):
    """The token for Graph's routes, none for the uploadUrl. The service's uploadUrl is on
    another host than Graph's, one the SDK's allowed hosts do not name, so the SDK sends no
    token there; on the mock both share a host, so the provider tells them apart by path."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def get_authorization_token(self, uri, additional_authentication_context=None) -> str:
        return "" if "/up/" in uri else self.token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator([])


def bring_clock_to_wall_time(mock_drive: MockDriveFixture) -> None:
    """The task compares the session's expirationDateTime with its own wall clock and refuses a
    session it thinks expired before sending a byte. Move the mock's clock forward to the
    present (never back: where it already reads wall time, this changes nothing)."""
    reading = mock_drive.clock.advance(seconds=0)
    mock_now = datetime.fromisoformat(str(reading).replace("Z", "+00:00"))
    gap = (datetime.now(timezone.utc) - mock_now).total_seconds()
    if gap > 0:
        mock_drive.clock.advance(seconds=gap)


async def sdk_upload(
    mock_drive: MockDriveFixture, path: str, data: bytes, chunk: int, lenient: bool = False
) -> None:
    """Open a session with the SDK and run the task over ``data``.

    After the last fragment has completed the file, msgraph-core 1.x sends the last range once
    more (its loop ends with an unconditional ``last_chunk``). Of a file of several fragments it
    repeats the bytes, which mockdrive answers with the file (200); of a file of one fragment it
    sends no bytes, which the service refuses with 400 (msgraph-sdk-python-core issue 718) and
    the lenient policy answers with the file. The upload itself must go through whole either
    way, which the caller checks."""
    if lenient:
        mock_drive.set_policy(lenientUploadSessions=True)
    bring_clock_to_wall_time(mock_drive)
    async with SdkClients(mock_drive.graph_url) as sdk:
        client = sdk(BaseBearerTokenAuthenticationProvider(GraphOnlyToken(mock_drive.token)))
        body = CreateUploadSessionPostRequestBody(
            item=DriveItemUploadableProperties(
                additional_data={"@microsoft.graph.conflictBehavior": "replace"}
            )
        )
        items = client.drives.by_drive_id(mock_drive.drive.id).items
        session = await items.by_drive_item_id(f"root:{path}:").create_upload_session.post(body)
        assert session is not None and session.next_expected_ranges == ["0-"]
        task = LargeFileUploadTask(
            session, client.request_adapter, io.BytesIO(data), DriveItem, max_chunk_size=chunk
        )
        refused = len(data) <= chunk and not lenient  # the empty repeat, as the service answers it
        if refused:
            with pytest.raises(APIError) as error:
                await task.upload()
            assert error.value.response_status_code == 400
        else:
            result = await task.upload()
            assert result.item_response.id == mock_drive.item(path).id
    statuses = [e["status"] for e in mock_drive.requests if e["path"].startswith("/up/")]
    completed = statuses.index(201)  # the fragment that completed the file
    assert set(statuses[:completed]) <= {202}, statuses  # every fragment before it accepted
    assert statuses[completed + 1 :] == [400 if refused else 200], statuses


@pytest.mark.parametrize(
    ("size", "lenient"),
    [
        (1_000_000, False),  # one fragment, then its empty repeat refused
        (1_000_000, True),  # one fragment, its empty repeat answered
        (DEFAULT_CHUNK + 3 * 1024 * 1024 + 123, False),  # two: 5 MiB, then the rest
    ],
)
async def test_the_sdk_uploads_a_large_file_whole(
    mock_drive: MockDriveFixture, size: int, lenient: bool
):
    data = os.urandom(size)
    await sdk_upload(mock_drive, "/Uploads/big.bin", data, DEFAULT_CHUNK, lenient)
    item = mock_drive.item("/Uploads/big.bin")
    assert item.content == data
    listed = mock_drive.session.get(f"{mock_drive.graph_url}/me/drive/root:/Uploads/big.bin")
    assert listed.json()["size"] == size
    assert listed.json()["file"]["hashes"]["quickXorHash"] == quick_xor_hash(data)


async def test_the_sdk_uploads_in_many_fragments_under_the_lenient_policy(
    mock_drive: MockDriveFixture,
):
    # From its second fragment on, the task sends one byte more than max_chunk_size (its end
    # is inclusive), which is no multiple of 320 KiB: the service's rule refuses it, the
    # lenient policy takes it.
    data = os.urandom(3 * 1024 * 1024 + 5)
    await sdk_upload(mock_drive, "/many.bin", data, 1024 * 1024, lenient=True)
    assert mock_drive.item("/many.bin").content == data
