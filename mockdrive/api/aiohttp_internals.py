"""Every aiohttp name mockdrive uses that aiohttp does not offer as public API, in one place.

A ``$batch`` step is served by the application like a request that arrived on the batch's
connection, so it passes the whole pipeline (routing, the expect handler, any middleware, the
pipeline around its handler). aiohttp has no public way to serve a request that did not come
from a socket: ``Request.clone`` keeps the batch's own body (and refuses once that body has
been read), and the application's handler is reachable publicly only through the runner
(``runner.server.request_handler``), which a handler never sees, or the deprecated
``Application.make_handler``. So this module touches, and only this module may touch
(``tests/test_layering.py`` holds every other module to it):

- ``web.Application._handle``: the application's request handler, the one the runner's
  ``Server`` calls for every request that comes off a socket.
- ``aiohttp.http.RawRequestMessage``: the parsed request head a request is built from (a named
  tuple that neither ``aiohttp`` nor ``aiohttp.web`` exports); ``answer_unreadable_targets``
  rebuilds one (``_replace``) for the runner's ``Server.request_factory``.
- the ``web.Request`` constructor (message, payload, protocol, writer, task, loop): documented
  as not for user code; every argument is taken from the batch's public attributes.
- ``aiohttp.http.HttpProcessingError``: what ``request.post()`` raises for broken multipart
  part headers (neither ``aiohttp`` nor ``aiohttp.web`` exports it).
- ``aiohttp.web_urldispatcher.MatchedSubAppResource``: the one kind of resource the router
  tries for a request with no path at all (``CONNECT host:443``, an absolute-form target
  without a path), whose look-up by path never starts; ``PathlessRequests`` is one that
  matches only those and hands them to a route of ours, so the pipeline answers them.

All of them are the same from aiohttp 3.9 to 3.14 (the floor in ``pyproject.toml`` is set by the
server's head timer, not by these). ``.ci/oldest-aiohttp`` runs the batch, expect and server
tests on the oldest aiohttp allowed; the rest of CI runs on the newest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import EMPTY_PAYLOAD, StreamReader, hdrs, web
from aiohttp.http import HttpProcessingError, RawRequestMessage
from aiohttp.web_urldispatcher import MatchedSubAppResource
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

__all__ = [
    "HttpProcessingError",
    "PathlessRequests",
    "answer_unreadable_targets",
    "inner_request",
    "serve",
]

_NO_METHODS: frozenset[str] = frozenset()  # what the router adds up of resources that missed


class PathlessRequests(MatchedSubAppResource):
    """Requests with no path, resolved by ``resource`` (a catch-all of ours, registered too):
    aiohttp's router walks a request's path from its end back to ``/``, and an empty path never
    enters that walk, so without this it answers such a request itself, in plain text. The
    router tries this resource first on every request.

    ``ahead``, if given, is asked first about every other path (aiohttp's ``path_safe``): the
    match the router's walk would find for it, or None to let the walk find it. It spares the
    most common requests the walk (one look-up per segment of the path)."""

    def __init__(
        self,
        resource: web.AbstractResource,
        ahead: Callable[[str], web.UrlMappingMatchInfo | None] | None = None,
    ) -> None:
        web.AbstractResource.__init__(self)  # not a sub-application: none is mounted
        self._prefix = ""
        self._resource = resource
        self._ahead = ahead

    @property
    def canonical(self) -> str:
        return ""

    def get_info(self) -> dict[str, str]:
        return {}

    async def resolve(self, request: web.Request) -> tuple[web.UrlMappingMatchInfo | None, set]:
        path = request.rel_url.path_safe
        if path:
            ahead = self._ahead
            return (None if ahead is None else ahead(path)), _NO_METHODS
        return await self._resource.resolve(request)

    def __len__(self) -> int:
        return 0  # its routes are the resource's, listed there

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(())

    def __repr__(self) -> str:
        return f"<PathlessRequests -> {self._resource!r}>"


def inner_request(
    outer: web.Request, method: str, path: str, headers: CIMultiDict[str], body: bytes
) -> web.Request:
    """A request for ``method path`` with these headers and body, served as if it had arrived
    on ``outer``'s connection (same protocol, writer, task, HTTP version and size limit)."""
    headers = CIMultiDict(headers)
    if body:
        headers[hdrs.CONTENT_LENGTH] = str(len(body))
    message = RawRequestMessage(
        method=method,
        path=path,
        version=outer.version,
        headers=CIMultiDictProxy(headers),
        raw_headers=tuple((k.encode(), v.encode()) for k, v in headers.items()),
        should_close=not outer.keep_alive,
        compression=None,
        upgrade=False,
        chunked=False,
        url=URL(path, encoded=True),
    )
    loop = asyncio.get_running_loop()
    if body:
        payload = StreamReader(outer.protocol, 2**16, loop=loop)
        payload.feed_data(body)
        payload.feed_eof()
    else:
        payload = EMPTY_PAYLOAD
    return web.Request(
        message,
        payload,
        outer.protocol,
        outer.writer,
        outer.task,
        loop,
        client_max_size=outer.client_max_size,
    )


async def serve(app: web.Application, request: web.Request) -> web.StreamResponse:
    """The application's answer to ``request``, through its whole pipeline, as for any request
    that comes off a socket; the answer is returned, not sent."""
    return await app._handle(request)


def answer_unreadable_targets(server: web.Server) -> None:
    """Build every request whose target is in absolute form (``GET http://host/path``, and
    ``CONNECT host:443``) as its origin form with the target's host and port as its ``Host``
    (userinfo left out), as RFC 9112 has a server use the target's authority over the Host
    header; the path and query are the ones aiohttp would have given it.

    aiohttp builds such a request with the target's host decoded, outside any handler: one that
    IDNA cannot decode (``http://xn--a/``) raised in the connection's task, which ended without
    an answer and left the connection open; and its ``request.host`` was the bare name, with
    neither port nor an IPv6 literal's brackets, which every URL an answer makes is built on
    (``http://[::1]:8080/...`` was a 500 where a download URL was made). As origin form, the
    pipeline checks and uses that host as it does a Host header. ``server.request_factory`` is
    the public attribute the runner's server builds each request with; the message is rebuilt
    here (``_replace``)."""
    make = server.request_factory

    def made(
        message: RawRequestMessage, payload: StreamReader, protocol: Any, writer: Any, task: Any
    ) -> web.BaseRequest:
        url = message.url
        if url.absolute:  # (a target in origin form, nearly every request: served as is)
            message = _origin_form(message, url)
        return make(message, payload, protocol, writer, task)

    server.request_factory = made


def _origin_form(message: RawRequestMessage, url: URL) -> RawRequestMessage:
    """``message``, whose target ``url`` is absolute, with its target in origin form and the
    target's authority, without userinfo, as its only ``Host``."""
    authority = url.raw_authority.rpartition("@")[2]
    origin = url.relative()  # what aiohttp takes as the request's path and query
    headers = CIMultiDict(message.headers)
    headers[hdrs.HOST] = authority
    raw_headers = (
        *((k, v) for k, v in message.raw_headers if k.lower() != b"host"),
        (b"Host", authority.encode("utf-8", "surrogateescape")),
    )
    return message._replace(
        path=str(origin), url=origin, headers=CIMultiDictProxy(headers), raw_headers=raw_headers
    )
