"""``@microsoft.graph.downloadUrl``: the pre-authenticated URL of a file's bytes, issued on the
host the client used, for the caller of the request being rendered."""

from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache

from aiohttp import web
from yarl import URL

from ...model import uploads
from ...model.state import State
from ...model.tree import Item

DOWNLOAD_PREFIX = "/download/"


class DownloadContext:
    """Where and for whom the current request renders download URLs (signer made on first use)."""

    __slots__ = ("origin", "request", "signer", "user_id")

    def __init__(self, request: web.Request, user_id: str) -> None:
        self.request = request
        self.user_id = user_id
        self.origin = ""  # with the signer, on first use: most requests render no file
        self.signer: uploads.DownloadSigner | None = None


# Set for the Graph request being served: render_item adds a download URL to files when it is.
# A context variable, so every handler that renders an item gets it without a parameter.
download_context: ContextVar[DownloadContext | None] = ContextVar("download_context", default=None)


def set_download_context(request: web.Request, user_id: str) -> None:
    download_context.set(DownloadContext(request, user_id))


def download_url(state: State, item: Item) -> str | None:
    """The pre-authenticated URL of a file's bytes for the current request, if there is one."""
    context = download_context.get()
    if context is None or item.is_folder:
        return None
    if context.signer is None:
        request = context.request
        context.origin = download_origin(request.scheme, request.host)
        context.signer = uploads.DownloadSigner(state, context.user_id)
    return context.origin + context.signer.token(item)


@lru_cache(maxsize=256)
def download_origin(scheme: str, host: str) -> str:
    """``{origin}/download/`` for the scheme and Host a request came with: what
    ``str(request.url.origin())`` gives, without building the request's whole URL each time."""
    return str(URL.build(scheme=scheme, authority=host).origin()) + DOWNLOAD_PREFIX
