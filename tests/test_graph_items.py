"""driveItems over HTTP: children and paging, creating folders, simple upload, delete, eTags."""

from __future__ import annotations

from conftest import assert_graph_error


def test_children_paging_with_top_and_next_link(mock_drive, graph):
    for n in range(5):
        mock_drive.add_folder(f"/F{n}")
    first = graph.get("/me/drive/root/children?$top=2").json()
    assert [c["name"] for c in first["value"]] == ["F0", "F1"]
    seen = [c["name"] for c in first["value"]]
    link = first["@odata.nextLink"]
    while link:
        assert link.startswith(mock_drive.graph_url)
        page = graph.get(link).json()
        seen += [c["name"] for c in page["value"]]
        link = page.get("@odata.nextLink")
    assert seen == ["F0", "F1", "F2", "F3", "F4"]


def test_children_ignore_select_expand_orderby(mock_drive, graph):
    mock_drive.add_folder("/A")
    response = graph.get("/me/drive/root/children?$select=id,name&$expand=thumbnails&$orderby=name")
    assert response.status_code == 200
    assert [c["name"] for c in response.json()["value"]] == ["A"]


def test_children_bad_top(graph):
    assert_graph_error(graph.get("/me/drive/root/children?$top=0"), 400, "invalidRequest")
    assert_graph_error(graph.get("/me/drive/root/children?$top=x"), 400, "invalidRequest")
    assert_graph_error(graph.get("/me/drive/root/children?$skiptoken=-1"), 400, "invalidRequest")


def test_folder_facet_counts_children_and_size_sums_descendants(mock_drive, graph):
    mock_drive.add_file("/P/a.txt", "12345")
    mock_drive.add_file("/P/sub/b.txt", "123")
    body = graph.get("/me/drive/root:/P").json()
    assert body["folder"] == {"childCount": 2}
    assert body["size"] == 8
    assert graph.get("/me/drive").json()["quota"]["used"] == 8


def test_create_folder_and_conflict_behaviors(mock_drive, graph):
    created = graph.post("/me/drive/root/children", json={"name": "Projects", "folder": {}})
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "Projects" and body["folder"] == {"childCount": 0}
    assert "@microsoft.graph.conflictBehavior" not in body

    again = graph.post("/me/drive/root/children", json={"name": "projects", "folder": {}})
    assert_graph_error(again, 409, "nameAlreadyExists")

    renamed = graph.post(
        "/me/drive/root/children",
        json={"name": "Projects", "folder": {}, "@microsoft.graph.conflictBehavior": "rename"},
    )
    assert renamed.json()["name"] == "Projects 1"

    mock_drive.add_file("/Projects/keep.txt", "x")
    replaced = graph.post(
        "/me/drive/root/children?@microsoft.graph.conflictBehavior=replace",
        json={"name": "Projects", "folder": {}},
    )
    assert replaced.status_code == 201
    assert replaced.json()["id"] != body["id"]
    assert replaced.json()["folder"] == {"childCount": 0}


def test_create_folder_by_path_and_under_a_file(mock_drive, graph):
    mock_drive.add_file("/Docs/a.txt", "x")
    created = graph.post("/me/drive/root:/Docs:/children", json={"name": "Sub", "folder": {}})
    assert created.status_code == 201
    assert created.json()["parentReference"]["path"] == "/drive/root:/Docs"
    under_file = graph.post(
        "/me/drive/root:/Docs/a.txt:/children", json={"name": "X", "folder": {}}
    )
    assert_graph_error(under_file, 400, "invalidRequest")


def test_rename_keeps_the_extension(mock_drive, graph):
    mock_drive.add_file("/report.docx", "x")
    response = graph.post(
        "/me/drive/root/children",
        json={"name": "report.docx", "file": {}, "@microsoft.graph.conflictBehavior": "rename"},
    )
    assert response.json()["name"] == "report 1.docx"


