"""Real identity clients, unchanged, sign in to the mock tenant: azure-identity with msgraph-sdk
(through the proxy at their default URLs, and through ``authority=`` over the fixture's TLS),
MSAL's confidential client and its public client's device-code flow (pending and declined)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import jwt
import msal
import pytest
import requests
from azure.identity import ClientSecretCredential
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from test_msgraph_sdk import SdkClients

from mockdrive.cli import default_state
from mockdrive.server import MockDrive

GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]
BACKUP_JOB = "0b4c5e2a-6f1d-4c3b-9a8e-7d6c5b4a3f21"  # an app nobody declared: permissive tenant
CLI = "3f2e1d0c-b9a8-4765-8432-10fedcba9876"


@pytest.fixture(scope="module")
def proxied() -> Iterator[MockDrive]:
    with MockDrive(default_state("proxied-owner-token"), proxy=True) as server:
        yield server


@pytest.fixture
def through_proxy(proxied: MockDrive, monkeypatch: pytest.MonkeyPatch) -> MockDrive:
    """The process's environment as a deployed app's would be, pointed at the proxy."""
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", proxied.url)
    monkeypatch.setenv("SSL_CERT_FILE", str(proxied.ca_path))  # httpx (msgraph-sdk)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(proxied.ca_path))  # azure-core, MSAL
    proxied.reset(default_state("proxied-owner-token"))
    return proxied


def journal(server: MockDrive) -> list[dict]:
    with requests.Session() as session:
        session.trust_env = False
        return session.get(server.admin_url + "/journal", timeout=10).json()["value"]


async def test_client_secret_credential_and_the_graph_client_at_their_default_urls(
    through_proxy: MockDrive,
):
    tenant = through_proxy.call(lambda: through_proxy.state.entra.tenant_id)
    owner = through_proxy.call(lambda: through_proxy.state.user("ada@contoso.example"))
    credential = ClientSecretCredential(tenant, BACKUP_JOB, "backup-secret")
    async with SdkClients() as sdk:
        client = sdk.own(GraphServiceClient(credential, scopes=GRAPH_DEFAULT))
        user = await client.users.by_user_id(owner.id).get()

    assert user is not None and user.display_name == owner.display_name
    entries = journal(through_proxy)
    token_calls = [e for e in entries if e["path"].endswith("/oauth2/v2.0/token")]
    assert [e["status"] for e in token_calls] == [200]
    assert token_calls[0]["body"]["client_secret"] == "[redacted]"
    graph_call = next(e for e in entries if e["path"].endswith(f"/users/{owner.id}"))
    assert graph_call["status"] == 200 and graph_call["caller"] == BACKUP_JOB


@pytest.mark.mock_drive(tls=True)
async def test_client_secret_credential_with_the_fixtures_authority(mock_drive, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(mock_drive.ca_path))
    mock_drive.app(BACKUP_JOB, secret="backup-secret", roles=["User.Read.All"])
    credential = ClientSecretCredential(
        mock_drive.tenant_id,
        BACKUP_JOB,
        "backup-secret",
        authority=mock_drive.authority,
        disable_instance_discovery=True,  # the authority is not one of Microsoft's hosts
    )
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=GRAPH_DEFAULT, allowed_hosts=["127.0.0.1"]
    )
    trust = ssl.create_default_context(cafile=mock_drive.ca_path)
    async with httpx.AsyncClient(verify=trust, trust_env=False) as http:
        adapter = GraphRequestAdapter(auth, client=http)
        adapter.base_url = mock_drive.graph_url
        client = GraphServiceClient(request_adapter=adapter)
        user = await client.users.by_user_id(mock_drive.owner.id).get()
    assert user is not None and user.mail == mock_drive.owner.email

    wrong = ClientSecretCredential(
        mock_drive.tenant_id,
        BACKUP_JOB,
        "not-the-secret",
        authority=mock_drive.authority,
        disable_instance_discovery=True,
    )
    from azure.core.exceptions import ClientAuthenticationError

    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        wrong.get_token(*GRAPH_DEFAULT)


@pytest.fixture
def trusted(mock_drive, monkeypatch: pytest.MonkeyPatch):
    """The fixture's TLS server, trusted: requests (under MSAL) lets REQUESTS_CA_BUNDLE, when
    set in the environment, win over a session's ``verify``."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(mock_drive.ca_path))
    return mock_drive


