"""Clients already wired to a running mockdrive: base URL, bearer token and CA done.

``MockDrive.clients`` (and the fixture's ``session``, ``session_for``, ``httpx_client``,
``async_httpx_client`` and ``graph_client``) hands these out. Each is created once per server
and reused by every test that asks, so a test pays for a request, not for a new connection or
for the SDK's set-up. A token is looked up when a request is sent, so a client stays right
after the fixture swaps in another state with another owner. The requests sessions of a
plain-http server skip the socket for the requests that cannot tell (inprocess.py); setting
``in_process = False`` before the first ``session()`` keeps every request on the socket.
"""

from __future__ import annotations

import asyncio
import importlib
import ssl
from collections.abc import Callable
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
        self._async_httpx: dict[tuple[int, str | None], httpx.AsyncClient] = {}
        self._graph: dict[tuple[int, str | None], Any] = {}
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
            self._sessions[token] = session
        return session

    def _httpx_options(self, token: str | None) -> dict[str, Any]:
        """What both httpx clients are made with: the Graph URL, the token, the mock's CA."""
        return {
            "base_url": self._server.graph_url,
            "auth": _bearer(self._token_of(token)),
            "verify": _verify(self._server.ca_path),
            "trust_env": False,  # loopback and its own CA, as the requests session
        }

    def httpx_client(self, token: str | None = None) -> httpx.Client:
        client = self._httpx.get(token)
        if client is None:
            httpx = _require("httpx", "clients", "httpx_client()")
            client = httpx.Client(**self._httpx_options(token))
            self._httpx[token] = client
        return client

    def async_httpx_client(self, token: str | None = None) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` for the running event loop (one per loop: an async client's
        connections belong to the loop that opened them)."""
        key = (id(_running_loop()), token)
        client = self._async_httpx.get(key)
        if client is None:
            httpx = _require("httpx", "clients", "async_httpx_client()")
            client = httpx.AsyncClient(**self._httpx_options(token))
            self._async_httpx[key] = client
        return client

    def graph_client(self, token: str | None = None) -> Any:
        """A msgraph-sdk ``GraphServiceClient`` pointed at this server, for the running loop."""
        key = (id(_running_loop(required=False)), token)
        client = self._graph.get(key)
        if client is None:
            client = self._graph[key] = _graph_service_client(
                self._server.graph_url, self._token_of(token), self._server.ca_path
            )
        return client

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
        for client in self._httpx.values():
            client.close()
        self._sessions.clear()
        self._httpx.clear()
        self._async_httpx.clear()  # their loops are gone by now; nothing left to await
        self._graph.clear()


def _running_loop(required: bool = True) -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        if required:
            raise RuntimeError("async_httpx_client() is for async tests: call it in one") from None
        return None


def _bearer(token: Callable[[], str]) -> Callable[[httpx.Request], httpx.Request]:
    """An httpx auth function that sets the current token on every request."""

    def auth(request: httpx.Request) -> httpx.Request:
        request.headers["Authorization"] = f"Bearer {token()}"
        return request

    return auth


def _graph_service_client(base_url: str, token: Callable[[], str], ca_path: str | None) -> Any:
    try:
        from kiota_abstractions.authentication import (
            AccessTokenProvider,
            AllowedHostsValidator,
            BaseBearerTokenAuthenticationProvider,
        )
        from msgraph import GraphRequestAdapter, GraphServiceClient
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
    http_client = None
    if ca_path is not None:
        import httpx

        http_client = GraphClientFactory.create_with_default_middleware(
            client=httpx.AsyncClient(verify=_verify(ca_path))
        )
    adapter = GraphRequestAdapter(auth, client=http_client)
    adapter.base_url = base_url
    return GraphServiceClient(request_adapter=adapter)
