"""Attacks on two late changes: a state's deep copy (``model/copying.py``) shares nothing that
can change with the original, served and changed through HTTP either way; and a first delta
round's ``$skiptoken`` (a delta token, a dot, an offset) is refused with Graph's 400 envelope
when tampered with, leaving the state as it was, and resyncs or continues as a deltaLink does."""

from __future__ import annotations

import copy
import json

import pytest
import requests
from conftest import assert_graph_error, follow_delta

from mockdrive.scenario import export_scenario


def _export(state) -> str:
    return json.dumps(export_scenario(state), sort_keys=True)


def _first_page(graph, url: str) -> tuple[str, str]:
    """(the nextLink of a delta walk's first page, its $skiptoken)."""
    body = graph.get(url).json()
    link = body["@odata.nextLink"]
    return link, link.split("$skiptoken=")[1].split("&")[0]


# -- the deep copy ---------------------------------------------------------------------------


def _change_through_http(drive) -> None:
    """Uploads (a whole file and a session left half done), an invitation, a link, a deletion,
    an Entra token and the clock: what a test does to a state it was handed."""
    graph = drive.session
    assert graph.put("/me/drive/root:/copied.txt:/content", data=b"copy").status_code == 201
    session = graph.post("/me/drive/root:/half.bin:/createUploadSession", json={})
    assert session.status_code == 200, session.text
    url = session.json()["uploadUrl"]
    fragment = b"a" * 327680  # 320 KiB: a fragment that is not the last
    part = requests.put(
        url, data=fragment, headers={"Content-Range": "bytes 0-327679/655360"}, timeout=30
    )
    assert part.status_code == 202, part.text
    folder = graph.post(
        "/me/drive/root/children", json={"name": "Shared here", "folder": {}}
    ).json()
    invite = graph.post(
        f"/me/drive/items/{folder['id']}/invite",
        json={"recipients": [{"email": "kim@contoso.example"}], "roles": ["read"],
              "requireSignIn": True, "sendInvitation": True},
    )  # fmt: skip
    assert invite.status_code == 200, invite.text
    link = graph.post(
        f"/me/drive/items/{folder['id']}/createLink", json={"type": "view", "scope": "anonymous"}
    )
    assert link.status_code in (200, 201), link.text
    assert graph.delete(f"/me/drive/items/{folder['id']}").status_code == 204
    drive.refresh_token_for(drive.owner, "04b07795-8ddb-461a-bbee-02f9e1bf7b46")
    drive.token_for(drive.owner)
    drive.clock.advance(days=3)


@pytest.mark.parametrize("changed", ["copy", "original"])
def test_a_copy_and_its_original_served_in_turn_leave_each_other_alone(mock_drive, changed):
    """Serve one of a rich state and its deep copy, change it through HTTP (a fragment into an
    upload session both hold too); the other's export, upload sessions, Entra sign-ins,
    journal, outbox and clock are as they were."""
    from mockdrive.model.uploads import sessions_to_data

    original = mock_drive.load("team")
    graph = mock_drive.session
    graph.get("/me/drive/root/delta?$top=1")  # a token issued: the log is exported
    opened = graph.post("/me/drive/root:/both.bin:/createUploadSession", json={}).json()
    assert graph.put("/me/drive/root:/expiring.txt:/content", data=b"e").status_code == 201
    expiring = {"type": "view", "scope": "anonymous", "expirationDateTime": "2024-01-02T00:00:00Z"}
    made = graph.post("/me/drive/root:/expiring.txt:/createLink", json=expiring)
    assert made.status_code in (200, 201), made.text
    twin = copy.deepcopy(original)
    assert _export(twin) == _export(original)
    served, kept = (twin, original) if changed == "copy" else (original, twin)

    def snapshot() -> tuple:
        return (
            _export(kept),
            json.dumps(sessions_to_data(kept), sort_keys=True, default=str),
            json.dumps(kept.entra.sign_ins_to_data(kept.directory), sort_keys=True, default=str),
            len(kept.journal.entries),
            len(kept.outbox.messages),
            kept.clock.moment(),
        )

    before = snapshot()
    mock_drive.server.reset(served)
    part = requests.put(
        opened["uploadUrl"], data=b"b" * 327680,
        headers={"Content-Range": "bytes 0-327679/655360"}, timeout=30,
    )  # fmt: skip
    assert part.status_code == 202, part.text
    _change_through_http(mock_drive)  # three days on: the link has expired in this state
    mock_drive.onehub_id("/copied.txt")
    left = graph.get("/me/drive/root:/expiring.txt:/permissions").json()["value"]
    assert made.json()["id"] not in {p["id"] for p in left}
    assert _export(served) != before[0]
    assert snapshot() == before
    assert made.json()["id"] in before[0]  # not expired in the state left alone


