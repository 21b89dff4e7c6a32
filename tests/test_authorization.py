"""The authorization matrix: every route by every kind of caller → the expected allow or deny.

Callers: no token, an unknown token, a stranger (in the directory, no grant), a reader and a
writer of /Projects, the drive's owner, and the owner of another drive. Existence must not leak
(404) to those who hold nothing; a known caller without the role gets 403. The figures for
RELIABILITY.md (cases, escapes) are printed by the matrix test.
"""

from __future__ import annotations

import json

import requests

from mockdrive.cli import default_state
from mockdrive.pytest_plugin import OWNER_TOKEN

CALLERS = ("none", "unknown", "stranger", "reader", "writer", "owner", "other_owner")
TOKENS = {"none": None, "unknown": "no-such-token", "stranger": "sam-token",
          "reader": "rita-token", "writer": "walt-token", "owner": "owner-token",
          "other_owner": "olga-token"}  # fmt: skip
DENY_ALL = (401, 401, 404, 404, 404, 404, 404)


def row(reader, writer, owner):
    return (401, 401, 404, reader, writer, owner, 404)


INVITE = {"recipients": [{"email": "x@ext.example"}], "roles": ["read"]}
# (name, method, path, json body, expected status per caller). {d} drive, {p} /Projects id,
# {perm} Bob's permission on /Projects, {f} Onehub id of /Projects, {rm} its rolemap for Bob,
# {rrm} the reader's own.
ROUTES = [
    ("GET drive", "GET", "/v1.0/drives/{d}", None, row(200, 200, 200)),
    ("GET root", "GET", "/v1.0/drives/{d}/root", None, row(404, 404, 200)),
    ("GET item", "GET", "/v1.0/drives/{d}/items/{p}", None, row(200, 200, 200)),
    ("GET item by path", "GET", "/v1.0/drives/{d}/root:/Projects/Plan.docx", None,
     row(200, 200, 200)),
    ("GET children", "GET", "/v1.0/drives/{d}/items/{p}/children", None, row(200, 200, 200)),
    ("POST children", "POST", "/v1.0/drives/{d}/items/{p}/children", {"name": "N", "folder": {}},
     row(403, 201, 201)),
    ("POST root children", "POST", "/v1.0/drives/{d}/root/children", {"name": "N", "folder": {}},
     row(404, 404, 201)),
    ("GET content", "GET", "/v1.0/drives/{d}/root:/Projects/Plan.docx:/content", None,
     row(200, 200, 200)),
    ("PUT content", "PUT", "/v1.0/drives/{d}/root:/Projects/Plan.docx:/content", "raw",
     row(403, 200, 200)),
    ("PUT new file", "PUT", "/v1.0/drives/{d}/root:/Projects/new.txt:/content", "raw",
     row(403, 201, 201)),
    ("DELETE item", "DELETE", "/v1.0/drives/{d}/root:/Projects/Plan.docx", None,
     row(403, 204, 204)),
    ("POST invite", "POST", "/v1.0/drives/{d}/items/{p}/invite", INVITE, row(403, 200, 200)),
    ("POST action.invite", "POST", "/v1.0/drives/{d}/items/{p}/action.invite",
     {"recipients": ["x@ext.example"], "roles": ["read"]}, row(403, 200, 200)),
    ("GET permissions", "GET", "/v1.0/drives/{d}/items/{p}/permissions", None, row(200, 200, 200)),
    ("GET permission", "GET", "/v1.0/drives/{d}/items/{p}/permissions/{perm}", None,
     row(404, 200, 200)),  # a reader sees only their own permissions
    ("PATCH permission", "PATCH", "/v1.0/drives/{d}/items/{p}/permissions/{perm}",
     {"roles": ["write"]}, row(403, 200, 200)),
    ("DELETE permission", "DELETE", "/v1.0/drives/{d}/items/{p}/permissions/{perm}", None,
     row(403, 204, 204)),
    # /Projects/Private stops inheriting: only the drive owner reaches it, and only the owner
    # may delete /Projects with it
    ("GET behind a stop in inheritance", "GET", "/v1.0/drives/{d}/root:/Projects/Private", None,
     row(404, 404, 200)),
    ("DELETE a folder holding one", "DELETE", "/v1.0/drives/{d}/items/{p}", None,
     row(403, 403, 204)),
    ("Onehub GET behind a stop", "GET", "/folders/{priv}", None, row(404, 404, 200)),
    ("Onehub GET workspaces", "GET", "/workspaces", None, (401, 401, 200, 200, 200, 200, 200)),
    ("Onehub GET workspace", "GET", "/workspaces/{ws}", None, row(404, 404, 200)),
    ("Onehub GET folder", "GET", "/folders/{f}", None, row(200, 200, 200)),
    ("Onehub POST folder", "POST", "/workspaces/{ws}/folders/{f}/folders",
     {"folder": {"filename": "N"}}, row(403, 201, 201)),
    ("Onehub POST invitation", "POST", "/folders/{f}/invitations",
     {"invitation": {"emails": "x@ext.example"}}, row(403, 403, 201)),
    ("Onehub GET rolemaps", "GET", "/folders/{f}/rolemaps", None, row(403, 403, 200)),
    # Someone else's rolemap is hidden from all but Moderators, as in the list route and Graph
    ("Onehub GET rolemap", "GET", "/rolemaps/{rm}", None, row(404, 404, 200)),
    ("Onehub PUT rolemap", "PUT", "/rolemaps/{rm}", {"role_name": "Viewer"}, row(404, 404, 200)),
    ("Onehub DELETE rolemap", "DELETE", "/rolemaps/{rm}", None, row(404, 404, 204)),
    # The reader's own rolemap: they may see it, not change it
    ("Onehub GET own rolemap", "GET", "/rolemaps/{rrm}", None, row(200, 404, 200)),
    ("Onehub PUT own rolemap", "PUT", "/rolemaps/{rrm}", {"role_name": "Viewer"},
     row(403, 404, 200)),
]  # fmt: skip
ALLOWED = {200, 201, 204}


