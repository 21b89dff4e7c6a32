"""python-o365 (PyPI ``O365``), a widely used third-party Graph library, unchanged against
mockdrive: its ``Storage``/``Drive``/``DriveItem`` API pointed at the mock by its own settings (the
protocol's ``service_url``, a token backend holding the owner's token with a far expiry, no
delay between requests), then, through ``--proxy`` at Graph's own URL, signed in with a client
secret at the mock's Entra endpoints (``auth_flow_type="credentials"``).

The steps run in order over one drive, each asserted against the mock's state (the fixture's
model, permissions, outbox and request journal), and each is reported as its own test
(``test_step[...]``). Where python-o365 meets a gap mockdrive declares (``$filter``, the drive's
``recent``, old versions) or a refusal the service makes too, the step asserts that answer and
that nothing changed. python-o365's own slip is asserted as it is: ``share_with_invite`` reads
the invite's answer, a collection, as one permission (no roles), though the grant is made.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

try:
    from O365 import Account, MSGraphProtocol
    from O365.utils.token import MemoryTokenBackend
except ImportError:
    if os.environ.get("CI"):
        raise  # CI installs the test extra: a missing client fails there
    pytest.skip("python-o365 is not installed (pip install -e '.[test]')", allow_module_level=True)

from step_table import item_or_none, outcome_of

from mockdrive.scenario import build_state
from mockdrive.testing.fixture import MockDriveFixture

PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
SCENARIO = {
    "users": [
        {"displayName": "Ada Owner", "email": "ada@contoso.example", "token": "ada-token"},
        {"displayName": "Bob Smith", "email": "bob@contoso.example", "token": "bob-token"},
    ],
    "drives": [{"owner": "ada@contoso.example"}, {"owner": "bob@contoso.example"}],
}
LARGE = 6 * 1024 * 1024 + 321  # past python-o365's 4 MiB simple upload: two 5 MiB fragments


def token_backend(token: str) -> MemoryTokenBackend:
    """python-o365's in-memory token cache holding ``token`` (an MSAL cache entry) for ten years:
    it never asks Entra for another."""
    backend = MemoryTokenBackend()
    backend.add({
        "client_id": "o365-tests",
        "scope": ["https://graph.microsoft.com/.default"],
        "token_endpoint": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        "response": {"access_token": token, "token_type": "Bearer", "expires_in": 315_360_000},
    })  # fmt: skip
    return backend


def account_at(graph_url: str, token: str) -> Account:
    """An ``Account`` sending ``token`` to ``graph_url`` (``…/v1.0``), as an app would be set up."""
    protocol = MSGraphProtocol()
    protocol.service_url = graph_url + "/"
    return Account(
        ("o365-tests", "unused"),
        protocol=protocol,
        token_backend=token_backend(token),
        requests_delay=0,  # its default waits 200 ms before each request
    )


@dataclass
class Run:
    """The mock, python-o365 as the owner and as Bob, a local folder, what earlier steps made."""

    mock: MockDriveFixture
    account: Account
    bob: Account
    local: Path
    seen: dict[str, Any] = field(default_factory=dict)

    def item(self, path: str) -> Any:
        """The model's item at ``path`` in the owner's drive, or None."""
        return item_or_none(self.mock, path)

    def permission(self, path: str, permission_id: str) -> dict[str, Any] | None:
        return next((p for p in self.mock.permissions(path) if p["id"] == permission_id), None)

    def journal(self, method: str, path_end: str) -> list[dict[str, Any]]:
        """The journal's requests of ``method`` whose path ends with ``path_end``."""
        return [e for e in self.mock.requests if e["method"] == method and
                e["path"].endswith(path_end)]  # fmt: skip


def refused(call: Callable[[], Any], status: int, code: str) -> requests.Response:
    """The answer python-o365 raised for (it raises ``HTTPError`` on every 4xx and 5xx)."""
    with pytest.raises(requests.HTTPError) as raised:
        call()
    answer = raised.value.response
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code, answer.text
    return answer


# -- the steps ------------------------------------------------------------------------------------
def default_drive(run: Run) -> None:
    drive = run.account.storage().get_default_drive(request_drive=True)
    assert drive.object_id == run.mock.drive.id and drive.drive_type == "business"
    assert drive.owner.display_name == "Ada Owner"
    assert [d.object_id for d in run.account.storage().get_drives()] == [drive.object_id]
    assert run.account.storage().get_drive(drive.object_id).object_id == drive.object_id
    root = drive.get_root_folder()
    assert root.is_folder and root.object_id == run.mock.item("/").id
    run.seen.update(drive=drive, root=root)


