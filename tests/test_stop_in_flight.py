"""A server stopping while an answer is still on its way: what the handler has written reaches
its client whole, as a plain close delivers it, rather than being cut off by the stop (only the
idle keep-alive connections are aborted), on plain http and under TLS."""

from __future__ import annotations

import asyncio
import gc
import socket
import ssl
import threading
import time
import warnings

import pytest

from mockdrive.cli import default_state
from mockdrive.server import STOP_GRACE, MockDrive

SIZE = 8_000_000  # more than the kernel's socket buffers hold on loopback: some waits in ours


def read_slowly(
    port: int,
    tls: ssl.SSLContext | None,
    request: bytes,
    got: list[bytes],
    pause: float = 0.0,
    stopped: threading.Event | None = None,
) -> None:
    """Send ``request`` and read the answer to its end, ``pause`` seconds before the first read
    and ``pause / 75`` between reads until ``stopped`` is set (the server's stop is done), at
    once from then on."""
    with socket.socket() as plain:
        plain.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)  # before the hand-shake
        plain.settimeout(30)
        plain.connect(("127.0.0.1", port))
        client = tls.wrap_socket(plain, server_hostname="127.0.0.1") if tls else plain
        client.sendall(request)
        time.sleep(pause)
        pause /= 75
        while chunk := client.recv(16384):
            got.append(chunk)
            if stopped is None or not stopped.is_set():
                time.sleep(pause)


def body_of(answer: bytes) -> bytes:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return body


@pytest.mark.parametrize("tls", [False, True], ids=["http", "tls"])
async def test_a_download_in_flight_as_a_start_async_server_stops_arrives_whole(tls: bool):
    server = MockDrive(default_state("stop-token"), host="127.0.0.1", tls=tls)
    await server.start_async()
    context = ssl.create_default_context(cafile=server.ca_path) if tls else None
    state = server.state
    drive = next(iter(state.store.drives.values()))
    item = state.make_path(drive, "Big.bin", is_folder=False, content=b"x" * SIZE)
    loop = asyncio.get_running_loop()
    head: list[bytes] = []
    request = (
        f"GET /v1.0/drives/{drive.id}/items/{item.id}/content HTTP/1.1\r\nHost: mock\r\n"
        "Authorization: Bearer stop-token\r\nConnection: close\r\n\r\n"
    ).encode()
    await loop.run_in_executor(None, read_slowly, server.port, context, request, head)
    fields = b"".join(head).partition(b"\r\n\r\n")[0].decode().split("\r\n")
    location = next(f.split(":", 1)[1].strip() for f in fields if f.lower().startswith("location:"))
    path = location[location.index("/", len("https://")) :]
    got: list[bytes] = []
    download = f"GET {path} HTTP/1.1\r\nHost: mock\r\n\r\n".encode()
    # a client that reads as the answer comes: when the stop is done, the answer's tail is
    # still in the server's buffers, for the connection's close to send
    stopped = threading.Event()
    reader = threading.Thread(
        target=read_slowly, args=(server.port, context, download, got, 0.3, stopped)
    )
    reader.start()
    await asyncio.sleep(0.4)
    await server.stop_async()
    stopped.set()
    await loop.run_in_executor(None, reader.join, 30)
    assert len(body_of(b"".join(got))) == SIZE


@pytest.mark.parametrize("tls", [False, True], ids=["http", "tls"])
def test_a_threaded_server_stopping_mid_answer_leaves_no_socket_to_collect(tls: bool):
    """Its loop ends with the stop: the connection still sending is closed before it, not
    left to be collected later with a ResourceWarning."""
    server = MockDrive(default_state("stop-token"), host="127.0.0.1", tls=tls).start()
    context = ssl.create_default_context(cafile=server.ca_path) if tls else None

    def arrange() -> str:
        drive = next(iter(server.state.store.drives.values()))
        item = server.state.make_path(drive, "Big.bin", is_folder=False, content=b"x" * SIZE)
        return f"/v1.0/drives/{drive.id}/items/{item.id}/content"

    first = server.call(arrange)
    head: list[bytes] = []
    request = (f"GET {first} HTTP/1.1\r\nHost: mock\r\nAuthorization: Bearer stop-token\r\n"
               "Connection: close\r\n\r\n").encode()  # fmt: skip
    read_slowly(server.port, context, request, head)
    fields = b"".join(head).partition(b"\r\n\r\n")[0].decode().split("\r\n")
    location = next(f.split(":", 1)[1].strip() for f in fields if f.lower().startswith("location:"))
    path = location[location.index("/", len("https://")) :]
    download = f"GET {path} HTTP/1.1\r\nHost: mock\r\n\r\n".encode()
    stopped = threading.Event()
    reader = threading.Thread(
        target=read_slowly, args=(server.port, context, download, [], 0.3, stopped)
    )
    reader.start()
    time.sleep(0.4)
    server.stop()
    stopped.set()
    reader.join(30)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert [str(warning.message) for warning in caught] == []


def test_a_stop_waits_its_grace_for_a_held_request_once_not_twice():
    """``STOP_GRACE`` is the whole wait a stop gives a request still being served: aiohttp waits
    its shutdown timeout for the handler, then again after cancelling the request's reading,
    so a stop that handed it the grace whole took twice as long."""
    server = MockDrive(default_state("stop-token"), host="127.0.0.1").start()
    rule = server.call(lambda: server.state.faults.add({"effect": "latency", "latencyMs": 30_000}))
    request = (
        b"GET /v1.0/me/drive HTTP/1.1\r\nHost: mock\r\nAuthorization: Bearer stop-token\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as client:
        client.sendall(request)
        deadline = time.monotonic() + 10
        while not server.call(lambda: rule.fired):  # until the server holds the request
            assert time.monotonic() < deadline, "the latency rule never fired"
            time.sleep(0.005)
        began = time.monotonic()
        server.stop()
        took = time.monotonic() - began
        assert client.recv(16384) == b""  # hung up on, with no answer
    # timers, not work: a loaded machine adds scheduling delays of milliseconds, not a grace
    assert STOP_GRACE * 0.9 <= took < STOP_GRACE * 1.5, took
