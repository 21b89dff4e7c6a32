"""More identity clients, unchanged, against the mock tenant, as a step table.

Over the mock's TLS origin (``authority=`` and ``disable_instance_discovery=True``, the CA in
``REQUESTS_CA_BUNDLE`` and ``SSL_CERT_FILE``): azure-identity's ``DeviceCodeCredential`` and
``AuthorizationCodeCredential`` (its code from the authorize redirect), ``CertificateCredential``
(its assertion is not verified), and ``azure.identity.aio``
credentials driving msgraph-sdk. Through ``--proxy`` at their default URLs: the password grant
(MSAL, ``UsernamePasswordCredential``; MSAL asks home realm discovery first), and
Office365-REST-Python-Client, a third-party Graph library, signing in with a client secret and with
a password, then listing, inviting, linking, uploading and downloading.

Each step is reported as its own test (``test_step[...]``) and checked in the mock's state.
Without a client the module is skipped, except under CI (which installs the test extra).
"""

from __future__ import annotations

import asyncio
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

try:
    import jwt
    import msal
    import requests
    import trustme
    from azure.identity import (
        AuthorizationCodeCredential,
        CertificateCredential,
        DeviceCodeCredential,
        UsernamePasswordCredential,
    )
    from azure.identity import aio as identity_aio
    from msgraph import GraphServiceClient
    from msgraph.generated.drives.item.items.item.invite.invite_post_request_body import (
        InvitePostRequestBody,
    )
    from msgraph.generated.models.drive_recipient import DriveRecipient
    from test_msgraph_sdk import SdkClients
except ImportError:
    if os.environ.get("CI"):
        raise  # CI installs the test extra: a missing client fails there
    pytest.skip("a client is not installed (pip install -e '.[test]')", allow_module_level=True)

try:
    from office365.graph_client import GraphClient
except ImportError:  # the test extra has it; elsewhere its steps are skipped
    if os.environ.get("CI"):
        raise
    GraphClient = None

from step_table import outcome_of

from mockdrive.scenario import build_state
from mockdrive.server import MockDrive
from mockdrive.testing.fixture import MockDriveFixture

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLI = "3f2e1d0c-b9a8-4765-8432-10fedcba9876"  # a public client nobody declared
APP = "backup-job"  # a confidential client nobody declared: any secret
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
REDIRECT = "http://localhost:8400/signed-in"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
SCENARIO = {
    "users": [
        {"displayName": "Ada Owner", "email": "ada@contoso.example", "token": "ada-token",
         "password": "correct horse"},
        {"displayName": "Bob", "email": "bob@contoso.example"},
    ],
    "drives": [
        {"owner": "ada@contoso.example",
         "root": {"children": [{"name": "Projects", "children": []},
                               {"name": "Notes.txt", "file": {}, "content": "notes"}]}},
    ],
}  # fmt: skip


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def holders(mock: MockDriveFixture, client_id: str) -> dict[str, list[str]]:
    """Who holds tokens of this client, with which scopes (the identity overview)."""
    with requests.Session() as http:
        http.trust_env = False
        http.verify = mock.ca_path or True
        overview = http.get(mock.url + "/_mockdrive/identity", timeout=10).json()
    return {e["who"]: e["scopes"] for e in overview["holders"] if e["clientId"] == client_id}


def token_grants(mock: MockDriveFixture) -> list[tuple[str, int]]:
    """(grant_type, status) of every token request so far."""
    return [
        (e["body"].get("grant_type", ""), e["status"])
        for e in mock.requests
        if e["path"].endswith("/oauth2/v2.0/token")
    ]


