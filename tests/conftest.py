"""Shared test helpers: every test talks HTTP to a real mockdrive server on loopback.

Servers: start none of your own in a test. ``mock_drive`` (the plugin's fixture, with the rule
checker of tests/url_check.py installed here) is one server per xdist worker with a fresh state
per test. A test that needs a server of other options (a token of its own, ``admin_token=``,
``clock=``, ``header_timeout=``, ...) or one without the rule checker takes ``worker_server``:

    @pytest.fixture
    def server(worker_server):
        return worker_server(default_state("ada-token"), clock=PINNED)

``worker_server(state, **options)`` gives the worker's server for those ``MockDrive(...)``
options, started on its first use and kept for the session, with ``state`` swapped in (the O(1)
reset of ``MockDrive.reset``: no restart). Only a test about starting or stopping a server
itself, or whose server could be left unusable on purpose, starts its own ``MockDrive``.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from url_check import RuleChecker

from mockdrive.pytest_plugin import OWNER_TOKEN, MockDriveFixture

pytest_plugins = ["pytester"]  # tests/test_plugin.py runs an inner suite under xdist

# The suite starts many Python processes (each xdist worker, every CLI, proxy and client
# subprocess, the packaging tests' venvs). Where the environment asks for no bytecode files
# (PYTHONDONTWRITEBYTECODE), each of them compiles every module it imports from source again and
# pytest rewrites every test module's asserts again: ~5 s of a worker's ~9 s collection here. The
# caches go to the git-ignored __pycache__ folders, so the suite writes them (workers and
# subprocesses inherit this environment).
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# Every request of every test that uses ``mock_drive`` is checked against two rules (see
# tests/url_check.py): a refusal changes nothing, and every URL handed out works when followed.
# MOCKDRIVE_RULES=0 turns the checks off (to time what they cost).
RULES_ON = os.environ.get("MOCKDRIVE_RULES", "1") != "0"


class _CheckedServers:
    """The plugin's per-process servers, with the rule checker's middleware installed."""

    def __init__(self, checker: RuleChecker) -> None:
        self.checker = checker
        self.started: dict[bool, Any] = {}

    def get(self, tls: bool) -> Any:
        if tls not in self.started:
            from mockdrive.cli import default_state
            from mockdrive.model.ids import EPOCH
            from mockdrive.server import MockDrive

            server = MockDrive(default_state(OWNER_TOKEN), tls=tls, clock=EPOCH,
                               middlewares=[self.checker.middleware])  # fmt: skip
            self.started[tls] = server.start()
        return self.started[tls]

    def stop(self) -> None:
        for server in self.started.values():
            server.stop()
        self.checker.stop()


CHECKER = RuleChecker()

# For a pytest run inside a test: installed plugins its tests never use, whose imports are most
# of a pytest process's start (1.1 s of 2 s for the first two; Faker's, pytest-httpserver's,
# anyio's and xdist's looponfail another 0.25 s of the 0.8 s left). A user's project has Faker's
# and anyio's (dependencies of mockdrive and httpx): the packaging tests' installed-wheel runs
# keep them loaded beside mockdrive's plugin.
_UNUSED = (
    "schemathesis",
    "hypothesispytest",
    "faker",
    "pytest_httpserver",
    "anyio",
    "xdist.looponfail",
)
UNUSED_PLUGINS = tuple(option for plugin in _UNUSED for option in ("-p", f"no:{plugin}"))


class WorkerServers:
    """This worker's servers for ``worker_server``: one per distinct set of options."""

    def __init__(self) -> None:
        self.started: dict[tuple[tuple[str, Any], ...], Any] = {}

    def get(self, state: Any, **options: Any) -> Any:
        from mockdrive.server import MockDrive

        key = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()))
        server = self.started.get(key)
        if server is not None and server._thread is not None and server._thread.is_alive():
            server.reset(state)
            return server
        self.started[key] = server = MockDrive(state, **options).start()
        return server

    def stop(self) -> None:
        for server in self.started.values():
            server.stop()


