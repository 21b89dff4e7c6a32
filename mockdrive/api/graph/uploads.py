"""Upload sessions and pre-authenticated URLs on the wire.

``POST …/createUploadSession`` opens a session (an authenticated Graph call); its ``uploadUrl``
(``/up/{session}``) then takes ``PUT`` byte ranges, ``GET`` status and ``DELETE`` without a bearer
token, as the service's does. ``@microsoft.graph.downloadUrl`` (``/download/{token}``) serves a
file's bytes, ranges included, to whoever holds it. Both live on the host the client used, so
they work through proxy mode unchanged.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from aiohttp import hdrs, web

from ...model import uploads
from ...model.errors import InvalidRequest, NotFound
from ...model.identity import User
from ...model.state import State
from ...model.tree import Drive
from ..context import Call
from ..errors import ApiError
from ..jsonio import fast_json_response, optional, read_optional_json_object
from ..routing import ExpectHandler, Handler
from .addressing import resolve_base
from .changes import timestamp
from .downloads import DOWNLOAD_PREFIX, Downloads
from .envelope import context_url
from .items import CONFLICT_KEYS
from .paths import GraphPath
from .preview import PREVIEW_PREFIX, serve_preview
from .render import render_item

UPLOAD_PREFIX = "/up/"
PRE_AUTHENTICATED_PREFIXES = (UPLOAD_PREFIX, DOWNLOAD_PREFIX, PREVIEW_PREFIX)
_CONTENT_RANGE = re.compile(r"^bytes ([0-9]{1,15})-([0-9]{1,15})/([0-9]{1,15})$")  # ASCII digits


# Graph's own hosts (proxy mode serves them). The service's uploadUrl is never on Graph's host
# but on the storage's (``…-my.sharepoint.com``, ``api.onedrive.com``), so an SDK that sends its
# token to Graph's hosts sends none with the fragments; a session opened through one of these
# gets its uploadUrl on ``api.onedrive.com``, which proxy mode serves too.
GRAPH_HOSTS = frozenset(
    {"graph.microsoft.com", "graph.microsoft.us", "dod-graph.microsoft.us",
     "microsoftgraph.chinacloudapi.cn"}
)  # fmt: skip
UPLOAD_HOST = "api.onedrive.com"


def origin_of(request: web.Request) -> str:
    return str(request.url.origin())


def upload_origin(request: web.Request) -> str:
    """Where a new session's uploadUrl points: the host the client used, or, for a Graph host
    (proxy mode), the storage host beside it."""
    origin = request.url.origin()
    if origin.host in GRAPH_HOSTS:
        origin = origin.with_host(UPLOAD_HOST)
    return str(origin)


# -- createUploadSession ------------------------------------------------------------------------
async def create_upload_session(
    request: web.Request, call: Call, drive: Drive, path: GraphPath
) -> web.Response:
    state, caller = call.state, call.caller
    body = await read_optional_json_object(request)
    item_body = body.get("item")
    if item_body is None:
        item_body = {}
    elif not isinstance(item_body, dict):
        raise InvalidRequest("item must be an object")
    defer_commit = optional(body, "deferCommit", bool, "true or false") or False
    conflict = request.query.get(CONFLICT_KEYS[0]) or request.query.get(CONFLICT_KEYS[1])
    for source in (body, item_body):  # the docs show it inside ``item`` and, earlier, beside it
        for key in CONFLICT_KEYS:
            conflict = optional(source, key, str, "one of fail, replace, rename") or conflict
    name = optional(item_body, "name", str, "a string")
    file_size = optional(item_body, "fileSize", int, "a whole number of bytes")
    info = optional(item_body, "fileSystemInfo", dict, "an object") or {}
    fs_created = timestamp(info, "createdDateTime")  # read as PATCH reads them
    fs_modified = timestamp(info, "lastModifiedDateTime")
    base = resolve_base(state, caller, drive, path)
    if path.item_path is None or path.item_path.strip("/") == "":
        item_path = None
    else:
        item_path = path.item_path
    try:
        session = uploads.create_session(
            state,
            caller,
            base,
            item_path,
            conflict=conflict,
            name=name,
            file_size=file_size,
            if_match=request.headers.get("If-Match"),
            fs_created=fs_created,
            fs_modified=fs_modified,
            defer_commit=defer_commit,
        )
    except uploads.QuotaExceeded as error:
        raise ApiError(507, "quotaLimitReached", error.message, error.inner_code) from None
    body = {
        "@odata.context": context_url(request, "microsoft.graph.uploadSession"),
        "uploadUrl": upload_origin(request) + UPLOAD_PREFIX + session.id,
        "expirationDateTime": session.expires,
        "nextExpectedRanges": session.next_expected_ranges,
    }
    return fast_json_response(body)


# -- the upload URL -----------------------------------------------------------------------------
def session_status(session: uploads.UploadSession) -> dict[str, Any]:
    return {
        "expirationDateTime": session.expires,
        "nextExpectedRanges": session.next_expected_ranges,
    }


def refuse_content_coding(request: web.Request) -> None:
    """A fragment's bytes travel as they are: with a ``Content-Encoding`` aiohttp would hand
    over the decoded stream, which the range (counted in the bytes sent) does not describe."""
    coding = request.headers.get(hdrs.CONTENT_ENCODING)
    if coding is not None and coding.strip().lower() not in ("", "identity"):
        raise InvalidRequest(
            f"a fragment is sent without a Content-Encoding (got {coding!r}): its "
            "Content-Range counts the file's own bytes"
        )


def parse_content_range(header: str | None) -> tuple[int, int, int]:
    match = _CONTENT_RANGE.match((header or "").strip())
    if match is None:
        raise InvalidRequest(
            "Content-Range must be 'bytes START-END/TOTAL'", "invalidContentRangeHeader"
        )
    start, end, total = (int(g) for g in match.groups())
    if end < start or end >= total:
        raise InvalidRequest(f"the range {start}-{end}/{total} is not valid", "invalidRange")
    return start, end, total


async def put_fragment(request: web.Request, call: Call, session_id: str) -> web.Response:
    state = call.state
    last = state.uploads.last_fragment(state, session_id)
    if last is not None:
        return await repeat_last_fragment(request, call, last)
    session = state.uploads.get(state, session_id)
    start, end, total = parse_content_range(request.headers.get("Content-Range"))
    refuse_content_coding(request)
    length = end - start + 1
    if length > uploads.MAX_FRAGMENT_BYTES:
        raise ApiError(413, "invalidRequest", "a fragment must be smaller than 60 MiB",
                       "maxFragmentSizeExceeded")  # fmt: skip
    if request.content_length is None:
        raise ApiError(411, "invalidRequest", "a fragment needs a Content-Length")
    if request.content_length != length:
        raise InvalidRequest(
            f"Content-Length {request.content_length} does not match the range's {length} bytes",
            "invalidRange",
        )
    if not state.policy.lenient_upload_sessions:
        uploads.check_fragment_size(start, end, total)
    range_error(uploads.check_fragment, session, start, end, total)  # refuse before reading
    try:
        data = await request.content.readexactly(length)
    except asyncio.IncompleteReadError:
        raise ConnectionResetError("the client hung up mid-fragment") from None
    session = state.uploads.get(state, session_id)  # it may have changed while we read
    result = range_error(uploads.add_fragment, state, session, start, end, total, data)
    if result is None:
        return fast_json_response(session_status(session), status=202)
    item, created = result
    return fast_json_response(render_item(state, call, item), status=201 if created else 200)


async def repeat_last_fragment(
    request: web.Request, call: Call, last: uploads.LastFragment
) -> web.Response:
    """A PUT to a session that has completed: a repeat of its last fragment, bytes and all,
    answers 200 with the file and changes nothing (the answer to the first may have been lost).

    msgraph-core's upload task repeats the last range of a single-fragment file with an empty
    body; the service refuses that Content-Length with 400 (msgraph-sdk-python-core issue 718)
    and so does mockdrive, unless the lenient upload policy is on, which answers it like a
    repeat so the unchanged task finishes without an exception."""
    state = call.state
    start, end, total = parse_content_range(request.headers.get("Content-Range"))
    refuse_content_coding(request)
    length = end - start + 1
    data: bytes | None = None
    if request.content_length is None:
        raise ApiError(411, "invalidRequest", "a fragment needs a Content-Length")
    if request.content_length == 0 and state.policy.lenient_upload_sessions:
        pass
    elif request.content_length != length:
        raise InvalidRequest(
            f"Content-Length {request.content_length} does not match the range's {length} bytes",
            "invalidRange",
        )
    elif (start, end, total) == (last.start, last.end, last.total):
        try:
            data = await request.content.readexactly(length)
        except asyncio.IncompleteReadError:
            raise ConnectionResetError("the client hung up mid-fragment") from None
    item = uploads.repeat_last_fragment(state, last, start, end, total, data)
    return fast_json_response(render_item(state, call, item), status=200)


def range_error(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn``, answering a refused range as the service does (416) and a full drive 507."""
    try:
        return fn(*args)
    except uploads.RangeNotSatisfiable as error:
        raise ApiError(416, "invalidRange", error.message, error.inner_code) from None
    except uploads.QuotaExceeded as error:
        raise ApiError(507, "quotaLimitReached", error.message, error.inner_code) from None


