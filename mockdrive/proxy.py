"""Proxy mode: mockdrive's port is also an HTTP(S) forward proxy for the hosts it serves.

A client configured with ``HTTPS_PROXY=http://127.0.0.1:PORT`` and a CA bundle that trusts
mockdrive's CA (``SSL_CERT_FILE``, ``NODE_EXTRA_CA_CERTS``, ...) reaches mockdrive when it asks
for ``https://graph.microsoft.com/...``, with no other change to its configuration.

This is a front door to the one aiohttp application, not a second server: each accepted
connection is read up to the end of its first request head, then

- ``CONNECT host:443`` for a served host gets ``200 Connection Established``; the socket is
  wrapped in TLS with a certificate for that host signed by mockdrive's own trustme CA and given
  to the application's request handler, as if it had been accepted by an HTTPS site;
- an absolute-form request (``GET http://graph.microsoft.com/v1.0/me``) for a served host is
  rewritten to origin form and handed over with ``Connection: close`` (so the next request on
  that connection, which may name another host, comes through this check again);
- an origin-form request (``GET /v1.0/me``) is an ordinary request to mockdrive: handed over;
- anything else, every other host included, is refused with ``403`` and never forwarded:
  nothing leaves the machine.

A connection that has not sent its first head within ``head_timeout`` seconds of opening is
closed, as on the direct port; for ``CONNECT`` the same deadline also covers the TLS hand-shake.
Inside a tunnel, and after a hand-over, the application's own timer bounds every later head.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("mockdrive.proxy")

# The hosts mockdrive answers for: Graph (global and national clouds), the older OneDrive API,
# Onehub, and Entra's and Microsoft account's sign-in hosts (which reach only the identity
# routes: api/entra.py).
# Upload and download URLs are issued on the host the client used, so they are covered.
SERVED_HOSTS = frozenset(
    {
        "graph.microsoft.com",
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.live.com",
        "graph.microsoft.us",
        "dod-graph.microsoft.us",
        "microsoftgraph.chinacloudapi.cn",
        "api.onedrive.com",
        "ws-api.onehub.com",
    }
)
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
MAX_HEAD_BYTES = 64 * 1024

ProtocolFactory = Callable[[], asyncio.Protocol]


def proxy_ssl_context(tls_dir: str) -> tuple[ssl.SSLContext, str]:
    """A server context whose certificate names every served host (and the local names),
    signed by a fresh trustme CA; returns it and the path of the CA's PEM file."""
    import trustme

    ca = trustme.CA(organization_name="mockdrive proxy CA")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*sorted(SERVED_HOSTS), *LOCAL_NAMES).configure_cert(context)
    ca_path = str(Path(tls_dir) / "proxy-ca.pem")
    ca.cert_pem.write_to_path(ca_path)
    return context, ca_path


def split_host_port(authority: str, default_port: int) -> tuple[str, int]:
    host, _, port = authority.rpartition(":") if authority.count(":") == 1 else (authority, "", "")
    if authority.startswith("["):  # [::1]:443
        host, _, port = authority[1:].partition("]")
        port = port.lstrip(":")
    try:
        return host.lower(), int(port) if port else default_port
    except ValueError:
        return host.lower(), -1


