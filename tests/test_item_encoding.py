"""GET item encodes an item's fields once and keeps the JSON while every input is equal
(``render.encode_item``): after any change, for any caller, host, version or state, its answer
must be byte for byte what the plain rendering gives now. The plain rendering is reached by the
same GET with a ``$select`` of every property an item can have, which renders afresh and keeps
every field in its place."""

from __future__ import annotations

import requests

from mockdrive.scenario.defaults import default_state

EVERY_PROPERTY = ",".join(
    (
        "name",
        "eTag",
        "cTag",
        "size",
        "createdDateTime",
        "lastModifiedDateTime",
        "webUrl",
        "createdBy",
        "lastModifiedBy",
        "parentReference",
        "fileSystemInfo",
        "description",
        "file",
        "folder",
        "root",
        "shared",
        "@microsoft.graph.downloadUrl",
    )
)

STAMP = "2020-01-01T00:00:00Z"


def assert_fresh(session: requests.Session, url: str) -> dict:
    """GET ``url`` (an item) answers exactly as the plain rendering of it does now."""
    quick = session.get(url)
    plain = session.get(url, params={"$select": EVERY_PROPERTY})
    assert quick.status_code == plain.status_code == 200, (quick.text, plain.text)
    assert quick.content == plain.content
    for header in ("ETag", "Content-Type", "Content-Length", "OData-Version"):
        assert quick.headers[header] == plain.headers[header], header
    return quick.json()


def test_every_change_to_an_item_or_its_ancestors_shows(mock_drive):
    mock_drive.add_file("/A/B/x.txt", "x")
    mock_drive.add_folder("/Z")
    session = mock_drive.session
    ids = {path: mock_drive.item(path).id for path in ("/", "/A", "/A/B", "/A/B/x.txt", "/Z")}

    def all_fresh() -> dict:
        for item_id in ids.values():
            assert_fresh(session, f"/me/drive/items/{item_id}")
        return assert_fresh(session, f"/me/drive/items/{ids['/A/B/x.txt']}")

    first = all_fresh()
    assert first["parentReference"]["path"] == "/drive/root:/A/B"
    x, a = ids["/A/B/x.txt"], ids["/A"]
    changes = [
        ("PATCH", f"/me/drive/items/{x}", {"name": "y é.txt"}),
        ("PATCH", f"/me/drive/items/{x}", {"description": "a file"}),
        ("PATCH", f"/me/drive/items/{x}", {"fileSystemInfo": {"lastModifiedDateTime": STAMP}}),
        ("PUT", f"/me/drive/items/{x}/content", b"longer content"),
        ("PATCH", f"/me/drive/items/{a}", {"name": "Ä 2"}),  # the grandparent: path and webUrl
        ("PATCH", f"/me/drive/items/{a}", {"parentReference": {"id": ids["/Z"]}}),
        ("PATCH", f"/me/drive/items/{x}", {"parentReference": {"id": ids["/Z"]}}),
        ("POST", f"/me/drive/items/{ids['/A/B']}/children", {"name": "New", "folder": {}}),
    ]
    seen = [first]
    for method, url, body in changes:
        if isinstance(body, bytes):
            done = session.request(method, url, data=body)
        else:
            done = session.request(method, url, json=body)
        assert done.status_code in (200, 201), done.text
        seen.append(all_fresh())
    last = seen[-1]
    assert last["name"] == "y é.txt" and last["description"] == "a file"
    assert last["size"] == len(b"longer content")
    assert last["parentReference"]["path"] == "/drive/root:/Z"
    assert seen[5]["parentReference"]["path"] == "/drive/root:/Ä 2/B"
    assert seen[6]["parentReference"]["path"] == "/drive/root:/Z/Ä 2/B"
    folder = assert_fresh(session, f"/me/drive/items/{ids['/A/B']}")
    assert folder["folder"]["childCount"] == 1  # x moved out, New made


