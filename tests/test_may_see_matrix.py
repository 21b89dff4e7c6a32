"""The matrix grows from "may call" to "may see": for every route of the OpenAPI document, under
``/v1.0`` and ``/beta`` (Graph items in every addressing form, drives, ``/shares``, sharedWithMe,
delta, links, Onehub and the older OneDrive API's actions on the same paths) and every kind of
caller, a target that exists but that the caller may not see answers exactly as one that does
not exist: the same status, the same error code, the same body shape (keys, recursively) and the
same message once the target's id, path or number is replaced by a placeholder.

Callers are those of ``test_authorization.py``: no token, an unknown token, a stranger, a
reader and a writer of /Projects, the drive's owner, and the owner of another drive. What each
may not see: /Secret (and /Projects/Private, which stops inheriting) of Ada's drive for all but
Ada; for Ada, /Olgas of Olga's drive. Links: specific-people links for Bob (not a caller) on
/Secret and on /Olgas.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
import requests
import wire_client

from mockdrive.api.openapi import openapi_document
from mockdrive.cli import default_state
from mockdrive.model.state import State
from mockdrive.pytest_plugin import OWNER_TOKEN

CALLERS = ("none", "unknown", "stranger", "reader", "writer", "owner", "other_owner")
TOKENS = {"none": None, "unknown": "no-such-token", "stranger": "sam-token",
          "reader": "rita-token", "writer": "walt-token", "owner": OWNER_TOKEN,
          "other_owner": "olga-token"}  # fmt: skip
METHODS = ("get", "post", "put", "patch", "delete")
NO_SUCH_ITEM = "01NOSUCHITEMNOSUCHITEMNOSUCHITEMXX"
NO_SUCH_DRIVE = "b!" + "N" * 40
NO_SUCH_SHARE = "s!nosuchlinktokennosuchlinktoken00"
NO_SUCH_NUMBER = "987654"
BODIES = {
    "children": {"name": "N", "folder": {}},
    "copy": {"name": "C"},
    "invite": {"recipients": [{"email": "x@ext.example"}], "roles": ["read"]},
    "action.invite": {"recipients": ["x@ext.example"], "roles": ["read"]},
    "createLink": {"type": "view", "scope": "organization"},
    "action.createLink": {"type": "view", "scope": "organization"},
    "grant": {"recipients": [{"email": "x@ext.example"}], "roles": ["read"]},
    "createUploadSession": {},
    "": {"name": "renamed"},
    "permissionId": {"roles": ["write"]},
    "invitations": {"invitation": {"emails": "x@ext.example"}},
    "folders": {"folder": {"filename": "N"}},
    "rolemap": {"rolemap": {"role_name": "Viewer"}},
}


def routes() -> list[tuple[str, str]]:
    """(method, path template) of every route with a target a caller may not see."""
    found = []
    for path, operations in openapi_document(None).get("paths", {}).items():
        if path.startswith(("/_mockdrive", "/up/", "/download/")):
            continue
        if "/sites/" in path or "/groups/" in path or "special" in path:
            continue
        if not any(f"{{{k}}}" in path for k in ("itemId", "itemPath", "driveId", "shareId", "id")):
            continue
        for method in METHODS:
            if method in operations:
                found.append((method.upper(), path))
                if path.startswith("/v1.0/"):  # the same routes under /beta
                    found.append((method.upper(), "/beta" + path.removeprefix("/v1.0")))
    return found


ROUTES = routes()


def arrange(mock_drive) -> dict[str, Any]:
    """Ada's drive: /Projects (Rita reads, Walt writes, Bob holds a permission),
    /Projects/Private and /Secret stop inheriting, files in each; Olgas drive with /Olgas;
    Sam holds nothing. Links on /Secret (for Olga) and on Olgas folder (for Rita)."""
    server = mock_drive.server
    server.reset(default_state(OWNER_TOKEN))
    for path in ("/Projects/Plan.docx", "/Projects/Private/Notes.txt", "/Secret/s.txt"):
        mock_drive.add_file(path, "text")
    users = {name: mock_drive.add_user(name.title(), f"{name}@contoso.example")
             for name in ("rita", "walt", "bob", "olga", "sam")}  # fmt: skip
    for path in ("/Projects/Private", "/Secret"):
        mock_drive.stop_inheriting(path)
    mock_drive.grant("/Projects", users["walt"], ["write"])
    mock_drive.grant("/Projects", users["rita"], ["read"])
    mock_drive.grant("/Projects", users["bob"], ["read"])
    secret_permission = mock_drive.grant("/Secret", users["bob"], ["read"])
    olga_drive = mock_drive.add_drive(users["olga"], name="Olgas")
    mock_drive.add_file("/Olgas/o.txt", "olga", drive=olga_drive)
    mock_drive.stop_inheriting("/Olgas", drive=olga_drive)
    olga_permission = mock_drive.grant("/Olgas", users["bob"], ["read"], drive=olga_drive)

    def link(drive_id: str, item_id: str, token: str, email: str) -> str:
        body = {"type": "view", "scope": "users", "recipients": [{"email": email}]}
        url = f"{mock_drive.url}/v1.0/drives/{drive_id}/items/{item_id}/createLink"
        answer = wire_client.request("POST", url, json=body, timeout=10,
                                       headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert answer.status_code == 201, answer.text
        return answer.json()["shareId"]

    ada = {
        "drive": mock_drive.drive.id,
        "folder": mock_drive.item("/Secret").id,
        "file": mock_drive.item("/Secret/s.txt").id,
        "path": "Secret",
        "file_path": "Secret/s.txt",
        "permission": secret_permission.id,
        "number": mock_drive.onehub_id("/Secret"),
        "file_number": mock_drive.onehub_id("/Secret/s.txt"),
        "workspace": mock_drive.workspace_id(),
        "rolemap": server.call(
            lambda: mock_drive.state.onehub.number("rolemap", secret_permission.id)
        ),
        "user": mock_drive.owner.id,
    }
    olga = {
        "drive": olga_drive.id,
        "folder": mock_drive.item("/Olgas", drive=olga_drive).id,
        "file": mock_drive.item("/Olgas/o.txt", drive=olga_drive).id,
        "path": "Olgas",
        "file_path": "Olgas/o.txt",
        "permission": olga_permission.id,
        "number": mock_drive.onehub_id("/Olgas", drive=olga_drive),
        "file_number": mock_drive.onehub_id("/Olgas/o.txt", drive=olga_drive),
        "workspace": mock_drive.workspace_id(olga_drive),
        "rolemap": server.call(
            lambda: mock_drive.state.onehub.number("rolemap", olga_permission.id)
        ),
        "user": users["olga"].id,
    }
    ada["share"] = link(ada["drive"], ada["folder"], OWNER_TOKEN, "bob@contoso.example")
    olga["share"] = link(olga["drive"], olga["folder"], "olga-token", "bob@contoso.example")
    return {"ada": ada, "olga": olga}


_ARRANGED: list[tuple[dict[str, Any], State]] = []  # arrange's targets and state, built once


def arranged(mock_drive) -> tuple[dict[str, Any], State]:
    """``arrange``'s targets, and a copy of the state it leaves to copy from. Arranging is
    deterministic (a seeded id source, a pinned clock: the same ids, numbers and share ids
    every time), so it is done once per process, not once per route."""
    if not _ARRANGED:
        targets = arrange(mock_drive)
        server = mock_drive.server
        _ARRANGED.append((targets, server.call(lambda: copy.deepcopy(server.state))))
    return _ARRANGED[0]


def fill(path: str, target: dict[str, Any], hidden_drive: str, exists: bool) -> tuple[str, str]:
    """The URL for a hidden (``exists``) or missing target, and the target's text in it.
    ``hidden_drive``: a drive in which the caller sees nothing at all."""
    file_route = any(s in path for s in ("/content", "/versions", "/files/"))
    item = target["file" if file_route else "folder"]
    item_path = target["file_path" if file_route else "path"]
    number = str(target["file_number" if file_route else "number"])
    values = {
        "driveId": target["drive"],
        "userId": target["user"],
        "itemId": item if exists else NO_SUCH_ITEM,
        "itemPath": item_path if exists else "Nosuch/n.txt" if file_route else "Nosuch",
        "permissionId": target["permission"],
        "versionId": "current",
        "q": "s",
        "shareId": target["share"] if exists else NO_SUCH_SHARE,
        "kind": "files" if file_route else "folders",
        "folderId": number,
    }
    marker = values["itemId"]
    if "{itemId}" not in path and "{itemPath}" in path:
        marker = values["itemPath"]
    if "{shareId}" in path:
        marker = values["shareId"]
        values["itemId"] = item if exists else NO_SUCH_ITEM  # reached through a link
    if "{itemId}" not in path and "{itemPath}" not in path and "{shareId}" not in path:
        if "{driveId}" in path:
            values["driveId"] = hidden_drive if exists else NO_SUCH_DRIVE
            marker = values["driveId"]
        if "{id}" in path:  # Onehub
            if path.startswith("/workspaces"):
                values["id"] = str(target["workspace"]) if exists else NO_SUCH_NUMBER
            elif path.startswith("/rolemaps"):
                values["id"] = str(target["rolemap"]) if exists else NO_SUCH_NUMBER
            else:
                values["id"] = number if exists else NO_SUCH_NUMBER
            marker = values["id"]
    url = re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], m[0]), path)
    return url, marker


def body_for(method: str, path: str) -> dict[str, Any]:
    if method in ("GET", "DELETE"):
        return {}
    last = path.rstrip("/").split("/")[-1].strip("{}")
    if path.startswith("/rolemaps"):
        return {"json": BODIES["rolemap"]}
    if path.endswith("/content"):
        return {"data": b"new content"}
    if last in ("itemId", "itemPath:", "id") or path.endswith(":"):
        return {"json": BODIES[""]}
    return {"json": BODIES.get(last, {})}


def outline(value: Any) -> Any:
    """Keys (recursively) of a JSON body; a list by the outline of its first entry."""
    if isinstance(value, dict):
        return {k: outline(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [outline(value[0])] if value else []
    return type(value).__name__


def answer_of(response: requests.Response, marker: str) -> dict[str, Any]:
    """What must match: status, error code, body outline, message with the target replaced."""
    try:
        body = response.json()
    except ValueError:
        body = response.text
    error = body.get("error") if isinstance(body, dict) else None
    message = ""
    if isinstance(error, dict):
        message = str(error.get("message", ""))
    elif isinstance(error, str):
        message = error
    elif isinstance(body, str):
        message = body
    for form in (marker, requests.utils.quote(marker, safe="")):
        message = message.replace(form, "{target}")
    return {
        "status": response.status_code,
        "code": error.get("code") if isinstance(error, dict) else None,
        "outline": outline(body) if isinstance(body, (dict, list)) else "text",
        "message": message,
    }


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_a_hidden_target_answers_as_a_missing_one(
    mock_drive, rule_checker, method: str, path: str
) -> None:
    """For every caller kind: hidden and missing are indistinguishable."""
    session = wire_client.WireSession()  # requests' bytes, cheaper (tests/wire_client.py)
    mismatches = []
    reads_only = method == "GET"  # a refused or served GET changes nothing: one copy
    targets, template = arranged(mock_drive)
    server = mock_drive.server
    # any other request may change the state: each one gets a copy of the arrangement as it
    # stood before the first request (the same state arrange builds, without building it again)
    first = True
    for caller in CALLERS:
        answers = []
        for exists in (True, False):
            if first or not reads_only:
                fresh = copy.deepcopy(template)
                server.reset(fresh)
                # the refusal check's digest before: the first copy's, not taken per copy
                rule_checker.copied(fresh, template)
            first = False
            target = targets["olga" if caller == "owner" else "ada"]
            # Rita and Walt hold something in Ada's drive: it is not hidden from them
            seen_nothing = "olga" if caller in ("reader", "writer", "owner") else "ada"
            url, marker = fill(path, target, targets[seen_nothing]["drive"], exists)
            token = TOKENS[caller]
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = session.request(method, mock_drive.url + url, headers=headers,
                                        timeout=10, **body_for(method, path))  # fmt: skip
            answers.append((url, answer_of(response, marker), response.text[:300]))
        (hidden_url, hidden, hidden_text), (_, missing, missing_text) = answers
        if hidden != missing:
            mismatches.append(
                f"  {caller}: {method} {hidden_url}\n"
                f"      hidden  → {json.dumps(hidden)}\n        {hidden_text}\n"
                f"      missing → {json.dumps(missing)}\n        {missing_text}"
            )
    session.close()
    assert not mismatches, "a hidden target is told apart from a missing one:\n" + "\n".join(
        mismatches
    )


ON_A_PERMISSION = "/v1.0/drives/{driveId}/items/{itemId}/permissions/"
PERMISSION_ROUTES = [(m, p) for m, p in ROUTES if p.startswith(ON_A_PERMISSION)]


@pytest.mark.parametrize(
    ("method", "path"), PERMISSION_ROUTES, ids=[f"{m} {p}" for m, p in PERMISSION_ROUTES]
)
def test_a_permission_hidden_from_a_reader_answers_as_a_missing_one(
    mock_drive, method: str, path: str
) -> None:
    """A reader of /Projects sees only their own permissions there: Bob's answers as a
    permission id that does not exist, on every permission route."""
    answers = []
    for permission in ("bob", "01NOSUCHPERMISSION"):
        arrange(mock_drive)
        projects = mock_drive.item("/Projects")

        def bobs(projects=projects) -> str:
            bob = mock_drive.state.directory.by_email("bob@contoso.example")
            return next(p.id for p in projects.permissions if p.grantee_id == bob.id)

        permission_id = mock_drive.server.call(bobs) if permission == "bob" else permission
        url = (path.replace("{driveId}", mock_drive.drive.id).replace("{itemId}", projects.id)
               .replace("{permissionId}", permission_id))  # fmt: skip
        response = wire_client.request(method, mock_drive.url + url, timeout=10,
                                    headers={"Authorization": "Bearer rita-token"},
                                    **body_for(method, path))  # fmt: skip
        answers.append((answer_of(response, permission_id), response.text[:300]))
    assert answers[0][0] == answers[1][0], f"{method} {path} as the reader:\n{answers}"
