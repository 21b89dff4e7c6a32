"""Where a GET item costs more than the bare handler over real sockets: cProfile of the
server's loop under ``wrk`` (8 connections, 3 s), self time per request for each function,
mockdrive minus bare, largest first. Profiled times are ~2x real; compare the two columns.

Usage: ``python benchmarks/profile_http.py`` (needs ``wrk``; not part of ``python -m benchmarks``).
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _serve import TOKEN, bare_app, mockdrive_state


def start_bare() -> tuple[str, Callable[[Callable[[], Any]], Any]]:
    from aiohttp import web

    loop = asyncio.new_event_loop()
    runner = web.AppRunner(bare_app(), access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
    threading.Thread(target=loop.run_forever, daemon=True).start()

    async def run(fn: Callable[[], Any]) -> Any:
        return fn()

    def call(fn: Callable[[], Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(run(fn), loop).result()

    return f"http://127.0.0.1:{runner.addresses[0][1]}/item", call


def start_mockdrive() -> tuple[str, Callable[[Callable[[], Any]], Any]]:
    from mockdrive.server import MockDrive

    state, paths = mockdrive_state()
    server = MockDrive(state).start()
    return f"http://127.0.0.1:{server.port}{paths['item']}", server.call


def self_times(url: str, call: Callable[[Callable[[], Any]], Any]) -> dict[str, float]:
    """µs of self time per request, by function, over one 3 s wrk run."""
    wrk = ["wrk", "-t1", "-c8", "-H", f"Authorization: Bearer {TOKEN}"]
    subprocess.run([*wrk, "-d1s", url], capture_output=True, check=True)  # warm up
    profile = cProfile.Profile()
    call(profile.enable)
    out = subprocess.run([*wrk, "-d3s", url], capture_output=True, text=True, check=True).stdout
    call(profile.disable)
    served = int(next(line for line in out.splitlines() if "requests in" in line).split()[0])
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    return {
        f"{file.split('site-packages/')[-1]}:{line}({name})": own / served * 1e6
        for (file, line, name), (_, _, own, _, _) in stats.items()
    }


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk (apt-get install wrk)")
    mockdrive = self_times(*start_mockdrive())
    bare = self_times(*start_bare())
    rows = sorted(((t - bare.get(f, 0.0), t, bare.get(f, 0.0), f) for f, t in mockdrive.items()))
    print("self time, µs per request (profiled): mockdrive minus bare, mockdrive, bare, function")
    for diff, ours, theirs, function in reversed(rows[-30:]):
        print(f"{diff:7.1f} {ours:7.1f} {theirs:7.1f}  {function}")
    print(f"total: mockdrive {sum(mockdrive.values()):.0f}, bare {sum(bare.values()):.0f}")


if __name__ == "__main__":
    main()