def test_people_callers_hosts_versions_and_sharing_each_show(mock_drive):
    mock_drive.add_user("Rita Reader", "rita@contoso.example", token="rita-token")
    mock_drive.add_user("Wes Writer", "wes@contoso.example", token="wes-token")
    mock_drive.add_file("/T/doc.txt", "d")
    mock_drive.grant("/T", "wes@contoso.example", ["write"])
    item_id = mock_drive.item("/T/doc.txt").id
    owner = mock_drive.session
    rita, wes = (mock_drive.session_for(f"{n}@contoso.example") for n in ("rita", "wes"))
    base = f"/drives/{mock_drive.drive.id}/items/{item_id}"
    mine = f"/me/drive/items/{item_id}"

    before = assert_fresh(owner, mine)
    assert "shared" not in before
    assert rita.get(base).status_code == 404  # not hers yet: nothing kept shows it
    mock_drive.grant("/T/doc.txt", "rita@contoso.example", ["read"])
    shared = assert_fresh(owner, mine)
    assert shared["shared"] == {"scope": "users"}
    hers = assert_fresh(rita, base)
    assert hers["parentReference"]["path"] == f"/drives/{mock_drive.drive.id}/root:/T"
    url_key = "@microsoft.graph.downloadUrl"
    assert mock_drive.user("rita@contoso.example").id in hers[url_key]
    assert mock_drive.owner.id in assert_fresh(owner, base)[url_key]
    # someone else modifies it last; then the creator's name changes in the directory
    written = wes.put(f"{base}/content", data=b"by wes")
    assert written.status_code == 200, written.text
    assert assert_fresh(owner, mine)["lastModifiedBy"]["user"]["displayName"] == "Wes Writer"
    for user, name in ((mock_drive.user("wes@contoso.example"), "Wes Renamed"),
                       (mock_drive.owner, "Ada Renamed")):  # fmt: skip
        mock_drive.server.call(lambda user=user, name=name: setattr(user, "display_name", name))
        renamed = assert_fresh(owner, mine)
    assert renamed["lastModifiedBy"]["user"]["displayName"] == "Wes Renamed"
    assert renamed["createdBy"]["user"]["displayName"] == "Ada Renamed"
    # other hosts and versions: the context and the download URLs follow the host called
    port = mock_drive.url.rsplit(":", 1)[1]
    for host in ("127.0.0.1", "localhost"):
        for version in ("v1.0", "beta"):
            url = f"http://{host}:{port}/{version}{mine}"
            got = assert_fresh(owner, url)
            assert got["@odata.context"].startswith(f"http://{host}:{port}/{version}/$metadata")
            assert got[url_key].startswith(f"http://{host}:{port}/download/")


def test_a_state_of_the_same_ids_never_shows_another_states_item(mock_drive, worker_server):
    """Two servers in one process read in turn, each with a state of the same seed (the same
    item ids) but another name and size for the same file."""
    mock_drive.add_file("/S/a.txt", "on the fixture's server")
    other = worker_server(default_state("other-token"))
    other.call(
        lambda: other.state.make_path(
            other.state.default_drive(other.state.user("ada@contoso.example").id),
            "/S/a.txt",
            is_folder=False,
            content=b"other",
        )
    )
    theirs = requests.Session()
    theirs.headers["Authorization"] = "Bearer other-token"
    for _ in range(2):
        a = assert_fresh(mock_drive.session, "/me/drive/root:/S/a.txt:")
        b = assert_fresh(theirs, f"{other.graph_url}/me/drive/root:/S/a.txt:")
        assert (a["size"], b["size"]) == (len(b"on the fixture's server"), len(b"other"))
    mock_drive.load(mock_drive.export())  # a new state of this server, the same ids
    again = assert_fresh(mock_drive.session, "/me/drive/root:/S/a.txt:")
    assert again["size"] == len(b"on the fixture's server")
