"""``python -m mockdrive`` as a real subprocess: banner, health, a request, signals, exit codes."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

FIXTURES = Path(__file__).parent.parent / "fixtures"


def start(*args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockdrive", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = process.stdout.readline().strip()
    assert first.startswith("mockdrive listening on http://127.0.0.1:"), (
        first + process.stderr.read()
    )
    return process, first.rsplit(" ", 1)[1]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_default_drive_token_and_clean_shutdown(sig):
    process, url = start("--token", "tok-123")
    banner = [process.stdout.readline(), process.stdout.readline()]
    try:
        assert requests.get(url + "/_mockdrive/health", timeout=5).status_code == 200
        drive = requests.get(
            url + "/v1.0/me/drive", headers={"Authorization": "Bearer tok-123"}, timeout=5
        )
        assert drive.status_code == 200 and drive.json()["driveType"] == "business"
    finally:
        process.send_signal(sig)
        process.communicate(timeout=10)
    assert process.returncode == 0
    assert banner == [
        f"  Graph API: {url}/v1.0\n",
        "  token for ada@contoso.example: tok-123\n",
    ]


def test_scenario_is_served():
    process, url = start("--scenario", str(FIXTURES / "quickstart.yaml"))
    try:
        bob = {"Authorization": "Bearer bob-token"}
        plan = requests.get(
            url + "/v1.0/users/ada@contoso.example/drive/root:/Projects/Plan.docx", headers=bob
        )
        assert plan.status_code == 200 and plan.json()["size"] == 12800
        notes = requests.get(
            url + "/v1.0/me/drive/root:/Notes.txt:/content",
            headers={"Authorization": "Bearer ada-token"},
        )
        assert notes.text == "Remember the milk."
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_bad_scenario_exits_2_naming_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("drives:\n  - owner: nobody@x.example\n")
    result = subprocess.run(
        [sys.executable, "-m", "mockdrive", "--scenario", str(bad), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert str(bad) in result.stderr and "drives[0].owner" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_is_a_clear_error():
    process, url = start()
    try:
        port = url.rsplit(":", 1)[1]
        result = subprocess.run(
            [sys.executable, "-m", "mockdrive", "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 1 and "cannot listen" in result.stderr
    finally:
        process.terminate()
        process.communicate(timeout=10)