@dataclass
class Run:
    """The two servers (TLS origin, proxy) and what earlier steps left."""

    tls: MockDriveFixture
    proxied: MockDriveFixture
    seen: dict[str, Any] = field(default_factory=dict)

    def code(self, scope: str, user: str) -> str:
        """An authorization code from the authorize redirect (no UI: the user signs in)."""
        answer = requests.get(
            f"{self.tls.url}/{self.tls.tenant_id}/oauth2/v2.0/authorize",
            params={"client_id": CLI, "response_type": "code", "redirect_uri": REDIRECT,
                    "scope": scope, "login_hint": user, "state": "s"},
            allow_redirects=False,
            timeout=10,
        )  # fmt: skip
        assert answer.status_code == 302, answer.text
        return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]

    def at_the_mock(self) -> dict[str, Any]:
        return {"authority": self.tls.authority, "disable_instance_discovery": True}

    def aiohttp_trust(self) -> dict[str, Any]:
        """aiohttp builds its default SSL context when imported, before SSL_CERT_FILE is set
        here: azure-core takes the CA bundle as ``connection_verify``."""
        return {"connection_verify": self.tls.ca_path}


# -- over the mock's TLS origin -----------------------------------------------------------------
def device_code_credential(run: Run) -> None:
    prompts: list[str] = []
    run.tls.device_flow(pending=2)
    credential = DeviceCodeCredential(
        CLI,
        tenant_id=run.tls.tenant_id,
        prompt_callback=lambda uri, code, expires: prompts.append(code),
        **run.at_the_mock(),
    )
    token = credential.get_token("Files.ReadWrite")
    assert len(prompts) == 1 and prompts[0]
    assert (claims(token.token)["upn"], claims(token.token)["scp"]) == (
        "ada@contoso.example",
        "Files.ReadWrite",
    )
    polls = [s for g, s in token_grants(run.tls) if g.endswith("device_code")]
    assert polls == [400, 400, 200]


def authorization_code_credential(run: Run) -> None:
    code = run.code("Files.Read offline_access", "bob@contoso.example")
    credential = AuthorizationCodeCredential(
        run.tls.tenant_id, CLI, code, REDIRECT, **run.at_the_mock()
    )
    token = credential.get_token("Files.Read")
    assert claims(token.token)["upn"] == "bob@contoso.example"
    assert holders(run.tls, CLI)["bob@contoso.example"] == ["Files.Read"]
    again = credential.get_token("Files.Read")  # cached: no second redemption of the code
    assert again.token == token.token
    assert token_grants(run.tls).count(("authorization_code", 200)) == 1


def certificate_credential(run: Run) -> None:
    ca = trustme.CA(key_type=trustme.KeyType.RSA)  # RS256 assertions need an RSA key
    pem = ca.issue_cert("backup.example", key_type=trustme.KeyType.RSA)
    credential = CertificateCredential(
        run.tls.tenant_id,
        "cert-job",
        certificate_data=pem.private_key_and_cert_chain_pem.bytes(),
        **run.at_the_mock(),
    )
    token = credential.get_token(GRAPH_DEFAULT)
    assert claims(token.token)["appid"] == "cert-job"
    sent = [e["body"] for e in run.tls.requests if e["path"].endswith("/oauth2/v2.0/token")]
    assert sent[-1]["client_assertion"] == "[redacted]" and "client_secret" not in sent[-1]


async def list_and_invite(client: GraphServiceClient, drive_id: str) -> tuple[list[str], Any]:
    items = client.drives.by_drive_id(drive_id).items
    children = await items.by_drive_item_id("root").children.get()
    projects = next(i for i in children.value if i.name == "Projects")
    body = InvitePostRequestBody(
        recipients=[DriveRecipient(email="lee@example.org")],
        roles=["read"],
        require_sign_in=True,
        send_invitation=False,
    )
    invited = await items.by_drive_item_id(projects.id).invite.post(body)
    return sorted(i.name for i in children.value), invited.value[0].roles


