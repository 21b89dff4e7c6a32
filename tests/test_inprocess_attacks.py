"""The ready sessions' in-process transport, tried as a user's test would use the session.

Each test does one thing a user may do with ``mock_drive.session`` and compares it with the
socket: a plain ``requests.Session`` with the same headers, or the ready session as it would be
with ``clients.in_process = False``. A failing test here is a place where a user's test would
behave differently in process than over a real socket.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


class CountingAdapter(HTTPAdapter):
    """A user's own adapter: counts what it sends."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sent = 0

    def send(self, request, *args, **kwargs):
        self.sent += 1
        return super().send(request, *args, **kwargs)


def _plain(mock_drive) -> tuple[requests.Session, dict[str, str]]:
    """A requests session over the socket, and the ready session's Authorization header."""
    plain = requests.Session()
    plain.trust_env = False
    return plain, {"Authorization": f"Bearer {mock_drive.server.owner_token()}"}


def test_an_adapter_the_user_mounts_on_the_server_url_sends_the_request(mock_drive):
    """``session.mount(mock_drive.url, adapter)`` is the longest prefix a user has for the
    server; over a socket every request to the server goes through it. In process, the
    session's own adapter at ``url + "/"`` is longer and takes the request: the user's adapter
    (retries, logging, a recorder) is silently skipped."""
    plain, auth = _plain(mock_drive)
    theirs = CountingAdapter()
    plain.mount(mock_drive.url, theirs)
    assert plain.get(mock_drive.server.graph_url + "/me/drive", headers=auth).status_code == 200
    assert theirs.sent == 1  # the socket: the user's adapter sent it

    session = mock_drive.session
    mine = CountingAdapter()
    session.mount(mock_drive.url, mine)
    try:
        response = session.get("/me/drive")
        assert response.status_code == 200
        assert mine.sent == 1, f"the user's adapter was skipped for {response.connection!r}"
    finally:
        del session.adapters[mock_drive.url]


def test_an_adapter_the_user_mounts_for_http_sends_the_request(mock_drive):
    """``session.mount("http://", HTTPAdapter(max_retries=...))`` is the documented way to add
    retries to a session; the ready session over a socket honours it (its only adapters are
    requests' ``http://`` and ``https://``). In process the request never reaches it."""
    session = mock_drive.session
    mine = CountingAdapter(max_retries=Retry(total=3, backoff_factor=0))
    original = session.adapters["http://"]
    session.mount("http://", mine)
    try:
        assert session.get("/me/drive").status_code == 200
        assert mine.sent == 1
    finally:
        session.mount("http://", original)


def test_a_retry_adapter_on_the_server_url_retries_a_throttled_request(mock_drive):
    """A user's retry policy for 503s, mounted for the server, retries over the socket; in
    process the throttled answer comes straight back."""
    session = mock_drive.session
    retry = Retry(total=2, status_forcelist=[429, 503], backoff_factor=0,
                  respect_retry_after_header=False, allowed_methods=None, raise_on_status=False)
    session.mount(mock_drive.url, HTTPAdapter(max_retries=retry))
    try:
        mock_drive.faults.add(effect="error", status=503, code="serviceNotAvailable", count=1,
                              path="/me/drive")
        response = session.get("/me/drive")
        assert response.status_code == 200, response.text
    finally:
        del session.adapters[mock_drive.url]
