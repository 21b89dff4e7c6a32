"""Shared test helpers: every test talks HTTP to a real mockdrive server on loopback."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from url_check import RuleChecker

from mockdrive.pytest_plugin import OWNER_TOKEN, MockDriveFixture

pytest_plugins = ["pytester"]  # tests/test_plugin.py runs an inner suite under xdist

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


class Graph:
    """A tiny Graph client for tests: ``graph.get("/me/drive")`` → requests.Response."""

    def __init__(self, drive: MockDriveFixture, token: str | None = None) -> None:
        self.drive = drive
        self.token = token or drive.token
        self.session = requests.Session()
        self.session.trust_env = False  # loopback: no proxy variables or ~/.netrc per request

    def as_user(self, token: str | None) -> Graph:
        other = Graph(self.drive, self.token)
        other.token = token
        return other

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return self.session.request(method, self.drive.graph_url + path, headers=headers, **kwargs)

    def raw(self, method: str, path: str, body: bytes = b"") -> tuple[int, dict]:
        """Send ``path`` byte for byte (requests would normalise ``..`` away): (status, json)."""
        connection = http.client.HTTPConnection(self.drive.server.host, self.drive.server.port)
        try:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            connection.request(method, "/v1.0" + path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            connection.close()

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def graph(mock_drive: MockDriveFixture) -> Graph:
    return Graph(mock_drive)


def assert_graph_error(response: requests.Response, status: int, code: str) -> dict:
    """The response is Graph's error envelope with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    assert set(error["innerError"]) >= {"date", "request-id"}
    return error
