"""OData query options that change answers: $select, $expand, $orderby, $skipToken, $filter."""

from __future__ import annotations

import pytest
from conftest import as_user, assert_graph_error


@pytest.fixture
def folder(mock_drive):
    for name, content in [("b.txt", "22"), ("C.txt", "1"), ("a.txt", "4444"), ("D.txt", "333")]:
        mock_drive.add_file(f"/F/{name}", content)
    return mock_drive.item("/F")


def all_pages(graph, path: str) -> list[str]:
    """Every name across the nextLinks of a listing (bounded)."""
    body = graph.get(path).json()
    names = [c["name"] for c in body["value"]]
    for _ in range(50):
        link = body.get("@odata.nextLink")
        if not link:
            return names
        body = graph.get(link).json()
        names += [c["name"] for c in body["value"]]
    raise AssertionError("more than 50 pages")


def test_select_returns_only_the_selected_properties_plus_id(folder, graph):
    body = graph.get("/me/drive/root:/F/a.txt?$select=name,size").json()
    assert set(body) == {"@odata.context", "id", "name", "size"}
    listing = graph.get("/me/drive/root:/F:/children?$select=name").json()
    assert all(set(c) == {"id", "name"} for c in listing["value"])
    drive = graph.get("/me/drive?$select=driveType").json()
    assert set(drive) == {"@odata.context", "id", "driveType"}


def test_expand_children_inline(folder, graph):
    body = graph.get("/me/drive/root:/F?$expand=children").json()
    assert [c["name"] for c in body["children"]] == ["b.txt", "C.txt", "a.txt", "D.txt"]
    assert "children@odata.nextLink" not in body
    narrow = graph.get("/me/drive/root:/F?$expand=children($select=name)&$select=id").json()
    assert set(narrow) == {"@odata.context", "id", "children"}
    assert all(set(c) == {"id", "name"} for c in narrow["children"])


def test_expanded_children_link_to_the_rest(folder, graph):
    body = graph.get("/me/drive/root:/F?$expand=children($top=3)").json()
    assert len(body["children"]) == 3
    rest = graph.get(body["children@odata.nextLink"]).json()
    assert [c["name"] for c in rest["value"]] == ["D.txt"]


def test_expand_permissions_inline(folder, mock_drive, graph):
    mock_drive.add_user("Bob", "bob@contoso.example")
    mock_drive.grant("/F", "bob@contoso.example", ["read"])
    body = graph.get("/me/drive/root:/F/a.txt?$expand=permissions").json()
    listed = graph.get("/me/drive/root:/F/a.txt:/permissions").json()["value"]
    assert body["permissions"] == listed and len(listed) == 2
    bob_view = as_user(graph, "bob-token").get(
        f"/drives/{mock_drive.drive.id}/items/{folder.id}?$expand=permissions"
    )
    assert [p["roles"] for p in bob_view.json()["permissions"]] == [["read"]]  # only his own


@pytest.mark.parametrize(
    "expand, status, code",
    [
        ("nonsense", 400, "invalidRequest"),
        ("children(", 400, "invalidRequest"),
        ("children($top=0)", 400, "invalidRequest"),
        ("analytics", 501, "notImplemented"),
        ("children($filter=size gt 1)", 501, "notImplemented"),
    ],
)
def test_bad_or_unserved_expansions(folder, graph, expand, status, code):
    assert_graph_error(graph.get(f"/me/drive/root:/F?$expand={expand}"), status, code)


@pytest.mark.parametrize(
    "orderby, expected",
    [
        ("name", ["a.txt", "b.txt", "C.txt", "D.txt"]),
        ("name asc", ["a.txt", "b.txt", "C.txt", "D.txt"]),
        ("name desc", ["D.txt", "C.txt", "b.txt", "a.txt"]),
        ("size", ["C.txt", "b.txt", "D.txt", "a.txt"]),
        ("size desc", ["a.txt", "D.txt", "b.txt", "C.txt"]),
        ("lastModifiedDateTime desc", ["D.txt", "a.txt", "C.txt", "b.txt"]),
    ],
)
def test_orderby_pages_in_order(folder, graph, orderby, expected):
    assert all_pages(graph, f"/me/drive/root:/F:/children?$orderby={orderby}&$top=1") == expected
    assert all_pages(graph, f"/me/drive/root:/F:/children?$orderby={orderby}") == expected


