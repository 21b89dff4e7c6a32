"""Attacks from outside, over HTTP: what a black-box caller found, each kept as a test."""

from __future__ import annotations

import gzip
import http.client
import json
from urllib.parse import urlsplit

import pytest
import requests
from conftest import assert_graph_error

from mockdrive.model.tree import MAX_PATH_LENGTH

CONFLICTS = ("fail", "replace", "rename")


@pytest.fixture
def hidden_payroll(mock_drive):
    """/Finance/Payroll/Salaries.xlsx, Payroll stopping inheritance; Bob writes /Finance, Erin
    reads /Audit only: neither can see Payroll or what it holds."""
    mock_drive.add_file("/Finance/Payroll/Salaries.xlsx", "secret")
    mock_drive.add_folder("/Audit")
    mock_drive.stop_inheriting("/Finance/Payroll")
    mock_drive.add_user("Bob", "bob@contoso.example")
    mock_drive.add_user("Erin", "erin@auditors.example")
    mock_drive.grant("/Finance", "bob@contoso.example", ["write"])
    mock_drive.grant("/Audit", "erin@auditors.example", ["read"])
    return mock_drive


UPLOAD_PATHS = (
    "/Finance/Payroll/Salaries.xlsx/x.bin",  # through a hidden file
    "/Finance/payroll/Salaries.xlsx/x.bin",
    "/Finance/Payroll/new.bin",  # into a hidden folder
    "/Finance/PAYROLL",  # onto a hidden folder
    "/Finance/Payroll/Salaries.xlsx",  # onto a hidden file
)


@pytest.mark.parametrize("path", UPLOAD_PATHS)
@pytest.mark.parametrize("token", ["bob-token", "erin-token"])
def test_an_upload_session_through_a_hidden_item_answers_as_a_simple_upload(
    hidden_payroll, path, token
):
    """createUploadSession refuses a path running through what the caller cannot see exactly
    as the simple upload to the same path does (``409`` for a name taken by a hidden item, a
    404 where they see nothing), never naming a hidden item or telling a file from a folder."""
    mock_drive = hidden_payroll
    drive = f"{mock_drive.graph_url}/drives/{mock_drive.drive.id}/root:{path}:"
    headers = mock_drive.headers(token)
    for conflict in CONFLICTS:
        before = mock_drive.export()
        body = {"item": {"@microsoft.graph.conflictBehavior": conflict}}
        session = requests.post(f"{drive}/createUploadSession", json=body, headers=headers)
        simple = requests.put(f"{drive}/content?@microsoft.graph.conflictBehavior={conflict}",
                              data=b"x", headers=headers)  # fmt: skip
        if simple.status_code < 400:  # rename beside a hidden item: both go ahead
            assert session.status_code == 200, (conflict, session.text)
            continue
        assert session.status_code == simple.status_code, (conflict, session.text, simple.text)
        assert session.json()["error"]["code"] == simple.json()["error"]["code"]
        message = session.json()["error"]["message"]
        assert message == simple.json()["error"]["message"]
        assert "Salaries" not in message.replace(path, ""), message  # only what was typed
        assert mock_drive.export() == before


def test_an_upload_session_on_a_path_past_the_limit_is_refused_when_opened(mock_drive, graph):
    """A session whose file could never be made (its path too long) is refused at once, as
    the simple upload is, instead of handing out an uploadUrl whose last fragment fails."""
    half = (MAX_PATH_LENGTH - 2) // 2
    path = "/" + "a" * half + "/" + "b" * (MAX_PATH_LENGTH - half) + ".bin"
    before = mock_drive.export()
    session = graph.post(f"/me/drive/root:{path}:/createUploadSession", json={})
    assert session.status_code == 400, session.text
    assert session.json()["error"]["innerError"]["code"] == "pathIsTooLong"
    assert mock_drive.export() == before


@pytest.mark.parametrize("action", ["action%2Einvite", "action%2einvite", "%61ction.invite"])
def test_a_percent_encoded_onedrive_action_in_a_batch_is_not_run(mock_drive, graph, action):
    """The older OneDrive API's ``action.*`` routes answer 501 inside a batch, also when the
    step's URL spells the route with percent-escapes the server decodes: the invite is not
    sent, nothing changes."""
    mock_drive.add_folder("/Audit")
    body = {"recipients": ["zz@outside.example"], "roles": ["read"]}
    step = {"id": "1", "method": "POST", "url": f"/me/drive/root:/Audit:/{action}",
            "headers": {"Content-Type": "application/json"}, "body": body}  # fmt: skip
    before = mock_drive.export()
    answer = graph.post("/$batch", json={"requests": [step]})
    assert answer.status_code == 200, answer.text
    [item] = answer.json()["responses"]
    assert item["status"] == 501, item
    assert item["body"]["error"]["code"] == "notImplemented"
    assert mock_drive.outbox == []
    assert mock_drive.export() == before


