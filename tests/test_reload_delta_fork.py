"""Delta tokens across a reload: a loaded state's history forks at its first change.

An export names the state's generation and position once a delta token was handed out, and a
load keeps them, so that the tokens go on working. But the original (or another load of the
same export) goes on making changes under the same serial numbers: at its first change a
loaded state takes a generation of its own and keeps the one it was loaded with as an ancestor,
valid up to the serial it forked at (``model/delta.py``, ``ChangeLog.fork``). A token of the
shared history still works; a token of what another copy did after the export resyncs (410),
so its holder is never told "nothing changed" about changes the reload undid.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from conftest import assert_graph_error

from mockdrive.model.delta import MAX_ANCESTORS
from mockdrive.model.ids import EPOCH, format_time
from mockdrive.server import MockDrive


def _delta_names(graph, link: str) -> tuple[list[str], str]:
    """The names a delta round from ``link`` reports, and its deltaLink."""
    names: list[str] = []
    while True:
        page = graph.get(link)
        assert page.status_code == 200, page.text
        data = page.json()
        names += [entry["name"] for entry in data["value"]]
        if "@odata.deltaLink" in data:
            return names, data["@odata.deltaLink"]
        link = data["@odata.nextLink"]


def _upload(graph, name: str) -> None:
    answer = graph.put(f"/me/drive/root:/{name}:/content", data=name.encode())
    assert answer.status_code == 201, answer.text


def _generation(link: str) -> int:
    """The generation a deltaLink's token names."""
    token = link.rsplit("token=", 1)[1]
    return int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).split(b".")[0])


def _state_url(url: str) -> str:
    return url + "/_mockdrive/state"


def _reload(url: str, exported: bytes) -> None:
    loaded = requests.put(_state_url(url), data=exported, timeout=30)
    assert loaded.status_code == 200, loaded.text


def _export(url: str) -> bytes:
    exported = requests.get(_state_url(url), timeout=30)
    assert exported.status_code == 200, exported.text
    return exported.content


def test_a_delta_link_of_changes_made_after_the_export_resyncs_after_a_reload(mock_drive, graph):
    """The holder of a deltaLink that already covers a change the reload undid (and not the
    change made since) was told nothing changed: its view keeps a file that is gone and never
    gets the new one."""
    _, before = _delta_names(graph, "/me/drive/root/delta")
    exported = mock_drive.export()  # names the changes' generation: a token was handed out
    assert graph.put("/me/drive/root:/undone.txt:/content", data=b"x").status_code == 201
    names, after = _delta_names(graph, before)
    assert names == ["root", "undone.txt"]  # each change after the folder above it
    mock_drive.load(exported)
    assert graph.put("/me/drive/root:/new.txt:/content", data=b"y").status_code == 201
    answer = graph.get(after)
    if answer.status_code == 200:  # a round from it must at least report the new file
        assert "new.txt" in [entry["name"] for entry in answer.json()["value"]], answer.text
    else:
        assert answer.status_code == 410, answer.text  # resyncRequired


def test_a_token_taken_after_the_load_reports_the_loaded_states_first_change(mock_drive, graph):
    """A token of the loaded state before it changed names history it shares with the
    original: after its first change (the fork) the token still works and reports it."""
    _upload(graph, "a.txt")
    _delta_names(graph, "/me/drive/root/delta")
    mock_drive.load(mock_drive.export())
    _, taken = _delta_names(graph, "/me/drive/root/delta")
    _upload(graph, "b.txt")
    names, after = _delta_names(graph, taken)
    assert names == ["root", "b.txt"]
    assert _generation(after) != _generation(taken)  # the loaded state's own from now on
    _upload(graph, "c.txt")
    assert _delta_names(graph, after)[0] == ["root", "c.txt"]


def test_a_token_taken_before_the_export_reports_the_changes_on_both_sides_of_it(mock_drive, graph):
    _, before = _delta_names(graph, "/me/drive/root/delta")
    _upload(graph, "kept.txt")
    mock_drive.load(mock_drive.export())
    _upload(graph, "new.txt")
    names, _ = _delta_names(graph, before)
    assert sorted(names) == ["kept.txt", "new.txt", "root"]


