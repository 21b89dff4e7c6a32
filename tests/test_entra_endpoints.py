"""Entra's sign-in endpoints over HTTP: discovery, the five grants, authorize with PKCE, device
codes, Entra's refusals (never a 500), the journal's redaction, fault rules, the login host's
limits in proxy mode, and the tenant and apps of a scenario."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from mockdrive.cli import default_state
from mockdrive.model.entra import DEFAULT_TENANT_ID, MAX_KEPT_CHARS, MAX_PENDING, kept_chars
from mockdrive.server import MockDrive
from mockdrive.testing.fixture import MockDriveFixture

ONEDRIVE_CLIENT = "d50ca740-c83f-4d1b-b616-12c519384f0c"
RCLONE = "b15665d9-eda6-4092-8539-0eec376afd59"
JOB = "5a1f0c2e-1111-4222-8333-944455556666"
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
TENANT = "4d6f636b-0000-4000-8000-0000000000aa"
SCENARIO = {
    "tenant": {"id": TENANT, "domain": "fabrikam.example"},
    "users": [
        {"displayName": "Ada", "email": "ada@fabrikam.example", "token": "ada-token",
         "password": "correct horse"},
        {"displayName": "Bob", "email": "bob@fabrikam.example", "consent": ["Files.Read"]},
    ],
    "drives": [{"id": "b!ada", "owner": "ada@fabrikam.example"}],
    "apps": [
        {"clientId": JOB, "clientSecret": "job-secret", "displayName": "Backup job",
         "roles": ["Files.ReadWrite.All"], "drives": ["b!ada"]},
        {"clientId": "web-app", "redirectUris": ["https://app.example/signed-in"]},
    ],
}  # fmt: skip


def post_token(mock_drive, tenant: str = "common", **form: str) -> requests.Response:
    url = f"{mock_drive.url}/{tenant}/oauth2/v2.0/token"
    return requests.post(url, data=form, timeout=10)


def assert_entra_error(answer: requests.Response, status: int, error: str, code: int) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert (body["error"], body["error_codes"]) == (error, [code]), body
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body)
    assert body["trace_id"] == answer.headers["request-id"]


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


# -- discovery ----------------------------------------------------------------------------------
@pytest.mark.parametrize("tenant", [DEFAULT_TENANT_ID, "contoso.example", "common",
                                    "organizations", "consumers"])  # fmt: skip
def test_the_openid_configuration_names_the_mocks_own_endpoints(mock_drive, tenant):
    url = f"{mock_drive.url}/{tenant}/v2.0/.well-known/openid-configuration"
    config = requests.get(url, timeout=10).json()
    base = f"{mock_drive.url}/{tenant}"
    assert config["token_endpoint"] == base + "/oauth2/v2.0/token"
    assert config["device_authorization_endpoint"] == base + "/oauth2/v2.0/devicecode"
    assert config["authorization_endpoint"] == base + "/oauth2/v2.0/authorize"
    keys = requests.get(config["jwks_uri"], timeout=10).json()["keys"]
    token = mock_drive.token_for(mock_drive.owner)
    key = next(k for k in keys if k["kid"] == jwt.get_unverified_header(token)["kid"])
    verified = jwt.decode(  # the token's lifetime is on the mock's clock, not the wall's
        token,
        jwt.PyJWK(key).key,
        algorithms=["RS256"],
        audience="https://graph.microsoft.com",
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    assert verified["oid"] == mock_drive.owner.id


def test_an_unknown_tenant_is_refused_as_entra_refuses_it(mock_drive):
    answer = requests.get(
        f"{mock_drive.url}/nowhere.example/v2.0/.well-known/openid-configuration", timeout=10
    )
    assert_entra_error(answer, 400, "invalid_request", 90002)
    token = post_token(mock_drive, "nowhere.example", grant_type="client_credentials")
    assert_entra_error(token, 400, "invalid_request", 90002)


def test_instance_discovery_points_msal_at_the_authoritys_configuration(mock_drive):
    endpoint = "https://login.microsoftonline.com/contoso.example/oauth2/v2.0/authorize"
    answer = requests.get(
        mock_drive.url + "/common/discovery/instance",
        params={"api-version": "1.1", "authorization_endpoint": endpoint},
        timeout=10,
    ).json()
    assert answer["tenant_discovery_endpoint"] == (
        "https://login.microsoftonline.com/contoso.example/v2.0/.well-known/openid-configuration"
    )
    assert "login.microsoftonline.com" in answer["metadata"][0]["aliases"]


def test_the_sign_in_endpoints_answer_with_a_trailing_slash_as_without(mock_drive):
    """MSAL with an Azure region rewrites the token and authorize endpoints through its URL
    canonicalization, which ends them with ``/`` (``…/oauth2/v2.0/token/?allowestsrnonmsi=
    true``), and scripts write ``…/token/`` by hand: Entra serves them, so each sign-in
    endpoint answers with one ``/`` after it as without, never Graph's 404."""
    base = f"{mock_drive.url}/contoso.example"
    form = {"grant_type": "client_credentials", "client_id": JOB, "client_secret": "s",
            "scope": GRAPH_DEFAULT}  # fmt: skip
    token = requests.post(base + "/oauth2/v2.0/token/?allowestsrnonmsi=true", data=form,
                          timeout=10)  # fmt: skip
    assert token.status_code == 200, token.text
    assert claims_of(token.json()["access_token"])["appid"] == JOB
    no_grant = requests.post(base + "/oauth2/v2.0/token/", timeout=10)
    assert_entra_error(no_grant, 400, "invalid_request", 900144)  # Entra's own refusals
    not_posted = requests.get(base + "/oauth2/v2.0/token/", timeout=10)
    assert_entra_error(not_posted, 400, "invalid_request", 900561)
    device = requests.post(base + "/oauth2/v2.0/devicecode/", timeout=10,
                           data={"client_id": RCLONE, "scope": "Files.Read"})  # fmt: skip
    assert device.status_code == 200 and device.json()["interval"] == 5, device.text
    signed_in = requests.get(
        base + "/oauth2/v2.0/authorize/",
        params={"client_id": ONEDRIVE_CLIENT, "response_type": "code",
                "redirect_uri": "http://localhost:8400/", "scope": "Files.Read"},
        allow_redirects=False,
        timeout=10,
    )  # fmt: skip
    assert signed_in.status_code == 302, signed_in.text
    assert "code" in parse_qs(urlsplit(signed_in.headers["Location"]).query)
    for path in ("/contoso.example/v2.0/.well-known/openid-configuration",
                 "/contoso.example/discovery/v2.0/keys", "/common/discovery/instance",
                 "/common/userrealm/ada@contoso.example"):  # fmt: skip
        plain = requests.get(mock_drive.url + path, timeout=10)
        slashed = requests.get(mock_drive.url + path + "/", timeout=10)
        assert (slashed.status_code, slashed.json()) == (plain.status_code, plain.json()), path


