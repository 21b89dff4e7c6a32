"""MockDrive: the server handle. Runs the app on its own thread and loop (for sync callers) or in
the caller's loop (``await start_async()``); arranging code reaches the state through ``call``."""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import shutil
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import hdrs, web
from multidict import CIMultiDict, MultiDict
from yarl import URL

from .api.aiohttp_internals import answer_unreadable_targets
from .api.app import build_app
from .api.entra import REDACTED, SECRET_FIELDS
from .backend import WALL, Backend
from .model.state import State
from .testing.clients import ReadyClients

T = TypeVar("T")
# A connection must send a whole request head within this many seconds of opening (or of its
# last answer), on every port: a client trickling half a header (slowloris) is dropped, as is an
# idle keep-alive connection (aiohttp's own default is an hour). A TLS hand-shake, on the --tls
# port and inside the proxy's tunnels, must also finish within it. A body is not timed: once the
# head is complete, a slow upload is the client's own work and holds only its own connection.
HEADER_TIMEOUT = 15.0
# How long a stop waits for a request still being served before cancelling it. aiohttp's own
# default is 60 s, and a connection whose body was refused unread (a 413) lingers reading it
# for up to 10 s: a stop right after such a refusal would wait that long.
STOP_GRACE = 0.5
# How long a reset from another thread waits for the server's loop to have handled what was sent
# before it (``MockDrive.reset``). It takes microseconds to milliseconds; a loop that is kept busy
# longer (a test holding it on purpose) gets the state handed over without waiting, as before.
SETTLE_WAIT = 0.25


class LoopSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The selector of the loop a server runs on its own thread (``MockDrive.start``).

    Only the selector sees the moment the loop has nothing left to do: asyncio asks it to wait
    (a timeout that is not zero) only when no callback is ready, and when nothing is readable
    then either, every byte sent to the server so far has been read and every request in it has
    begun (and captured its state), or is waiting on something outside (a timer, the rest of
    its body). ``settled`` tells another thread whether the loop is at that point now;
    ``when_settled`` runs a function on the loop when it next gets there, before it waits.
    """

    def __init__(self) -> None:
        super().__init__()
        self.waiting = False  # in a select that waits, with nothing ready or readable
        self.wakeups = 0  # how many such selects have returned
        self._when_settled: list[Callable[[], None]] = []

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout <= 0:  # callbacks ready or timers due: not settled
            return super().select(timeout)
        if self._when_settled:  # only then is it worth a look before waiting
            events = super().select(0)
            if events:
                return events
            while self._when_settled:
                self._when_settled.pop(0)()
        # ``settled`` looks for anything readable itself: a wait that returns at once (events
        # came meanwhile) counts a wake-up, which tells it the loop was not settled after all
        self.waiting = True
        try:
            return super().select(timeout)
        finally:
            self.waiting = False
            self.wakeups += 1

    def settled(self) -> bool:
        """From another thread: is the loop waiting with nothing ready and nothing unread?"""
        wakeups = self.wakeups
        try:
            return self.waiting and not super().select(0) and self.wakeups == wakeups
        except (OSError, ValueError):  # closed meanwhile: the loop ended (a stop on its thread)
            return False

    def when_settled(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the loop once it has handled what it has (the caller wakes the loop)."""
        self._when_settled.append(fn)

    def close(self) -> None:
        """The loop closes (a stop, on its thread) and will read nothing more: what waits for it
        to settle runs now, so a reset racing a stop is handed over at once, not after waiting
        ``SETTLE_WAIT`` for a select that never comes."""
        while self._when_settled:
            self._when_settled.pop(0)()
        super().close()


class RedactingAccessLogger(web.AccessLogger):
    """aiohttp's access log (``--log-level info``), with the sign-in secrets a query string may
    carry (``client_secret``, ``code``, ``refresh_token``...) shown as the journal shows them,
    in the request line and in the ``Referer`` it logs too (the page a browser came from)."""

    def log(self, request: Any, response: Any, time: float) -> None:
        if request is not None:
            path_qs = _redacted(request.rel_url) if request.query_string else None
            referer = request.headers.get(hdrs.REFERER)
            if referer is not None and "?" in referer:
                try:
                    referer = _redacted(URL(referer))
                except ValueError:  # not a URL: its query cannot be told apart
                    referer = REDACTED
            if path_qs is not None or referer is not None:
                request = _LoggedAs(request, path_qs, referer)
        super().log(request, response, time)


