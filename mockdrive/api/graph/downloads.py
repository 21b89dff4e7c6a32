"""``@microsoft.graph.downloadUrl``: the pre-authenticated URL of a file's bytes, issued on the
host the client used, for the caller of the request being rendered, and only for a file that
caller may read.

The context is set per request and reset when the request ends (``serving``), so a ``$batch``
step answers exactly as the same request alone: a step that sets none (``/shares/…``,
``sharedWithMe``) never inherits the URLs of a step before it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

from aiohttp import web
from yarl import URL

from ...model import uploads
from ...model.permissions import roles_of
from ...model.state import State
from ...model.tree import Item

DOWNLOAD_PREFIX = "/download/"


class DownloadContext:
    """Where and for whom the current request renders download URLs (signer made on first use)."""

    __slots__ = ("origin", "readable", "request", "signer", "user_id")

    def __init__(self, request: web.Request, user_id: str) -> None:
        self.request = request
        self.user_id = user_id
        self.origin = ""  # with the signer, on first use: most requests render no file
        self.signer: uploads.DownloadSigner | None = None
        # folders the user is known to read: a file that inherits from one is readable too,
        # so a listing pays for one walk up per folder, not one per file
        self.readable: set[str] = set()


# Set for the Graph request being served: render_item adds a download URL to files when it is.
# A context variable, so every handler that renders an item gets it without a parameter.
download_context: ContextVar[DownloadContext | None] = ContextVar("download_context", default=None)


def set_download_context(request: web.Request, user_id: str) -> None:
    """Render download URLs for ``user_id`` until the request ends (see ``serving``)."""
    download_context.set(DownloadContext(request, user_id))


@contextmanager
def serving() -> Iterator[None]:
    """Around one request: it starts with no download context and leaves none behind."""
    token = download_context.set(None)
    try:
        yield
    finally:
        download_context.reset(token)


def download_url(state: State, item: Item) -> str | None:
    """The pre-authenticated URL of a file's bytes for the current request, if there is one
    and its user may read the file."""
    context = download_context.get()
    if context is None or item.is_folder or not _may_read(state, context, item):
        return None
    if context.signer is None:
        request = context.request
        context.origin = download_origin(request.scheme, request.host)
        context.signer = uploads.DownloadSigner(state, context.user_id)
    return context.origin + context.signer.token(item)


def _may_read(state: State, context: DownloadContext, item: Item) -> bool:
    """Does the context's user hold a role on ``item``? O(1) for a file that inherits from a
    folder already found readable in this request, else O(depth)."""
    parent_id = item.parent_id
    if item.inherits and parent_id in context.readable:
        return True
    user = state.directory.by_id(context.user_id)
    if user is None:
        return False
    store = state.store
    parent = store.items.get(parent_id or "")
    if item.inherits and parent is not None and roles_of(store, user, parent):
        context.readable.add(parent.id)
        return True
    return bool(roles_of(store, user, item))


@lru_cache(maxsize=256)
def download_origin(scheme: str, host: str) -> str:
    """``{origin}/download/`` for the scheme and Host a request came with: what
    ``str(request.url.origin())`` gives, without building the request's whole URL each time."""
    return str(URL.build(scheme=scheme, authority=host).origin()) + DOWNLOAD_PREFIX
