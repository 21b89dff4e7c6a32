"""The official JavaScript Graph SDK (``@microsoft/microsoft-graph-client`` 3.x from npm, run by
node) through create folder, large-file upload task, rename, move, range download,
``.select().expand('children')``, invite and permissions, against mockdrive over TLS.

The SDK sends its token only to https hosts it knows, so the server runs with TLS, the script
names the host in ``customHosts`` and node trusts the mock's CA through NODE_EXTRA_CA_CERTS.
Install with ``npm ci`` in tests/js (``.ci/run`` does); without node_modules the tests are
skipped, except under CI=true where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import JS, node_with

pytestmark = pytest.mark.mock_drive(tls=True)


def run_steps(mock_drive, steps: str) -> dict[str, dict]:
    """Run the named steps of walkthrough.cjs against the fixture's server: {step: result}."""
    node = node_with("@microsoft/microsoft-graph-client", "the JS SDK")
    mock_drive.add_user("Bob", "bob@contoso.example")
    env = {
        **os.environ,
        "MOCKDRIVE_URL": mock_drive.url,
        "MOCKDRIVE_TOKEN": mock_drive.token,
        "NODE_EXTRA_CA_CERTS": mock_drive.ca_path,
    }
    result = subprocess.run(
        [node, "walkthrough.cjs", steps],
        cwd=JS,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return {line["step"]: line for line in lines}


def test_sdk_walkthrough(mock_drive):
    steps = "folder,small,rename,move,selectExpand,invite,permissions"
    results = run_steps(mock_drive, steps)
    failed = {name: r["detail"] for name, r in results.items() if not r["ok"]}
    assert failed == {}
    assert list(results) == steps.split(",")
    assert mock_drive.item("/Projects/Archive/renamed.txt").size == 16
    assert [m["to"] for m in mock_drive.outbox] == ["bob@contoso.example"]
    mock_drive.assert_can("bob@contoso.example", "write", "/Projects/Archive/renamed.txt")
    mock_drive.requests.assert_called("PATCH", "/v1.0/me/drive/root:/Projects/renamed.txt")


def test_sdk_large_file_upload_task(mock_drive):
    # The uploadUrl is on the mock's own host, which the script names in customHosts, so the
    # SDK sends its token with every fragment (against the service the upload host is another
    # one, and it sends none). The strict rule refuses that with 401; the lenient policy is
    # for this wiring. The rule itself is tested in test_uploads.py.
    mock_drive.set_policy(lenientUploadSessions=True)
    results = run_steps(mock_drive, "folder,upload")
    assert results["upload"]["ok"], results["upload"]["detail"]
    assert mock_drive.item("/Projects/big.bin").size == 1024 * 1024 + 123


def test_sdk_range_download(mock_drive):
    results = run_steps(mock_drive, "folder,small,rename,move,range")
    assert results["range"]["ok"], results["range"]["detail"]