class FrontDoor(asyncio.Protocol):
    """Reads one request head, then hands the connection to the application (or refuses it)."""

    def __init__(
        self,
        app_protocol: ProtocolFactory,
        context: ssl.SSLContext,
        own_port: Callable[[], int],
        head_timeout: float,
    ) -> None:
        self.app_protocol = app_protocol
        self.context = context
        self.own_port = own_port
        self.head_timeout = head_timeout
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.decided = False
        self.tls_task: asyncio.Future[None] | None = None
        self.deadline = 0.0  # loop time by which the head (and a CONNECT's hand-shake) is done
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        loop = asyncio.get_running_loop()
        self.deadline = loop.time() + self.head_timeout
        self.timer = loop.call_at(self.deadline, self.head_timed_out)

    def head_timed_out(self) -> None:
        """No complete head in time: closed without an answer, as the direct port does."""
        self.timer = None
        if not self.decided and self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def data_received(self, data: bytes) -> None:
        if self.decided:  # bytes that raced the hand-over: the TLS hand-over pauses reading
            self.buffer += data
            return
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD_BYTES:
                self.refuse(431, "Request Header Fields Too Large")
            return
        self.decided = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        head = bytes(self.buffer[: end + 4])
        rest = bytes(self.buffer[end + 4 :])
        self.buffer.clear()
        try:
            request_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
            method, target, version = request_line.split(" ")
        except ValueError:
            self.refuse(400, "Bad Request")
            return
        if method.upper() == "CONNECT":
            self.connect(target, rest)
        elif target.startswith("/"):
            self.hand_over(head + rest)
        elif target.lower().startswith("http://"):
            self.absolute_form(method, target, version, header_lines, rest)
        else:
            self.refuse(403, "Forbidden", f"mockdrive proxy does not serve {target}")

    # -- the three ways in ------------------------------------------------------------------
    def served(self, host: str, port: int) -> bool:
        if host in SERVED_HOSTS:
            return True
        return host in LOCAL_NAMES and port == self.own_port()

    def connect(self, target: str, rest: bytes) -> None:
        host, port = split_host_port(target, 443)
        if not self.served(host, port) or rest:
            self.refuse(403, "Forbidden", f"mockdrive proxy does not serve {host}")
            return
        assert self.transport is not None
        self.transport.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        self.transport.pause_reading()  # the TLS layer takes over the reading
        self.tls_task = asyncio.ensure_future(self.start_tls())  # kept: tasks are weakly held

    async def start_tls(self) -> None:
        transport = self.transport
        assert transport is not None
        loop = asyncio.get_running_loop()
        handler = self.app_protocol()
        # what is left of the head's deadline, so that a stalled hand-shake is no longer kept
        handshake_timeout = max(self.deadline - loop.time(), 0.001)
        try:
            tls = await loop.start_tls(
                transport,
                handler,
                self.context,
                server_side=True,
                ssl_handshake_timeout=handshake_timeout,
            )
        except (OSError, ssl.SSLError, ConnectionError) as error:
            log.info("proxy: TLS hand-shake failed: %s", error)
            transport.close()
            return
        if tls is None:  # the connection went away during the hand-shake
            transport.close()
            return
        handler.connection_made(tls)

    def absolute_form(
        self, method: str, target: str, version: str, header_lines: list[str], rest: bytes
    ) -> None:
        after_scheme = target[len("http://") :]
        authority, slash, path = after_scheme.partition("/")
        host, port = split_host_port(authority, 80)
        if not self.served(host, port):
            self.refuse(403, "Forbidden", f"mockdrive proxy does not serve {host}")
            return
        kept = [
            line
            for line in header_lines
            if line.split(":", 1)[0].strip().lower()
            not in ("host", "connection", "proxy-connection", "keep-alive")
        ]
        lines = [f"{method} /{path if slash else ''} {version}", f"Host: {authority}", *kept]
        lines.append("Connection: close")
        self.hand_over(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + rest)

    def hand_over(self, data: bytes) -> None:
        """Give the connection, and the bytes read so far, to the application's handler."""
        transport = self.transport
        assert transport is not None
        handler = self.app_protocol()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        handler.data_received(data)

    def refuse(self, status: int, reason: str, message: str = "") -> None:
        body = (message or reason).encode("utf-8")
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        assert self.transport is not None
        self.transport.write(head.encode("latin-1") + body)
        self.transport.close()


async def start_proxy(
    app_protocol: ProtocolFactory, host: str, port: int, head_timeout: float
) -> tuple[asyncio.AbstractServer, str, str]:
    """Listen on ``host:port`` as the front door, closing a connection whose first head is not
    complete within ``head_timeout`` seconds; returns the server, the CA bundle's path and the
    temporary directory holding it (remove it when done)."""
    tls_dir = tempfile.mkdtemp(prefix="mockdrive-proxy-")
    context, ca_path = proxy_ssl_context(tls_dir)
    loop = asyncio.get_running_loop()
    bound: list[int] = []
    server = await loop.create_server(
        lambda: FrontDoor(app_protocol, context, lambda: bound[0], head_timeout), host, port
    )
    bound.append(server.sockets[0].getsockname()[1])
    return server, ca_path, tls_dir
