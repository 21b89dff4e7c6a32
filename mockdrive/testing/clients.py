"""Clients already wired to a running mockdrive: base URL, bearer token and CA done.

``MockDrive.clients`` (and the fixture's ``session``, ``session_for``, ``httpx_client``,
``async_httpx_client`` and ``graph_client``) hands these out. Each is created once per server
and reused by every test that asks, so a test pays for a request, not for a new connection or
for the SDK's set-up. A token is looked up when a request is sent, so a client stays right
after the fixture swaps in another state with another owner. The requests sessions of a
plain-http server skip the socket for the requests that cannot tell (inprocess.py); setting
``in_process = False`` before the first ``session()`` keeps every request on the socket.

The async clients (``async_httpx_client`` and ``graph_client``) send over one connection pool
per event loop, made on the loop's first request and closed as that loop shuts down: an async
generator suspended on the loop closes it when ``asyncio.run``, ``asyncio.Runner`` or
pytest-asyncio's loop teardown finalizes the loop's async generators
(``loop.shutdown_asyncgens()``), while the loop still runs, or when the server stops (a loop
that goes on, session-scoped say, keeps neither the server nor a connection to it). It is not a
task, so a test that waits for its loop's other tasks does not wait for it. So no connection
outlives its loop, to be collected later with a ResourceWarning in whatever test runs then; a
loop closed without finalizing its async generators (``loop.close()`` alone) leaves its
connections to the collector, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import ssl
import threading
from collections.abc import AsyncGenerator, Callable
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx
    import requests

    from ..server import MockDrive


def _require(module: str, extra: str, what: str) -> Any:
    """Import ``module``, or say which of mockdrive's extras installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ModuleNotFoundError(
            f"{what} needs {module}: pip install 'mockdrive[{extra}]'", name=module
        ) from None


def _verify(ca_path: str | None) -> ssl.SSLContext | bool:
    """What httpx takes as ``verify``: a context trusting the server's own CA (a path string
    is deprecated there), or ``True`` for a server without TLS."""
    return True if ca_path is None else ssl.create_default_context(cafile=ca_path)


@cache
def _loop_transport_class() -> type[httpx.AsyncBaseTransport]:
    """Defined on first use: httpx is a dependency of tests, not of the server."""
    httpx = _require("httpx", "clients", "an async ready client")

    class LoopTransport(httpx.AsyncBaseTransport):
        """Sends each request over the connection pool of the running loop."""

        def __init__(self, pool: Callable[[], httpx.AsyncBaseTransport]) -> None:
            self._pool = pool

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return await self._pool().handle_async_request(request)

        async def aclose(self) -> None:
            """Nothing to close: the pool is every ready client's, and closes with its loop
            (a test's ``async with client:`` closes the client only)."""

    return LoopTransport


@cache
def _graph_session_class() -> type[requests.Session]:
    """Defined on first use: requests is a dependency of tests, not of the server."""
    requests = _require("requests", "clients", "session()")

    class GraphSession(requests.Session):
        """A keep-alive ``requests.Session`` whose relative URLs are Graph paths:
        ``session.get("/me/drive")`` asks ``{graph_url}/me/drive``; absolute URLs go as given.
        Without an ``Authorization`` header of its own a request carries the session's token,
        looked up when it is sent (the owner of whatever state the server has now)."""

        def __init__(self, base_url: str, token: Callable[[], str], verify: str | bool) -> None:
            super().__init__()
            self.base_url = base_url
            self.token = token
            self.verify = verify
            # The mock is on loopback and ``verify`` is its own CA: proxy variables, ~/.netrc
            # and REQUESTS_CA_BUNDLE have nothing to add, and reading them on every request
            # cost ~150 µs of the ~550 µs a GET took (benchmarks/fixture_overhead.py).
            self.trust_env = False

        def request(self, method, url, *args, **kwargs):  # type: ignore[override]
            if isinstance(url, str) and url.startswith("/"):
                url = self.base_url + url
            headers = kwargs.pop("headers", None) or {}
            if not any(k.lower() == "authorization" for k in headers):
                headers = {**headers, "Authorization": f"Bearer {self.token()}"}
            return super().request(method, url, *args, headers=headers, **kwargs)

    return GraphSession


