"""The JSON export is written in a thread in many short pieces (``dumps_in_pieces``), so a large
one does not hold up other requests: the pieces make the very text one ``dumps`` call makes.
(How long an export holds up other requests: ``python -m benchmarks.export_hold``.)"""

from __future__ import annotations

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
