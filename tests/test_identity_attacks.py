"""An attacker's look at the identity surface: Entra's sign-in routes, the JWTs they issue, and
authorization by scope. Each test is an attack over HTTP that the mock must refuse, with the
state (and the journal's secrets) left as they were."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import jwt
import requests

from mockdrive.cli import default_state
from mockdrive.model.ids import EPOCH
from mockdrive.model.tokens import GRAPH_APP_ID
from mockdrive.server import MockDrive

REDIRECT = "http://localhost/cb"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_url(mock_drive) -> str:
    return f"{mock_drive.url}/{mock_drive.tenant_id}/oauth2/v2.0/token"


def authorize(mock_drive, **params: str) -> requests.Response:
    query = {"response_type": "code", "scope": "Files.Read", "redirect_uri": REDIRECT, **params}
    url = f"{mock_drive.url}/{mock_drive.tenant_id}/oauth2/v2.0/authorize"
    return requests.get(url, params=query, allow_redirects=False, timeout=10)


def code_of(answer: requests.Response) -> str:
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


# -- Onehub is not Graph: an Entra token is no Onehub token ------------------------------------
def test_onehub_refuses_a_read_only_delegated_jwt_and_creates_nothing(mock_drive):
    token = mock_drive.token_for(mock_drive.owner, scopes=["Files.Read"])
    drives = len(mock_drive.state.store.drives)
    answer = requests.post(mock_drive.url + "/workspaces", json={"name": "W"},
                           headers=bearer(token), timeout=10)  # fmt: skip
    assert answer.status_code == 401, answer.text
    assert len(mock_drive.state.store.drives) == drives


def test_onehub_refuses_an_app_only_jwt(mock_drive):
    mock_drive.app("directory-reader", secret="s", roles=["User.Read.All"])
    token = mock_drive.app_token("directory-reader")
    drives = len(mock_drive.state.store.drives)
    for method, path in (("POST", "/workspaces"), ("GET", "/workspaces")):
        answer = requests.request(method, mock_drive.url + path, json={"name": "W"},
                                  headers=bearer(token), timeout=10)  # fmt: skip
        assert answer.status_code == 401, (method, answer.text)
    assert len(mock_drive.state.store.drives) == drives


def test_onehub_still_takes_a_static_token(mock_drive):
    answer = requests.get(mock_drive.url + "/workspaces", headers=bearer(mock_drive.token),
                          timeout=10)  # fmt: skip
    assert answer.status_code == 200, answer.text


# -- the journal keeps no secret, wherever the client put it -----------------------------------
def test_secrets_in_the_token_endpoints_query_string_are_redacted(mock_drive):
    form = {"grant_type": "client_credentials", "client_id": "c1", "client_secret": "form-secret",
            "scope": "https://graph.microsoft.com/.default"}  # fmt: skip
    query = {"client_secret": "query-secret", "password": "pw", "refresh_token": "rt",
             "code": "cd", "code_verifier": "cv", "device_code": "dc",
             "client_assertion": "ca", "grant_type": "client_credentials"}  # fmt: skip
    answer = requests.post(token_url(mock_drive), params=query, data=form, timeout=10)
    assert answer.status_code == 200, answer.text
    entry = list(mock_drive.requests)[-1]
    assert entry["query"]["grant_type"] == "client_credentials"
    for name in set(query) - {"grant_type"}:
        assert entry["query"][name] == "[redacted]", name
    text = repr(entry)
    for secret in ("query-secret", "form-secret", "'pw'", "'cv'", "'dc'"):
        assert secret not in text


# -- a token is an access token for Graph, issued by this server -------------------------------
def test_an_id_token_is_no_access_token_even_for_graphs_own_client_id(mock_drive):
    """With no apps declared any client id is an app, Graph's own included: the id token's
    ``aud`` is then an audience Graph accepts, but its issuer is not the access tokens'."""
    form = {"grant_type": "password", "client_id": GRAPH_APP_ID, "scope": "openid Files.Read",
            "username": mock_drive.owner.email, "password": "any"}  # fmt: skip
    answer = requests.post(token_url(mock_drive), data=form, timeout=10)
    assert answer.status_code == 200, answer.text
    id_token = answer.json()["id_token"]
    assert jwt.decode(id_token, options={"verify_signature": False})["aud"] == GRAPH_APP_ID
    refused = requests.get(mock_drive.graph_url + "/me", headers=bearer(id_token), timeout=10)
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"]["code"] == "InvalidAuthenticationToken"
    access = answer.json()["access_token"]
    assert requests.get(mock_drive.graph_url + "/me", headers=bearer(access),
                        timeout=10).status_code == 200  # fmt: skip


def test_a_token_of_another_mockdrive_server_is_refused(mock_drive):
    """Two servers in one process, same tenant id, same seeded user ids: each signs with its
    own key, so a token of one is not the other's."""
    token = mock_drive.token_for(mock_drive.owner, scopes=["Files.ReadWrite.All"])
    with MockDrive(default_state("other-token"), clock=EPOCH) as other:
        answer = requests.get(other.graph_url + "/me/drive", headers=bearer(token), timeout=10)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"
        keys = requests.get(f"{other.url}/common/discovery/v2.0/keys", timeout=10).json()
    kid = jwt.get_unverified_header(token)["kid"]
    assert kid not in [key["kid"] for key in keys["keys"]]
    assert requests.get(mock_drive.graph_url + "/me/drive", headers=bearer(token),
                        timeout=10).status_code == 200  # fmt: skip


