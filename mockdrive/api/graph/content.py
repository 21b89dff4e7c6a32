"""File content: simple uploads (PUT .../content) and downloads."""

from __future__ import annotations

from aiohttp import web

from ...model.tree import Drive
from ..context import Call
from ..errors import ApiError
from ..jsonio import fast_json_response, read_body
from .addressing import check_if_match, resolve_base
from .items import CONFLICT_KEYS
from .paths import GraphPath
from .render import render_item

MAX_UPLOAD_BYTES = 4 * 1024 * 1024  # Graph's limit for a simple upload


async def put_content(request: web.Request, call: Call, drive: Drive, path: GraphPath):
    content = await read_body(request, MAX_UPLOAD_BYTES, too_large)
    state, caller = call.state, call.caller
    base = resolve_base(state, drive, path)
    if not path.item_path:
        check_if_match(request, base)
        state.replace_content(caller, base, content)
        return fast_json_response(render_item(state, base))
    conflict = request.query.get(CONFLICT_KEYS[0]) or request.query.get(CONFLICT_KEYS[1])
    item, created = state.upload(
        caller, base, path.item_path, content, conflict=conflict or "replace"
    )
    return fast_json_response(render_item(state, item), status=201 if created else 200)


def too_large() -> ApiError:
    limit = MAX_UPLOAD_BYTES // (1024 * 1024)
    return ApiError(
        413, "invalidRequest", f"a simple upload is limited to {limit} MB", "maxFileSizeExceeded"
    )