class ReadyClients:
    """The clients of one server, each built on first use and kept."""

    def __init__(self, server: MockDrive, owner_token: Callable[[], str]) -> None:
        self._server = server
        self._owner_token = owner_token
        self._sessions: dict[str | None, requests.Session] = {}
        self._httpx: dict[str | None, httpx.Client] = {}
        self._loops: dict[asyncio.AbstractEventLoop, _OnLoop] = {}
        self._graph: dict[str | None, Any] = {}
        self._httpx_lock = threading.Lock()  # a closed client is replaced by one thread only
        self._ssl: ssl.SSLContext | bool | None = None  # made once: loading the CA costs
        # The sessions reach a plain-http server without its socket (inprocess.py): the same
        # bytes through the same server protocol, minus the kernel's round trip.
        self.in_process = True

    @property
    def verify(self) -> str | bool:
        return self._server.ca_path or True

    def _token_of(self, token: str | None) -> Callable[[], str]:
        return self._owner_token if token is None else (lambda: token)

    def session(self, token: str | None = None) -> requests.Session:
        """The keep-alive session of the owner (``token=None``) or of one token."""
        session = self._sessions.get(token)
        if session is None:
            session_class = _graph_session_class()
            session = session_class(self._server.graph_url, self._token_of(token), self.verify)
            if self.in_process:
                from .inprocess import mount_in_process  # urllib3 comes with requests

                mount_in_process(session, self._server)
            kept = self._sessions.setdefault(token, session)  # another thread's, if it won
            if kept is not session:
                session.close()
                session = kept
        return session

    def httpx_client(self, token: str | None = None) -> httpx.Client:
        """The ``httpx.Client`` of the owner (``token=None``) or of one token; one its user
        closed (``close()``) is made again."""
        client = self._httpx.get(token)
        if client is None or client.is_closed:
            httpx = _require("httpx", "clients", "httpx_client()")
            client = httpx.Client(
                base_url=self._server.graph_url,
                auth=_bearer(self._token_of(token)),
                verify=_verify(self._server.ca_path),
                trust_env=False,  # loopback and its own CA, as the requests session
            )
            with self._httpx_lock:
                kept = self._httpx.get(token)  # another thread's, if it won
                if kept is None or kept.is_closed:
                    self._httpx[token] = kept = client
            if kept is not client:
                client.close()
                client = kept
        return client

    def async_httpx_client(self, token: str | None = None) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` for the running event loop (one per loop, so a test's
        ``async with client:`` closes its own); its connections close with the loop."""
        httpx = _require("httpx", "clients", "async_httpx_client()")
        on_loop = self._on_running_loop("async_httpx_client()")
        client = on_loop.clients.get(token)
        if client is None or client.is_closed:
            client = on_loop.clients[token] = httpx.AsyncClient(
                base_url=self._server.graph_url,
                auth=_bearer(self._token_of(token)),
                transport=self._loop_transport(),  # which trusts the mock's CA
                trust_env=False,
            )
        return client

    def graph_client(self, token: str | None = None) -> Any:
        """A msgraph-sdk ``GraphServiceClient`` pointed at this server; it may be made outside
        a loop, and used in any: its connections belong to the loop that opened them."""
        client = self._graph.get(token)
        if client is None:
            made = _graph_service_client(
                self._server.graph_url, self._token_of(token), self._loop_transport()
            )  # holds no connection of its own (its loop's pool does): nothing to close
            client = self._graph.setdefault(token, made)  # another thread's, if it won
        return client

    def _loop_transport(self) -> httpx.AsyncBaseTransport:
        return _loop_transport_class()(self._running_loop_pool)

    def _running_loop_pool(self) -> httpx.AsyncBaseTransport:
        return self._on_running_loop("a ready async client").pool

    def _on_running_loop(self, what: str) -> _OnLoop:
        """What the running loop holds, made on its first use together with the async
        generator that closes it as the loop shuts down."""
        loop = _running_loop(what)
        on_loop = self._loops.get(loop)
        if on_loop is None:
            import httpx

            if self._ssl is None:
                self._ssl = _verify(self._server.ca_path)
            pool = httpx.AsyncHTTPTransport(verify=self._ssl, trust_env=False)
            on_loop = self._loops[loop] = _OnLoop(pool)
            on_loop.closing = _closing(self._loops, loop, on_loop)
            _start(on_loop.closing)  # now known to the loop, which finalizes it at shutdown
        return on_loop

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
        for client in self._httpx.values():
            client.close()
        self._sessions.clear()
        self._httpx.clear()
        # The loops' pools are closed on their loops (nothing here can await on them): now, on
        # a loop that goes on after the server (a session-scoped one), which would otherwise
        # keep a connection to this server until it ends.
        # (a list at once: a loop finalizing its generator meanwhile takes its entry out)
        loops, self._loops = list(self._loops.items()), {}
        for loop, on_loop in loops:
            if on_loop.closing is not None:
                with contextlib.suppress(RuntimeError):  # that loop is closed: nothing runs
                    loop.call_soon_threadsafe(_close_pool, loop, on_loop)
        self._graph.clear()


CLOSER_NAME = "mockdrive: close the ready clients' connections as their server stops"
_CLOSERS: set[asyncio.Task[None]] = set()  # kept until they have run (the loop keeps weakly)


async def _closing(
    loops: dict[asyncio.AbstractEventLoop, _OnLoop],
    loop: asyncio.AbstractEventLoop,
    on_loop: _OnLoop,
) -> AsyncGenerator[None, None]:
    """Suspended at its ``yield`` while its loop runs; finalized (``aclose``) by the loop's
    ``shutdown_asyncgens`` (or collected), it closes the loop's connections, or waits for the
    stop's task closing them; a later use on that loop starts afresh."""
    try:
        yield
    finally:
        if loops.get(loop) is on_loop:
            del loops[loop]
        closing = on_loop.closed  # the stop's task, if it came first
        if closing is not None and not closing.done():
            await asyncio.wait([closing])  # (not a second close at once)
        # (a no-op once closed; the close itself when the stop's task was cancelled before it
        # ran: a loop's shutdown cancels the tasks left before it finalizes its generators)
        await on_loop.pool.aclose()


def _start(generator: AsyncGenerator[None, None]) -> None:
    """Run ``generator`` to its first ``yield`` now, on the running loop, whose first-iteration
    hook makes it one of the loop's async generators (finalized at its shutdown)."""
    step = generator.asend(None)
    try:
        step.send(None)
    except StopIteration:  # at its ``yield``
        return
    step.close()
    raise RuntimeError("the closing generator awaited before its yield")


def _close_pool(loop: asyncio.AbstractEventLoop, on_loop: _OnLoop) -> asyncio.Task[None]:
    """On ``loop``: the one task that closes its connections, made on the first call (the
    server's stop, or the closing generator's finalization, whichever comes first). The
    generator is never finalized from here: a stop just before the loop's shutdown would
    finalize it twice at once, and the second ``aclose`` fails."""
    if on_loop.closed is None:
        task = on_loop.closed = loop.create_task(on_loop.pool.aclose(), name=CLOSER_NAME)
        _CLOSERS.add(task)
        task.add_done_callback(_CLOSERS.discard)
    return on_loop.closed


class _OnLoop:
    """What the ready clients hold on one event loop."""

    __slots__ = ("clients", "closed", "closing", "pool")

    def __init__(self, pool: httpx.AsyncBaseTransport) -> None:
        self.pool = pool  # every async ready client's connections on this loop
        self.clients: dict[str | None, httpx.AsyncClient] = {}  # async_httpx_client's
        # closes the pool as the loop shuts down (``_closing``)
        self.closing: AsyncGenerator[None, None] | None = None
        self.closed: asyncio.Task[None] | None = None  # the pool's closing (``_close_pool``)


def _running_loop(what: str) -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        message = f"{what} needs a running asyncio event loop: use it in an async test"
        raise RuntimeError(message) from None


def _bearer(token: Callable[[], str]) -> Callable[[httpx.Request], httpx.Request]:
    """An httpx auth function that sets the current token on every request."""

    def auth(request: httpx.Request) -> httpx.Request:
        request.headers["Authorization"] = f"Bearer {token()}"
        return request

    return auth


def _graph_service_client(
    base_url: str, token: Callable[[], str], transport: httpx.AsyncBaseTransport
) -> Any:
    try:
        import httpx
        from kiota_abstractions.authentication import (
            AccessTokenProvider,
            AllowedHostsValidator,
            BaseBearerTokenAuthenticationProvider,
        )
        from kiota_http.kiota_client_factory import (
            DEFAULT_CONNECTION_TIMEOUT,
            DEFAULT_REQUEST_TIMEOUT,
        )
        from msgraph import GraphRequestAdapter, GraphServiceClient
        from msgraph.graph_request_adapter import options
        from msgraph_core import GraphClientFactory
    except ImportError:
        raise ModuleNotFoundError(
            "graph_client() needs msgraph-sdk: pip install 'mockdrive[sdk]'", name="msgraph"
        ) from None

    class FixedToken(AccessTokenProvider):
        async def get_authorization_token(self, uri: str, additional_context: Any = None) -> str:
            return token()

        def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
            return AllowedHostsValidator([])  # any host: the mock's own

    auth = BaseBearerTokenAuthenticationProvider(FixedToken())
    # The client the SDK makes itself (its timeouts, middleware and options: ``me`` is sent as
    # /me), over the loops' pools, which trust the mock's CA.
    timeout = httpx.Timeout(DEFAULT_REQUEST_TIMEOUT, connect=DEFAULT_CONNECTION_TIMEOUT)
    http = httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False)
    http_client = GraphClientFactory.create_with_default_middleware(client=http, options=options)
    adapter = GraphRequestAdapter(auth, client=http_client)
    adapter.base_url = base_url
    return GraphServiceClient(request_adapter=adapter)