def test_the_quick_copy_is_the_copy_plain_deepcopy_makes(mock_drive):
    """The model's ``__deepcopy__`` methods, taken away, leave ``copy.deepcopy`` to copy the
    state the slow way: both copies export alike and draw the same ids."""
    from mockdrive.model import clock, delta, entra, grants, identity, tree
    from mockdrive.model.ids import IdFactory

    state = mock_drive.load("team")
    _change_through_http(mock_drive)
    quick = copy.deepcopy(state)
    classes = [tree.Item, tree.Drive, tree.DriveStore, grants.SharingLink, grants.Permission,
               grants.PermissionList, identity.User, identity.Group, identity.Directory,
               delta.Change, delta.ChangeLog, IdFactory, clock.Clock, entra.SignIns]  # fmt: skip
    saved = {cls: cls.__dict__["__deepcopy__"] for cls in classes}
    try:
        for cls in classes:
            delattr(cls, "__deepcopy__")
        slow = copy.deepcopy(state)
    finally:
        for cls, method in saved.items():
            cls.__deepcopy__ = method
    assert _export(quick) == _export(slow) == _export(state)
    assert [quick.ids.guid() for _ in range(3)] == [slow.ids.guid() for _ in range(3)]
    assert quick.clock.moment() == slow.clock.moment() and quick.clock.moved == slow.clock.moved
    for kind in ("refresh_tokens", "auth_codes", "device_codes"):
        ours, theirs = getattr(quick.entra, kind), getattr(slow.entra, kind)
        assert type(ours) is type(theirs) and ours == theirs and ours.chars == theirs.chars
    assert quick.entra.refresh_tokens  # the sign-ins of _change_through_http were copied
    assert quick.uploads.sessions.keys() == slow.uploads.sessions.keys()
    for key, session in quick.uploads.sessions.items():
        assert bytes(session.data) == bytes(slow.uploads.sessions[key].data)


# -- delta walk tokens -----------------------------------------------------------------------


def _many(drive) -> None:
    for n in range(4):
        drive.add_file(f"/Many/f{n}.txt", "x")


def _tampered(skip: str) -> list[str]:
    token, _, offset = skip.rpartition(".")
    middle = len(token) // 2
    return [
        token,  # no offset
        f".{offset}",  # no token
        f"{token}.",  # no number
        f"{token}.-1",
        f"{token}.{'9' * 19}",
        f"{token}.{'9' * 40}",
        f"{token}.\u0663",  # an Arabic-Indic three
        f"{token}.{offset}.{offset}",
        f"{token[:middle]}.{token[middle:]}.{offset}",  # a dot inside the token
        f"{token[:middle]}!{token[middle:]}.{offset}",  # a character base64 does not have
        f"{token}==.{offset}x",
        f"x{token}.{offset}",
        "",
    ]


def test_tampered_skiptokens_are_refused_with_graph_s_400(mock_drive, graph):
    _many(mock_drive)
    _, skip = _first_page(graph, "/me/drive/root/delta?$top=2")
    before = _export(mock_drive.state)
    accepted = []
    for bad in _tampered(skip):
        for name in ("$skiptoken", "$skipToken"):
            answer = graph.get("/me/drive/root/delta", params={"$top": "2", name: bad})
            if answer.status_code != 400:
                accepted.append((name, bad, answer.status_code))
                continue
            assert_graph_error(answer, 400, "invalidRequest")
    assert not accepted
    assert _export(mock_drive.state) == before


def test_a_skiptoken_with_a_token_of_another_state_resyncs(mock_drive, graph):
    _many(mock_drive)
    link, _ = _first_page(graph, "/me/drive/root/delta?$top=2")
    token = mock_drive.token
    assert requests.post(mock_drive.url + "/_mockdrive/reset", timeout=10).status_code == 204
    mock_drive.load({"users": [{"displayName": "Ada", "email": "ada@x.example", "token": token}],
                     "drives": [{"owner": "ada@x.example"}]})  # fmt: skip
    answer = graph.get(link, headers={"Authorization": f"Bearer {token}"})
    assert_graph_error(answer, 410, "resyncRequired")


def test_a_walk_goes_on_across_an_export_and_its_load(mock_drive, graph):
    _many(mock_drive)
    everything, _ = follow_delta(graph, mock_drive.graph_url + "/me/drive/root/delta?$top=2")
    body = graph.get("/me/drive/root/delta?$top=2").json()
    mock_drive.load(mock_drive.export())
    graph = mock_drive.session
    rest, _ = follow_delta(graph, body["@odata.nextLink"])
    assert sorted(e["name"] for e in body["value"] + rest) == sorted(e["name"] for e in everything)


def test_an_offset_past_the_walk_ends_it_with_a_deltalink(mock_drive, graph):
    _many(mock_drive)
    everything, _ = follow_delta(graph, mock_drive.graph_url + "/me/drive/root/delta?$top=2")
    _, skip = _first_page(graph, "/me/drive/root/delta?$top=2")
    token = skip.rpartition(".")[0]
    for offset, expected in (("00000000002", everything[2:4]), ("999999", [])):
        params = {"$top": "2", "$skiptoken": f"{token}.{offset}"}
        answer = graph.get("/me/drive/root/delta", params=params)
        assert answer.status_code == 200, answer.text
        assert [e["id"] for e in answer.json()["value"]] == [e["id"] for e in expected]
    assert "@odata.deltaLink" in answer.json()


