"""Upload sessions over HTTP: createUploadSession, ranged PUTs to a token-free upload URL,
nextExpectedRanges, 202 until the last byte then 201/200, refused fragments (416) that change
nothing, status, cancel, expiry against the state's clock."""

from __future__ import annotations

import os

import pytest
import requests
from conftest import as_user, assert_graph_error

from mockdrive.model.hashes import quick_xor_hash
from mockdrive.model.uploads import UPLOAD_SESSION_LIFETIME

FRAGMENT = 320 * 1024


def advance_clock(mock_drive, seconds: float) -> None:
    """Move the state's logical clock forward through an internal hook (the public way,
    ``mock_drive.clock.advance(seconds=...)``, may replace it)."""

    def advance() -> None:
        mock_drive.state.clock._ticks += int(seconds)

    mock_drive.server.call(advance)


def create(graph, path: str, body: dict | None = None, **kwargs) -> requests.Response:
    return graph.post(path + "/createUploadSession", json=body or {}, **kwargs)


def put_range(url: str, data: bytes, start: int, total: int, **headers) -> requests.Response:
    end = start + len(data) - 1
    headers = {"Content-Range": f"bytes {start}-{end}/{total}", **headers}
    return requests.put(url, data=data, headers=headers, timeout=30)


def upload(url: str, data: bytes, fragment: int = FRAGMENT) -> list[requests.Response]:
    return [
        put_range(url, data[start : start + fragment], start, len(data))
        for start in range(0, len(data), fragment)
    ]


def test_a_new_file_in_fragments(mock_drive, graph):
    data = os.urandom(3 * FRAGMENT + 1234)
    session = create(graph, "/me/drive/root:/Docs/big.bin:",
                     {"item": {"@microsoft.graph.conflictBehavior": "fail"}})  # fmt: skip
    assert session.status_code == 200, session.text
    body = session.json()
    assert body["nextExpectedRanges"] == ["0-"]
    assert body["expirationDateTime"].endswith("Z")
    # the host that was called, as every other answer's context
    assert body["@odata.context"] == (
        mock_drive.url + "/v1.0/$metadata#microsoft.graph.uploadSession"
    )
    url = body["uploadUrl"]
    assert url.startswith(mock_drive.url + "/up/")

    answers = upload(url, data)
    for answer, start in zip(answers[:-1], range(FRAGMENT, len(data), FRAGMENT), strict=False):
        assert answer.status_code == 202, answer.text
        assert answer.json()["nextExpectedRanges"] == [f"{start}-{len(data) - 1}"]
    last = answers[-1]
    assert last.status_code == 201, last.text
    item = last.json()
    assert item["name"] == "big.bin" and item["size"] == len(data)
    assert item["file"]["hashes"]["quickXorHash"] == quick_xor_hash(data)
    assert mock_drive.item("/Docs/big.bin").content == data  # missing folders are made
    # the session is gone once complete
    assert_graph_error(requests.get(url, timeout=10), 404, "itemNotFound")


def test_a_bearer_token_on_the_upload_url_is_refused_with_401_and_changes_nothing(
    mock_drive, graph
):
    url = create(graph, "/me/drive/root:/a.bin:").json()["uploadUrl"]
    before = mock_drive.digest()
    sent = put_range(url, b"x" * 10, 0, 10, Authorization=f"Bearer {mock_drive.token}")
    assert_graph_error(sent, 401, "unauthenticated")  # as the service: the URL is the credential
    assert mock_drive.digest() == before
    assert requests.get(url, timeout=10).json()["nextExpectedRanges"] == ["0-"]
    assert put_range(url, b"x" * 10, 0, 10).status_code == 201


