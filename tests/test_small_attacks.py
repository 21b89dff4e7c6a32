"""Attacks on small changes: Entra's answer to a method other than POST on its token and
device-code endpoints in every form that reaches them; the CLI's bounds on the demo's sizes;
the ready clients built once."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import requests

from mockdrive.cli import default_state

LOGIN = "https://login.microsoftonline.com"


def assert_not_posted(answer: requests.Response, method: str, accepted: str = "POST") -> None:
    """Entra's 400 AADSTS900561 in its own envelope, naming what the endpoint ``accepted``
    (a HEAD: its status and type only)."""
    assert answer.status_code == 400, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    if method == "HEAD":
        return
    body = answer.json()
    assert (body["error"], body["error_codes"]) == ("invalid_request", [900561]), body
    assert body["error_description"].startswith(
        f"AADSTS900561: The endpoint only accepts {accepted} requests. Received a {method} request."
    )


@pytest.mark.parametrize(
    ("method", "path", "accepted"),
    [
        ("OPTIONS", "/common/oauth2/v2.0/devicecode", "POST"),
        ("HEAD", "/consumers/oauth2/v2.0/devicecode", "POST"),
        ("GET", "/organizations/oauth2/v2.0/%74oken", "POST, OPTIONS"),
        # a tenant the catch-all's ``.*`` cannot match
        ("PUT", "/t%0A/oauth2/v2.0/token", "POST, OPTIONS"),
    ],
)
def test_every_form_of_the_token_paths_gets_entras_answer_and_is_journaled(
    mock_drive, method, path, accepted
):
    """Whatever path the POST reaches, another method gets Entra's 400; the refusal is an
    identity request's: journaled with its status and without the secret in its query, the
    state unchanged."""
    before = mock_drive.digest()
    secret = {"client_secret": "s3cret"}
    answer = requests.request(method, mock_drive.url + path, params=secret, timeout=10)
    assert_not_posted(answer, method, accepted)
    assert mock_drive.digest() == before
    entries = [e for e in mock_drive.requests if e["method"] == method]
    assert [(e["status"], e["query"]) for e in entries] == [
        (400, {"client_secret": "[redacted]"})
    ], entries


def test_the_refusal_is_entras_under_an_admin_token(worker_server):
    """The sign-in routes stay open under an admin token: another method than POST gets
    Entra's 400, not the admin API's 401 in Graph's envelope."""
    server = worker_server(default_state("owner-token"), admin_token="adm")
    for endpoint, accepted in (("token", "POST, OPTIONS"), ("devicecode", "POST")):
        answer = requests.get(f"{server.url}/common/oauth2/v2.0/{endpoint}", timeout=10)
        assert_not_posted(answer, "GET", accepted)


def test_the_login_host_answers_another_method_as_entra_does(worker_server):
    """Through the proxy, as clients reach Entra: not the login host's plain probe page (a
    GET) nor its 404 (the rest)."""
    server = worker_server(default_state("owner-token"), proxy=True)
    with requests.Session() as http:
        http.trust_env = False
        http.proxies = {"https": server.url, "http": server.url}
        http.verify = server.ca_path
        for method in ("GET", "HEAD", "PUT"):
            answer = http.request(method, f"{LOGIN}/organizations/oauth2/v2.0/token", timeout=10)
            assert_not_posted(answer, method, "POST, OPTIONS")
        answer = http.options(f"{LOGIN}/organizations/oauth2/v2.0/devicecode", timeout=10)
        assert_not_posted(answer, "OPTIONS")
        probe = http.get(f"{LOGIN}/organizations/oauth2/v2.0/elsewhere", timeout=10)
        assert probe.status_code == 200 and probe.text.startswith("mockdrive")


def test_the_token_endpoint_takes_a_preflight_as_entra_does(mock_drive):
    """Entra's token endpoint serves single-page apps: it accepts OPTIONS (its refusal of a GET
    says "only accepts POST, OPTIONS"), so a preflight is not refused; nothing changes."""
    before = mock_drive.digest()
    url = f"{mock_drive.url}/{mock_drive.tenant_id}/oauth2/v2.0/token"
    answer = requests.options(url, timeout=10)
    assert (answer.status_code, answer.headers["Allow"], answer.text) == (200, "POST, OPTIONS", "")
    assert mock_drive.digest() == before


def test_a_ready_httpx_client_its_user_closed_is_made_again(mock_drive):
    """The ready clients outlive a test (they are the server's): one closed in one test is not
    handed to the next, which could not send a request with it. (Closed by ``close``: httpx
    lets ``with`` open only a client never used, and an earlier test may have used it.)"""
    client = mock_drive.httpx_client()
    assert client.get("/me").status_code == 200
    client.close()
    again = mock_drive.httpx_client()
    assert again is not client and again.get("/me").status_code == 200
    assert mock_drive.httpx_client() is again


def test_the_soak_judges_its_second_half_only_once_the_caps_are_full():
    """The second half's growth tells a leak only where the first half filled the caps: a
    short or slow run still filling them is not failed as a leak (a healthy server's 20 s run
    added 18% in its second half), nor passed as levelled; a full one is judged on 5%."""
    soak = runpy.run_path(str(Path(__file__).parents[1] / "benchmarks" / "soak.py"))
    second_half_check, FILL_REQUESTS = soak["second_half_check"], soak["FILL_REQUESTS"]

    assert second_half_check(71_828, 12_640, 34_000).startswith("not made: ")
    assert second_half_check(150_000, 20_000, FILL_REQUESTS - 1).startswith("not made: ")
    assert second_half_check(150_000, 7_500, FILL_REQUESTS) == "levelled"
    assert second_half_check(150_000, 7_501, FILL_REQUESTS) == "grew"


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    "path",
    [
        "/workspaces/oauth2/v2.0/token",
        "/files/oauth2/v2.0/devicecode",
        "/%66olders/oauth2/v2.0/token",  # an escape the router decodes
    ],
)
def test_a_onehub_path_ending_as_entras_endpoints_answers_as_onehub(mock_drive, method, path):
    """Onehub's first segments are no tenant: its 404, not Entra's refusal (AADSTS900561 or
    an unknown tenant) after Onehub's own authentication."""
    answer = mock_drive.session.request(
        method, mock_drive.url + path, data={"client_id": "x"}, timeout=10
    )
    assert (answer.status_code, answer.json()) == (404, {"errors": {"base": ["Not found"]}})
