"""Where a route costs more than its bare baseline over real sockets: cProfile of the server's
loop under ``wrk`` (8 connections, 3 s), self time per request for each function, mockdrive minus
bare, largest first. Profiled times are ~2x real; compare the columns, not the totals with
unprofiled figures.

- ``item`` (the default): GET item against the bare aiohttp JSON GET handler;
- ``invite``: invite with 2 recipients against the bare echo of the same bodies (an aiohttp POST
  handler that reads the JSON body and answers it back), so what any POST pays for its body is
  on both sides.

Usage: ``python benchmarks/profile_http.py [item|invite] [--rows N]`` (needs ``wrk``; not part
of ``python -m benchmarks``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _serve import INVITE_BODIES, TOKEN, bare_app, mockdrive_state
from throughput import _lua_post


def start_bare(path: str) -> tuple[str, Callable[[Callable[[], Any]], Any]]:
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

    return f"http://127.0.0.1:{runner.addresses[0][1]}{path}", call


def start_mockdrive(route: str) -> tuple[str, Callable[[Callable[[], Any]], Any]]:
    from mockdrive.server import MockDrive

    state, paths = mockdrive_state()
    server = MockDrive(state).start()
    return f"http://127.0.0.1:{server.port}{paths[route]}", server.call


def self_times(
    url: str, call: Callable[[Callable[[], Any]], Any], script: Path | None = None
) -> dict[str, float]:
    """µs of self time per request, by function, over one 3 s wrk run (``script``: a wrk Lua
    script that makes the requests, for a POST)."""
    wrk = ["wrk", "-t1", "-c8", "-H", f"Authorization: Bearer {TOKEN}"]
    if script is not None:
        wrk += ["-s", str(script)]
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("route", nargs="?", choices=("item", "invite"), default="item")
    parser.add_argument("--rows", type=int, default=30, help="functions shown (largest gaps)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk (apt-get install wrk)")
    script = None
    if args.route == "invite":
        script = _lua_post(INVITE_BODIES, TOKEN, Path(tempfile.mkdtemp()))
    mockdrive = self_times(*start_mockdrive(args.route), script)
    bare = self_times(*start_bare("/echo" if script else "/item"), script)
    rows = sorted(((t - bare.get(f, 0.0), t, bare.get(f, 0.0), f) for f, t in mockdrive.items()))
    baseline = "bare echo" if script else "bare"
    print(
        f"{args.route}: self time, µs per request (profiled): mockdrive minus {baseline}, "
        f"mockdrive, {baseline}, function"
    )
    for diff, ours, theirs, function in reversed(rows[-args.rows :]):
        print(f"{diff:7.1f} {ours:7.1f} {theirs:7.1f}  {function}")
    print(f"total: mockdrive {sum(mockdrive.values()):.0f}, {baseline} {sum(bare.values()):.0f}")


if __name__ == "__main__":
    main()
