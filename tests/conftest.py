"""Shared test helpers: every test talks HTTP to a real mockdrive server on loopback."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
import requests

from mockdrive.pytest_plugin import MockDriveFixture

pytest_plugins = ["pytester"]  # tests/test_plugin.py runs an inner suite under xdist


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