# -- grants -------------------------------------------------------------------------------------
def test_client_credentials_of_a_declared_app(mock_drive):
    mock_drive.load(SCENARIO)
    good = post_token(mock_drive, "fabrikam.example", grant_type="client_credentials",
                      client_id=JOB, client_secret="job-secret", scope=GRAPH_DEFAULT)  # fmt: skip
    assert good.status_code == 200, good.text
    assert good.headers["Cache-Control"].startswith("no-store")
    claims = claims_of(good.json()["access_token"])
    assert (claims["tid"], claims["roles"], claims["idtyp"]) == (
        TENANT,
        ["Files.ReadWrite.All"],
        "app",
    )
    wrong = post_token(mock_drive, TENANT, grant_type="client_credentials", client_id=JOB,
                       client_secret="guess", scope=GRAPH_DEFAULT)  # fmt: skip
    assert_entra_error(wrong, 401, "invalid_client", 7000215)
    unknown = post_token(mock_drive, TENANT, grant_type="client_credentials", client_id="who",
                         client_secret="x", scope=GRAPH_DEFAULT)  # fmt: skip
    assert_entra_error(unknown, 400, "unauthorized_client", 700016)
    no_secret = post_token(mock_drive, TENANT, grant_type="client_credentials", client_id=JOB,
                           scope=GRAPH_DEFAULT)  # fmt: skip
    assert_entra_error(no_secret, 401, "invalid_client", 7000218)
    not_default = post_token(mock_drive, TENANT, grant_type="client_credentials", client_id=JOB,
                             client_secret="job-secret", scope="Files.Read")  # fmt: skip
    assert_entra_error(not_default, 400, "invalid_scope", 1002012)
    basic = base64.b64encode(f"{JOB}:job-secret".encode()).decode()
    as_basic = requests.post(
        f"{mock_drive.url}/{TENANT}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "scope": GRAPH_DEFAULT},
        headers={"Authorization": f"Basic {basic}"},
        timeout=10,
    )
    assert as_basic.status_code == 200, as_basic.text


@pytest.mark.parametrize("client_id", [ONEDRIVE_CLIENT, RCLONE])
def test_refresh_tokens_renew_and_expire_for_the_public_clients(mock_drive, client_id):
    """Each redemption answers a new refresh token and revokes none: the identity platform
    "doesn't revoke old refresh tokens when used to fetch new access tokens", and a client
    that presents the same one on every run (duplicity's OAUTH2_REFRESH_TOKEN) keeps working
    until it expires or its user's sessions are revoked."""
    first = mock_drive.refresh_token_for(mock_drive.owner, client_id)
    redeemed = post_token(mock_drive, grant_type="refresh_token", client_id=client_id,
                          refresh_token=first)  # fmt: skip
    assert redeemed.status_code == 200, redeemed.text
    body = redeemed.json()
    assert body["refresh_token"] != first
    assert claims_of(body["access_token"])["upn"] == mock_drive.owner.email
    drive = requests.get(mock_drive.graph_url + "/me/drive", timeout=10,
                         headers={"Authorization": f"Bearer {body['access_token']}"})  # fmt: skip
    assert drive.status_code == 200, drive.text
    again = post_token(mock_drive, grant_type="refresh_token", client_id=client_id,
                       refresh_token=first)  # fmt: skip
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] not in (first, body["refresh_token"])
    mock_drive.clock.advance(days=91)
    expired = post_token(mock_drive, grant_type="refresh_token", client_id=client_id,
                         refresh_token=body["refresh_token"])  # fmt: skip
    assert_entra_error(expired, 400, "invalid_grant", 700082)


