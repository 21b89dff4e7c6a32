"""Per-test overhead of ``mock_drive`` against a bare test, pytest-httpserver's ``httpserver``
and pytest-aiohttp's ``aiohttp_client`` with a fresh app per test.

Runs seven generated suites of N tests as pytest subprocesses (best of R interleaved rounds,
wall and CPU time per test): bare tests
that do nothing; ``httpserver`` tests with one expected request, sent with ``requests.get`` (a
new connection) and with one keep-alive session; ``aiohttp_client`` tests that build an app with
one route and make one request; a bare aiohttp handler on a thread of the test process with
the same keep-alive session (the floor for any in-process server and this client); and
``mock_drive`` tests with one Graph request, sent with
``requests.get`` and with the fixture's ready ``mock_drive.session``. Prints milliseconds per
test (wall and the process's CPU), the overhead over bare, ``mock_drive``'s distance above the
floor (target: 0.2 ms) and above ``httpserver``, and the median CPU of a test's set-up, call
and teardown beside the floor's; then times the Faker demo generation of 100,000
items (skipped under ``--quick``; see scaling.py).
Usage: ``python benchmarks/fixture_overhead.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

try:
    from . import _common as common
except ImportError:  # run as a script
    import _common as common

SUITES = {
    "bare": """
        import pytest

        @pytest.mark.parametrize("n", range({tests}))
        def test_bare(n):
            assert n >= 0
    """,
    "httpserver": """
        import pytest
        import requests

        @pytest.mark.parametrize("n", range({tests}))
        def test_httpserver(httpserver, n):
            httpserver.expect_request("/me/drive").respond_with_json({{"id": "x"}})
            assert requests.get(httpserver.url_for("/me/drive")).status_code == 200
    """,
    "aiohttp_client": """
        import pytest
        from aiohttp import web

        async def drive(request):
            return web.json_response({{"id": "x"}})

        @pytest.mark.parametrize("n", range({tests}))
        async def test_aiohttp_client(aiohttp_client, n):
            app = web.Application()
            app.router.add_get("/me/drive", drive)
            client = await aiohttp_client(app)
            response = await client.get("/me/drive")
            assert response.status == 200
    """,
    "httpserver_session": """
        import pytest
        import requests

        SESSION = requests.Session()  # the same keep-alive client mock_drive.session is
        SESSION.trust_env = False  # as mock_drive.session (no proxy variables, no ~/.netrc)

        @pytest.mark.parametrize("n", range({tests}))
        def test_httpserver(httpserver, n):
            httpserver.expect_request("/me/drive").respond_with_json({{"id": "x"}})
            assert SESSION.get(httpserver.url_for("/me/drive")).status_code == 200
    """,
    "bare_server_session": """
        import asyncio
        import threading

        import pytest
        import requests
        from aiohttp import web

        SESSION = requests.Session()
        SESSION.trust_env = False  # as mock_drive.session


        async def drive(request):
            return web.json_response({{"id": "x"}})


        @pytest.fixture(scope="session")
        def bare_url():
            loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_get("/me/drive", drive)
            runner = web.AppRunner(app)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            port = runner.addresses[0][1]
            threading.Thread(target=loop.run_forever, daemon=True).start()
            yield f"http://127.0.0.1:{{port}}/me/drive"
            loop.call_soon_threadsafe(loop.stop)


        @pytest.mark.parametrize("n", range({tests}))
        def test_bare_server(bare_url, n):
            assert SESSION.get(bare_url).status_code == 200
    """,
    "mock_drive": """
        import pytest
        import requests

        @pytest.mark.parametrize("n", range({tests}))
        def test_mock_drive(mock_drive, n):
            url = mock_drive.graph_url + "/me/drive"
            response = requests.get(url, headers=mock_drive.headers())
            assert response.status_code == 200
    """,
    "mock_drive_session": """
        import pytest

        @pytest.mark.parametrize("n", range({tests}))
        def test_mock_drive(mock_drive, n):
            assert mock_drive.session.get("/me/drive").status_code == 200
    """,
}
LABELS = {
    "httpserver": "`httpserver` + `requests.get`",
    "httpserver_session": "`httpserver` + keep-alive session",
    "bare_server_session": "floor: bare aiohttp handler on a thread + the same session",
    "aiohttp_client": "`aiohttp_client`, app per test",
    "mock_drive": "`mock_drive` + `requests.get`",
    "mock_drive_session": "`mock_drive` + `mock_drive.session`",
}
FLOOR_MARGIN_MS = 0.2  # mock_drive + its ready session, over the floor (a bare handler + session)


# A plugin in each suite's directory: the clock starts when the second test starts (the first
# pays for session fixtures such as a server's start) and stops when the last one has finished
# (set-up, call, teardown and the report of every test are inside). pytest's own start-up and
# imports stay outside, so they cannot move the per-test figure. Beside the wall clock it reads
# the process's CPU time: every server here (mockdrive, the floor's handler, pytest-httpserver)
# runs on a thread of the test process, so CPU per test is the whole work of a test, client and
# server, and moves far less than wall time when other processes load the machine.
# It also reads the CPU time of each test's phases (set-up, call, teardown; their medians say
# where a suite's per-test time goes, and are steadier than its mean under load).
TIMING_PLUGIN = """
import json, os, time

