"""Issue 11, runtime defects: regression tests over real HTTP, written like an attacker.

- 2: ids after a state load never collide with ids in use; the store refuses a duplicate id.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from mockdrive.cli import default_state
from mockdrive.model.ids import IdFactory
from mockdrive.server import MockDrive

TIMEOUT = 20  # seconds: a hung server fails the test instead of hanging the suite
OWNER = {"Authorization": "Bearer ada-token"}


@pytest.fixture
def server() -> Iterator[MockDrive]:
    """A server of its own, so that a defect which wedges its loop cannot take others down."""
    with MockDrive(default_state("ada-token")) as running:
        yield running


def invite(server: MockDrive, path: str, email: str, token: str = "ada-token"):
    body = {"recipients": [{"email": email}], "roles": ["read"], "requireSignIn": True}
    return requests.post(
        f"{server.graph_url}/me/drive/root:{path}:/invite",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )


def all_ids(server: MockDrive) -> list[str]:
    def collect() -> list[str]:
        state = server.state
        ids = list(state.store.items)
        for item in state.store.items.values():
            ids.extend(p.id for p in item.permissions)
        return ids

    return server.call(collect)


def assert_tree_sound(server: MockDrive) -> None:
    """Every item is reachable from its drive root, exactly once, and is not its own ancestor."""

    def check() -> None:
        store = server.state.store
        seen: set[str] = set()
        for drive in store.drives.values():
            for item in store.iter_subtree(store.root(drive)):
                assert item.id not in seen, f"{item.id} reached twice"
                seen.add(item.id)
                assert item.drive_id == drive.id
        assert seen == set(store.items), "items not reachable from any root"

    server.call(check)


# -- defect 2: ids after a state load ---------------------------------------------------------
def test_after_loading_an_export_new_items_never_reuse_an_id(server):
    """The default state exported and loaded back: the generator restarts with the seed and,
    six invites later, used to hand the root's id to a new folder (the server then spun at
    100% CPU). Each round loads the export afresh, sends ``invites`` invites, then creates."""
    admin = server.admin_url
    exported = requests.get(admin + "/state", timeout=TIMEOUT).content
    for invites in range(10):
        loaded = requests.put(admin + "/state", data=exported, timeout=TIMEOUT)
        assert loaded.status_code == 200, loaded.text
        before = set(all_ids(server))
        for n in range(invites):
            assert invite(server, "/", f"guest{n}@outside.example").status_code == 200
        response = requests.post(
            f"{server.graph_url}/me/drive/root/children",
            json={"name": "new", "folder": {}},
            headers=OWNER,
            timeout=TIMEOUT,
        )
        assert response.status_code == 201, response.text
        assert response.json()["id"] not in before, f"reused after {invites} invites"
        ids = all_ids(server)
        assert len(ids) == len(set(ids)), "an id is used twice"
        assert_tree_sound(server)
        listing = requests.get(f"{server.graph_url}/me/drive/root/children", headers=OWNER)
        assert [c["name"] for c in listing.json()["value"]] == ["new"]


def scenario(*children: dict, root_id: str | None = None) -> dict:
    root: dict = {"children": list(children)}
    if root_id:
        root["id"] = root_id
    return {
        "users": [{"id": "u-ada", "displayName": "Ada", "email": "ada@x.example", "token": "t"}],
        "drives": [{"id": "drive-1", "owner": "ada@x.example", "root": root}],
    }


def first_item_ids(count: int) -> list[str]:
    """The item ids seed 0 hands out first when nothing else draws (explicit users and drive)."""
    factory = IdFactory(0)
    return [factory.item_id() for _ in range(count)]


def put_state(server: MockDrive, data: dict) -> requests.Response:
    return requests.put(server.admin_url + "/state", json=data, timeout=TIMEOUT)


def children_of_root(server: MockDrive) -> list[dict]:
    headers = {"Authorization": "Bearer t"}
    response = requests.get(f"{server.graph_url}/me/drive/root/children", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["value"]


def test_a_generated_id_never_takes_an_explicit_id_that_comes_first(server):
    """An item with an explicit id, then one without: the generated id used to be the same one,
    so the second item overwrote the first (its folder and files vanished)."""
    _root, second = first_item_ids(2)
    data = scenario(
        {"id": second, "name": "Kept", "folder": {}, "children": [{"name": "a.txt", "file": {}}]},
        {"name": "Generated", "folder": {}},
    )
    response = put_state(server, data)
    assert response.status_code == 200, response.text
    names = {c["name"]: c["id"] for c in children_of_root(server)}
    assert set(names) == {"Kept", "Generated"}
    assert names["Kept"] == second and names["Generated"] != second
    assert_tree_sound(server)


def test_an_explicit_id_later_in_the_scenario_is_not_handed_out_first(server):
    """The generated root id equals an explicit id further down: the load used to be refused
    as a duplicate although the scenario names each id once."""
    (root,) = first_item_ids(1)
    response = put_state(server, scenario({"id": root, "name": "Explicit", "folder": {}}))
    assert response.status_code == 200, response.text
    (child,) = children_of_root(server)
    assert child["id"] == root
    assert_tree_sound(server)


def test_a_duplicate_explicit_id_is_a_clear_400_and_changes_nothing(server):
    before = requests.get(server.admin_url + "/state", timeout=TIMEOUT).json()
    data = scenario(
        {"id": "same", "name": "A", "folder": {}},
        {"id": "same", "name": "B", "folder": {}},
    )
    response = put_state(server, data)
    assert response.status_code == 400
    assert "duplicate item id 'same'" in response.json()["error"]["message"]
    assert requests.get(server.admin_url + "/state", timeout=TIMEOUT).json() == before