# How ``pytest -n 2`` spreads the suite: one test at a time to whichever worker is free, the
# longest first (``LONGEST_FIRST``, from ``pytest -n 2 --durations=40``), so that no long test is
# left for the end while the other worker idles. The tests of a module whose module-scoped
# fixture is costly to make (a server, a browser, a built wheel) go to one worker together
# (``SHARED_MODULE_FIXTURES``), so the fixture is made once.
LONGEST_FIRST = (
    "tests/test_stateful_model.py::test_model_state_machine_full",
    "tests/test_fuzz.py::test_generated_requests_find_no_server_error_and_conform",
    "tests/test_packaging.py::",
    "tests/test_view_invariant.py::",
    "tests/test_reload_differential.py::",
    "tests/test_concurrency.py::",
    "tests/test_scenario_speed.py::test_quick_and_full_schema_checks_agree_on_every_one_place",
    "tests/test_readme.py::test_every_python_test_block_runs_in_a_fresh_project",
    "tests/test_plugin.py::test_isolation_under_xdist",
    "tests/test_scenario_validate.py::test_fixture_load_and_marker_find_paths_alike",
    "tests/test_stateful_model.py::test_model_state_machine",
    "tests/test_stateful_http.py::",
    "tests/test_hostile_scenarios.py::",
    "tests/test_scale.py::test_invite_on_100k_descendants",
    "tests/test_layering.py::",
    "tests/test_demo.py::test_one_hundred_thousand_items",
    # modules run as one unit (below): a late one would be a long tail
    "tests/test_slow_peers.py::",
    "tests/test_dashboard.py::",
    "tests/test_rclone_steps.py::",
    "tests/test_duplicity.py::",
    "tests/test_identity_clients_more.py::",
    "tests/test_url_rules.py::",
)
SHARED_MODULE_FIXTURES = frozenset(
    f"tests/test_{name}.py"
    for name in (
        "dashboard", "duplicity", "entra_clients", "hostile_scenarios", "identity_clients_more",
        "js_identity", "layering", "pnpjs", "msgraph_sdk_proxy", "o365_client", "onedrive_client",
        "packaging", "proxy", "rclone", "rclone_steps", "reload_differential", "slow_peers",
        "stateful_http", "url_rules", "view_invariant",
    )
)  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest first (``LONGEST_FIRST``); the rest keep their order."""

    def rank(item: pytest.Item) -> int:
        return next(
            (n for n, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)),
            len(LONGEST_FIRST),
        )

    items.sort(key=rank)


@pytest.hookimpl(optionalhook=True)  # a hook of xdist: unknown under -p no:xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """For ``--dist load`` (what ``-n`` uses): one test at a time, in collection order, but a
    module of ``SHARED_MODULE_FIXTURES`` as one unit."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class OneAtATime(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in SHARED_MODULE_FIXTURES else nodeid

    config.option.loadscopereorder = False  # the collection's order: the longest first
    return OneAtATime(config, log)


@pytest.fixture(scope="session")
def worker_servers() -> Iterator[WorkerServers]:
    servers = WorkerServers()
    yield servers
    servers.stop()


@pytest.fixture
def worker_server(worker_servers: WorkerServers) -> Any:
    """``worker_server(state, **MockDrive options)``: this worker's server for those options,
    serving ``state`` (see the module's docstring)."""
    return worker_servers.get


CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


