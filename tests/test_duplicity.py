"""Debian's duplicity (0.8, its ``onedrive://`` backend) against mockdrive, unchanged.

Its hosts are hard-coded: Graph at graph.microsoft.com, and the sign-in at login.live.com's
``oauth20_token.srf``. So it goes through proxy mode: ``HTTPS_PROXY`` and, as it is requests
underneath, ``REQUESTS_CA_BUNDLE``. Every run starts from a refresh token, in
``OAUTH2_CLIENT_ID`` and ``OAUTH2_REFRESH_TOKEN`` (the steps) or in its token file (one step),
which it redeems at login.live.com before anything else; it never keeps the new one, so every
run presents the same refresh token again.

Every upload is an upload session (the backend has no simple upload), sent in fragments of
10 MiB; the source holds a file over that, so its volume takes two. duplicity sends its bearer
token with every fragment, which the service may refuse (createUploadSession's docs: it "may
result in an HTTP 401 Unauthorized response") and strict upload sessions do: the steps run
with the lenient policy, and the last but one shows the strict refusal.

The steps run in order against one drive, each run with ``--current-time`` (duplicity's own
option for tests) a minute after the one before, so that no run waits for the wall clock's next
second; each step is its own test (``test_step[...]``) and asserts on the mock's state (the
files in the drive, their bytes and sizes, the journal) as well as duplicity's exit code and
output.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import PROXY_VARIABLES, run_documented_example
from step_table import item_or_none, outcome_of

from mockdrive.cli import default_state
from mockdrive.model.policy import SharingPolicy
from mockdrive.server import MockDrive
from mockdrive.testing.fixture import MockDriveFixture

TOKEN = "duplicity-owner-token"
OWNER = "ada@contoso.example"
CLIENT_ID = "000000004C12E85D"  # duplicity's own Live SDK app, the one of its token file
SCOPE = "Files.Read Files.ReadWrite User.Read offline_access"  # what its token file's run asks
FOLDER = "/Backups/duplicity"
TARGET = "onedrive://Backups/duplicity"
FRAGMENT = 32 * 327_680  # the backend's fragment: 10 MiB, 32 times the 320 KiB multiple
START = 1_700_000_000  # the first run's --current-time; each later run a minute on
TOKEN_FILE = ".duplicity_onedrive_oauthtoken.json"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # how list-current-files starts a line


def missing() -> str | None:
    """Why duplicity's onedrive backend cannot run here, or None."""
    program = shutil.which("duplicity")
    if program is None:
        return "duplicity is not installed (apt-get install duplicity python3-requests-oauthlib)"
    interpreter = Path(program).read_text(errors="replace").splitlines()[0].removeprefix("#!")
    check = subprocess.run([*interpreter.split(), "-c", "import requests_oauthlib"],
                           capture_output=True)  # fmt: skip
    if check.returncode != 0:
        return "duplicity's onedrive backend needs python3-requests-oauthlib (apt-get install)"
    return None


if (reason := missing()) is not None:
    if os.environ.get("CI"):
        raise RuntimeError(f"{reason}; .ci/run installs duplicity from Debian")
    pytest.skip(reason, allow_module_level=True)