@pytest.mark.parametrize("where", ["the same server", "another server"])
def test_the_originals_token_of_changes_after_the_export_resyncs_on_the_copy(
    mock_drive, graph, where
):
    """The original changes after its export and hands out a token of that change; the copy
    makes as many changes and more. The token is the original's alone: 410 on the copy, before
    and after the copy's changes, for a deltaLink and for a first round's nextLink (a
    ``$skiptoken``), while a token from before the export still reports the copy's changes."""
    for name in ("a.txt", "b.txt"):
        _upload(graph, name)
    _, before = _delta_names(graph, "/me/drive/root/delta")
    exported = _export(mock_drive.url)
    _upload(graph, "undone.txt")
    _, after = _delta_names(graph, before)
    first_page = graph.get("/me/drive/root/delta?$top=1").json()["@odata.nextLink"]
    other = MockDrive(clock=format_time(EPOCH)).start() if where == "another server" else None
    try:
        url = other.url if other is not None else mock_drive.url
        _reload(url, exported)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {mock_drive.token}"

        def on_copy(link: str) -> requests.Response:
            return session.get(link.replace(mock_drive.url, url), timeout=30)

        error = assert_graph_error(on_copy(after), 410, "resyncRequired")
        assert "changes this state does not have" in error["message"]  # not "a reset"
        for name in ("new.txt", "other.txt"):
            made = session.put(f"{url}/v1.0/me/drive/root:/{name}:/content", data=b"n", timeout=30)
            assert made.status_code == 201, made.text
        error = assert_graph_error(on_copy(after), 410, "resyncRequired")
        assert "changes this state does not have" in error["message"]  # forked: an ancestor's
        assert_graph_error(on_copy(first_page), 410, "resyncRequired")
        shared = on_copy(before)
        assert shared.status_code == 200, shared.text
        assert sorted(entry["name"] for entry in shared.json()["value"]) == [
            "new.txt",
            "other.txt",
            "root",
        ]
    finally:
        if other is not None:
            other.stop()


def test_a_forked_state_reloads_byte_for_byte_and_its_ancestors_stay_honoured(mock_drive, graph):
    """Export after the fork → load → export is the same bytes, and the tokens of both
    generations work on the reload, through its own fork (two forks): a token of the first
    copy's changes after its export resyncs on the second copy."""
    _, first = _delta_names(graph, "/me/drive/root/delta")
    exported = _export(mock_drive.url)
    assert "ancestors" not in json.loads(exported)["changes"]  # never forked: as before
    _reload(mock_drive.url, exported)
    _upload(graph, "one.txt")
    _, second = _delta_names(graph, first)
    forked = _export(mock_drive.url)
    changes = json.loads(forked)["changes"]
    original = json.loads(exported)["changes"]
    assert changes["ancestors"] == [[original["generation"], original["serial"]]]
    assert changes["generation"] == _generation(second) != original["generation"]
    _upload(graph, "undone.txt")
    _, undone = _delta_names(graph, second)
    _reload(mock_drive.url, forked)
    assert _export(mock_drive.url) == forked
    _upload(graph, "two.txt")
    _upload(graph, "three.txt")
    assert sorted(_delta_names(graph, first)[0]) == ["one.txt", "root", "three.txt", "two.txt"]
    assert sorted(_delta_names(graph, second)[0]) == ["root", "three.txt", "two.txt"]
    assert_graph_error(graph.get(undone), 410, "resyncRequired")
    twice = json.loads(_export(mock_drive.url))["changes"]
    assert twice["ancestors"] == [*changes["ancestors"], [changes["generation"], changes["serial"]]]


def test_a_state_forked_more_often_than_the_ancestors_kept_resyncs_the_oldest(mock_drive, graph):
    """Each load-and-change adds an ancestor; the last ``MAX_ANCESTORS`` are kept, so the
    export stays bounded and a token older than them resyncs."""
    _, oldest = _delta_names(graph, "/me/drive/root/delta")
    links = [oldest]
    for number in range(MAX_ANCESTORS + 1):
        mock_drive.load(mock_drive.export())
        _upload(graph, f"{number}.txt")
        links.append(_delta_names(graph, links[-1])[1])
    changes = mock_drive.export()["changes"]
    assert len(changes["ancestors"]) == MAX_ANCESTORS
    assert_graph_error(graph.get(oldest), 410, "resyncRequired")
    kept = _delta_names(graph, links[1])[0]  # forked at the second load, still kept
    made = [f"{number}.txt" for number in range(1, MAX_ANCESTORS + 1)]
    assert sorted(kept) == sorted([*made, "root"])  # and the folder above them, once


def _forked(mock_drive, graph) -> dict[str, Any]:
    """The export of a state loaded and changed once: (generation, serial, ancestors)."""
    _delta_names(graph, "/me/drive/root/delta")
    mock_drive.load(mock_drive.export())
    _upload(graph, "a.txt")
    _upload(graph, "b.txt")
    return mock_drive.export()


