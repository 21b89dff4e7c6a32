"""Export → load keeps what a client can observe (versions and times, Onehub's numbers, spellings of
addresses, owner rolemaps, ids never reused), and what
a reload must not carry (download URL keys).

Each test takes the state as ``GET /_mockdrive/state`` answers it, puts it back with
``PUT /_mockdrive/state`` and compares what a Graph or Onehub client sees before and after.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import requests
from conftest import as_user


def _onehub(mock_drive, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, mock_drive.url + path, headers=headers, timeout=30, **kwargs)


def _export(mock_drive) -> bytes:
    exported = requests.get(mock_drive.url + "/_mockdrive/state", timeout=30)
    assert exported.status_code == 200, exported.text
    return exported.content


def _load(mock_drive, exported: bytes) -> None:
    loaded = requests.put(mock_drive.url + "/_mockdrive/state", data=exported, timeout=30)
    assert loaded.status_code == 200, loaded.text


def _reload(mock_drive) -> None:
    _load(mock_drive, _export(mock_drive))


def _invite(mock_drive, folder: int, emails: str, role: str) -> None:
    body = {"invitation": {"emails": emails, "role_name": role}}
    path = f"/folders/{folder}/invitations"
    answer = _onehub(mock_drive, "POST", path, mock_drive.token, json=body)
    assert answer.status_code == 201, answer.text


TIMES = ("createdDateTime", "lastModifiedDateTime")


def test_a_reload_keeps_etags_and_times(mock_drive, graph):
    """a stored eTag still matches after a reload (If-Match succeeds), and the times, the
    eTag and cTag of files, folders and the root are those shown before."""
    assert graph.post("/me/drive/root/children", json={"name": "F", "folder": {}}).ok
    assert graph.put("/me/drive/root:/F/a.txt:/content", data=b"1").status_code == 201
    assert graph.put("/me/drive/root:/F/a.txt:/content", data=b"22").status_code == 200
    assert graph.patch("/me/drive/root:/F/a.txt:", json={"name": "b.txt"}).status_code == 200
    paths = ("/me/drive/root", "/me/drive/root:/F:", "/me/drive/root:/F/b.txt:")
    keys = ("eTag", "cTag", *TIMES)
    before = {p: {k: graph.get(p).json().get(k) for k in keys} for p in paths}
    drive_before = graph.get("/me/drive").json().get("createdDateTime")
    _reload(mock_drive)
    after = {p: {k: graph.get(p).json().get(k) for k in keys} for p in paths}
    assert after == before
    assert graph.get("/me/drive").json().get("createdDateTime") == drive_before
    etag = before["/me/drive/root:/F/b.txt:"]["eTag"]
    renamed = graph.patch(
        "/me/drive/root:/F/b.txt:", json={"name": "c.txt"}, headers={"If-Match": etag}
    )
    assert renamed.status_code == 200, renamed.text


def test_the_clock_continues_exactly_after_a_reload(mock_drive, graph):
    """Differential: the same create made on the original and on its reloaded copy gets
    the same times (the clock's position is part of the export)."""
    assert graph.post("/me/drive/root/children", json={"name": "F", "folder": {}}).ok
    assert graph.put("/me/drive/root:/F/a.txt:/content", data=b"1").status_code == 201
    assert graph.put("/me/drive/root:/F/a.txt:/content", data=b"2").status_code == 200
    exported = _export(mock_drive)
    made = []
    for round_ in range(2):
        if round_:
            _load(mock_drive, exported)
        created = graph.put("/me/drive/root:/F/new.txt:/content", data=b"x")
        assert created.status_code == 201, created.text
        made.append([created.json()[k] for k in TIMES])
    assert made[0] == made[1]


def test_a_reload_keeps_onehub_ids(mock_drive, graph):
    """Onehub's integer ids (nodes, workspaces, users, rolemaps) are handed out on first
    sight; a reload keeps them, and the next number handed out is the same as without it."""
    mock_drive.add_user("Bob", "bob@contoso.example", token="bob-token")
    for name in ("A", "B", "C"):
        assert graph.post("/me/drive/root/children", json={"name": name, "folder": {}}).ok
    token = mock_drive.token
    b_id = mock_drive.onehub_id("/B")  # B is seen first: it gets the lower number
    a_id = mock_drive.onehub_id("/A")
    _invite(mock_drive, a_id, "bob@contoso.example", "Viewer")
    shown = [
        _onehub(mock_drive, "GET", path, token).json()
        for path in (f"/folders/{b_id}", f"/folders/{a_id}/rolemaps", "/workspaces")
    ]
    exported = _export(mock_drive)
    c_first = mock_drive.onehub_id("/C")
    _load(mock_drive, exported)
    assert [
        _onehub(mock_drive, "GET", path, token).json()
        for path in (f"/folders/{b_id}", f"/folders/{a_id}/rolemaps", "/workspaces")
    ] == shown
    assert mock_drive.onehub_id("/C") == c_first  # the numbering continues where it was


def test_a_reload_keeps_the_invited_spelling(mock_drive, graph):
    """a Onehub invitation typed BOB@… for the directory user bob shows the same address
    before and after a reload."""
    mock_drive.add_user("Bob", "bob@contoso.example", token="bob-token")
    assert graph.post("/me/drive/root/children", json={"name": "F", "folder": {}}).ok
    _invite(mock_drive, mock_drive.onehub_id("/F"), "BOB@contoso.example", "Viewer")
    before = graph.get("/me/drive/root:/F:/permissions").json()
    _reload(mock_drive)
    assert graph.get("/me/drive/root:/F:/permissions").json() == before


def test_two_workspaces_of_one_owner_have_distinct_owner_rolemaps(mock_drive, graph):
    """the owner's rolemap in a second workspace is not the first one's, each resolves to
    its own workspace, and Graph's owner permission ids do not change (nor after a reload)."""
    token = mock_drive.token
    created = _onehub(mock_drive, "POST", "/workspaces", token, json={"workspace": {"name": "T"}})
    assert created.status_code == 201, created.text
    second = created.json()["workspace"]["id"]
    first = mock_drive.workspace_id()
    graph_ids = [p["id"] for p in graph.get("/me/drive/root/permissions").json()["value"]]
    rows = {}
    for workspace in (first, second):
        listing = _onehub(mock_drive, "GET", f"/workspaces/{workspace}/rolemaps", token)
        rows[workspace] = [r["rolemap"]["id"] for r in listing.json()["items"]]
    assert set(rows[first]).isdisjoint(rows[second]), rows
    for number in rows[first] + rows[second]:
        one = _onehub(mock_drive, "GET", f"/rolemaps/{number}", token)
        assert one.status_code == 200, one.text
        assert one.json()["rolemap"]["object_type"] == "Workspace"
    _reload(mock_drive)
    assert [p["id"] for p in graph.get("/me/drive/root/permissions").json()["value"]] == graph_ids
    for workspace in (first, second):
        listing = _onehub(mock_drive, "GET", f"/workspaces/{workspace}/rolemaps", token)
        assert [r["rolemap"]["id"] for r in listing.json()["items"]] == rows[workspace]


def test_bad_history_and_numbering_are_refused_with_their_path(mock_drive):
    """The new keys are checked like the others: 400 naming the entry, the state unchanged."""
    before = _export(mock_drive)
    users = [{"displayName": "Ada", "email": "ada@x.example"}]
    root = {"children": [{"name": "F", "folder": {}, "createdDateTime": "yesterday"}]}
    cases = [
        ({"drives": [{"owner": "ada@x.example", "root": root}]}, "createdDateTime"),
        ({"onehub": {"nodes": ["a", "a"]}}, "onehub.nodes: a node is numbered twice"),
        ({"drives": [{"owner": "ada@x.example", "root": {"version": 0}}]}, "root.version"),
    ]
    for scenario, expected in cases:
        answer = requests.put(
            mock_drive.url + "/_mockdrive/state", json={"users": users, **scenario}, timeout=30
        )
        assert answer.status_code == 400, answer.text
        assert expected in answer.json()["error"]["message"], answer.text
    assert _export(mock_drive) == before


def _rolemap_numbers(mock_drive, folder: int) -> set[int]:
    listing = _onehub(mock_drive, "GET", f"/folders/{folder}/rolemaps", mock_drive.token)
    assert listing.status_code == 200, listing.text
    return {row["rolemap"]["id"] for row in listing.json()["items"]}


def test_a_deleted_rolemaps_number_is_not_handed_out_again_after_a_reload(mock_drive, graph):
    """Onehub never reuses an id. A rolemap numbered and then deleted keeps its number
    after a reload: the next grant gets a new number, the same as without the reload (the
    reloaded copy must not give the new grant the deleted one's permission id, which the
    numbering still names)."""
    assert graph.post("/me/drive/root/children", json={"name": "F", "folder": {}}).ok
    _reload(mock_drive)  # a loaded state: its id source starts again from the seed
    folder = mock_drive.onehub_id("/F")
    body = {"recipients": [{"email": "x@fabrikam.example"}], "roles": ["read"]}
    invited = graph.post("/me/drive/root:/F:/invite", json=body)
    assert invited.status_code == 200, invited.text
    deleted = _rolemap_numbers(mock_drive, folder)
    permission = invited.json()["value"][0]["id"]
    assert graph.delete(f"/me/drive/root:/F:/permissions/{permission}").status_code == 204
    exported = _export(mock_drive)
    made = []
    for round_ in range(2):
        if round_:
            _load(mock_drive, exported)
        body = {"recipients": [{"email": "y@fabrikam.example"}], "roles": ["read"]}
        assert graph.post("/me/drive/root:/F:/invite", json=body).status_code == 200
        made.append(_rolemap_numbers(mock_drive, folder))
    gone = deleted - made[0]  # the deleted grant's number
    assert gone and made[1].isdisjoint(gone), (deleted, made)
    assert made[0] == made[1]


def _unsigned(answer: Any) -> str:
    """``answer`` as JSON text with download URL signatures left out."""
    return re.sub(r"(/download/[^\"]*\.)[0-9a-f]+\"", r'\1"', json.dumps(answer))


def _download_url(graph, path: str) -> str:
    item = graph.get(f"/me/drive/root:{path}").json()
    return item["@microsoft.graph.downloadUrl"]


def test_download_urls_cannot_be_forged_from_the_exported_seed(mock_drive, graph):
    """A download URL's signature uses a secret of the server's state that no export holds:
    a token signed with a key derived from the seed (which every export shows) is refused."""
    assert graph.put("/me/drive/root:/a.txt:/content", data=b"secret").status_code == 201
    url = _download_url(graph, "/a.txt")
    assert requests.get(url, timeout=10).content == b"secret"
    seed = json.loads(_export(mock_drive))["seed"]
    payload = url.rsplit("/", 1)[1].rpartition(".")[0]
    for key in (
        hashlib.sha256(b"mockdrive download urls %d" % seed).digest(),
        str(seed).encode(),
    ):
        mac = hashlib.blake2b(payload.encode(), key=key, digest_size=12).hexdigest()
        forged = requests.get(f"{mock_drive.url}/download/{payload}.{mac}", timeout=10)
        assert forged.status_code == 404, forged.text


def test_a_download_url_does_not_outlive_a_reset_or_a_load(mock_drive, graph):
    """A URL issued before the state was replaced downloads nothing from the new state, not
    even its file of the same id; a URL issued after works."""
    assert graph.put("/me/drive/root:/a.txt:/content", data=b"old").status_code == 201
    exported = _export(mock_drive)
    before = _download_url(graph, "/a.txt")
    _load(mock_drive, exported)  # the same file, the same id
    assert requests.get(before, timeout=10).status_code == 404
    after = _download_url(graph, "/a.txt")
    assert after.rsplit("/", 1)[1].split(".")[0] == before.rsplit("/", 1)[1].split(".")[0]
    assert requests.get(after, timeout=10).content == b"old"
    requests.post(mock_drive.url + "/_mockdrive/reset", timeout=10).raise_for_status()
    assert requests.get(after, timeout=10).status_code == 404


def _advance(mock_drive, days: int) -> None:
    answer = requests.post(mock_drive.url + "/_mockdrive/clock", json={"days": days}, timeout=30)
    assert answer.status_code == 200, answer.text


def test_a_reload_keeps_a_pending_invitations_deadline(mock_drive, graph):
    """An invitation nobody accepted is withdrawn 90 days after it was sent; a reload on day 60
    does not give it 90 days more."""
    assert graph.post("/me/drive/root/children", json={"name": "F", "folder": {}}).ok
    body = {"recipients": [{"email": "x@fabrikam.example"}], "roles": ["read"]}
    assert graph.post("/me/drive/root:/F:/invite", json=body).status_code == 200
    _advance(mock_drive, 60)
    _reload(mock_drive)
    listed = graph.get("/me/drive/root:/F:/permissions").json()["value"]
    assert any(p.get("invitation", {}).get("email") == "x@fabrikam.example" for p in listed)
    _advance(mock_drive, 31)
    listed = graph.get("/me/drive/root:/F:/permissions").json()["value"]
    assert not any(p.get("invitation", {}).get("email") == "x@fabrikam.example" for p in listed)


def test_a_reload_keeps_shared_with_me_order_and_delay(mock_drive, graph):
    """sharedWithMe lists shares in the order they happened and each only after the policy's
    delay: both count from when it was shared, which a reload keeps."""
    mock_drive.add_user("Bob", "bob@contoso.example", token="bob-token")
    policy = requests.put(
        mock_drive.url + "/_mockdrive/policy", json={"sharedWithMeDelaySeconds": 3600}, timeout=30
    )
    assert policy.status_code == 200, policy.text
    bob = as_user(graph, "bob-token")
    for name in ("B", "A"):
        assert graph.post("/me/drive/root/children", json={"name": name, "folder": {}}).ok
        body = {"recipients": [{"email": "bob@contoso.example"}], "roles": ["read"]}
        assert graph.post(f"/me/drive/root:/{name}:/invite", json=body).status_code == 200
        if name == "B":
            _advance(mock_drive, 1)  # B shows after an hour; A was shared a day later
    answers = []
    for round_ in range(2):
        if round_:
            _reload(mock_drive)
        answers.append([i["name"] for i in bob.get("/me/drive/sharedWithMe").json()["value"]])
    assert answers == [["B"], ["B"]]


def test_a_delta_token_taken_before_a_reload_continues_after_it(mock_drive, graph):
    """The change log and which state it is are exported: a token handed out before the
    export names the same changes on the reloaded copy, and a token of another state still
    resyncs."""
    assert graph.post("/me/drive/root/children", json={"name": "F", "folder": {}}).ok
    assert graph.put("/me/drive/root:/F/a.txt:/content", data=b"1").status_code == 201
    link = graph.get("/me/drive/root/delta").json()["@odata.deltaLink"]
    assert graph.put("/me/drive/root:/F/b.txt:/content", data=b"2").status_code == 201
    assert graph.delete("/me/drive/root:/F/a.txt").status_code == 204
    exported = _export(mock_drive)
    answers = []
    for round_ in range(2):
        if round_:
            _load(mock_drive, exported)
        answer = graph.get(link)
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())
    assert [e["name"] for e in answers[0]["value"]] == ["root", "F", "b.txt", "a.txt"]
    assert _unsigned(answers[1]) == _unsigned(answers[0])  # each state signs with its own key
    another = json.loads(exported)
    del another["changes"]  # the same items, but another state: its tokens are not these
    _load(mock_drive, json.dumps(another).encode())
    gone = graph.get(link)
    assert gone.status_code == 410, gone.text


