"""A refused request changes nothing: no item, link, permission, outbox entry, clock tick, id or
upload session. One table of refusals over every kind of route (Graph writes, sharing, links,
uploads, ``$batch``, Onehub, the admin routes), each sent against a state that holds something
of each kind, and the full state digest compared before and after (tests/url_check.py).

(tests/conftest.py checks every refusal of every other test the same way.)"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from url_check import state_digest

FAR = "9999-01-01T00:00:00Z"
PAST = "2000-01-01T00:00:00Z"
# (method, path under the server's URL, JSON body, as whom: owner / stranger / none, headers)
# fmt: off
REFUSALS: list[tuple[str, str, Any, str, dict[str, str]]] = [
    # items
    ("POST", "/v1.0/me/drive/root/children", {"folder": {}}, "owner", {}),
    ("POST", "/v1.0/me/drive/root/children", {"name": "a:b", "folder": {}}, "owner", {}),
    ("POST", "/v1.0/me/drive/root/children", {"name": "Docs", "folder": {},
     "@microsoft.graph.conflictBehavior": "fail"}, "owner", {}),
    ("PATCH", "/v1.0/me/drive/root:/Docs/a.txt", {"name": "b.txt"}, "owner", {}),
    ("PATCH", "/v1.0/me/drive/root:/Docs/a.txt", {"name": ""}, "owner", {}),
    ("PATCH", "/v1.0/me/drive/root:/Docs/a.txt", {"name": "c.txt"}, "owner", {"If-Match": '"x"'}),
    ("DELETE", "/v1.0/me/drive/items/nothing", None, "owner", {}),
    ("DELETE", "/v1.0/me/drive/root:/Docs", None, "owner", {"If-Match": '"x"'}),
    ("POST", "/v1.0/me/drive/root:/Docs/a.txt:/copy", {"parentReference": {"id": "no"}}, "owner",
     {}),
    ("POST", "/v1.0/me/drive/root:/Docs/a.txt:/copy", {"name": "b.txt"}, "owner", {}),
    ("PUT", "/v1.0/me/drive/root:/Docs/a.txt:/content", None, "stranger", {}),
    # sharing
    ("POST", "/v1.0/me/drive/root:/Docs:/invite", {"recipients": [], "roles": ["read"]}, "owner",
     {}),
    ("POST", "/v1.0/me/drive/root:/Docs:/invite",
     {"recipients": [{"email": "x@ext.example"}], "roles": ["boss"]}, "owner", {}),
    ("POST", "/v1.0/me/drive/root:/Docs:/invite",
     {"recipients": [{"email": "x@ext.example"}], "roles": ["read"],
      "expirationDateTime": FAR}, "owner", {}),
    ("POST", "/v1.0/me/drive/root:/Docs:/invite",
     {"recipients": [{"email": "x@ext.example"}], "roles": ["read"]}, "stranger", {}),
    ("PATCH", "/v1.0/me/drive/root:/Docs:/permissions/nothing", {"roles": ["read"]}, "owner", {}),
    ("DELETE", "/v1.0/me/drive/root:/Docs:/permissions/nothing", None, "owner", {}),
    # links
    ("POST", "/v1.0/me/drive/root:/Docs:/createLink", {"type": "nope"}, "owner", {}),
    ("POST", "/v1.0/me/drive/root:/Docs:/createLink", {"type": "view", "scope": "nope"}, "owner",
     {}),
    ("POST", "/v1.0/me/drive/root:/Docs:/createLink",
     {"type": "view", "expirationDateTime": PAST}, "owner", {}),
    ("POST", "/v1.0/me/drive/root:/Docs:/createLink",
     {"type": "view", "expirationDateTime": FAR}, "owner", {}),
    ("POST", "/v1.0/me/drive/root:/Docs:/createLink", {"type": "view"}, "stranger", {}),
    ("POST", "/v1.0/shares/s!nothing/permission/grant",
     {"recipients": [{"email": "x@ext.example"}], "roles": ["read"]}, "owner", {}),
    ("GET", "/v1.0/shares/s!nothing/driveItem", None, "none", {}),
    # uploads
    ("POST", "/v1.0/me/drive/root:/Docs/a.txt:/createUploadSession",
     {"item": {"@microsoft.graph.conflictBehavior": "fail"}}, "owner", {}),
    ("POST", "/v1.0/me/drive/root:/up.bin:/createUploadSession", {"item": {"fileSize": -1}},
     "owner", {}),
    ("PUT", "/up/nothing", None, "none", {"Content-Range": "bytes 0-2/3"}),
    # $batch
    ("POST", "/v1.0/$batch", {"requests": "no"}, "owner", {}),
    ("POST", "/v1.0/$batch", {"requests": [{"id": "1", "method": "GET"}]}, "owner", {}),
    # Onehub
    ("POST", "/folders", {"folder": {}}, "owner", {}),
    ("DELETE", "/folders/999999", None, "owner", {}),
    # the admin routes
    ("POST", "/_mockdrive/clock", {"days": -1}, "none", {}),
    ("POST", "/_mockdrive/clock", {"days": 10**9}, "none", {}),
    ("PUT", "/_mockdrive/policy", {"externalSharing": "maybe"}, "none", {}),
    ("POST", "/_mockdrive/faults", {"effect": "nope"}, "none", {}),
    ("PUT", "/_mockdrive/state", {"users": "nobody"}, "none", {}),
]
# fmt: on


@pytest.fixture
def arranged(mock_drive):
    """A state with something of each kind: folders, files, a guest, a link, an invitation (an
    outbox message), an open upload session, a moved clock."""
    mock_drive.add_user("Bo", "bo@contoso.example")
    mock_drive.add_file("/Docs/a.txt", "alpha")
    mock_drive.add_file("/Docs/b.txt", "beta")
    session = mock_drive.session
    invite = {"recipients": [{"email": "guest@ext.example"}], "roles": ["read"]}
    assert session.post("/me/drive/root:/Docs:/invite", json=invite).status_code == 200
    link = session.post("/me/drive/root:/Docs:/createLink", json={"type": "view"})
    assert link.status_code in (200, 201), link.text
    upload = session.post("/me/drive/root:/big.bin:/createUploadSession", json={})
    assert upload.status_code == 200, upload.text
    mock_drive.clock.advance(hours=1)
    return mock_drive


@pytest.mark.parametrize(
    ("method", "path", "body", "who", "headers"),
    REFUSALS,
    ids=[f"{m} {p} {i}" for i, (m, p, *_) in enumerate(REFUSALS)],
)
def test_a_refused_request_changes_nothing(arranged, method, path, body, who, headers):
    tokens = {"owner": arranged.token, "stranger": "bo-token", "none": None}
    sent = dict(headers)
    if tokens[who]:
        sent["Authorization"] = f"Bearer {tokens[who]}"
    server = arranged.server
    before = server.call(lambda: state_digest(server.state))
    answer = requests.request(
        method, arranged.url + path, json=body, headers=sent, timeout=10, allow_redirects=False
    )
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    assert server.call(lambda: state_digest(server.state)) == before, answer.text