import pytest

_STARTS, _FINISHES = [], []
_PHASES = {"setup": [], "call": [], "teardown": []}


def pytest_runtest_logstart(nodeid, location):
    _STARTS.append((time.perf_counter(), time.process_time()))


def pytest_runtest_logfinish(nodeid, location):
    _FINISHES.append((time.perf_counter(), time.process_time()))


def _phase(name):
    started = time.process_time()
    yield
    _PHASES[name].append(time.process_time() - started)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _phase("setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _phase("call"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item):
    return (yield from _phase("teardown"))


def pytest_sessionfinish(session, exitstatus):
    with open(os.environ["FIXTURE_OVERHEAD_OUT"], "w") as out:
        json.dump({"starts": _STARTS, "finishes": _FINISHES, "phases": _PHASES}, out)
"""
PHASES = ("setup", "call", "teardown")


def run_suite(directory: Path, name: str, tests: int) -> tuple[float, ...]:
    """One run of the suite ``name``: (wall ms per test from the second test to the end, CPU
    ms per test over the same span, whole process wall ms, then the median CPU ms of each
    test's set-up, call and teardown, the first test left out)."""
    path = directory / f"test_{name}.py"
    if not path.exists():
        path.write_text(textwrap.dedent(SUITES[name].format(tests=tests)))
    (directory / "conftest.py").write_text(TIMING_PLUGIN)
    out = directory / f"timing_{name}.json"
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            str(path),
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "FIXTURE_OVERHEAD_OUT": str(out)},
    )
    wall = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        raise SystemExit(f"{name} suite failed:\n{result.stdout}\n{result.stderr}")
    timing = json.loads(out.read_text())
    if len(timing["starts"]) != tests:
        raise SystemExit(f"{name}: {len(timing['starts'])} tests timed, {tests} expected")
    (first_wall, first_cpu), (last_wall, last_cpu) = timing["starts"][1], timing["finishes"][-1]
    per_test = (last_wall - first_wall) * 1000 / (tests - 1)
    cpu_per_test = (last_cpu - first_cpu) * 1000 / (tests - 1)
    phases = [statistics.median(timing["phases"][phase][1:]) * 1000 for phase in PHASES]
    return (per_test, cpu_per_test, wall, *phases)


def run_suites(directory: Path, tests: int, repeats: int) -> dict[str, tuple[float, ...]]:
    """Best of ``repeats`` rounds for every suite; the rounds are interleaved (every suite once,
    then every suite again), so a change of load on the machine falls on all suites alike."""
    best: dict[str, tuple[float, ...]] = {}
    for _ in range(repeats):
        for name in SUITES:
            measured = run_suite(directory, name, tests)
            old = best.get(name, (float("inf"),) * len(measured))
            best[name] = tuple(min(a, b) for a, b in zip(old, measured, strict=True))  # type: ignore[assignment]
    return best


def time_demo(items: int) -> tuple[float, float]:
    """Seconds to generate and load the demo organisation, and to export it as YAML."""
    from mockdrive.demo import demo_state
    from mockdrive.scenario import export_yaml

    started = time.perf_counter()
    state = demo_state(seed=1, users=200, items=items)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    export_yaml(state)
    return generated, time.perf_counter() - started


