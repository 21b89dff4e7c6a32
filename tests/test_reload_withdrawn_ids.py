"""A reloaded state never hands out an id its original handed out and then withdrew.

An export carries the seed of its generated ids. A load used to restart the generator from that
seed, skipping only the ids the loaded state holds: so the next link made after a reload could
get the token of a link revoked before the export, and a holder of the old (revoked) URL opened
the new link's item. Each test here makes something, withdraws it, reloads the export
(``GET`` then ``PUT /_mockdrive/state``) and makes the same again: every id a client was given
must be new, and the withdrawn URL must still answer as for nothing.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from conftest import as_user

from mockdrive.scenario import build_state, export_scenario

VIEW_LINK = {"type": "view", "scope": "anonymous"}


def _reload(mock_drive, leave_out: tuple[str, ...] = ()) -> None:
    """Put the state's export back, without its keys ``leave_out``."""
    exported = requests.get(mock_drive.url + "/_mockdrive/state", timeout=30)
    assert exported.status_code == 200, exported.text
    data = {k: v for k, v in exported.json().items() if k not in leave_out}
    loaded = requests.put(mock_drive.url + "/_mockdrive/state", json=data, timeout=30)
    assert loaded.status_code == 200, loaded.text


def _twice(mock_drive, make, withdraw, leave_out: tuple[str, ...] = ()) -> tuple[Any, Any]:
    """What ``make()`` gives in two rounds, each after a reload, the first withdrawn before the
    second reload (which leaves ``leave_out`` out of the export). Both rounds follow a load:
    a generator that started again from the seed at each load drew both from one place."""
    _reload(mock_drive)
    first = make()
    withdraw(first)
    _reload(mock_drive, leave_out)
    return first, make()


def test_a_revoked_links_token_and_id_are_not_handed_out_again(mock_drive, graph):
    mock_drive.add_user("Carol", "carol@contoso.example", token="carol-token")
    mock_drive.add_folder("/Secret")
    mock_drive.add_folder("/Public")
    names = iter(["Secret", "Public"])

    def make() -> dict:
        made = graph.post(f"/me/drive/root:/{next(names)}:/createLink", json=VIEW_LINK)
        assert made.status_code == 201, made.text
        return made.json()

    def withdraw(link: dict) -> None:
        gone = graph.delete(f"/me/drive/root:/Secret:/permissions/{link['id']}")
        assert gone.status_code == 204, gone.text

    revoked, new = _twice(mock_drive, make, withdraw)
    holder = as_user(graph, "carol-token")  # kept the revoked link's URL
    old = holder.get(f"/shares/{revoked['shareId']}/driveItem")
    assert old.status_code == 404, old.text  # not the new link's folder
    assert new["shareId"] != revoked["shareId"]
    assert new["link"]["webUrl"] != revoked["link"]["webUrl"]
    assert new["id"] != revoked["id"]
    assert holder.get(f"/shares/{new['shareId']}/driveItem").json()["name"] == "Public"


def test_a_removed_grants_id_is_not_handed_out_again(mock_drive, graph):
    mock_drive.add_user("Bob", "bob@contoso.example", token="bob-token")
    mock_drive.add_folder("/F")
    body = {"recipients": [{"email": "bob@contoso.example"}], "roles": ["read"]}

    def make() -> dict:
        made = graph.post("/me/drive/root:/F:/invite", json=body)
        assert made.status_code == 200, made.text
        return made.json()["value"][0]

    def withdraw(grant: dict) -> None:
        gone = graph.delete(f"/me/drive/root:/F:/permissions/{grant['id']}")
        assert gone.status_code == 204, gone.text

    removed, new = _twice(mock_drive, make, withdraw)
    assert new["id"] != removed["id"]


def test_a_cancelled_upload_sessions_url_is_not_handed_out_again(mock_drive, graph):
    def make() -> dict:
        made = graph.post("/me/drive/root:/big.bin:/createUploadSession", json={})
        assert made.status_code == 200, made.text
        return made.json()

    def withdraw(session: dict) -> None:
        assert requests.delete(session["uploadUrl"], timeout=10).status_code == 204

    cancelled, new = _twice(mock_drive, make, withdraw)
    assert new["uploadUrl"] != cancelled["uploadUrl"]
    assert requests.get(cancelled["uploadUrl"], timeout=10).status_code == 404