def stamp(moment: int) -> str:
    """A backup set's time as duplicity names its files."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(moment))


def full_set(moment: int) -> set[str]:
    name = stamp(moment)
    return {f"duplicity-full.{name}.vol1.difftar.gz", f"duplicity-full.{name}.manifest",
            f"duplicity-full-signatures.{name}.sigtar.gz"}  # fmt: skip


def incremental_set(since: int, moment: int) -> set[str]:
    span = f"{stamp(since)}.to.{stamp(moment)}"
    return {f"duplicity-inc.{span}.vol1.difftar.gz", f"duplicity-inc.{span}.manifest",
            f"duplicity-new-signatures.{span}.sigtar.gz"}  # fmt: skip


def tree(top: Path) -> dict[str, bytes | None]:
    """Every path under ``top``: its bytes, None for a folder."""
    return {
        path.relative_to(top).as_posix(): None if path.is_dir() else path.read_bytes()
        for path in top.rglob("*")
    }


@dataclass
class Run:
    """What the steps share: the server, duplicity's home and source, what earlier steps did."""

    server: MockDrive
    mock: MockDriveFixture
    home: Path
    source: Path
    refresh: str
    runs: list[int] = field(default_factory=list)  # each run's --current-time, in order
    seen: dict[str, Any] = field(default_factory=dict)

    def duplicity(
        self, *args: str, ok: bool = True, archive: str = "archive", token_file: bool = False
    ) -> str:
        """One run, a minute after the last; its output (it must succeed unless not ``ok``).
        With ``token_file``, no OAUTH2_* variables: it signs in from its token file."""
        moment = START + 60 * len(self.runs)
        self.runs.append(moment)
        env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
        env.update(HOME=str(self.home), HTTPS_PROXY=self.server.url,
                   REQUESTS_CA_BUNDLE=str(self.server.ca_path))  # fmt: skip
        if not token_file:
            env.update(OAUTH2_CLIENT_ID=CLIENT_ID, OAUTH2_REFRESH_TOKEN=self.refresh)
        options = ["--no-encryption", "--num-retries", "1", "--current-time", str(moment)]
        command = ["duplicity", *args, *options, "--archive-dir", str(self.home / archive)]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        output = result.stdout + result.stderr
        assert (result.returncode == 0) == ok, (result.returncode, output[-4000:])
        return output

    def remote(self) -> dict[str, bytes]:
        """The backup folder in the mock: name -> bytes (its files only)."""

        def read() -> dict[str, bytes]:
            folder = item_or_none(self.mock, FOLDER)
            if folder is None:
                return {}
            children = self.server.state.store.iter_children(folder)
            return {c.name: bytes(c.content or b"") for c in children if not c.is_folder}

        return self.server.call(read)

    def journal(self, after: int = 0) -> list[dict[str, Any]]:
        """The mock's journal from the entry after id ``after`` (it keeps 1,000; the whole
        module makes about 150 requests)."""
        entries = self.server.call(lambda: self.server.state.journal.to_list(timing=False))
        return [e for e in entries if e["id"] > after]

    def mark(self) -> int:
        return max((e["id"] for e in self.journal()), default=0)

    def graph(self, path: str) -> Any:
        """A Graph GET on the mock's direct port, as the owner."""
        answer = self.mock.session.get(self.mock.graph_url + path, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def volume(self, name: str) -> dict[str, bytes]:
        """A volume in the drive, opened: each file's bytes by its name in the tar; a file cut
        in blocks (``multivol_snapshot/<path>/<n>``) joined as ``multivol_snapshot/<path>``."""
        found: dict[str, bytes] = {}
        blocks: dict[str, list[tuple[int, bytes]]] = {}
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(self.remote()[name]))) as volume:
            for member in volume.getmembers():
                reader = volume.extractfile(member) if member.isfile() else None
                if reader is None:
                    continue
                if member.name.startswith("multivol_snapshot/"):
                    path, _, number = member.name.rpartition("/")
                    blocks.setdefault(path, []).append((int(number), reader.read()))
                else:
                    found[member.name] = reader.read()
        for path, parts in blocks.items():
            found[path] = b"".join(data for _, data in sorted(parts))
        return found


def signed_in_first(entries: list[dict[str, Any]], body: dict[str, str]) -> None:
    """The run redeemed its refresh token at login.live.com before it asked Graph anything."""
    [redeemed] = [e for e in entries if e["path"] == "/oauth20_token.srf"]
    assert (redeemed["method"], redeemed["status"]) == ("POST", 200), redeemed
    assert redeemed["body"] == {**body, "refresh_token": "[redacted]"}, redeemed["body"]
    graph = [i for i, e in enumerate(entries) if e["path"].startswith("/v1.0/")]
    assert graph and entries.index(redeemed) < graph[0]
    assert {e.get("caller") for e in entries if e["path"].startswith("/v1.0/")} == {OWNER}