class Chromium:
    """The worker's Chromium: launched again for the next test when an earlier one left it
    closed or crashed (the test that did so fails; the ones after it get a browser)."""

    def __init__(self, playwright: Any, executable: str) -> None:
        self.playwright, self.executable = playwright, executable
        self.launched = self.launch()

    def launch(self) -> Any:
        return self.playwright.chromium.launch(executable_path=self.executable, args=CHROMIUM_ARGS)

    def get(self) -> Any:
        """The running browser, launched anew if the last one is gone. A crash is known only
        once Playwright hears of it: a round trip to the browser asks (~4 ms, 1 ms of CPU)."""
        from playwright.sync_api import Error

        try:
            self.launched.new_browser_cdp_session().detach()
        except Error:  # closed by an earlier test, or crashed
            self.launched = self.launch()
        return self.launched

    def close(self) -> None:
        if self.launched.is_connected():
            self.launched.close()


@pytest.fixture(scope="session")
def chromium_session() -> Iterator[tuple[Chromium, asyncio.AbstractEventLoop]]:
    """Debian's headless Chromium driven by Playwright (never ``playwright install``), started
    once per worker by its first browser test, and the loop Playwright drives it on."""
    # Read when the fixture runs, not at import: a meta-test sets them for an inner run.
    chromium = os.environ.get("MOCKDRIVE_CHROMIUM", "/usr/bin/chromium")  # Debian's package
    in_ci = os.environ.get("CI", "").lower() in ("true", "1", "yes")
    if not Path(chromium).exists():
        reason = f"{chromium} is missing: sudo apt-get install chromium (.ci/run installs it)"
        if in_ci:
            pytest.fail(f"{reason}; CI=true requires the browser tests to run", pytrace=False)
        pytest.skip(f"{reason}; CI=true turns this skip into a failure")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        shared = Chromium(playwright, chromium)
        loop = asyncio._get_running_loop()
        try:
            yield shared, loop
        finally:
            asyncio._set_running_loop(loop)
            shared.close()


@pytest.fixture
def browser(chromium_session: tuple[Chromium, asyncio.AbstractEventLoop]) -> Iterator[Any]:
    """The worker's Chromium, for one test. Between two of its calls Playwright's sync API
    leaves its own loop marked as the thread's running loop (its driver runs on that loop in a
    greenlet), and an asyncio test would then refuse to start its loop: the mark is taken off
    when the test ends and put back when the next browser test begins."""
    chromium, loop = chromium_session
    asyncio._set_running_loop(loop)
    try:
        yield chromium.get()
    finally:
        asyncio._set_running_loop(None)


@pytest.fixture(scope="session")
def rule_checker() -> RuleChecker:
    return CHECKER


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if RULES_ON and (CHECKER.refusals_checked or CHECKER.followed):
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(CHECKER.followed.items()))
        terminalreporter.write_line(
            f"rules: {CHECKER.refusals_checked} refusals left the state unchanged "
            f"({CHECKER.unchecked} requests of big states not digested, to bound the cost); "
            f"URLs followed: {kinds or 'none'}; seconds spent: "
            + ", ".join(f"{what} {spent:.2f}" for what, spent in CHECKER.seconds.items())
        )


@pytest.fixture(scope="session")
def mock_drive_servers(rule_checker: RuleChecker) -> Iterator[_CheckedServers]:
    servers = _CheckedServers(rule_checker)
    yield servers
    servers.stop()


@pytest.fixture(autouse=True)
def _rules(request: pytest.FixtureRequest, rule_checker: RuleChecker) -> Iterator[None]:
    """Check the test's requests: refusals change nothing, URLs handed out work."""
    unchecked = request.node.get_closest_marker("unchecked_rules") is not None
    if not RULES_ON or unchecked or "mock_drive" not in request.fixturenames:
        yield
        return
    rule_checker.start_test()
    yield
    failures = rule_checker.finish_test()
    if failures:
        pytest.fail("\n".join(failures[:20]), pytrace=False)


