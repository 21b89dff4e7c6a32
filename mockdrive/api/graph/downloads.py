"""``@microsoft.graph.downloadUrl``: the pre-authenticated URL of a file's bytes, issued on the
host the client used, for the caller of the request being rendered, and only for a file that
caller may read."""

from __future__ import annotations

from functools import lru_cache

from aiohttp import web
from yarl import URL

from ...model import uploads
from ...model.permissions import roles_of
from ...model.state import State
from ...model.tree import Item

DOWNLOAD_PREFIX = "/download/"


class Downloads:
    """Where and for whom one request renders download URLs (the signer made on first use).
    Made once per request that renders them and carried by its ``Call``: a ``$batch`` step
    has its own, and a request made with none (``/shares/…``, ``sharedWithMe``) renders none."""

    __slots__ = ("expires", "origin", "readable", "request", "signer", "user_id")

    def __init__(self, request: web.Request, user_id: str) -> None:
        self.request = request
        self.user_id = user_id
        self.origin = ""  # with the expiry, on first use: most requests render no file
        self.signer: uploads.DownloadSigner | None = None
        self.expires: int | None = None  # the signer's expiry, read once (``issued``)
        # items the user is known to read (``addressing.require_read`` adds the one a handler
        # checked): a file that inherits from a folder here is readable too, so a listing
        # pays for one walk up per folder, not one per file
        self.readable: set[str] = set()

    def signer_for(self, state: State) -> uploads.DownloadSigner:
        """The request's signer, made on first use (after ``issued``, which starts the
        request's expiry and origin)."""
        if self.signer is None:
            if self.expires is None:
                self.issued(state)
            self.signer = uploads.DownloadSigner(state, self.user_id, self.expires)
        return self.signer

    def issued(self, state: State) -> dict[str, str]:
        """The URLs issued lately with this request's origin and signer (the state's key, the
        user, the expiry), by item id: a URL is a function of those and the item's id alone,
        so a listing read again within the same second of state time signs nothing. The
        signer itself is made only when a URL is not found here (``signer_for``)."""
        global _ISSUED
        expires = self.expires
        if expires is None:  # the first use: the expiry (one clock reading) and the origin
            expires = self.expires = state.clock.epoch_seconds() + uploads.DOWNLOAD_URL_SECONDS
            request = self.request
            self.origin = download_origin(request.scheme, request.host)
        key = (state.uploads.download_key, self.origin, self.user_id, expires)
        issued = _ISSUED  # read once: a server on another thread may replace it meanwhile
        if issued[0] != key:  # another state, host, user or second: start afresh
            issued = _ISSUED = (key, {})
        elif len(issued[1]) >= ISSUED_KEPT:
            issued[1].clear()
        return issued[1]


# The URLs issued for the last (key, origin, user and expiry) seen: one at a time, so a clock
# that follows the wall (a new expiry each second) keeps no more than a page's worth.
_ISSUED: tuple[tuple, dict[str, str]] = ((), {})
ISSUED_KEPT = 16_384


def download_url(state: State, downloads: Downloads | None, item: Item) -> str | None:
    """The pre-authenticated URL of a file's bytes for the request ``downloads`` belongs to,
    if it renders them and its user may read the file."""
    if downloads is None or item.is_folder:
        return None
    readable = downloads.readable
    if (
        not (item.inherits and item.parent_id in readable)
        and item.id not in readable
        and not may_read(state, downloads, item)
    ):  # (the first test: a file of a folder already found readable, as most of a page)
        return None
    issued = downloads.issued(state)
    url = issued.get(item.id)
    if url is None:
        url = issued[item.id] = downloads.origin + downloads.signer_for(state).token(item)
    return url


def may_read(state: State, context: Downloads, item: Item) -> bool:
    """Does the context's user hold a role on ``item``? O(1) for a file that inherits from a
    folder already found readable in this request, else O(depth)."""
    parent_id = item.parent_id
    if item.inherits and parent_id in context.readable:
        return True
    user = uploads.caller_by_id(state, context.user_id)
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
