"""msgraph-sdk as Bob, who writes /Finance but cannot see /Finance/Payroll: delta (first round,
a later round, an item moved out of his view) and copy see only what Bob sees."""

from __future__ import annotations

import pytest
from msgraph.generated.drives.item.items.item.copy.copy_post_request_body import (
    CopyPostRequestBody,
)
from msgraph.generated.models.item_reference import ItemReference
from test_one_view import TEAM

from mockdrive.pytest_plugin import MockDriveFixture

pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]


async def all_pages(builder, first) -> tuple[list, str]:
    """Every item of a delta round through the SDK, following nextLinks: (items, deltaLink)."""
    items, page = [], first
    for _ in range(50):
        items.extend(page.value or [])
        if page.odata_delta_link:
            return items, page.odata_delta_link
        page = await builder.with_url(page.odata_next_link).get()
    raise AssertionError("no deltaLink")


async def test_bob_syncs_finance_with_delta_and_never_sees_payroll(mock_drive: MockDriveFixture):
    mock_drive.load(TEAM)
    finance = mock_drive.item("/Finance")
    client = mock_drive.graph_client("bob@contoso.example")
    delta = client.drives.by_drive_id(finance.drive_id).items.by_drive_item_id(finance.id).delta
    items, link = await all_pages(delta, await delta.get())
    assert sorted(i.name for i in items) == ["Finance", "Q3.xlsx"]

    ada = mock_drive.session
    assert ada.put("/me/drive/root:/Finance/Payroll/Bonus.xlsx:/content", data=b"b").ok
    assert ada.put("/me/drive/root:/Finance/Q4.xlsx:/content", data=b"q4").ok
    items, link = await all_pages(delta, await delta.with_url(link).get())
    assert [i.name for i in items] == ["Finance", "Q4.xlsx"]  # Q4 after the folder above it

    q4 = mock_drive.item("/Finance/Q4.xlsx").id
    payroll = mock_drive.item("/Finance/Payroll").id
    assert ada.patch(f"/me/drive/items/{q4}", json={"parentReference": {"id": payroll}}).ok
    items, _ = await all_pages(delta, await delta.with_url(link).get())
    assert [(i.id, i.deleted is not None, i.name) for i in items] == [(q4, True, None)]


async def test_bob_copies_finance_without_payroll(mock_drive: MockDriveFixture):
    mock_drive.load(TEAM)
    finance, desk = mock_drive.item("/Finance"), mock_drive.item("/Desk")
    client = mock_drive.graph_client("bob@contoso.example")
    items = client.drives.by_drive_id(finance.drive_id).items
    body = CopyPostRequestBody(parent_reference=ItemReference(drive_id=desk.drive_id, id=desk.id))
    await items.by_drive_item_id(finance.id).copy.post(body)
    copy = mock_drive.item("/Desk/Finance")
    children = await items.by_drive_item_id(copy.id).children.get()
    assert [c.name for c in children.value] == ["Q3.xlsx"]
    content = await items.by_drive_item_id(children.value[0].id).content.get()
    assert content == b"q3"
