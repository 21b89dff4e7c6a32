"""File content: simple uploads (PUT .../content) and downloads (302 to the download URL, which
answers ranges with 206 and HEAD without a body)."""

from __future__ import annotations

import re

from aiohttp import web

from ...model.errors import InvalidRequest
from ...model.permissions import require_role
from ...model.tree import Drive, Item, content_of
from ..context import Call
from ..errors import ApiError
from ..jsonio import fast_json_response, read_body
from .addressing import check_if_match, not_modified, resolve_base
from .downloads import download_url
from .gaps import not_implemented
from .items import CONFLICT_KEYS
from .paths import GraphPath
from .render import render_item

MAX_UPLOAD_BYTES = 4 * 1024 * 1024  # Graph's limit for a simple upload


async def put_content(request: web.Request, call: Call, drive: Drive, path: GraphPath):
    content = await read_body(request, MAX_UPLOAD_BYTES, too_large)
    state, caller = call.state, call.caller
    base = resolve_base(state, caller, drive, path)
    if not path.item_path:
        check_if_match(request, base)
        state.replace_content(caller, base, content)
        return fast_json_response(render_item(state, call, base))
    conflict = request.query.get(CONFLICT_KEYS[0]) or request.query.get(CONFLICT_KEYS[1])
    item, created = state.upload(
        caller, base, path.item_path, content, conflict=conflict or "replace"
    )
    return fast_json_response(render_item(state, call, item), status=201 if created else 200)


def too_large() -> ApiError:
    limit = MAX_UPLOAD_BYTES // (1024 * 1024)
    return ApiError(
        413, "invalidRequest", f"a simple upload is limited to {limit} MB", "maxFileSizeExceeded"
    )


def refuse_conversion(request: web.Request) -> None:
    """``…/content?format=pdf`` asks the service to convert the file: mockdrive converts
    nothing, and the file's own bytes would be wrong data, so it is 501 wherever content is
    read (an item, or one a sharing link reaches)."""
    if request.rel_url.raw_query_string and "format" in request.query:
        raise not_implemented(f"converting a file's content (?format={request.query['format']})")


def get_content(request: web.Request, call: Call, item: Item) -> web.StreamResponse:
    """``GET``/``HEAD …/content``: ``302 Found`` to the file's pre-authenticated download URL, as
    the service answers (clients follow it; the ``Range`` header goes along)."""
    require_role(call.state.store, call.caller, item, "read")
    if item.is_folder:
        raise InvalidRequest("a folder has no content")
    refuse_conversion(request)
    if not_modified(request, item):
        return web.Response(status=304, headers={"ETag": item.ctag})
    location = download_url(call.state, call.downloads, item)
    return web.Response(status=302, headers={"Location": location or ""})


# ASCII digits, at most 19 (past any size): anything else is not a range, and is ignored
_RANGE = re.compile(r"^bytes=([0-9]{0,19})-([0-9]{0,19})$")


def requested_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """The single byte range a ``Range`` header asks for: (first, last); None for the whole
    file (no header, or one this server ignores, such as several ranges); False when it cannot
    be satisfied."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None  # several ranges or another unit: ignored, as RFC 9110 allows
    first_text, last_text = match.groups()
    if not first_text:
        if not last_text or int(last_text) == 0:
            return False
        length = min(int(last_text), size)
        return (size - length, size - 1) if size else False
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last_text and last < first:
        return None  # not a valid range: the header is ignored
    if first >= size:
        return False
    return first, min(last, size - 1)


def serve_bytes(request: web.Request, item: Item) -> web.StreamResponse:
    """A file's bytes: 200, or 206 for one range with ``Content-Range`` (416 when it cannot be
    satisfied); 304 for a matching ``If-None-Match``. HEAD gets the same headers, no body."""
    content = content_of(item)
    size = len(content)
    headers = {"ETag": item.ctag, "Accept-Ranges": "bytes"}
    if not_modified(request, item):
        return web.Response(status=304, headers=headers)
    wanted = requested_range(request.headers.get("Range"), size)
    if wanted is False:
        raise ApiError(
            416,
            "invalidRange",
            f"the requested range is not satisfiable for a file of {size} bytes",
            headers={"Content-Range": f"bytes */{size}"},
        )
    content_type = item.mime_type or "application/octet-stream"
    if wanted is None:
        return web.Response(body=content, headers=headers, content_type=content_type)
    first, last = wanted
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return web.Response(
        status=206,
        body=memoryview(content)[first : last + 1],
        headers=headers,
        content_type=content_type,
    )