def per_test_parts(count: int) -> dict[str, float]:
    """In process, as the fixture has it (a server on a thread): µs per step, best of 5 x
    ``count``. Splits a test's cost into the client's request and the fixture's reset."""
    import asyncio
    import http.client
    import threading

    import requests
    from aiohttp import web

    from mockdrive.cli import default_state
    from mockdrive.pytest_plugin import OWNER_TOKEN
    from mockdrive.server import MockDrive
    from mockdrive.testing.fixture import MockDriveFixture

    async def drive(request: web.Request) -> web.Response:
        return web.json_response({"id": "x"})

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/me/drive", drive)
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
    bare_url = f"http://127.0.0.1:{runner.addresses[0][1]}/me/drive"
    threading.Thread(target=loop.run_forever, daemon=True).start()
    server = MockDrive(default_state(OWNER_TOKEN)).start()
    session = MockDriveFixture(server).session
    plain = requests.Session()
    plain.trust_env = False
    raw = http.client.HTTPConnection(server.host, server.port)
    headers = {"Authorization": f"Bearer {OWNER_TOKEN}"}

    def raw_get() -> None:
        raw.request("GET", "/v1.0/me/drive", headers=headers)
        raw.getresponse().read()

    steps = {
        "mock_drive.session GET /me/drive": lambda: session.get("/me/drive"),
        "the same session class on a bare aiohttp handler": lambda: plain.get(bare_url),
        "http.client GET /me/drive (no requests)": raw_get,
        "reset: build the default State and hand it over": lambda: server.reset(
            default_state(OWNER_TOKEN)
        ),
        "build the default State alone": lambda: default_state(OWNER_TOKEN),
        "one hop onto the server loop (server.call)": lambda: server.call(int),
    }
    best: dict[str, float] = {}
    try:
        for label, step in steps.items():
            for _ in range(5):
                started = time.perf_counter()
                for _ in range(count):
                    step()
                elapsed = (time.perf_counter() - started) / count * 1e6
                best[label] = min(best.get(label, elapsed), elapsed)
    finally:
        raw.close()
        plain.close()
        server.stop()
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
    return best


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 tests, 1 run, no demo timing")
    parser.add_argument("--tests", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--demo-items", type=int, default=100_000)
    args = parser.parse_args(argv)
    if args.quick:
        args.tests, args.repeats, args.demo_items = 60, 1, 0
    with tempfile.TemporaryDirectory() as tmp:
        measured = run_suites(Path(tmp), args.tests, args.repeats)
    per_test = {name: m[0] for name, m in measured.items()}
    cpu = {name: m[1] for name, m in measured.items()}
    wall = {name: m[2] for name, m in measured.items()}
    print(
        f"{args.tests} tests per suite, timed from the 2nd test's start, best of {args.repeats} "
        "interleaved rounds"
    )
    for name in SUITES:
        print(
            f"  {name:<19} {wall[name] / 1000:6.2f} s process  {per_test[name]:6.3f} ms/test  "
            f"{cpu[name]:6.3f} ms CPU/test"
        )
    over = {name: per_test[name] - per_test["bare"] for name in SUITES}
    cpu_over = {name: cpu[name] - cpu["bare"] for name in SUITES}
    rows = [
        common.row("bare pytest test, per test", per_test["bare"], "ms/test"),
        common.row("bare pytest test, CPU per test", cpu["bare"], "ms/test"),
        common.row(f"bare suite of {args.tests}: whole pytest process", wall["bare"], "ms"),
        common.row(
            f"`mock_drive` + session suite of {args.tests}: whole pytest process",
            wall["mock_drive_session"],
            "ms",
            "bare suite",
            wall["bare"],
        ),
    ]
    floor = "bare_server_session"
    for name in LABELS:
        # the suite each is compared with: mock_drive's with the floor, the floor with
        # mock_drive's (what any server in the test process costs at least), the rest with
        # httpserver's
        base = {"httpserver": None, floor: "mock_drive_session", "mock_drive_session": floor}.get(
            name, "httpserver"
        )
        base_label = "the floor" if base == floor else LABELS.get(base or "", "")
        for what, figures in (("overhead", over), ("CPU overhead", cpu_over)):
            target, met = "", None
            if name == "mock_drive_session":
                target = f"≤ the floor + {FLOOR_MARGIN_MS} ms"
                met = figures[name] <= figures[floor] + FLOOR_MARGIN_MS
            rows.append(
                common.row(
                    f"{LABELS[name]}: {what} per test over bare",
                    figures[name],
                    "ms/test",
                    base_label,
                    figures[base] if base else None,
                    target,
                    met,
                    ms_per_test=per_test[name],
                    cpu_ms_per_test=cpu[name],
                    process_ms=wall[name],
                )
            )
    for figures, what in ((over, "wall"), (cpu_over, "CPU")):
        above = figures["mock_drive_session"] - figures[floor]
        versus = figures["mock_drive_session"] - figures["httpserver_session"]
        print(
            f"  mock_drive + session, {what}: {above:+.3f} ms/test against the floor "
            f"(target ≤ +{FLOOR_MARGIN_MS}), {versus:+.3f} against httpserver + session"
        )
    phases = {name: dict(zip(PHASES, measured[name][3:], strict=True)) for name in SUITES}
    for name in ("bare", floor, "mock_drive_session"):
        print(
            f"  {name:<19} median CPU per test: "
            + ", ".join(f"{phase} {phases[name][phase]:.3f}" for phase in PHASES)
            + " ms"
        )
    for phase in PHASES:
        above = phases["mock_drive_session"][phase] - phases[floor][phase]
        rows.append(
            common.row(
                f"`mock_drive` + session above the floor: median CPU of a test's {phase}",
                above,
                "ms/test",
                floor_ms=phases[floor][phase],
                mock_drive_ms=phases["mock_drive_session"][phase],
            )
        )
    parts = per_test_parts(300 if args.quick else 3000)
    for label, micros in parts.items():
        print(f"  in process: {label:<50} {micros:8.1f} µs")
        rows.append(common.row(f"in process: {label}", micros, "µs"))
    if args.demo_items:
        generated, exported = time_demo(args.demo_items)
        print(f"demo: {args.demo_items} items generated and loaded in {generated:.2f} s")
        print(f"demo: exported as scenario YAML in {exported:.2f} s")
        rows.append(
            common.row(
                f"demo generated and loaded, {args.demo_items:,} items",
                generated,
                "s",
                target="≤ 5 s",
                met=generated <= 5.0,
            )
        )
        rows.append(common.row(f"demo exported as YAML, {args.demo_items:,} items", exported, "s"))
    common.report(
        "fixture_overhead",
        f"Fixture overhead ({args.tests} tests per suite, best of {args.repeats})",
        rows,
    )
    return rows


if __name__ == "__main__":
    main()