def aio_client_secret_with_the_sdk(run: Run) -> None:
    async def go() -> tuple[list[str], Any]:
        async with (
            identity_aio.ClientSecretCredential(
                run.tls.tenant_id, APP, "any secret", **run.at_the_mock(), **run.aiohttp_trust()
            ) as credential,
            SdkClients() as sdk,
        ):
            client = sdk.own(GraphServiceClient(credential, [GRAPH_DEFAULT]))
            client.request_adapter.base_url = run.tls.graph_url
            drive = await client.users.by_user_id("ada@contoso.example").drive.get()
            return await list_and_invite(client, drive.id)

    names, roles = asyncio.run(go())
    assert (names, roles) == (["Notes.txt", "Projects"], ["read"])
    invites = [e for e in run.tls.requests if e["path"].endswith("/invite")]
    assert invites[-1]["caller"] == APP and invites[-1]["status"] == 200
    assert any(p["roles"] == ["read"] for p in run.tls.permissions("/Projects"))


def aio_authorization_code_with_the_sdk(run: Run) -> None:
    code = run.code("Files.ReadWrite.All", "ada@contoso.example")

    async def go() -> list[str]:
        async with (
            identity_aio.AuthorizationCodeCredential(
                run.tls.tenant_id, CLI, code, REDIRECT, **run.at_the_mock(), **run.aiohttp_trust()
            ) as credential,
            SdkClients() as sdk,
        ):
            client = sdk.own(GraphServiceClient(credential, ["Files.ReadWrite.All"]))
            client.request_adapter.base_url = run.tls.graph_url
            me = await client.me.get()
            children = (
                await client.drives.by_drive_id(run.tls.drive.id)
                .items.by_drive_item_id("root")
                .children.get()
            )
            return [me.mail, *sorted(i.name for i in children.value)]

    assert asyncio.run(go()) == ["ada@contoso.example", "Notes.txt", "Projects"]
    assert holders(run.tls, CLI)["ada@contoso.example"] == ["Files.ReadWrite.All"]


# -- through --proxy, at the clients' default URLs ------------------------------------------------
def msal_password_grant(run: Run) -> None:
    app = msal.PublicClientApplication(
        CLI, authority=f"https://login.microsoftonline.com/{run.proxied.tenant_id}"
    )
    result = app.acquire_token_by_username_password(
        "ada@contoso.example", "correct horse", scopes=["Files.Read"]
    )
    assert "access_token" in result, result
    wrong = app.acquire_token_by_username_password(
        "ada@contoso.example", "guess", scopes=["Files.Read"]
    )
    assert wrong["error"] == "invalid_grant" and 50126 in wrong["error_codes"]
    realm = [e for e in run.proxied.requests if e["path"].startswith("/common/userrealm/")]
    assert [e["status"] for e in realm] == [200]  # MSAL keeps the answer for the host


def username_password_credential(run: Run) -> None:
    credential = UsernamePasswordCredential(
        CLI, "ada@contoso.example", "correct horse", tenant_id=run.proxied.tenant_id
    )
    token = credential.get_token("Files.ReadWrite")
    assert claims(token.token)["scp"] == "Files.ReadWrite"
    assert holders(run.proxied, CLI)["ada@contoso.example"] == ["Files.ReadWrite"]


def office365_app(run: Run) -> GraphClient:
    if "office365" not in run.seen:
        client = GraphClient(tenant=run.proxied.tenant_id).with_client_secret(APP, "any secret")
        run.seen["office365"] = client
    return run.seen["office365"]


def office365_lists_a_users_drive(run: Run) -> None:
    drive = office365_app(run).users["ada@contoso.example"].drive
    children = drive.root.children.get().execute_query()
    assert sorted(i.name for i in children) == ["Notes.txt", "Projects"]
    assert ("client_credentials", 200) in token_grants(run.proxied)


def office365_invites(run: Run) -> None:
    drive = office365_app(run).users["ada@contoso.example"].drive
    invited = (
        drive.root.get_by_path("Projects")
        .invite(["bob@contoso.example"], message="", roles=["write"], send_invitation=False)
        .execute_query()
    )
    assert [list(p.roles) for p in invited] == [["write"]]
    run.proxied.assert_can("bob@contoso.example", "write", "/Projects")


def office365_creates_a_link(run: Run) -> None:
    drive = office365_app(run).users["ada@contoso.example"].drive
    link = drive.root.get_by_path("Notes.txt").create_link("view", "organization").execute_query()
    shared = [p for p in run.proxied.permissions("/Notes.txt") if "link" in p]
    assert [p["link"]["webUrl"] for p in shared] == [link.link.webUrl]
    assert shared[0]["link"]["scope"] == "organization"