def test_the_lenient_policy_lets_a_token_on_the_upload_url_through(mock_drive, graph):
    mock_drive.set_policy(lenientUploadSessions=True)
    url = create(graph, "/me/drive/root:/a.bin:").json()["uploadUrl"]
    first = put_range(url, b"x" * 10, 0, 20, Authorization=f"Bearer {mock_drive.token}")
    assert first.status_code == 202, first.text
    last = put_range(url, b"y" * 10, 10, 20)
    assert last.status_code == 201
    assert mock_drive.item("/a.bin").content == b"x" * 10 + b"y" * 10


def test_fragments_but_the_last_must_be_multiples_of_320_kib(mock_drive, graph):
    url = create(graph, "/me/drive/root:/m.bin:").json()["uploadUrl"]
    total = 2 * FRAGMENT + 7
    before = mock_drive.digest()
    for size in (10, FRAGMENT - 1, FRAGMENT + 1):
        odd = put_range(url, b"o" * size, 0, total)
        assert_graph_error(odd, 400, "invalidRequest")
        assert odd.json()["error"]["innerError"]["code"] == "invalidRange"
        assert "320 KiB" in odd.json()["error"]["message"]
    assert mock_drive.digest() == before
    data = os.urandom(total)
    assert put_range(url, data[: 2 * FRAGMENT], 0, total).status_code == 202  # two multiples
    assert put_range(url, data[2 * FRAGMENT :], 2 * FRAGMENT, total).status_code == 201  # last
    assert mock_drive.item("/m.bin").content == data


def test_the_lenient_policy_takes_fragments_of_any_size(mock_drive, graph):
    mock_drive.set_policy(lenientUploadSessions=True)
    url = create(graph, "/me/drive/root:/m.bin:").json()["uploadUrl"]
    data = os.urandom(100)
    answers = upload(url, data, fragment=30)
    assert [a.status_code for a in answers] == [202, 202, 202, 201]
    assert mock_drive.item("/m.bin").content == data


def test_replacing_an_existing_file_by_id_and_by_path(mock_drive, graph):
    mock_drive.add_file("/Docs/old.txt", "old")
    item_id = mock_drive.item("/Docs/old.txt").id
    url = create(graph, f"/me/drive/items/{item_id}").json()["uploadUrl"]
    done = put_range(url, b"new bytes", 0, 9)
    assert done.status_code == 200, done.text
    assert done.json()["id"] == item_id
    url = create(graph, "/me/drive/root:/Docs/old.txt:").json()["uploadUrl"]
    assert put_range(url, b"newer", 0, 5).status_code == 200
    assert mock_drive.item("/Docs/old.txt").content == b"newer"


def test_conflict_behaviour_in_item_and_beside_it(mock_drive, graph):
    mock_drive.add_file("/Docs/a.txt", "a")
    before = mock_drive.digest()
    refused = create(graph, "/me/drive/root:/Docs/a.txt:",
                     {"item": {"@microsoft.graph.conflictBehavior": "fail"}})  # fmt: skip
    assert_graph_error(refused, 409, "nameAlreadyExists")
    beside = create(graph, "/me/drive/root:/Docs/a.txt:",
                    {"@microsoft.graph.conflictBehavior": "fail"})  # fmt: skip
    assert_graph_error(beside, 409, "nameAlreadyExists")
    assert mock_drive.digest() == before
    url = create(graph, "/me/drive/root:/Docs/a.txt:",
                 {"item": {"@microsoft.graph.conflictBehavior": "rename", "name": "a.txt"}}
                 ).json()["uploadUrl"]  # fmt: skip
    created = put_range(url, b"second", 0, 6)
    assert created.status_code == 201 and created.json()["name"] == "a 1.txt"


def test_a_name_taken_during_the_session_fails_the_last_fragment(mock_drive, graph):
    fail = {"item": {"@microsoft.graph.conflictBehavior": "fail"}}
    url = create(graph, "/me/drive/root:/late.txt:", fail).json()["uploadUrl"]
    assert put_range(url, b"1" * FRAGMENT, 0, FRAGMENT + 5).status_code == 202
    mock_drive.add_file("/late.txt", "someone else's")
    before = mock_drive.digest()
    assert_graph_error(put_range(url, b"67890", FRAGMENT, FRAGMENT + 5), 409, "nameAlreadyExists")
    assert mock_drive.digest() == before


