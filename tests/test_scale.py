"""Inheritance is lazy: an invite on a huge folder stores one permission per recipient, and an
item's permissions are found by walking its ancestors, never its drive's descendants."""

from __future__ import annotations

from conftest import Graph


class CountingItems(dict):
    """The drive store's item dict, counting every item touched (lookups and iteration)."""

    touched = 0

    def __getitem__(self, key):
        CountingItems.touched += 1
        return super().__getitem__(key)

    def get(self, key, default=None):
        CountingItems.touched += 1
        return super().get(key, default)

    def values(self):
        CountingItems.touched += len(self)
        return super().values()

    def __iter__(self):
        CountingItems.touched += len(self)
        return super().__iter__()


def build_big_folder(mock_drive, folders: int, files_per_folder: int) -> None:
    def build() -> None:
        state = mock_drive.state
        owner = state.directory.users[mock_drive.drive.owner_id]
        big = state.make_path(mock_drive.drive, "/Big")
        for f in range(folders):
            sub = state.create_item(owner, big, f"sub{f}", is_folder=True)
            for n in range(files_per_folder):
                state.create_item(owner, sub, f"file{n}.txt", is_folder=False, content=b"x")

    mock_drive.server.call(build)


def test_invite_on_100k_descendants_stores_one_permission_per_recipient(mock_drive):
    build_big_folder(mock_drive, folders=1000, files_per_folder=99)  # 100,000 descendants
    mock_drive.add_user("Carol", "carol@contoso.example")
    graph = Graph(mock_drive)
    response = graph.post(
        "/me/drive/root:/Big:/invite",
        json={
            "recipients": [{"email": "carol@contoso.example"}, {"email": "x@ext.example"}],
            "roles": ["write"],
        },
    )
    assert response.status_code == 200
    state = mock_drive.state
    assert len(state.store.items) == 100_002  # root, /Big and its descendants
    stored = mock_drive.server.call(
        lambda: [p for item in state.store.items.values() for p in item.permissions]
    )
    assert len(stored) == 3  # the owner's on the root + one per recipient, nothing copied down
    leaf = graph.get("/me/drive/root:/Big/sub999/file98.txt:/permissions").json()["value"]
    assert sum(1 for p in leaf if p.get("inheritedFrom", {}).get("path") == "/drive/root:/Big") == 2


def test_listing_permissions_at_depth_50_walks_ancestors_only(mock_drive):
    build_big_folder(mock_drive, folders=200, files_per_folder=50)  # 10,000 bystanders
    deep_path = "/" + "/".join(f"d{n}" for n in range(50))
    mock_drive.add_folder(deep_path)
    for depth in (10, 30, 49):
        mock_drive.grant("/" + "/".join(f"d{n}" for n in range(depth)), mock_drive.owner, ["read"])
    store = mock_drive.state.store
    counting = CountingItems(store.items)
    mock_drive.server.call(lambda: setattr(store, "items", counting))
    CountingItems.touched = 0
    response = Graph(mock_drive).get(f"/me/drive/root:{deep_path}:/permissions")
    touched = CountingItems.touched
    assert response.status_code == 200
    assert len(response.json()["value"]) == 4  # owner + the three grants on the way up
    # Each of the 50 ancestors is visited a handful of times (walk, access check, rendering the
    # inheritedFrom paths); touching the 10,000 other items would blow far past this bound.
    assert 50 <= touched <= 50 * 12, touched
