"""Throughput and latency over HTTP: mockdrive routes against a bare aiohttp handler.

Two servers, each in its own process (``_serve.py``): bare aiohttp handlers (the ceilings: a
GET returning ~300 bytes of JSON, and a POST echoing the JSON body it reads, sent the invite
bodies) and mockdrive serving GET item, GET children (50 items), list permissions
at depth 10 and invite with 2 recipients. Runs are interleaved (every target at every connection
count, round after round) so drift hits all of them alike. Load comes from ``wrk`` when it is on
the PATH, else from a bounded aiohttp-client loader. Reports req/s, p50, p99, the server's CPU
time per request (from ``/proc/PID/stat``) and the ratio to the bare GET handler, the baseline
of every target; invite, a POST, is also shown against the bare echo, which pays what any POST
handler pays for reading its body (context, not the target's baseline).

Usage: ``python benchmarks/throughput.py [--quick] [--duration S] [--rounds N] [--uvloop]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    from . import _common as common
except ImportError:  # run as a script
    import _common as common

HERE = Path(__file__).resolve().parent
TARGETS = ("bare", "echo", "item", "children", "permissions", "invite")
LABELS = {
    "bare": "bare aiohttp JSON (~300 B)",
    "echo": "bare aiohttp echo of the invite body (POST)",
    "item": "GET item",
    "children": "GET children (50)",
    "permissions": "list permissions, depth 10",
    "invite": "invite, 2 recipients",
}
TARGET_RATIO = {"item": 0.6, "invite": 0.45}
BASELINES = ("bare", "echo")
POSTS = ("echo", "invite")
MAX_REQUESTS = 2_000_000  # the fallback loader's bound per run, on top of the time bound


class Server:
    """A ``_serve.py`` subprocess; its CPU time is read from /proc."""

    def __init__(self, kind: str, uvloop: bool) -> None:
        command = [sys.executable, str(HERE / "_serve.py"), kind]
        if uvloop:
            command.append("--uvloop")
        path = os.pathsep.join(filter(None, [str(common.ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the {kind} server did not start")
        self.info: dict[str, Any] = json.loads(line)
        self.base = f"http://127.0.0.1:{self.info['port']}"

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        try:
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(timeout=10)


def _lua_post(body_list: list[dict[str, Any]], token: str, directory: Path) -> Path:
    bodies = ", ".join("[[" + json.dumps(b) + "]]" for b in body_list)
    script = directory / "invite.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
        f"local bodies = {{{bodies}}}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])\n"
        "end\n"
    )
    return script


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")


def run_wrk(url: str, connections: int, duration: float, token: str, lua: Path | None) -> dict:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(duration, 1):.0f}s",
        "--latency",
        "--timeout",
        "5s",
        "-H",
        f"Authorization: Bearer {token}",
    ]
    if lua is not None:
        command += ["-s", str(lua)]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=duration + 30, check=True
    ).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    seconds_match = re.search(r"requests in ([\d.]+)(ms|s|m)", out)
    value, unit = float(seconds_match.group(1)), seconds_match.group(2)
    seconds = value / 1000 if unit == "ms" else value * 60 if unit == "m" else value
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": requests,
        "rps": requests / seconds,
        "p50_ms": _ms(re.search(r"50%\s+(\S+)", out).group(1)),
        "p99_ms": _ms(re.search(r"99%\s+(\S+)", out).group(1)),
        "errors": int(bad.group(1)) if bad else 0,
    }


def run_aiohttp_loader(
    url: str, connections: int, duration: float, token: str, bodies: list | None
) -> dict:
    """Fallback load generator: ``connections`` workers, bounded in time and request count."""
    import aiohttp

    async def load() -> dict:
        latencies: list[float] = []
        errors = 0
        headers = {"Authorization": f"Bearer {token}"}
        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
            deadline = time.perf_counter() + duration
            started = time.perf_counter()

            async def worker(offset: int) -> None:
                nonlocal errors
                n = offset
                while time.perf_counter() < deadline and len(latencies) < MAX_REQUESTS:
                    t0 = time.perf_counter()
                    if bodies:
                        n += 1
                        request = session.post(url, json=bodies[n % len(bodies)])
                    else:
                        request = session.get(url)
                    async with request as response:
                        await response.read()
                        errors += response.status >= 400
                    latencies.append((time.perf_counter() - t0) * 1000)

            await asyncio.gather(*(worker(i) for i in range(connections)))
            elapsed = time.perf_counter() - started
        latencies.sort()
        return {
            "requests": len(latencies),
            "rps": len(latencies) / elapsed,
            "p50_ms": latencies[len(latencies) // 2],
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            "errors": errors,
        }

    return asyncio.run(load())


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s per run, c=8 only")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", default="1,8,64")
    parser.add_argument("--uvloop", action="store_true", help="serve on uvloop (if installed)")
    parser.add_argument("--loader", choices=("auto", "wrk", "aiohttp"), default="auto")
    args = parser.parse_args(argv)
    if args.quick:  # CI: the script runs every route once; the figures come from a full run
        args.duration, args.rounds, args.connections = 1.0, 1, "8"
    connection_counts = [int(c) for c in args.connections.split(",")]
    loader = args.loader
    if loader == "auto":
        loader = "wrk" if shutil.which("wrk") else "aiohttp"
    servers = {"bare": Server("bare", args.uvloop), "mockdrive": Server("mockdrive", args.uvloop)}
    runs: dict[tuple[str, int], list[dict]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            md = servers["mockdrive"].info
            lua = _lua_post(md["invite_bodies"], md["token"], Path(tmp))

            def measure(target: str, connections: int, duration: float) -> dict:
                server = servers["bare" if target in BASELINES else "mockdrive"]
                url = server.base + server.info["paths"][target]
                is_post = target in POSTS
                cpu_before = server.cpu_seconds()
                if loader == "wrk":
                    result = run_wrk(
                        url, connections, duration, md["token"], lua if is_post else None
                    )
                else:
                    bodies = md["invite_bodies"] if is_post else None
                    result = run_aiohttp_loader(url, connections, duration, md["token"], bodies)
                result["cpu_s"] = server.cpu_seconds() - cpu_before
                return result

            for target in TARGETS if not args.quick else ():  # warm up every route once
                measure(target, 8, 1.0 if loader == "wrk" else 0.3)
            for round_ in range(args.rounds):
                for connections in connection_counts:
                    for target in TARGETS:
                        result = measure(target, connections, args.duration)
                        runs.setdefault((target, connections), []).append(result)
                        print(
                            f"  round {round_ + 1} c={connections:<3} {target:<12} "
                            f"{result['rps']:9.0f} req/s  p50 {result['p50_ms']:.2f} ms  "
                            f"errors {result['errors']}",
                            flush=True,
                        )
    finally:
        for server in servers.values():
            server.stop()

    rows = []
    for connections in connection_counts:
        summary = {}
        for target in TARGETS:
            results = runs[(target, connections)]
            requests = sum(r["requests"] for r in results)
            summary[target] = {
                "rps": common.median([r["rps"] for r in results]),
                "p50_ms": common.median([r["p50_ms"] for r in results]),
                "p99_ms": common.median([r["p99_ms"] for r in results]),
                "cpu_us": sum(r["cpu_s"] for r in results) / max(requests, 1) * 1e6,
                "errors": sum(r["errors"] for r in results),
                "requests": requests,
            }
        bare = summary["bare"]
        for target in TARGETS:
            s = summary[target]
            goal = TARGET_RATIO.get(target)
            ratio_ok = None if goal is None else s["rps"] / bare["rps"] >= goal
            rows.append(
                common.row(
                    f"{LABELS[target]}, c={connections}",
                    s["rps"],
                    "req/s",
                    "bare handler" if target != "bare" else "",
                    bare["rps"] if target != "bare" else None,
                    f"≥ {goal}x bare" if goal else "",
                    ratio_ok,
                    p50_ms=s["p50_ms"],
                    p99_ms=s["p99_ms"],
                    cpu_us_per_request=s["cpu_us"],
                    bare_cpu_us_per_request=bare["cpu_us"],
                    ratio_to_bare_echo=s["rps"] / summary["echo"]["rps"],
                    errors=s["errors"],
                    requests=s["requests"],
                    connections=connections,
                    target_name=target,
                )
            )
    print(latency_table(rows))
    common.report(
        "throughput_uvloop" if args.uvloop else "throughput",
        f"Throughput ({loader}, {args.rounds} x {args.duration:g} s per cell, "
        f"loop {servers['mockdrive'].info['loop']})",
        rows,
        loader=loader,
        loop=servers["mockdrive"].info["loop"],
    )
    return rows


def latency_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| route, connections | req/s | x bare | x bare echo | p50 ms | p99 ms "
        "| server CPU µs/req | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "1.00"
        lines.append(
            f"| {r['figure']} | {r['value']:,.0f} | {ratio} | {r['ratio_to_bare_echo']:.2f} | "
            f"{r['p50_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['cpu_us_per_request']:.0f} | {r['errors']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