def test_a_refresh_token_presented_again_and_again_outlives_the_ones_its_redemptions_issue(
    mock_drive,
):
    """A redemption keeps the token redeemed and issues one more; what sign-ins left is bounded
    (``MAX_PENDING`` entries, ``MAX_KEPT_CHARS`` characters), the oldest going first. The token
    a client presents on every run is in use, so it is kept as the newest: after thousands of
    runs it still works, where it was the oldest and went first (three redemptions with the
    store nearly full were enough)."""
    first = mock_drive.refresh_token_for(mock_drive.owner, RCLONE)
    entra = mock_drive.state.entra
    filler = next(iter(entra.refresh_tokens.values()))

    def fill() -> None:  # up to two entries short of either bound
        kept = entra.refresh_tokens
        cost = len("filler-0000") + kept_chars(filler)
        for number in range(min(MAX_PENDING - 2, (MAX_KEPT_CHARS - kept.chars) // cost - 2)):
            kept.keep(f"filler-{number:04}", filler)
        assert first in kept

    mock_drive.server.call(fill)
    for _ in range(10):
        renewed = post_token(mock_drive, grant_type="refresh_token", client_id=RCLONE,
                             refresh_token=first)  # fmt: skip
        assert renewed.status_code == 200, renewed.text
    kept = mock_drive.server.call(lambda: (len(entra.refresh_tokens), entra.refresh_tokens.chars))
    assert kept[0] <= MAX_PENDING and kept[1] <= MAX_KEPT_CHARS


def test_revoking_a_users_sessions_revokes_every_refresh_token_redeemed_or_not(mock_drive):
    owner = mock_drive.owner
    first = mock_drive.refresh_token_for(owner, RCLONE)
    form = {"grant_type": "refresh_token", "client_id": RCLONE}
    renewed = post_token(mock_drive, **form, refresh_token=first).json()["refresh_token"]
    assert mock_drive.server.call(lambda: mock_drive.state.entra.revoke(owner.id)) == 2
    for value in (first, renewed):
        answer = post_token(mock_drive, **form, refresh_token=value)
        assert_entra_error(answer, 400, "invalid_grant", 9002313)


def pkce_pair() -> tuple[str, str]:
    verifier = "a-verifier-of-enough-length-0123456789-abcdefghijklmnop"
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_authorize_redirects_at_once_with_a_code_redeemed_with_pkce(mock_drive):
    bob = mock_drive.add_user("Bob", "bob@contoso.example")
    verifier, challenge = pkce_pair()
    answer = requests.get(
        f"{mock_drive.url}/common/oauth2/v2.0/authorize",
        params={"client_id": ONEDRIVE_CLIENT, "response_type": "code",
                "redirect_uri": "http://localhost:8400/", "scope": "Files.ReadWrite offline_access",
                "state": "s-42", "nonce": "n-7", "login_hint": "bob@contoso.example",
                "code_challenge": challenge, "code_challenge_method": "S256"},
        allow_redirects=False,
        timeout=10,
    )  # fmt: skip
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith("http://localhost:8400/?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["s-42"]
    code = query["code"][0]
    form = {"grant_type": "authorization_code", "client_id": ONEDRIVE_CLIENT, "code": code,
            "redirect_uri": "http://localhost:8400/"}  # fmt: skip
    wrong = post_token(mock_drive, **form, code_verifier="not-the-verifier-at-all-0123456789")
    assert_entra_error(wrong, 400, "invalid_grant", 501481)
    answer = requests.get(answer.request.url, allow_redirects=False, timeout=10)  # a new code
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    good = post_token(mock_drive, **{**form, "code": code}, code_verifier=verifier)
    assert good.status_code == 200, good.text
    claims = claims_of(good.json()["access_token"])
    assert (claims["oid"], claims["scp"]) == (bob.id, "Files.ReadWrite")
    assert "refresh_token" in good.json()
    again = post_token(mock_drive, **{**form, "code": code}, code_verifier=verifier)
    assert_entra_error(again, 400, "invalid_grant", 70008)


def test_authorize_with_form_post_answers_a_page_that_posts_the_code(mock_drive):
    """``response_mode=form_post`` (web apps' choice): Entra answers 200 with a form that POSTs
    ``code``, ``state`` and ``session_state`` to the redirect URI, not a redirect."""
    verifier, challenge = pkce_pair()
    redirect = "https://app.example/signed-in?x=1&y=<2>"
    answer = requests.get(
        f"{mock_drive.url}/common/oauth2/v2.0/authorize",
        params={"client_id": ONEDRIVE_CLIENT, "response_type": "code", "redirect_uri": redirect,
                "scope": "Files.Read", "state": 'a"b', "response_mode": "form_post",
                "code_challenge": challenge, "code_challenge_method": "S256"},
        allow_redirects=False,
        timeout=10,
    )  # fmt: skip
    assert answer.status_code == 200 and "Location" not in answer.headers
    assert answer.headers["Content-Type"].startswith("text/html")
    page = answer.text
    assert '<form method="POST" name="hiddenform" action="' + html.escape(redirect) + '">' in page
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)" />', page))
    assert set(fields) == {"code", "state", "session_state"}
    assert html.unescape(fields["state"]) == 'a"b'
    form = {"grant_type": "authorization_code", "client_id": ONEDRIVE_CLIENT,
            "code": html.unescape(fields["code"]), "redirect_uri": redirect}  # fmt: skip
    good = post_token(mock_drive, **form, code_verifier=verifier)
    assert good.status_code == 200, good.text
    refused = requests.get(
        f"{mock_drive.url}/common/oauth2/v2.0/authorize",
        params={"client_id": ONEDRIVE_CLIENT, "response_type": "token", "redirect_uri": redirect,
                "scope": "Files.Read", "response_mode": "form_post"},
        allow_redirects=False,
        timeout=10,
    )  # fmt: skip
    assert refused.status_code == 200
    errors = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', refused.text))
    assert errors["error"] == "unsupported_response_type"


@pytest.mark.parametrize("tenant", [DEFAULT_TENANT_ID, "common"])
def test_the_id_tokens_issuer_is_the_one_discovery_names(mock_drive, tenant):
    """An OpenID client compares the id token's ``iss`` with the discovered ``issuer`` (its
    ``{tenantid}`` filled in): they are the same on the mock's own origin too."""
    config = requests.get(
        f"{mock_drive.url}/{tenant}/v2.0/.well-known/openid-configuration", timeout=10
    ).json()
    answer = requests.get(
        config["authorization_endpoint"],
        params={"client_id": ONEDRIVE_CLIENT, "response_type": "code", "nonce": "n-1",
                "redirect_uri": "http://localhost:8400/", "scope": "openid profile Files.Read"},
        allow_redirects=False,
        timeout=10,
    )  # fmt: skip
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    tokens = requests.post(
        config["token_endpoint"],
        data={"grant_type": "authorization_code", "client_id": ONEDRIVE_CLIENT, "code": code,
              "redirect_uri": "http://localhost:8400/"},
        timeout=10,
    ).json()  # fmt: skip
    claims = claims_of(tokens["id_token"])
    assert claims["iss"] == config["issuer"].replace("{tenantid}", claims["tid"])
    assert claims["iss"] == f"{mock_drive.url}/{DEFAULT_TENANT_ID}/v2.0"
    assert claims["nonce"] == "n-1"


def test_authorize_checks_a_declared_apps_redirect_uris(mock_drive):
    mock_drive.load(SCENARIO)
    params = {"client_id": "web-app", "response_type": "code", "scope": "Files.Read"}
    elsewhere = requests.get(
        f"{mock_drive.url}/{TENANT}/oauth2/v2.0/authorize",
        params={**params, "redirect_uri": "https://evil.example/"},
        allow_redirects=False,
        timeout=10,
    )
    assert_entra_error(elsewhere, 400, "invalid_request", 50011)
    refused = requests.get(
        f"{mock_drive.url}/{TENANT}/oauth2/v2.0/authorize",
        params={**params, "redirect_uri": "https://app.example/signed-in", "state": "x",
                "login_hint": "bob@fabrikam.example", "scope": "Files.ReadWrite"},
        allow_redirects=False,
        timeout=10,
    )  # fmt: skip
    query = parse_qs(urlsplit(refused.headers["Location"]).query)
    assert (query["error"], query["state"]) == (["consent_required"], ["x"])
    assert query["error_description"][0].startswith("AADSTS65001: ")


def test_the_password_grant_and_consent(mock_drive):
    mock_drive.load(SCENARIO)
    form = {"grant_type": "password", "client_id": ONEDRIVE_CLIENT, "scope": "Files.Read"}
    good = post_token(mock_drive, **form, username="ada@fabrikam.example",
                      password="correct horse")  # fmt: skip
    assert good.status_code == 200, good.text
    bad = post_token(mock_drive, **form, username="ada@fabrikam.example", password="wrong")
    assert_entra_error(bad, 400, "invalid_grant", 50126)
    nobody = post_token(mock_drive, **form, username="eve@fabrikam.example", password="x")
    assert_entra_error(nobody, 400, "invalid_grant", 50034)
    consented = post_token(mock_drive, **form, username="bob@fabrikam.example", password="x")
    assert claims_of(consented.json()["access_token"])["scp"] == "Files.Read"
    more = post_token(mock_drive, **{**form, "scope": "Files.ReadWrite.All"},
                      username="bob@fabrikam.example", password="x")  # fmt: skip
    assert_entra_error(more, 400, "invalid_grant", 65001)


def test_a_certificates_client_assertion_authenticates_a_confidential_client(mock_drive):
    """``client_assertion`` (CertificateCredential, MSAL with a certificate) stands for the
    secret: accepted without verifying the certificate, refused from a declared public client,
    and it needs its ``client_assertion_type``."""
    mock_drive.load(SCENARIO)
    assertion = {
        "client_assertion": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    form = {"grant_type": "client_credentials", "scope": GRAPH_DEFAULT, **assertion}  # fmt: skip
    declared = post_token(mock_drive, TENANT, client_id=JOB, **form)
    assert declared.status_code == 200, declared.text
    assert claims_of(declared.json()["access_token"])["roles"] == ["Files.ReadWrite.All"]
    public = post_token(mock_drive, TENANT, client_id="web-app", **form)
    assert_entra_error(public, 401, "invalid_client", 700025)
    untyped = {k: v for k, v in form.items() if k != "client_assertion_type"}
    assert_entra_error(post_token(mock_drive, TENANT, client_id=JOB, **untyped), 400,
                       "invalid_request", 900144)  # fmt: skip
    mock_drive.load({k: v for k, v in SCENARIO.items() if k != "apps"})  # nothing declared
    anyone = post_token(mock_drive, client_id="cert-app", **form)
    assert anyone.status_code == 200, anyone.text
    assert claims_of(anyone.json()["access_token"])["appid"] == "cert-app"
    journal = [e for e in mock_drive.requests if e["path"].endswith("/oauth2/v2.0/token")]
    assert journal[-1]["body"]["client_assertion"] == "[redacted]"


def test_home_realm_discovery_answers_json_before_the_password_grant(mock_drive):
    """MSAL asks ``/common/userrealm/{user}`` before the password grant and parses it as JSON:
    the tenant's users are ``Managed`` (then the grant itself), anyone else ``Unknown``."""
    mock_drive.load(SCENARIO)
    realm = f"{mock_drive.url}/common/userrealm"
    for user in ("ada@fabrikam.example", "someone.new@fabrikam.example"):
        answer = requests.get(f"{realm}/{user}?api-version=1.0", timeout=10)
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith(
            "application/json"
        )
        body = answer.json()
        assert (body["ver"], body["account_type"]) == ("1.0", "Managed"), body
        assert body["domain_name"] == "fabrikam.example"
        assert body["cloud_audience_urn"] == "urn:federation:MicrosoftOnline"
    elsewhere = requests.get(f"{realm}/eve@elsewhere.example?api-version=1.0", timeout=10)
    assert elsewhere.json() == {"ver": "1.0", "account_type": "Unknown",
                                "cloud_instance_name": "microsoftonline.com"}  # fmt: skip


def test_device_codes_answer_as_the_switch_says(mock_drive):
    start = requests.post(
        f"{mock_drive.url}/common/oauth2/v2.0/devicecode",
        data={"client_id": RCLONE, "scope": "Files.Read"},
        timeout=10,
    ).json()
    assert start["interval"] == 5 and start["expires_in"] == 900
    form = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": RCLONE,
            "device_code": start["device_code"]}  # fmt: skip
    assert post_token(mock_drive, **form).status_code == 200  # approved at the first poll

    switch = requests.put(mock_drive.url + "/_mockdrive/identity/device-flow",
                          json={"pending": 1, "outcome": "decline"}, timeout=10)  # fmt: skip
    assert switch.status_code == 200, switch.text
    start = requests.post(
        f"{mock_drive.url}/common/oauth2/v2.0/devicecode",
        data={"client_id": RCLONE, "scope": "Files.Read"},
        timeout=10,
    ).json()
    form["device_code"] = start["device_code"]
    assert_entra_error(post_token(mock_drive, **form), 400, "authorization_pending", 70016)
    assert_entra_error(post_token(mock_drive, **form), 400, "authorization_declined", 70000)
    for bad in ({"pending": -1}, {"outcome": "maybe"}, {"pending": True}, {"colour": 1}):
        answer = requests.put(mock_drive.url + "/_mockdrive/identity/device-flow", json=bad,
                              timeout=10)  # fmt: skip
        assert answer.status_code == 400, (bad, answer.text)


@pytest.mark.parametrize(
    ("body", "headers", "code"),
    [
        (b"", {"Content-Type": "application/x-www-form-urlencoded"}, 900144),
        (b"grant_type=magic&client_id=x", {"Content-Type": "application/x-www-form-urlencoded"},
         70003),
        (b"\xff\xfe=\xff", {"Content-Type": "application/x-www-form-urlencoded"}, 90100),
        (b"grant_type=%FF", {"Content-Type": "application/x-www-form-urlencoded"}, 90100),
        (b'{"grant_type": "client_credentials"}', {"Content-Type": "application/json"}, 900144),
        (b"grant_type=refresh_token", {"Content-Type": "application/x-www-form-urlencoded"},
         900144),
        (b"grant_type=refresh_token&client_id=x",
         {"Content-Type": "application/x-www-form-urlencoded"}, 900144),
        (b"grant_type=client_credentials&client_id=x&client_secret=y",
         {"Authorization": "Basic !!!", "Content-Type": "application/x-www-form-urlencoded"},
         90100),
    ],
)  # fmt: skip
def test_malformed_token_requests_get_400_never_500(mock_drive, body, headers, code):
    answer = requests.post(f"{mock_drive.url}/common/oauth2/v2.0/token", data=body,
                           headers=headers, timeout=10)  # fmt: skip
    assert_entra_error(answer, 400, answer.json()["error"], code)


# -- observability --------------------------------------------------------------------------------
def test_the_journal_keeps_token_requests_without_their_secrets(mock_drive):
    secrets = {"client_secret": "s3cret-value", "password": "pa55-value",
               "refresh_token": "rt-value", "code": "code-value", "code_verifier": "cv-value",
               "assertion": "as-value", "device_code": "dc-value"}  # fmt: skip
    post_token(mock_drive, grant_type="password", client_id=ONEDRIVE_CLIENT,
               username="ada@contoso.example", scope="Files.Read", **secrets)  # fmt: skip
    entry = [e for e in mock_drive.requests if e["path"].endswith("/token")][-1]
    assert entry["body"]["username"] == "ada@contoso.example"
    assert all(entry["body"][name] == "[redacted]" for name in secrets)
    assert not any(value in json.dumps(list(mock_drive.requests)) for value in secrets.values())


def test_fault_rules_reach_the_token_endpoint(mock_drive):
    mock_drive.faults.add(effect="throttle", path="/oauth2/v2.0/token$", retryAfter=3, times=1)
    form = {"grant_type": "password", "client_id": RCLONE, "username": "ada@contoso.example",
            "password": "x", "scope": "Files.Read"}  # fmt: skip
    throttled = post_token(mock_drive, **form)
    assert_entra_error(throttled, 429, "temporarily_unavailable", 50196)
    assert throttled.headers["Retry-After"] == "3"
    assert post_token(mock_drive, **form).status_code == 200  # the app retries


def test_the_identity_overview_lists_apps_and_who_holds_tokens(mock_drive):
    mock_drive.load(SCENARIO)
    post_token(mock_drive, TENANT, grant_type="client_credentials", client_id=JOB,
               client_secret="job-secret", scope=GRAPH_DEFAULT)  # fmt: skip
    mock_drive.token_for("ada@fabrikam.example", ["Files.Read"], client_id=RCLONE)
    overview = requests.get(mock_drive.url + "/_mockdrive/identity", timeout=10).json()
    assert overview["tenant"] == {"id": TENANT, "domain": "fabrikam.example"}
    assert [a["clientId"] for a in overview["apps"] if a["declared"]] == [JOB, "web-app"]
    holders = {(h["who"], h["clientId"], h["kind"]): h["scopes"] for h in overview["holders"]}
    assert holders[("Backup job", JOB, "application")] == ["Files.ReadWrite.All"]
    assert holders[("ada@fabrikam.example", RCLONE, "delegated")] == ["Files.Read"]
    dashboard = requests.get(mock_drive.url + "/_mockdrive/dashboard/overview", timeout=10)
    assert dashboard.json()["identity"]["holders"] == overview["holders"]


# -- the scenario's tenant ----------------------------------------------------------------------
def test_the_tenant_and_apps_round_trip_through_an_export(mock_drive):
    from mockdrive.scenario import build_state, dump_yaml, export_scenario

    state = build_state(SCENARIO)
    exported = export_scenario(state)
    assert exported["tenant"] == SCENARIO["tenant"]
    assert exported["apps"][1] == {"clientId": "web-app", "displayName": "web-app",
                                   "redirectUris": ["https://app.example/signed-in"]}  # fmt: skip
    users = {u["email"]: u for u in exported["users"]}
    assert users["bob@fabrikam.example"]["consent"] == ["Files.Read"]
    assert dump_yaml(export_scenario(build_state(exported))) == dump_yaml(exported)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"apps": [{"clientId": "a", "drives": ["b!nowhere"]}]}, "'b!nowhere' is not a drive id"),
        ({"apps": [{"clientId": "a"}, {"clientId": "a"}]}, "duplicate app 'a'"),
        ({"tenant": {"id": "not-a-guid"}}, "tenant.id"),
        ({"apps": [{"clientId": "a", "roles": ["Files Read"]}]}, "apps[0].roles[0]"),
    ],
)
def test_a_scenarios_identity_problems_are_reported(change, problem):
    from mockdrive.scenario import ScenarioError, build_state

    with pytest.raises(ScenarioError) as raised:
        build_state({**SCENARIO, **change})
    assert problem in str(raised.value)