def downloaded(entries: list[dict[str, Any]]) -> dict[str, int]:
    """The backup files whose content was asked for: name -> status."""
    prefix, suffix = f"/v1.0/me/drive/root:{FOLDER}/", ":/content"
    return {
        e["path"].removeprefix(prefix).removesuffix(suffix): e["status"]
        for e in entries
        if e["path"].startswith(prefix) and e["path"].endswith(suffix)
    }


def writes(entries: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """What changed the drive: every request but a read or the sign-in."""
    return [(e["method"], e["path"], e["status"]) for e in entries
            if e["method"] != "GET" and e["path"] != "/oauth20_token.srf"]  # fmt: skip


# -- the steps ------------------------------------------------------------------------------------
def full_backup(run: Run) -> None:
    """From a refresh token in the environment: signed in at login.live.com, then a full backup
    whose volume (over one fragment) goes up in two, and its signatures and manifest in one."""
    big = os.urandom(FRAGMENT + 256 * 1024)  # random: gzip cannot bring it under a fragment
    (run.source / "docs").mkdir(parents=True)
    (run.source / "notes.txt").write_bytes(b"first notes\n")
    (run.source / "docs" / "readme.md").write_bytes(b"# read me\n")
    (run.source / "docs" / "empty.txt").write_bytes(b"")
    (run.source / "big.bin").write_bytes(big)
    run.seen["first"] = tree(run.source)
    output = run.duplicity("full", str(run.source), TARGET)
    assert "Errors 0" in output and "NewFiles 6" in output, output
    full = run.seen["full"] = run.runs[-1]
    remote = run.remote()
    assert set(remote) == full_set(full)
    name = stamp(full)
    archive = next((run.home / "archive").iterdir())  # duplicity's cache of the metadata
    manifest, signatures = (
        f"duplicity-full.{name}.manifest",
        f"duplicity-full-signatures.{name}.sigtar.gz",
    )
    assert remote[manifest] == (archive / manifest).read_bytes()
    # duplicity gzips its cached copy of the signatures apart: the two streams' headers carry the
    # second each was written at (a second may pass between them), what they hold is the same
    local = (archive / signatures).read_bytes()
    assert gzip.decompress(remote[signatures]) == gzip.decompress(local), signatures
    volume_name = f"duplicity-full.{name}.vol1.difftar.gz"
    volume = run.volume(volume_name)
    assert volume["multivol_snapshot/big.bin"] == big  # the two fragments, joined as sent
    assert volume["snapshot/notes.txt"] == b"first notes\n"
    assert volume["snapshot/docs/empty.txt"] == b""
    listed = run.graph(f"/me/drive/root:{FOLDER}/{volume_name}")
    assert listed["size"] == len(remote[volume_name]) > FRAGMENT
    journal = run.journal()
    signed_in_first(journal, {"grant_type": "refresh_token", "client_id": CLIENT_ID})
    [session] = [i for i, e in enumerate(journal)
                 if e["path"].endswith(f"/{volume_name}:/createUploadSession")]  # fmt: skip
    assert journal[session]["status"] == 200
    fragments = [e["status"] for e in journal[session:] if e["path"].startswith("/up/")][:2]
    assert fragments == [202, 201]  # the first fragment accepted, the second completes it
    assert not [e for e in journal if e["path"].endswith(":/content") and e["method"] == "PUT"]


def collection_status(run: Run) -> None:
    before, mark = run.remote(), run.mark()
    output = run.duplicity("collection-status", TARGET)
    assert "Found primary backup chain with matching signature chain" in output, output
    assert "No orphaned or incomplete backup sets found." in output
    [full_line] = [line.split() for line in output.splitlines() if line.strip().startswith("Full")]
    assert full_line[-1] == "1"  # one volume
    assert run.remote() == before
    assert writes(run.journal(mark)) == []


def list_current_files(run: Run) -> None:
    """With a new archive dir duplicity fetches the metadata from the drive first."""
    mark = run.mark()
    output = run.duplicity("list-current-files", TARGET, archive="other-archive")
    # "Tue Nov 14 22:13:20 2023 docs/readme.md"
    listed = {
        line.split(maxsplit=5)[-1] for line in output.splitlines() if line.startswith(WEEKDAYS)
    }
    assert listed == {".", "notes.txt", "big.bin", "docs", "docs/readme.md", "docs/empty.txt"}
    name = stamp(run.seen["full"])
    fetched = next((run.home / "other-archive").iterdir())
    remote = run.remote()
    manifest, signatures = (
        f"duplicity-full.{name}.manifest",
        f"duplicity-full-signatures.{name}.sigtar.gz",
    )
    assert (fetched / manifest).read_bytes() == remote[manifest]
    # (it gzips the signatures again as it stores them: their bytes, not the gzip header's time)
    assert gzip.decompress((fetched / signatures).read_bytes()) == gzip.decompress(
        remote[signatures]
    )
    journal = run.journal(mark)
    downloads = downloaded(journal)
    assert set(downloads) == {f"duplicity-full.{name}.manifest",
                              f"duplicity-full-signatures.{name}.sigtar.gz"}  # fmt: skip
    assert set(downloads.values()) == {302}  # to the pre-authenticated URL, then
    assert [e["status"] for e in journal if e["path"].startswith("/download/")] == [200, 200]
    assert writes(journal) == []


def incremental_backup(run: Run) -> None:
    before = run.remote()
    ids = {name: run.mock.item(f"{FOLDER}/{name}").id for name in before}
    (run.source / "notes.txt").write_bytes(b"second notes, longer than the first\n")
    (run.source / "docs" / "new.txt").write_bytes(b"a new file\n")
    (run.source / "docs" / "empty.txt").unlink()
    output = run.duplicity("incremental", str(run.source), TARGET)
    assert "Errors 0" in output and "DeletedFiles 1" in output, output
    remote = run.remote()
    added = incremental_set(run.seen["full"], run.runs[-1])
    assert set(remote) == set(before) | added
    for name, data in before.items():  # the full backup's files as they were
        assert remote[name] == data and run.mock.item(f"{FOLDER}/{name}").id == ids[name]
    [volume_name] = [n for n in added if n.endswith(".difftar.gz")]
    volume = run.volume(volume_name)
    assert volume["snapshot/docs/new.txt"] == b"a new file\n"
    assert "deleted/docs/empty.txt" in volume and "diff/notes.txt" in volume
    assert not [path for path in volume if "big.bin" in path]  # unchanged
    assert len(remote[volume_name]) < FRAGMENT
    run.seen["incremental"] = run.runs[-1]


def verify(run: Run) -> None:
    mark = run.mark()
    output = run.duplicity("verify", TARGET, str(run.source))
    assert "0 differences found" in output, output
    journal = run.journal(mark)
    assert writes(journal) == []
    assert set(downloaded(journal)) == {n for n in run.remote() if n.endswith(".difftar.gz")}


def restore_to_a_fresh_directory(run: Run) -> None:
    target = run.home / "restored"
    mark = run.mark()
    run.duplicity("restore", TARGET, str(target))
    assert tree(target) == tree(run.source)  # byte for byte, the deleted file gone
    assert writes(run.journal(mark)) == []


def restore_as_of_the_full_backup(run: Run) -> None:
    target = run.home / "restored-first"
    moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run.seen["full"]))
    run.duplicity("restore", "--time", moment, TARGET, str(target))
    assert tree(target) == run.seen["first"]


