"""Cold start: ``python -m mockdrive --demo --port 0`` from exec to the first 200 on
``/_mockdrive/health``, against a bare aiohttp server started the same way; and the time to
``import mockdrive``, against ``import aiohttp.web`` and an empty interpreter. Medians of
several runs, each in a fresh process.

Usage: ``python benchmarks/coldstart.py [--quick] [--runs N]``.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import subprocess
import sys
import time
from typing import Any

try:
    from . import _common as common
except ImportError:  # run as a script
    import _common as common

BARE_SERVER = """
import asyncio, sys
from aiohttp import web
async def health(request):
    return web.json_response({"status": "ok"})
async def main():
    app = web.Application()
    app.router.add_get("/_mockdrive/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""
START_TIMEOUT = 30.0


def time_to_first_200(command: list[str]) -> float:
    """Seconds from exec to the first 200 on /_mockdrive/health (polled, bounded in time)."""
    env = {**os.environ, "PYTHONPATH": str(common.ROOT)}
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not match:
            raise SystemExit(f"no address in the first line: {line!r}")
        port = int(match.group(1))
        deadline = started + START_TIMEOUT
        while time.perf_counter() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/_mockdrive/health")
                if connection.getresponse().status == 200:
                    return time.perf_counter() - started
            except OSError:
                time.sleep(0.002)
        raise SystemExit(f"{command} answered no 200 within {START_TIMEOUT} s")
    finally:
        process.terminate()
        process.wait(timeout=10)


def time_python(code: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(common.ROOT)},
    )
    return time.perf_counter() - started


def import_time_top(module: str, count: int = 5) -> list[dict[str, Any]]:
    """The slowest imports (cumulative µs) under ``python -X importtime``."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            depth = len(match.group(3)) // 2
            rows.append(
                {"module": match.group(4), "cumulative_us": int(match.group(2)), "depth": depth}
            )
    total = next((r["cumulative_us"] for r in rows if r["module"] == module), None)
    top = sorted((r for r in rows if r["depth"] == 1), key=lambda r: -r["cumulative_us"])
    return [{"module": module, "cumulative_us": total, "depth": 0}, *top[:count]]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs instead of 9")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    runs = 3 if args.quick else args.runs
    mockdrive = [sys.executable, "-m", "mockdrive", "--demo", "--port", "0"]
    bare = [sys.executable, "-c", BARE_SERVER]
    samples: dict[str, list[float]] = {
        k: [] for k in ("mockdrive", "bare", "import", "aiohttp", "empty")
    }
    for _ in range(runs):  # interleaved
        samples["mockdrive"].append(time_to_first_200(mockdrive))
        samples["bare"].append(time_to_first_200(bare))
        samples["import"].append(time_python("import mockdrive"))
        samples["aiohttp"].append(time_python("import aiohttp.web"))
        samples["empty"].append(time_python("pass"))
    m = {k: common.median(v) * 1000 for k, v in samples.items()}
    rows = [
        common.row(
            "`python -m mockdrive --demo --port 0`: exec → first 200 on health",
            m["mockdrive"],
            "ms",
            "bare aiohttp server, same measure",
            m["bare"],
            "≤ 500 ms",
            m["mockdrive"] <= 500,
            runs=runs,
        ),
        common.row(
            "`python -c 'import mockdrive'` (whole process)",
            m["import"],
            "ms",
            "`python -c 'import aiohttp.web'`",
            m["aiohttp"],
            "",
            None,
            runs=runs,
        ),
        common.row(
            "`import mockdrive` alone (minus an empty interpreter)",
            m["import"] - m["empty"],
            "ms",
            "`import aiohttp.web` alone",
            m["aiohttp"] - m["empty"],
            "",
            None,
            runs=runs,
        ),
        common.row("empty interpreter `python -c pass`", m["empty"], "ms", runs=runs),
    ]
    top = import_time_top("mockdrive")
    print("slowest imports under `import mockdrive` (-X importtime, cumulative):")
    for entry in top:
        print(f"  {entry['module']:<30} {entry['cumulative_us'] / 1000:8.1f} ms")
    common.report(
        "coldstart",
        f"Cold start (median of {runs} runs)",
        rows,
        importtime=top,
        samples_ms={k: [s * 1000 for s in v] for k, v in samples.items()},
    )
    return rows


if __name__ == "__main__":
    main()