def test_a_time_as_the_delta_token_names_the_same_changes_after_a_reload(mock_drive, graph):
    """Which change was made at which second is exported with the log: ``?token=<time>``
    answers alike on the reloaded copy (a deleted folder with its folder facet too)."""
    assert graph.post("/me/drive/root/children", json={"name": "F", "folder": {}}).ok
    mock_drive.clock.advance(hours=1)
    since = mock_drive.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    mock_drive.clock.advance(hours=1)
    assert graph.put("/me/drive/root:/b.txt:/content", data=b"2").status_code == 201
    assert graph.delete("/me/drive/root:/F").status_code == 204
    answers = []
    for round_ in range(2):
        if round_:
            _reload(mock_drive)
        answer = graph.get(f"/me/drive/root/delta?token={since}")
        assert answer.status_code == 200, answer.text
        answers.append([(e["name"], "folder" in e, "deleted" in e) for e in answer.json()["value"]])
    assert answers[0] == [("root", True, False), ("b.txt", False, False), ("F", True, True)]
    assert answers[1] == answers[0]


def test_a_half_done_upload_and_a_copy_monitor_continue_after_a_reload(mock_drive, graph):
    """Open upload sessions (their bytes so far) and copy monitors are exported: the upload
    completes on the reloaded copy and the monitor still names the copy."""
    assert graph.post("/me/drive/root/children", json={"name": "F", "folder": {}}).ok
    copied = graph.post("/me/drive/root:/F:/copy", json={"name": "G"})
    assert copied.status_code == 202, copied.text
    monitor = copied.headers["Location"]
    opened = graph.post("/me/drive/root:/F/big.bin:/createUploadSession", json={})
    assert opened.status_code == 200, opened.text
    url = opened.json()["uploadUrl"]
    fragment = 320 * 1024  # every fragment but the last: a multiple of 320 KiB
    head, tail = b"a" * fragment, b"def"
    total = len(head) + len(tail)
    first = requests.put(
        url, data=head, headers={"Content-Range": f"bytes 0-{fragment - 1}/{total}"}, timeout=10
    )
    assert first.status_code == 202, first.text
    _reload(mock_drive)
    status = requests.get(url, timeout=10).json()
    assert status["nextExpectedRanges"] == [f"{fragment}-{total - 1}"]
    last = requests.put(
        url, data=tail, headers={"Content-Range": f"bytes {fragment}-{total - 1}/{total}"},
        timeout=10,
    )  # fmt: skip
    assert last.status_code == 201, last.text
    assert graph.get("/me/drive/root:/F/big.bin:/content").content == head + tail
    assert (
        last.json()["file"]["hashes"]
        == graph.get("/me/drive/root:/F/big.bin").json()["file"]["hashes"]
    )
    followed = requests.get(monitor, timeout=10)
    assert followed.status_code == 200, followed.text
    assert followed.json().get("resourceId") == mock_drive.item("/G").id