def second_full_backup(run: Run) -> None:
    """After the big file is gone (the runs after this one need not read 10 MiB again)."""
    before = run.remote()
    (run.source / "big.bin").unlink()
    output = run.duplicity("full", str(run.source), TARGET)
    assert "Errors 0" in output, output
    run.seen["second"] = run.runs[-1]
    added = full_set(run.runs[-1])
    assert set(run.remote()) == set(before) | added
    [volume_name] = [n for n in added if n.endswith(".difftar.gz")]
    assert run.volume(volume_name)["snapshot/notes.txt"] == (run.source / "notes.txt").read_bytes()


def remove_older_than(run: Run) -> None:
    """The first chain (the full backup and its incremental) is older than the cut: its six
    files are deleted, one DELETE by path each; the second full backup stays."""
    kept = full_set(run.seen["second"])
    gone = set(run.remote()) - kept
    first_chain = full_set(run.seen["full"])
    assert gone == first_chain | incremental_set(run.seen["full"], run.seen["incremental"])
    cut = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run.seen["second"] - 30))
    mark = run.mark()
    output = run.duplicity("remove-older-than", cut, "--force", TARGET)
    assert "Deleting backup chain at time:" in output, output
    assert set(run.remote()) == kept
    for name in gone:
        assert item_or_none(run.mock, f"{FOLDER}/{name}") is None, name
    deleted = writes(run.journal(mark))
    assert sorted(deleted) == sorted(("DELETE", f"/v1.0/me/drive/root:{FOLDER}/{name}", 204)
                                     for name in gone)  # fmt: skip


