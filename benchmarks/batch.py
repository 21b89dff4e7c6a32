"""JSON batching against single requests: 20 GET item steps in one ``$batch`` vs 20 GETs.

One mockdrive server in its own process (``_serve.py``, the same state as the throughput
benchmark). Each client loop either sends 20 single ``GET item`` requests one after another on
its keep-alive connection, or one ``POST /v1.0/$batch`` holding the same 20 GETs; runs alternate
round after round so drift hits both alike. Reports sub-requests per second (a batch counts
20), the server's CPU time per sub-request (from ``/proc/PID/stat``) and batch/single ratios.

Usage: ``python -m benchmarks.batch [--quick] [--duration S] [--rounds N] [--clients C]``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import aiohttp

try:
    from . import _common as common
    from .throughput import Server
except ImportError:  # run as a script
    import _common as common
    from throughput import Server

STEPS = 20
MODES = ("single", "batch")


async def _run(base: str, path: str, token: str, mode: str, clients: int, duration: float):
    """Drive the server for ``duration`` seconds; return the number of sub-requests answered."""
    headers = {"Authorization": f"Bearer {token}"}
    batch = {"requests": [{"id": str(n), "method": "GET", "url": path} for n in range(STEPS)]}
    done = 0
    deadline = time.perf_counter() + duration

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            if mode == "single":
                for _ in range(STEPS):
                    async with session.get(base + "/v1.0" + path, headers=headers) as response:
                        await response.read()
                        assert response.status == 200, response.status
            else:
                async with session.post(base + "/v1.0/$batch", json=batch, headers=headers) as r:
                    answer = await r.json()
                    assert all(item["status"] == 200 for item in answer["responses"])
            done += STEPS

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    return done


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the comparison, print the table and write ``results/batch.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (CI)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args(argv)
    duration = args.duration or (0.5 if args.quick else 5.0)
    rounds = args.rounds or (1 if args.quick else 3)

    server = Server("mockdrive", uvloop=False)
    try:
        path = server.info["paths"]["item"].removeprefix("/v1.0")
        token = server.info.get("token", "bench-token")
        totals = {mode: {"requests": 0, "seconds": 0.0, "cpu": 0.0} for mode in MODES}
        asyncio.run(_run(server.base, path, token, "batch", 1, 0.2))  # warm-up
        for _ in range(rounds):
            for mode in MODES:
                cpu = server.cpu_seconds()
                started = time.perf_counter()
                count = asyncio.run(_run(server.base, path, token, mode, args.clients, duration))
                totals[mode]["seconds"] += time.perf_counter() - started
                totals[mode]["cpu"] += server.cpu_seconds() - cpu
                totals[mode]["requests"] += count
    finally:
        server.stop()

    rates = {m: totals[m]["requests"] / totals[m]["seconds"] for m in MODES}
    cpu_us = {m: totals[m]["cpu"] / totals[m]["requests"] * 1e6 for m in MODES}
    rows = [
        common.row("20 single GET item: sub-requests/s", rates["single"], "req/s"),
        common.row("$batch of 20 GET item: sub-requests/s", rates["batch"], "req/s",
                   "20 single GETs", rates["single"]),
        common.row("20 single GET item: server CPU per request", cpu_us["single"], "µs"),
        common.row("$batch of 20 GET item: server CPU per sub-request", cpu_us["batch"], "µs",
                   "20 single GETs", cpu_us["single"]),
    ]  # fmt: skip
    title = (f"$batch of {STEPS} GET item vs {STEPS} single GETs ({args.clients} clients, "
             f"{rounds} round(s) of {duration} s each)")  # fmt: skip
    common.report("batch", title, rows, clients=args.clients, rounds=rounds, duration=duration)
    figures = {"rates": rates, "cpu_us": cpu_us}
    return figures


if __name__ == "__main__":
    main()
