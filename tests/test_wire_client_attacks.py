"""``WireSession`` (tests/wire_client.py) where it could part from ``requests``: a process
holding many descriptors, and a machine that must still catch a server answering wrongly."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
import requests
from aiohttp import web
from wire_client import WireSession

from mockdrive.api.app import PRE_AUTHENTICATED
from mockdrive.cli import default_state
from mockdrive.server import MockDrive


@pytest.fixture(scope="module")
def server() -> Iterator[MockDrive]:
    server = MockDrive(default_state("wire-token")).start()
    yield server
    server.stop()


def test_a_kept_alive_connection_is_reused_in_a_process_holding_many_descriptors(server):
    """Its socket's number is past what select() takes (1024): urllib3 polls it instead."""
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        answers = []
        for client in (requests.Session(), WireSession()):
            client.trust_env = False
            with client:
                for _ in range(2):  # the second one reuses the connection
                    answer = client.get(server.graph_url + "/me", timeout=10,
                                        headers={"Authorization": "Bearer wire-token"})  # fmt: skip
                    answers.append(answer.status_code)
        assert answers == [200] * 4
    finally:
        for descriptor in held:
            os.close(descriptor)


def test_the_view_machine_still_catches_a_leak_through_the_wire_session(monkeypatch):
    """A server that lists a folder's children with the owner's eyes for every caller: the
    machine, sending through ``WireSession``, reports the items it should not see."""
    import test_view_invariant as view
    from stateful_support import machine_settings

    owner = f"Bearer {view.CALLERS[0]}"

    @web.middleware
    async def owners_children(request: web.Request, handler: Any) -> web.StreamResponse:
        caller = request.headers.get("Authorization")
        if request.path.endswith("/children") and caller is not None and caller != owner:
            request = request.clone(headers={**request.headers, "Authorization": owner})
        return await handler(request)

    monkeypatch.setattr(view, "MockDrive", partial(MockDrive, middlewares=[owners_children]))
    leaking = view.Server()
    assert isinstance(leaking.session, WireSession)
    monkeypatch.setattr(view.ViewMachine, "server", leaking, raising=False)
    run = view.ViewMachine.TestCase
    monkeypatch.setattr(run, "settings", machine_settings(examples=14, steps=12, shrink=False))
    try:
        with pytest.raises(view.Violation, match="extra"):
            run().runTest()
    finally:
        leaking.session.close()
        leaking.server.stop()


def test_the_url_follower_still_catches_a_download_url_that_fails(server):
    """The rule checker follows a handed-out downloadUrl through ``WireSession``: a server that
    answers it 404 is reported."""
    import url_check

    @web.middleware
    async def broken_downloads(request: web.Request, handler: Any) -> web.StreamResponse:
        answer = await handler(request)
        if request.path.startswith(PRE_AUTHENTICATED) and request.query.get("break") == "404":
            return web.json_response({"error": {"code": "itemNotFound"}}, status=404)
        return answer

    wrong = MockDrive(default_state("wire-token"), middlewares=[broken_downloads]).start()
    try:
        drive = wrong.call(lambda: next(iter(wrong.state.store.drives.values())))
        item = wrong.call(lambda: wrong.state.make_path(drive, "F.bin", is_folder=False,
                                                        content=b"bytes"))  # fmt: skip
        with WireSession() as session:
            item_url = f"{wrong.graph_url}/drives/{drive.id}/items/{item.id}"
            answer = session.get(item_url, headers={"Authorization": "Bearer wire-token"})
            url = answer.json()["@microsoft.graph.downloadUrl"]
            problems = []
            for broken in ("", "&break=404"):
                handed = url_check.Handed("downloadUrl", url + broken, None, wrong.url, "GET",
                                          wrong.state, {})  # fmt: skip
                problems.append(url_check.follow_on(wrong, session, wrong.url, handed))
        assert problems[0] is None
        assert problems[1] is not None and "answers 404" in problems[1]
    finally:
        wrong.stop()


def test_more_shapes_go_out_and_come_back_as_requests_sends_and_reads_them() -> None:
    """Beyond the machines' own shapes: bodies on OPTIONS/DELETE/GET/HEAD, params as lists,
    None, text and pairs, headers overriding the defaults in another casing or removing them,
    bytes values, a lone surrogate in JSON, a lower-case method, a fragment, an empty path."""
    from test_wire_client import RawServer, run, run_by_requests

    raw = RawServer()
    base = f"http://127.0.0.1:{raw.port}"
    sent: list[tuple[str, str, dict[str, Any]]] = [
        ("OPTIONS", f"{base}/v1.0/me", {}),
        ("DELETE", f"{base}/v1.0/x", {"json": {"a": 1}}),
        ("DELETE", f"{base}/v1.0/x", {"data": b""}),
        ("GET", f"{base}/v1.0/x", {"json": {"q": "\u00e9"}}),
        ("HEAD", f"{base}/v1.0/x", {"data": b"abc"}),
        ("GET", f"{base}/v1.0/x?a=1",
         {"params": {"b": ["1", "2"], "c": None, "d": "\u00e9 &=/", "e": ""}}),
        ("GET", f"{base}/v1.0/x", {"params": [("a", None), ("a", "1"), ("$filter", "n eq 'x'")]}),
        ("GET", f"{base}/v1.0/x", {"params": "raw=1&x"}),
        ("GET", f"{base}/v1.0/x", {"headers": {"accept": "application/json", "user-agent": "me",
                                               "Content-Type": "text/plain"}}),
        ("GET", f"{base}/v1.0/x",
         {"headers": {"Accept-Encoding": None, "Connection": None, "Accept": None}}),
        ("GET", f"{base}/v1.0/x", {"headers": {"X-B": b"bytes", "X-E": ""}}),
        ("POST", f"{base}/v1.0/x", {"data": "\u212a text", "headers": {"content-length": "6"}}),
        ("PUT", f"{base}/v1.0/x", {"data": b"x", "headers": {"Host": "graph.microsoft.com"}}),
        ("POST", f"{base}/v1.0/x", {"json": [1, "\ud800"]}),
        ("get", f"{base}/v1.0/a%2Fb/%E2%82%AC/c d/[x]/{{y}}|z", {}),
        ("GET", f"{base}/v1.0/x#frag", {}),
        ("GET", base, {}),
    ]  # fmt: skip
    try:
        expected, on_the_wire = run_by_requests(raw, sent)
        with WireSession() as wire:
            got = run(wire, raw, sent)
        assert raw.received == on_the_wire
        assert got == expected
    finally:
        raw.close()