def cleanup_after_an_interrupted_backup(run: Run) -> None:
    """An incremental backup whose manifest cannot be uploaded (503) leaves its volume and its
    signatures in the drive; ``cleanup`` deletes the volume and keeps the signatures, which
    then stop the next incremental backup ("Old signatures not found"): duplicity does all of
    this against its own ``file://`` backend too, so a full backup comes next."""
    complete = run.remote()
    (run.source / "notes.txt").write_bytes(b"third notes\n")
    with run.mock.faults.active(effect="error", status=503, method="POST",
                                path=r"\.manifest:/createUploadSession$"):  # fmt: skip
        output = run.duplicity("incremental", str(run.source), TARGET, ok=False)
    assert "503 Server Error" in output, output[-2000:]
    interrupted = incremental_set(run.seen["second"], run.runs[-1])
    [volume] = [n for n in interrupted if n.endswith(".difftar.gz")]
    [signatures] = [n for n in interrupted if n.endswith(".sigtar.gz")]
    assert set(run.remote()) == set(complete) | {volume, signatures}
    mark = run.mark()
    run.duplicity("cleanup", "--force", TARGET)
    assert set(run.remote()) == set(complete) | {signatures}
    assert writes(run.journal(mark)) == [("DELETE", f"/v1.0/me/drive/root:{FOLDER}/{volume}", 204)]


def sign_in_from_the_token_file(run: Run) -> None:
    """No OAUTH2_* variables: its token file's refresh token (the same one every earlier run
    presented) is redeemed for its own app and scopes, and checked with GET /me. It does not
    write the file back."""
    token_file = run.home / TOKEN_FILE
    token_file.write_text(json.dumps({"refresh_token": run.refresh, "token_type": "Bearer",
                                      "access_token": "long-expired"}))  # fmt: skip
    written = token_file.read_bytes()
    mark = run.mark()
    output = run.duplicity("collection-status", TARGET, token_file=True)
    assert "Found primary backup chain" in output, output
    journal = run.journal(mark)
    signed_in_first(journal, {"grant_type": "refresh_token", "client_id": CLIENT_ID,
                              "scope": SCOPE})  # fmt: skip
    me = [e for e in journal if e["path"] == "/v1.0/me"]
    assert [e["status"] for e in me] == [200]
    assert token_file.read_bytes() == written
    holders = run.mock.session.get(run.mock.url + "/_mockdrive/identity", timeout=10).json()
    mine = [h for h in holders["holders"] if h["clientId"] == CLIENT_ID and h["who"] == OWNER]
    assert mine, holders["holders"]
    token_file.unlink()


def a_revoked_refresh_token(run: Run) -> None:
    """Once the user's sign-ins are revoked the run stops at login.live.com, asking Graph
    nothing. (The next step signs in with a new one.)"""
    owner = run.mock.owner
    assert run.server.call(lambda: run.server.state.entra.revoke(owner.id)) >= 1
    mark = run.mark()
    output = run.duplicity("collection-status", TARGET, ok=False)
    assert "InvalidGrantError" in output and "'refresh_token' is not valid" in output, output
    journal = run.journal(mark)
    assert [(e["path"], e["status"]) for e in journal] == [("/oauth20_token.srf", 400)]
    run.refresh = run.mock.refresh_token_for(owner, CLIENT_ID)


