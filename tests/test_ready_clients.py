"""The fixture's ready-wired clients: built once per server, right token, right CA, reused."""

from __future__ import annotations

import inspect
import re
import sys
import warnings

import pytest
from conftest import UNUSED_PLUGINS
from test_msgraph_sdk import invite_body


def test_session_is_the_owner_with_graph_paths(projects):
    response = projects.session.get("/me/drive/root:/Projects/Plan.docx")
    assert response.status_code == 200 and response.json()["name"] == "Plan.docx"
    # an absolute URL goes as given, with the same token
    absolute = projects.session.get(projects.graph_url + "/me/drive")
    assert absolute.json()["id"] == projects.drive.id


def test_clients_are_reused_not_rebuilt(projects):
    assert projects.session is projects.session
    assert projects.session_for("carol@contoso.example") is projects.session_for(
        projects.user("carol@contoso.example")
    )
    assert projects.httpx_client() is projects.httpx_client()
    assert projects.graph_client() is projects.graph_client()


def test_session_for_a_user_acts_as_that_user(projects):
    carol = projects.session_for("carol@contoso.example")
    folder = f"/drives/{projects.drive.id}/root:/Projects"
    assert carol.get(folder).status_code == 404
    projects.grant("/Projects", "carol@contoso.example", ["read"])
    assert carol.get(folder).status_code == 200
    assert carol.get(folder, headers={"Authorization": "Bearer x"}).status_code == 401


@pytest.mark.mock_drive(scenario="fixtures/quickstart.yaml")
def test_the_owner_session_follows_the_state_of_the_test(mock_drive):
    assert mock_drive.token == "ada-token"
    response = mock_drive.session.get("/me")
    me = mock_drive.session.get("/me/drive").json()["owner"]["user"]
    assert me["email"] == mock_drive.owner.email, response.text


def test_ready_clients_ignore_proxy_variables_and_netrc(projects, monkeypatch, tmp_path):
    """The mock is on loopback: a proxy configured for the machine (nothing listens on port 9)
    or a ~/.netrc entry for 127.0.0.1 must not reach its clients."""
    import requests

    (tmp_path / ".netrc").write_text("machine 127.0.0.1 login eve password secret\n")
    monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(requests.exceptions.ProxyError):  # what a plain session would do
        requests.Session().get(projects.graph_url + "/me/drive", timeout=5)
    assert projects.session.get("/me/drive").status_code == 200
    assert projects.session_for("carol@contoso.example").get("/me").status_code == 200
    assert projects.httpx_client().get("/me/drive").status_code == 200


def test_httpx_client(projects):
    response = projects.httpx_client().get("/me/drive/root:/Projects:/children")
    assert [c["name"] for c in response.json()["value"]] == ["Plan.docx"]
    as_carol = projects.httpx_client("carol@contoso.example")
    assert as_carol.get("/me/drive/root:/Projects").status_code == 404


async def test_async_httpx_client(projects):
    client = projects.async_httpx_client()
    assert client is projects.async_httpx_client()
    response = await client.get("/me/drive/root:/Projects/Plan.docx:/content")
    assert response.status_code == 302  # httpx follows no redirect unless asked
    followed = await client.get(response.headers["Location"])
    assert followed.status_code == 200 and followed.content == b"plan"


async def test_a_closed_async_client_is_replaced_in_its_loop(projects):
    """``async with`` closes the test's own client; the connections it shared stay usable."""
    async with projects.async_httpx_client() as client:
        assert (await client.get("/me")).status_code == 200
    again = projects.async_httpx_client()
    assert again is not client and (await again.get("/me")).status_code == 200
    assert (await projects.graph_client().me.get()).mail == projects.owner.email