@pytest.mark.mock_drive(tls=True)
def test_msal_confidential_client_gets_an_app_only_token(trusted):
    mock_drive = trusted
    mock_drive.app(BACKUP_JOB, secret="backup-secret", roles=["Files.ReadWrite.All"])
    app = msal.ConfidentialClientApplication(
        BACKUP_JOB,
        client_credential="backup-secret",
        authority=mock_drive.tenant_authority,
        instance_discovery=False,
        verify=mock_drive.ca_path,
    )
    result = app.acquire_token_for_client(scopes=GRAPH_DEFAULT)
    assert "access_token" in result, result
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["roles"] == ["Files.ReadWrite.All"] and claims["appid"] == BACKUP_JOB
    assert claims["tid"] == mock_drive.tenant_id
    again = app.acquire_token_for_client(scopes=GRAPH_DEFAULT)
    assert again["access_token"] == result["access_token"]  # MSAL's cache: no second call

    stranger = msal.ConfidentialClientApplication(
        "aaaaaaaa-0000-4000-8000-000000000000",
        client_credential="x",
        authority=mock_drive.tenant_authority,
        instance_discovery=False,
        verify=mock_drive.ca_path,
    )
    refused = stranger.acquire_token_for_client(scopes=GRAPH_DEFAULT)
    assert refused["error"] == "unauthorized_client" and 700016 in refused["error_codes"]


def msal_public(mock_drive) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        CLI, authority=mock_drive.tenant_authority, instance_discovery=False,
        verify=mock_drive.ca_path,
    )  # fmt: skip


def token_polls(mock_drive) -> list[int]:
    return [e["status"] for e in mock_drive.requests if e["path"].endswith("/oauth2/v2.0/token")]


@pytest.mark.mock_drive(tls=True)
def test_msal_device_code_flow_polls_while_pending_then_signs_in(trusted):
    mock_drive = trusted
    bob = mock_drive.add_user("Bob", "bob@contoso.example")
    mock_drive.device_flow(pending=2, user=bob)
    app = msal_public(mock_drive)
    flow = app.initiate_device_flow(scopes=["Files.ReadWrite"])
    assert flow["verification_uri"] == "https://microsoft.com/devicelogin"
    assert flow["user_code"] in flow["message"]

    result = app.acquire_token_by_device_flow(flow)

    assert "access_token" in result, result
    assert token_polls(mock_drive) == [400, 400, 200]
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert (claims["upn"], claims["scp"]) == ("bob@contoso.example", "Files.ReadWrite")
    assert result["id_token_claims"]["preferred_username"] == "bob@contoso.example"
    answer = requests.get(
        mock_drive.graph_url + "/me",
        headers={"Authorization": f"Bearer {result['access_token']}"},
        verify=mock_drive.ca_path,
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["id"] == bob.id
    # the refresh token it holds is good: a silent call after expiry redeems it
    account = app.get_accounts()[0]
    mock_drive.clock.advance(hours=2)
    silent = app.acquire_token_silent(["Files.ReadWrite"], account, force_refresh=True)
    assert silent is not None and "access_token" in silent, silent
    assert token_polls(mock_drive) == [400, 400, 200, 200]


@pytest.mark.mock_drive(tls=True)
@pytest.mark.parametrize(
    ("outcome", "error"), [("decline", "authorization_declined"), ("expire", "expired_token")]
)
def test_msal_device_code_flow_declined_or_expired(trusted, outcome, error):
    mock_drive = trusted
    mock_drive.device_flow(pending=1, outcome=outcome)
    app = msal_public(mock_drive)
    flow = app.initiate_device_flow(scopes=["Files.Read"])
    result = app.acquire_token_by_device_flow(flow)
    assert result.get("error") == error, result
    assert "access_token" not in result
    assert token_polls(mock_drive) == [400, 400]


@pytest.mark.mock_drive(tls=True)
def test_azure_identity_retries_a_throttled_token_call(trusted):
    mock_drive = trusted
    mock_drive.faults.add(effect="throttle", path="/oauth2/v2.0/token$", retryAfter=1, times=1)
    credential = ClientSecretCredential(
        mock_drive.tenant_id, BACKUP_JOB, "backup-secret", authority=mock_drive.authority,
        disable_instance_discovery=True,
    )  # fmt: skip
    token = credential.get_token(*GRAPH_DEFAULT)
    assert claims_of_token(token.token)["appid"] == BACKUP_JOB
    assert token_polls(mock_drive) == [429, 200]


def claims_of_token(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})
