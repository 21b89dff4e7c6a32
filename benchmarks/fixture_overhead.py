"""Per-test overhead of ``mock_drive`` against a bare test, pytest-httpserver's ``httpserver``
and pytest-aiohttp's ``aiohttp_client`` with a fresh app per test.

Runs six generated suites of N tests as pytest subprocesses (best of R runs each): bare tests
that do nothing; ``httpserver`` tests with one expected request, sent with ``requests.get`` (a
new connection) and with one keep-alive session; ``aiohttp_client`` tests that build an app with
one route and make one request; and ``mock_drive`` tests with one Graph request, sent with
``requests.get`` and with the fixture's ready ``mock_drive.session``. Prints milliseconds per
test, the overhead over bare, and the ratios; then times the Faker demo generation of 100,000
items (skipped under ``--quick``; see scaling.py).
Usage: ``python benchmarks/fixture_overhead.py [--quick]``.
"""

from __future__ import annotations

import argparse
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

        @pytest.mark.parametrize("n", range({tests}))
        def test_httpserver(httpserver, n):
            httpserver.expect_request("/me/drive").respond_with_json({{"id": "x"}})
            assert SESSION.get(httpserver.url_for("/me/drive")).status_code == 200
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
    "aiohttp_client": "`aiohttp_client`, app per test",
    "mock_drive": "`mock_drive` + `requests.get`",
    "mock_drive_session": "`mock_drive` + `mock_drive.session`",
}
TARGET_MS = 0.5  # mock_drive + its ready session, over a bare test


def run_suite(directory: Path, name: str, tests: int, repeats: int) -> float:
    """Best wall-clock seconds of ``repeats`` runs of the suite ``name``."""
    path = directory / f"test_{name}.py"
    path.write_text(textwrap.dedent(SUITES[name].format(tests=tests)))
    best = float("inf")
    for _ in range(repeats):
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
        )
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(f"{name} suite failed:\n{result.stdout}\n{result.stderr}")
        best = min(best, elapsed)
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
        # Per test = (N tests - 1 test) / (N - 1): pytest's start-up, the plugins' imports and
        # a server's one start per process cancel out; what is left is what each test adds.
        one = {name: run_suite(Path(tmp), name, 1, args.repeats) for name in SUITES}
        seconds = {name: run_suite(Path(tmp), name, args.tests, args.repeats) for name in SUITES}
    per_test = {name: (s - one[name]) / (args.tests - 1) * 1000 for name, s in seconds.items()}
    print(f"{args.tests} tests per suite minus 1 test, best of {args.repeats} runs")
    for name, ms in per_test.items():
        print(f"  {name:<19} {seconds[name]:6.2f} s total  {ms:6.3f} ms/test")
    over = {name: per_test[name] - per_test["bare"] for name in SUITES}
    rows = [
        common.row("bare pytest test, per test", per_test["bare"], "ms/test"),
        common.row("pytest start-up, 1 bare test", one["bare"] * 1000, "ms"),
        common.row(
            "pytest start-up, 1 mock_drive test",
            one["mock_drive"] * 1000,
            "ms",
            "1 bare test",
            one["bare"] * 1000,
        ),
    ]
    for name in LABELS:
        if name == "mock_drive_session":
            target = f"≤ {TARGET_MS} ms over bare, below httpserver + session"
            met = over[name] <= TARGET_MS and over[name] < over["httpserver_session"]
            baseline = ("`httpserver` + keep-alive session", over["httpserver_session"])
        else:
            target, met = "", None
            baseline = ("`httpserver` + `requests.get`", over["httpserver"])
        if name == "httpserver":
            baseline = ("", None)
        rows.append(
            common.row(
                f"{LABELS[name]}: overhead per test over bare",
                over[name],
                "ms/test",
                *baseline,
                target,
                met,
                ms_per_test=per_test[name],
                suite_seconds=seconds[name],
            )
        )
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