def test_out_of_order_and_overlapping_fragments_are_refused_with_416(mock_drive, graph):
    url = create(graph, "/me/drive/root:/f.bin:").json()["uploadUrl"]
    f, total = FRAGMENT, 3 * FRAGMENT
    assert put_range(url, b"a" * f, 0, total).status_code == 202
    before = mock_drive.digest()
    gap = put_range(url, b"c" * f, 2 * f, total)
    assert_graph_error(gap, 416, "invalidRange")
    overlap = put_range(url, b"b" * f, f // 2, total)
    assert_graph_error(overlap, 416, "invalidRange")
    again = put_range(url, b"a" * f, 0, total)
    assert_graph_error(again, 416, "invalidRange")
    assert requests.get(url, timeout=10).json()["nextExpectedRanges"] == [f"{f}-{total - 1}"]
    assert mock_drive.digest() == before
    assert put_range(url, b"b" * 2 * f, f, total).status_code == 201


@pytest.mark.parametrize(
    ("content_range", "body"),
    [
        (None, b"abc"),
        ("bytes 0-2", b"abc"),
        ("bytes=0-2/10", b"abc"),
        ("bytes 2-0/10", b"abc"),
        ("bytes 0-10/10", b"abcdefghijk"),
        ("bytes 0-4/10", b"abc"),  # the body is shorter than the range
    ],
)
def test_malformed_fragments_are_400_and_change_nothing(mock_drive, graph, content_range, body):
    url = create(graph, "/me/drive/root:/m.bin:").json()["uploadUrl"]
    headers = {"Content-Range": content_range} if content_range else {}
    answer = requests.put(url, data=body, headers=headers, timeout=10)
    assert_graph_error(answer, 400, "invalidRequest")
    assert requests.get(url, timeout=10).json()["nextExpectedRanges"] == ["0-"]


def test_a_different_total_is_refused(mock_drive, graph):
    url = create(graph, "/me/drive/root:/t.bin:").json()["uploadUrl"]
    assert put_range(url, b"a" * FRAGMENT, 0, 2 * FRAGMENT).status_code == 202
    other_total = put_range(url, b"d" * FRAGMENT, FRAGMENT, 2 * FRAGMENT + 1)
    assert_graph_error(other_total, 400, "invalidRequest")
    assert "expects" in other_total.json()["error"]["message"]


def test_status_and_cancel(mock_drive, graph):
    url = create(graph, "/me/drive/root:/c.bin:").json()["uploadUrl"]
    put_range(url, b"1" * FRAGMENT, 0, FRAGMENT + 5)
    status = requests.get(url, timeout=10)
    assert status.status_code == 200
    assert status.json()["nextExpectedRanges"] == [f"{FRAGMENT}-{FRAGMENT + 4}"]
    assert requests.delete(url, timeout=10).status_code == 204
    assert_graph_error(requests.get(url, timeout=10), 404, "itemNotFound")
    assert_graph_error(put_range(url, b"67890", FRAGMENT, FRAGMENT + 5), 404, "itemNotFound")
    assert_graph_error(graph.get("/me/drive/root:/c.bin"), 404, "itemNotFound")


def test_sessions_expire_on_the_state_clock_and_fragments_extend_them(mock_drive, graph):
    lifetime = int(UPLOAD_SESSION_LIFETIME.total_seconds())
    url = create(graph, "/me/drive/root:/e.bin:").json()["uploadUrl"]
    advance_clock(mock_drive, lifetime - 60)
    extended = put_range(url, b"1" * FRAGMENT, 0, FRAGMENT + 5)  # it pushes the expiry back
    assert extended.status_code == 202
    advance_clock(mock_drive, lifetime - 60)
    assert requests.get(url, timeout=10).status_code == 200
    advance_clock(mock_drive, 120)
    expired = requests.get(url, timeout=10)
    assert_graph_error(expired, 404, "itemNotFound")
    assert expired.json()["error"]["innerError"]["code"] == "uploadSessionNotFound"
    assert_graph_error(put_range(url, b"67890", FRAGMENT, FRAGMENT + 5), 404, "itemNotFound")
    assert_graph_error(graph.get("/me/drive/root:/e.bin"), 404, "itemNotFound")


def test_a_reader_cannot_open_a_session_and_nothing_changes(mock_drive, graph):
    mock_drive.add_folder("/Shared")
    reader = mock_drive.add_user("Rita Reader", "rita@contoso.example", token="rita-token")
    mock_drive.grant("/Shared", reader, ["read"])
    before = mock_drive.digest()
    refused = create(as_user(graph, "rita-token"), f"/drives/{mock_drive.drive.id}/root:/Shared/x:")
    assert_graph_error(refused, 403, "accessDenied")
    assert mock_drive.digest() == before


def test_bad_session_requests(mock_drive, graph):
    mock_drive.add_folder("/Docs")
    before = mock_drive.digest()
    folder_id = mock_drive.item("/Docs").id
    assert_graph_error(create(graph, f"/me/drive/items/{folder_id}"), 400, "invalidRequest")
    assert_graph_error(create(graph, "/me/drive/root:/Docs:"), 409, "nameAlreadyExists")
    bad_bodies = [
        {"item": []},
        {"item": {"@microsoft.graph.conflictBehavior": "merge"}},
        {"item": {"fileSize": -1}},
        {"item": {"fileSize": 251 * 1024**3}},
        {"item": {"name": "other.txt"}},
        {"item": {"fileSystemInfo": {"lastModifiedDateTime": "yesterday"}}},
        {"deferCommit": "yes"},
    ]
    for body in bad_bodies:
        answer = create(graph, "/me/drive/root:/Docs/new.txt:", body)
        assert_graph_error(answer, 400, "invalidRequest")
    stale = create(graph, "/me/drive/root:/Docs/new.txt:", headers={"If-Match": '"nope"'})
    assert_graph_error(stale, 412, "resourceModified")
    assert mock_drive.digest() == before
    answer = requests.get(mock_drive.url + "/up/not-a-session", timeout=10)
    assert_graph_error(answer, 404, "itemNotFound")


def test_file_system_info_from_the_session_is_kept(mock_drive, graph):
    stamp = "2020-05-06T07:08:09Z"
    body = {"item": {"fileSystemInfo": {"lastModifiedDateTime": stamp}}}
    url = create(graph, "/me/drive/root:/stamped.txt:", body).json()["uploadUrl"]
    item = put_range(url, b"abc", 0, 3).json()
    assert item["fileSystemInfo"]["lastModifiedDateTime"] == stamp
    assert graph.get(f"/me/drive/items/{item['id']}").json()["fileSystemInfo"] == {
        "createdDateTime": item["createdDateTime"],
        "lastModifiedDateTime": stamp,
    }


def test_new_content_without_a_stamp_is_modified_now(mock_drive, graph):
    """A time a client set for the old content does not survive new content written without
    one (a simple PUT, or a session without fileSystemInfo): sync clients compare it to decide
    whether to download the new content."""
    stamp = "2020-05-06T07:08:09Z"
    body = {"item": {"fileSystemInfo": {"lastModifiedDateTime": stamp}}}
    url = create(graph, "/me/drive/root:/stamped.txt:", body).json()["uploadUrl"]
    first = put_range(url, b"abc", 0, 3).json()
    assert first["fileSystemInfo"]["lastModifiedDateTime"] == stamp
    mock_drive.clock.advance(minutes=1)
    put = graph.put("/me/drive/root:/stamped.txt:/content", data=b"abcd")
    assert put.status_code == 200, put.text
    after = graph.get(f"/me/drive/items/{first['id']}").json()
    assert after["fileSystemInfo"]["lastModifiedDateTime"] == after["lastModifiedDateTime"]
    assert after["lastModifiedDateTime"] > first["lastModifiedDateTime"]
    again = create(graph, "/me/drive/root:/stamped.txt:", body).json()["uploadUrl"]
    assert put_range(again, b"ab", 0, 2).json()["fileSystemInfo"]["lastModifiedDateTime"] == stamp
    mock_drive.clock.advance(minutes=1)
    plain = create(graph, "/me/drive/root:/stamped.txt:").json()["uploadUrl"]
    last = put_range(plain, b"a", 0, 1).json()
    assert last["fileSystemInfo"]["lastModifiedDateTime"] == last["lastModifiedDateTime"] != stamp


def test_defer_commit_completes_on_an_empty_post(mock_drive, graph):
    url = create(graph, "/me/drive/root:/d.txt:", {"deferCommit": True}).json()["uploadUrl"]
    all_bytes = put_range(url, b"abc", 0, 3)
    assert all_bytes.status_code == 202 and all_bytes.json()["nextExpectedRanges"] == []
    assert_graph_error(graph.get("/me/drive/root:/d.txt"), 404, "itemNotFound")
    done = requests.post(url, data=b"", timeout=10)
    assert done.status_code == 201 and done.json()["size"] == 3


def test_quota_is_checked_against_the_declared_size(mock_drive, graph):
    def shrink() -> None:
        mock_drive.drive.quota_total = 1000

    mock_drive.server.call(shrink)
    full = create(graph, "/me/drive/root:/q.bin:", {"item": {"fileSize": 5000}})
    assert full.status_code == 507 and full.json()["error"]["code"] == "quotaLimitReached"
    url = create(graph, "/me/drive/root:/q.bin:").json()["uploadUrl"]
    assert put_range(url, b"x" * FRAGMENT, 0, 5 * FRAGMENT).status_code == 507


def test_the_journal_records_fragments_against_the_session_owner(mock_drive, graph):
    url = create(graph, "/me/drive/root:/j.bin:").json()["uploadUrl"]
    put_range(url, b"abc", 0, 3)
    entries = [e for e in mock_drive.requests if e["path"].startswith("/up/")]
    assert entries and entries[-1]["caller"] == mock_drive.owner.email
    assert entries[-1]["status"] == 201


def test_next_expected_ranges_name_the_missing_bytes_once_a_fragment_arrived(mock_drive, graph):
    """As the service: open-ended on creation (with or without fileSize), then the missing
    bytes to the end of the file, which msgraph-core's upload task reads both ends of."""
    total = FRAGMENT + 10
    created = create(graph, "/me/drive/root:/r.bin:", {"item": {"fileSize": total}}).json()
    assert created["nextExpectedRanges"] == ["0-"]
    url = created["uploadUrl"]
    assert requests.get(url, timeout=10).json()["nextExpectedRanges"] == ["0-"]
    first = put_range(url, b"r" * FRAGMENT, 0, total)
    assert first.json()["nextExpectedRanges"] == [f"{FRAGMENT}-{total - 1}"]
    assert requests.get(url, timeout=10).json()["nextExpectedRanges"] == [f"{FRAGMENT}-{total - 1}"]


def test_a_repeat_of_the_completing_fragment_answers_the_file_and_changes_nothing(
    mock_drive, graph
):
    data = os.urandom(FRAGMENT + 1000)
    url = create(graph, "/me/drive/root:/Docs/done.bin:").json()["uploadUrl"]
    *_, completed = upload(url, data)
    assert completed.status_code == 201, completed.text
    before = mock_drive.digest()

    again = put_range(url, data[FRAGMENT:], FRAGMENT, len(data))  # its answer was lost
    assert again.status_code == 200, again.text
    assert again.json()["id"] == completed.json()["id"]
    assert again.json()["size"] == len(data)
    assert mock_drive.digest() == before

    other_bytes = put_range(url, os.urandom(1000), FRAGMENT, len(data))
    assert_graph_error(other_bytes, 404, "itemNotFound")
    earlier = put_range(url, data[:FRAGMENT], 0, len(data))
    assert_graph_error(earlier, 404, "itemNotFound")
    assert requests.get(url, timeout=10).status_code == 404  # the session itself is gone
    assert mock_drive.digest() == before
    assert mock_drive.item("/Docs/done.bin").content == data


def empty_repeat(url: str, start: int, end: int, total: int) -> requests.Response:
    """What msgraph-core's upload task sends after a file of one fragment: its range again,
    with no bytes."""
    headers = {"Content-Range": f"bytes {start}-{end}/{total}", "Content-Length": "0"}
    return requests.put(url, data=b"", headers=headers, timeout=30)


def test_an_empty_repeat_is_refused_as_the_service_does_unless_lenient(mock_drive, graph):
    data = os.urandom(5000)
    url = create(graph, "/me/drive/root:/one.bin:").json()["uploadUrl"]
    assert put_range(url, data, 0, len(data)).status_code == 201
    before = mock_drive.digest()
    assert_graph_error(empty_repeat(url, 0, 4999, 5000), 400, "invalidRequest")

    assert mock_drive.digest() == before
    mock_drive.set_policy(lenientUploadSessions=True)
    before = mock_drive.digest()
    answered = empty_repeat(url, 0, 4999, 5000)
    assert answered.status_code == 200, answered.text
    assert answered.json()["size"] == 5000
    assert_graph_error(empty_repeat(url, 0, 99, 5000), 404, "itemNotFound")  # not its range
    assert mock_drive.digest() == before


def test_a_repeat_after_the_session_would_have_lapsed_finds_nothing(mock_drive, graph):
    data = os.urandom(100)
    url = create(graph, "/me/drive/root:/late.bin:").json()["uploadUrl"]
    assert put_range(url, data, 0, len(data)).status_code == 201
    mock_drive.clock.advance(seconds=UPLOAD_SESSION_LIFETIME.total_seconds() + 1)
    assert_graph_error(put_range(url, data, 0, len(data)), 404, "itemNotFound")


def test_a_full_drive_refuses_simple_uploads_and_copies_as_sessions(mock_drive, graph):
    """``507 quotaLimitReached`` for what the new bytes add, whichever way they come; a refused
    request changes nothing, and what frees room or adds nothing still works."""
    mock_drive.add_file("/F/a.bin", b"a" * 300)
    used = graph.get("/me/drive").json()["quota"]["used"]

    def fill() -> None:
        mock_drive.drive.quota_total = used + 100

    mock_drive.server.call(fill)
    root = {"id": mock_drive.item("/").id}
    for response in (
        graph.put("/me/drive/root:/new.bin:/content", data=b"n" * 101),
        graph.put("/me/drive/root:/F/a.bin:/content", data=b"a" * 401),
        graph.post("/me/drive/root:/F/a.bin:/copy", json={"name": "b.bin"}),
        graph.post("/me/drive/root:/F:/copy", json={"name": "G"}),
        graph.post("/me/drive/root:/F:/copy", json={"childrenOnly": True, "parentReference": root}),
    ):
        assert_graph_error(response, 507, "quotaLimitReached")
    assert graph.get("/me/drive").json()["quota"]["used"] == used
    assert graph.put("/me/drive/root:/F/a.bin:/content", data=b"a" * 400).status_code == 200
    assert graph.put("/me/drive/root:/F/a.bin:/content", data=b"a").status_code == 200
    assert graph.put("/me/drive/root:/empty.bin:/content", data=b"").status_code == 201
    assert graph.post("/me/drive/root:/F/a.bin:/copy", json={"name": "c.bin"}).status_code == 202
