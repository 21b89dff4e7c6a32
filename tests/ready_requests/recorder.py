"""A pytest plugin that records what the ready sessions send, for the in-process differential.

    PYTHONPATH=$PWD python -m pytest -p tests.ready_requests.recorder tests/test_x.py

appends to ``tests/ready_requests/recorded.jsonl`` (gzip it to replace ``recorded.jsonl.gz``),
per test: the state as scenario data when the test sends its first request (what
``build_state`` rebuilds), then each request the test sent through a ready session (method, URL
path, headers, body deflated, the send options). Redirects that requests follows are not
recorded: replaying the first request follows them again. The export it takes reads every item,
so tests that count reads fail under it (test_paging's); it is not for a checking run.
"""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path
from typing import Any

import pytest
import requests

from mockdrive.scenario import export_scenario
from mockdrive.server import MockDrive
from mockdrive.testing.clients import _graph_session_class

OUT = Path(__file__).with_name("recorded.jsonl")
_current: dict[str, Any] = {"test": None, "exported": None, "server": None}
_original_send = requests.Session.send
_original_reset = MockDrive.reset


def _reset(self: MockDrive, state: Any = None) -> Any:
    _current["server"] = self
    _current["exported"] = None
    return _original_reset(self, state)


def _send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
    server = _current["server"]
    top = "allow_redirects" in kwargs or kwargs.get("_first", True)
    if isinstance(self, _graph_session_class()) and server is not None and top:
        lines = []
        if _current["exported"] != _current["test"]:
            _current["exported"] = _current["test"]
            state = server.call(lambda: export_scenario(server.state))
            lines.append({"test": _current["test"], "state": state})
        body = request.body
        if isinstance(body, str):
            body = body.encode()
        if body is None or isinstance(body, bytes):
            lines.append(
                {
                    "test": _current["test"],
                    "method": request.method,
                    "path": request.url.split(server.url, 1)[-1],
                    "headers": list(request.headers.items()),
                    "body": None if body is None else _packed(body),
                    "allow_redirects": kwargs.get("allow_redirects", True),
                    "stream": bool(kwargs.get("stream")),
                }
            )
        with OUT.open("a") as out:
            for line in lines:
                out.write(json.dumps(line, default=str) + "\n")
    return _original_send(self, request, **kwargs)


def _packed(body: bytes) -> str:
    return base64.b64encode(zlib.compress(body, 9)).decode()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    _current["test"] = item.nodeid
    return (yield)


MockDrive.reset = _reset  # type: ignore[method-assign]
requests.Session.send = _send  # type: ignore[method-assign]
