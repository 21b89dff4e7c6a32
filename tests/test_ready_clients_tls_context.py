"""Each ready client of a server without TLS has a TLS context of its own, as ``verify=True``
makes one: a user who changes what one client trusts (loading another CA into its context, the
only way an ``httpx.Client`` takes one after it is made) changes no other server's ready
clients. (Sharing one default context per process saved ~20 ms of CPU a client and was taken
back for this.)"""

from __future__ import annotations

import httpx
import pytest

from mockdrive.cli import default_state
from mockdrive.server import MockDrive


def test_a_ca_loaded_into_one_ready_client_is_not_trusted_by_another_servers():
    plain = MockDrive(default_state("plain-token")).start()
    other = MockDrive(default_state("other-token")).start()
    secure = MockDrive(default_state("secure-token"), tls=True).start()
    try:
        mine = plain.clients.httpx_client()
        mine._transport._pool._ssl_context.load_verify_locations(cafile=secure.ca_path)
        target = secure.graph_url + "/me"
        assert mine.get(target).status_code == 401  # answered (its own token): TLS is trusted
        theirs = other.clients.httpx_client()
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            theirs.get(target)
    finally:
        for server in (plain, other, secure):
            server.stop()
