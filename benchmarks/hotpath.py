"""Server-side CPU per request, in process: the whole app (router, middleware pipeline, handler,
JSON) on mocked requests, without sockets, against the bare handler of throughput.py.

On a shared machine the HTTP throughput ratio mostly measures the load generator; CPU time
(``time.process_time``, best of several rounds) of the server's own work does not depend on it.
The same state and paths as throughput.py (``_serve.py``).

Usage: ``python benchmarks/hotpath.py [--requests N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from mockdrive.api.aiohttp_internals import inner_request, serve

try:
    from . import _common as common
    from . import _serve
except ImportError:  # run as a script
    import _common as common
    import _serve


async def cpu_per_request(
    app: web.Application, path: str, requests: int, rounds: int, bodies: list[bytes] = ()
) -> float:
    """Microseconds of CPU per GET of ``path`` through ``app`` (best round); with ``bodies``,
    a POST of each body in turn."""
    app.freeze()
    headers = {"Authorization": f"Bearer {_serve.TOKEN}", "Host": "127.0.0.1:8080"}
    best = float("inf")
    for _ in range(rounds):
        if bodies:
            outer = make_mocked_request("POST", path, headers=headers, app=app)
            post = {**headers, "Content-Type": "application/json"}
            batch = [
                inner_request(outer, "POST", path, post, bodies[n % len(bodies)])
                for n in range(requests)
            ]
        else:
            batch = [
                make_mocked_request("GET", path, headers=headers, app=app) for _ in range(requests)
            ]
        started = time.process_time()
        for request in batch:
            response = await serve(app, request)
        best = min(best, time.process_time() - started)
        if response.status != 200:
            raise SystemExit(f"{batch[-1].method} {path} answered {response.status}")
    return best / requests * 1e6


async def measure(requests: int, rounds: int) -> list[dict]:
    from mockdrive.api.app import build_app
    from mockdrive.backend import Backend

    state, paths = _serve.mockdrive_state()
    bare = await cpu_per_request(_serve.bare_app(), "/item", requests, rounds)
    rows = [common.row("bare aiohttp JSON (~300 B): server CPU per request", bare, "µs")]
    for target in ("item", "children", "permissions"):
        app = build_app(Backend(state))
        value = await cpu_per_request(app, paths[target], requests, rounds)
        label = f"{_serve_label(target)}: server CPU per request"
        rows.append(common.row(label, value, "µs", "bare handler", bare, runs=rounds))
    app = build_app(Backend(state))
    bodies = [json.dumps(body).encode() for body in _serve.INVITE_BODIES]
    value = await cpu_per_request(app, paths["invite"], requests, rounds, bodies)
    label = "invite, 2 recipients: server CPU per request"
    rows.append(common.row(label, value, "µs", "bare handler", bare, runs=rounds))
    return rows


def _serve_label(target: str) -> str:
    return {"item": "GET item", "children": "GET children (50)"}.get(
        target, "list permissions, depth 10"
    )


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    rows = asyncio.run(measure(args.requests, args.rounds))
    title = f"Server CPU per request, in process (best of {args.rounds} x {args.requests})"
    common.report("hotpath", title, rows)
    return rows


if __name__ == "__main__":
    main()