def test_a_token_of_another_tenant_is_refused_after_a_load(mock_drive):
    token = mock_drive.token_for(mock_drive.owner)
    mock_drive.load({**SCENARIO, "users": [{**SCENARIO["users"][0],
                                            "id": mock_drive.owner.id}]})  # fmt: skip
    answer = requests.get(mock_drive.graph_url + "/me", timeout=10,
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"


# -- the login host through the proxy -----------------------------------------------------------
def test_the_login_host_reaches_only_the_identity_routes():
    with MockDrive(default_state("owner-token"), proxy=True) as server, requests.Session() as http:
        http.trust_env = False
        http.proxies = {"https": server.url, "http": server.url}
        http.verify = server.ca_path
        auth = {"Authorization": "Bearer owner-token"}
        for host in ("login.microsoftonline.com", "login.microsoft.com"):
            config = http.get(f"https://{host}/common/v2.0/.well-known/openid-configuration",
                              timeout=10).json()  # fmt: skip
            assert config["token_endpoint"] == f"https://{host}/common/oauth2/v2.0/token"
            probe = http.get(f"https://{host}/v1.0/me/drive", headers=auth, timeout=10)
            assert probe.status_code == 200 and "mockdrive" in probe.text  # plainly, not Graph
            assert probe.headers["Content-Type"].startswith("text/plain")
            admin = http.get(f"https://{host}/_mockdrive/state", timeout=10)
            assert admin.status_code == 200 and "users" not in admin.text
            posted = http.post(f"https://{host}/_mockdrive/reset", timeout=10)
            assert posted.status_code == 404 and posted.json()["error"] == "invalid_request"
        graph = http.get("https://graph.microsoft.com/v1.0/me/drive", headers=auth, timeout=10)
        assert graph.status_code == 200 and graph.json()["driveType"] == "business"


def test_the_sign_in_routes_stay_open_under_an_admin_token():
    with MockDrive(default_state("owner-token"), admin_token="adm") as server:
        form = {"grant_type": "client_credentials", "client_id": JOB, "client_secret": "any",
                "scope": GRAPH_DEFAULT}  # fmt: skip
        token = requests.post(f"{server.url}/common/oauth2/v2.0/token", data=form, timeout=10)
        assert token.status_code == 200, token.text
        overview = server.admin_url + "/identity"
        assert requests.get(overview, timeout=10).status_code == 401
        guarded = requests.get(overview, headers={"X-Mockdrive-Admin-Token": "adm"}, timeout=10)
        assert guarded.json()["holders"][0]["clientId"] == JOB
        index = requests.get(server.admin_url, headers={"X-Mockdrive-Admin-Token": "adm"},
                             timeout=10).json()  # fmt: skip
        assert "/_mockdrive/identity/device-flow" in {r["path"] for r in index["routes"]}


# -- the documented curl walkthrough --------------------------------------------------------------
def test_the_documented_curl_flows_run_as_written(tmp_path: Path):
    """docs/identity.md's shell script: authorization code with PKCE from the authorize
    redirect, Graph with the token, the refresh token, then a device code pending once."""
    if shutil.which("openssl") is None or shutil.which("curl") is None:
        pytest.skip("the example needs curl and openssl")
    page = (Path(__file__).parent.parent / "docs" / "identity.md").read_text()
    section = page.split("\n## By hand, with curl\n", 1)[1]
    script = re.search(r"^```bash\n(.*?)^```$", section, flags=re.M | re.S).group(1)
    with socket.socket() as probe:  # a free port for the example's 8000
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # mockdrive
    process = subprocess.Popen(
        ["bash", "-e", "-c", script.replace("8000", str(port))],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the server it starts shares its process group
    )
    try:
        out, _ = process.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the server, if the script stopped early
    assert process.returncode == 0, out
    shown = re.findall(r"\|\s*field \w+.*?#\s*(.+)$", script, flags=re.M)
    assert out.splitlines() == [answer.strip() for answer in shown], out


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("endpoint", ["token", "devicecode"])
def test_a_token_endpoint_asked_without_post_answers_as_entra_does(mock_drive, method, endpoint):
    """AADSTS900561 in Entra's envelope (a browser's GET of the token URL, a client that
    lost its POST behind a redirect), not a Graph 404; nothing is issued or journaled as a
    sign-in."""
    before = mock_drive.digest()
    answer = requests.request(
        method, f"{mock_drive.url}/organizations/oauth2/v2.0/{endpoint}", timeout=10
    )
    assert_entra_error(answer, 400, "invalid_request", 900561)
    accepted = "POST, OPTIONS" if endpoint == "token" else "POST"  # (the token one serves SPAs)
    assert answer.json()["error_description"].startswith(
        f"AADSTS900561: The endpoint only accepts {accepted} requests. Received a {method} request."
    )
    assert mock_drive.digest() == before


# -- Microsoft account's token endpoint (login.live.com) ------------------------------------------
LIVE_CLIENT = "000000004C12E85D"  # duplicity's Live SDK client id


def post_live(mock_drive, **form: str) -> requests.Response:
    return requests.post(f"{mock_drive.url}/oauth20_token.srf", data=form, timeout=10)


def assert_live_error(answer: requests.Response, status: int, error: str, says: str) -> None:
    """login.live.com's refusal: only ``error`` and ``error_description``, no AADSTS number."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error and says in body["error_description"], body
    assert "AADSTS" not in body["error_description"]


def test_login_live_redeems_a_refresh_token_as_microsoft_account_answers(mock_drive):
    """Live SDK-era clients (Debian's duplicity) redeem a refresh token at
    login.live.com/oauth20_token.srf: ``token_type`` ``bearer``, ``user_id``, no id token; the
    access token works at Graph, and the refresh token redeemed stays good."""
    first = mock_drive.refresh_token_for(mock_drive.owner, LIVE_CLIENT)
    answer = post_live(mock_drive, grant_type="refresh_token", client_id=LIVE_CLIENT,
                       refresh_token=first)  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store, no-cache"
    body = answer.json()
    assert set(body) == {"token_type", "expires_in", "scope", "access_token", "refresh_token",
                         "user_id"}  # fmt: skip
    assert (body["token_type"], body["expires_in"]) == ("bearer", 3600)
    assert body["user_id"] == mock_drive.owner.id and body["refresh_token"] != first
    assert "Files.ReadWrite.All" in body["scope"].split()
    claims = claims_of(body["access_token"])
    assert (claims["upn"], claims["appid"]) == (mock_drive.owner.email, LIVE_CLIENT)
    drive = requests.get(mock_drive.graph_url + "/me/drive", timeout=10,
                         headers={"Authorization": f"Bearer {body['access_token']}"})  # fmt: skip
    assert drive.status_code == 200, drive.text
    narrower = post_live(mock_drive, grant_type="refresh_token", client_id=LIVE_CLIENT,
                         refresh_token=first, scope="Files.Read User.Read")  # fmt: skip
    assert narrower.status_code == 200, narrower.text
    assert claims_of(narrower.json()["access_token"])["scp"] == "Files.Read User.Read"
    entry = next(e for e in mock_drive.requests if e["path"] == "/oauth20_token.srf")
    assert entry["body"] == {"grant_type": "refresh_token", "client_id": LIVE_CLIENT,
                             "refresh_token": "[redacted]"}  # fmt: skip


@pytest.mark.parametrize(
    ("form", "status", "error", "says"),
    [
        ({}, 400, "invalid_request", "must include a 'grant_type' input parameter"),
        ({"grant_type": "magic"}, 400, "unsupported_grant_type", "'grant_type' is not valid"),
        ({"grant_type": "authorization_code", "code": "c"}, 501, "not_implemented",
         "'authorization_code' grant"),
        ({"grant_type": "refresh_token", "refresh_token": "x"}, 400, "invalid_request",
         "must include a 'client_id' input parameter"),
        ({"grant_type": "refresh_token", "client_id": LIVE_CLIENT}, 400, "invalid_request",
         "must include a 'refresh_token' input parameter"),
        ({"grant_type": "refresh_token", "client_id": LIVE_CLIENT, "refresh_token": "nope"},
         400, "invalid_grant", "'refresh_token' is not valid"),
        ({"grant_type": "refresh_token", "client_id": "another-client", "refresh_token": ""},
         400, "invalid_request", "'refresh_token' input parameter"),
    ],
)  # fmt: skip
def test_login_live_refuses_as_microsoft_account_does(mock_drive, form, status, error, says):
    before = mock_drive.digest()
    assert_live_error(post_live(mock_drive, **form), status, error, says)
    assert mock_drive.digest() == before


def test_login_live_refuses_another_clients_an_expired_or_a_revoked_refresh_token(mock_drive):
    owner = mock_drive.owner
    refresh = mock_drive.refresh_token_for(owner, LIVE_CLIENT)
    form = {"grant_type": "refresh_token", "refresh_token": refresh}
    other = post_live(mock_drive, **form, client_id="another-client")
    assert_live_error(other, 400, "invalid_grant", "'refresh_token' is not valid")
    mock_drive.clock.advance(days=91)
    expired = post_live(mock_drive, **form, client_id=LIVE_CLIENT)
    assert_live_error(expired, 400, "invalid_grant", "the grant is expired")
    revoked = mock_drive.refresh_token_for(owner, LIVE_CLIENT)
    mock_drive.server.call(lambda: mock_drive.state.entra.revoke(owner.id))
    gone = post_live(mock_drive, grant_type="refresh_token", client_id=LIVE_CLIENT,
                     refresh_token=revoked)  # fmt: skip
    assert_live_error(gone, 400, "invalid_grant", "'refresh_token' is not valid")


def test_login_live_refuses_a_client_the_tenant_does_not_know(mock_drive):
    mock_drive.load(SCENARIO)  # apps declared: only they sign in
    refresh = mock_drive.refresh_token_for("ada@fabrikam.example", JOB)
    answer = post_live(mock_drive, grant_type="refresh_token", client_id=LIVE_CLIENT,
                       refresh_token=refresh)  # fmt: skip
    assert_live_error(answer, 400, "unauthorized_client", "not enabled for consumers")
    wrong_secret = post_live(mock_drive, grant_type="refresh_token", client_id=JOB,
                             client_secret="not-it", refresh_token=refresh)  # fmt: skip
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"
    assert set(wrong_secret.json()) == {"error", "error_description"}


def test_login_live_is_its_own_host_through_the_proxy():
    """login.live.com serves its token endpoint and none of Entra's; Entra's hosts do not serve
    login.live.com's. Refusals there take login.live.com's envelope."""
    with MockDrive(default_state("owner-token"), proxy=True) as server, requests.Session() as http:
        http.trust_env = False
        http.proxies = {"https": server.url, "http": server.url}
        http.verify = server.ca_path
        mock = MockDriveFixture(server)
        refresh = mock.refresh_token_for(mock.owner, LIVE_CLIENT)
        form = {"grant_type": "refresh_token", "client_id": LIVE_CLIENT, "refresh_token": refresh}
        live = http.post("https://login.live.com/oauth20_token.srf", data=form, timeout=10)
        assert live.status_code == 200 and live.json()["token_type"] == "bearer", live.text
        auth = {"Authorization": f"Bearer {live.json()['access_token']}"}
        me = http.get("https://graph.microsoft.com/v1.0/me", headers=auth, timeout=10)
        assert me.status_code == 200 and me.json()["userPrincipalName"] == mock.owner.email
        entra_there = http.post("https://login.live.com/common/oauth2/v2.0/token", data=form,
                                timeout=10)  # fmt: skip
        assert entra_there.status_code == 404, entra_there.text
        assert set(entra_there.json()) == {"error", "error_description"}
        config = http.get("https://login.live.com/common/v2.0/.well-known/openid-configuration",
                          timeout=10)  # fmt: skip
        assert "token_endpoint" not in config.text
        for host in ("login.microsoftonline.com", "login.microsoft.com"):
            there = http.post(f"https://{host}/oauth20_token.srf", data=form, timeout=10)
            assert there.status_code == 404 and "error_codes" in there.json(), there.text


def test_login_live_refuses_a_body_too_large_and_another_method_in_its_envelope(mock_drive):
    before = mock_drive.digest()
    big = {"grant_type": "refresh_token", "client_id": LIVE_CLIENT, "refresh_token": "r" * 70_000}
    assert_live_error(post_live(mock_drive, **big), 413, "invalid_request", "")
    got = requests.get(f"{mock_drive.url}/oauth20_token.srf", timeout=10)
    assert_live_error(got, 400, "invalid_request", "only accepts POST requests")
    assert mock_drive.digest() == before