def strict_upload_sessions(run: Run) -> None:
    """The service may answer 401 to a fragment sent with a bearer token; strict upload
    sessions do, and duplicity, which always sends it, cannot back up: nothing is stored."""
    before = run.remote()
    run.mock.set_policy(lenientUploadSessions=False)
    try:
        mark = run.mark()
        output = run.duplicity("full", str(run.source), TARGET, ok=False)
    finally:
        run.mock.set_policy(lenientUploadSessions=True)
    assert "401 Client Error: Unauthorized" in output, output[-2000:]
    journal = run.journal(mark)
    signed_in_first(journal, {"grant_type": "refresh_token", "client_id": CLIENT_ID})
    fragments = [e for e in journal if e["path"].startswith("/up/")]
    assert [e["status"] for e in fragments] == [401]
    assert run.remote() == before


def nothing_else_refused(run: Run) -> None:
    """Over the whole module the mock refused only what the steps provoked: the first run's
    listing of a folder not made yet (404, which duplicity reads as empty), the 503 fault, the
    revoked refresh token and the strict fragment."""
    refused = [(e["method"], e["path"], e["status"]) for e in run.journal() if e["status"] >= 400]
    listing = ("GET", f"/v1.0/me/drive/root:{FOLDER}:/children", 404)
    assert refused[:2] == [listing, listing], refused
    rest = refused[2:]
    assert [s for _, _, s in rest] == [503, 400, 401], rest
    assert rest[0][1].endswith(".manifest:/createUploadSession")
    assert rest[1][1] == "/oauth20_token.srf" and rest[2][1].startswith("/up/")


Step = Callable[[Run], None]
STEPS: list[tuple[str, Step]] = [
    ("full backup, from a refresh token", full_backup),
    ("collection-status", collection_status),
    ("list-current-files, metadata fetched into an empty cache", list_current_files),
    ("incremental backup after a change", incremental_backup),
    ("verify", verify),
    ("restore to a fresh directory", restore_to_a_fresh_directory),
    ("restore --time of the full backup", restore_as_of_the_full_backup),
    ("a second full backup", second_full_backup),
    ("remove-older-than deletes the older chain", remove_older_than),
    ("cleanup deletes an interrupted backup's volume", cleanup_after_an_interrupted_backup),
    ("sign-in from the token file", sign_in_from_the_token_file),
    ("a revoked refresh token", a_revoked_refresh_token),
    ("strict upload sessions refuse the token on fragments", strict_upload_sessions),
    ("nothing else refused", nothing_else_refused),
]  # fmt: skip


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str | None]]:
    """Run every step once, in order: {step: None, or why it failed}."""
    state = default_state(TOKEN)
    state.policy = SharingPolicy(lenient_upload_sessions=True)  # it sends its token on fragments
    home = tmp_path_factory.mktemp("duplicity")
    with MockDrive(state, proxy=True) as server:
        mock = MockDriveFixture(server)
        refresh = mock.refresh_token_for(OWNER, CLIENT_ID)  # what a sign-in would have left
        run = Run(server, mock, home, home / "source", refresh)
        results: dict[str, str | None] = {}
        for name, step in STEPS:  # a step after a failed one runs, and says what it lacks
            results[name] = outcome_of(step, run)
        yield results


@pytest.mark.parametrize("name", [name for name, _ in STEPS])
def test_step(outcomes: dict[str, str | None], name: str) -> None:
    assert outcomes[name] is None, outcomes[name]


def test_the_documented_example_runs_as_written(tmp_path: Path) -> None:
    """docs/clients.md's duplicity example: a shell script that serves, signs in, backs up,
    restores and lists."""
    returncode, out = run_documented_example("duplicity (Debian, onedrive backend)", tmp_path)
    assert returncode == 0, out[-3000:]
    assert (tmp_path / "restored" / "hello.txt").read_text() == "hello from duplicity\n"
    assert out.split()[-1] == "hello.txt", out[-3000:]
