"""Debian's ``onedrive`` sync client, unchanged, starts from nothing but a ``refresh_token`` file
in its config directory: it redeems it at ``login.microsoftonline.com`` (through ``--proxy``),
syncs the drive down, then uploads a local change, as the signed-in user.

Debian's libcurl reads CAs only from ``/etc/ssl/certs/ca-certificates.crt``, so each run binds a
bundle with the mock's CA over it inside a private mount namespace (``unshare -m``, as root);
the machine's own CA store is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mockdrive.cli import default_state
from mockdrive.server import MockDrive

ONEDRIVE_CLIENT = "d50ca740-c83f-4d1b-b616-12c519384f0c"  # the client's own app id
SYSTEM_CAS = Path("/etc/ssl/certs/ca-certificates.crt")

if shutil.which("onedrive") is None:
    if os.environ.get("CI"):
        raise RuntimeError("onedrive is not installed; .ci/run installs it from Debian")
    pytest.skip("onedrive is not installed (apt-get install onedrive)", allow_module_level=True)
if os.geteuid() != 0 or shutil.which("unshare") is None or not SYSTEM_CAS.exists():
    pytest.skip("needs root and unshare to show the client the mock's CA", allow_module_level=True)


def run_onedrive(server: MockDrive, home: Path, *args: str) -> str:
    bundle = home / "bundle.pem"
    bundle.write_text(SYSTEM_CAS.read_text() + Path(server.ca_path).read_text())
    proxies = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
    env = {k: v for k, v in os.environ.items() if k.lower() not in proxies}
    env.update(HTTPS_PROXY=server.url, https_proxy=server.url, HOME=str(home))
    command = (
        f"mount --bind {bundle} {SYSTEM_CAS} && onedrive --confdir {home / 'conf'} "
        f"--syncdir {home / 'sync'} --synchronize --verbose " + " ".join(args)
    )
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", command], env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result.stdout


def test_the_onedrive_client_starts_from_a_refresh_token_and_syncs(tmp_path: Path):
    with MockDrive(default_state("owner-token"), proxy=True) as server:
        state = server.state
        ada = server.call(lambda: state.user("ada@contoso.example"))
        drive = server.call(lambda: state.default_drive(ada.id))
        server.call(lambda: state.make_path(drive, "/Docs/hello.txt", is_folder=False,
                                            content=b"hello from the mock"))  # fmt: skip
        refresh = server.call(lambda: state.entra.issue_refresh_token(
            state.clock.moment(), ada, ONEDRIVE_CLIENT, ("Files.ReadWrite.All", "offline_access")
        ))  # fmt: skip
        (tmp_path / "conf").mkdir()
        (tmp_path / "sync").mkdir()
        (tmp_path / "conf" / "refresh_token").write_text(refresh)

        run_onedrive(server, tmp_path)
        assert (tmp_path / "sync/Docs/hello.txt").read_bytes() == b"hello from the mock"
        rotated = (tmp_path / "conf" / "refresh_token").read_text().strip()
        assert rotated != refresh  # redeemed, and the new one kept

        (tmp_path / "sync/Docs/local.txt").write_bytes(b"written on the laptop")
        run_onedrive(server, tmp_path, "--upload-only")
        uploaded = server.call(lambda: state.store.resolve(state.store.root(drive),
                                                           "/Docs/local.txt"))  # fmt: skip
        assert uploaded.content == b"written on the laptop"

        journal = server.call(lambda: state.journal.to_list(timing=False))
        redeemed = [e for e in journal if e["path"] == "/common/oauth2/v2.0/token"]
        assert [e["body"]["grant_type"] for e in redeemed] == ["refresh_token"] * len(redeemed)
        assert redeemed and all(e["status"] == 200 for e in redeemed)
        graph = [e for e in journal if e["path"].startswith("/v1.0/")]
        assert graph and all(e["caller"] == ada.email for e in graph)
