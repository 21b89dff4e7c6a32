"""A pytest plugin (no conftest needed) that collects garbage after every test and lists the
ResourceWarnings and unraisable exceptions that collection gave, with the test just run:

    PYTHONPATH=.:tests pytest -p leak_check -p no:xdist -W error::ResourceWarning tests/test_x.py

A socket or transport a test left open then shows up against that test, not as a warning in
whatever test happens to run when the collector gets to it. Prints "leak check: N" at the end.
"""

from __future__ import annotations

import gc
import sys
import warnings
from collections.abc import Iterator

import pytest

FOUND: list[tuple[str, str]] = []


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    try:
        return (yield)
    finally:
        hook, sys.unraisablehook = (
            sys.unraisablehook,
            lambda u: FOUND.append((item.nodeid, f"unraisable: {u.exc_value!r}")),
        )
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                gc.collect()
        finally:
            sys.unraisablehook = hook
        FOUND.extend((item.nodeid, f"{w.category.__name__}: {w.message}") for w in caught)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(f"leak check: {len(FOUND)}")
    for nodeid, what in FOUND:
        terminalreporter.write_line(f"  {nodeid}: {what}")
