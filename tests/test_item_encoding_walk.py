"""A random walk of writes and reads: after each write, GET item (its fields encoded once and
kept, ``render.encode_item``) answers byte for byte what the plain rendering (a ``$select`` of
every property, rendered afresh) gives, for every caller, address form and version."""

from __future__ import annotations

import json
import os
import random
import time

import pytest
import requests
from test_item_encoding import EVERY_PROPERTY

from mockdrive.api.graph import render

# (``WALK_STEPS`` and ``WALK_SEEDS`` in the environment make a longer hunt)
WALK_STEPS = int(os.environ.get("WALK_STEPS", "120"))


def fresh_pair(session, url: str, **options) -> tuple[int, bytes, bytes]:
    quick = session.get(url, **options)
    plain = session.get(url, params={"$select": EVERY_PROPERTY}, **options)
    assert quick.status_code == plain.status_code, (url, quick.text, plain.text)
    if quick.status_code == 200:
        assert quick.headers["ETag"] == plain.headers["ETag"], url
    return quick.status_code, quick.content, plain.content


@pytest.mark.parametrize("seed", range(int(os.environ.get("WALK_SEEDS", "2"))))
def test_a_random_walk_of_writes_never_shows_a_stale_item(mock_drive, seed):
    rng = random.Random(seed)
    rita = mock_drive.add_user("Rita Reader", "rita@contoso.example", token="rita-token")
    mock_drive.add_user("Wes Writer", "wes@contoso.example", token="wes-token")
    mock_drive.add_file("/A/B/x.txt", "x")
    mock_drive.add_file("/A/y.bin", b"yy")
    mock_drive.add_folder("/Z")
    mock_drive.grant("/A", "wes@contoso.example", ["write"])
    owner = mock_drive.session
    sessions = {
        "owner": owner,
        "rita": mock_drive.session_for("rita@contoso.example"),
        "wes": mock_drive.session_for("wes@contoso.example"),
    }
    drive_id = mock_drive.drive.id
    owner_id = mock_drive.owner.id
    # an app-only token (the app stands for itself: ``/drives/{id}``, never ``/me``) and the
    # owner's delegated JWT with a read scope only
    mock_drive.app("reader-app", secret="s", roles=["Files.Read.All"])
    for name, token in (
        ("app", mock_drive.app_token("reader-app")),
        ("jwt", mock_drive.token_for(mock_drive.owner, scopes=["Files.Read"])),
    ):
        sessions[name] = requests.Session()
        sessions[name].headers["Authorization"] = f"Bearer {token}"
    compared: list[int] = []

    def ids() -> list[str]:
        def collect():
            store = mock_drive.state.store
            return [i.id for i in store.items.values() if i.drive_id == drive_id]

        return mock_drive.server.call(collect)

    def path_of(item_id: str) -> str:
        return mock_drive.server.call(
            lambda: mock_drive.state.store.path_of(mock_drive.state.store.items[item_id])
        )

    def files_and_folders():
        def collect():
            store = mock_drive.state.store
            items = [i for i in store.items.values() if i.drive_id == drive_id]
            return [i.id for i in items if not i.is_folder], [i.id for i in items if i.is_folder]

        return mock_drive.server.call(collect)

    def write() -> str:
        files, folders = files_and_folders()
        below_root = [f for f in folders if path_of(f) != "/"]
        kind = rng.choice(
            ["rename", "describe", "stamp", "content", "same-size", "move", "mkdir", "delete",
             "copy", "grant", "ungrant", "person", "email", "upload", "ungranted-person"]
        )  # fmt: skip
        session = rng.choice([owner, sessions["wes"]])
        target = rng.choice(files + below_root or folders)
        base = (
            f"/me/drive/items/{target}"
            if session is owner
            else f"/drives/{drive_id}/items/{target}"
        )
        if kind == "rename":
            session.patch(base, json={"name": f"n{rng.randrange(50)} é.txt"})
        elif kind == "describe":
            session.patch(base, json={"description": rng.choice(["d1", "d2", ""])})
        elif kind == "stamp":
            stamp = f"20{rng.randrange(10, 30)}-01-01T00:00:00Z"
            session.patch(base, json={"fileSystemInfo": {"lastModifiedDateTime": stamp}})
        elif kind in ("content", "same-size") and files:
            target = rng.choice(files)
            body = b"%d" % rng.randrange(10) if kind == "same-size" else b"z" * rng.randrange(9)
            session.put(f"/drives/{drive_id}/items/{target}/content", data=body)
        elif kind == "move" and folders:
            session.patch(base, json={"parentReference": {"id": rng.choice(folders)}})
        elif kind == "mkdir" and folders:
            parent = rng.choice(folders)
            session.post(
                f"/drives/{drive_id}/items/{parent}/children",
                json={"name": f"f{rng.randrange(50)}", "folder": {},
                      "@microsoft.graph.conflictBehavior": "rename"},
            )  # fmt: skip
        elif kind == "delete" and len(files) + len(below_root) > 4:
            session.delete(base)
        elif kind == "copy" and folders:
            done = session.post(
                f"{base}/copy",
                json={"parentReference": {"driveId": drive_id, "id": rng.choice(folders)},
                      "name": f"c{rng.randrange(50)}"},
            )  # fmt: skip
            monitor = done.headers.get("Location")
            for _ in range(50):
                if monitor is None or owner.get(monitor).json().get("status") in (
                    "completed",
                    "failed",
                ):
                    break
                time.sleep(0.01)
        elif kind == "grant":
            owner.post(
                f"/me/drive/items/{target}/invite",
                json={"recipients": [{"email": "rita@contoso.example"}], "roles": ["read"],
                      "requireSignIn": True, "sendInvitation": False},
            )  # fmt: skip
        elif kind == "ungrant":
            listed = owner.get(f"/me/drive/items/{target}/permissions").json().get("value", [])
            for permission in listed:
                if "inheritedFrom" not in permission and "owner" not in permission.get("roles", []):
                    owner.delete(f"/me/drive/items/{target}/permissions/{permission['id']}")
                    break
        elif kind in ("person", "ungranted-person"):
            name = f"Person {rng.randrange(100)}"
            who = rng.choice(["ada", "wes", "rita"])

            def rename(who=who, name=name):
                user = {
                    "ada": mock_drive.state.directory.users[owner_id],
                    "wes": mock_drive.user("wes@contoso.example"),
                    "rita": rita,
                }[who]
                user.display_name = name

            mock_drive.server.call(rename)
        elif kind == "email":
            email = f"wes{rng.randrange(100)}@contoso.example"

            def change(email=email):
                wes = next(
                    u
                    for u in mock_drive.state.directory.users.values()
                    if u.display_name.startswith(("Wes", "Person")) and u.id != owner_id
                    and u.id != rita.id
                )  # fmt: skip
                wes.email = email

            mock_drive.server.call(change)
        elif kind == "upload" and folders:
            parent = rng.choice(folders)
            name = f"u{rng.randrange(5)}.bin"
            made = session.post(
                f"/drives/{drive_id}/items/{parent}:/{name}:/createUploadSession",
                json={"item": {"@microsoft.graph.conflictBehavior": "replace"}},
            )
            if made.status_code == 200:
                data = b"u" * rng.randrange(1, 6)
                session.put(
                    made.json()["uploadUrl"],
                    data=data,
                    headers={"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"},
                )
        return kind

    def read_all(kind: str) -> None:
        everything = ids()
        for item_id in rng.sample(everything, min(len(everything), 6)):
            path = path_of(item_id)
            name = rng.choice(list(sessions))
            session = sessions[name]
            version = rng.choice([mock_drive.graph_url, f"{mock_drive.url}/beta"])
            forms = [
                f"{version}/drives/{drive_id}/items/{item_id}",
                f"{version}/users/{owner_id}/drive/items/{item_id}",
            ]
            if name in ("owner", "jwt"):
                forms.append(f"{version}/me/drive/items/{item_id}")
                at = f"/me/drive/root:{path}:" if path != "/" else "/me/drive/root"
                forms.append(version + at)
            url = rng.choice(forms)
            status, quick, plain = fresh_pair(session, url)
            compared.append(status)
            if status == 200:  # (a refusal's envelope carries its own request id)
                assert quick == plain, (kind, name, url)

    for _ in range(WALK_STEPS):
        read_all(write())
    assert compared.count(200) > WALK_STEPS  # (the walk read what it wrote)


