"""Attacks on what a state forgets when a permission goes, and on the clock's heap rebuild."""

from __future__ import annotations

from datetime import datetime, timedelta

from mockdrive.model.clock import COMPACT_FROM

SHARING = {"Prefer": "deltashowsharingchanges"}


def ok(response) -> dict:
    assert response.status_code < 300, response.text
    return response.json() if response.content else {}


def at(today: datetime, hours: int) -> str:
    return (today + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def delta_names(graph, link: str) -> tuple[list[str], str]:
    names, url = [], link
    while True:
        page = ok(graph.get(url, headers=SHARING))
        names += [entry.get("name") for entry in page["value"]]
        if "@odata.nextLink" not in page:
            return names, page["@odata.deltaLink"]
        url = page["@odata.nextLink"]


def run_late_expiry(mock_drive, graph, rebuild: bool) -> list[str]:
    for name in ("a.txt", "b.txt", "c.txt"):
        ok(graph.put(f"/me/drive/root:/{name}:/content", data=b"x"))
    today = mock_drive.clock.now()
    links = {}
    for name in ("a.txt", "b.txt", "c.txt"):
        links[name] = ok(graph.post(f"/me/drive/root:/{name}:/createLink",
                                    json={"type": "view", "scope": "anonymous"}))  # fmt: skip

    def expire(name: str, hours: int) -> None:
        ok(graph.patch(f"/me/drive/root:/{name}:/permissions/{links[name]['id']}",
                       json={"expirationDateTime": at(today, hours)}))  # fmt: skip

    expire("a.txt", 24)
    expire("a.txt", 72)  # a's deadline moves after b's
    expire("b.txt", 48)
    if rebuild:  # c's deadline replaced until the heap is rebuilt
        for n in range(2 * COMPACT_FROM):
            expire("c.txt", 100 + n)
    _, link = delta_names(graph, "/me/drive/root/delta")
    mock_drive.clock.advance(days=3, hours=1)
    names, _ = delta_names(graph, link)
    return [name for name in names if name in ("a.txt", "b.txt")]


def test_a_link_whose_expiry_moved_later_expires_after_one_due_before_it(mock_drive, graph):
    assert run_late_expiry(mock_drive, graph, rebuild=False) == ["b.txt", "a.txt"]


def test_rebuilt_heap_expires_in_the_same_order(mock_drive, graph):
    assert run_late_expiry(mock_drive, graph, rebuild=True) == ["b.txt", "a.txt"]
