"""Attacks on the request path's latest changes: the router's look-up ahead of its walk over
generated paths and methods, a ``$batch`` step's route against the same request alone, GET
item's ETag header against the eTag it renders, and the journal's entries without faults."""

from __future__ import annotations

import asyncio
from functools import partial

import pytest
from aiohttp.test_utils import make_mocked_request
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from yarl import URL

from mockdrive.api.aiohttp_internals import PathlessRequests
from mockdrive.api.app import GraphVersion, build_app, handler_of
from mockdrive.backend import Backend

# pieces of paths a client or an attacker sends: escapes of every kind, dot segments, colons,
# the batch's name, other dialects' and the admin's prefixes, unicode and control characters
SEGMENTS = [
    "v1.0", "beta", "V1.0", "Beta", "v1.0x", "$batch", "%24batch", "$BATCH", "$batchX", "%2F",
    "a%2Fb", "%25", "%252F", "..", ".", "", "me", "drive", "root:", "a:b:", "root:/a:b:",
    "content", "items", "01ABC", "children", "%00", "%0A", "%0D", "%09", "%20", "a b", "é",
    "caf%C3%A9", "%E2%82%AC", "😀", "_mockdrive", "journal", "health", "workspaces", "files",
    "folders", "rolemaps", "up", "download", "preview", "monitor", "common", "organizations",
    "oauth2", "v2.0", "token", "drives", "shares", "u!aHR0cHM6Ly9leGFtcGxl", "%", "%zz", ";",
    "%3A", ":", "x" * 300, "%2e%2e", "%2E",
]  # fmt: skip
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "FOO", "PROPFIND"]
FIRST = ["v1.0", "beta", "v1.0", "beta", "V1.0", "%761.0", "v1.0%2F", "beta%2F", "_mockdrive"]


@st.composite
def paths(draw: st.DrawFn) -> str:
    segments = draw(st.lists(st.sampled_from(SEGMENTS), max_size=6))
    if draw(st.booleans()):  # often, right after the version: the names of a longer route
        # under it, and what no ``{rest:.*}`` takes (a newline)
        segments.insert(0, draw(st.sampled_from(["$batch", "%24batch", "$batchX", "a%0Ab"])))
    if draw(st.booleans()):
        segments.insert(0, draw(st.sampled_from(FIRST)))
    path = "/" + "/".join(segments)
    if draw(st.booleans()):
        path += "/"
    if draw(st.booleans()):
        path = path.replace("/", "//", 1)
    return path


def _request(method: str, path: str, app):
    """A request for ``path`` as aiohttp's parser makes it of the request line's target (an
    origin-form path: ``//a:b`` is a path, not an authority)."""
    request = make_mocked_request(method, "/", app=app)
    return request.clone(rel_url=URL.build(path=path, encoded=True))


def _front_door(app):
    return next(r for r in app.router.resources() if isinstance(r, PathlessRequests))


def _plain(function):
    return getattr(function, "__func__", function)


def _what_serves(route):
    """The handler a route runs (inside the pipeline, bound to its own application's backend)."""
    handler = route.handler
    handler = _plain(handler_of(handler) if isinstance(handler, partial) else handler)
    return handler.__qualname__  # (a closure of each application's own)


@pytest.fixture(scope="module")
def runner():
    """One event loop for every example (the router's look-up is a coroutine)."""
    with asyncio.Runner() as running:
        yield running


@pytest.fixture(scope="module")
def apps():
    """One application with the look-up ahead, and one whose router walks every path."""
    app = build_app(Backend())
    walked_app = build_app(Backend())
    _front_door(walked_app)._ahead = None  # the router's own walk alone, as before
    app.freeze()
    walked_app.freeze()
    return app, walked_app


async def _resolved(app, method: str, path: str):
    return await app.router.resolve(_request(method, path, app))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=paths(), method=st.sampled_from(METHODS))
@example(path="/v1.0/a%0Ab", method="GET")  # and every run tries these, whatever it draws
@example(path="/beta/$batch", method="POST")
@example(path="/v1.0/%24batch/x", method="HEAD")
@example(path="/v1.0/a%25b%2Fc:/x", method="PATCH")
def test_generated_paths_take_the_route_the_walk_takes(apps, runner, path, method):
    app, walked_app = apps
    found = runner.run(_resolved(app, method, path))
    walked = runner.run(_resolved(walked_app, method, path))
    assert found.route.resource.canonical == walked.route.resource.canonical
    assert type(found.route.resource) is type(walked.route.resource)
    assert _what_serves(found.route) == _what_serves(walked.route)
    assert dict(found) == dict(walked)
    found_error, walked_error = found.http_exception, walked.http_exception
    assert (found_error and found_error.status) == (walked_error and walked_error.status)
    assert _plain(found.expect_handler) is _plain(walked.expect_handler)


@settings(max_examples=300, deadline=None)
@given(path=paths())
def test_the_look_up_ahead_matches_as_its_graph_version_does(apps, path):
    """Where the look-up answers, it is the version's own match: same route, same ``rest``."""
    app, _ = apps
    mocked = _request("GET", path, app)
    safe = mocked.rel_url.path_safe
    ahead = _front_door(app)._ahead(safe)
    if ahead is None:
        return
    version = next(
        r for r in app.router.resources() if isinstance(r, GraphVersion) and r.match(safe)
    )
    assert ahead.route is version.route
    assert dict(ahead) == dict(version.match(safe))