async def test_graph_client_invites(projects):
    client = projects.graph_client()
    folder = (
        await client.drives.by_drive_id(projects.drive.id)
        .items.by_drive_item_id("root:/Projects:")
        .get()
    )
    invited = (
        await client.drives.by_drive_id(projects.drive.id)
        .items.by_drive_item_id(folder.id)
        .invite.post(invite_body(["carol@contoso.example"], ["write"]))
    )
    assert invited.value[0].granted_to_v2.user.display_name == "Carol Jones"
    assert projects.access("carol@contoso.example", "/Projects/Plan.docx").roles == ["write"]


@pytest.mark.mock_drive(tls=True)
def test_ready_clients_trust_the_mock_ca(mock_drive):
    assert mock_drive.url.startswith("https://")
    assert mock_drive.session.get("/me/drive").status_code == 200
    assert mock_drive.httpx_client().get("/me/drive").status_code == 200


def test_a_missing_extra_is_named(projects, monkeypatch):
    """Without requests or httpx installed, a ready client says which extra installs it."""
    from functools import cache

    from mockdrive.testing import clients

    fresh = cache(clients._graph_session_class.__wrapped__)  # not the class built already
    monkeypatch.setattr(clients, "_graph_session_class", fresh)
    monkeypatch.setitem(sys.modules, "requests", None)
    monkeypatch.setitem(sys.modules, "httpx", None)
    newcomer = projects.add_user("New Comer", "newcomer@contoso.example")  # no client built yet
    with pytest.raises(ModuleNotFoundError, match=re.escape("pip install 'mockdrive[clients]'")):
        projects.session_for(newcomer)
    with pytest.raises(ModuleNotFoundError, match=re.escape("pip install 'mockdrive[clients]'")):
        projects.httpx_client(newcomer)


@pytest.mark.mock_drive(tls=True)
def test_the_httpx_client_under_tls_warns_nothing(mock_drive):
    """httpx deprecates a CA path as ``verify``: the client gets an SSL context instead."""
    newcomer = mock_drive.add_user("New Comer", "newcomer@contoso.example")  # a client to build
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = mock_drive.httpx_client(newcomer)
    assert client.get("/me").status_code == 200


@pytest.mark.mock_drive(tls=True)
async def test_async_and_sdk_clients_under_tls_warn_nothing(mock_drive):
    newcomer = mock_drive.add_user("New Comer", "newcomer@contoso.example")  # clients to build
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = mock_drive.async_httpx_client(newcomer)
        sdk = mock_drive.graph_client()  # one per event loop: this test's is new
    assert (await client.get("/me")).status_code == 200
    drive = await sdk.drives.by_drive_id(mock_drive.drive.id).get()
    assert drive.id == mock_drive.drive.id


