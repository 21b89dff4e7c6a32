"""Per-test overhead of ``mock_drive`` against a bare test and pytest-httpserver's ``httpserver``.

Runs three generated suites of N tests as pytest subprocesses (best of R runs each): bare tests
that do nothing, ``httpserver`` tests with one expected request, and ``mock_drive`` tests with one
Graph request. Prints milliseconds per test, the overhead over bare, and the ratios; then times
the Faker demo generation of 100,000 items. Usage: ``python benchmarks/fixture_overhead.py``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

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
    "mock_drive": """
        import pytest
        import requests

        @pytest.mark.parametrize("n", range({tests}))
        def test_mock_drive(mock_drive, n):
            url = mock_drive.graph_url + "/me/drive"
            response = requests.get(url, headers=mock_drive.headers())
            assert response.status_code == 200
    """,
}


def run_suite(directory: Path, name: str, tests: int, repeats: int) -> float:
    """Best wall-clock seconds of ``repeats`` runs of the suite ``name``."""
    path = directory / f"test_{name}.py"
    path.write_text(textwrap.dedent(SUITES[name].format(tests=tests)))
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
            cwd=directory,
            capture_output=True,
            text=True,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--demo-items", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        seconds = {name: run_suite(Path(tmp), name, args.tests, args.repeats) for name in SUITES}
    per_test = {name: s / args.tests * 1000 for name, s in seconds.items()}
    print(f"{args.tests} tests per suite, best of {args.repeats} runs")
    for name, ms in per_test.items():
        print(f"  {name:<11} {seconds[name]:6.2f} s total  {ms:6.3f} ms/test")
    over_bare = per_test["mock_drive"] - per_test["bare"]
    over_httpserver = per_test["httpserver"] - per_test["bare"]
    print(f"mock_drive overhead over bare: {over_bare:.3f} ms/test (target < 1 ms)")
    print(f"httpserver overhead over bare: {over_httpserver:.3f} ms/test")
    print(f"ratio mock_drive / bare:       {seconds['mock_drive'] / seconds['bare']:.2f}")
    print(f"ratio mock_drive / httpserver: {seconds['mock_drive'] / seconds['httpserver']:.2f}")
    print(
        f"overhead ratio mock_drive / httpserver (over bare): {over_bare / over_httpserver:.2f}"
        if over_httpserver > 0
        else "httpserver adds no measurable overhead"
    )
    generated, exported = time_demo(args.demo_items)
    print(f"demo: {args.demo_items} items generated and loaded in {generated:.2f} s (target < 5 s)")
    print(f"demo: exported as scenario YAML in {exported:.2f} s")


if __name__ == "__main__":
    main()