def add_routes(
    app: web.Application,
    call_of: Callable[[web.Request], Call],
    expect_handler: ExpectHandler,
    through: Callable[[Handler], Handler],
) -> None:
    """The pre-authenticated routes, each handler served ``through`` the pipeline, which
    resolves their caller with ``pre_authenticated_caller`` instead of a bearer token."""

    async def upload_url(request: web.Request) -> web.StreamResponse:
        call = call_of(request)  # the completed item carries a download URL
        call = replace(call, downloads=Downloads(request, call.caller.id))
        state, session_id = call.state, request.match_info["session"]
        if request.method == "PUT":
            if "Authorization" in request.headers and not state.policy.lenient_upload_sessions:
                # the docs: a PUT to the uploadUrl with an Authorization header "may result in
                # an HTTP 401 Unauthorized response"; a client that sends its token there fails
                message = "the uploadUrl is pre-authenticated: send no Authorization header"
                raise ApiError(401, "unauthenticated", message)
            return await put_fragment(request, call, session_id)
        session = state.uploads.get(state, session_id)
        if request.method == "POST":  # completes a deferCommit session (empty body)
            if await request.content.read(1):
                raise InvalidRequest("completing an upload session takes an empty body")
            item, created = uploads.commit(state, session)
            return fast_json_response(
                render_item(state, call, item), status=201 if created else 200
            )
        if request.method == "DELETE":
            uploads.cancel(state, session)
            return web.Response(status=204)
        return fast_json_response(session_status(session))

    async def download(request: web.Request) -> web.StreamResponse:
        from .content import serve_bytes

        call = call_of(request)
        item, _ = uploads.redeem_download_token(call.state, request.match_info["token"])
        return serve_bytes(request, item)

    route = UPLOAD_PREFIX + "{session}"
    for method in ("GET", "PUT", "POST", "DELETE"):
        app.router.add_route(method, route, through(upload_url), expect_handler=expect_handler)
    for method in ("GET", "HEAD"):
        app.router.add_route(
            method, DOWNLOAD_PREFIX + "{token}", through(download), expect_handler=expect_handler
        )

    async def preview(request: web.Request) -> web.StreamResponse:
        return await serve_preview(request, call_of(request).state, request.match_info["token"])

    for method in ("GET", "POST"):
        app.router.add_route(method, PREVIEW_PREFIX + "{token}", through(preview))


def pre_authenticated_caller(state: State, path: str) -> User:
    """Who a pre-authenticated URL acts for: the session's owner or the token's holder."""
    if path.startswith(UPLOAD_PREFIX):
        session_id = path[len(UPLOAD_PREFIX) :]
        last = state.uploads.last_fragment(state, session_id)  # completed: a repeat is answered
        owner_id = (last or state.uploads.get(state, session_id)).owner_id
        user = uploads.caller_by_id(state, owner_id)
    else:  # a download or preview URL: the same signed token
        prefix = DOWNLOAD_PREFIX if path.startswith(DOWNLOAD_PREFIX) else PREVIEW_PREFIX
        _, user = uploads.redeem_download_token(state, path[len(prefix) :])
    if user is None:
        raise NotFound("the upload session was not found or has expired", "uploadSessionNotFound")
    return user