def client_connections(port: int, end: int = 2) -> set[str]:
    """The sockets this process holds open to ``port`` (the client ends of its connections to
    a server listening there), by inode, read from /proc; ``end=1``: those on ``port`` (the
    server's own ends, and the socket it listens on)."""
    import os

    held = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile (the listing's own descriptor, say)
            continue
        if target.startswith("socket:["):
            held.add(target[len("socket:[") : -1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)  # the heading
            for line in lines:
                fields = line.split()
                address_port, inode = int(fields[end].rsplit(":", 1)[1], 16), fields[9]
                if address_port == port and inode in held:
                    found.add(inode)
    return found


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@linux_only
def test_the_async_clients_close_their_connections_as_asyncio_run_ends(mock_drive):
    """A sync test's own ``asyncio.run``: what the async clients opened in it is closed when it
    returns, and a GraphServiceClient made outside any loop works in the next one too."""
    import asyncio

    port = mock_drive.server.port
    before = client_connections(port)
    sdk = mock_drive.graph_client()  # made outside a loop, used in two

    async def use() -> set[str]:
        assert (await mock_drive.async_httpx_client().get("/me")).status_code == 200
        assert (await sdk.drives.by_drive_id(mock_drive.drive.id).get()).id == mock_drive.drive.id
        return client_connections(port) - before

    opened = asyncio.run(use())
    assert opened  # keep-alive connections, while the loop runs
    assert client_connections(port) & opened == set()
    opened = asyncio.run(use())
    assert opened and client_connections(port) & opened == set()


@pytest.mark.mock_drive(tls=True)
async def test_the_sdk_client_under_tls_sends_me_as_the_sdk_does(mock_drive):
    """The SDK's own options come with its client: ``me`` goes out as /me, not as a user id."""
    drive = await mock_drive.graph_client().me.drive.get()
    assert drive.id == mock_drive.drive.id


REUSED_ACROSS_TESTS = """
SEEN = []

def test_one(mock_drive):
    SEEN.append(id(mock_drive.session))
    assert mock_drive.session.get("/me/drive").status_code == 200

def test_two(mock_drive):
    assert mock_drive.session.get("/me/drive").status_code == 200
    assert SEEN == [id(mock_drive.session)]
"""

ASYNC_TEST_LEAVES_NOTHING = """

import gc
import sys
import warnings

OPENED = set()


async def test_uses_the_ready_async_clients(mock_drive):
    before = client_connections(mock_drive.server.port)
    assert (await mock_drive.async_httpx_client().get("/me")).status_code == 200
    assert (await mock_drive.graph_client().me.drive.get()).id == mock_drive.drive.id
    OPENED.update(client_connections(mock_drive.server.port) - before)
    assert OPENED


def test_then_nothing_is_left(mock_drive):
    unraisable = []
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gc.collect()
    finally:
        sys.unraisablehook = hook
    assert client_connections(mock_drive.server.port) & OPENED == set()
    assert [str(w.message) for w in caught] == []
    assert [repr(u.exc_value) for u in unraisable] == []
"""


def test_reused_across_tests_and_an_async_test_leaves_no_connection(pytester):
    """One pytest process (a start is ~1 s of CPU) runs two projects' worth of inner tests:

    - ``test_reuse``: two tests in one process get the very same session object;
    - ``test_async`` (Linux: it reads /proc): the ready async clients of an async test are
      closed before its loop is: once it is over, this process holds no connection of theirs
      and a collection warns nothing (ResourceWarnings are errors in this run).
    """
    files = {"test_reuse": REUSED_ACROSS_TESTS}
    expected = ["test_reuse.py::test_one", "test_reuse.py::test_two"]
    if sys.platform.startswith("linux"):
        files["test_async"] = inspect.getsource(client_connections) + ASYNC_TEST_LEAVES_NOTHING
        expected += [
            "test_async.py::test_uses_the_ready_async_clients",
            "test_async.py::test_then_nothing_is_left",
        ]
    pytester.makepyfile(**files)
    result = pytester.runpytest_subprocess(
        "-p", "no:xdist", "-p", "no:cacheprovider", "-W", "error::ResourceWarning",
        "-o", "asyncio_mode=auto", "-v", *UNUSED_PLUGINS,
    )  # fmt: skip
    result.assert_outcomes(passed=len(expected))
    for nodeid in expected:  # each inner test ran and passed, by name
        assert any(line.startswith(f"{nodeid} PASSED") for line in result.outlines), nodeid


@linux_only
def test_a_stop_closes_the_tls_connections_its_clients_keep_alive():
    """A TLS close waits for the client's answer, which an idle keep-alive client never sends:
    the server's end of such a connection is closed all the same when the server stops, not
    left to be collected later with a ResourceWarning."""
    import requests

    from mockdrive.cli import default_state
    from mockdrive.server import MockDrive

    server = MockDrive(default_state("stop-token"), tls=True).start()
    port = server.port
    with requests.Session() as client:
        client.trust_env = False
        answer = client.get(server.graph_url + "/me", verify=server.ca_path,
                            headers={"Authorization": "Bearer stop-token"})  # fmt: skip
        assert answer.status_code == 200
        assert client_connections(port, end=1)  # the server's end, kept alive
        server.stop()
        assert client_connections(port, end=1) == set()
