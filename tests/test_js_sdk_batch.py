"""The JavaScript Graph SDK's BatchRequestContent end to end against mockdrive's $batch: a
batch of invites on several folders, one made to fail by a fault rule, read back per request.

Install with ``npm ci`` in tests/js (``.ci/run`` does); without node_modules the test is
skipped, except under CI=true where it fails.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import JS, node_with


@pytest.mark.mock_drive(tls=True)
def test_js_batch_of_invites_with_one_failing(mock_drive):
    node = node_with("@microsoft/microsoft-graph-client", "the JS SDK")
    mock_drive.add_user("Carol Jones", "carol@contoso.example")
    folders = ["Alpha", "Beta", "Gamma"]
    for name in folders:
        mock_drive.add_folder(f"/{name}")
    mock_drive.faults.add(effect="error", path="/Beta:/invite$", status=403,
                          code="accessDenied", message="blocked by a fault rule")  # fmt: skip
    env = {
        **os.environ,
        "MOCKDRIVE_URL": mock_drive.url,
        "MOCKDRIVE_TOKEN": mock_drive.token,
        "NODE_EXTRA_CA_CERTS": mock_drive.ca_path,
        "FOLDERS": ",".join(folders),
    }
    result = subprocess.run([node, "batch.cjs"], cwd=JS, env=env, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == {"Alpha": 200, "Beta": 403, "Gamma": 200, "check": 200}
    assert answer["bodies"]["Beta"]["error"]["message"] == "blocked by a fault rule"
    assert answer["bodies"]["Alpha"]["value"][0]["grantedToV2"]["user"]["email"] == (
        "carol@contoso.example"
    )
    assert answer["bodies"]["check"]["name"] == "Alpha"
    assert [m["to"] for m in mock_drive.outbox] == ["carol@contoso.example"] * 2
    for name, granted in (("Alpha", True), ("Beta", False), ("Gamma", True)):
        can = mock_drive.access("carol@contoso.example", f"/{name}").roles
        assert (can == ["write"]) is granted, (name, can)