def test_ids_an_export_no_longer_names_are_not_handed_out_again(mock_drive, graph):
    """A deleted item's id stays in the change log's export only for the log's last 100,000
    changes, and a copy monitor's for the last 10,000 copies; an export without either (as one
    edited by hand, or one whose log and monitors moved on) must not give them out again."""
    mock_drive.add_file("/F/a.txt", b"a")
    mock_drive.add_file("/F/b.txt", b"b")

    def make() -> dict[str, str]:
        copied = graph.post("/me/drive/root:/F:/copy", json={"name": "G"})
        assert copied.status_code == 202, copied.text
        listed = graph.get("/me/drive/root:/G:/children").json()["value"]
        ids = {c["name"]: c["id"] for c in listed}
        return {"monitor": copied.headers["Location"], "G": mock_drive.item("/G").id, **ids}

    def withdraw(made: dict[str, str]) -> None:
        assert graph.delete("/me/drive/root:/G").status_code == 204

    gone, new = _twice(mock_drive, make, withdraw, leave_out=("changes", "copyJobs"))
    assert set(new.values()).isdisjoint(gone.values()), (gone, new)
    assert requests.get(gone["monitor"], timeout=10).status_code == 404
    for item_id in (gone["G"], gone["a.txt"], gone["b.txt"]):
        assert graph.get(f"/me/drive/items/{item_id}").status_code == 404


def test_the_outboxs_message_numbers_go_on_after_a_reload(mock_drive, graph):
    """The outbox is not exported, but its numbering is: a reloaded state's first e-mail is
    not numbered 1 again."""
    mock_drive.add_folder("/F")
    body = {"recipients": [{"email": "x@fabrikam.example"}], "roles": ["read"]}
    body["sendInvitation"] = True
    numbers = []
    for _ in range(2):
        assert graph.post("/me/drive/root:/F:/invite", json=body).status_code == 200
        numbers += [message["id"] for message in mock_drive.outbox]
        _reload(mock_drive)
    assert numbers == [1, 2], numbers


def _made_after_loading(mock_drive, graph, exported: dict) -> list[str]:
    loaded = requests.put(mock_drive.url + "/_mockdrive/state", json=exported, timeout=30)
    assert loaded.status_code == 200, loaded.text
    made = graph.post("/me/drive/root:/F:/createLink", json=VIEW_LINK)
    assert made.status_code == 201, made.text
    item = graph.post("/me/drive/root/children", json={"name": "n", "folder": {}})
    assert item.status_code == 201, item.text
    return [made.json()["shareId"], made.json()["id"], item.json()["id"]]


def test_one_export_loaded_twice_hands_out_the_same_ids(mock_drive, graph):
    mock_drive.add_folder("/F")
    exported = mock_drive.export()
    assert exported["ids"]["drawn"] > 0, exported.get("ids")
    first = _made_after_loading(mock_drive, graph, exported)
    assert _made_after_loading(mock_drive, graph, exported) == first
    without = {k: v for k, v in exported.items() if k != "ids"}  # an export made before `ids`
    older = _made_after_loading(mock_drive, graph, without)  # loads, ids from the seed again
    assert older == _made_after_loading(mock_drive, graph, without) != first


def test_bad_ids_counts_are_refused_and_change_nothing(mock_drive):
    mock_drive.add_folder("/F")
    exported = mock_drive.export()
    url = mock_drive.url + "/_mockdrive/state"
    for counts, reason in (
        ({"drawn": -1}, "ids.drawn: must be at least 0"),
        ({"drawn": 2**53}, "ids.drawn: must be at most 9007199254740991"),
        ({"serial": "3"}, "ids.serial: must be"),
        ({"drawn": True}, "ids.drawn: must be"),
        ({"drawn": 1.5}, "ids.drawn: must be"),
        ({"next": 1}, "ids.next: unknown key"),
        ([3], "ids: must be"),
    ):
        refused = requests.put(url, json={**exported, "ids": counts}, timeout=30)
        assert refused.status_code == 400 and reason in refused.text, (counts, refused.text)
        assert mock_drive.export() == exported
    largest = {**exported, "ids": {"drawn": 2**53 - 1, "serial": 2**53 - 1}}
    assert requests.put(url, json=largest, timeout=30).status_code == 200


# a scenario naming its root's id, as an export written before exports carried ``ids`` does
ROOT_NAMED = {
    "seed": 4,
    "users": [{"displayName": "Ada", "email": "ada@contoso.example", "token": "ada-token"}],
    "drives": [
        {
            "owner": "ada@contoso.example",
            "root": {
                "id": "01ROOTOFADASDRIVE00000000000000000",
                "children": [{"name": "a.txt", "file": {}, "content": "a"}],
            },
        }
    ],
}


def test_a_scenario_without_ids_generates_the_ids_it_always_did():
    """The root took a drawn id before the scenario's replaced it; given its id at once, it
    drew none, and every id generated after such a scenario (the demo's, an older export's)
    changed. The ids pinned here are the ones the version before ``ids`` generated."""
    state = build_state(ROOT_NAMED)
    drive = next(iter(state.store.drives.values()))
    made = state.make_path(drive, "/new.txt", is_folder=False, content=b"x")
    assert (made.id, state.ids.guid()) == (
        "01XXSG4N3NHDDDKJC7PUCHS2M6MP427CO2",
        "e3a9312c-a5be-57d9-3fa3-549b71895aa3",
    )
    exported = json.dumps(export_scenario(state))  # and its export reloads as it was
    assert json.dumps(export_scenario(build_state(json.loads(exported)))) == exported
