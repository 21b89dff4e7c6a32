"""The JSON export is written in a thread in many short pieces (``dumps_in_pieces``), so a large
one does not hold up other requests: the pieces make the very text one ``dumps`` call makes.
(How long an export holds up other requests: ``python -m benchmarks.export_hold``.)"""

from __future__ import annotations

import gc
import types

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from mockdrive.api.jsonio import dumps, dumps_in_pieces
from mockdrive.scenario import export_scenario

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
KEYS = st.sampled_from(["children", "id", "name", "é", 'a"b', ""]) | st.text(max_size=3)
JSON_LIKE = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=60,
)


@settings(max_examples=150, deadline=None)
@given(data=JSON_LIKE, depth=st.integers(min_value=0, max_value=4))
def test_the_pieces_make_the_text_one_call_makes(data, depth):
    assert dumps_in_pieces(data, depth=depth) == dumps(data)


def test_keys_that_are_not_text_are_written_as_one_call_writes_them():
    """JSON keys are text: ``dumps`` writes ``1`` as ``"1"`` and ``None`` as ``"null"``, and
    refuses a tuple; the pieces wrote the bare value, which is not JSON at all."""
    data = {"drives": [{1: "a", None: "b", False: "c", 1.5: "d", "id": {2: "e"}}]}
    assert dumps_in_pieces(data) == dumps(data)
    assert dumps_in_pieces({0: {"children": [], -1: 0}}) == dumps({0: {"children": [], -1: 0}})
    with pytest.raises(TypeError):
        dumps_in_pieces({("a",): 1})


def test_a_long_run_of_files_and_folders_between_them():
    """Children are written a run of files at a time (256 at most), folders on their own."""
    files = [{"id": str(n), "file": {"mimeType": "text/plain"}} for n in range(700)]
    folder = {"id": "f", "folder": {}, "children": [{"id": "g", "children": []}]}
    tree = {"id": "root", "children": [*files[:300], folder, *files[300:], folder]}
    assert dumps_in_pieces({"drives": [{"root": tree}]}) == dumps({"drives": [{"root": tree}]})


def test_no_call_of_the_encoder_writes_much_more_than_one_file(monkeypatch):
    """A run of files is written in one call up to 256 files or ~64 KB of their content: 256
    files of 256 KB each were one call of ~64 MB, holding the interpreter ~190 ms."""
    from mockdrive.api import jsonio

    written: list[int] = []

    def counted(data):
        text = dumps(data)
        written.append(len(text))
        return text

    monkeypatch.setattr(jsonio, "dumps", counted)
    big = [{"id": str(n), "file": {}, "content": "x" * 262_144} for n in range(256)]
    small = [{"id": str(n), "file": {}} for n in range(1000)]
    tree = {"id": "root", "children": [*big, *small]}
    assert dumps_in_pieces(tree) == dumps(tree)
    assert max(written) < 262_144 + 100  # one big file a call
    assert len(written) < 256 + 1000 // 100  # the small ones in runs


def test_the_served_export_is_the_text_of_the_state_taken_on_the_loop(mock_drive):
    session = mock_drive.session
    for path in ("/A", "/A/B", "/A/B/C", "/Ünïcode"):
        parent, _, name = path.rpartition("/")
        url = f"{mock_drive.url}/v1.0/me/drive/root{':' + parent + ':' if parent else ''}/children"
        answer = session.post(url, json={"name": name, "folder": {}}, timeout=10)
        assert answer.status_code == 201, answer.text
    for n in range(3):
        url = f"{mock_drive.url}/v1.0/me/drive/root:/A/B/f{n}.txt:/content"
        assert session.put(url, data=b"x" * n, timeout=10).status_code == 201
    expected = mock_drive.server.call(lambda: dumps(export_scenario(mock_drive.state)))
    answer = requests.get(f"{mock_drive.url}/_mockdrive/state", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    assert answer.text == expected
    assert '"children":[' in expected


def _containers_reachable_from(root: object) -> set[int]:
    """The ids of the lists, dicts and sets reachable from ``root`` through its own objects
    (not through modules, classes or functions, which reach everything)."""
    skipped = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, str, bytes,
               types.MethodType, types.CodeType, types.FrameType, int, float)  # fmt: skip
    seen: set[int] = set()
    found: set[int] = set()
    stack = [root]
    while stack:
        value = stack.pop()
        if id(value) in seen or isinstance(value, skipped):
            continue
        seen.add(id(value))
        if isinstance(value, list | dict | set):
            found.add(id(value))
        stack.extend(gc.get_referents(value))
    return found


