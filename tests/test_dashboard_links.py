"""The dashboard shows sharing links and the virtual clock, and advances the clock."""

from __future__ import annotations

from datetime import date

import requests
from test_dashboard import effective, node, page, tree  # noqa: F401 (fixtures)


def make_link(mock_drive, path: str, body: dict) -> dict:
    response = requests.post(
        f"{mock_drive.graph_url}/me/drive/root:{path}:/createLink",
        json=body,
        headers=mock_drive.headers(),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_tree_and_overview_show_links_and_the_clock(mock_drive):
    mock_drive.add_file("/Finance/Q3.xlsx", "q3")
    mock_drive.add_user("Bob", "bob@contoso.example")
    link = make_link(
        mock_drive,
        "/Finance",
        {"type": "view", "scope": "users", "recipients": [{"email": "bob@contoso.example"}]},
    )
    shown = next(p for p in effective(tree(mock_drive), "Finance") if p["id"] == link["id"])
    assert shown["grantee"] == {
        "kind": "link",
        "name": "users view link",
        "email": link["link"]["webUrl"],
    }
    assert shown["link"]["members"] == ["bob@contoso.example"] and "pending" not in shown
    below = tree(mock_drive, item=mock_drive.item("/Finance").id)
    inherited = next(p for p in effective(below, "Q3.xlsx") if p["id"] == link["id"])
    assert inherited["inheritedFrom"]["path"] == "/Finance"
    overview = requests.get(mock_drive.url + "/_mockdrive/dashboard/overview", timeout=10).json()
    assert overview["linkCount"] == 1 and overview["clock"].startswith("2024-01-01T")


def test_browser_shows_a_link_and_advances_the_clock(mock_drive, page):  # noqa: F811
    from playwright.sync_api import expect

    mock_drive.add_folder("/Finance")
    make_link(
        mock_drive,
        "/Finance",
        {"type": "edit", "scope": "anonymous", "expirationDateTime": "2024-01-02T12:00:00Z"},
    )
    page.goto(mock_drive.url + "/")
    chip = node(page, "/Finance").locator(":scope > .row .perm.link")
    expect(chip).to_have_text("anonymous edit link · write")
    expect(page.locator("#clock")).to_contain_text("clock 2024-01-01T")
    page.click("#clock-advance")
    expect(page.locator("#clock")).to_contain_text("clock 2024-01-02T")
    expect(chip).to_have_count(1)
    page.click("#clock-advance")  # past the expiration: the link is gone
    expect(page.locator("#clock")).to_contain_text("clock 2024-01-03T")
    expect(chip).to_have_count(0)
    assert mock_drive.clock.now().date() == date(2024, 1, 3)
