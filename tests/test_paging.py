"""Paging at the cost of one page, counted rather than timed: reading a listing to its end
touches each item a bounded number of times (a page resumes the walk the previous page paused),
and the pages are the same answers as computing each page afresh from its offset: after the
tree changed between pages, for another caller presenting the link, after a reset, inside
``$batch`` and once the paused walk was evicted."""

from __future__ import annotations

import gc
import weakref
from collections import deque
from collections.abc import Iterator

import pytest
import requests
from conftest import as_user

from mockdrive.api.graph import paging
from mockdrive.model.delta import Change, ChangeLog

FILES = 300
TOP = 25


class CountingChildren(dict):
    """A folder's children that count every child id the walks read (``values()``)."""

    read = 0

    def values(self):
        for value in super().values():
            CountingChildren.read += 1
            yield value


class CountingShared(set):
    """A drive's shared item ids that count every id read."""

    def __iter__(self):
        for value in super().__iter__():
            CountingChildren.read += 1
            yield value


@pytest.fixture
def big(mock_drive):
    """/Big: FILES files (every tenth in a subfolder /Big/sub{i}), each folder counting what
    is read of it; Bob reads /Big, and the files are shared with him one by one."""
    bob = mock_drive.add_user("Bob", "bob@contoso.example")

    def arrange() -> None:
        state, owner, drive = mock_drive.state, mock_drive.owner, mock_drive.drive
        folder = state.make_path(drive, "/Big")
        for i in range(FILES):
            parent = folder
            if i % 10 == 9:
                parent = state.create_item(owner, folder, f"sub{i}", is_folder=True)
            file = state.create_item(owner, parent, f"file{i:04}.txt", is_folder=False,
                                     content=b"x" * (i % 7))  # fmt: skip
            state.grant(file, bob, ["read"])
        state.grant(folder, bob, ["read"])
        for item in list(state.store.iter_subtree(folder)):
            if item.is_folder:
                item.children = CountingChildren(item.children or {})
        state.store.drives[drive.id].shared_item_ids = CountingShared(
            state.store.drives[drive.id].shared_item_ids
        )

    mock_drive.server.call(arrange)
    return mock_drive


LISTINGS = {
    "children": ("ada", "/me/drive/root:/Big:/children"),
    "children by size": ("ada", "/me/drive/root:/Big:/children?$orderby=size desc"),
    "search": ("ada", "/me/drive/root:/Big:/search(q='file')"),
    "delta": ("ada", "/me/drive/root:/Big:/delta"),
    "sharedWithMe": ("bob", "/me/drive/sharedWithMe"),
    "children through a link": ("ada", "/shares/{share}/driveItem/children"),
}


def listing_path(graph: requests.Session, listing: str) -> tuple[str, str]:
    """(who, path) of a listing; through a link: an organization link on /Big, made now."""
    who, path = LISTINGS[listing]
    if "{share}" in path:
        made = graph.post(
            "/me/drive/root:/Big:/createLink", json={"type": "view", "scope": "organization"}
        )
        assert made.status_code == 201, made.text
        path = path.format(share=made.json()["shareId"])
    return who, path


def relative(graph: requests.Session, url: str) -> str:
    assert url.startswith(graph.base_url), url
    return url[len(graph.base_url) :]


def read_pages(graph: requests.Session, path: str) -> tuple[list[str], list[dict], list[int]]:
    """Every page from ``path`` on: (the URLs asked, the bodies, children read per page)."""
    urls, bodies, reads = [], [], []
    next_path: str | None = path + ("&" if "?" in path else "?") + f"$top={TOP}"
    while next_path is not None:
        CountingChildren.read = 0
        response = graph.get(next_path)
        assert response.status_code == 200, response.text[:300]
        reads.append(CountingChildren.read)
        urls.append(next_path)
        bodies.append(strip_links(response.json()))
        link = response.json().get("@odata.nextLink")
        next_path = relative(graph, link) if link else None
    return urls, bodies, reads


