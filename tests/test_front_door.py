"""The router's look-up ahead of its walk (``aiohttp_internals.PathlessRequests``, asked
first about every request, with ``app.graph_ahead``): it must match each path to the very
route, with the very values, that aiohttp's walk of the same router finds without it."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from mockdrive.api.aiohttp_internals import PathlessRequests
from mockdrive.api.app import build_app
from mockdrive.backend import Backend

PATHS = [
    "/v1.0/me/drive/items/01ABC",
    "/beta/me/drive/root:/a%2Fb%25c:/children",
    "/v1.0/me/drive/root:/a%0Ab:",  # a newline: no ``{rest:.*}`` takes it
    "/v1.0/$batch",
    "/beta/$batch",
    "/v1.0/%24batch",  # the batch's path, escaped
    "/v1.0/$batch/x",  # under the batch's path: Graph's, found by the walk
    "/v1.0/$batchX",
    "/v1.0/",
    "/v1.0",
    "/v1.0x/me",
    "/v1.0//me/./drive",
    "/V1.0/me",
    "/_mockdrive/health",
    "/up/abc",
    "/organizations/oauth2/v2.0/token",
    "/",
    "/v1.0/me/drive/root:/%E2%82%AC%20euro.txt:",
]


def _front_door(app):
    return next(r for r in app.router.resources() if isinstance(r, PathlessRequests))


@pytest.mark.parametrize("path", PATHS)
async def test_the_look_up_ahead_finds_what_the_walk_finds(path):
    app = build_app(Backend())
    walked_app = build_app(Backend())
    _front_door(walked_app)._ahead = None  # the router's own walk alone
    app.freeze()
    walked_app.freeze()
    for method in ("GET", "POST", "PATCH"):
        found = await app.router.resolve(make_mocked_request(method, path, app=app))
        walked = await walked_app.router.resolve(make_mocked_request(method, path, app=walked_app))
        assert found.route.resource.canonical == walked.route.resource.canonical, (method, path)
        assert type(found.route.resource) is type(walked.route.resource), (method, path)
        assert dict(found) == dict(walked), (method, path)
        assert (found.http_exception is None) == (walked.http_exception is None), (method, path)


async def test_the_look_up_ahead_answers_the_common_paths():
    """A Graph path is matched without the walk (the point of it); the batch's is not."""
    app = build_app(Backend())
    ahead = _front_door(app)._ahead
    assert ahead("/v1.0/me/drive/items/01ABC") is not None
    escaped = ahead("/beta/me/drive/root:/a%2Fb%25c:/children")
    assert escaped["rest"] == "me/drive/root:/a/b%c:/children"
    for path in ("/v1.0/$batch", "/beta/$batch/x", "/v1.0", "/_mockdrive/health", "/v1.0/a\nb"):
        assert ahead(path) is None, path