# $batch steps: a step's URL is routed by the same router; it must answer as alone
STEP_URLS = [
    "/me/drive/root",
    "/me/drive/root/",
    "//me/drive/root",
    "/me/drive/root:/a%2Fb.txt:",
    "/me/drive/root:/caf%C3%A9.txt:",
    "/me/drive/root:/a:b:/content",
    "/me/drive/root:/%E2%82%AC.txt:/content",
    "/me/drive/items/nope",
    "/Me/Drive",
    "/me/drive/root:/x.txt:?$select=id,eTag",
    "/nowhere",
    "/me/drive/root:/notes%252F.txt:",
]


@pytest.fixture
def files(mock_drive):
    mock_drive.add_file("/€.txt", "euro")
    mock_drive.add_file("/x.txt", "x")
    mock_drive.add_file("/café.txt", "café")
    return mock_drive


@pytest.mark.parametrize("url", STEP_URLS)
def test_a_step_with_an_odd_url_answers_as_the_request_alone(files, url):
    client = files.session
    alone = client.get(url, allow_redirects=False)
    batch = client.post("/$batch", json={"requests": [{"id": "1", "method": "GET", "url": url}]})
    assert batch.status_code == 200, batch.text
    (step,) = batch.json()["responses"]
    assert step["status"] == alone.status_code, (step, alone.text)
    if alone.is_redirect:  # a download: a URL of its own, to the same place
        assert (
            step["headers"]["Location"].partition("?")[0]
            == (alone.headers["Location"].partition("?")[0])
        )
    elif alone.headers.get("Content-Type", "").startswith("application/json"):
        body = step["body"]
        expected = alone.json()
        if "error" in expected:  # the envelope's per-request ids differ
            assert body["error"]["code"] == expected["error"]["code"]
            assert body["error"]["message"] == expected["error"]["message"]
        else:
            assert body == expected


# GET item's ETag header: the eTag it renders, after every kind of change


def _get(graph, path, **headers):
    answer = graph.get(path, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer


def _header_is_body(graph, path: str) -> str:
    answer = _get(graph, path)
    etag = answer.json()["eTag"]
    assert answer.headers["ETag"] == etag
    assert graph.get(path, headers={"If-None-Match": etag}).status_code == 304
    return etag


def test_the_etag_header_follows_the_item_through_its_changes(graph):
    created = graph.put("/me/drive/root:/e.txt:/content", data=b"one")
    assert created.status_code in (200, 201), created.text
    item_id = created.json()["id"]
    path = f"/me/drive/items/{item_id}"
    seen = [_header_is_body(graph, path)]

    patched = graph.patch(path, json={"description": "d"}, headers={"If-Match": seen[-1]})
    assert patched.status_code == 200, patched.text
    seen.append(_header_is_body(graph, path))
    assert patched.json()["eTag"] == seen[-1]

    uploaded = graph.put(f"{path}/content", data=b"two")
    assert uploaded.status_code == 200, uploaded.text
    seen.append(_header_is_body(graph, path))

    renamed = graph.patch(path, json={"name": "f.txt"})
    assert renamed.status_code == 200, renamed.text
    seen.append(_header_is_body(graph, path))
    assert _header_is_body(graph, "/me/drive/root:/f.txt") == seen[-1]

    assert len(set(seen)) == len(seen)  # every change made a new one
    stale = graph.patch(path, json={"description": "e"}, headers={"If-Match": seen[0]})
    assert stale.status_code == 412, stale.text
    assert graph.get(path, headers={"If-None-Match": seen[0]}).status_code == 200


@pytest.mark.parametrize(
    "query", ["?$select=id", "?$select=name,eTag", "?$expand=children", "?$expand=permissions"]
)
def test_the_etag_header_is_the_items_whatever_the_body_shows(graph, query):
    graph.put("/me/drive/root:/s/t.txt:/content", data=b"t")
    folder = _get(graph, "/me/drive/root:/s")
    etag = folder.json()["eTag"]
    answer = _get(graph, "/me/drive/root:/s" + query)
    assert answer.headers["ETag"] == etag
    head = graph.head("/me/drive/root:/s" + query)
    assert head.status_code == 200
    assert head.headers["ETag"] == etag


def test_the_roots_etag_header_is_its_body_etag(graph):
    _header_is_body(graph, "/me/drive/root")
    graph.put("/me/drive/root:/child.txt:/content", data=b"c")
    _header_is_body(graph, "/me/drive/root")


# the journal: an entry of a request that fired no fault shows as it did


def test_an_entry_without_faults_shows_none_as_before(mock_drive, graph):
    graph.get("/me/drive/root")
    (entry,) = mock_drive.requests.find("GET", "/v1.0/me/drive/root")
    assert entry.faults == []  # as every entry's faults compared before
    assert all("faults" not in listed for listed in mock_drive.requests)
    journal = mock_drive.session.get(mock_drive.url + "/_mockdrive/journal")
    assert journal.status_code == 200, journal.text
    assert all("faults" not in listed for listed in journal.json()["value"])


def test_an_entry_with_faults_shows_them(mock_drive, graph):
    with mock_drive.faults.active(effect="error", status=503, path="/v1.0/me/drive/root"):
        assert graph.get("/me/drive/root").status_code == 503
    assert graph.get("/me/drive/root").status_code == 200
    fired, clean = mock_drive.requests.find("GET", "/v1.0/me/drive/root")
    assert [f["effect"] for f in fired.faults] == ["error"]
    assert clean.faults == []
    listed = [e for e in mock_drive.requests if e["path"] == "/v1.0/me/drive/root"]
    assert [len(e.get("faults", [])) for e in listed] == [1, 0]