def strip_links(body: dict) -> dict:
    """The body without what differs between two reads of one page by design: the deltaLink's
    token (it carries the time it was issued) and the download URLs (signed per request)."""
    body = dict(body)
    if "@odata.deltaLink" in body:
        body["@odata.deltaLink"] = body["@odata.deltaLink"].split("token=")[0]
    body["value"] = [
        {k: v for k, v in entry.items() if k != "@microsoft.graph.downloadUrl"}
        for entry in body["value"]
    ]
    return body


def caller(graph: requests.Session, who: str) -> requests.Session:
    return graph if who == "ada" else as_user(graph, "bob-token")


@pytest.mark.unchecked_rules  # counts the work of each request
@pytest.mark.parametrize("listing", LISTINGS)
def test_reading_a_listing_to_its_end_reads_each_child_a_bounded_number_of_times(
    big, graph, listing
):
    who, path = listing_path(graph, listing)
    _, bodies, reads = read_pages(caller(graph, who), path)
    listed = sum(len(body["value"]) for body in bodies)
    assert listed >= FILES and len(bodies) >= FILES // TOP
    # computing each page from its offset reads O(offset) per page: ~ pages² x TOP / 2 in all;
    # resumed, each child once (search: and each shared item once, for the hits shared below
    # parts the caller cannot see)
    assert sum(reads) <= 2 * FILES + 3 * len(bodies), reads
    assert max(reads[1:]) <= 2 * TOP + 2 or listing in ("delta", "search"), reads


@pytest.mark.parametrize("listing", [
    *(name for name in LISTINGS if "link" not in name),
    # the rule checker expects 401 from a nextLink followed without a token, and /shares answers
    # one that does not admit the caller as a link that does not exist (404)
    pytest.param("children through a link", marks=pytest.mark.unchecked_rules),
])  # fmt: skip
def test_the_pages_are_those_computed_from_each_offset(big, graph, listing):
    who, path = listing_path(graph, listing)
    client = caller(graph, who)
    urls, resumed, _ = read_pages(client, path)
    assert len(urls) > 2
    # asked last page first, no page finds the walk of the page before it: each is computed
    # from its offset
    afresh = []
    for url in reversed(urls):
        response = client.get(url)
        assert response.status_code == 200
        afresh.append(strip_links(response.json()))
    assert resumed == afresh[::-1]


@pytest.mark.parametrize("listing", ["children", "children by size", "search", "delta"])
def test_a_page_after_the_tree_changed_is_the_page_at_that_offset_now(big, graph, listing):
    _, path = LISTINGS[listing]
    first = graph.get(path + ("&" if "?" in path else "?") + f"$top={TOP}").json()
    shown = first["value"]
    # one item of the first page goes, one comes, one later moves up the order
    gone = next(entry for entry in shown if "file" in entry)
    assert graph.delete(f"/me/drive/items/{gone['id']}").status_code == 204
    assert graph.put("/me/drive/root:/Big/file0000a.txt:/content", data=b"new").ok
    assert (
        graph.patch("/me/drive/root:/Big/file0290.txt", json={"name": "afile0290.txt"}).status_code
        == 200
    )
    second = relative(graph, first["@odata.nextLink"])
    resumed = graph.get(second)
    assert resumed.status_code == 200
    afresh = graph.get(second)  # no walk paused at this offset any more
    assert strip_links(resumed.json()) == strip_links(afresh.json())
    names = [entry["name"] for entry in resumed.json()["value"]]
    assert gone["name"] not in names


