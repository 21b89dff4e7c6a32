"""``POST …/items/{id}/preview``: the service's answer shape, and an embeddable URL on the
mock's origin that shows the file to whoever it was given to, without a token."""

from __future__ import annotations

import requests
from conftest import as_user, assert_graph_error


def test_preview_answers_urls_that_show_the_file_without_a_token(mock_drive, graph):
    mock_drive.add_file("/Docs/Plan & notes.txt", "hello preview", mime_type="text/plain")
    item = mock_drive.item("/Docs/Plan & notes.txt")
    answer = graph.post(f"/me/drive/items/{item.id}/preview", json={})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"getUrl", "postUrl", "postParameters"}
    assert body["getUrl"].startswith(mock_drive.url + "/preview/")
    page = requests.get(body["getUrl"], timeout=10)  # as an <iframe> would: no token
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "<title>Plan &amp; notes.txt</title>" in page.text  # escaped
    source = page.text.split('data="', 1)[1].split('"', 1)[0]
    assert requests.get(mock_drive.url + source, timeout=10).text == "hello preview"
    posted = requests.post(
        body["postUrl"],
        data=body["postParameters"],
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert posted.status_code == 200 and posted.text == page.text
    # any item form, with the documented parameters
    by_path = graph.post(
        "/me/drive/root:/Docs/Plan & notes.txt:/preview",
        json={"page": 1, "zoom": 1.5, "chromeless": True, "allowEdit": False, "viewer": None},
    )
    assert by_path.status_code == 200, by_path.text


def test_a_preview_url_expires_with_the_hour_and_a_forged_one_shows_nothing(mock_drive, graph):
    mock_drive.add_file("/a.txt", "x")
    url = graph.post("/me/drive/root:/a.txt:/preview").json()["getUrl"]
    assert requests.get(url, timeout=10).status_code == 200
    forged = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert requests.get(forged, timeout=10).status_code == 404
    mock_drive.clock.advance(hours=1, seconds=1)
    assert requests.get(url, timeout=10).status_code == 404


def test_bad_preview_requests_are_refused_and_change_nothing(mock_drive, graph):
    mock_drive.add_file("/Docs/a.txt", "x")
    mock_drive.add_user("Bob", "bob@contoso.example")
    before = mock_drive.digest()
    for body in ({"zoom": "big"}, {"zoom": 0}, {"page": True}, {"colour": "red"},
                 {"allowEdit": "yes"}, {"zoom": 1e308}, {"page": 10**12}, {"page": -1},
                 {"page": "p" * 256}, {"viewer": "v" * 256}):  # fmt: skip
        assert_graph_error(graph.post("/me/drive/root:/Docs/a.txt:/preview", json=body), 400,
                           "invalidRequest")  # fmt: skip
    folder = graph.post("/me/drive/root:/Docs:/preview", json={})
    assert_graph_error(folder, 400, "invalidRequest")
    # without access: exactly the answer of an item that does not exist
    hidden = as_user(graph, "bob-token").post("/me/drive/root:/Docs/a.txt:/preview".replace(
        "/me/drive", f"/drives/{mock_drive.drive.id}"), json={"zoom": "big"})  # fmt: skip
    assert_graph_error(hidden, 404, "itemNotFound")
    assert_graph_error(graph.get("/me/drive/root:/Docs/a.txt:/preview"), 405, "notSupported")
    assert mock_drive.digest() == before
