"""A ``$batch`` step answers exactly as the same request sent alone, whatever step ran before it:
the viewer and the download URLs of one step never reach the next."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_DOWNLOAD = re.compile(r"/download/[^\"?#\s]+")
_PER_REQUEST = {"request-id", "client-request-id", "date"}


@pytest.fixture
def arranged(projects):
    """The shared projects with /Projects shared with Bob, a view link on it, and /Notes.txt
    that only the owner reads. Returns the drive's fixture and the request paths to draw from."""
    projects.add_file("/Notes.txt", "notes")
    projects.grant("/Projects", "bob@contoso.example", ["read"])
    link = projects.session.post(
        "/me/drive/root:/Projects:/createLink", json={"type": "view", "scope": "anonymous"}
    )
    assert link.status_code in (200, 201), link.text
    share = link.json()["shareId"]
    drive = projects.drive.id
    folder = projects.item("/Projects").id
    plan = projects.item("/Projects/Plan.docx").id
    notes = projects.item("/Notes.txt").id
    paths = [
        "/me/drive/root:/Projects/Plan.docx",
        f"/drives/{drive}/items/{plan}",
        f"/drives/{drive}/items/{notes}",
        "/me/drive/root/children",
        f"/drives/{drive}/items/{folder}/children",
        "/me/drive/root/delta",
        f"/drives/{drive}/root/delta",
        "/me/drive/root/search(q='plan')",
        f"/drives/{drive}/items/{plan}/permissions",
        f"/drives/{drive}/items/{folder}/permissions",
        "/me/drive/sharedWithMe",
        f"/shares/{share}/driveItem",
        f"/shares/{share}/root/children",
    ]
    return projects, paths


def normalised(value: Any) -> Any:
    """``value`` with download URL signatures and per-request ids taken out."""
    if isinstance(value, dict):
        return {k: "*" if k in _PER_REQUEST else normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    if isinstance(value, str):
        return _DOWNLOAD.sub("/download/*", value)
    return value


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_step_answers_as_the_request_alone(arranged, data):
    drive, paths = arranged  # every request is a read: the arrangement stays as it was
    user = data.draw(st.sampled_from(["owner", "bob@contoso.example"]), label="caller")
    client = drive.session if user == "owner" else drive.session_for(user)
    before = data.draw(st.sampled_from(paths), label="Y")
    path = data.draw(st.sampled_from(paths), label="X")

    alone = client.get(path)
    batch = client.post("/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": before},
        {"id": "2", "method": "GET", "url": path},
    ]})  # fmt: skip
    assert batch.status_code == 200, batch.text
    step = next(r for r in batch.json()["responses"] if r["id"] == "2")
    assert step["status"] == alone.status_code, (step, alone.text)
    assert normalised(step["body"]) == normalised(alone.json())
