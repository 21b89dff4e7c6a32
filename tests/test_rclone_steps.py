"""rclone beyond copy, unchanged, through ``--proxy`` (set up as in test_rclone.py): link with an
expiry, about, sync with deletes, dedupe, rcat, server-side copyto, lsf -R, mkdir and rmdir,
cat --offset and check. The steps run in order over one drive, each asserted against the mock's
state (the fixture's model, the journal, the HTTP answers), not only rclone's exit code; each
is reported as its own test (``test_step[...]``), so the log lists every step.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import run_documented_example
from step_table import outcome_of
from test_rclone import TOKEN, Rclone, item_at, sends_token_with_fragments

from mockdrive.cli import default_state
from mockdrive.model.policy import SharingPolicy
from mockdrive.server import MockDrive


@dataclass
class Run:
    """What the steps share: the server, rclone, a local directory, what earlier steps made."""

    server: MockDrive
    rclone: Rclone
    local: Path
    seen: dict[str, Any] = field(default_factory=dict)

    def item(self, path: str):
        """The model's item at ``path`` in the drive rclone writes to, or None."""
        return item_at(self.server, path)

    def graph(self, path: str) -> Any:
        """A Graph GET on the direct port, as the owner: the mock's own answer."""
        import requests

        answer = requests.get(
            self.server.graph_url + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def journal(self) -> list[dict[str, Any]]:
        return self.server.call(lambda: self.server.state.journal.to_list(timing=False))

    def tree(self, path: str) -> list[str]:
        """Every path under ``path`` in the mock, folders ending in ``/``, as lsf -R lists."""

        def walk() -> list[str]:
            state = self.server.state
            top = self.item(path)
            found: list[str] = []

            def visit(item, prefix: str) -> None:
                for child in state.store.iter_children(item):
                    name = prefix + child.name
                    found.append(name + "/" if child.is_folder else name)
                    if child.is_folder:
                        visit(child, name + "/")

            visit(top, "")
            return sorted(found)

        return self.server.call(walk)


# -- the steps ------------------------------------------------------------------------------------
def mkdir_and_rmdir(run: Run) -> None:
    run.rclone("mkdir", "mock:Empty/Inner")
    assert run.item("/Empty/Inner").is_folder
    run.rclone("rmdir", "mock:Empty/Inner")
    assert run.item("/Empty/Inner") is None and run.item("/Empty").is_folder
    run.rclone("rmdir", "mock:Empty")
    assert run.item("/Empty") is None


def rcat(run: Run) -> None:
    data = b"piped into rclone\n" * 100
    run.rclone("rcat", "mock:Notes/piped.txt", input=data)
    item = run.item("/Notes/piped.txt")
    assert item.content == data
    assert run.graph(f"/me/drive/items/{item.id}")["size"] == len(data)


def cat_with_offset(run: Run) -> None:
    data = run.item("/Notes/piped.txt").content
    part = run.rclone("cat", "--offset", "5", "--count", "20", "mock:Notes/piped.txt").stdout
    assert part == data[5:25]
    tail = run.rclone("cat", "--offset", "-7", "mock:Notes/piped.txt").stdout
    assert tail == data[-7:]


def link_with_expiry(run: Run) -> None:
    url = run.rclone("link", "--expire", "2d", "mock:Notes/piped.txt").stdout.decode().strip()
    item = run.item("/Notes/piped.txt")
    links = [p for p in run.graph(f"/me/drive/items/{item.id}/permissions")["value"] if "link" in p]
    assert [p["link"]["webUrl"] for p in links] == [url]
    expires = datetime.fromisoformat(links[0]["expirationDateTime"].replace("Z", "+00:00"))
    now = datetime.now(timezone.utc)  # the mock's clock follows the wall by default
    assert timedelta(days=2) - timedelta(minutes=5) < expires - now < timedelta(days=2, minutes=5)
    assert links[0]["link"]["type"] == "view" and links[0]["roles"] == ["read"]


def about(run: Run) -> None:
    totals = json.loads(run.rclone("about", "--json", "mock:").stdout)
    quota = run.graph("/me/drive")["quota"]
    assert totals["total"] == quota["total"]
    assert totals["used"] == quota["used"] == run.item("/").size > 0
    assert totals["free"] == quota["remaining"]


def sync_with_deletes(run: Run) -> None:
    source = run.local / "sync"
    (source / "sub").mkdir(parents=True)
    for name, text in (("keep.txt", "kept"), ("gone.txt", "to be deleted"), ("sub/a.txt", "a")):
        (source / name).write_text(text)
    run.rclone("sync", str(source), "mock:Sync")
    assert run.tree("/Sync") == ["gone.txt", "keep.txt", "sub/", "sub/a.txt"]

    (source / "gone.txt").unlink()
    (source / "sub" / "a.txt").unlink()
    (source / "sub").rmdir()
    (source / "keep.txt").write_text("kept, and changed")
    (source / "new.txt").write_text("new")
    run.rclone("sync", str(source), "mock:Sync")
    assert run.tree("/Sync") == ["keep.txt", "new.txt"]
    assert run.item("/Sync/keep.txt").content == b"kept, and changed"
    assert run.item("/Sync/new.txt").content == b"new"


def sync_again_sends_nothing(run: Run) -> None:
    """Unchanged files are left alone: sizes, hashes and the local modification times the
    first sync stored (fileSystemInfo) all match."""
    source = run.local / "sync"
    before = len(run.journal())
    run.rclone("sync", str(source), "mock:Sync")
    writes = [e for e in run.journal()[before:] if e["method"] != "GET"]
    assert writes == [], writes
    listed = {e["Path"]: e for e in json.loads(run.rclone("lsjson", "-R", "mock:Sync").stdout)}
    for path in ("keep.txt", "new.txt"):
        local = datetime.fromtimestamp((source / path).stat().st_mtime, timezone.utc)
        remote = datetime.fromisoformat(listed[path]["ModTime"].replace("Z", "+00:00"))
        assert abs(remote - local) < timedelta(seconds=1), (path, remote, local)
        stored = run.graph(f"/me/drive/root:/Sync/{path}")["fileSystemInfo"]
        stored_time = datetime.fromisoformat(stored["lastModifiedDateTime"].replace("Z", "+00:00"))
        assert abs(stored_time - local) < timedelta(seconds=1), (path, stored_time, local)


def touch(run: Run) -> None:
    run.rclone("touch", "--timestamp", "2020-01-02T03:04:05", "mock:Notes/piped.txt")
    stored = run.graph("/me/drive/root:/Notes/piped.txt")["fileSystemInfo"]
    assert stored["lastModifiedDateTime"] == "2020-01-02T03:04:05Z"
    run.rclone("touch", "mock:Notes/touched.txt")  # a new, empty file
    assert run.item("/Notes/touched.txt").content == b""


def check(run: Run) -> None:
    source = run.local / "sync"
    result = run.rclone("check", str(source), "mock:Sync")
    assert b"0 differences found" in result.stderr
    item = run.item("/Sync/new.txt")
    run.server.call(lambda: run.server.state.replace_content(
        run.server.state.user("ada@contoso.example"), item, b"NEW"))  # fmt: skip
    differs = run.rclone.run("check", str(source), "mock:Sync")
    assert differs.returncode != 0 and b"1 differences found" in differs.stderr
    assert b"new.txt" in differs.stderr
    (source / "new.txt").write_text("NEW")


def copyto_server_side(run: Run) -> None:
    before = len(run.journal())
    run.rclone("copyto", "mock:Sync/keep.txt", "mock:Copies/kept copy.txt")
    assert run.item("/Copies/kept copy.txt").content == b"kept, and changed"
    assert run.item("/Sync/keep.txt").content == b"kept, and changed"
    sent = run.journal()[before:]
    copies = [e for e in sent if e["method"] == "POST" and e["path"].endswith("/copy")]
    assert [e["status"] for e in copies] == [202]
    # rclone then waits on the monitor the 202 named (not journaled: it is no Graph route)
    uploads = [e for e in sent if e["method"] == "PUT"]
    assert uploads == []  # no byte went through rclone


def dedupe_by_hash(run: Run) -> None:
    for name in ("one.txt", "two.txt", "three.txt"):
        run.rclone("rcat", f"mock:Dups/{name}", input=b"the same bytes")
    run.rclone("rcat", "mock:Dups/other.txt", input=b"other bytes")
    run.rclone("dedupe", "--by-hash", "--dedupe-mode", "first", "mock:Dups")
    left = run.tree("/Dups")
    assert len(left) == 2 and "other.txt" in left, left
    assert sorted(run.item(f"/Dups/{n}").content for n in left) == [
        b"other bytes",
        b"the same bytes",
    ]


def lsf_recursive(run: Run) -> None:
    listed = run.rclone("lsf", "-R", "mock:").stdout.decode().splitlines()
    assert sorted(listed) == run.tree("/")
    assert {"Copies/", "Copies/kept copy.txt", "Sync/new.txt", "Notes/piped.txt"} <= set(listed)


Step = Callable[[Run], None]
STEPS: list[tuple[str, Step]] = [
    ("mkdir, then rmdir", mkdir_and_rmdir),
    ("rcat", rcat),
    ("cat --offset", cat_with_offset),
    ("link --expire", link_with_expiry),
    ("about", about),
    ("sync with deletes", sync_with_deletes),
    ("sync again: nothing to send", sync_again_sends_nothing),
    ("touch", touch),
    ("check", check),
    ("copyto, server-side", copyto_server_side),
    ("dedupe --by-hash", dedupe_by_hash),
    ("lsf -R", lsf_recursive),
]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str | None]]:
    """Run every step once, in order: {step: None, or why it failed}."""
    state = default_state(TOKEN)
    if sends_token_with_fragments():
        state.policy = SharingPolicy(lenient_upload_sessions=True)
    home = tmp_path_factory.mktemp("rclone-steps")
    with MockDrive(state, proxy=True) as server:
        run = Run(server, Rclone(server, home), home)
        results: dict[str, str | None] = {}
        for name, step in STEPS:  # a step after a failed one runs, and says what it lacks
            results[name] = outcome_of(step, run)
        yield results


@pytest.mark.parametrize("name", [name for name, _ in STEPS])
def test_step(outcomes: dict[str, str | None], name: str):
    assert outcomes[name] is None, outcomes[name]


def test_the_documented_example_runs_as_written(tmp_path: Path):
    """docs/clients.md's rclone example: a shell script that serves, configures and runs."""
    returncode, out = run_documented_example("rclone", tmp_path)
    assert returncode == 0, out[-3000:]
    lines = out.split()
    assert lines[-2:] == ["Docs/", "Docs/hello.txt"], out
    assert any(line.startswith("https://") for line in lines), out