def test_permissions_expiring_at_the_same_moment_go_in_the_same_order_after_a_reload(
    mock_drive, graph
):
    """Deadlines that fall together are withdrawn in an order of their own (not the order they
    were scheduled in, which a load changes), so delta lists the withdrawals alike."""
    mock_drive.add_user("Bob", "bob@contoso.example", token="bob-token")
    assert graph.post("/me/drive/root/children", json={"name": "F", "folder": {}}).ok
    assert graph.put("/me/drive/root:/F/a.txt:/content", data=b"1").status_code == 201
    when = "2024-01-05T00:00:00Z"
    invite = {"recipients": [{"email": "bob@contoso.example"}], "roles": ["read"]}
    invite["expirationDateTime"] = when
    assert graph.post("/me/drive/root:/F/a.txt:/invite", json=invite).status_code == 200
    link = {"type": "view", "scope": "anonymous", "expirationDateTime": when}
    assert graph.post("/me/drive/root:/F:/createLink", json=link).status_code == 201
    delta = graph.get("/me/drive/root/delta").json()["@odata.deltaLink"]
    exported = _export(mock_drive)
    answers = []
    for round_ in range(2):
        if round_:
            _load(mock_drive, exported)
        _advance(mock_drive, 10)
        changed = graph.get(delta, headers={"Prefer": "deltashowsharingchanges"})
        assert changed.status_code == 200, changed.text
        answers.append([e["name"] for e in changed.json()["value"]])
    assert sorted(answers[0]) == ["F", "a.txt", "root"]  # the root: above both
    assert answers[1] == answers[0]