def _redacted(url: URL) -> str | None:
    """``url`` with the value of each secret of its query redacted; None if it has none."""
    query = url.query
    if SECRET_FIELDS.isdisjoint(query):
        return None
    return str(url.with_query(MultiDict((k, REDACTED if k in SECRET_FIELDS else v)
                                        for k, v in query.items())))  # fmt: skip


class _LoggedAs:
    """A request as the access log shows it: itself, but for its path and query and its
    ``Referer`` where they are given."""

    def __init__(self, request: web.BaseRequest, path_qs: str | None, referer: str | None) -> None:
        self._request = request
        self.path_qs = request.path_qs if path_qs is None else path_qs
        self.headers = request.headers
        if referer is not None:
            self.headers = CIMultiDict(request.headers)
            self.headers[hdrs.REFERER] = referer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


def _owner_token_of(state: State) -> str:
    drive = next(iter(state.store.drives.values()), None)
    owner = state.directory.users.get(drive.owner_id) if drive is not None else None
    if owner is not None and owner.token:
        return owner.token
    # a state whose owner has no token of its own (here, not at the top: the scenario package
    # loads YAML and the schema, which importing the server does not)
    from .scenario.defaults import OWNER_TOKEN

    return OWNER_TOKEN


def _unsent(transport: asyncio.BaseTransport) -> int:
    """The bytes ``transport`` still holds to send (0 for a TLS one closed already: asyncio's
    forgets its protocol, and with it the count)."""
    try:
        return transport.get_write_buffer_size()  # type: ignore[attr-defined]
    except AttributeError:
        return 0


