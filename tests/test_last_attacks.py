"""Attacks on the last merged surface: query options without ``$``, the drive search's shared
part, the copy and upload quota, exported sign-ins. Each test talks HTTP to a real mockdrive."""

from __future__ import annotations

from collections import Counter

import requests
from conftest import as_user


def _bobs_plans(mock_drive):
    bob = mock_drive.add_user("Bob", "bob@contoso.example")
    theirs = mock_drive.add_drive(bob, drive_type="business", name="OneDrive")
    mock_drive.add_file("/Plans/Sub plan/inner plan.txt", "x", drive=theirs)
    return bob, theirs


def test_a_drive_search_lists_a_nested_share_once(mock_drive, graph):
    """A folder shared after a folder inside it (both with the caller): each hit once."""
    _bobs_plans(mock_drive)
    as_bob = as_user(graph, "bob-token")
    recipient = {"recipients": [{"email": mock_drive.owner.email}], "roles": ["read"],
                 "requireSignIn": True, "sendInvitation": False}  # fmt: skip
    for path in ("/Plans/Sub plan", "/Plans"):  # the inner folder shared first
        response = as_bob.post(f"/me/drive/root:{path}:/invite", json=recipient)
        assert response.status_code == 200, response.text
        mock_drive.clock.advance(seconds=5)
    found = [hit["name"] for hit in graph.get("/me/drive/search(q='plan')").json()["value"]]
    assert Counter(found) == {"Plans": 1, "Sub plan": 1, "inner plan.txt": 1}, found


def test_a_drive_search_shows_nothing_the_caller_cannot_see(mock_drive, graph):
    """Unshared, link-only, a group left, a child that stops inheriting: none is a hit."""
    _, theirs = _bobs_plans(mock_drive)
    mock_drive.add_file("/Gone plan.txt", "x", drive=theirs)
    mock_drive.add_file("/Link plan.txt", "x", drive=theirs)
    mock_drive.add_file("/Group plan.txt", "x", drive=theirs)
    as_bob = as_user(graph, "bob-token")
    gone = mock_drive.grant("/Gone plan.txt", mock_drive.owner, ["read"], drive=theirs)
    mock_drive.grant("/Plans", mock_drive.owner, ["read"], drive=theirs)
    mock_drive.stop_inheriting("/Plans/Sub plan", drive=theirs)
    group = mock_drive.add_group("Planners", [mock_drive.owner])
    mock_drive.grant("/Group plan.txt", group, ["read"], drive=theirs)
    link = as_bob.post("/me/drive/root:/Link plan.txt:/createLink", json={"type": "view"})
    assert link.status_code in (200, 201), link.text
    item = as_bob.get("/me/drive/root:/Gone plan.txt:").json()
    deleted = as_bob.delete(f"/me/drive/items/{item['id']}/permissions/{gone.id}")
    assert deleted.status_code == 204, deleted.text

    def leave() -> None:  # the directory has no route for it: the member leaves in place
        group.member_ids.clear()
        mock_drive.state.directory.users[mock_drive.owner.id].group_ids.discard(group.id)

    mock_drive.server.call(leave)
    found = [hit["name"] for hit in graph.get("/me/drive/search(q='plan')").json()["value"]]
    assert found == ["Plans"], found


def _grant(exported: dict, value: str, **extra) -> dict:
    user = exported["users"][0]
    return {"value": value, "userId": user["id"], "upn": user["email"], "clientId": "c",
            "scopes": ["Files.Read"], "expires": "2030-01-01T00:00:00Z", **extra}  # fmt: skip


def _load_sign_ins(mock_drive, exported: dict, sign_ins: dict) -> requests.Response:
    return requests.put(mock_drive.url + "/_mockdrive/state",
                        json={**exported, "signIns": sign_ins}, timeout=60)  # fmt: skip


def test_a_loaded_state_keeps_every_sign_in_it_was_given_or_is_refused(mock_drive):
    """More refresh tokens than the table keeps (or more text) is a 400 with nothing changed,
    not a 200 that silently dropped the oldest; a scope entry holding two words is refused, not
    stored as two, nor one named twice stored once (the export would no longer be what
    was loaded)."""
    exported = requests.get(mock_drive.url + "/_mockdrive/state", timeout=10).json()
    many = [_grant(exported, f"rt{n}") for n in range(10_001)]
    wide = [_grant(exported, "wide", clientId="c" * 1_000_001)]
    two = [_grant(exported, "two", scopes=["Files.Read Files.ReadWrite"])]
    twice = [_grant(exported, "twice", scopes=["Files.Read", "Files.Read"])]
    for bad in (many, wide, two, twice):
        answer = _load_sign_ins(mock_drive, exported, {"refreshTokens": bad})
        assert answer.status_code == 400, answer.text[:300]
        assert answer.json()["error"]["code"] == "invalidRequest"
    after = requests.get(mock_drive.url + "/_mockdrive/state", timeout=10).json()
    assert after == exported
    fits = [_grant(exported, f"rt{n}") for n in range(10_000)]
    assert _load_sign_ins(mock_drive, exported, {"refreshTokens": fits}).status_code == 200
    again = requests.get(mock_drive.url + "/_mockdrive/state", timeout=30).json()
    assert [t["value"] for t in again["signIns"]["refreshTokens"]] == [t["value"] for t in fits]