def test_a_file_named_like_an_action_is_reachable_in_a_batch(mock_drive, graph):
    """Only the ``action.*`` routes themselves are refused inside a batch: a file whose name
    starts with ``action.`` is read and written there as alone."""
    mock_drive.add_file("/Logs/action.log", "one")
    read = {"id": "1", "method": "GET", "url": "/me/drive/root:/Logs/action.log"}
    write = {"id": "2", "method": "PUT", "url": "/me/drive/root:/Logs/action.log:/content",
             "headers": {"Content-Type": "text/plain"}, "body": "dHdv"}  # fmt: skip
    steps = [read, write]
    answer = graph.post("/$batch", json={"requests": steps})
    statuses = [item["status"] for item in answer.json()["responses"]]
    assert statuses == [200, 200], answer.text
    assert graph.get("/me/drive/root:/Logs/action.log:/content").content == b"two"


def load_refused(mock_drive, exported: dict) -> str:
    """``PUT /_mockdrive/state`` of ``exported`` is a 400 that leaves the state as it was; its
    message."""
    before = mock_drive.export()
    answer = requests.put(mock_drive.url + "/_mockdrive/state", json=exported, timeout=10)
    assert answer.status_code == 400, answer.text
    assert mock_drive.export() == before
    return answer.json()["error"]["message"]


def _open_session_export(mock_drive, graph) -> dict:
    """The state with one open upload session, as ``GET /_mockdrive/state`` writes it."""
    mock_drive.add_file("/Docs/Plan.docx", "plan")
    opened = graph.post("/me/drive/root:/Docs/big.bin:/createUploadSession", json={})
    assert opened.status_code == 200, opened.text
    return requests.get(mock_drive.url + "/_mockdrive/state", timeout=10).json()


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"base": "01NOSUCHITEMAAAAAAAAAAAAAAAAAAAAAA"}, id="a base that is not there"),
        pytest.param({"path": "/Docs/a:b.bin"}, id="a name no drive takes"),
        pytest.param({"path": "/../x.bin"}, id="a path climbing out"),
        pytest.param({"path": "/"}, id="no file name"),
        pytest.param({"path": "/" + "a" * 250 + "/" + "b" * 250}, id="a path past the limit"),
        pytest.param({"path": None}, id="new content for a folder"),
    ],
)
def test_a_scenario_upload_session_that_cannot_complete_is_refused(mock_drive, graph, change):
    """``PUT /_mockdrive/state`` checks an upload session's target as createUploadSession
    does: one whose last fragment could only fail (its base gone, a name no drive takes, a
    folder's 'new content') is a 400 that leaves the state as it was, not a session whose
    uploadUrl takes bytes it can never store."""
    exported = _open_session_export(mock_drive, graph)
    exported["uploadSessions"][0].update(change)
    assert "uploadSessions[0]" in load_refused(mock_drive, exported)


def test_a_scenario_upload_session_of_an_item_of_another_drive_is_refused(mock_drive, graph):
    """A session's base is an item of the session's own drive."""
    mock_drive.add_drive(mock_drive.add_user("Bob", "bob@contoso.example"))
    exported = _open_session_export(mock_drive, graph)
    session = exported["uploadSessions"][0]
    drives = [d["id"] for d in exported["drives"]]
    session["drive"] = next(d for d in drives if d != session["drive"])
    load_refused(mock_drive, exported)


def test_a_scenario_upload_session_whose_path_starts_from_a_file_is_refused(mock_drive, graph):
    """A session's path is made below its base, so a base that is a file (as
    ``/items/{file id}:/x.bin:/createUploadSession`` would be, which is refused) makes a
    session whose last fragment could only fail: the load refuses it and changes nothing."""
    exported = _open_session_export(mock_drive, graph)
    session = exported["uploadSessions"][0]
    session["base"] = mock_drive.item("/Docs/Plan.docx").id
    session["path"] = "x.bin"
    opened = graph.post(f"/me/drive/items/{session['base']}:/x.bin:/createUploadSession", json={})
    assert opened.status_code == 400, opened.text  # what the session's own request answers
    assert "uploadSessions[0]" in load_refused(mock_drive, exported)


