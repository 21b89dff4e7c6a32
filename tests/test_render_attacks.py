"""Attacks on the caches of children pages (fragments of earlier pages, download URLs issued
lately): each page read after a change, by another caller, on another host, server or state, or
inside a ``$batch``, must be what a fresh rendering gives now, and the caches must stay bounded."""

from __future__ import annotations

import requests

from mockdrive.api.graph import downloads, render
from mockdrive.scenario.defaults import default_state

URL_KEY = "@microsoft.graph.downloadUrl"


def token_of(entry: dict) -> list[str]:
    """A download URL's token: item id, user id, expiry (epoch seconds), signature."""
    return entry[URL_KEY].split("/download/")[1].split(".")


def children(session: requests.Session, folder_id: str, base: str = "/me/drive") -> list[dict]:
    got = session.get(f"{base}/items/{folder_id}/children")
    assert got.status_code == 200, got.text
    return got.json()["value"]


def assert_page_is_fresh(
    session: requests.Session,
    page: list[dict],
    base: str,
    user_id: str | None = None,
    expires: int | None = None,
) -> None:
    """Each entry is exactly GET of the item for the same caller (download URL included: the
    clock is pinned, so the same caller gets the same URL). GET goes through the same memo of
    download URLs, so with ``user_id`` and ``expires`` each URL is also checked to name that
    caller and to expire then (an hour after the server's clock)."""
    for entry in page:
        if user_id is not None and URL_KEY in entry:
            item_id, user, expiry, _ = token_of(entry)
            assert (item_id, user, int(expiry)) == (entry["id"], user_id, expires)
        got = session.get(f"{base}/items/{entry['id']}")
        assert got.status_code == 200, got.text
        item = got.json()
        item.pop("@odata.context")
        assert entry == item


def test_moving_and_renaming_an_ancestor_two_levels_up_moves_the_page(mock_drive):
    mock_drive.add_file("/A/B/C/x.txt", "x")
    mock_drive.add_file("/A/B/C/D/y.txt", "y")
    mock_drive.add_folder("/Z")
    session = mock_drive.session
    c_id = mock_drive.item("/A/B/C").id
    first = children(session, c_id)
    assert {e["parentReference"]["path"] for e in first} == {"/drive/root:/A/B/C"}
    a_id = mock_drive.item("/A").id
    z_id = mock_drive.item("/Z").id
    moved = session.patch(
        f"/me/drive/items/{a_id}", json={"name": "Ä 2", "parentReference": {"id": z_id}}
    )
    assert moved.status_code == 200, moved.text
    second = children(session, c_id)
    assert {e["parentReference"]["path"] for e in second} == {"/drive/root:/Z/Ä 2/B/C"}
    assert all("/Z/%C3%84%202/B/C/" in e["webUrl"] for e in second)
    assert_page_is_fresh(session, second, "/me/drive")
    # and back: the first fragments' inputs are equal again, and so is the page
    back = session.patch(
        f"/me/drive/items/{a_id}",
        json={"name": "A", "parentReference": {"id": mock_drive.item("/").id}},
    )
    assert back.status_code == 200, back.text
    third = children(session, c_id)
    moving = ("eTag", "lastModifiedDateTime", URL_KEY)  # the writes read the clock
    assert [{k: v for k, v in e.items() if k not in moving} for e in third] == [
        {k: v for k, v in e.items() if k not in moving} for e in first
    ]
    assert_page_is_fresh(session, third, "/me/drive")