def test_a_token_stays_good_across_a_load_for_the_same_user_only(mock_drive):
    owner = mock_drive.owner
    token = mock_drive.token_for(owner, scopes=["Files.Read"])
    same = {"id": owner.id, "displayName": "Ada", "email": owner.email, "token": "t"}
    mock_drive.load({"users": [same], "drives": [{"id": "b!ada", "owner": owner.email}]})
    answer = requests.get(mock_drive.graph_url + "/me", headers=bearer(token), timeout=10)
    assert answer.status_code == 200, answer.text
    other = {"displayName": "Zed", "email": "zed@contoso.example", "token": "z"}
    mock_drive.load({"users": [other], "drives": [{"id": "b!zed", "owner": other["email"]}]})
    answer = requests.get(mock_drive.graph_url + "/me", headers=bearer(token), timeout=10)
    assert answer.status_code == 401, answer.text


# -- authorize: where the browser is sent -------------------------------------------------------
def test_authorize_never_redirects_to_a_script_url(mock_drive):
    """The well-known public clients (and, with no apps declared, any client) take any
    redirect URI; never one that would run in the browser instead of going somewhere."""
    for uri in ("javascript:alert(1)//", "JavaScript:alert(1)", "data:text/html,x",
                "vbscript:x"):  # fmt: skip
        answer = authorize(
            mock_drive, client_id="d50ca740-c83f-4d1b-b616-12c519384f0c", redirect_uri=uri
        )
        assert answer.status_code == 400, (uri, answer.headers.get("Location"))
        assert answer.json()["error_codes"] == [50011]
    assert authorize(mock_drive, client_id="any-client").status_code == 302


# -- a refused redemption spends nothing --------------------------------------------------------
def test_a_code_presented_by_another_client_stays_good_for_its_own(mock_drive):
    code = code_of(authorize(mock_drive, client_id="client-a"))
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    refused = requests.post(token_url(mock_drive), data={**form, "client_id": "client-b"},
                            timeout=10)  # fmt: skip
    assert (refused.status_code, refused.json()["error_codes"]) == (400, [70008])
    good = requests.post(token_url(mock_drive), data={**form, "client_id": "client-a"},
                         timeout=10)  # fmt: skip
    assert good.status_code == 200, good.text
    again = requests.post(token_url(mock_drive), data={**form, "client_id": "client-a"},
                          timeout=10)  # fmt: skip
    assert (again.status_code, again.json()["error_codes"]) == (400, [70008])


def test_a_wrong_pkce_verifier_leaves_the_code_for_the_right_one(mock_drive):
    verifier = "v" * 43
    code = code_of(authorize(mock_drive, client_id="pkce-client", code_challenge=verifier,
                             code_challenge_method="plain"))  # fmt: skip
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_id": "pkce-client"}  # fmt: skip
    wrong = requests.post(token_url(mock_drive), data={**form, "code_verifier": "w" * 43},
                          timeout=10)  # fmt: skip
    assert (wrong.status_code, wrong.json()["error_codes"]) == (400, [501481])
    right = requests.post(token_url(mock_drive), data={**form, "code_verifier": verifier},
                          timeout=10)  # fmt: skip
    assert right.status_code == 200, right.text


def test_authorize_refuses_a_redirect_uri_that_cannot_stand_in_a_header(mock_drive):
    """A control character would split the ``Location`` header: aiohttp refused to send it and
    hung up with no answer at all."""
    for uri in ("http://x/\r\nSet-Cookie: a=b", "http://x/\x00", "http://x/\u2028", "http://[::1"):
        answer = authorize(mock_drive, client_id="any-client", redirect_uri=uri)
        assert answer.status_code == 400, (uri, answer.headers.get("Location"))
        assert answer.json()["error_codes"] == [50011]


# -- the token endpoint: what a refusal leaves ---------------------------------------------------
def identity_of(mock_drive) -> dict:
    return requests.get(mock_drive.url + "/_mockdrive/identity", timeout=10).json()