def test_a_drive_search_drops_a_shared_item_its_owner_deleted(mock_drive, graph):
    """A shared folder its owner deleted (to the recycle bin) is no hit, nor what was in it."""
    _, theirs = _bobs_plans(mock_drive)
    mock_drive.grant("/Plans", mock_drive.owner, ["read"], drive=theirs)
    as_bob = as_user(graph, "bob-token")
    assert as_bob.delete("/me/drive/root:/Plans:").status_code == 204
    found = [hit["name"] for hit in graph.get("/me/drive/search(q='plan')").json()["value"]]
    assert found == [], found
    shared = graph.get("/me/drive/sharedWithMe").json()["value"]
    assert shared == []


def test_a_scope_word_repeated_is_kept_once(mock_drive):
    """At most 50 scopes a request: the same word 5,000 times is not 5,000 words kept in a
    device code (and its export)."""
    answer = requests.post(f"{mock_drive.url}/common/oauth2/v2.0/devicecode",
                           data={"client_id": "cli", "scope": "Files.Read " * 5_000},
                           timeout=10)  # fmt: skip
    assert answer.status_code in (200, 400), answer.text[:300]
    exported = requests.get(mock_drive.url + "/_mockdrive/state", timeout=10).json()
    kept = exported.get("signIns", {}).get("deviceCodes", [])
    assert all(len(device["scopes"]) <= 50 for device in kept), [len(d["scopes"]) for d in kept]


def test_a_folder_search_keeps_to_the_folder_whatever_its_path_spells(mock_drive, graph):
    """A folder at the path ``/drives/x`` or ``/drive`` is searched as a folder: only what is
    below it, not the drive-wide search with what others shared."""
    _, theirs = _bobs_plans(mock_drive)
    mock_drive.grant("/Plans", mock_drive.owner, ["read"], drive=theirs)
    mock_drive.add_file("/drives/x/my plan.txt", "x")
    mock_drive.add_file("/drive/our plan.txt", "x")
    for path, mine in (("/drives/x", "my plan.txt"), ("/drive", "our plan.txt")):
        answer = graph.get(f"/me/drive/root:{path}:/search(q='plan')")
        assert answer.status_code == 200, answer.text
        assert [hit["name"] for hit in answer.json()["value"]] == [mine]


def test_a_skip_token_sent_with_its_dollar_wins_over_a_bare_one_in_either_case(mock_drive, graph):
    """``$skipToken`` and ``$skiptoken`` are one option: a bare ``skiptoken`` beside the
    client's ``$skipToken`` stays a custom option, as any bare name beside its ``$`` form."""
    for n in range(3):
        mock_drive.add_file(f"/F/f{n}.txt", "x")
    answer = graph.get("/me/drive/root:/F:/children?$top=1&$skipToken=2&skiptoken=0")
    assert answer.status_code == 200, answer.text
    assert [hit["name"] for hit in answer.json()["value"]] == ["f2.txt"]
    bare = graph.get("/me/drive/root:/F:/children?$top=1&$skiptoken=2&skipToken=0")
    assert [hit["name"] for hit in bare.json()["value"]] == ["f2.txt"]


def test_a_next_link_keeps_the_option_value_the_page_was_read_with(mock_drive, graph):
    """An option given twice is read by its first value (``select=name&select=size``, as the
    bare forms make easy to send): the nextLink and the deltaLink carry that value too, so each
    page is shaped as the first."""
    for n in range(3):
        mock_drive.add_file(f"/F/f{n}.txt", "x")
    first = graph.get("/me/drive/root:/F:/children?select=name&select=size&top=1").json()
    second = graph.get(first["@odata.nextLink"]).json()
    assert set(first["value"][0]) == set(second["value"][0]) == {"id", "name"}
    delta = graph.get("/me/drive/root/delta?select=name&select=size&top=1").json()
    after = graph.get(delta["@odata.nextLink"]).json()
    assert set(after["value"][0]) == {"id", "name"}, after
    while "@odata.nextLink" in after:
        after = graph.get(after["@odata.nextLink"]).json()
    mock_drive.add_file("/F/new.txt", "x")
    changed = graph.get(after["@odata.deltaLink"]).json()["value"]
    assert changed and all(set(entry) <= {"id", "name"} for entry in changed), changed


def test_a_drive_search_pages_across_what_others_shared_and_the_drive(mock_drive, graph):
    """One hit a page: every hit of the whole search once, the shared part then the drive."""
    _, theirs = _bobs_plans(mock_drive)
    mock_drive.grant("/Plans", mock_drive.owner, ["read"], drive=theirs)
    mock_drive.grant("/Plans/Sub plan", mock_drive.owner, ["write"], drive=theirs)
    mock_drive.add_file("/My plan.txt", "x")
    whole = [hit["name"] for hit in graph.get("/me/drive/search(q='plan')").json()["value"]]
    paged, url = [], "/me/drive/search(q='plan')?top=1"
    while url:
        answer = graph.get(url).json()
        paged += [hit["name"] for hit in answer["value"]]
        url = answer.get("@odata.nextLink")
    assert paged == whole
    assert Counter(whole) == {"Plans": 1, "Sub plan": 1, "inner plan.txt": 1, "My plan.txt": 1}