class MockDrive:
    """A mockdrive server: ``start()`` on its own thread, or ``await start_async()`` in a loop.

    ``clock``: ``"wall"`` (the default: each state's clock starts at the wall time and keeps up
    with it) or a date-time (``datetime`` or ISO text) every state's clock is pinned at, for
    byte-identical runs; a scenario's own ``clock:`` wins over either."""

    def __init__(
        self,
        state: State | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_factory: Callable[[], State] | None = None,
        tls: bool = False,
        access_log: bool = False,
        admin_token: str | None = None,
        header_timeout: float = HEADER_TIMEOUT,
        proxy: bool = False,
        middlewares: Sequence[Any] = (),
        clock: datetime | str = WALL,
    ) -> None:
        self.backend = Backend(state, state_factory, admin_token, clock)
        self.header_timeout = header_timeout
        self.host = host
        self.port = port
        self.tls = tls
        self.access_log = access_log
        self.middlewares = tuple(middlewares)  # aiohttp middlewares outside the pipeline
        self.proxy = proxy  # the port is also a forward proxy for the served hosts (proxy.py)
        self._listener: asyncio.AbstractServer | None = None  # --tls and --proxy listen here
        self.ca_path: str | None = None  # PEM bundle of the CA that signed the server certificate
        self._tls_dir: str | None = None
        self._sending: list[asyncio.BaseTransport] = []  # closing once the answer is sent
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._selector: LoopSelector | None = None  # of the loop start() runs on its thread
        self._clients: ReadyClients | None = None
        self._owner_token: tuple[State, str] | None = None  # (state, its owner's token)

    # -- addresses ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def graph_url(self) -> str:
        return self.url + "/v1.0"

    @property
    def admin_url(self) -> str:
        return self.url + "/_mockdrive"

    @property
    def state(self) -> State:
        """The state served now, or the one a ``reset`` handed over for the next request."""
        return self.backend.upcoming

    def reset(self, state: State | None = None) -> State:
        """Serve ``state`` (or a fresh one from the factory) from now on; requests in flight keep
        theirs, and a request sent before the reset is never served in the new state.

        From another thread than the server's loop (the fixture's reset, once per test): when
        the loop has handled everything sent to it so far (``LoopSelector.settled``: nearly
        always), a given state is made ready on the caller's thread and handed over, with no hop
        onto the loop; the loop serves it from its next request on. Otherwise (a request the
        loop has not read yet, say of a client that hung up) the state is swapped in on the loop
        once it has read and begun those requests, so they are served and journaled in the state
        they were sent to; a loop kept busy longer than ``SETTLE_WAIT`` gets it handed over as
        above. A fresh state from the factory is built on the loop."""
        selector = self._selector
        if selector is not None and threading.current_thread() is not self._thread:
            if state is not None and selector.settled():
                return self._served(self.backend.reset_soon(state), _owner_token_of(state))
            served = self._reset_when_settled(selector, state)
            if served is not None:
                return served
        if state is None:

            def swap() -> tuple[State, str]:
                served = self.backend.reset()
                return served, _owner_token_of(served)

            return self._served(*self.call(swap))
        # nobody else holds it yet: its owner's token is read here
        return self._served(self.backend.reset_soon(state), _owner_token_of(state))

    def _reset_when_settled(self, selector: LoopSelector, state: State | None) -> State | None:
        """Swap ``state`` in on the loop once it has handled what was sent before; None when the
        loop stays busy longer than ``SETTLE_WAIT`` (nothing was swapped then)."""
        loop = self._loop
        assert loop is not None
        done: Future[tuple[State, str]] = Future()

        def swap() -> None:
            if not done.set_running_or_notify_cancel():  # the caller stopped waiting
                return
            try:
                served = self.backend.reset(state)
                done.set_result((served, _owner_token_of(served)))
            except BaseException as error:  # handed to the caller, raised there
                done.set_exception(error)

        selector.when_settled(swap)
        try:
            loop.call_soon_threadsafe(_wake)  # a loop waiting in select comes round to it
        except RuntimeError:  # closed meanwhile (a stop): the swap will never run there
            done.cancel()
            return None
        try:
            return self._served(*done.result(timeout=SETTLE_WAIT))
        except FutureTimeout:
            if done.cancel():
                return None
            return self._served(*done.result(timeout=30))  # it began meanwhile

    def _served(self, served: State, token: str) -> State:
        self._owner_token = (served, token)
        return served

    # -- ready clients ------------------------------------------------------------------------
    def owner_token(self) -> str:
        """The bearer token of the first drive's owner in the state served now."""
        state = self.backend.upcoming
        cached = self._owner_token
        if cached is None or cached[0] is not state:
            token = self.call(lambda: _owner_token_of(state))
            self._owner_token = cached = (state, token)
        return cached[1]

    def protocol_factory(self) -> tuple[asyncio.AbstractEventLoop, web.Server] | None:
        """The server's loop and the protocol factory every accepted connection gets (aiohttp's
        low-level ``Server``), for a connection that is not a socket (testing/inprocess.py);
        None when it is not running."""
        if self._loop is None or self._runner is None or self._runner.server is None:
            return None
        return self._loop, self._runner.server

    @property
    def clients(self) -> ReadyClients:
        """Clients wired to this server (base URL, token, CA), built once and kept."""
        if self._clients is None:
            self._clients = ReadyClients(self, self.owner_token)
        return self._clients

    def _ssl_context(self) -> ssl.SSLContext:
        """A server certificate for the host (and localhost) signed by a fresh trustme CA."""
        import trustme

        ca = trustme.CA(organization_name="mockdrive test CA")
        names = ["localhost", "127.0.0.1", "::1"]
        if self.host not in names and self.host not in ("0.0.0.0", "::", ""):
            names.insert(0, self.host)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(*names).configure_cert(context)
        self._tls_dir = tempfile.mkdtemp(prefix="mockdrive-tls-")
        self.ca_path = str(Path(self._tls_dir) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_path)
        return context

    # -- in the caller's loop -----------------------------------------------------------------
    async def start_async(self) -> MockDrive:
        self._loop = asyncio.get_running_loop()
        options: dict = (
            {"access_log_class": RedactingAccessLogger} if self.access_log else {"access_log": None}
        )
        # aiohttp arms this timer when a connection opens (since 3.14.4: the floor in
        # pyproject.toml) and when an answer is sent, and only a complete request head disarms
        # it: a half-sent head never keeps a connection.
        options["keepalive_timeout"] = self.header_timeout
        # aiohttp waits this long twice for a request in progress: for its handler, then again
        # after cancelling the request's reading; half each makes STOP_GRACE the whole wait.
        options["shutdown_timeout"] = STOP_GRACE / 2
        self._runner = web.AppRunner(build_app(self.backend, self.middlewares), **options)
        await self._runner.setup()
        answer_unreadable_targets(self._runner.server)
        if self.proxy:  # a front door to the same application (mockdrive/proxy.py)
            from .proxy import start_proxy

            self._listener, self.ca_path, self._tls_dir = await start_proxy(
                self._runner.server, self.host, self.port, self.header_timeout
            )
        elif self.tls:
            # Not a TCPSite: it cannot bound the hand-shake (asyncio's default is 60 s), and the
            # head timer above only starts once the hand-shake is done.
            self._listener = await asyncio.get_running_loop().create_server(
                self._runner.server,
                self.host,
                self.port,
                ssl=self._ssl_context(),
                ssl_handshake_timeout=self.header_timeout,
            )
        else:
            site = web.TCPSite(self._runner, self.host, self.port)
            await site.start()
            self.port = self._runner.addresses[0][1]  # the real port when 0 was asked
            return self
        self.port = self._listener.sockets[0].getsockname()[1]
        return self

    async def stop_async(self) -> None:
        clients, self._clients = self._clients, None  # as ``stop`` does (None after it)
        if clients is not None:
            clients.close()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._runner is not None:
            server = self._runner.server
            handlers = server.connections if server is not None else []
            transports = [h.transport for h in handlers if h.transport is not None]
            await self._runner.cleanup()
            # Closing a TLS connection waits for the client's close_notify (up to 30 s), which
            # an idle keep-alive client never sends; the loop would close first and leave the
            # socket to be collected later, with a ResourceWarning in whatever runs then. A
            # connection with an answer still to send is left to its close, which sends it
            # first: aborting it would cut the answer off.
            for transport in transports:
                if not _unsent(transport):
                    transport.abort()
            self._sending = [t for t in transports if _unsent(t)]
            self._runner = None
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir = None

    # -- on a thread of its own ---------------------------------------------------------------
    def start(self) -> MockDrive:
        """Start on a background thread; returns once the port is listening."""
        started: Future[None] = Future()
        selector = LoopSelector()
        loop = asyncio.SelectorEventLoop(selector)

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as error:  # report a bind failure to the starting thread
                started.set_exception(error)
                return
            self._selector = selector
            started.set_result(None)
            loop.run_forever()
            self._selector = None
            loop.run_until_complete(self.stop_async())
            for transport in self._sending:  # the loop ends: nothing more will be sent
                transport.abort()
            self._sending = []
            # what the runner's clean-up leaves, as ``asyncio.run`` ends: e.g. a connection
            # still lingering to drain a refused body its client never sent (aiohttp waits up
            # to 10 s) would otherwise be destroyed pending, with a warning at exit
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name="mockdrive", daemon=True)
        self._thread.start()
        started.result(timeout=30)
        return self

    def stop(self) -> None:
        clients, self._clients = self._clients, None  # (two stops at once: one closes them)
        if clients is not None:
            clients.close()
        thread, loop, selector = self._thread, self._loop, self._selector
        if thread is None or loop is None:
            return

        def halt() -> None:  # only while it serves: a second stop's, run once it cleans up,
            if self._selector is selector:  # would stop the loop under ``stop_async``
                loop.stop()

        if selector is not None:  # (None: past serving already, another stop got there)
            with contextlib.suppress(RuntimeError):  # closed: another stop got there first
                loop.call_soon_threadsafe(halt)
        thread.join(timeout=30)
        self._thread = None

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the server's loop and return its result: never races a request. A loop
        that ends (a stop on another thread) before running it: run here once its thread is
        done, as on a stopped server, not an error or a wait of 30 s for a callback never run."""
        loop = self._loop
        thread = self._thread
        if loop is None or thread is None or threading.current_thread() is thread:
            return fn()
        try:
            if asyncio.get_running_loop() is loop:
                return fn()
        except RuntimeError:
            pass

        # A plain callback and a concurrent Future: no coroutine or Task to build (every helper
        # of the fixture that arranges or inspects takes this hop)
        future: Future[T] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():  # the caller ran it (the loop ended)
                return
            try:
                future.set_result(fn())
            except BaseException as error:  # handed to the caller, raised there
                future.set_exception(error)

        try:
            loop.call_soon_threadsafe(run)
        except RuntimeError:  # closed meanwhile (a stop): nothing runs there any more
            thread.join(timeout=30)
            return fn()
        deadline = time.monotonic() + 30
        while True:
            try:
                return future.result(timeout=0.05 if thread.is_alive() else 0)
            except FutureTimeout:
                if not thread.is_alive() and future.cancel():  # the loop ended without it
                    return fn()
                if time.monotonic() > deadline:
                    raise

    def __enter__(self) -> MockDrive:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wake() -> None:
    """A callback that does nothing: scheduling it makes a waiting loop come round."""
