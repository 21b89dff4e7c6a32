"""An in-memory connection for the ready ``requests`` session: no socket, the same server.

Everything above the socket is what a socket connection runs: requests and urllib3 prepare,
write and read the request exactly as they do on a socket (urllib3's own ``HTTPConnection``,
http.client's parser, the pool, timeouts, ``stream=True``), and on the server the bytes go
into the protocol the server's runner makes for every accepted socket (``runner.server()``,
aiohttp's public low-level ``Server``), on the server's loop. Only the kernel is left out: a
write is handed to the other side's buffer instead of a socket's. One connection per request in
flight, as over a socket, so a session shared between threads stays safe.

Only for a plain-http server without the proxy front door: TLS and the proxy keep the socket.
``tests/test_inprocess_transport.py`` replays the suites' requests both ways and compares.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import logging
import queue
import re
import threading
from http.client import HTTPException
from typing import TYPE_CHECKING, Any

from urllib3.connection import HTTPConnection
from urllib3.exceptions import ProtocolError

if TYPE_CHECKING:
    import requests
    from requests import PreparedRequest, Response
    from requests.adapters import HTTPAdapter
    from urllib3.response import BaseHTTPResponse

    from ..server import MockDrive

_EOF = b""
_ports = itertools.count(40000)  # the peer "port" a server-side request sees, one per connection


class _ServerSide(asyncio.Transport):
    """The server protocol's transport: what it writes goes to the client's buffer."""

    def __init__(self, client: _ClientSocket, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        # the client's buffer, not the client: a client socket nobody holds any more is
        # collected, and hangs up as a socket does when it is
        self._incoming = client.incoming
        self._loop = loop
        self.ended = False
        self._extra = {
            "peername": ("127.0.0.1", next(_ports)),
            "sockname": client.sockname,
            "socket": None,
            "sslcontext": None,
        }
        self.protocol: asyncio.Protocol | None = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self.ended and data:
            self._incoming.put(bytes(data))

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def can_write_eof(self) -> bool:
        return False

    def is_closing(self) -> bool:
        return self.ended

    def close(self) -> None:
        """The server hangs up: the client reads the end of the stream."""
        if self.ended:
            return
        self.ended = True
        self._incoming.put(_EOF)
        if self.protocol is not None:
            self._loop.call_soon(self.protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def pause_reading(self) -> None:  # the client's writes are buffered whole: nothing to pause
        pass

    def resume_reading(self) -> None:
        pass

    def is_reading(self) -> bool:
        return not self.ended

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass


class _Reader(io.RawIOBase):
    """The client's read side: blocks on what the server writes, within the socket's timeout."""

    def __init__(self, sock: _ClientSocket) -> None:
        self._sock = sock
        self._pending = b""

    def close(self) -> None:
        if not self.closed:
            super().close()
            self._sock._reader_closed()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            if self._sock.at_eof:
                return 0
            try:
                chunk = self._sock.incoming.get(timeout=self._sock.timeout)
            except queue.Empty:
                raise TimeoutError("timed out") from None
            if chunk is _EOF:
                self._sock.at_eof = True
                return 0
            self._pending = chunk
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class _ClientSocket:
    """What urllib3's connection holds as its socket: writes feed the server's protocol on its
    loop; reads take what the server wrote."""

    def __init__(self, server: MockDrive) -> None:
        running = server.protocol_factory()
        if running is None:
            raise ConnectionRefusedError("mockdrive is not running")
        loop, made = running
        self.loop = loop
        self.sockname = (server.host, server.port)
        self.incoming: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self.at_eof = False
        self.timeout: float | None = None
        self.closed = False
        self.sent = 0  # bytes handed to the server so far
        self._io_refs = 0  # readers made by makefile() still open (socket.socket counts them)
        self._transport = _ServerSide(self, loop)

        def open_() -> None:
            protocol = made()
            self._transport.protocol = protocol
            protocol.connection_made(self._transport)

        loop.call_soon_threadsafe(open_)

    # -- what http.client and urllib3 call on a socket ----------------------------------------
    def sendall(self, data: Any) -> None:
        if self.closed:
            raise OSError("Bad file descriptor")
        if self._transport.is_closing():
            raise BrokenPipeError(32, "Broken pipe")
        data = bytes(data)
        if data:
            self.sent += len(data)
            self.loop.call_soon_threadsafe(self._feed, data)

    def _feed(self, data: bytes) -> None:
        protocol = self._transport.protocol
        if protocol is not None and not self._transport.is_closing():
            protocol.data_received(data)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        self._io_refs += 1
        return io.BufferedReader(_Reader(self))

    def _reader_closed(self) -> None:
        self._io_refs -= 1
        if self._io_refs <= 0 and self.closed:
            self._hang_up()

    def settimeout(self, timeout: float | None) -> None:
        self.timeout = timeout

    def gettimeout(self) -> float | None:
        return self.timeout

    def setsockopt(self, *args: Any) -> None:
        pass

    def shutdown(self, how: int) -> None:
        pass

    def readable_now(self) -> bool:
        """What ``wait_for_read(sock, 0)`` tells of a socket: something (or the end) to read."""
        return self.at_eof or not self.incoming.empty()

    def close(self) -> None:
        """The client hangs up: the server sees the connection lost once no reader made by
        ``makefile`` is open either (as a socket: http.client closes it before the body of an
        answer that ends the connection is read)."""
        if self.closed:
            return
        self.closed = True
        if self._io_refs <= 0:
            self._hang_up()

    def __del__(self) -> None:
        # dropped unclosed (an answer nobody read, its response gone): the server sees the
        # connection lost, as the kernel tells it when a socket object is collected
        if not self.closed:
            self.closed = True
            self._hang_up()

    def _hang_up(self) -> None:
        transport = self._transport

        def lost() -> None:
            if transport.ended:
                return
            transport.ended = True
            if transport.protocol is not None:
                transport.protocol.connection_lost(None)

        with contextlib.suppress(RuntimeError):  # a closed loop: nothing left to tell
            self.loop.call_soon_threadsafe(lost)


class _InProcessConnection(HTTPConnection):
    """urllib3's connection, over a :class:`_ClientSocket` instead of a TCP socket: urllib3
    writes the request and http.client reads the answer as they do over a socket."""

    def __init__(self, server: MockDrive) -> None:
        super().__init__(server.host, server.port)
        self.mockdrive = server
        self.last: BaseHTTPResponse | None = None  # the answer read last on this connection
        # its socket, kept here too: http.client forgets it (``sock = None``) when it fails
        self.client_socket: _ClientSocket | None = None

    def _new_conn(self) -> Any:
        self.client_socket = _ClientSocket(self.mockdrive)
        return self.client_socket

    def bytes_sent(self) -> int:
        """What its socket has handed to the server so far (0 before it has one)."""
        return self.client_socket.sent if self.client_socket is not None else 0

    @property
    def is_connected(self) -> bool:
        sock = self.sock
        return sock is not None and not sock.readable_now()

    def finished(self) -> bool:
        """Its last answer read to the end (or none asked yet)."""
        return self.last is None or self.last.closed

    def reusable(self) -> bool:
        """Idle and open: its last answer read to the end, the server has not hung up."""
        return self.finished() and self.is_connected


# What urllib3 sends as it is (``_encode_target`` changes nothing in it): unreserved, sub-delims,
# ``:@/?`` and percent-escapes in upper case. Any other target takes the socket.
_PLAIN_TARGET = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-F]{2})*")
_POOL_LOG = logging.getLogger("urllib3.connectionpool")
_IDLE_KEPT = 10  # as requests' pool_maxsize


def _in_process_adapter(server: MockDrive) -> type[HTTPAdapter]:
    from requests.adapters import HTTPAdapter
    from requests.exceptions import ConnectionError
    from requests.utils import select_proxy

    origin = server.url + "/"

    class InProcessAdapter(HTTPAdapter):
        """Sends what it can prove the socket would carry the same way through
        :class:`_InProcessConnection`; anything else goes over the socket, as before."""

        def __init__(self) -> None:
            super().__init__()
            self._idle: list[_InProcessConnection] = []
            self._lock = threading.Lock()
            self._made = 0  # connections opened, for urllib3's log line
            # no retries, as requests makes it; a policy set on it afterwards takes the socket
            self._own_retries = self.max_retries

        def send(  # type: ignore[override]
            self,
            request: PreparedRequest,
            stream: bool = False,
            timeout: Any = None,
            verify: Any = True,
            cert: Any = None,
            proxies: Any = None,
        ) -> Response:
            body = request.body
            if (
                not request.url.startswith(origin)  # mounted for "http://": any other host
                or self.max_retries is not self._own_retries
                or stream
                or timeout is not None
                or cert is not None
                or not (body is None or isinstance(body, (bytes, str)))
                or (body is not None and "Content-Length" not in request.headers)
                or select_proxy(request.url, proxies) is not None
                or not _PLAIN_TARGET.fullmatch(request.path_url)
                or server.protocol_factory() is None
            ):
                return super().send(request, stream, timeout, verify, cert, proxies)
            conn = self._take()
            sent_before = conn.bytes_sent()
            try:
                conn.request(
                    request.method,
                    request.path_url,
                    body=body,
                    headers=request.headers,
                    chunked=False,
                    preload_content=False,
                    decode_content=False,
                    enforce_content_length=True,
                )
                raw = conn.getresponse()
            except Exception as error:
                sent = conn.bytes_sent() > sent_before
                conn.close()
                if not sent:  # refused before a byte left (a bad header...): the socket
                    return super().send(request, stream, timeout, verify, cert, proxies)
                if isinstance(error, (OSError, HTTPException)):  # as urllib3, then requests
                    raise ConnectionError(
                        ProtocolError("Connection aborted.", error), request=request
                    ) from error
                raise
            conn.last = raw
            raw.retries = self.max_retries  # as urllib3's pool sets it
            self._give_back(conn)
            _POOL_LOG.debug(
                '%s://%s:%s "%s %s %s" %s %s', "http", server.host, server.port,
                request.method, request.path_url, raw.version_string, raw.status,
                raw.length_remaining,
            )  # fmt: skip
            return self.build_response(request, raw)

        def _take(self) -> _InProcessConnection:
            """An idle connection whose last answer has been read, or a new one. A connection
            whose answer another thread is still reading stays where it is; one the server
            ended is closed (its answer was read to the end: nobody needs it)."""
            with self._lock:
                found = None
                for conn in list(self._idle):
                    if found is None and conn.reusable():
                        found = conn
                        self._idle.remove(conn)
                    elif conn.finished() and not conn.is_connected:
                        self._idle.remove(conn)
                        conn.close()
                if found is not None:
                    return found
                self._made += 1
                made = self._made
            _POOL_LOG.debug(
                "Starting new HTTP connection (%d): %s:%s", made, server.host, server.port
            )
            return _InProcessConnection(server)

        def _give_back(self, conn: _InProcessConnection) -> None:
            """Kept for the next request, which takes it once this answer is read; past
            ``_IDLE_KEPT``, an idle connection whose answer was read is closed."""
            with self._lock:
                self._idle.append(conn)
                spare = [c for c in self._idle if c is not conn and c.reusable()]
                for extra in spare[: max(0, len(self._idle) - _IDLE_KEPT)]:
                    self._idle.remove(extra)
                    extra.close()
                # another connection whose answer is still unread (a response hook raised before
                # requests read it, or another thread reads it now) is let go: it goes with its
                # response, as urllib3 leaves an unread answer's socket to its response
                self._idle = [c for c in self._idle if c is conn or c.finished()]

        def close(self) -> None:
            super().close()
            with self._lock:
                idle, self._idle = self._idle, []
            for conn in idle:
                conn.close()

    return InProcessAdapter


def mount_in_process(session: requests.Session, server: MockDrive) -> bool:
    """Mount an adapter on ``session`` that reaches ``server``'s own origin in process; False
    (nothing mounted) for a server that must keep the socket (TLS, the proxy front door)."""
    if server.tls or server.proxy or server.protocol_factory() is None:
        return False
    # in place of requests' own adapter for "http://", so that an adapter the user mounts (for
    # "http://", for the server's URL) takes precedence over it as it would over requests' own
    session.mount("http://", _in_process_adapter(server)())
    return True


__all__ = ["mount_in_process"]