def test_past_the_bounds_of_what_is_kept_every_answer_is_still_fresh(mock_drive, monkeypatch):
    """With room for 3 items' fields and 2 contexts, reads of 8 items on 3 hosts, each renamed
    between rounds, forget and re-encode without ever mixing two items or two hosts."""
    monkeypatch.setattr(render, "FRAGMENTS_KEPT", 3)
    monkeypatch.setattr(render, "CONTEXTS_KEPT", 2)
    ids = [mock_drive.add_file(f"/F/f{n}.txt", "x" * n).id for n in range(8)]
    hosts = ("a.example", "b.example:8443", "c.example")  # (the Host header alone differs)
    session = mock_drive.session
    for round_ in range(3):
        for n, item_id in enumerate(ids):
            for host in hosts:
                url = f"/me/drive/items/{item_id}"
                status, quick, plain = fresh_pair(session, url, headers={"Host": host})
                assert status == 200 and quick == plain
                got = json.loads(quick)
                assert got["name"] == f"f{n}{'-' * round_}.txt"
                assert got["@odata.context"].startswith(f"http://{host}/v1.0/")
            assert len(render._ENCODED[1]) <= 3 and len(render._CONTEXTS) <= 2
        for n, item_id in enumerate(ids):
            renamed = session.patch(
                f"/me/drive/items/{item_id}", json={"name": f"f{n}{'-' * (round_ + 1)}.txt"}
            )
            assert renamed.status_code == 200, renamed.text
