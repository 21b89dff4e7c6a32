"""``POST …/items/{id}/preview``: a short-lived embeddable URL for a file.

The answer has the service's shape, ``getUrl``, ``postUrl`` and ``postParameters``. Both URLs
are ``/preview/{token}`` on the host the client used, signed like a download URL (the same
token, valid for an hour of the state's clock, for the caller it was issued to): followed
without a token (an ``<iframe>`` does not send one), ``GET``, or ``POST`` with the form
parameters, serve a small HTML page that embeds the file's bytes and links to them.
"""

from __future__ import annotations

import html
import math
from typing import Any

from aiohttp import web

from ...model import uploads
from ...model.errors import InvalidRequest
from ...model.permissions import require_role
from ...model.state import State
from ...model.tree import Item
from ..context import Call
from ..jsonio import fast_json_response, read_body, read_optional_json_object
from .downloads import DOWNLOAD_PREFIX, download_origin

PREVIEW_PREFIX = "/preview/"
POST_PARAMETERS = "embed=true"
MAX_FORM_BYTES = 64 * 1024  # what a POST to the preview URL may carry (its form parameters)
# the request body's parameters (all optional), as the docs list them
_TEXT, _NUMBER, _FLAG = "a string", "a number", "true or false"
_PARAMETERS = {
    "page": _TEXT,  # a page number or name: a string or a number
    "zoom": _NUMBER,
    "viewer": _TEXT,
    "chromeless": _FLAG,
    "allowEdit": _FLAG,
}


MAX_ZOOM = 1000  # a zoom level above zero, at most this (a percentage or a factor alike)
MAX_PAGE_NAME = 255  # characters of a page given by name
LARGEST_PAGE = 1_000_000  # a page given by number: 0 to this


def check_parameters(body: dict[str, Any]) -> None:
    """Refuse an unknown parameter or a value of the wrong type (the whole body, at once)."""
    for key, value in body.items():
        kind = _PARAMETERS.get(key)
        if kind is None:
            known = ", ".join(_PARAMETERS)
            raise InvalidRequest(f"preview has no parameter {key!r} (it takes {known})")
        if value is None:
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if key == "page":
            ok = (isinstance(value, str) and len(value) <= MAX_PAGE_NAME) or (
                number and math.isfinite(value) and 0 <= value <= LARGEST_PAGE
            )
        elif kind == _NUMBER:
            ok = number and math.isfinite(value) and 0 < value <= MAX_ZOOM
        elif kind == _FLAG:
            ok = isinstance(value, bool)
        elif key == "viewer":
            ok = isinstance(value, str) and len(value) <= MAX_PAGE_NAME
        elif kind == _FLAG:
            ok = isinstance(value, bool)
        else:
            ok = isinstance(value, str)
        if not ok:
            wanted = (
                f"a page number from 0 to {LARGEST_PAGE:,} or a name of up to {MAX_PAGE_NAME} "
                "characters"
                if key == "page"
                else kind
            )
            wanted += f" above zero, at most {MAX_ZOOM:,}" if key == "zoom" else ""
            wanted += f" of up to {MAX_PAGE_NAME} characters" if key == "viewer" else ""
            raise InvalidRequest(f"preview {key} must be {wanted}")


async def preview_item(request: web.Request, call: Call, item: Item) -> web.Response:
    """The embeddable URLs of ``item`` for the caller (who must be able to read it)."""
    state, caller = call.state, call.caller
    require_role(state.store, caller, item, "read")  # before the body, as on every route
    body = await read_optional_json_object(request)
    check_parameters(body)
    if item.is_folder:
        raise InvalidRequest("a folder has no preview: preview one of its files")
    origin = download_origin(request.scheme, request.host)[: -len(DOWNLOAD_PREFIX)]
    url = origin + PREVIEW_PREFIX + uploads.download_token(state, item, caller.id)
    return fast_json_response({"getUrl": url, "postUrl": url, "postParameters": POST_PARAMETERS})


async def serve_preview(request: web.Request, state: State, token: str) -> web.Response:
    """The page a preview URL shows: the file embedded, and a link to its bytes."""
    item, _ = uploads.redeem_download_token(state, token)
    if request.method == "POST":
        await read_body(request, MAX_FORM_BYTES)  # the form parameters: nothing to act on
    name = html.escape(item.name)
    source = html.escape(DOWNLOAD_PREFIX + token)
    kind = html.escape(item.mime_type or "application/octet-stream")
    page = (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{name}</title></head>\n'
        f"<body><h1>{name}</h1>\n"
        f'<object data="{source}" type="{kind}" width="100%" height="600"></object>\n'
        f'<p><a href="{source}" download="{name}">Download {name}</a> ({item.size} bytes)</p>\n'
        "</body></html>\n"
    )
    return web.Response(text=page, content_type="text/html")