def test_a_sharing_change_between_pages_gives_the_page_at_that_offset_now(big, graph):
    hidden = big.server.call(lambda: _stop_inheriting_every_third(big))
    bob = as_user(graph, "bob-token")
    path = f"/drives/{big.drive.id}/root:/Big:/children?$top={TOP}"
    first = bob.get(path).json()
    # Bob is given a file that sorts among his first page: everything after it moves down
    given = big.item("/Big/file0003.txt")
    assert given.id in hidden and given.id not in {e["id"] for e in first["value"]}
    invite = {"recipients": [{"email": "bob@contoso.example"}], "roles": ["read"],
              "requireSignIn": True, "sendInvitation": False}  # fmt: skip
    assert graph.post(f"/me/drive/items/{given.id}/invite", json=invite).status_code == 200
    second = relative(graph, first["@odata.nextLink"])
    resumed = bob.get(second).json()["value"]
    everything = bob.get(path.replace(f"$top={TOP}", f"$top={4 * TOP}")).json()["value"]
    assert given.id in {e["id"] for e in everything[:TOP]}
    assert [e["id"] for e in resumed] == [e["id"] for e in everything[TOP : 2 * TOP]]


def test_a_share_removed_between_pages_of_shared_with_me_moves_the_rest_up(big, graph):
    bob = as_user(graph, "bob-token")
    first = bob.get(f"/me/drive/sharedWithMe?$top={TOP}").json()
    taken = first["value"][2]["id"]
    permissions = graph.get(f"/me/drive/items/{taken}/permissions").json()["value"]
    grant = next(p for p in permissions if p.get("grantedToV2", {}).get("user", {}).get(
        "email") == "bob@contoso.example")  # fmt: skip
    assert graph.delete(f"/me/drive/items/{taken}/permissions/{grant['id']}").status_code == 204
    second = relative(graph, first["@odata.nextLink"])
    resumed = bob.get(second).json()["value"]
    everything = bob.get(f"/me/drive/sharedWithMe?$top={4 * TOP}").json()["value"]
    assert taken not in {e["id"] for e in everything}
    assert [e["id"] for e in resumed] == [e["id"] for e in everything[TOP : 2 * TOP]]


@pytest.mark.unchecked_rules  # counts the work of each request
def test_another_caller_presenting_the_link_gets_the_page_of_their_own_view(big, graph):
    hidden = big.server.call(lambda: _stop_inheriting_every_third(big))
    bob = as_user(graph, "bob-token")
    path = f"/drives/{big.drive.id}/root:/Big:/children?$top={TOP}"
    first = graph.get(path).json()
    second = relative(graph, first["@odata.nextLink"])
    theirs = bob.get(second).json()["value"]
    everything = bob.get(path.replace(f"$top={TOP}", f"$top={4 * TOP}")).json()["value"]
    assert [e["id"] for e in theirs] == [e["id"] for e in everything[TOP : 2 * TOP]]
    assert not {e["id"] for e in theirs} & hidden
    # and Ada's own walk is still hers to resume
    CountingChildren.read = 0
    mine = graph.get(second).json()["value"]
    assert CountingChildren.read <= TOP + 1
    assert {e["id"] for e in mine} & hidden


def _stop_inheriting_every_third(drive) -> set[str]:
    """Every third file directly in /Big stops inheriting: Bob, who holds /Big (and his own
    grant on each file), loses those whose grant is removed."""
    state = drive.state
    folder = state.store.resolve(state.store.root(drive.drive), "/Big")
    bob = state.user("bob@contoso.example")
    hidden = set()
    for index, child in enumerate(list(state.store.iter_children(folder))):
        if index % 3 == 0 and not child.is_folder:
            child.inherits = False
            for permission in [p for p in child.permissions if p.holds(bob)]:
                child.permissions.remove(permission)
            hidden.add(child.id)
    state.changed(folder, "sharing")
    return hidden