def test_simple_upload_new_then_replace(mock_drive, graph):
    new = graph.put("/me/drive/root:/Docs/notes.txt:/content", data=b"hello")
    assert new.status_code == 201
    item = new.json()
    assert item["size"] == 5 and item["file"]["mimeType"] == "text/plain"
    assert graph.get("/me/drive/root:/Docs").status_code == 200  # the missing folder was made

    replaced = graph.put("/me/drive/root:/Docs/notes.txt:/content", data=b"hello world")
    assert replaced.status_code == 200
    assert replaced.json()["id"] == item["id"]
    assert replaced.json()["cTag"] != item["cTag"]

    by_id = graph.put(f"/me/drive/items/{item['id']}/content", data=b"v3")
    assert by_id.status_code == 200 and by_id.json()["size"] == 2
    assert graph.get(f"/me/drive/items/{item['id']}/content").content == b"v3"

    parent = graph.get("/me/drive/root:/Docs").json()
    relative = graph.put(f"/me/drive/items/{parent['id']}:/more.txt:/content", data=b"m")
    assert relative.status_code == 201


def test_upload_conflict_fail_and_folder_target(mock_drive, graph):
    mock_drive.add_file("/a.txt", "x")
    mock_drive.add_folder("/dir")
    fail = graph.put(
        "/me/drive/root:/a.txt:/content?@microsoft.graph.conflictBehavior=fail", data=b"y"
    )
    assert_graph_error(fail, 409, "nameAlreadyExists")
    assert_graph_error(
        graph.put("/me/drive/root:/dir:/content", data=b"y"), 409, "nameAlreadyExists"
    )
    assert_graph_error(graph.put("/me/drive/root/content", data=b"y"), 400, "invalidRequest")


def test_upload_over_the_simple_upload_limit_is_413(mock_drive, graph):
    before = mock_drive.digest()
    response = graph.put("/me/drive/root:/big.bin:/content", data=b"x" * (4 * 1024 * 1024 + 1))
    assert_graph_error(response, 413, "invalidRequest")
    assert mock_drive.digest() == before


def test_delete_item_and_subtree(mock_drive, graph):
    mock_drive.add_file("/Old/sub/a.txt", "abc")
    folder = mock_drive.item("/Old")
    assert graph.delete(f"/me/drive/items/{folder.id}").status_code == 204
    assert_graph_error(graph.get("/me/drive/root:/Old/sub/a.txt"), 404, "itemNotFound")
    assert graph.get("/me/drive/root").json()["size"] == 0
    assert_graph_error(graph.delete(f"/me/drive/items/{folder.id}"), 404, "itemNotFound")
    assert_graph_error(graph.delete("/me/drive/root"), 400, "invalidRequest")


def test_etags_if_none_match_and_if_match(mock_drive, graph):
    mock_drive.add_file("/a.txt", "x")
    item = graph.get("/me/drive/root:/a.txt").json()
    assert (
        graph.get("/me/drive/root:/a.txt", headers={"If-None-Match": item["eTag"]}).status_code
        == 304
    )
    stale = {"If-Match": '"{nope},1"'}
    replace = graph.put(f"/me/drive/items/{item['id']}/content", data=b"y", headers=stale)
    assert_graph_error(replace, 412, "resourceModified")
    assert_graph_error(
        graph.delete(f"/me/drive/items/{item['id']}", headers=stale), 412, "resourceModified"
    )
    ok = graph.delete(f"/me/drive/items/{item['id']}", headers={"If-Match": item["eTag"]})
    assert ok.status_code == 204


def test_illegal_names_are_refused(mock_drive, graph):
    before = mock_drive.digest()
    for name in [
        "a/b",
        "a:b",
        "a*b",
        "a\x00b",
        "a\nb",
        "..",
        "~tmp",
        "x" * 256,
        "",
        "bad.",
        "100%",
    ]:
        response = graph.post("/me/drive/root/children", json={"name": name, "folder": {}})
        assert_graph_error(response, 400, "invalidRequest")
    assert mock_drive.digest() == before


def test_responses_never_carry_null(mock_drive, graph):
    mock_drive.add_file("/a.txt", "x")

    def walk(value):
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            assert value is not None

    for path in [
        "/me/drive",
        "/me/drive/root",
        "/me/drive/root/children",
        "/me/drive/root:/a.txt",
        "/me/drive/root/permissions",
    ]:
        walk(graph.get(path).json())
