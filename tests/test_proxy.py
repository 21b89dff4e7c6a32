"""Proxy mode: CONNECT to a served host is terminated with mockdrive's own CA and answered by the
same application; absolute-form plain-http requests for served hosts are answered; every other
host is refused with 403 and nothing is forwarded."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from mockdrive.cli import default_state
from mockdrive.server import MockDrive

TOKEN = "proxy-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def proxied() -> Iterator[MockDrive]:
    with MockDrive(default_state(TOKEN), proxy=True) as server:
        yield server


def session_through(server: MockDrive) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # only the proxy given here
    session.proxies = {"http": server.url, "https": server.url}
    session.verify = server.ca_path
    return session


def raw_exchange(server: MockDrive, request: bytes) -> bytes:
    """Send ``request`` on a fresh connection and read until the server closes it."""
    with socket.create_connection((server.host, server.port), timeout=10) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_https_to_graph_through_connect_is_served_by_the_mock(proxied):
    session = session_through(proxied)
    drive = session.get("https://graph.microsoft.com/v1.0/me/drive", headers=AUTH, timeout=10)
    assert drive.status_code == 200, drive.text
    assert drive.json()["owner"]["user"]["email"] == "ada@contoso.example"
    unauthenticated = session.get("https://graph.microsoft.com/v1.0/me/drive", timeout=10)
    assert unauthenticated.status_code == 401  # the same pipeline as on the direct port
    beta = session.get("https://graph.microsoft.com/beta/me/drive", headers=AUTH, timeout=10)
    assert beta.json()["id"] == drive.json()["id"]


def test_upload_and_download_urls_work_through_the_proxy(proxied):
    session = session_through(proxied)
    base = "https://graph.microsoft.com/v1.0/me/drive/root:/proxied.bin:"
    created = session.post(base + "/createUploadSession", json={}, headers=AUTH, timeout=10)
    url = created.json()["uploadUrl"]
    # as the service's, on a host other than Graph's: SDKs send their token to Graph only
    assert url.startswith("https://api.onedrive.com/up/")
    done = session.put(url, data=b"abcdef", headers={"Content-Range": "bytes 0-5/6"}, timeout=10)
    assert done.status_code == 201, done.text
    download = done.json()["@microsoft.graph.downloadUrl"]
    assert download.startswith("https://api.onedrive.com/download/")  # the host the PUT used
    assert session.get(download, timeout=10).content == b"abcdef"
    ranged = session.get(base + "/content", headers={**AUTH, "Range": "bytes=2-3"}, timeout=10)
    assert ranged.status_code == 206 and ranged.content == b"cd"


def test_other_hosts_are_refused_and_never_forwarded(proxied):
    answer = raw_exchange(proxied, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403 ")
    plain = raw_exchange(proxied, b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert plain.startswith(b"HTTP/1.1 403 ")
    with pytest.raises(requests.exceptions.ProxyError):
        session_through(proxied).get("https://login.windows.net/", timeout=10)  # not served
    port_scan = raw_exchange(proxied, b"CONNECT 127.0.0.1:22 HTTP/1.1\r\n\r\n")
    assert port_scan.startswith(b"HTTP/1.1 403 ")  # only the mock's own port is local
    garbage = raw_exchange(proxied, b"NONSENSE\r\n\r\n")
    assert garbage.startswith(b"HTTP/1.1 400 ")


def test_plain_http_absolute_form_for_a_served_host(proxied):
    session = session_through(proxied)
    drive = session.get("http://graph.microsoft.com/v1.0/me/drive", headers=AUTH, timeout=10)
    assert drive.status_code == 200, drive.text
    # the connection closes after the answer, so a next request naming another host on the
    # same connection cannot slip past the host check
    one = (
        b"GET http://graph.microsoft.com/v1.0/me/drive HTTP/1.1\r\nHost: graph.microsoft.com\r\n"
        b"Connection: keep-alive\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n\r\n"
    )
    answer = raw_exchange(proxied, one)  # returns only once the server has closed
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nConnection: close\r\n" in answer


def test_direct_requests_on_the_same_port_still_work(proxied):
    direct = requests.get(proxied.graph_url + "/me/drive", headers=AUTH, timeout=10)
    assert direct.status_code == 200
    assert requests.get(proxied.url + "/_mockdrive/health", timeout=10).ok


def test_a_broken_tls_handshake_does_not_hurt_the_server(proxied):
    with socket.create_connection((proxied.host, proxied.port), timeout=10) as connection:
        connection.sendall(b"CONNECT graph.microsoft.com:443 HTTP/1.1\r\n\r\n")
        assert connection.recv(1024).startswith(b"HTTP/1.1 200")
        connection.sendall(b"this is not a TLS client hello" * 10)
        while connection.recv(65536):
            pass
    assert (
        session_through(proxied)
        .get("https://graph.microsoft.com/v1.0/me/drive", headers=AUTH, timeout=10)
        .ok
    )


def test_the_cli_prints_the_proxy_and_its_ca():
    process = subprocess.Popen(
        [sys.executable, "-m", "mockdrive", "--proxy", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(7)]
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert lines[0].startswith("mockdrive listening on http://127.0.0.1:")
    url = lines[0].split()[-1]
    assert any(line.strip().startswith("CA bundle: ") for line in lines), lines
    assert any(line.strip() == f"Proxy: HTTPS_PROXY={url} for graph.microsoft.com and kin"
               for line in lines), lines  # fmt: skip
