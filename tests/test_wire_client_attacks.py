"""``WireSession`` (tests/wire_client.py) where it could part from ``requests``: a process
holding many descriptors, and a machine that must still catch a server answering wrongly."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import requests
from wire_client import WireSession

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
