"""Debian's ``onedrive`` sync client (abraunegg, 2.4.x) against mockdrive, unchanged.

Its Graph and login hosts are hard-coded, so it goes through proxy mode with ``https_proxy``.
Its libcurl reads CAs only from the system bundle, so every run is in a private mount namespace
(``unshare -m``, as root) with the system CAs plus the mock's bind-mounted over that bundle; the
machine's own CA store is never touched. It starts from nothing but a ``refresh_token`` file in
its config directory, which it redeems at the login host.

The steps run in order against one drive and one local directory (a step table); each asserts on
the mock's state and on the local directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import requests

from mockdrive.cli import default_state
from mockdrive.server import MockDrive
from mockdrive.testing.fixture import MockDriveFixture

TOKEN = "onedrive-client-token"
OWNER = "ada@contoso.example"
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CLIENT_ID = "d50ca740-c83f-4d1b-b616-12c519384f0c"  # the client's own public app id
BIG = 5 * 1024 * 1024  # over the client's 4 MiB simple-upload limit: an upload session


def missing() -> str | None:
    """Why the client cannot run here, or None."""
    if shutil.which("onedrive") is None:
        return "onedrive is not installed (apt-get install onedrive)"
    if shutil.which("unshare") is None:
        return "unshare is not installed (util-linux)"
    if os.geteuid() != 0:
        return "needs root: each run bind-mounts a CA bundle in a private mount namespace"
    if not SYSTEM_BUNDLE.exists():
        return f"no system CA bundle at {SYSTEM_BUNDLE}"
    return None


if (reason := missing()) is not None:
    if os.environ.get("CI"):
        raise RuntimeError(f"{reason}; .ci/run installs onedrive from Debian and runs as root")
    pytest.skip(reason, allow_module_level=True)


@dataclass
class Client:
    """One ``onedrive`` configuration (config dir, sync dir) behind the proxy."""

    server: MockDrive
    mock: MockDriveFixture
    proxy_url: str
    bundle: Path
    confdir: Path
    syncdir: Path
    home: Path

    def sync(self, *extra: str) -> str:
        """One ``--synchronize`` run; returns its output."""
        command = (
            f"mount --bind '{self.bundle}' {SYSTEM_BUNDLE} && exec onedrive"
            f" --confdir '{self.confdir}' --syncdir '{self.syncdir}' --synchronize --verbose "
            + " ".join(extra)
        )
        env = {
            key: value
            for key, value in os.environ.items()
            if key.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
        }
        env.update(https_proxy=self.proxy_url, HOME=str(self.home))
        result = subprocess.run(
            ["unshare", "-m", "sh", "-c", command],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-4000:]
        return output

    def local(self) -> dict[str, bytes | None]:
        """The sync directory: path -> content (None for a folder)."""
        return {
            "/" + path.relative_to(self.syncdir).as_posix(): (
                None if path.is_dir() else path.read_bytes()
            )
            for path in self.syncdir.rglob("*")
        }

    def remote(self) -> dict[str, bytes | None]:
        """The mock's drive: path -> content (None for a folder), the root left out."""

        def walk() -> dict[str, bytes | None]:
            store = self.server.state.store
            root = store.root(self.mock.drive)
            return {
                store.path_of(item): (None if item.is_folder else bytes(item.content or b""))
                for item in store.iter_subtree(root)
                if item.id != root.id
            }

        return self.server.call(walk)

    def requests(self, after: int = 0) -> list[dict]:
        """The mock's journal (of the whole run: 1,000 entries are kept, the run makes ~150),
        from the entry after id ``after``."""
        journal = self.server.call(lambda: self.server.state.journal.to_list(timing=False))
        return [entry for entry in journal if entry["id"] > after]

    def last_request(self) -> int:
        return max((entry["id"] for entry in self.requests()), default=0)

    def graph(self, method: str, path: str, **kwargs) -> requests.Response:
        """A change made by someone else, over plain HTTP on the mock's direct port."""
        answer = self.mock.session.request(method, self.mock.graph_url + path, timeout=10, **kwargs)
        assert answer.ok, (method, path, answer.status_code, answer.text)
        return answer


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    home = tmp_path_factory.mktemp("onedrive")
    with MockDrive(default_state(TOKEN), proxy=True) as server:
        mock = MockDriveFixture(server)
        mock.add_folder("/Docs/Old")
        mock.add_file("/Docs/readme.txt", b"read me\n")
        mock.add_file("/Docs/Old/2019.txt", b"an old note\n")
        mock.add_file("/top.txt", b"at the top\n")
        assert server.ca_path is not None
        bundle = home / "bundle.pem"
        bundle.write_bytes(SYSTEM_BUNDLE.read_bytes() + Path(server.ca_path).read_bytes())
        confdir, syncdir = home / "conf", home / "OneDrive"
        confdir.mkdir()
        syncdir.mkdir()
        # what an earlier sign-in would have left in the client's config, issued by the mock
        (confdir / "refresh_token").write_text(mock.refresh_token_for(OWNER, CLIENT_ID))
        yield Client(server, mock, server.url, bundle, confdir, syncdir, home)