def test_orderby_name_follows_renames_and_new_children(folder, mock_drive, graph):
    path = "/me/drive/root:/F:/children?$orderby=name&$top=2"
    assert all_pages(graph, path) == ["a.txt", "b.txt", "C.txt", "D.txt"]
    graph.patch("/me/drive/root:/F/a.txt", json={"name": "z.txt"})
    mock_drive.add_file("/F/0.txt", "")
    assert all_pages(graph, path) == ["0.txt", "b.txt", "C.txt", "D.txt", "z.txt"]


def test_orderby_skips_children_the_caller_cannot_see(folder, mock_drive, graph):
    mock_drive.add_user("Bob", "bob@contoso.example")
    mock_drive.grant("/F", "bob@contoso.example", ["read"])
    mock_drive.stop_inheriting("/F/b.txt")
    bob = as_user(graph, "bob-token")
    path = f"/drives/{mock_drive.drive.id}/items/{folder.id}/children?$orderby=name&$top=1"
    assert all_pages(bob, path) == ["a.txt", "C.txt", "D.txt"]


@pytest.mark.parametrize(
    "orderby, status, code",
    [
        ("createdDateTime", 501, "notImplemented"),
        ("name,size", 501, "notImplemented"),
        ("name sideways", 400, "invalidRequest"),
    ],
)
def test_bad_orderby(folder, graph, orderby, status, code):
    response = graph.get(f"/me/drive/root:/F:/children?$orderby={orderby}")
    assert_graph_error(response, status, code)


def test_skip_token_in_both_spellings(folder, graph):
    first = graph.get("/me/drive/root:/F:/children?$top=2").json()
    assert "$skiptoken=2" in first["@odata.nextLink"]
    lower = graph.get("/me/drive/root:/F:/children?$top=2&$skiptoken=2").json()
    camel = graph.get("/me/drive/root:/F:/children?$top=2&$skipToken=2").json()
    assert [c["name"] for c in camel["value"]] == [c["name"] for c in lower["value"]]
    assert [c["name"] for c in camel["value"]] == ["a.txt", "D.txt"]


def test_a_filter_is_refused_not_ignored(folder, mock_drive, graph):
    before = mock_drive.digest()
    for path in ("/me/drive/root:/F:/children?$filter=file ne null",
                 "/me/drive/root:/F?$filter=name eq 'a.txt'"):  # fmt: skip
        error = assert_graph_error(graph.get(path), 501, "notSupported")
        assert "$filter" in error["message"]
    assert mock_drive.digest() == before


def test_odata_context_and_version_headers(folder, mock_drive, graph):
    item = graph.get("/me/drive/root:/F/a.txt")
    assert item.headers["OData-Version"] == "4.0"
    assert item.headers["ETag"] == item.json()["eTag"]
    drive = mock_drive.drive.id
    assert item.json()["@odata.context"] == (
        f"{mock_drive.graph_url}/$metadata#drives('{drive}')/items/$entity"
    )
    children = graph.get("/me/drive/root:/F:/children").json()
    assert children["@odata.context"] == (
        f"{mock_drive.graph_url}/$metadata#drives('{drive}')/items('{folder.id}')/children"
    )
    assert graph.get("/me/drive").json()["@odata.context"].endswith("$metadata#drives/$entity")


def test_created_items_carry_location_and_etag(mock_drive, graph):
    response = graph.post("/me/drive/root/children", json={"name": "New", "folder": {}})
    assert response.status_code == 201
    body = response.json()
    assert response.headers["ETag"] == body["eTag"]
    location = response.headers["Location"]
    assert location == f"{mock_drive.graph_url}/drives/{mock_drive.drive.id}/items/{body['id']}"
    assert graph.get(location).ok


def test_system_options_without_their_dollar(folder, graph):
    """The Debian onedrive client sends ``?select=…``: the prefix is optional."""
    body = graph.get("/me/drive/root:/F/a.txt?select=name,size").json()
    assert set(body) == {"@odata.context", "id", "name", "size"}
    listing = graph.get("/me/drive/root:/F:/children?select=name&top=2&orderby=name").json()
    assert [set(c) for c in listing["value"]] == [{"id", "name"}] * 2
    assert [c["name"] for c in listing["value"]] == ["a.txt", "b.txt"]
    assert "$select=name" in listing["@odata.nextLink"]
    assert graph.get(listing["@odata.nextLink"]).json()["value"][0]["name"] == "C.txt"
    expanded = graph.get("/me/drive/root:/F?expand=children(select=name)").json()
    assert len(expanded["children"]) == 4
    assert_graph_error(graph.get("/me/drive/root:/F:/children?filter=x"), 501, "notSupported")
    # the $ form wins over a bare name sent beside it
    both = graph.get("/me/drive/root:/F/a.txt?$select=name&select=size").json()
    assert set(both) == {"@odata.context", "id", "name"}