def test_callers_in_turn_each_get_their_own_page(mock_drive):
    """Owner, then a reader, then a guest holding an anonymous link, then the owner again read
    the same folder: download URLs name each one's user (none through /shares), a child the
    reader may not see stays hidden from them, and nobody's page shows another's."""
    mock_drive.add_user("Rita Reader", "rita@contoso.example", token="rita-token")
    mock_drive.add_user("Gus Guest", "gus@fabrikam.example", token="gus-token")
    for name in ("one.txt", "two.txt"):
        mock_drive.add_file(f"/Team/{name}", name)
    mock_drive.add_file("/Team/Private/secret.txt", "s")
    mock_drive.stop_inheriting("/Team/Private")
    mock_drive.grant("/Team", "rita@contoso.example", ["read"])
    folder_id = mock_drive.item("/Team").id
    owner, rita = mock_drive.session, mock_drive.session_for("rita@contoso.example")
    base = f"/drives/{mock_drive.drive.id}"

    def urls_by_user(page: list[dict]) -> set[str]:
        return {token_of(e)[1] for e in page if URL_KEY in e}

    first = children(owner, folder_id, base)
    assert {e["name"] for e in first} == {"one.txt", "two.txt", "Private"}
    assert urls_by_user(first) == {mock_drive.owner.id}
    ritas = children(rita, folder_id, base)
    assert {e["name"] for e in ritas} == {"one.txt", "two.txt"}
    assert urls_by_user(ritas) == {mock_drive.user("rita@contoso.example").id}
    assert_page_is_fresh(rita, ritas, base)
    link = owner.post(
        f"{base}/items/{folder_id}/createLink", json={"type": "view", "scope": "anonymous"}
    ).json()
    guest = mock_drive.session_for("gus@fabrikam.example")
    through_link = guest.get(f"/shares/{link['shareId']}/driveItem/children")
    assert through_link.status_code == 200, through_link.text
    assert all(URL_KEY not in e for e in through_link.json()["value"])
    assert "Private" not in {e["name"] for e in through_link.json()["value"]}
    again = children(owner, folder_id, base)
    assert urls_by_user(again) == {mock_drive.owner.id}
    assert_page_is_fresh(owner, again, base)
    assert_page_is_fresh(rita, children(rita, folder_id, base), base)


def test_a_download_url_of_a_cached_page_works_until_its_hour_is_up(mock_drive):
    mock_drive.add_file("/F/a.txt", "alpha")
    session = mock_drive.session
    folder_id = mock_drive.item("/F").id
    first = children(session, folder_id)[0]
    assert requests.get(first[URL_KEY], timeout=10).content == b"alpha"
    assert children(session, folder_id)[0][URL_KEY] == first[URL_KEY]  # the same second
    mock_drive.clock.advance(minutes=59)
    later = children(session, folder_id)[0]
    assert int(token_of(later)[2]) == int(token_of(first)[2]) + 59 * 60
    assert requests.get(first[URL_KEY], timeout=10).content == b"alpha"
    mock_drive.clock.advance(minutes=2)
    assert requests.get(first[URL_KEY], timeout=10).status_code == 404
    fresh = children(session, folder_id)[0]
    assert fresh[URL_KEY] not in (first[URL_KEY], later[URL_KEY])
    assert requests.get(fresh[URL_KEY], timeout=10).content == b"alpha"


def test_a_batch_reads_the_page_before_and_after_its_own_write(mock_drive):
    mock_drive.add_file("/B/a.txt", "alpha")
    folder_id = mock_drive.item("/B").id
    file_id = mock_drive.item("/B/a.txt").id
    url = f"/me/drive/items/{folder_id}/children"
    got = mock_drive.session.post(
        "/$batch",
        json={
            "requests": [
                {"id": "1", "method": "GET", "url": url},
                {
                    "id": "2",
                    "method": "PATCH",
                    "url": f"/me/drive/items/{file_id}",
                    "headers": {"Content-Type": "application/json"},
                    "body": {"name": "renamed.txt", "description": "said"},
                    "dependsOn": ["1"],
                },
                {
                    "id": "3",
                    "method": "PUT",
                    "url": f"/me/drive/items/{file_id}/content",
                    "headers": {"Content-Type": "application/octet-stream"},
                    "body": "bG9uZ2VyIGNvbnRlbnQ=",  # "longer content"
                    "dependsOn": ["2"],
                },
                {"id": "4", "method": "GET", "url": url, "dependsOn": ["3"]},
            ]
        },
    )
    assert got.status_code == 200, got.text
    steps = {r["id"]: r for r in got.json()["responses"]}
    assert [steps[i]["status"] for i in "1234"] == [200, 200, 200, 200], steps
    before, after = steps["1"]["body"]["value"][0], steps["4"]["body"]["value"][0]
    assert (before["name"], before["size"]) == ("a.txt", 5) and "description" not in before
    assert (after["name"], after["size"], after["description"]) == ("renamed.txt", 14, "said")
    assert after["eTag"] == steps["3"]["body"]["eTag"]
    assert after["file"]["hashes"] == steps["3"]["body"]["file"]["hashes"]
    assert_page_is_fresh(mock_drive.session, [after], "/me/drive")