def test_a_page_after_a_reload_is_the_loaded_states_page(big, graph):
    first = graph.get(f"/me/drive/root:/Big:/children?$top={TOP}").json()
    second = relative(graph, first["@odata.nextLink"])
    exported = big.export()
    listed = exported["drives"][0]["root"]["children"][0]["children"]
    assert listed[3]["name"] == first["value"][3]["name"]
    del listed[3]  # the loaded copy lacks one item of the first page: the rest moves up
    big.load(exported)
    answer = graph.get(second).json()["value"]
    everything = graph.get(f"/me/drive/root:/Big:/children?$top={4 * TOP}").json()["value"]
    assert [e["id"] for e in answer] == [e["id"] for e in everything[TOP : 2 * TOP]]
    assert answer[0]["name"] != first["value"][-1]["name"]


@pytest.mark.unchecked_rules  # counts the work of each request
def test_a_batch_step_resumes_the_walk_of_the_page_before(big, graph):
    first = graph.get(f"/me/drive/root:/Big:/children?$top={TOP}").json()
    second = relative(graph, first["@odata.nextLink"])
    CountingChildren.read = 0
    batch = graph.post("/$batch", json={"requests": [{"id": "1", "method": "GET", "url": second}]})
    assert batch.status_code == 200
    step = batch.json()["responses"][0]
    assert step["status"] == 200
    assert CountingChildren.read <= TOP + 1
    assert strip_links(step["body"]) == strip_links(graph.get(second).json())


@pytest.mark.unchecked_rules  # counts the work of each request
def test_paused_walks_are_capped_and_an_evicted_one_answers_the_same(big, graph, monkeypatch):
    monkeypatch.setattr(paging, "MAX_WALKS", 3)
    links = []
    for text in ("file00", "file01", "file02", "file", "txt"):
        page = graph.get(f"/me/drive/root:/Big:/search(q='{text}')?$top={TOP}").json()
        links.append(relative(graph, page["@odata.nextLink"]))
    assert big.server.call(lambda: paging.paused_walks(big.state)) == 3
    CountingChildren.read = 0
    evicted = graph.get(links[0]).json()
    assert CountingChildren.read > FILES  # walked again from the start
    assert [e["name"] for e in evicted["value"]] == [f"file{i:04}.txt" for i in range(TOP, 2 * TOP)]


@pytest.fixture
def young_heap() -> Iterator[None]:
    """Moves what is alive before the test out of the collector's sight (``gc.freeze``), so
    the test's ``gc.collect()`` scans what the test made, not the whole worker's heap. A frozen
    object still counts as a holder of what it references: this can keep a state alive (a
    failure), never let one go. Requested first, so the test's state is made after it."""
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.mark.unchecked_rules  # the rule checker keeps copies of the states it saw
@pytest.mark.parametrize("listing", LISTINGS)
def test_a_paused_walk_does_not_keep_a_replaced_state_alive(young_heap, big, graph, listing):
    who, path = listing_path(graph, listing)
    client = caller(graph, who)
    first = client.get(path + ("&" if "?" in path else "?") + f"$top={TOP}")
    assert "@odata.nextLink" in first.json()
    old = weakref.ref(big.state)
    assert big.server.call(lambda: paging.paused_walks(big.state)) == 1
    big.server.reset()
    # a connection's last request names the state it was served in until the connection
    # ends: end the clients' connections (a closed session opens new ones when used again),
    # let the server's loop hear them hang up, and collect what they held
    for user in (graph, client):
        user.get("/me/drive")
        user.close()
    gc.collect()
    big.server.call(lambda: None)
    gc.collect()
    alive = old()
    holders = [type(r).__name__ for r in gc.get_referrers(alive)] if alive is not None else []
    assert alive is None, f"the replaced state is held by {holders}"  # its walks go with it


def test_a_skiptoken_past_any_listing_is_refused(big, graph):
    response = graph.get(f"/me/drive/root:/Big:/children?$skiptoken={2**63}")
    assert response.status_code == 400, response.text