def test_refused_sign_ins_add_no_app_to_the_tenant(mock_drive):
    """With no apps declared any client id is an app, once it signs in: a refused request (an
    unknown refresh token, an unknown code, a bad device code, a bad scope) leaves none behind,
    whatever its size (each could hold a 60 KB client id)."""
    before = identity_of(mock_drive)
    refusals = (
        {"grant_type": "refresh_token", "refresh_token": "nope"},
        {"grant_type": "authorization_code", "code": "nope", "redirect_uri": REDIRECT},
        {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": "nope"},
        {"grant_type": "password", "username": "nobody@contoso.example", "password": "x",
         "scope": "Files.Read"},
        {"grant_type": "client_credentials", "client_secret": "s", "scope": "Files.Read"},
    )  # fmt: skip
    for index, form in enumerate(refusals):
        client_id = f"stranger-{index}-" + "c" * 60_000
        answer = requests.post(token_url(mock_drive), data={**form, "client_id": client_id},
                               timeout=10)  # fmt: skip
        assert answer.status_code in (400, 401), answer.text
    answer = authorize(mock_drive, client_id="stranger-authorize", response_type="token")
    assert "error=" in answer.headers["Location"]
    assert identity_of(mock_drive) == before


def test_a_refresh_refused_for_a_scope_not_consented_keeps_the_refresh_token(mock_drive):
    owner = mock_drive.owner
    consent = mock_drive.state.entra.consent
    mock_drive.server.call(lambda: consent.update({owner.id: ("Files.Read",)}))
    refresh = mock_drive.refresh_token_for(owner, "sync-client", scopes=["Files.Read"])
    form = {"grant_type": "refresh_token", "client_id": "sync-client", "refresh_token": refresh}
    refused = requests.post(token_url(mock_drive), data={**form, "scope": "Files.ReadWrite.All"},
                            timeout=10)  # fmt: skip
    assert (refused.status_code, refused.json()["error_codes"]) == (400, [65001])
    bad_scope = requests.post(token_url(mock_drive), data={**form, "scope": "https://x.example/a"},
                              timeout=10)  # fmt: skip
    assert (bad_scope.status_code, bad_scope.json()["error_codes"]) == (400, [70011])
    good = requests.post(token_url(mock_drive), data={**form, "scope": "Files.Read"}, timeout=10)
    assert good.status_code == 200, good.text
    assert good.json()["refresh_token"] != refresh
    kept = requests.post(token_url(mock_drive), data=form, timeout=10)  # redeemed: still good
    assert kept.status_code == 200, kept.text
    assert kept.json()["scope"] == "Files.Read offline_access"


def test_graphs_resource_with_no_scope_name_is_no_scope(mock_drive):
    form = {"grant_type": "password", "client_id": "c", "username": mock_drive.owner.email,
            "password": "x"}  # fmt: skip
    for scope in (
        "https://graph.microsoft.com/",
        f"{GRAPH_APP_ID}/",
        "openid https://graph.microsoft.com/",
    ):
        answer = requests.post(token_url(mock_drive), data={**form, "scope": scope}, timeout=10)
        assert (answer.status_code, answer.json().get("error_codes")) == (400, [70011]), scope


# -- the login hosts serve sign-in only ----------------------------------------------------------
def test_a_login_host_in_capitals_serves_no_graph_route(mock_drive):
    """Host names are case-insensitive: ``LOGIN.microsoftonline.com`` is Entra's host too."""
    for host in ("login.microsoftonline.com", "LOGIN.microsoftonline.com", "Login.Microsoft.Com"):
        answer = requests.get(mock_drive.graph_url + "/me", headers={
            "Host": host, **bearer(mock_drive.token)}, timeout=10)  # fmt: skip
        assert answer.headers["Content-Type"].startswith("text/plain"), (host, answer.text)
        assert "userPrincipalName" not in answer.text


def test_an_undeclared_apps_token_outlives_a_load_as_a_users_does(mock_drive):
    """With no apps declared any client id is an app: its token, like a user's, stays good
    across a load of a state with no apps; once the state declares apps it is refused."""
    token = mock_drive.app_token("backup-job")
    owner = mock_drive.owner
    same = {"id": owner.id, "displayName": "Ada", "email": owner.email, "token": "t"}
    scenario = {"users": [same], "drives": [{"id": "b!ada", "owner": owner.email}]}
    mock_drive.load(scenario)
    answer = requests.get(mock_drive.graph_url + "/drives/b!ada/root", headers=bearer(token),
                          timeout=10)  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert list(mock_drive.requests)[-1]["caller"] == "backup-job"
    mock_drive.load({**scenario, "apps": [{"clientId": "another-app"}]})
    answer = requests.get(mock_drive.graph_url + "/drives/b!ada/root", headers=bearer(token),
                          timeout=10)  # fmt: skip
    assert answer.status_code == 401, answer.text


# -- a read scope never writes ---------------------------------------------------------------------
def test_a_read_only_token_cannot_redeem_a_link_into_a_membership(mock_drive):
    """``Prefer: redeemSharingLink`` on a GET makes the caller a member of the link for good: a
    write, which ``Files.Read`` does not allow (reading through the link still does)."""
    mock_drive.add_file("/Plan.txt", "plan")
    walt = mock_drive.add_user("Walt", "walt@contoso.example")
    link = mock_drive.session.post("/me/drive/root:/Plan.txt:/createLink",
                                   json={"type": "view", "scope": "organization"})  # fmt: skip
    share = link.json()["shareId"]
    url = f"{mock_drive.graph_url}/shares/{share}/driveItem"
    before = mock_drive.session.get("/me/drive/root:/Plan.txt:/permissions").json()
    read_only = bearer(mock_drive.token_for(walt, scopes=["Files.Read"]))
    refused = requests.get(url, headers={**read_only, "Prefer": "redeemSharingLink"}, timeout=10)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "accessDenied"
    assert mock_drive.session.get("/me/drive/root:/Plan.txt:/permissions").json() == before
    assert requests.get(url, headers=read_only, timeout=10).status_code == 200
    writer = bearer(mock_drive.token_for(walt, scopes=["Files.ReadWrite"]))
    redeemed = requests.get(url, headers={**writer, "Prefer": "redeemSharingLink"}, timeout=10)
    assert redeemed.status_code == 200, redeemed.text
    assert mock_drive.session.get("/me/drive/root:/Plan.txt:/permissions").json() != before


# -- export and reload ------------------------------------------------------------------------
TENANT = "4d6f636b-0000-4000-8000-0000000000aa"
IDENTITY_SCENARIO = {
    "tenant": {"id": TENANT, "domain": "fabrikam.example"},
    "users": [
        {"displayName": "Ada", "email": "ada@fabrikam.example", "token": "ada-token",
         "password": "correct horse"},
        {"displayName": "Bob", "email": "bob@fabrikam.example", "consent": ["Files.Read"]},
        {"displayName": "Cy", "email": "cy@fabrikam.example", "consent": []},
    ],
    "drives": [{"id": "b!ada", "owner": "ada@fabrikam.example"},
               {"id": "b!bob", "owner": "bob@fabrikam.example"}],
    "apps": [
        {"clientId": "job", "clientSecret": "job-secret", "displayName": "Backup job",
         "roles": ["Sites.Selected"], "drives": ["b!ada"]},
        {"clientId": "web-app", "redirectUris": ["https://app.example/signed-in"]},
        {"clientId": "reader", "clientSecret": "r", "roles": ["Files.Read.All"]},
    ],
}  # fmt: skip


def identity_answers(mock_drive) -> list:
    """What the tenant answers: each sign-in's status, error codes and scopes; each app token's
    reach over the drives."""
    url = f"{mock_drive.url}/{TENANT}/oauth2/v2.0/token"
    forms = [
        {"grant_type": "password", "client_id": "web-app", "username": user,
         "password": password, "scope": scope}
        for user in ("ada@fabrikam.example", "bob@fabrikam.example", "cy@fabrikam.example")
        for password in ("correct horse", "wrong")
        for scope in ("Files.Read", "Files.ReadWrite.All", ".default", "openid")
    ] + [
        {"grant_type": "client_credentials", "client_id": client, "client_secret": secret,
         "scope": "https://graph.microsoft.com/.default"}
        for client in ("job", "web-app", "reader", "unknown")
        for secret in ("job-secret", "r", "", "x")
    ]  # fmt: skip
    answers: list = []
    for form in forms:
        answer = requests.post(url, data=form, timeout=10)
        body = answer.json()
        answers.append((answer.status_code, body.get("error_codes"), body.get("scope")))
        token = body.get("access_token")
        if token and form["grant_type"] == "client_credentials":
            for drive in ("b!ada", "b!bob"):
                reach = requests.get(f"{mock_drive.graph_url}/drives/{drive}/root",
                                     headers=bearer(token), timeout=10)  # fmt: skip
                answers.append((drive, reach.status_code))
    for redirect in ("https://app.example/signed-in", "https://elsewhere.example/"):
        answer = authorize(mock_drive, client_id="web-app", redirect_uri=redirect,
                           login_hint="bob@fabrikam.example", scope="Files.ReadWrite")  # fmt: skip
        location = answer.headers.get("Location", "")
        answers.append((answer.status_code, parse_qs(urlsplit(location).query).get("error")))
    return answers


def test_the_tenant_answers_the_same_after_an_export_and_reload(mock_drive):
    mock_drive.load(IDENTITY_SCENARIO)
    before = identity_answers(mock_drive)
    codes = {code for answer in before if isinstance(answer[1], list) for code in answer[1]}
    assert {50126, 65001, 7000215, 700016} <= codes, codes  # every kind of refusal is probed
    assert ("b!ada", 200) in before and ("b!bob", 404) in before  # Sites.Selected's reach
    exported = requests.get(mock_drive.url + "/_mockdrive/state", timeout=10)
    assert exported.status_code == 200
    loaded = requests.put(mock_drive.url + "/_mockdrive/state", data=exported.content,
                          headers={"Content-Type": "application/json"}, timeout=10)  # fmt: skip
    assert loaded.status_code == 200, loaded.text
    again = requests.get(mock_drive.url + "/_mockdrive/state", timeout=10)
    assert again.content == exported.content
    assert identity_answers(mock_drive) == before


# -- forgeries Graph refuses (coverage: refused before and after the fixes above) --------------
def b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(claims: dict, header: dict, signature: bytes = b"") -> str:
    import json

    parts = (json.dumps(header).encode(), json.dumps(claims).encode())
    return ".".join([*map(b64, parts), b64(signature)])


def test_forged_tokens_are_refused(mock_drive):
    import hashlib
    import hmac

    token = mock_drive.token_for(mock_drive.owner, scopes=["Files.Read"])
    claims = jwt.decode(token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(token)["kid"]
    header, _, signature = token.split(".")
    jwk = requests.get(f"{mock_drive.url}/common/discovery/v2.0/keys", timeout=10).json()
    public = json.dumps(jwk["keys"][0]).encode()
    wide = {**claims, "scp": "Files.ReadWrite.All", "exp": 2**63}
    signing_input = ".".join(map(b64, (json.dumps({"alg": "HS256", "kid": kid}).encode(),
                                       json.dumps(wide).encode())))  # fmt: skip
    hs256 = signing_input + "." + b64(hmac.new(public, signing_input.encode(),
                                               hashlib.sha256).digest())  # fmt: skip
    tokens = {
        "alg none": forged(wide, {"alg": "none", "typ": "JWT"}),
        "alg none, our kid": forged(wide, {"alg": "none", "kid": kid}),
        "HS256 keyed with the JWKS": hs256,
        "another kid": forged(wide, {"alg": "RS256", "kid": "not-ours"}, b"x" * 256),
        "our signature, other claims": f"{header}.{b64(json.dumps(wide).encode())}.{signature}",
    }
    for name, value in tokens.items():
        answer = requests.get(mock_drive.graph_url + "/me/drive", headers=bearer(value),
                              timeout=10)  # fmt: skip
        assert answer.status_code == 401, (name, answer.text)
        assert answer.json()["error"]["code"] == "InvalidAuthenticationToken", name


def test_authorize_sends_the_browser_to_a_percent_encoded_location(mock_drive):
    """A redirect URI with a space or a non-ASCII letter went out raw: UTF-8 bytes in the
    ``Location`` header, which clients read as Latin-1 (``Ã©``)."""
    uri = "https://app.example/signed in/é?x=%41"
    answer = authorize(mock_drive, client_id="any-client", redirect_uri=uri)
    location = answer.headers["Location"]
    assert location.startswith("https://app.example/signed%20in/%C3%A9?x=%41&code="), location
    code = parse_qs(urlsplit(location).query)["code"][0]
    form = {"grant_type": "authorization_code", "client_id": "any-client", "code": code,
            "redirect_uri": uri}  # fmt: skip
    assert requests.post(token_url(mock_drive), data=form, timeout=10).status_code == 200


# -- PKCE: a verifier is unreserved ASCII, 43 to 128 characters (RFC 7636) ----------------------
def s256(verifier: str) -> str:
    import base64
    import hashlib

    digest = hashlib.sha256(verifier.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_a_non_ascii_pkce_verifier_is_refused_not_reduced(mock_drive):
    """The verifier was hashed as ASCII with ``?`` for every other letter: ``é`` then stood
    for ``ü`` and for ``?`` itself, so a verifier that is not the client's redeemed the code."""
    right = "?" * 43  # what a non-ASCII verifier was reduced to (itself no verifier RFC 7636 has)
    code = code_of(authorize(mock_drive, client_id="pkce-ascii", code_challenge=s256(right),
                             code_challenge_method="S256"))  # fmt: skip
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_id": "pkce-ascii"}  # fmt: skip
    for verifier in ("é" * 43, "ü" * 43, right, "a" * 42, "a" * 129, "a b" + "c" * 41):
        answer = requests.post(token_url(mock_drive), data={**form, "code_verifier": verifier},
                               timeout=10)  # fmt: skip
        assert answer.status_code == 400, (verifier, answer.text)
        assert (answer.json()["error"], answer.json()["error_codes"]) == (
            "invalid_grant", [501481]), verifier  # fmt: skip
    good = "a-Z.0_~" * 6 + "x"
    code = code_of(authorize(mock_drive, client_id="pkce-ascii", code_challenge=s256(good),
                             code_challenge_method="S256"))  # fmt: skip
    answer = requests.post(token_url(mock_drive), data={**form, "code": code,
                           "code_verifier": good}, timeout=10)  # fmt: skip
    assert answer.status_code == 200, answer.text


def test_authorize_refuses_a_code_challenge_pkce_cannot_have(mock_drive):
    """A challenge no RFC 7636 verifier can match (plain: the verifier's own grammar; S256: 43
    base64url characters) is Entra's 501491 at authorize, back to the redirect URI."""
    for method, challenge in (("S256", "é" * 43), ("S256", "a" * 44), ("plain", "a" * 42),
                              ("plain", "é" * 43)):  # fmt: skip
        answer = authorize(mock_drive, client_id="pkce-ascii", code_challenge=challenge,
                           code_challenge_method=method)  # fmt: skip
        assert answer.status_code == 302, answer.text
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        assert "code" not in query, (method, challenge)
        assert query["error_codes"] == ["501491"], (method, challenge, query)


def test_a_declared_app_with_no_redirect_uri_sends_the_browser_nowhere(mock_drive):
    """Entra refuses a sign-in for an app that registered no reply address (500113): the
    declared app took any redirect URI, an attacker's included, and handed it the code."""
    mock_drive.app("no-reply-app", secret="s")
    answer = authorize(mock_drive, client_id="no-reply-app", redirect_uri="https://evil.example/")
    assert answer.status_code == 400, answer.headers.get("Location")
    assert "Location" not in answer.headers
    body = answer.json()
    assert (body["error"], body["error_codes"]) == ("invalid_request", [500113])
    assert "No reply address is registered for the application" in body["error_description"]
    mock_drive.app("with-reply", redirect_uris=[REDIRECT])
    assert authorize(mock_drive, client_id="with-reply").status_code == 302
    rclone = "b15665d9-eda6-4092-8539-0eec376afd59"  # well known, undeclared: any redirect URI
    assert authorize(mock_drive, client_id=rclone, redirect_uri="http://127.0.0.1:53682/"
                     ).status_code == 302  # fmt: skip


# -- the access log keeps no secret either --------------------------------------------------------
def test_the_access_log_redacts_secrets_in_a_sign_in_query_string(caplog):
    """``--log-level info`` logs each request line: a secret a client sent in the query string
    (Entra reads the token endpoint's fields from either) was written out whole."""
    import logging

    secrets_sent = {"client_secret": "query-secret", "password": "pass-word",
                    "refresh_token": "rt-value", "code": "code-value",
                    "code_verifier": "verifier-value", "device_code": "device-value",
                    "client_assertion": "assertion-value"}  # fmt: skip
    with (
        caplog.at_level(logging.INFO, logger="aiohttp.access"),
        MockDrive(default_state("access-log-owner"), access_log=True) as server,
    ):
        url = f"{server.url}/common/oauth2/v2.0/token"
        form = {"grant_type": "client_credentials", "client_id": "c1", "client_secret": "s",
                "scope": "https://graph.microsoft.com/.default"}  # fmt: skip
        answer = requests.post(url, params={**secrets_sent, "grant_type": "client_credentials"},
                               data=form, timeout=10)  # fmt: skip
        assert answer.status_code == 200, answer.text
        authorize_url = f"{server.url}/common/oauth2/v2.0/authorize"
        requests.get(authorize_url, params={"client_id": "c1", "code": "code-in-authorize"},
                     allow_redirects=False, timeout=10)  # fmt: skip
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any("/oauth2/v2.0/token?" in line for line in lines), lines
    text = "\n".join(lines)
    for value in (*secrets_sent.values(), "code-in-authorize"):
        assert value not in text, value
    assert "grant_type=client_credentials" in text and "client_id=c1" in text


def test_the_access_log_redacts_secrets_in_the_referer_it_logs(caplog):
    """The access log writes each request's ``Referer`` too: the page a browser came from, such
    as a redirect URI holding its ``code``, was written out whole."""
    import logging

    with (
        caplog.at_level(logging.INFO, logger="aiohttp.access"),
        MockDrive(default_state("referer-owner"), access_log=True) as server,
    ):
        referers = ["http://localhost/cb?state=s1&code=referer-code",
                    "http://localhost/cb?client%5Fsecret=referer-secret"]  # fmt: skip
        for referer in referers:
            answer = requests.get(f"{server.url}/_mockdrive/health",
                                  headers={"Referer": referer}, timeout=10)  # fmt: skip
            assert answer.status_code == 200
        requests.get(f"{server.url}/_mockdrive/health?code=line-code",
                     headers={"Referer": "http://localhost/plain?page=2"}, timeout=10)  # fmt: skip
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "aiohttp.access")
    for value in ("referer-code", "referer-secret", "line-code"):
        assert value not in text, text
    assert "state=s1" in text and "http://localhost/plain?page=2" in text, text


def test_a_request_head_refused_unparsed_leaves_no_secret_in_the_log(mock_drive, caplog):
    """aiohttp refuses a request line or a header over 8,190 bytes, or a header holding a NUL,
    before any route, and logged the start of the line it refused with its traceback: a query's
    ``client_secret`` or a bearer token reached the log whole."""
    import logging
    import socket

    token_path = "/common/oauth2/v2.0/token?client_secret=line-secret&pad=" + "a" * 9000
    heads = [
        f"GET {token_path} HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /v1.0/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer long-token"
        + "b" * 9000
        + "\r\n\r\n",
        "GET /v1.0/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nul-token\x00\r\n\r\n",
    ]
    address = (mock_drive.server.host, mock_drive.server.port)
    with caplog.at_level(logging.DEBUG, logger="aiohttp.server"):
        for head in heads:
            with socket.create_connection(address, timeout=10) as sock:
                sock.sendall(head.encode("latin-1"))
                assert sock.recv(65536).startswith(b"HTTP/1.0 400 "), head[:60]
    refused = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(refused) == 3, [r.getMessage() for r in refused]
    assert "LineTooLong 400" in refused[0].getMessage()
    assert caplog.text.count("the refused bytes are not logged") == 3, caplog.text
    for secret in ("line-secret", "long-token", "nul-token"):
        assert secret not in caplog.text, secret


def test_the_application_served_by_an_embedder_logs_no_refused_head_either(caplog):
    """``build_app`` served by someone else's runner (``mock_drive_app`` with aiohttp's test
    client, an embedding program) logs on the same aiohttp logger: only ``MockDrive``'s start
    put the filter there, so in a process that never started one the token reached the log."""
    import asyncio
    import logging

    from aiohttp import web

    from mockdrive.api.app import build_app

    logger = logging.getLogger("aiohttp.server")
    kept = list(logger.filters)
    for kept_filter in kept:  # as in a process where no MockDrive ever started
        logger.removeFilter(kept_filter)

    async def refused_once() -> bytes:
        runner = web.AppRunner(build_app(MockDrive(default_state()).backend))
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            port = runner.addresses[0][1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /v1.0/me HTTP/1.1\r\nHost: x\r\n")
            writer.write(b"Authorization: Bearer embedded-token\x01\r\n\r\n")
            answer = await reader.read(100)
            writer.close()
            return answer
        finally:
            await runner.cleanup()

    try:
        with caplog.at_level(logging.DEBUG, logger="aiohttp.server"):
            assert asyncio.run(refused_once()).startswith(b"HTTP/1.0 400 ")
    finally:
        for kept_filter in kept:
            logger.addFilter(kept_filter)
    assert "the refused bytes are not logged" in caplog.text, caplog.text
    assert "embedded-token" not in caplog.text


# -- what a sign-in keeps is bounded --------------------------------------------------------------
def test_a_scope_no_graph_permission_could_have_is_refused_where_it_would_be_kept(mock_drive):
    """Any word was a scope: a 60 KB one was kept in each refresh token, code and device code
    (10,000 of each). Entra refuses a scope it does not know (70011)."""
    owner = mock_drive.owner.email
    for scope in ("F" * 60_000, "Files.Read " + "x" * 101, "Files.Read <script>", "a\x00b",
                  " ".join(f"Scope.{n}" for n in range(51))):  # fmt: skip
        forms = ({"grant_type": "password", "username": owner, "password": "x", "scope": scope},)
        for form in forms:
            answer = requests.post(token_url(mock_drive), data={**form, "client_id": "c"},
                                   timeout=10)  # fmt: skip
            assert (answer.status_code, answer.json()["error"]) == (400, "invalid_scope"), scope
            assert answer.json()["error_codes"] == [70011]
        device = requests.post(f"{mock_drive.url}/common/oauth2/v2.0/devicecode",
                               data={"client_id": "c", "scope": scope}, timeout=10)  # fmt: skip
        assert device.json().get("error_codes") == [70011], scope[:40]
        if len(scope) < 4000:  # what fits in a request line
            answer = authorize(mock_drive, client_id="c", scope=scope)
            assert "code" not in parse_qs(urlsplit(answer.headers["Location"]).query), scope
    entra = mock_drive.state.entra
    assert not entra.refresh_tokens and not entra.auth_codes and not entra.device_codes
    fine = " ".join(f"https://graph.microsoft.com/Scope.{n}" for n in range(49))
    answer = requests.post(token_url(mock_drive), data={"grant_type": "password", "client_id": "c",
                           "username": owner, "password": "x",
                           "scope": fine + " offline_access"}, timeout=10)  # fmt: skip
    assert answer.status_code == 200, answer.text


def test_the_sign_ins_kept_are_bounded_in_text_as_well_as_in_number(mock_drive):
    """Codes kept their redirect URI (up to a request line, 8 KB) and refresh tokens their
    client id (up to a form, 64 KB), 10,000 of each: the oldest now go once a table holds a
    million characters, and a made-up client id is at most 128 characters."""
    kept_chars = 1_000_000  # docs/number-ranges.md
    long_client = "c" * 129
    answer = requests.post(token_url(mock_drive), data={"grant_type": "password",
                           "client_id": long_client, "username": mock_drive.owner.email,
                           "password": "x", "scope": "offline_access"}, timeout=10)  # fmt: skip
    assert (answer.status_code, answer.json()["error_codes"]) == (400, [700016])
    redirect = "http://localhost/" + "r" * 7000
    first = code_of(authorize(mock_drive, client_id="any-client", redirect_uri=redirect))
    for _ in range(kept_chars // 7000 + 5):
        authorize(mock_drive, client_id="any-client", redirect_uri=redirect)
    codes = mock_drive.state.entra.auth_codes
    assert sum(len(k) + len(c.redirect_uri) for k, c in list(codes.items())) <= kept_chars
    form = {"grant_type": "authorization_code", "client_id": "any-client", "code": first,
            "redirect_uri": redirect}  # fmt: skip
    answer = requests.post(token_url(mock_drive), data=form, timeout=10)
    assert (answer.status_code, answer.json()["error_codes"]) == (400, [70008])  # the oldest


# -- what sign-ins left, and the device-code switch, outlive an export and reload ---------------
def sign_in_answers(server, refresh: str, code: str, verifier: str, device: str) -> list:
    """Each pending sign-in presented again, then a new device code polled to its end: the
    status, error codes and scopes of every answer, and the device-code switch."""
    url = f"{server.url}/common/oauth2/v2.0/token"
    device_grant = "urn:ietf:params:oauth:grant-type:device_code"
    forms = [
        {"grant_type": "refresh_token", "client_id": "sync-client", "refresh_token": refresh},
        {"grant_type": "refresh_token", "client_id": "sync-client", "refresh_token": refresh},
        {"grant_type": "authorization_code", "client_id": "web-client", "code": code,
         "redirect_uri": REDIRECT, "code_verifier": verifier},
        *[{"grant_type": device_grant, "client_id": "cli", "device_code": device}] * 3,
    ]  # fmt: skip
    started = requests.post(
        f"{server.url}/common/oauth2/v2.0/devicecode",
        data={"client_id": "cli", "scope": "Files.Read"},
        timeout=10,
    )
    forms += [{"grant_type": device_grant, "client_id": "cli",
               "device_code": started.json()["device_code"]}] * 4  # fmt: skip
    answers: list = [started.json()["interval"]]
    for form in forms:
        body = requests.post(url, data=form, timeout=10).json()
        answers.append((body.get("error"), body.get("error_codes"), body.get("scope")))
        if "access_token" in body:
            claims = jwt.decode(body["access_token"], options={"verify_signature": False})
            answers.append(claims["upn"])
    answers.append(requests.get(server.url + "/_mockdrive/identity", timeout=10
                                ).json()["deviceFlow"])  # fmt: skip
    return answers


def test_sign_ins_and_the_device_flow_switch_answer_the_same_after_an_export_and_reload(
    mock_drive,
):
    """A refresh token (rclone's, the onedrive client's), a code not yet redeemed, a device code
    half-way through its polls and the device-code switch were forgotten by a reload of the
    export: the next refresh failed with 9002313, and device codes were approved at once."""
    bob = mock_drive.add_user("Bob", "bob@contoso.example")
    owner = mock_drive.owner.email
    sign_in = requests.post(token_url(mock_drive), data={"grant_type": "password",
                            "client_id": "sync-client", "username": owner, "password": "x",
                            "scope": "Files.ReadWrite offline_access"}, timeout=10)  # fmt: skip
    refresh = sign_in.json()["refresh_token"]
    verifier = "v" * 43
    code = code_of(authorize(mock_drive, client_id="web-client", code_challenge=s256(verifier),
                             code_challenge_method="S256", nonce="n-1"))  # fmt: skip
    switch = {"pending": 2, "outcome": "decline", "user": bob.email, "interval": 0}
    assert requests.put(mock_drive.url + "/_mockdrive/identity/device-flow", json=switch,
                        timeout=10).status_code == 200  # fmt: skip
    device = requests.post(
        f"{mock_drive.url}/common/oauth2/v2.0/devicecode",
        data={"client_id": "cli", "scope": "Files.Read"},
        timeout=10,
    )
    device_code = device.json()["device_code"]
    poll = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": "cli",
            "device_code": device_code}  # fmt: skip
    assert requests.post(token_url(mock_drive), data=poll, timeout=10).json()["error"] == (
        "authorization_pending")  # fmt: skip
    exported = requests.get(mock_drive.url + "/_mockdrive/state", timeout=10).content
    for secret in (refresh, code, device_code):
        assert secret.encode() in exported  # as client secrets and passwords are
    with MockDrive(default_state("reloaded-owner")) as other:
        loaded = requests.put(other.url + "/_mockdrive/state", data=exported,
                              headers={"Content-Type": "application/json"}, timeout=10)  # fmt: skip
        assert loaded.status_code == 200, loaded.text
        again = requests.get(other.url + "/_mockdrive/state", timeout=10).content
        assert again == exported
        after = sign_in_answers(other, refresh, code, verifier, device_code)
    before = sign_in_answers(mock_drive, refresh, code, verifier, device_code)
    assert after == before
    # presented twice, good twice (a redeemed refresh token stays good)
    assert before[1] == before[3] == (None, None, "Files.ReadWrite offline_access")
    assert before[0] == 0 and before[-1]["pending"] == 2 and before[-1]["outcome"] == "decline"


def test_a_loaded_sign_in_names_its_user_by_id_and_upn_together(mock_drive):
    """A refresh token is its user's: a scenario whose user id now belongs to someone else
    (another e-mail) is refused, as an access token for that pair is."""
    owner = mock_drive.owner
    refresh = mock_drive.refresh_token_for(owner, "sync-client")
    exported = requests.get(mock_drive.url + "/_mockdrive/state", timeout=10).json()
    assert [t["value"] for t in exported["signIns"]["refreshTokens"]] == [refresh]
    exported["signIns"]["refreshTokens"][0]["upn"] = "someone-else@contoso.example"
    loaded = requests.put(mock_drive.url + "/_mockdrive/state", json=exported, timeout=10)
    assert loaded.status_code == 400, loaded.text
    form = {"grant_type": "refresh_token", "client_id": "sync-client", "refresh_token": refresh}
    assert requests.post(token_url(mock_drive), data=form, timeout=10).status_code == 200


def test_a_malformed_sign_in_in_a_loaded_state_is_a_400(mock_drive):
    exported = requests.get(mock_drive.url + "/_mockdrive/state", timeout=10).json()
    user = exported["users"][0]
    grant = {"value": "rt", "userId": user["id"], "upn": user["email"], "clientId": "c",
             "scopes": ["Files.Read"], "expires": "2024-01-01T00:00:00Z"}  # fmt: skip
    for bad in ([], {"other": 1}, {"deviceFlow": {"pending": -1}}, {"refreshTokens": [5]},
                {"refreshTokens": [{**grant, "scopes": ["x" * 200]}]},
                {"refreshTokens": [{**grant, "expires": "nope"}]},
                {"refreshTokens": [grant, grant]},
                {"codes": [{**grant, "redirectUri": REDIRECT, "challenge": "é"}]},
                {"deviceCodes": [{**grant, "userCode": "X", "outcome": "approve",
                                  "pending": True}]}):  # fmt: skip
        answer = requests.put(mock_drive.url + "/_mockdrive/state",
                              json={**exported, "signIns": bad}, timeout=10)  # fmt: skip
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.json()["error"]["code"] == "invalidRequest"