def office365_uploads_and_downloads(run: Run) -> None:
    drive = office365_app(run).users["ada@contoso.example"].drive
    uploaded = drive.root.get_by_path("Projects").upload("plan.txt", b"the plan").execute_query()
    assert (uploaded.name, run.proxied.item("/Projects/plan.txt").size) == ("plan.txt", 8)
    content = drive.root.get_by_path("Projects/plan.txt").get_content().execute_query().value
    assert content == b"the plan"


def office365_signs_in_with_a_password(run: Run) -> None:
    client = GraphClient(tenant=run.proxied.tenant_id).with_username_and_password(
        CLI, "ada@contoso.example", "correct horse"
    )
    children = client.me.drive.root.children.get().execute_query()
    assert sorted(i.name for i in children) == ["Notes.txt", "Projects"]
    me = [e for e in run.proxied.requests if e["path"] == "/v1.0/me/drive/root/children"]
    assert me[-1]["status"] == 200


STEPS: list[tuple[str, Callable[[Run], None]]] = [
    ("DeviceCodeCredential", device_code_credential),
    ("AuthorizationCodeCredential", authorization_code_credential),
    ("CertificateCredential", certificate_credential),
    ("azure.identity.aio ClientSecretCredential with msgraph-sdk", aio_client_secret_with_the_sdk),
    ("azure.identity.aio AuthorizationCodeCredential with msgraph-sdk",
     aio_authorization_code_with_the_sdk),
    ("MSAL password grant through the proxy", msal_password_grant),
    ("UsernamePasswordCredential through the proxy", username_password_credential),
    ("Office365-REST-Python-Client: list a user's drive", office365_lists_a_users_drive),
    ("Office365-REST-Python-Client: invite", office365_invites),
    ("Office365-REST-Python-Client: create a link", office365_creates_a_link),
    ("Office365-REST-Python-Client: upload and download", office365_uploads_and_downloads),
    ("Office365-REST-Python-Client: password sign-in", office365_signs_in_with_a_password),
]  # fmt: skip
PROXIED_FROM = "MSAL password grant through the proxy"
OFFICE365 = "Office365-REST-Python-Client"


@pytest.fixture(scope="module")
def outcomes() -> Iterator[dict[str, str | None]]:
    """Run every step once, in order: {step: None, or why it failed}."""
    with (
        MockDrive(build_state(SCENARIO), tls=True) as tls,
        MockDrive(build_state(SCENARIO), proxy=True) as proxied,
        pytest.MonkeyPatch.context() as env,
    ):
        for key in list(os.environ):
            if key.lower() in PROXY_VARIABLES:
                env.delenv(key)
        run = Run(MockDriveFixture(tls), MockDriveFixture(proxied))
        results: dict[str, str | None] = {}
        ca = str(tls.ca_path)
        for name, step in STEPS:  # a step after a failed one runs, and says what it lacks
            if name.startswith(OFFICE365) and GraphClient is None:
                continue
            if name == PROXIED_FROM:  # from here on, as a deployed app pointed at the proxy
                env.setenv("HTTPS_PROXY", proxied.url)
                env.setenv("NO_PROXY", "127.0.0.1")  # (the checks read the servers' state)
                ca = str(proxied.ca_path)
            env.setenv("REQUESTS_CA_BUNDLE", ca)  # requests: azure-core, MSAL, office365
            env.setenv("SSL_CERT_FILE", ca)  # httpx (msgraph-sdk)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                results[name] = outcome_of(step, run)
        yield results


@pytest.mark.parametrize("name", [name for name, _ in STEPS])
def test_step(outcomes: dict[str, str | None], name: str):
    if name not in outcomes:
        pytest.skip(f"{OFFICE365} is not installed (pip install -e '.[test]')")
    assert outcomes[name] is None, outcomes[name]
