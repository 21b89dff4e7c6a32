"""Access tokens as JWTs: the fixture issues them, the pipeline verifies them, and a token Graph
would refuse gets Graph's 401 with its ``WWW-Authenticate`` challenge."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
import requests

from mockdrive.model.entra import DEFAULT_TENANT_ID, TEST_CLIENT_ID

CHALLENGE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    'authorize", client_id="00000003-0000-0000-c000-000000000000"'
)


def get(mock_drive, path: str, token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.get(mock_drive.graph_url + path, headers=headers, timeout=10)


def assert_refused(response: requests.Response, message: str) -> None:
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("InvalidAuthenticationToken", message)
    assert response.headers["WWW-Authenticate"] == CHALLENGE


def test_a_delegated_jwt_reads_the_users_drive(mock_drive):
    token = mock_drive.token_for(mock_drive.owner, scopes=["Files.ReadWrite"])
    answer = get(mock_drive, "/me/drive", token)
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == mock_drive.drive.id
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["iss"] == f"https://sts.windows.net/{DEFAULT_TENANT_ID}/"
    assert claims["tid"] == DEFAULT_TENANT_ID
    assert (claims["oid"], claims["upn"]) == (mock_drive.owner.id, mock_drive.owner.email)
    assert (claims["appid"], claims["scp"]) == (TEST_CLIENT_ID, "Files.ReadWrite")
    assert claims["exp"] - claims["iat"] == 3600


def test_the_journal_names_the_user_of_a_jwt(mock_drive):
    token = mock_drive.token_for(mock_drive.owner)
    assert get(mock_drive, "/me/drive", token).status_code == 200
    assert list(mock_drive.requests)[-1]["caller"] == mock_drive.owner.email


def test_a_tampered_jwt_is_refused(mock_drive):
    token = mock_drive.token_for(mock_drive.owner, scopes=["Files.Read"])
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scp"] = "Files.ReadWrite.All"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert_refused(
        get(mock_drive, "/me/drive", f"{header}.{forged}.{signature}"),
        "Access token validation failure.",
    )


def test_a_jwt_signed_by_another_key_is_refused(mock_drive):
    from cryptography.hazmat.primitives.asymmetric import rsa

    token = mock_drive.token_for(mock_drive.owner)
    claims = jwt.decode(token, options={"verify_signature": False})
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = jwt.get_unverified_header(token)["kid"]
    foreign = jwt.encode(claims, other, algorithm="RS256", headers={"kid": kid})
    assert_refused(get(mock_drive, "/me/drive", foreign), "Access token validation failure.")


def test_an_expired_jwt_is_refused_on_the_mocks_clock(mock_drive):
    token = mock_drive.token_for(mock_drive.owner)
    assert get(mock_drive, "/me/drive", token).status_code == 200
    mock_drive.clock.advance(hours=1)
    assert_refused(
        get(mock_drive, "/me/drive", token), "Lifetime validation failed, the token is expired."
    )


def test_a_jwt_for_another_audience_is_refused(mock_drive):
    from mockdrive.model.tokens import sign

    token = mock_drive.token_for(mock_drive.owner)
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["aud"] = "https://graph.windows.net"
    assert_refused(
        get(mock_drive, "/me/drive", sign(claims, mock_drive.state.entra.key)),
        "Access token validation failure. Invalid audience.",
    )


def test_a_malformed_jwt_is_refused(mock_drive):
    assert_refused(
        get(mock_drive, "/me/drive", "not.a.jwt"),
        "IDX14102: Unable to decode the header of the token as Base64Url encoded string.",
    )


def test_an_unknown_opaque_token_is_refused_as_before(mock_drive):
    answer = get(mock_drive, "/me/drive", "nobody-token")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthenticated"


def test_an_app_token_carries_the_apps_roles_and_gets_graphs_400_on_me(mock_drive):
    token = mock_drive.app_token("11111111-2222-3333-4444-555555555555")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["idtyp"] == "app" and "scp" not in claims
    assert "Files.ReadWrite.All" in claims["roles"]
    answer = get(mock_drive, f"/drives/{mock_drive.drive.id}/root/children", token)
    assert answer.status_code < 500, answer.text
    for path in ("/me", "/me/drive", "//me/drive/root/children", "/me/"):
        answer = get(mock_drive, path, token)
        assert answer.status_code == 400, (path, answer.text)
        error = answer.json()["error"]
        assert (error["code"], error["message"]) == (
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        )


def test_the_fixture_refuses_a_token_for_an_app_the_tenant_does_not_know(mock_drive):
    mock_drive.app("declared-app", secret="s")
    with pytest.raises(ValueError, match="AADSTS700016"):
        mock_drive.app_token("not-declared")
    assert (
        "Files.Read"
        in jwt.decode(
            mock_drive.token_for(mock_drive.owner, ["Files.Read"], client_id="declared-app"),
            options={"verify_signature": False},
        )["scp"]
    )


@pytest.mark.parametrize("used_before", [True, False], ids=["remembered", "first-use"])
def test_a_jwt_is_served_until_its_exp_second_and_refused_from_it(mock_drive, used_before):
    """A token the server has verified once is remembered; the remembered one must expire on
    the virtual clock at exactly the second a first verification would refuse it."""
    from datetime import datetime, timedelta, timezone

    token = mock_drive.token_for(mock_drive.owner, lifetime=60)
    expires = datetime.fromtimestamp(
        jwt.decode(token, options={"verify_signature": False})["exp"], timezone.utc
    )
    if used_before:
        assert get(mock_drive, "/me/drive", token).status_code == 200
    mock_drive.clock.set(expires - timedelta(seconds=1))
    assert get(mock_drive, "/me/drive", token).status_code == 200
    mock_drive.clock.set(expires)
    assert_refused(
        get(mock_drive, "/me/drive", token), "Lifetime validation failed, the token is expired."
    )
    assert get(mock_drive, "/me/drive", token).status_code == 401  # and stays refused