def test_beta_and_v1_pages_agree_and_follow_a_rename(mock_drive):
    mock_drive.add_file("/V/a.txt", "alpha")
    folder_id = mock_drive.item("/V").id
    headers = mock_drive.headers()

    def page(version: str) -> list[dict]:
        got = requests.get(
            f"{mock_drive.url}/{version}/me/drive/items/{folder_id}/children",
            headers=headers,
            timeout=10,
        )
        assert got.status_code == 200, got.text
        return got.json()["value"]

    assert page("v1.0") == page("beta")
    renamed = mock_drive.session.patch(f"/me/drive/items/{folder_id}", json={"name": "W"})
    assert renamed.status_code == 200, renamed.text
    beta = page("beta")
    assert beta[0]["parentReference"]["path"] == "/drive/root:/W"
    assert beta == page("v1.0")


def test_orderby_select_expand_and_paging_follow_a_change(mock_drive):
    for n in range(5):
        mock_drive.add_file(f"/P/f{n}.txt", "x" * n)
    folder_id = mock_drive.item("/P").id
    session = mock_drive.session
    base = f"/me/drive/items/{folder_id}"
    reads = [
        f"{base}/children?$orderby=name desc",
        f"{base}/children?$select=name,size,webUrl",
        f"{base}/children?$top=2",
        f"{base}/children?$top=2&$skiptoken=2",
        f"{base}?$expand=children",
    ]

    def everything() -> list[dict]:
        out = []
        for url in reads:
            got = session.get(url)
            assert got.status_code == 200, got.text
            body = got.json()
            out.append(body.get("value", body.get("children")))
        return out

    everything()  # fragments made by every listing
    f3 = mock_drive.item("/P/f3.txt").id
    assert session.put(f"/me/drive/items/{f3}/content", data=b"changed!").status_code == 200
    bob = mock_drive.add_user("Bob New", "bob@contoso.example")
    mock_drive.server.call(lambda: setattr(mock_drive.item("/P/f3.txt"), "modified_by", bob.id))
    for listing in everything():
        entry = next((e for e in listing if e["id"] == f3), None)
        if entry is None:  # a page of $top=2 without it
            continue
        assert entry["size"] == 8
        if "lastModifiedBy" in entry:
            assert entry["lastModifiedBy"]["user"]["displayName"] == "Bob New"
    ordered = session.get(f"{base}/children?$orderby=name desc").json()["value"]
    assert_page_is_fresh(session, ordered, "/me/drive")


def test_two_servers_with_the_same_ids_never_share_fragments_or_urls(mock_drive, worker_server):
    """Two servers in one process, each with a state of the same seed (the same item ids) but
    other names and bytes: read in turn, each page is its own server's item."""
    mock_drive.add_file("/S/a.txt", "on the fixture's server")
    other_state = default_state("other-token")
    other = worker_server(other_state)
    assert other.call(lambda: other.state) is not mock_drive.state
    other.call(
        lambda: other.state.make_path(
            other.state.default_drive(other.state.user("ada@contoso.example").id),
            "/S/b.txt",
            is_folder=False,
            content=b"on the other",
        )
    )
    mine = mock_drive.session
    theirs = requests.Session()
    theirs.headers["Authorization"] = "Bearer other-token"

    def list_s(session: requests.Session, graph: str) -> list[dict]:
        got = session.get(f"{graph}/me/drive/root:/S:/children")
        assert got.status_code == 200, got.text
        return got.json()["value"]

    for _ in range(2):
        a = list_s(mine, "")
        b = list_s(theirs, other.graph_url)
        assert [e["name"] for e in a] == ["a.txt"] and [e["name"] for e in b] == ["b.txt"]
        assert a[0]["id"] != b[0]["id"] or a[0]["webUrl"] != b[0]["webUrl"]
        assert b[0]["size"] == len(b"on the other")
        assert requests.get(a[0][URL_KEY], timeout=10).content == b"on the fixture's server"
        assert requests.get(b[0][URL_KEY], timeout=10).content == b"on the other"
        assert a[0][URL_KEY].split("/download/")[0] != b[0][URL_KEY].split("/download/")[0]
        # a token of one server is worth nothing on the other
        forged = b[0][URL_KEY].split("/download/")[0] + "/download/"
        crossed = requests.get(forged + a[0][URL_KEY].split("/download/")[1], timeout=10)
        assert crossed.status_code == 404