def test_a_link_made_after_a_reload_gets_a_token_of_its_own(mock_drive, graph):
    """A loaded state's id source starts again from the seed, so the first link made after each
    load got the same token, and ``/shares`` then found the wrong item (found by the view
    invariant)."""
    mock_drive.add_folder("/Projects")
    mock_drive.add_folder("/Other")
    kind = {"type": "view", "scope": "organization"}
    _reload(mock_drive)
    first = graph.post("/me/drive/root:/Projects:/createLink", json=kind)
    assert first.status_code == 201, first.text
    _reload(mock_drive)
    second = graph.post("/me/drive/root:/Other:/createLink", json=kind)
    assert second.status_code == 201, second.text
    assert second.json()["shareId"] != first.json()["shareId"]
    for made, name in ((first, "Projects"), (second, "Other")):
        shared = graph.get(f"/shares/{made.json()['shareId']}/driveItem")
        assert shared.status_code == 200 and shared.json()["name"] == name, shared.text
    _reload(mock_drive)  # the export holds two distinct tokens, so it loads


def test_a_delta_walks_next_page_continues_after_a_reload_and_resyncs_in_another_state(
    mock_drive, graph
):
    """A first round's nextLink names its state as the deltaLink does: it goes on after an
    export and reload of that state (the same page as before), and in another state loaded
    through ``PUT /_mockdrive/state`` it answers what the deltaLink answers: 410
    resyncRequired."""
    for name in ("a", "b", "c", "d", "e"):
        assert graph.post("/me/drive/root/children", json={"name": name, "folder": {}}).ok
    next_link = graph.get("/me/drive/root/delta?$top=2").json()["@odata.nextLink"]
    delta_link = graph.get("/me/drive/root/delta?token=latest").json()["@odata.deltaLink"]
    before = graph.get(next_link)
    assert before.status_code == 200, before.text
    exported = _export(mock_drive)
    _load(mock_drive, exported)
    after = graph.get(next_link)
    assert after.status_code == 200, after.text
    assert _unsigned(after.json()) == _unsigned(before.json())
    another = json.loads(exported)
    del another["changes"]  # the same items, but another state: its tokens are not these
    _load(mock_drive, json.dumps(another).encode())
    stale = graph.get(delta_link)
    assert stale.status_code == 410, stale.text
    assert stale.json()["error"]["code"] == "resyncRequired"
    gone = graph.get(next_link)
    assert _without_request_id(gone) == _without_request_id(stale)


def _without_request_id(answer: requests.Response) -> tuple[int, dict[str, str], Any]:
    """The status, headers and body of ``answer``, less the ids and time of its request."""
    body = answer.json()
    body["error"]["innerError"].pop("request-id")
    varying = {"date", "request-id", "client-request-id"}
    headers = {k.lower(): v for k, v in answer.headers.items() if k.lower() not in varying}
    return answer.status_code, headers, body
