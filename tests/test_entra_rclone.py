"""rclone, unchanged, redeems its refresh token at Entra once its access token has expired:
through ``--proxy``, ``login.microsoftonline.com`` is the mock's, and the new tokens work."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mockdrive.cli import default_state
from mockdrive.server import MockDrive

RCLONE_CLIENT = "b15665d9-eda6-4092-8539-0eec376afd59"  # rclone's own app: nobody declares it

if shutil.which("rclone") is None:
    if os.environ.get("CI"):
        raise RuntimeError("rclone is not installed; .ci/run installs it from Debian")
    pytest.skip("rclone is not installed (apt-get install rclone)", allow_module_level=True)


def test_rclone_refreshes_an_expired_token_through_the_proxy(tmp_path: Path):
    with MockDrive(default_state("owner-token"), proxy=True) as server:
        ada = server.call(lambda: server.state.user("ada@contoso.example"))
        drive_id = server.call(lambda: server.state.default_drive(ada.id).id)
        refresh = server.call(
            lambda: server.state.entra.issue_refresh_token(
                server.state.clock.moment(), ada, RCLONE_CLIENT, ("Files.ReadWrite.All",
                                                                  "offline_access"))
        )  # fmt: skip
        expired = {"access_token": "long-gone", "token_type": "Bearer",
                   "refresh_token": refresh, "expiry": "2001-01-01T00:00:00Z"}  # fmt: skip
        config = tmp_path / "rclone.conf"
        config.write_text(
            "[mock]\ntype = onedrive\ndrive_type = business\n"
            f"drive_id = {drive_id}\ntoken = {json.dumps(expired)}\n"
        )
        proxies = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
        env = {k: v for k, v in os.environ.items() if k.lower() not in proxies}
        env.update(
            HTTPS_PROXY=server.url,
            SSL_CERT_FILE=str(server.ca_path),
            RCLONE_CONFIG=str(config),
            XDG_CACHE_HOME=str(tmp_path / "cache"),
            HOME=str(tmp_path),
        )
        command = ["rclone", "--retries", "1", "--low-level-retries", "1", "mkdir", "mock:Fresh"]
        result = subprocess.run(command, env=env, capture_output=True, timeout=180)
        assert result.returncode == 0, result.stderr.decode()[-3000:]

        journal = server.call(lambda: server.state.journal.to_list(timing=False))
        redeemed = [e for e in journal if e["path"] == "/common/oauth2/v2.0/token"]
        assert [e["status"] for e in redeemed] == [200]
        assert redeemed[0]["body"]["grant_type"] == "refresh_token"
        assert redeemed[0]["body"]["refresh_token"] == "[redacted]"
        made = [e for e in journal if e["method"] == "POST" and e["path"].endswith("/children")]
        assert made and all(e["caller"] == ada.email for e in made)
        store = server.state.store
        root = server.call(lambda: store.root(server.state.default_drive(ada.id)))
        assert server.call(lambda: store.resolve(root, "/Fresh")).is_folder
        saved = config.read_text().split("token = ", 1)[1].splitlines()[0]
        assert json.loads(saved)["refresh_token"] != refresh  # rotated, and kept by rclone