def create_folder(run: Run) -> None:
    folder = run.seen["root"].create_child_folder("Reports")
    assert folder.is_folder and folder.object_id == run.item("/Reports").id
    assert folder.child_count == 0 and folder.parent_id == run.seen["root"].object_id
    run.seen["folder"] = folder


def simple_upload(run: Run) -> None:
    source = run.local / "notes.txt"
    source.write_bytes(b"q3 notes\n")
    uploaded = run.seen["folder"].upload_file(source)
    assert uploaded.is_file and uploaded.size == 9
    assert run.item("/Reports/notes.txt").content == b"q3 notes\n"
    assert run.journal("PUT", "/Reports/notes.txt:/content") == []  # by id, not by path
    assert len(run.journal("PUT", ":/notes.txt:/content")) == 1
    run.seen["notes"] = uploaded


def upload_session(run: Run) -> None:
    data = bytes(range(256)) * (LARGE // 256) + b"x" * (LARGE % 256)
    source = run.local / "figures.bin"
    source.write_bytes(data)
    uploaded = run.seen["folder"].upload_file(source)
    assert uploaded.size == LARGE and uploaded.object_id == run.item("/Reports/figures.bin").id
    assert run.item("/Reports/figures.bin").content == data
    fragments = [
        e for e in run.mock.requests if e["method"] == "PUT" and e["path"].startswith("/up/")
    ]
    # two fragments (5 MiB, then the rest), accepted: with a bearer token they would be 401
    assert [e["status"] for e in fragments] == [202, 201]
    run.seen["figures"] = uploaded


def upload_session_options(run: Run) -> None:
    """A small file sent in fragments, with the conflict behaviour and the file's own times."""
    folder = run.seen["folder"]
    uploaded = folder.upload_file(
        None,
        item_name="notes.txt",
        stream=io.BytesIO(b"second notes"),
        stream_size=12,
        upload_in_chunks=True,
        conflict_handling="rename",
        file_created_date_time="2020-01-01T08:00:00Z",
        file_last_modified_date_time="2020-01-02T09:30:00Z",
    )
    assert uploaded.name == "notes 1.txt"
    assert run.item("/Reports/notes 1.txt").content == b"second notes"
    assert run.item("/Reports/notes.txt").content == b"q3 notes\n"  # not replaced
    times = run.mock.item_json("/Reports/notes 1.txt")["fileSystemInfo"]
    assert times["createdDateTime"] == "2020-01-01T08:00:00Z"
    assert times["lastModifiedDateTime"] == "2020-01-02T09:30:00Z"


def children_in_pages(run: Run) -> None:
    folder = run.seen["folder"]
    for number in range(4):
        folder.create_child_folder(f"Week {number}")
    listed = [item.name for item in folder.get_items(limit=6, batch=2)]
    assert listed == ["notes.txt", "figures.bin", "notes 1.txt", "Week 0", "Week 1", "Week 2"]
    pages = run.journal("GET", f"/items/{folder.object_id}/children")
    assert [e["query"].get("$top") for e in pages[-3:]] == ["2", "2", "2"]
    assert "$skiptoken" in pages[-1]["query"]  # the pages after the first: its nextLink
    everything = [item.name for item in run.seen["drive"].get_items()]
    assert everything == ["Reports"]
    newest = [item.name for item in folder.get_items(order_by="name desc", limit=2)]
    assert newest == ["Week 3", "Week 2"]


def child_folders_filter(run: Run) -> None:
    """``get_child_folders`` filters ``folder ne null``: mockdrive evaluates no ``$filter`` and
    says so (the business service answers this filter ``501 notSupported`` too)."""
    before = len(run.mock.requests)
    answer = refused(lambda: list(run.seen["folder"].get_child_folders()), 501, "notSupported")
    assert "folder ne null" in answer.json()["error"]["message"]
    assert len(run.mock.requests) == before + 1


def get_by_path_and_id(run: Run) -> None:
    drive, notes = run.seen["drive"], run.item("/Reports/notes.txt")
    assert drive.get_item_by_path("/Reports/notes.txt").object_id == notes.id
    assert drive.get_item_by_path("Reports").object_id == run.item("/Reports").id
    found = drive.get_item(notes.id)
    assert found.name == "notes.txt" and found.get_parent().object_id == run.item("/Reports").id
    lazy = run.account.storage().get_default_drive()  # no request: the /drive/… forms
    assert lazy.get_item_by_path("/Reports/notes.txt").object_id == notes.id
    assert [item.name for item in lazy.get_items()] == ["Reports"]
    assert lazy.get_root_folder().object_id == run.item("/").id


def download(run: Run) -> None:
    assert run.seen["notes"].download(to_path=run.local, name="copy-of-notes")
    assert (run.local / "copy-of-notes.txt").read_bytes() == b"q3 notes\n"
    streamed = io.BytesIO()
    assert run.seen["figures"].download(output=streamed, chunk_size=1024 * 1024)
    assert streamed.getvalue() == run.item("/Reports/figures.bin").content


def download_as_pdf(run: Run) -> None:
    """``convert_to_pdf`` asks ``…/content?format=pdf``: mockdrive converts nothing and says so
    (501) rather than hand over the file's own bytes; python-o365 returns False."""
    output = io.BytesIO()
    assert run.seen["notes"].download(output=output, convert_to_pdf=True) is False
    assert output.getvalue() == b""
    asked = run.journal("GET", f"/items/{run.seen['notes'].object_id}/content")[-1]
    assert asked["query"] == {"format": "pdf"} and asked["status"] == 501


def rename(run: Run) -> None:
    notes = run.seen["notes"]
    assert notes.update(name="summary.txt")
    assert notes.name == "summary.txt" and run.item("/Reports/notes.txt") is None
    assert run.item("/Reports/summary.txt").id == notes.object_id


def move(run: Run) -> None:
    archive = run.seen["root"].create_child_folder("Archive")
    notes = run.seen["notes"]
    assert notes.move(archive)
    assert run.item("/Archive/summary.txt").id == notes.object_id
    assert notes.get_parent().object_id == archive.object_id
    assert notes.move(run.seen["drive"])  # a Drive: its root folder
    assert (
        run.item("/summary.txt").id == notes.object_id and run.item("/Archive/summary.txt") is None
    )
    run.seen["archive"] = archive


def copy_and_monitor(run: Run) -> None:
    operation = run.seen["figures"].copy(run.seen["archive"], name="figures-copy")
    assert operation.monitor_url.startswith(run.mock.url + "/_api/v2.0/monitor/")
    list(operation.check_status())  # polls the monitor (no token) until it names the copy
    assert operation.status == "completed" and operation.completion_percentage == 100
    copied = operation.get_item()
    assert copied.name == "figures-copy.bin"  # python-o365 adds the source's extension
    assert run.item("/Archive/figures-copy.bin").id == copied.object_id
    assert run.item("/Archive/figures-copy.bin").content == run.item("/Reports/figures.bin").content
    beside = run.seen["notes"].copy(name="summary-copy")  # no target: the same folder
    list(beside.check_status())
    assert beside.get_item().object_id == run.item("/summary-copy.txt").id


def search(run: Run) -> None:
    found = [item.name for item in run.seen["drive"].search("figures")]
    assert sorted(found) == ["figures-copy.bin", "figures.bin"]
    under = [item.name for item in run.seen["archive"].search("figures")]
    assert under == ["figures-copy.bin"]
    lazy = run.account.storage().get_default_drive()  # /drive/search(q='…')
    assert [item.name for item in lazy.search("summary-copy")] == ["summary-copy.txt"]


def share_with_link(run: Run) -> None:
    figures = run.seen["figures"]
    view = figures.share_with_link("view", "organization")
    assert view.permission_type == "link" and view.roles == ["read"]
    assert view.share_scope == "organization"
    listed = run.permission("/Reports/figures.bin", view.object_id)
    assert listed["link"]["webUrl"] == view.share_link and listed["link"]["scope"] == "organization"
    edit = figures.share_with_link("edit", "anonymous", share_expiration_date="2030-02-14")
    assert edit.roles == ["write"] and edit.share_scope == "anonymous"
    expires = run.permission("/Reports/figures.bin", edit.object_id)["expirationDateTime"]
    assert expires.startswith("2030-02-14")
    run.seen.update(view_link=view, edit_link=edit)


def share_with_invite(run: Run) -> None:
    figures = run.seen["figures"]
    answer = figures.share_with_invite(
        "bob@contoso.example", send_email=True, message="the figures", share_type="edit"
    )
    # python-o365 reads the answer ({"value": [permission]}, as the service sends it) as one
    # permission: what it returns has no id and no roles, though Bob was granted write
    assert answer.object_id is None and answer.roles == []
    granted = [
        p
        for p in run.mock.permissions("/Reports/figures.bin")
        if p.get("grantedToV2", {}).get("user", {}).get("email") == "bob@contoso.example"
    ]
    assert [p["roles"] for p in granted] == [["write"]]
    mail = [m for m in run.mock.outbox if m["to"] == "bob@contoso.example"]
    assert len(mail) == 1 and "the figures" in str(mail[0])
    run.seen["bob_permission"] = granted[0]["id"]


def list_permissions(run: Run) -> None:
    listed = run.seen["figures"].get_permissions()
    by_id = {p.object_id: p for p in listed}
    expected = run.mock.permissions("/Reports/figures.bin")
    assert set(by_id) == {p["id"] for p in expected}
    for permission in expected:
        assert by_id[permission["id"]].roles == permission["roles"]
    kinds = sorted(p.permission_type for p in listed)
    assert kinds == ["invitation", "link", "link", "owner"]
    assert by_id[run.seen["bob_permission"]].share_email == "bob@contoso.example"
    owner = next(p for p in listed if p.permission_type == "owner")
    assert owner.granted_to == "Ada Owner" and owner.inherited_from is not None
    run.seen["permissions"] = by_id


def update_permission(run: Run) -> None:
    bob = run.seen["permissions"][run.seen["bob_permission"]]
    assert bob.update_roles("view")
    assert run.permission("/Reports/figures.bin", bob.object_id)["roles"] == ["read"]
    # a link's roles are its type: the mock refuses a change (make a link of the other type)
    link = run.seen["permissions"][run.seen["view_link"].object_id]
    refused(lambda: link.update_roles("edit"), 400, "invalidRequest")
    assert run.permission("/Reports/figures.bin", link.object_id)["roles"] == ["read"]


def delete_permission(run: Run) -> None:
    bob = run.seen["permissions"][run.seen["bob_permission"]]
    assert bob.delete() and bob.object_id is None
    assert run.seen["permissions"][run.seen["edit_link"].object_id].delete()
    left = [p["id"] for p in run.mock.permissions("/Reports/figures.bin")]
    assert run.seen["bob_permission"] not in left and run.seen["edit_link"].object_id not in left
    assert run.seen["view_link"].object_id in left


def versions(run: Run) -> None:
    """The current version is listed and read; its content is the item's own (the service
    refuses ``versions/{current}/content`` with 400, python-o365 returns False); restoring is a
    gap mockdrive declares (501)."""
    figures = run.seen["figures"]
    listed = figures.get_versions()
    current = f"{run.item('/Reports/figures.bin').content_version}.0"
    assert [v.object_id for v in listed] == [current] and listed[0].size == LARGE
    assert figures.get_version(current).object_id == current
    output = io.BytesIO()
    assert listed[0].download(output=output) is False and output.getvalue() == b""
    asked = run.journal("GET", f"/versions/{current}/content")
    assert [e["status"] for e in asked] == [400]
    refused(listed[0].restore, 501, "notImplemented")


def thumbnails(run: Run) -> None:
    assert run.seen["figures"].get_thumbnails()["value"] == []


def recent(run: Run) -> None:
    answer = refused(lambda: list(run.seen["drive"].get_recent()), 501, "notImplemented")
    assert "recent" in answer.json()["error"]["message"]


def special_folder(run: Run) -> None:
    documents = run.seen["drive"].get_special_folder("documents")  # made on first use
    assert documents.is_folder and run.item("/Documents").id == documents.object_id


def shared_with_me(run: Run) -> None:
    """Bob lists what Ada shared with him, through his drive read by id (the
    ``/me/drives/{id}/sharedWithMe`` python-o365 sends then) and through ``/me/drive``."""
    run.seen["archive"].share_with_invite("bob@contoso.example", send_email=False)
    storage = run.bob.storage()
    his = storage.get_default_drive(request_drive=True)
    assert his.object_id != run.mock.drive.id
    listed = list(his.get_shared_with_me())
    assert [item.name for item in listed] == ["Archive"]
    assert listed[0].remote_item.object_id == run.item("/Archive").id
    assert listed[0].drive_id == run.mock.drive.id
    lazy = [item.name for item in storage.get_default_drive().get_shared_with_me()]
    assert lazy == ["Archive"]
    assert len(run.journal("GET", f"/me/drives/{his.object_id}/sharedWithMe")) == 1


def delete(run: Run) -> None:
    copy = run.seen["drive"].get_item_by_path("/summary-copy.txt")
    assert copy.delete() and copy.object_id is None
    assert run.item("/summary-copy.txt") is None
    refused(lambda: run.seen["drive"].get_item_by_path("/summary-copy.txt"), 404, "itemNotFound")


def client_credentials_through_the_proxy(run: Run) -> None:
    """A backup job as python-o365 documents it: client id and secret, the tenant, the user's
    drive; at Graph's and Entra's own URLs, through ``--proxy`` (the ``proxy`` server)."""
    proxied: MockDriveFixture = run.seen["proxied"]
    job = Account(
        ("backup-job", "s3cret"),
        auth_flow_type="credentials",
        tenant_id=proxied.tenant_id,
        requests_delay=0,
        token_backend=MemoryTokenBackend(),
    )
    assert job.authenticate()
    drive = job.storage(resource="ada@contoso.example").get_default_drive(request_drive=True)
    assert drive.object_id == proxied.drive.id
    made = drive.get_root_folder().create_child_folder("Backups")  # /users/…/drives/{id}/…
    assert proxied.item("/Backups").id == made.object_id
    assert [item.name for item in drive.get_items()] == ["Backups"]
    grants = [e for e in proxied.requests if e["path"].endswith("/oauth2/v2.0/token")]
    assert [(e["body"].get("grant_type"), e["status"]) for e in grants] == [
        ("client_credentials", 200)
    ]


STEPS: list[tuple[str, Callable[[Run], None]]] = [
    ("default drive and root", default_drive),
    ("create a folder", create_folder),
    ("simple upload", simple_upload),
    ("upload session (two fragments)", upload_session),
    ("upload session with conflict and file times", upload_session_options),
    ("children in pages", children_in_pages),
    ("child folders ($filter, 501)", child_folders_filter),
    ("get by path and by id", get_by_path_and_id),
    ("download", download),
    ("download as PDF (501)", download_as_pdf),
    ("rename", rename),
    ("move", move),
    ("copy and its monitor", copy_and_monitor),
    ("search", search),
    ("share with a link", share_with_link),
    ("share with an invite", share_with_invite),
    ("list permissions", list_permissions),
    ("update a permission", update_permission),
    ("delete a permission", delete_permission),
    ("versions", versions),
    ("thumbnails", thumbnails),
    ("recent (501)", recent),
    ("special folder", special_folder),
    ("shared with me", shared_with_me),
    ("delete", delete),
    ("client credentials through the proxy", client_credentials_through_the_proxy),
]


@pytest.fixture(scope="module")
def outcomes(worker_servers: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Run every step once, in order: {step: None, or why it failed}."""
    server = worker_servers.get(build_state(SCENARIO))
    proxied = worker_servers.get(build_state(SCENARIO), proxy=True)
    mock = MockDriveFixture(server)
    run = Run(
        mock,
        account_at(mock.graph_url, "ada-token"),
        account_at(mock.graph_url, "bob-token"),
        tmp_path_factory.mktemp("o365"),
        {"proxied": MockDriveFixture(proxied)},
    )
    results: dict[str, str | None] = {}
    with pytest.MonkeyPatch.context() as env:
        for key in list(os.environ):
            if key.lower() in PROXY_VARIABLES or key == "REQUESTS_CA_BUNDLE":
                env.delenv(key)
        for name, step in STEPS:  # a step after a failed one runs, and says what it lacks
            if step is client_credentials_through_the_proxy:
                env.setenv("HTTPS_PROXY", proxied.url)  # from here on, as a deployed app
                env.setenv("REQUESTS_CA_BUNDLE", str(proxied.ca_path))  # requests and MSAL
            results[name] = outcome_of(step, run)
    yield results


@pytest.mark.parametrize("name", [name for name, _ in STEPS])
def test_step(outcomes: dict[str, str | None], name: str):
    assert outcomes[name] is None, outcomes[name]