def test_an_exported_state_reloaded_lists_the_same_pages(mock_drive):
    mock_drive.add_user("Bob Writer", "bob@contoso.example", token="bob-token")
    mock_drive.add_file("/E/a b.txt", "alpha")
    mock_drive.add_file("/E/Sub/c.txt", "c")
    mock_drive.grant("/E/a b.txt", "bob@contoso.example", ["read"])
    session = mock_drive.session
    before = session.get("/me/drive/root:/E:/children").json()["value"]
    scenario = mock_drive.export()
    mock_drive.load(scenario)
    session = mock_drive.session
    after = session.get("/me/drive/root:/E:/children").json()["value"]

    def comparable(page: list[dict]) -> list[dict]:
        return sorted(
            ({k: v for k, v in e.items() if k not in (URL_KEY, "eTag", "cTag")} for e in page),
            key=lambda e: e["name"],
        )

    assert [e["name"] for e in comparable(after)] == ["Sub", "a b.txt"]
    assert comparable(after)[1]["shared"] == {"scope": "users"}
    assert_page_is_fresh(session, after, "/me/drive")
    assert {e["name"]: e["size"] for e in after} == {e["name"]: e["size"] for e in before}


def test_the_caches_stay_bounded_with_many_callers(mock_drive):
    """Fragments are per item, not per item and caller; download URLs are kept for one (key,
    origin, user, expiry) at a time."""
    for n in range(30):
        mock_drive.add_file(f"/M/f{n}.txt", str(n))
    readers = []
    for n in range(6):
        email = f"r{n}@contoso.example"
        mock_drive.add_user(f"R{n}", email, token=f"r{n}-token")
        readers.append(mock_drive.session_for(email))
    mock_drive.grant("/M", "r0@contoso.example", ["read"])
    for n in range(1, 6):
        mock_drive.grant("/M", f"r{n}@contoso.example", ["read"])
    folder_id = mock_drive.item("/M").id
    base = f"/drives/{mock_drive.drive.id}"
    for session in (mock_drive.session, *readers):
        assert len(children(session, folder_id, base)) == 30
    kept = mock_drive.server.call(lambda: len(render._FRAGMENTS.get(mock_drive.state) or {}))
    assert kept <= 30
    assert len(downloads._ISSUED[1]) <= 30


def test_a_reader_who_loses_a_file_loses_it_from_the_page_and_its_url(mock_drive):
    """Rita reads a folder (URLs issued for her), then one file stops inheriting: the same page
    read again at once no longer shows it, nor anything of it, and GET refuses it."""
    mock_drive.add_user("Rita Reader", "rita@contoso.example", token="rita-token")
    mock_drive.add_file("/Team/one.txt", "one")
    mock_drive.add_file("/Team/two.txt", "two")
    mock_drive.grant("/Team", "rita@contoso.example", ["read"])
    rita = mock_drive.session_for("rita@contoso.example")
    base = f"/drives/{mock_drive.drive.id}"
    folder_id = mock_drive.item("/Team").id
    one_id = mock_drive.item("/Team/one.txt").id
    first = children(rita, folder_id, base)
    assert {e["name"] for e in first} == {"one.txt", "two.txt"}
    mock_drive.stop_inheriting("/Team/one.txt")
    again = children(rita, folder_id, base)
    assert [e["name"] for e in again] == ["two.txt"]
    assert one_id not in str(again)
    expanded = rita.get(f"{base}/items/{folder_id}?$expand=children").json()
    assert [e["name"] for e in expanded["children"]] == ["two.txt"]
    assert rita.get(f"{base}/items/{one_id}").status_code in (403, 404)
    assert_page_is_fresh(rita, again, base)