def arrange(mock_drive) -> dict:
    """A fresh state: Ada's drive with /Projects/Plan.docx; Rita reads and Walt writes
    /Projects; Bob holds the permission that gets changed; Olga owns a drive of her own; Sam
    has nothing. Returns the ids the paths need."""
    server = mock_drive.server
    server.reset(default_state(OWNER_TOKEN))
    mock_drive.add_file("/Projects/Plan.docx", "plan")
    mock_drive.add_file("/Projects/Private/Notes.txt", "notes")
    mock_drive.stop_inheriting("/Projects/Private")
    users = {name: mock_drive.add_user(name.title(), f"{name}@contoso.example")
             for name in ("rita", "walt", "bob", "olga", "sam")}  # fmt: skip
    mock_drive.grant("/Projects", users["walt"], ["write"])
    rita = mock_drive.grant("/Projects", users["rita"], ["read"])
    bob = mock_drive.grant("/Projects", users["bob"], ["read"])
    mock_drive.add_drive(users["olga"], name="Olga's")
    return {
        "d": mock_drive.drive.id,
        "p": mock_drive.item("/Projects").id,
        "perm": bob.id,
        "ws": mock_drive.workspace_id(),
        "f": mock_drive.onehub_id("/Projects"),
        "priv": mock_drive.onehub_id("/Projects/Private"),
        "rm": server.call(lambda: mock_drive.state.onehub.number("rolemap", bob.id)),
        "rrm": server.call(lambda: mock_drive.state.onehub.number("rolemap", rita.id)),
    }


def test_matrix(mock_drive, subtests):
    """Every route for every caller, each on a fresh state; 0 escapes."""
    results = []
    for name, method, path, body, expected in ROUTES:
        for caller, want in zip(CALLERS, expected, strict=True):
            with subtests.test(route=name, caller=caller):
                ids = arrange(mock_drive)
                before = mock_drive.digest()
                token = TOKENS[caller]
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                kwargs = {"data": b"new content"} if body == "raw" else {"json": body}
                response = requests.request(method, mock_drive.url + path.format(**ids),
                                            headers=headers, timeout=10, **kwargs)  # fmt: skip
                results.append((name, caller, want, response.status_code))
                assert response.status_code == want, response.text
                if response.status_code not in ALLOWED:
                    assert mock_drive.digest() == before  # a refusal changes nothing
                    assert response.headers["Content-Type"].startswith("application/json")
    escapes = [r for r in results if r[3] in ALLOWED and r[2] not in ALLOWED]
    print("\n" + json.dumps({"cases": len(results), "escapes": len(escapes)}))
    assert len(results) == len(ROUTES) * len(CALLERS)
    assert escapes == []


def test_admin_api_can_require_its_own_token(worker_server):
    server = worker_server(default_state("t"), admin_token="admin-secret")
    health = requests.get(server.url + "/_mockdrive/health", timeout=10)
    assert health.status_code == 200  # readiness probes need no token
    for path in ("/_mockdrive/state", "/_mockdrive/journal", "/_mockdrive/dashboard/overview"):
        assert requests.get(server.url + path, timeout=10).status_code == 401
        wrong = {"X-Mockdrive-Admin-Token": "nope"}
        assert requests.get(server.url + path, headers=wrong, timeout=10).status_code == 401
        right = {"X-Mockdrive-Admin-Token": "admin-secret"}
        assert requests.get(server.url + path, headers=right, timeout=10).status_code == 200
    assert requests.post(server.url + "/_mockdrive/reset", timeout=10).status_code == 401
    page = requests.get(server.url + "/_mockdrive/ui", timeout=10)
    assert page.status_code == 200  # the page holds no data; it sends the token itself
    graph = requests.get(server.url + "/v1.0/me/drive", timeout=10,
                         headers={"Authorization": "Bearer t"})  # fmt: skip
    assert graph.status_code == 200  # the APIs keep their own bearer tokens
