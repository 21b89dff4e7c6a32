"""A server stopping while answers are still on their way: an answer the handler has written
reaches its client whole, as a plain close delivers it, rather than being cut off by the stop
(only the idle keep-alive connections are aborted)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

from mockdrive.cli import default_state
from mockdrive.server import MockDrive

SIZE = 8_000_000  # more than the kernel's socket buffers hold on loopback: some waits in ours


def read_slowly(port: int, request: bytes, got: list[bytes], pause: float = 0.0) -> None:
    """Send ``request`` and read the answer to its end, ``pause`` seconds before the first read
    and ``pause / 75`` between reads."""
    with socket.socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)  # before the hand-shake
        client.settimeout(30)
        client.connect(("127.0.0.1", port))
        client.sendall(request)
        time.sleep(pause)
        pause /= 75
        while chunk := client.recv(16384):
            got.append(chunk)
            time.sleep(pause)


async def test_a_download_in_flight_as_a_start_async_server_stops_arrives_whole():
    server = await MockDrive(default_state("stop-token"), host="127.0.0.1").start_async()
    state = server.state
    drive = next(iter(state.store.drives.values()))
    item = state.make_path(drive, "Big.bin", is_folder=False, content=b"x" * SIZE)
    request = (
        f"GET /v1.0/drives/{drive.id}/items/{item.id}/content HTTP/1.1\r\nHost: mock\r\n"
        "Authorization: Bearer stop-token\r\nConnection: close\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    head: list[bytes] = []
    await loop.run_in_executor(None, read_slowly, server.port, request, head)
    fields = b"".join(head).partition(b"\r\n\r\n")[0].decode().split("\r\n")
    location = next(f.split(":", 1)[1].strip() for f in fields if f.lower().startswith("location:"))
    path = location[location.index("/", len("http://")) :]
    got: list[bytes] = []
    download = f"GET {path} HTTP/1.1\r\nHost: mock\r\n\r\n".encode()
    # a client that reads as the answer comes: its handler is done within the stop's grace,
    # with the answer's tail still in the transport's buffer
    reader = threading.Thread(target=read_slowly, args=(server.port, download, got, 0.3))
    reader.start()
    await asyncio.sleep(0.4)
    await server.stop_async()
    await loop.run_in_executor(None, reader.join, 30)
    answer = b"".join(got)
    assert answer.startswith(b"HTTP/1.1 200")
    assert len(answer.partition(b"\r\n\r\n")[2]) == SIZE