def test_a_skiptoken_and_a_token_together(mock_drive, graph):
    _many(mock_drive)
    _, skip = _first_page(graph, "/me/drive/root/delta?$top=2")
    latest = graph.get("/me/drive/root/delta", params={"token": "latest"}).json()
    token = latest["@odata.deltaLink"].split("token=")[1]
    both = graph.get("/me/drive/root/delta", params={"token": token, "$skiptoken": skip})
    assert both.status_code == 200, both.text
    bad = graph.get("/me/drive/root/delta", params={"token": token, "$skiptoken": skip + "x"})
    assert_graph_error(bad, 400, "invalidRequest")


def test_a_tampered_skiptoken_inside_batch_is_its_own_400(mock_drive, graph):
    _many(mock_drive)
    _, skip = _first_page(graph, "/me/drive/root/delta?$top=2")
    requests_ = [
        {"id": str(n), "method": "GET", "url": f"/me/drive/root/delta?$top=2&$skiptoken={bad}"}
        for n, bad in enumerate(_tampered(skip)[:-1])
    ]
    answer = graph.post("/$batch", json={"requests": requests_})
    assert answer.status_code == 200, answer.text
    for response in answer.json()["responses"]:
        assert response["status"] == 400, response
        assert response["body"]["error"]["code"] == "invalidRequest"


def test_walks_left_half_read_do_not_grow_the_export(mock_drive, graph):
    _many(mock_drive)
    graph.get("/me/drive/root/delta?$top=1")
    size = len(_export(mock_drive.state))
    for _ in range(30):
        link, _ = _first_page(graph, "/me/drive/root/delta?$top=1")
        graph.get(link)
    assert len(_export(mock_drive.state)) == size


def test_another_folder_s_skiptoken_pages_only_what_the_caller_sees_here(mock_drive, graph):
    """A skiptoken carries an offset, not a caller or a folder: used elsewhere it pages that
    walk, never more than the caller may see there."""
    _many(mock_drive)
    _, skip = _first_page(graph, "/me/drive/root/delta?$top=2")
    many = mock_drive.item("/Many")
    answer = graph.get(f"/me/drive/items/{many.id}/delta", params={"$top": "2", "$skiptoken": skip})
    assert answer.status_code == 200, answer.text
    assert all(e["name"].startswith("f") for e in answer.json()["value"])


def test_a_subclass_of_a_slotted_class_keeps_what_its_dict_holds(mock_drive):
    """A slotted model class subclassed without ``__slots__`` (a test's own kind of item)
    holds more in a ``__dict__``: the copy has it too, copied, as plain deepcopy gives it."""
    from mockdrive.model.tree import Item

    class Tagged(Item):
        pass

    item = mock_drive.item("/")
    tagged = Tagged.__new__(Tagged)
    for name in Item.__slots__:
        if hasattr(item, name):
            object.__setattr__(tagged, name, getattr(item, name))
    tagged.tags = ["a"]
    twin = copy.deepcopy(tagged)
    assert type(twin) is Tagged and twin.id == item.id
    assert twin.tags == ["a"] and twin.tags is not tagged.tags


def test_a_demo_organisation_s_copy_shares_nothing_mutable_and_exports_alike():
    """The CLI's demo data (Faker people, many items, links): the quick copy exports as the
    state does and shares no dict, list, set, deque, bytearray or model object with it."""
    from test_state_copy import objects

    from mockdrive.demo import demo_scenario
    from mockdrive.scenario import build_state

    state = build_state(demo_scenario(3, 12, 150))
    state.changes.issued = True  # the log goes along in the export
    twin = copy.deepcopy(state)
    assert _export(twin) == _export(state)
    copying = {type(o) for o in objects(state).values() if hasattr(type(o), "__deepcopy__")}
    mutable = (dict, list, set, bytearray, *copying)
    original = {i for i, o in objects(state).items() if isinstance(o, mutable)}
    shared = [o for i, o in objects(twin).items() if i in original]
    assert not shared, shared[:3]


def test_a_deltalink_token_with_a_stray_character_is_refused(mock_drive, graph):
    """base64 drops what is not in its alphabet: a token with a dot or a ``!`` inside was read
    as the token it was made from. Both forms of asking are refused with Graph's 400."""
    link = graph.get("/me/drive/root/delta", params={"token": "latest"}).json()
    token = link["@odata.deltaLink"].split("token=")[1]
    assert graph.get("/me/drive/root/delta", params={"token": token}).status_code == 200
    middle = len(token) // 2
    for bad in (f"{token[:middle]}.{token[middle:]}", f"{token[:middle]}!{token[middle:]}"):
        answer = graph.get("/me/drive/root/delta", params={"token": bad})
        assert_graph_error(answer, 400, "invalidRequest")
        answer = graph.get(f"/me/drive/root/delta(token='{bad}')")
        assert_graph_error(answer, 400, "invalidRequest")