class CountingLog(deque):
    """A change log's deque that counts every change read out of it."""

    read = 0

    def __iter__(self):
        for change in super().__iter__():
            CountingLog.read += 1
            yield change

    def __reversed__(self):
        for change in super().__reversed__():
            CountingLog.read += 1
            yield change

    def __getitem__(self, index):
        CountingLog.read += 1
        return super().__getitem__(index)


@pytest.mark.unchecked_rules  # counts the work of each request
def test_reading_delta_from_a_token_to_its_end_reads_each_change_a_bounded_number_of_times(
    mock_drive, graph
):
    latest = graph.get("/me/drive/root/delta?token=latest").json()["@odata.deltaLink"]

    def arrange() -> None:
        state = mock_drive.state
        log = state.changes
        log.changes = CountingLog(log.changes, maxlen=log.changes.maxlen)
        folder = state.make_path(mock_drive.drive, "/Changed")
        for i in range(FILES):
            state.create_item(mock_drive.owner, folder, f"f{i}.txt", is_folder=False)

    mock_drive.server.call(arrange)
    CountingLog.read = 0
    pages, link = 0, relative(graph, latest) + f"&$top={TOP}"
    while link:
        body = graph.get(link).json()
        pages += 1
        link = body.get("@odata.nextLink") and relative(graph, body["@odata.nextLink"])
    assert pages >= FILES // TOP
    # from the end of the log back to each page's token: ~ pages x FILES / 2 in all
    assert CountingLog.read <= 2 * FILES + 5 * pages, CountingLog.read


def test_the_change_log_is_read_from_the_token_on():
    log = ChangeLog()
    for serial in (3, 4, 5, 9, 12):  # a loaded log may have gaps
        log.changes.append(Change(serial, f"i{serial}", "d", (), "item", "n", None))
    assert [c.serial for c in log.since(0)] == [3, 4, 5, 9, 12]
    assert [c.serial for c in log.since(4)] == [5, 9, 12]
    assert [c.serial for c in log.since(6)] == [9, 12]
    assert list(log.since(12)) == []
    lazy = log.since(3)
    assert next(lazy).serial == 4


def test_the_change_log_read_from_a_token_is_what_the_log_keeps_after_it():
    log = ChangeLog()
    log.changes = deque(maxlen=7)  # a short log: changes drop out as they are recorded
    for serial in range(1, 60):
        log.changes.append(Change(serial, f"i{serial}", "d", (), "item", "n", None))
        if serial % 3:
            continue
        for token in range(0, serial + 1):
            expected = [c.serial for c in log.changes if c.serial > token]
            assert [c.serial for c in log.since(token)] == expected, (serial, token)
    log.changes = deque([Change(2, "i", "d", (), "item", "n", None)])  # a log loaded anew
    assert [c.serial for c in log.since(0)] == [2]


class HandMovedWall:
    """A monotonic source for a clock that follows the wall, moved by hand."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


@pytest.mark.unchecked_rules  # counts the work of each request
@pytest.mark.parametrize("listing", ["children", "search", "delta"])
def test_a_clock_following_the_wall_keeps_the_walk_resumable(big, graph, listing):
    """The CLI's and MockDrive's default clock follows the wall: seconds passing between pages
    (no request changed anything) must not turn each page back into a walk from the start."""
    wall = HandMovedWall()
    big.server.call(lambda: big.state.clock.follow_wall(wall))
    who, path = listing_path(graph, listing)
    client = caller(graph, who)
    next_path: str | None = path + ("&" if "?" in path else "?") + f"$top={TOP}"
    reads = []
    while next_path is not None:
        wall.seconds += 5
        CountingChildren.read = 0
        response = client.get(next_path)
        assert response.status_code == 200, response.text[:300]
        reads.append(CountingChildren.read)
        link = response.json().get("@odata.nextLink")
        next_path = relative(client, link) if link else None
    assert len(reads) >= FILES // TOP
    assert sum(reads) <= 2 * FILES + 3 * len(reads), reads
