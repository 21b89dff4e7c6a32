"""The OpenAPI document and the routes stay in step, in both directions."""

from __future__ import annotations

import re

import pytest
import requests
from aiohttp import web

from mockdrive.api.app import build_app
from mockdrive.api.graph.routes import ITEM_OPERATIONS
from mockdrive.api.openapi import ITEM_BASES, openapi_document
from mockdrive.api.routing import TABLE_ROUTES
from mockdrive.backend import Backend

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def normalise(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def documented() -> set[tuple[str, str]]:
    return {
        (method.upper(), normalise(path))
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method != "parameters"
    }


def test_the_document_is_served_and_is_openapi_3(mock_drive):
    document = requests.get(mock_drive.url + "/_mockdrive/openapi.json", timeout=10).json()
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": mock_drive.url}]
    drive_param = document["paths"]["/v1.0/drives/{driveId}"]["parameters"][0]
    assert drive_param["example"] == mock_drive.drive.id  # examples come from the live state


def documented_as(route: web.AbstractRoute, rows: dict) -> str:
    """The path the document lists ``route`` under: its own, but for the twin of a row served
    with a trailing ``/`` too (``Route.trailing_slash``), which is listed as the row's path."""
    canonical = route.resource.canonical
    row = rows.get(route)
    if row is not None and row.trailing_slash and canonical == row.plain_path + "/":
        return row.plain_path
    return canonical


def test_every_registered_route_is_documented_and_every_documented_one_is_registered():
    app = build_app(Backend())
    registered = {
        (route.method, normalise(documented_as(route, app[TABLE_ROUTES])))
        for route in app.router.routes()
        if route.method in METHODS and route.resource is not None
        and not route.resource.canonical.startswith(("/v1.0/", "/beta/", "/{tail}"))
    }  # fmt: skip
    routed_by_aiohttp = {(m, p) for m, p in documented() if not p.startswith("/v1.0/")}
    assert registered - routed_by_aiohttp == set(), "routes missing from the document"
    assert routed_by_aiohttp - registered == set(), "documented routes that do not exist"


def test_every_graph_form_documents_every_item_operation():
    paths = documented()
    for base in ITEM_BASES:
        for action, method in ITEM_OPERATIONS:
            path = "/v1.0" + base + ("/" + action if action else "")
            assert (method, normalise(path)) in paths, (method, path)


@pytest.fixture
def arranged(projects):
    """The shared projects, with the example group and site ids resolving to the owner's drive."""
    projects.state.store.default_drive.update({"g1": projects.drive.id, "s1": projects.drive.id})
    return projects


def concrete(path: str, mock_drive, permission_id: str) -> str:
    owner = mock_drive.owner
    return (
        path.replace("{driveId}", mock_drive.drive.id)
        .replace("{itemId}", mock_drive.item("/Projects").id)
        .replace("{itemPath}", "/Projects")
        .replace("{userId}", owner.id)
        .replace("{groupId}", "g1")
        .replace("{siteId}", "s1")
        .replace("{permissionId}", permission_id)
    )


BODIES = {
    "invite": {"recipients": [{"email": "bob@contoso.example"}], "roles": ["read"]},
    "action.invite": {"recipients": ["bob@contoso.example"], "roles": ["read"]},
    "children": {"name": "New", "folder": {}},
    "permissions/{permissionId}": {"roles": ["write"]},
}


@pytest.mark.parametrize("base", ITEM_BASES)
def test_every_documented_graph_operation_is_served_and_nothing_else(arranged, graph, base):
    """Each (action, method) is served for each form; every other method is a 405."""
    for action in dict.fromkeys(a for a, _ in ITEM_OPERATIONS):
        for method in METHODS:
            invite = graph.post(concrete("/v1.0" + base + "/invite", arranged, "")[5:],
                                json=BODIES["invite"])  # fmt: skip
            permission_id = invite.json()["value"][0]["id"]
            path = concrete(base + ("/" + action if action else ""), arranged, permission_id)
            response = graph.request(method, path, json=BODIES.get(action, {}))
            if (action, method) in ITEM_OPERATIONS:
                assert response.status_code != 405, (method, path, response.text)
                if response.status_code >= 400:
                    message = response.json()["error"]["message"]
                    assert not message.startswith(("unsupported segment", "no drive")), message
            else:
                assert response.status_code == 405, (method, path, response.text)
            if (action, method) == ("", "DELETE") and response.status_code == 204:
                arranged.add_file("/Projects/Plan.docx", "plan")  # put the target back