def test_the_data_the_thread_writes_shares_nothing_the_state_changes(mock_drive, graph):
    """The thread writes the export while the loop serves other requests: no list, dict or set
    of the data taken may be one the state holds (a request changing it under the thread would
    give a 500, "changed size during iteration", or an export of two moments), whichever part
    of the export it is in. Each part is filled, then every container of the data is looked
    for in the state's objects, and the state changed in each part: the text stays the same."""
    bob = mock_drive.add_user("Bob", "bob@contoso.example")
    group = mock_drive.add_group("Team", [bob])
    assert graph.post("/me/drive/root/children", json={"name": "F", "folder": {}}).ok
    mock_drive.add_file("/F/a.txt", "a")
    mock_drive.grant("/F", group, ["read"])
    mock_drive.grant("/F/a.txt", bob, ["write"])
    link = {"type": "view", "scope": "users", "recipients": [{"email": "bob@contoso.example"}]}
    assert graph.post("/me/drive/root:/F:/createLink", json=link).status_code in (200, 201)
    mock_drive.app("app1", secret="s", roles=["Files.Read.All"], redirect_uris=["http://x/cb"],
                   drives=[mock_drive.drive])  # fmt: skip
    mock_drive.refresh_token_for(bob, "app1")
    mock_drive.set_policy(blockedDomains=["evil.example"], allowedDomains=["contoso.example"])
    mock_drive.faults.add(effect="error", status=503, path="/nothing-matches", times=2)
    mock_drive.clock.advance(seconds=5)
    mock_drive.onehub_id("/F")
    assert graph.get("/me/drive/root/delta").status_code == 200
    assert graph.post("/me/drive/root:/F:/copy", json={"name": "G"}).status_code == 202
    opened = graph.post("/me/drive/root:/F/big.bin:/createUploadSession", json={})
    assert opened.status_code == 200, opened.text

    def taken() -> tuple[dict, set[int]]:
        return export_scenario(mock_drive.state), _containers_reachable_from(mock_drive.state)

    data, held = mock_drive.server.call(taken)
    expected = {"users", "groups", "drives", "policy", "apps", "faults", "clock", "onehub",
                "changes", "uploadSessions", "copyJobs", "signIns"}  # fmt: skip
    assert expected <= set(data), sorted(data)
    shared = [path for path, value in _containers_of(data) if id(value) in held]
    assert not shared, shared
    mock_drive.export()["apps"][0]["roles"].append("Sites.FullControl.All")  # a test's edit
    assert mock_drive.export()["apps"][0]["roles"] == ["Files.Read.All"]
    text = dumps(data)
    carol = mock_drive.add_user("Carol", "carol@contoso.example")
    mock_drive.server.call(lambda: group.member_ids.append(carol.id))
    mock_drive.grant("/F", "carol@contoso.example", ["read"])
    assert graph.post("/me/drive/root:/F:/createLink", json=link).status_code in (200, 201)
    assert graph.patch("/me/drive/root:/F/a.txt", json={"name": "b.txt"}).ok
    mock_drive.refresh_token_for(bob, "app1")
    mock_drive.set_policy(blockedDomains=["other.example"])
    mock_drive.faults.add(effect="error", status=503, path="/nothing-matches-either")
    mock_drive.clock.advance(seconds=5)
    url = opened.json()["uploadUrl"]
    headers = {"Content-Range": f"bytes 0-{320 * 1024 - 1}/{640 * 1024}"}
    assert requests.put(url, data=b"a" * 320 * 1024, headers=headers, timeout=10).ok
    assert dumps(data) == text


def _containers_of(data: object) -> list[tuple[str, object]]:
    """Every list, dict and set in ``data``, with where it is."""
    found = []
    stack: list[tuple[str, object]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            found.append((path, value))
            stack.extend((f"{path}.{key}", item) for key, item in value.items())
        elif isinstance(value, list | set):
            found.append((path, value))
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return found
