"""Large uploads and range reads: mockdrive's upload session and download URL against a bare
aiohttp handler doing the least the same work needs, in the same run.

Two servers, each in its own process: ``_serve.py mockdrive`` and this file's ``--serve-bare``
(a PUT handler that appends the body to a bytearray, a GET handler that slices one ``Range`` out
of a bytes object). One client (``requests``) uploads FILE_MB in 10 MiB fragments (mockdrive:
``createUploadSession``, then PUTs to the upload URL, the last one committing the file and its
hashes) and reads the file back in 4 MiB ranges (mockdrive: through the download URL that
``GET …/content`` redirects to). Rounds alternate between the servers; each figure is the median.
Reports MB/s and the server's CPU milliseconds per MB (from ``/proc/PID/stat``).

Usage: ``python -m benchmarks.uploads [--quick] [--mb N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import sys
import time
from typing import Any
from urllib.parse import urlsplit

try:
    from . import _common as common
    from .throughput import Server
except ImportError:  # run as a script
    import _common as common
    from throughput import Server

FRAGMENT = 10 * 1024 * 1024  # 32 x 320 KiB, the size the docs recommend
READ_BLOCK = 4 * 1024 * 1024


class BareServer(Server):
    """This file run with ``--serve-bare``, in its own process."""

    def __init__(self) -> None:
        import subprocess

        path = os.pathsep.join(filter(None, [str(common.ROOT), os.environ.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.uploads", "--serve-bare"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": path},
            cwd=common.ROOT,
        )
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit("the bare server did not start")
        self.info: dict[str, Any] = json.loads(line)
        self.base = f"http://127.0.0.1:{self.info['port']}"


async def serve_bare() -> None:
    """PUT /upload appends to a buffer (201 when the declared total is reached); GET /file
    answers one ``Range`` from the last completed upload."""
    import signal

    from aiohttp import web

    state: dict[str, Any] = {"buffer": bytearray(), "file": b""}

    async def upload(request: web.Request) -> web.Response:
        _, _, spec = request.headers["Content-Range"].partition(" ")
        span, _, total = spec.partition("/")
        start = int(span.split("-")[0])
        if start == 0:
            state["buffer"] = bytearray()
        state["buffer"] += await request.read()
        if len(state["buffer"]) == int(total):
            state["file"] = bytes(state["buffer"])
            return web.json_response({"size": len(state["file"])}, status=201)
        return web.json_response({"nextExpectedRanges": [f"{len(state['buffer'])}-"]}, status=202)

    async def read(request: web.Request) -> web.Response:
        first, _, last = request.headers["Range"].removeprefix("bytes=").partition("-")
        data: bytes = state["file"]
        end = min(int(last), len(data) - 1)
        headers = {"Content-Range": f"bytes {first}-{end}/{len(data)}"}
        return web.Response(status=206, body=memoryview(data)[int(first) : end + 1],
                            headers=headers)  # fmt: skip

    app = web.Application(client_max_size=FRAGMENT + 1024)
    app.router.add_put("/upload", upload)
    app.router.add_get("/file", read)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(sys.stdin.fileno(), stop.set)
    print(json.dumps({"port": runner.addresses[0][1]}), flush=True)
    await stop.wait()
    await runner.cleanup()


def fragments(data: bytes) -> list[tuple[int, bytes]]:
    return [(start, data[start : start + FRAGMENT]) for start in range(0, len(data), FRAGMENT)]


class Client:
    """One kept-alive HTTP/1.1 connection to one server (no client library overhead)."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)

    def request(
        self, method: str, url: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        self.connection.request(method, target, body=body, headers=headers or {})
        response = self.connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()

    def close(self) -> None:
        self.connection.close()


def put_all(client: Client, url: str, data: bytes) -> int:
    status = 0
    for start, piece in fragments(data):
        headers = {"Content-Range": f"bytes {start}-{start + len(piece) - 1}/{len(data)}"}
        status, _, _ = client.request("PUT", url, piece, headers)
        assert status in (200, 201, 202), status
    assert status in (200, 201), status
    return status


def read_all(client: Client, url: str, size: int) -> int:
    received = 0
    for first in range(0, size, READ_BLOCK):
        last = min(first + READ_BLOCK, size) - 1
        status, _, body = client.request("GET", url, headers={"Range": f"bytes={first}-{last}"})
        assert status == 206, status
        received += len(body)
    assert received == size
    return received


def measure(server: Server, action) -> tuple[float, float]:
    """(seconds, server CPU seconds) of ``action()``."""
    cpu = server.cpu_seconds()
    started = time.perf_counter()
    action()
    return time.perf_counter() - started, server.cpu_seconds() - cpu


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 MB, one round (CI)")
    parser.add_argument("--mb", type=int, default=100, help="file size in MB (default 100)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        asyncio.run(serve_bare())
        return []
    size_mb, rounds = (8, 1) if args.quick else (args.mb, args.rounds)
    data = os.urandom(size_mb * 1024 * 1024)
    megabytes = len(data) / 1e6
    bare, mock = BareServer(), Server("mockdrive", uvloop=False)
    figures: dict[str, list[tuple[float, float]]] = {
        k: [] for k in ("bare upload", "mock upload", "bare read", "mock read")
    }
    bare_client, mock_client = Client(bare.base), Client(mock.base)
    try:
        auth = {"Authorization": f"Bearer {mock.info['token']}"}
        json_auth = {**auth, "Content-Type": "application/json"}
        for round_number in range(rounds):
            figures["bare upload"].append(measure(bare, lambda: put_all(
                bare_client, bare.base + "/upload", data)))  # fmt: skip
            name = f"/v1.0/me/drive/root:/bench-{round_number}.bin:"

            def mock_upload(name: str = name) -> None:
                status, _, body = mock_client.request(
                    "POST", mock.base + name + "/createUploadSession", b"{}", json_auth
                )
                assert status == 200, body
                put_all(mock_client, json.loads(body)["uploadUrl"], data)

            figures["mock upload"].append(measure(mock, mock_upload))
            figures["bare read"].append(measure(bare, lambda: read_all(
                bare_client, bare.base + "/file", len(data))))  # fmt: skip
            status, headers, _ = mock_client.request("GET", mock.base + name + "/content",
                                                     headers=auth)  # fmt: skip
            assert status == 302, status
            figures["mock read"].append(measure(mock, lambda url=headers["Location"]: read_all(
                mock_client, url, len(data))))  # fmt: skip
    finally:
        bare_client.close()
        mock_client.close()
        bare.stop()
        mock.stop()

    def rate(key: str) -> float:
        return common.median([megabytes / seconds for seconds, _ in figures[key]])

    def cpu_per_mb(key: str) -> float:
        return common.median([cpu * 1000 / megabytes for _, cpu in figures[key]])

    rows = []
    for what, label in (("upload", "upload session, 10 MiB fragments"),
                        ("read", "range reads, 4 MiB each")):  # fmt: skip
        rows.append(common.row(f"{label}: throughput", rate(f"mock {what}"), "MB/s",
                               "bare aiohttp", rate(f"bare {what}")))  # fmt: skip
        rows.append(common.row(f"{label}: server CPU", cpu_per_mb(f"mock {what}"), "ms/MB",
                               "bare aiohttp", cpu_per_mb(f"bare {what}")))  # fmt: skip
    common.report(
        "uploads",
        f"Large upload and range reads ({size_mb} MiB file, median of {rounds} rounds)",
        rows,
        file_mib=size_mb,
        rounds=rounds,
    )
    return rows


if __name__ == "__main__":
    main()