@pytest.fixture
def projects(mock_drive: MockDriveFixture) -> MockDriveFixture:
    """The arrangement most suites start from: ``/Projects/Plan.docx`` (content ``plan``) in the
    owner's drive, and Carol Jones (alias ``carolj``) and Bob Smith in the directory (tokens
    ``carol-token`` and ``bob-token``; ``mock_drive.session_for("bob@contoso.example")`` is
    Bob's client).
    A suite that needs more builds its own fixture on this one."""
    mock_drive.add_file("/Projects/Plan.docx", "plan")
    mock_drive.add_user("Carol Jones", "carol@contoso.example", alias="carolj")
    mock_drive.add_user("Bob Smith", "bob@contoso.example")
    return mock_drive


@pytest.fixture
def graph(mock_drive: MockDriveFixture) -> requests.Session:
    """The owner's shipped ready client, ``mock_drive.session``: ``graph.get("/me/drive")``."""
    return mock_drive.session


class _NoToken(requests.auth.AuthBase):
    """Takes the bearer token off a request: the caller is anonymous."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request


def as_user(graph: requests.Session, token: str | None) -> requests.Session:
    """A client of the same shipped kind as ``graph`` that sends ``token`` (any string, a wrong
    one too) instead of the owner's; with ``None``, a client that sends no token at all.
    ``mock_drive.session_for(user)`` is the way for a known user; this is for tests that name a
    token, or none."""
    client = type(graph)(graph.base_url, lambda: token or "", graph.verify)
    if token is None:
        client.auth = _NoToken()
    return client


def raw(
    drive: MockDriveFixture, method: str, path: str, body: bytes = b"", *, token: str | None = None
) -> tuple[int, Any]:
    """Send ``path`` byte for byte, which requests cannot (it normalises ``..`` away), with
    ``token`` if given: (status, parsed JSON body)."""
    connection = http.client.HTTPConnection(drive.server.host, drive.server.port)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def assert_item(response: requests.Response, drive: MockDriveFixture, path: str) -> dict:
    """The answer is 200 and is the item at ``path``: not merely some success."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == drive.item(path).id, body
    return body


JS = Path(__file__).parent / "js"  # the npm packages the JS tests run (``npm ci`` there)


def node_with(package: str, what: str) -> str:
    """The node binary, once tests/js holds ``package`` (``@azure/identity``); else skip, or
    fail under CI=true (CI installs it)."""
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / package).is_dir():
        message = f"{what} is not installed: run `npm ci` in tests/js (and install node)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return node


def assert_graph_error(response: requests.Response, status: int, code: str) -> dict:
    """The response is Graph's error envelope with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    assert set(error["innerError"]) >= {"date", "request-id"}
    return error


def follow_delta(
    session: requests.Session, link: str, headers: dict | None = None
) -> tuple[list[dict], str]:
    """Call a delta link, then each nextLink, until a deltaLink: (every entry, the deltaLink)."""
    entries: list[dict] = []
    for _ in range(100):
        response = session.get(link, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        entries.extend(body["value"])
        if "@odata.deltaLink" in body:
            return entries, body["@odata.deltaLink"]
        link = body["@odata.nextLink"]
    raise AssertionError("no deltaLink after 100 pages")


PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")


def run_documented_example(heading: str, tmp_path: Path) -> tuple[int, str]:
    """docs/clients.md's ```bash block under ``## {heading}``, run as written by bash -e in
    ``tmp_path`` (its HOME) with this venv first on the PATH, its port 8080 a free one and no
    proxy of the environment: (its exit code, what it printed). The server it starts, sharing
    its process group, is killed at the end."""
    page = (Path(__file__).parent.parent / "docs" / "clients.md").read_text()
    section = page.split(f"\n## {heading}\n", 1)[1]
    script = re.search(r"^```bash\n(.*?)^```$", section, flags=re.M | re.S).group(1)
    with socket.socket() as probe:  # a free port for the example's 8080
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # mockdrive, python
    env["HOME"] = str(tmp_path)
    log = tmp_path / "script.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["bash", "-e", "-c", script.replace("8080", str(port))],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the server it starts shares its process group
        )
        try:
            process.wait(timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the server, if the script stopped early
    return process.returncode, log.read_text()
