"""How long a JSON export of a large state holds up other requests (``GET /_mockdrive/state``).

A thread asks ``/_mockdrive/health`` over and over on a kept-alive connection while the main
thread exports a demo state of ``--items`` items; the figure is the longest wait between two
health answers during the export. Beside it, in the same run: the longest wait with nothing
else going on (the floor), and the same export written on the server's loop in one call
(``dumps(export_scenario(state))`` through ``MockDrive.call``, which is how the JSON export
was written before it moved to a thread in pieces).

Usage: ``python -m benchmarks.export_hold [--items 100000] [--rounds 3] [--quick]``.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from mockdrive.api.jsonio import dumps
from mockdrive.demo import demo_state
from mockdrive.scenario import export_scenario
from mockdrive.server import MockDrive

from ._common import median, report, row


def longest_wait(server: MockDrive, during: Callable[[], Any]) -> tuple[float, float]:
    """The longest gap between two health answers while ``during()`` runs, and its seconds."""
    stop = threading.Event()
    answered: list[float] = []

    def ask() -> None:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
        try:
            while not stop.is_set():
                connection.request("GET", "/_mockdrive/health")
                response = connection.getresponse()
                response.read()
                assert response.status == 200, response.status
                answered.append(time.perf_counter())
        finally:
            connection.close()

    asker = threading.Thread(target=ask)
    asker.start()
    time.sleep(0.05)  # the asker's connection is open and answered
    started = time.perf_counter()
    during()
    ended = time.perf_counter()
    stop.set()
    asker.join(60)
    moments = [started] + [t for t in answered if started < t < ended] + [ended]
    return max(b - a for a, b in itertools.pairwise(moments)), ended - started


def export_over_http(server: MockDrive) -> Callable[[], None]:
    def export() -> None:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=120)
        try:
            connection.request("GET", "/_mockdrive/state")
            response = connection.getresponse()
            assert response.status == 200, response.status
            response.read()
        finally:
            connection.close()

    return export


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 items, one round (CI)")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    items, rounds = (10_000, 1) if args.quick else (args.items, args.rounds)
    state = demo_state(items=items)
    waits: dict[str, list[float]] = {"floor": [], "in pieces": [], "on the loop": []}
    seconds: dict[str, list[float]] = {"in pieces": [], "on the loop": []}
    with MockDrive(state) as server:
        on_the_loop = lambda: server.call(lambda: len(dumps(export_scenario(server.state))))  # noqa: E731
        for _ in range(rounds):  # alternating, so a slow moment of the machine hits both
            waits["floor"].append(longest_wait(server, lambda: time.sleep(0.5))[0])
            for name, export in (("in pieces", export_over_http(server)),
                                 ("on the loop", on_the_loop)):  # fmt: skip
                wait, took = longest_wait(server, export)
                waits[name].append(wait)
                seconds[name].append(took)
    floor, pieces, loop = (median(waits[k]) * 1000 for k in ("floor", "in pieces", "on the loop"))
    rows = [
        row(
            f"longest wait for /health during a JSON export of {items:,} items",
            pieces,
            "ms",
            "the same export written on the loop in one call",
            loop,
            seconds=median(seconds["in pieces"]),
            baseline_seconds=median(seconds["on the loop"]),
            runs=waits,
        ),
        row("longest wait for /health with no export (the floor)", floor, "ms"),
    ]
    report("export_hold", f"Export hold ({items:,} items, median of {rounds})", rows)
    return rows


if __name__ == "__main__":
    main()