def test_random_writes_and_callers_in_turn_every_page_is_fresh(mock_drive):
    """Differential through HTTP: 300 random steps, each a change (a rename, a move, new bytes,
    a description, a grant, a file that stops inheriting, a person's new name, the clock) or a
    listing (children, $orderby, $expand=children, $top pages) by one of three callers in turn;
    each listed entry must be GET of the item for that caller."""
    import random

    bob = mock_drive.add_user("Bob Writer", "bob@contoso.example", token="bob-token")
    mock_drive.add_user("Rita Reader", "rita@contoso.example", token="rita-token")
    for path in ("/W/A/C/c1.txt", "/W/A/a1.txt", "/W/A/a2.txt", "/W/B/b1.txt", "/W/w1.txt"):
        mock_drive.add_file(path, path)
    mock_drive.grant("/W", "bob@contoso.example", ["write"])
    mock_drive.grant("/W/A", "rita@contoso.example", ["read"])
    base = f"/drives/{mock_drive.drive.id}"
    owner = mock_drive.session
    callers = {
        "owner": owner,
        "bob": mock_drive.session_for("bob@contoso.example"),
        "rita": mock_drive.session_for("rita@contoso.example"),
    }
    ids = {name: mock_drive.user(f"{name}@contoso.example").id for name in ("bob", "rita")}
    ids["owner"] = mock_drive.owner.id
    folders = [mock_drive.item(p).id for p in ("/W", "/W/A", "/W/B", "/W/A/C")]
    files = [mock_drive.item(p).id for p in ("/W/A/C/c1.txt", "/W/A/a1.txt", "/W/A/a2.txt")]
    files += [mock_drive.item(p).id for p in ("/W/B/b1.txt", "/W/w1.txt")]
    rng = random.Random(11)

    def change() -> None:
        kind = rng.choice(["rename", "move", "write", "describe", "grant", "stop", "name", "clock"])
        target = rng.choice(files + folders[1:])
        if kind == "rename":
            got = owner.patch(f"{base}/items/{target}", json={"name": f"n{rng.randrange(99)} ü"})
        elif kind == "move":
            dest = rng.choice(folders)
            got = owner.patch(f"{base}/items/{target}", json={"parentReference": {"id": dest}})
        elif kind == "write":
            writer = callers[rng.choice(["owner", "bob"])]
            got = writer.put(
                f"{base}/items/{rng.choice(files)}/content", data=b"x" * rng.randrange(9)
            )
        elif kind == "describe":
            got = owner.patch(f"{base}/items/{target}", json={"description": str(rng.random())})
        elif kind == "grant":
            got = owner.post(
                f"{base}/items/{target}/invite",
                json={
                    "recipients": [{"email": "rita@contoso.example"}],
                    "roles": ["read"],
                    "requireSignIn": True,
                    "sendInvitation": False,
                },
            )
        elif kind == "stop":
            mock_drive.server.call(
                lambda: setattr(mock_drive.state.store.items[target], "inherits", False)
            )
            return
        elif kind == "name":
            person = rng.choice([bob, mock_drive.owner])  # the owner is named by every item
            name = f"{person.email[:3]} {rng.randrange(5)}"
            mock_drive.server.call(lambda: setattr(person, "display_name", name))
            return
        else:
            mock_drive.clock.advance(minutes=rng.choice([1, 30, 61]))
            return
        # a move into its own subtree or a name taken is refused: the page must still be fresh
        assert got.status_code < 500, got.text

    def listing() -> None:
        name = rng.choice(list(callers))
        session = callers[name]
        folder = rng.choice(folders)
        url = rng.choice(
            [
                f"{base}/items/{folder}/children",
                f"{base}/items/{folder}/children?$orderby=name desc",
                f"{base}/items/{folder}?$expand=children",
                f"{base}/items/{folder}/children?$top=2",
            ]
        )
        got = session.get(url)
        if got.status_code in (403, 404):  # that caller may not read the folder (now)
            return
        assert got.status_code == 200, got.text
        body = got.json()
        entries = body.get("value", body.get("children", []))
        while "@odata.nextLink" in body:
            body = session.get(body["@odata.nextLink"]).json()
            entries += body["value"]
        expires = int(mock_drive.clock.now().timestamp()) + 3600
        assert_page_is_fresh(session, entries, base, ids[name], expires)
        compared.append(len(entries))

    compared: list[int] = []
    for _ in range(300):
        (change if rng.random() < 0.4 else listing)()
    assert len(compared) > 100 and sum(compared) > 150, compared