# -- the steps ---------------------------------------------------------------------------------


def first_sync_down(client: Client) -> None:
    """From nothing but the refresh token: redeemed at the login host, then the drive."""
    before = client.remote()
    client.sync()
    journal = client.requests()
    [redeemed] = [e for e in journal if e["path"] == "/common/oauth2/v2.0/token"]
    assert redeemed["method"] == "POST" and redeemed["status"] == 200
    assert journal.index(redeemed) < min(i for i, e in enumerate(journal) if "/drive" in e["path"])
    assert client.local() == before
    assert client.remote() == before
    assert client.local()["/Docs/Old/2019.txt"] == b"an old note\n"


def upload_new_files_and_folders(client: Client) -> None:
    big = os.urandom(BIG)
    (client.syncdir / "Photos" / "2024").mkdir(parents=True)
    (client.syncdir / "Photos" / "2024" / "beach.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (client.syncdir / "Photos" / "big.bin").write_bytes(big)
    (client.syncdir / "Docs" / "added.txt").write_bytes(b"added locally\n")
    (client.syncdir / "notes.txt").write_bytes(b"notes\n")
    (client.syncdir / "Empty").mkdir()
    client.sync()
    remote = client.remote()
    assert remote["/Photos"] is None and remote["/Photos/2024"] is None
    assert remote["/Empty"] is None
    assert remote["/Photos/2024/beach.jpg"] == b"\xff\xd8 not really a jpeg"
    assert remote["/Docs/added.txt"] == b"added locally\n"
    assert remote["/notes.txt"] == b"notes\n"
    assert remote["/Photos/big.bin"] == big
    journal = client.requests()
    [session] = [
        i for i, e in enumerate(journal) if e["path"].endswith("/big.bin:/createUploadSession")
    ]
    assert journal[session]["method"] == "POST" and journal[session]["status"] == 200
    fragments = [
        e for e in journal[session:] if e["method"] == "PUT" and e["path"].startswith("/up/")
    ]
    assert fragments[0]["status"] == 201  # 5 MiB in one of its 10 MiB fragments: created
    assert not any(e["path"].endswith("big.bin:/content") for e in journal)  # no simple upload
    assert client.local() == remote


def modify_a_file(client: Client) -> None:
    top = client.mock.item("/top.txt")
    edited = client.syncdir / "top.txt"
    edited.write_bytes(b"at the top, edited locally\n")
    # the client sees a local edit by its modification time, to the second, against the time
    # the mock gave the file. The mock's clock reads one second per write and keeps up with the
    # wall, so after a burst of writes it runs ahead of the wall: the edit is dated a minute
    # after the mock's time, not after the wall's
    remote_time = client.mock.item_json("/top.txt")["fileSystemInfo"]["lastModifiedDateTime"]
    later = datetime.fromisoformat(remote_time.replace("Z", "+00:00")).timestamp() + 60
    os.utime(edited, (later, later))
    client.sync()
    after = client.mock.item("/top.txt")
    assert after.id == top.id  # new content for the same item
    assert client.remote()["/top.txt"] == b"at the top, edited locally\n"
    assert client.local() == client.remote()


def rename_move_and_delete_locally(client: Client) -> None:
    """A one-off ``--synchronize`` does not track local renames (only its monitor mode does):
    a renamed or moved item is deleted where it was and uploaded where it is now."""
    gone = ["/notes.txt", "/Docs/readme.txt", "/Docs/Old", "/Photos/2024/beach.jpg", "/Empty"]
    old_ids = {path: client.mock.item(path).id for path in gone}
    (client.syncdir / "notes.txt").rename(client.syncdir / "notes-renamed.txt")
    (client.syncdir / "Docs" / "readme.txt").rename(client.syncdir / "Photos" / "readme.txt")
    (client.syncdir / "Docs" / "Old").rename(client.syncdir / "Photos" / "Old")
    (client.syncdir / "Photos" / "2024" / "beach.jpg").unlink()
    shutil.rmtree(client.syncdir / "Empty")
    before = client.last_request()
    client.sync()
    remote = client.remote()
    for path in gone:
        assert path not in remote, path
    assert remote["/notes-renamed.txt"] == b"notes\n"
    assert remote["/Photos/readme.txt"] == b"read me\n"
    assert remote["/Photos/Old"] is None
    assert remote["/Photos/Old/2019.txt"] == b"an old note\n"
    deleted = {e["path"].rsplit("/", 1)[-1] for e in client.requests(before)
               if e["method"] == "DELETE" and e["status"] == 204}  # fmt: skip
    assert deleted == set(old_ids.values())  # one DELETE each, by id
    assert client.local() == remote


def remote_changes_through_delta(client: Client) -> None:
    """Made by someone else a minute later: the client compares modification times to the
    second before it downloads new content, and this whole test runs within seconds."""
    client.mock.clock.advance(minutes=1)
    drive = "/me/drive"
    client.graph("PUT", f"{drive}/root:/Remote/from-the-web.txt:/content", data=b"from the web\n")
    client.graph("PUT", f"{drive}/root:/Docs/added.txt:/content", data=b"edited on the web\n")
    client.graph("DELETE", f"{drive}/root:/Photos/readme.txt:")
    client.graph("DELETE", f"{drive}/root:/Photos/Old:")
    moved = client.mock.item("/notes-renamed.txt").id
    client.graph("PATCH", f"{drive}/items/{moved}", json={"name": "notes-from-web.txt",
                 "parentReference": {"path": "/drive/root:/Remote"}})  # fmt: skip
    before = client.last_request()
    client.sync()
    local = client.local()
    assert local["/Remote/from-the-web.txt"] == b"from the web\n"
    assert local["/Docs/added.txt"] == b"edited on the web\n"
    assert local["/Remote/notes-from-web.txt"] == b"notes\n"
    for gone in ("/Photos/readme.txt", "/Photos/Old", "/notes-renamed.txt"):
        assert gone not in local, gone
    assert local == client.remote()
    delta = [e for e in client.requests(before) if e["path"].endswith("/delta")]
    assert delta and all(e["status"] == 200 for e in delta)
    assert any("token" in e.get("query", {}) for e in delta)  # picked up from the last token


def resync(client: Client) -> None:
    """The client forgets its state and compares the whole tree again: only what is new moves."""
    before = client.remote()
    (client.syncdir / "Docs" / "after-resync.txt").write_bytes(b"written before the resync\n")
    since = client.last_request()
    client.sync("--resync", "--resync-auth")
    remote = client.remote()
    assert remote.pop("/Docs/after-resync.txt") == b"written before the resync\n"
    assert remote == before
    sessions = [e["path"] for e in client.requests(since) if e["path"].endswith("UploadSession")]
    assert len(sessions) == 1 and sessions[0].endswith("/after-resync.txt:/createUploadSession")
    assert not [e for e in client.requests(since) if e["method"] in ("DELETE", "PATCH")]
    assert client.local() == client.remote()


STEPS: list[tuple[str, Callable[[Client], None]]] = [
    ("first sync down", first_sync_down),
    ("upload new files and folders, 5 MiB through an upload session", upload_new_files_and_folders),
    ("modify a file", modify_a_file),
    ("local rename, move and delete", rename_move_and_delete_locally),
    ("remote changes through delta, deletes included", remote_changes_through_delta),
    ("--resync", resync),
]


def test_onedrive_sync_client_steps(client: Client) -> None:
    """The steps in order on one drive; a failure names its step."""
    for name, step in STEPS:
        try:
            step(client)
        except AssertionError as failure:
            raise AssertionError(f"step {name!r}: {failure}") from failure
    # nothing refused on the way but the client's lookups of new paths before it uploads them
    journal = client.requests()
    refused = [(e["method"], e["path"], e["status"]) for e in journal if e["status"] >= 400]
    assert all(method == "GET" and status == 404 and ":/./" in path
               for method, path, status in refused), refused  # fmt: skip