HOSTILE_ANCESTORS = {
    "not a list": lambda c: "x",
    "a mapping": lambda c: {"0": [1, 1]},
    "a pair too short": lambda c: [[1]],
    "a pair too long": lambda c: [[1, 1, 1]],
    "a generation as text": lambda c: [["1", 1]],
    "a boolean": lambda c: [[True, 1]],
    "a fraction": lambda c: [[1.5, 1]],
    "a negative serial": lambda c: [[c["ancestors"][0][0], -1]],
    "2^53": lambda c: [[2**53, 1]],
    "2^64": lambda c: [[1, 2**64]],
    "the state's own generation": lambda c: [[c["generation"], 1]],
    "a generation twice": lambda c: [[c["generation"] + 1, 1], [c["generation"] + 1, 2]],
    "serials out of order": lambda c: [[c["generation"] + 1, 2], [c["generation"] + 2, 1]],
    "past the state's serial": lambda c: [[c["generation"] + 1, c["serial"] + 1]],
    # a fork is followed by a change: at the state's serial, its own fork would come at the
    # same serial, and the export after its first change would be refused
    "at the state's serial": lambda c: [[c["generation"] + 1, c["serial"]]],
    "too many": lambda c: [[c["generation"] + n, n] for n in range(1, MAX_ANCESTORS + 2)],
}


@pytest.mark.parametrize("case", HOSTILE_ANCESTORS)
def test_hostile_ancestors_are_refused_and_change_nothing(mock_drive, graph, case):
    scenario = _forked(mock_drive, graph)
    changes = scenario["changes"]
    changes["serial"] = max(changes["serial"], MAX_ANCESTORS + 2)  # room for "too many"
    changes["ancestors"] = HOSTILE_ANCESTORS[case](changes)
    before = _export(mock_drive.url)
    answer = requests.put(_state_url(mock_drive.url), data=json.dumps(scenario), timeout=30)
    assert_graph_error(answer, 400, "invalidRequest")
    assert "changes.ancestors" in answer.text
    assert _export(mock_drive.url) == before


def test_ancestors_without_a_generation_are_refused(mock_drive, graph):
    scenario = _forked(mock_drive, graph)
    del scenario["changes"]["generation"]
    before = _export(mock_drive.url)
    answer = requests.put(_state_url(mock_drive.url), data=json.dumps(scenario), timeout=30)
    assert_graph_error(answer, 400, "invalidRequest")
    assert "changes.ancestors needs changes.generation" in answer.text
    assert _export(mock_drive.url) == before


@pytest.mark.parametrize("taken", [1, 2, 3])
def test_ancestors_with_generation_zero_are_refused(mock_drive, graph, taken):
    """Generation 0 asks the server for a number of its own, as a missing one does, so the
    ancestors cannot be kept apart from it: the number taken could be one of them (the state's
    export then names a generation twice and its load is refused) or come after them."""
    scenario = _forked(mock_drive, graph)
    scenario["changes"]["generation"] = 0
    scenario["changes"]["ancestors"] = [[taken, 1]]
    before = _export(mock_drive.url)
    answer = requests.put(_state_url(mock_drive.url), data=json.dumps(scenario), timeout=30)
    assert_graph_error(answer, 400, "invalidRequest")
    assert "changes.ancestors needs changes.generation" in answer.text
    assert _export(mock_drive.url) == before


@pytest.mark.parametrize("named", [2**53 - 2, 2**53 - 1])
def test_a_state_loaded_at_the_largest_generations_forks_into_an_export_that_loads(
    mock_drive, graph, named
):
    """A scenario may name any generation below 2^53 (what JSON keeps). The server took the
    number after the largest one named, for the fork and for every later state: at the top it
    was 2^53 or more, and the export of the changed copy (or of any state after a reset) was
    refused by the load. Every state the server makes must reload, and the tokens of the
    generations named keep working through the fork."""
    _upload(graph, "a.txt")
    _, before = _delta_names(graph, "/me/drive/root/delta")
    scenario = mock_drive.export()
    changes = scenario["changes"]
    token = before.rsplit("token=", 1)[1]
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(".")
    raw[0] = str(named)  # the deltaLink, as the state that named it would have written it
    named_link = before.replace(
        token, base64.urlsafe_b64encode(".".join(raw).encode()).decode().rstrip("=")
    )
    changes["ancestors"] = [[2**53 - 3, changes["serial"] - 1]]  # a fork near the top, too
    changes["generation"] = named
    _reload(mock_drive.url, json.dumps(scenario).encode())
    _upload(graph, "new.txt")
    names, after = _delta_names(graph, named_link)
    assert names == ["root", "new.txt"]
    forked = _export(mock_drive.url)
    assert json.loads(forked)["changes"]["ancestors"][-1] == [named, changes["serial"]]
    _reload(mock_drive.url, forked)
    assert _export(mock_drive.url) == forked
    _upload(graph, "newer.txt")
    assert _delta_names(graph, after)[0] == ["root", "newer.txt"]
    _reload(mock_drive.url, _export(mock_drive.url))
    # a state loaded next, without a generation of its own, takes the server's next number
    mock_drive.load({key: value for key, value in scenario.items() if key != "changes"})
    _delta_names(graph, "/me/drive/root/delta")  # a token: the export names the generation
    _reload(mock_drive.url, _export(mock_drive.url))
