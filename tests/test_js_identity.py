"""@azure/identity and @azure/msal-node (npm, run by node) sign in at mockdrive's Entra endpoints
over TLS, then the JS Graph SDK calls Graph with those credentials through
``TokenCredentialAuthenticationProvider``.

Set up as a user would from docs/clients.md: the mock's https origin as azure-identity's
``authorityHost`` (with ``disableInstanceDiscovery``) and as msal-node's authority (with the host
in ``knownAuthorities``), the mock's CA through NODE_EXTRA_CA_CERTS. ``tests/js/signin.cjs`` runs
every step once, in order; each is reported as its own test (``test_step[...]``) and checked
against the mock's state. Install with ``npm ci`` in tests/js; without it the module is skipped,
except under CI=true where it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import JS, node_with

from mockdrive.scenario import build_state
from mockdrive.server import MockDrive
from mockdrive.testing.fixture import MockDriveFixture

APP = "backup-job"
CLI = "3f2e1d0c-b9a8-4765-8432-10fedcba9876"
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
SCENARIO = {
    "users": [
        {"displayName": "Ada Owner", "email": "ada@contoso.example", "token": "ada-token"},
        {"displayName": "Bob", "email": "bob@contoso.example"},
    ],
    "drives": [
        {
            "owner": "ada@contoso.example",
            "root": {"children": [{"name": "Projects", "children": []},
                                  {"name": "Notes.txt", "file": {}, "content": "notes"}]},
        }
    ],
}  # fmt: skip


def grants(mock: MockDriveFixture) -> list[str]:
    """The grant types of the token requests so far, in order."""
    return [
        e["body"]["grant_type"]
        for e in mock.requests
        if e["path"].endswith("/oauth2/v2.0/token") and e["status"] == 200
    ]


def holders(mock: MockDriveFixture, client_id: str) -> dict[str, list[str]]:
    """The identity overview: who holds tokens of this client, with which scopes."""
    overview = mock.session.get(mock.url + "/_mockdrive/identity", timeout=10).json()
    return {e["who"]: e["scopes"] for e in overview["holders"] if e["clientId"] == client_id}


def permission_for(mock: MockDriveFixture, path: str, email: str) -> dict[str, Any]:
    for permission in mock.permissions(path):
        for key in ("grantedToV2", "grantedTo"):
            granted = permission.get(key) or {}
            if (granted.get("user") or {}).get("email") == email:
                return permission
        if permission.get("invitation", {}).get("email") == email:
            return permission
    raise AssertionError(f"no permission for {email} on {path}: {mock.permissions(path)}")


# -- what each step must have done, in the results and in the mock's state ----------------------
def client_secret(mock: MockDriveFixture, result: Any) -> None:
    assert result["expiresInFuture"] and "Files.ReadWrite.All" in result["roles"]
    assert grants(mock)[0] == "client_credentials"


def device_code(mock: MockDriveFixture, result: Any) -> None:
    assert result == {"upn": "ada@contoso.example", "scp": "Files.ReadWrite.All"}
    polls = [e["status"] for e in mock.requests if e["path"].endswith("/token")
             and e["body"].get("grant_type", "").endswith("device_code")]  # fmt: skip
    assert polls[:2] == [400, 200], polls  # one pending poll, then signed in


def username_password(mock: MockDriveFixture, result: Any) -> None:
    assert result == {"upn": "bob@contoso.example", "scp": "Files.Read"}
    assert "password" in grants(mock)


def msal_client_credentials(mock: MockDriveFixture, result: Any) -> None:
    assert result == {"appid": APP, "tid": mock.tenant_id, "scopes": [GRAPH_DEFAULT]}


def msal_device_code(mock: MockDriveFixture, result: Any) -> None:
    assert result["username"] == "ada@contoso.example" and "Files.Read" in result["scopes"]
    assert holders(mock, "msal-node-cli")["ada@contoso.example"] == ["Files.Read"]


def app_lists(mock: MockDriveFixture, result: Any) -> None:
    assert result == ["Notes.txt", "Projects"]
    listed = [e for e in mock.requests if e["path"].endswith("/drive/root/children")]
    assert listed[0]["caller"] == APP  # the journal knows an app by its client id


def app_invites(mock: MockDriveFixture, result: Any) -> None:
    assert result == [["read"]]
    assert permission_for(mock, "/Projects", "lee@example.org")["roles"] == ["read"]


def user_lists(mock: MockDriveFixture, result: Any) -> None:
    assert result == ["Notes.txt", "Projects"]
    assert "Files.ReadWrite.All" in holders(mock, CLI)["ada@contoso.example"]


def user_invites(mock: MockDriveFixture, result: Any) -> None:
    assert result == [["write"]]
    mock.assert_can("bob@contoso.example", "write", "/Notes.txt")
    assert [m["to"] for m in mock.outbox] == ["bob@contoso.example"]


CHECKS: dict[str, Callable[[MockDriveFixture, Any], None]] = {
    "ClientSecretCredential": client_secret,
    "DeviceCodeCredential": device_code,
    "UsernamePasswordCredential": username_password,
    "msal-node client credentials": msal_client_credentials,
    "msal-node device code": msal_device_code,
    "graph client as the app: list a user's drive": app_lists,
    "graph client as the app: invite": app_invites,
    "graph client as the signed-in user: list their drive": user_lists,
    "graph client as the signed-in user: invite": user_invites,
}


@pytest.fixture(scope="module")
def outcomes() -> Iterator[dict[str, str | None]]:
    """Run signin.cjs once against a TLS server: {step: None, or why it failed}."""
    node = node_with("@azure/identity", "@azure/identity")
    with MockDrive(build_state(SCENARIO), tls=True) as server:
        mock = MockDriveFixture(server)
        mock.device_flow(pending=1, interval=0)  # the first device code waits one poll
        env = {**os.environ, "MOCKDRIVE_URL": mock.url, "MOCKDRIVE_TENANT": mock.tenant_id,
               "NODE_EXTRA_CA_CERTS": str(mock.ca_path)}  # fmt: skip
        for key in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
            env.pop(key, None)
        run = subprocess.run([node, "signin.cjs"], cwd=JS, env=env, capture_output=True,
                             text=True, timeout=60)  # fmt: skip
        assert run.returncode == 0, run.stderr
        lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
        assert [line["step"] for line in lines] == list(CHECKS), run.stdout + run.stderr
        results: dict[str, str | None] = {}
        for line in lines:
            name = line["step"]
            if not line["ok"]:
                results[name] = line["detail"]
                continue
            try:
                CHECKS[name](mock, line["result"])
                results[name] = None
            except Exception as error:  # reported by the step's own test
                results[name] = f"{error!r}; the step answered {line['result']!r}"
        yield results


@pytest.mark.parametrize("name", list(CHECKS))
def test_step(outcomes: dict[str, str | None], name: str):
    assert outcomes[name] is None, outcomes[name]