def test_an_upload_session_replacing_a_file_counts_the_bytes_it_frees(mock_drive, graph):
    """In a drive with less room left than a file's size, new content of that size for the
    file fits (the old content goes), as the simple upload of it does: the session opens,
    takes its fragment and replaces the file, instead of ``507 quotaLimitReached``."""
    big = 250 * 1024**3  # the largest file; four of them nearly fill the 1 TiB drive
    for number in range(4):
        mock_drive.add_file(f"/big{number}.bin", size=big)
    mock_drive.add_file("/note.txt", "x" * 100)
    remaining = graph.get("/me/drive").json()["quota"]["remaining"]
    mock_drive.add_file("/filler.bin", size=remaining - 150)  # 150 bytes left
    declared = {"item": {"fileSize": big}}
    assert (
        graph.post("/me/drive/root:/new.bin:/createUploadSession", json=declared).status_code == 507
    )
    opened = graph.post("/me/drive/root:/big0.bin:/createUploadSession", json=declared)
    assert opened.status_code == 200, opened.text
    # a session that learns the size from its only fragment: 200 bytes for 100 fit in 150
    opened = graph.post("/me/drive/root:/note.txt:/createUploadSession", json={})
    answer = requests.put(opened.json()["uploadUrl"], data=b"y" * 200,
                          headers={"Content-Range": "bytes 0-199/200"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert graph.get("/me/drive/root:/note.txt:/content").content == b"y" * 200


def test_an_upload_below_a_name_no_special_folder_has_is_refused_as_a_read_is(mock_drive, graph):
    """``special/{name}`` with a name that is not a special folder is 400 for whoever can see the
    drive, an upload or upload session below it too (it was a missing item's 404 there, as if
    the owner could read nothing on the way); for whoever cannot see the drive, the 404 a
    made-up drive id gets."""
    mock_drive.add_user("Bob", "bob@contoso.example")
    address = "/special/bogus:/x.bin:"
    read = assert_graph_error(graph.get("/me/drive" + address), 400, "invalidRequest")
    before = mock_drive.export()
    for answer in (
        graph.put("/me/drive" + address + "/content", data=b"x"),
        graph.post("/me/drive" + address + "/createUploadSession", json={}),
    ):
        assert assert_graph_error(answer, 400, "invalidRequest")["message"] == read["message"]
    bob = mock_drive.session_for("bob@contoso.example")
    real, made_up = mock_drive.drive.id, "b!" + "x" * 40
    for drive in (real, made_up):
        answer = bob.put(f"/drives/{drive}{address}/content", data=b"x")
        error = assert_graph_error(answer, 404, "itemNotFound")
        assert error["message"] == f"drive {drive!r} was not found"
    assert mock_drive.export() == before


def test_the_owners_upload_to_a_path_with_dot_dot_is_refused_as_the_path(mock_drive, graph):
    """A path naming ``..`` is 400 invalidPath for a caller who can read the drive's root, for
    an upload or upload session as for a read: it was a missing item's 404 there, as if the
    owner could read nothing on the way."""
    path = "/me/drive/root:/a/..%2Fb/x.txt:"
    assert_graph_error(graph.get(path), 400, "invalidRequest")
    before = mock_drive.export()
    for answer in (
        graph.put(path + "/content", data=b"x"),
        graph.post(path + "/createUploadSession", json={}),
    ):
        error = assert_graph_error(answer, 400, "invalidRequest")
        assert error["innerError"]["code"] == "invalidPath"
    assert mock_drive.export() == before


def test_a_head_step_answers_no_body_as_a_head_alone(mock_drive, graph):
    """``HEAD`` alone answers headers only; as a batch step it answered the item's whole body
    (with a freshly minted download URL). Its body is empty there too; its headers stay."""
    mock_drive.add_file("/Notes.txt", "notes")
    alone = graph.head("/me/drive/root:/Notes.txt")
    assert alone.status_code == 200 and alone.content == b""
    steps = [{"id": "1", "method": "HEAD", "url": "/me/drive/root:/Notes.txt"}]
    [item] = graph.post("/$batch", json={"requests": steps}).json()["responses"]
    assert item["status"] == 200
    assert item["body"] == {}
    assert item["headers"]["ETag"] == alone.headers["ETag"]


def test_a_refused_rename_does_not_use_up_the_number_it_picked(mock_drive, graph):
    """``rename`` picks the lowest free number. An upload refused after picking one (the
    numbered name makes the path too long) must leave that number free: once the path is
    short again, the next rename still picks it."""

    def upload(folder: str) -> requests.Response:
        url = f"/me/drive/root:/{folder}/x.txt:/content?@microsoft.graph.conflictBehavior=rename"
        return graph.put(url, data=b"x")

    mock_drive.add_file("/S/x.txt", "x")
    assert [upload("S").json()["name"] for _ in range(2)] == ["x 1.txt", "x 2.txt"]
    for name in ("x 1.txt", "x 2.txt"):
        assert graph.delete(f"/me/drive/root:/S/{name}").status_code == 204
    mock_drive.add_folder("/" + "a" * 200)
    long_name = "b" * (MAX_PATH_LENGTH - len("/" + "a" * 200 + "//x.txt"))  # x.txt just fits
    target = {"name": long_name, "parentReference": {"path": "/drive/root:/" + "a" * 200}}
    assert graph.patch("/me/drive/root:/S", json=target).status_code == 200
    before = mock_drive.export()
    refused = upload("a" * 200 + "/" + long_name)
    assert refused.status_code == 400, refused.text
    assert mock_drive.export() == before
    back = {"name": "S", "parentReference": {"path": "/drive/root:"}}
    assert graph.patch(f"/me/drive/root:/{'a' * 200}/{long_name}", json=back).status_code == 200
    assert upload("S").json()["name"] == "x 1.txt"


@pytest.mark.parametrize(
    ("method", "tail"),
    [
        ("PATCH", ""),  # a method no drive route serves: 405 on a drive the caller sees
        ("DELETE", ""),
        ("GET", "/root/workbook"),  # an operation mockdrive lacks: 501
        ("POST", "/items/abc/checkin"),
        ("GET", "/root:/a.xlsx:/workbook"),
        ("GET", "/special/recordings"),  # a special folder mockdrive lacks: 501
        ("GET", "/special/bogus"),  # not a special folder: 400
    ],
)
def test_a_refusal_before_any_item_answers_a_hidden_drive_as_a_missing_one(
    mock_drive, method, tail
):
    """Refusals that come before any item is looked up (a method the drive lacks, an
    operation or special folder mockdrive does not have) answered a real drive's id with
    405, 501 or 400 and a made-up one with 404: to a caller who cannot see the drive they
    told the id was real. Both are the same 404 now; the owner still gets the refusal."""
    mock_drive.add_user("Dan", "dan@contoso.example")
    hidden = mock_drive.drive.id
    missing = "b!" + "A" * len(hidden[2:])
    answers = []
    for drive_id in (hidden, missing):
        answer = requests.request(method, f"{mock_drive.graph_url}/drives/{drive_id}{tail}",
                                  json={}, headers=mock_drive.headers("dan-token"))  # fmt: skip
        error = answer.json()["error"]
        message = error["message"].replace(drive_id, "ID")
        answers.append((answer.status_code, error["code"], message))
    assert answers[0] == answers[1]
    assert answers[0][0] == 404
    mine = requests.request(method, f"{mock_drive.graph_url}/drives/{hidden}{tail}", json={},
                            headers=mock_drive.headers())  # fmt: skip
    assert mine.status_code in (400, 405, 501), mine.text


BAD_INPUT = [
    ("PUT", "/root:/a|b.txt:/content", {"data": b"x"}),
    ("PUT", "/root:/a.txt:/content?@microsoft.graph.conflictBehavior=bogus", {"data": b"x"}),
    ("PUT", "/root/children('a|b')/content", {"data": b"x"}),
    ("POST", "/root:/a|b.bin:/createUploadSession", {"json": {}}),
    ("POST", "/root:/a.bin:/createUploadSession", {"json": {"item": "bogus"}}),
    ("POST", "/root:/a.bin:/createUploadSession", {"json": {"item": {"fileSize": -1}}}),
    ("POST", "/root:/a.bin:/createUploadSession", {"json": {"item": {"name": "other.bin"}}}),
    ("POST", "/root:/a.bin:/createUploadSession", {"json": {"deferCommit": "yes"}}),
]


@pytest.mark.parametrize(("method", "tail", "body"), BAD_INPUT)
def test_bad_input_to_a_new_address_under_a_hidden_drive_or_item_is_a_missing_ones_404(
    hidden_payroll, method, tail, body
):
    """An upload or upload session to a path that need not exist yet refused its input (a
    name no drive takes, a malformed body) with 400 before it found the caller could see
    nothing there, where a made-up drive or item id gave 404: the refusal told the caller
    the id was real. With nothing readable on the way, it is the missing one's 404 now."""
    mock_drive = hidden_payroll
    mock_drive.add_user("Dan", "dan@contoso.example")  # sees nothing of the drive
    drive, payroll = mock_drive.drive.id, mock_drive.item("/Finance/Payroll").id
    on_payroll = (
        tail.replace("/root:", f"/items/{payroll}:", 1)
        if tail.startswith("/root:")
        else tail.replace("/root", f"/items/{payroll}", 1)
    )
    made_up_drive, made_up_item = "b!" + "A" * len(drive[2:]), "01" + "A" * len(payroll[2:])
    pairs = [  # (token, the real address, a made-up one, the id that differs)
        ("dan-token", f"/drives/{drive}{tail}", f"/drives/{made_up_drive}{tail}", drive),
        ("erin-token", f"/drives/{drive}{on_payroll}",
         f"/drives/{drive}{on_payroll.replace(payroll, made_up_item)}", payroll),
    ]  # fmt: skip
    for token, real, made_up, key in pairs:
        answers = []
        for url in (real, made_up):
            answer = requests.request(method, mock_drive.graph_url + url,
                                      headers=mock_drive.headers(token), **body)  # fmt: skip
            error = answer.json()["error"]
            message = error["message"].replace(key, "ID")
            message = message.replace(made_up_drive, "ID").replace(made_up_item, "ID")
            answers.append((answer.status_code, error["code"], message))
        assert answers[0] == answers[1], real
        assert answers[0][0] == 404
    own = requests.request(method, mock_drive.graph_url + f"/drives/{drive}{tail}",
                           headers=mock_drive.headers(), **body)  # fmt: skip
    assert own.status_code == 400, own.text  # the owner still hears what is wrong


@pytest.mark.parametrize("content", [b"a" * 10, b"b" * 5000], ids=["shrinks", "grows"])
def test_a_content_coded_fragment_is_refused_and_changes_nothing(mock_drive, graph, content):
    """A fragment sent with ``Content-Encoding: gzip`` was read decoded against the range its
    encoded length declared: one that decoded shorter was answered 499 "the client hung up"
    (to a client waiting for the answer), one that decoded longer stored the first bytes of
    the decoded stream as the file, which nobody sent. It is a 400 now, read nothing, and
    the session stays as it was."""
    opened = graph.post("/me/drive/root:/g.bin:/createUploadSession", json={})
    url = urlsplit(opened.json()["uploadUrl"])
    body = gzip.compress(content)
    headers = {"Content-Range": f"bytes 0-{len(body) - 1}/{len(body)}",
               "Content-Encoding": "gzip", "Content-Length": str(len(body))}  # fmt: skip
    before = mock_drive.export()
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request("PUT", url.path, body=body, headers=headers)
        answer = connection.getresponse()
        status, error = answer.status, json.loads(answer.read())["error"]
    finally:
        connection.close()
    assert status == 400, error
    assert error["code"] == "invalidRequest"
    assert mock_drive.export() == before
    assert requests.get(url.geturl()).json()["nextExpectedRanges"] == ["0-"]


@pytest.mark.parametrize("hidden", [False, True], ids=["seen", "hidden"])
def test_an_upload_session_whose_renamed_file_would_not_fit_is_refused_when_opened(
    mock_drive, graph, hidden
):
    """``rename`` onto a taken name whose numbered form (``x 1.txt``) makes the path too long:
    the simple upload is refused, and so is the session, when it opens, not after its last
    fragment (also where the name is taken by an item the caller cannot see)."""
    folder = "/" + "d" * 200 + "/" + "e" * (MAX_PATH_LENGTH - 200 - 2 - len("/x.txt"))
    mock_drive.add_file(folder + "/x.txt", "x")  # the path is exactly at the limit
    headers = None
    if hidden:
        mock_drive.add_user("Bob", "bob@contoso.example")
        mock_drive.grant(folder, "bob@contoso.example", ["write"])
        mock_drive.stop_inheriting(folder + "/x.txt")
        headers = mock_drive.headers("bob-token")
    base = f"{mock_drive.graph_url}/drives/{mock_drive.drive.id}/root:{folder}/x.txt:"
    simple = requests.put(base + "/content?@microsoft.graph.conflictBehavior=rename",
                          data=b"y", headers=headers or mock_drive.headers())  # fmt: skip
    assert simple.status_code == 400, simple.text
    before = mock_drive.export()
    body = {"item": {"@microsoft.graph.conflictBehavior": "rename"}}
    session = requests.post(base + "/createUploadSession", json=body,
                            headers=headers or mock_drive.headers())  # fmt: skip
    assert session.status_code == 400, session.text
    assert session.json()["error"]["innerError"]["code"] == "pathIsTooLong"
    assert session.json()["error"]["message"] == simple.json()["error"]["message"]
    assert mock_drive.export() == before
