"""PnPjs (npm ``@pnp/graph`` 4.x over ``@pnp/queryable``), a widely used Graph library, unchanged
against mockdrive: ``graphfi().using(GraphBrowser({baseUrl}), <token at the auth moment>)`` with
the mock's Graph URL as ``baseUrl``, as a Node application sets it up (tests/js/pnpjs.mjs).

The script runs one step per line this module writes to its stdin, and each step is checked
against the mock's state (model, permissions, outbox, request journal, fault counters) as soon
as it has run; each is reported as its own test (``test_step[...]``). The server runs with TLS so
that @azure/identity may sign in at the mock's Entra endpoints (one step), node trusting the CA
through NODE_EXTRA_CA_CERTS. PnPjs's own behaviour is asserted as it is, and said so where it
is not what the service documents: it asks ``/shares/{id}/driveitem`` (the segment is
``driveItem``), encodes a sharing URL with one ``/`` replaced, reads ``delta``'s ``next()`` as a
plain page of items, makes ``root:/Reports::/name:/createUploadSession`` of an item addressed by
path, and its ``BearerToken`` behaviour (a header at the ``pre`` moment) is copied onto an upload
session's ``uploadUrl``.
Install with ``npm ci`` in tests/js; without it the module is skipped, except under CI=true.
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import JS, node_with
from step_table import item_or_none, outcome_of

from mockdrive.scenario import build_state
from mockdrive.testing.fixture import MockDriveFixture

STEP_SECONDS = 30  # a step that takes longer has hung
SCENARIO = {
    "users": [
        {"displayName": "Ada Owner", "email": "ada@contoso.example", "token": "ada-token"},
        {"displayName": "Bob Smith", "email": "bob@contoso.example", "token": "bob-token"},
    ],
    "drives": [
        {
            "owner": "ada@contoso.example",
            "root": {"children": [
                {"name": "Projects",
                 "children": [{"name": "plan.txt", "file": {}, "content": "plan"}]},
                {"name": "Notes.txt", "file": {}, "content": "notes"},
            ]},
        },
        {"owner": "bob@contoso.example"},
    ],
}  # fmt: skip
LARGE = 3 * 327680 + 1000  # the script's upload session: a fragment of 640 KiB, then the rest


@dataclass
class Run:
    """The mock, the answer of the step that just ran, and what earlier steps made."""

    mock: MockDriveFixture
    result: Any = None
    seen: dict[str, Any] = field(default_factory=dict)

    def item(self, path: str) -> Any:
        """The model's item at ``path`` in Ada's drive, or None."""
        return item_or_none(self.mock, path)

    def journal(self, method: str, path_end: str) -> list[dict[str, Any]]:
        """The journal's requests of ``method`` whose path ends with ``path_end``."""
        return [e for e in self.mock.requests if e["method"] == method and
                e["path"].endswith(path_end)]  # fmt: skip


def refused(answer: dict[str, Any], status: int, code: str) -> None:
    """What PnPjs rejected with: its ``HttpRequestError`` (``isHttpRequestError``) carrying the
    status, and the response whose body is the service's error envelope."""
    assert answer["name"] == "HttpRequestError", answer
    assert answer["status"] == status, answer
    assert answer["body"]["error"]["code"] == code, answer


# -- what each step must have done ----------------------------------------------------------------
def me_drive(run: Run) -> None:
    assert run.result["id"] == run.mock.drive.id and run.result["driveType"] == "business"
    assert run.result["owner"]["user"]["email"] == "ada@contoso.example"
    assert run.result["rootId"] == run.mock.item("/").id


def root_children(run: Run) -> None:
    assert run.result == {"names": ["Projects", "Notes.txt"], "inProjects": ["plan.txt"]}
    assert len(run.journal("GET", "/me/drive/root:/Projects:/children")) == 1


def create_folder(run: Run) -> None:
    made = run.result["made"]
    assert made["id"] == run.item("/Reports").id and made["folder"]["childCount"] == 0
    # addFolder sends "@microsoft.graph.conflictBehavior": "rename" unless told otherwise
    assert run.result["again"] == "Reports 1" and run.item("/Reports 1") is not None
    posted = run.journal("POST", "/me/drive/root/children")
    assert posted[-1]["body"]["@microsoft.graph.conflictBehavior"] == "rename"
    run.seen["folder"] = made["id"]


def add_file(run: Run) -> None:
    """``children.add`` makes an empty file (POST with a ``file`` facet), then PUTs its content by
    ``/drives/{driveId}/items/{id}/content``."""
    assert run.result["name"] == "todo.txt" and run.result["size"] == 9
    assert run.item("/Reports/todo.txt").content == b"call Bob\n"
    posted = run.journal("POST", f"/items/{run.seen['folder']}/children")[-1]
    assert posted["status"] == 201 and posted["body"]["file"] == {}
    put = run.journal("PUT", f"/items/{run.result['id']}/content")
    assert [e["path"].startswith(f"/v1.0/drives/{run.mock.drive.id}/") for e in put] == [True]


def small_upload(run: Run) -> None:
    uploaded, replaced = run.result["uploaded"], run.result["replaced"]
    assert uploaded["id"] == replaced["id"] == run.item("/Reports/notes.txt").id
    assert run.item("/Reports/notes.txt").content == b"q3 notes, v2\n"
    assert [e["status"] for e in run.journal("PUT", ":/notes.txt:/content")] == [201]
    assert [e["status"] for e in run.journal("PUT", f"/items/{uploaded['id']}/content")] == [200]
    run.seen["notes"] = uploaded["id"]


def large_upload(run: Run) -> None:
    """``createUploadSession`` and ``resumableUpload.upload`` per fragment. The token is added at
    the auth moment, which the upload session's queryable does not copy: the fragments go
    without one, and the strict rule takes them. On an item addressed by path PnPjs builds
    ``root:/Reports::/figures.bin:/createUploadSession``, no documented address: refused."""
    assert run.result["answer"]["size"] == LARGE
    data = bytes(i % 251 for i in range(LARGE))
    assert run.item("/Reports/figures.bin").content == data
    assert run.result["session"]["nextExpectedRanges"] == ["0-"]
    fragments = [e for e in run.mock.requests if e["method"] == "PUT" and
                 e["path"].startswith("/up/")]  # fmt: skip
    assert [e["status"] for e in fragments] == [202, 201]  # with a token: 401
    run.seen["figures"] = run.result["answer"]["id"]
    refused(run.result["byPath"], 400, "BadRequest")
    assert len(run.journal("POST", "/root:/Reports::/figures.bin:/createUploadSession")) == 1


def read_content(run: Run) -> None:
    """``getContent`` reads the item, then GETs its ``@microsoft.graph.downloadUrl``."""
    assert run.result == {"notes": "q3 notes, v2\n", "figuresMatch": True, "figuresSize": LARGE}
    downloads = [e for e in run.mock.requests if e["path"].startswith("/download/")]
    assert [e["status"] for e in downloads] == [200, 200]


def children_in_pages(run: Run) -> None:
    """A collection is async-iterable: each page through its ``@odata.nextLink``."""
    assert run.result == [["todo.txt", "notes.txt"], ["figures.bin"]]
    pages = run.journal("GET", f"/items/{run.seen['folder']}/children")
    assert [e["query"].get("$top") for e in pages] == ["2", "2"]
    assert "$skiptoken" in pages[1]["query"]


def copy(run: Run) -> None:
    """``copyItem`` answers the monitor's URL (the ``Location`` of the 202)."""
    assert run.result["location"].startswith(run.mock.url + "/_api/v2.0/monitor/")
    copied = run.item("/Reports/figures-copy.bin")
    assert run.result["monitor"]["status"] == "completed"
    assert run.result["monitor"]["resourceId"] == copied.id
    assert copied.content == run.item("/Reports/figures.bin").content


def rename(run: Run) -> None:
    assert run.result["name"] == "summary.txt" and run.item("/Reports/notes.txt") is None
    assert run.item("/Reports/summary.txt").id == run.seen["notes"]


def move(run: Run) -> None:
    assert run.result["name"] == "q3-summary.txt"
    assert run.item("/Archive/q3-summary.txt").id == run.seen["notes"]
    assert run.item("/Reports/summary.txt") is None
    run.seen["archive"] = run.item("/Archive").id


def invite(run: Run) -> None:
    """``addPermissions`` posts ``/invite``; PnPjs unwraps the answer's ``value``."""
    [granted] = run.result
    assert granted["roles"] == ["write"]
    assert granted["grantedToV2"]["user"]["email"] == "bob@contoso.example"
    run.mock.assert_can("bob@contoso.example", "write", "/Reports/figures.bin")
    [mail] = run.mock.outbox
    assert mail["to"] == "bob@contoso.example" and "the figures" in str(mail)


def shared_with_me(run: Run) -> None:
    assert [item["name"] for item in run.result] == ["figures.bin"]
    assert run.result[0]["remoteItem"]["id"] == run.seen["figures"]


def create_link(run: Run) -> None:
    link = run.seen["link"] = run.result
    assert link["roles"] == ["read"] and link["link"]["scope"] == "organization"
    listed = {p["id"]: p for p in run.mock.permissions("/Reports/figures.bin")}
    assert listed[link["id"]]["link"]["webUrl"] == link["link"]["webUrl"]


def list_permissions(run: Run) -> None:
    listed = {p["id"]: p for p in run.result["listed"]}
    assert set(listed) == {p["id"] for p in run.mock.permissions("/Reports/figures.bin")}
    assert run.result["one"]["roles"] == ["write"]
    assert run.result["one"]["id"] in listed


def update_and_delete_permission(run: Run) -> None:
    assert run.result["updated"]["roles"] == ["read"]
    assert run.result["deleted"] == {}  # a 204: DefaultParse answers {}
    run.mock.assert_cannot("bob@contoso.example", "read", "/Reports/figures.bin")


def shares(run: Run) -> None:
    """``encodeSharingLink`` and ``useSharingLink`` (``GET /shares/{u!…}``) as Bob, then again by
    ``shareId`` with ``redeemSharingLink``; and ``shares.getById(…).driveItem()``, which asks the
    segment ``driveitem``: the service's segment is ``driveItem`` and OneDrive's metadata path
    segments are case-sensitive, so it is refused as an unknown segment (PnPjs's own slip).
    ``encodeSharingLink`` replaces only the first ``/`` and ``+`` of the base64 (and strips one
    ``=``): this link's URL encodes with at most one of each, so its share id is the documented
    one, but a URL whose base64 has two ``/`` gets a share id with a ``/`` left in the path."""
    web_url = run.seen["link"]["link"]["webUrl"]
    documented = "u!" + base64.urlsafe_b64encode(web_url.encode()).decode().rstrip("=")
    assert run.result["encodedSharingUrl"] == documented
    assert run.result["slip"] == "u!aHR0cHM6Ly9jb250b3NvLmV4YW1wbGUvcy8_Pz8/"  # not …_Pz8_
    shared, redeemed = run.result["shared"], run.result["redeemed"]
    assert shared["name"] == redeemed["name"] == "figures.bin"
    assert shared["owner"]["user"]["email"] == "ada@contoso.example"
    refused(run.result["item"], 400, "invalidRequest")
    assert "driveitem" in run.result["item"]["body"]["error"]["message"]
    # Prefer: redeemSharingLink made Bob a member of the link: he reads the file for good
    run.mock.assert_can("bob@contoso.example", "read", "/Reports/figures.bin")


def delta(run: Run) -> None:
    """``root.delta()`` is a queryable: its answer is ``{values, next(), delta()}``. PnPjs sends
    ``maxPageSize`` both in the query and as ``Prefer: odata.maxpagesize``; mockdrive honours
    ``$top`` (the documented way) and leaves the preference alone. ``next()`` is a plain
    collection over the nextLink, so the second page comes back as items only."""
    first, second, whole = run.result["first"], run.result["second"], run.result["whole"]
    assert first == ["root", "Projects", "plan.txt", "Notes.txt"]
    assert len(second) == 4 and whole[:8] == first + second
    assert not run.result["wholeHasNext"] and len(whole) == len(set(whole)) > 8
    assert run.result["changes"] == ["root", "After delta"]  # the change after its folder
    asked = run.journal("GET", "/me/drive/root/delta")
    assert asked[0]["query"] == {"maxPageSize": "3", "$top": "4"}
    assert "$skiptoken" in asked[1]["query"] and "token" in asked[-1]["query"]


def batch(run: Run) -> None:
    """``graph.batched()``: four requests in one ``POST /$batch``; the missing one rejects with
    an ``HttpRequestError`` made from its part of the batch (no statusText)."""
    assert run.result["children"][:2] == ["Projects", "Notes.txt"]
    assert run.result["notes"] == "q3-summary.txt" and run.result["made"] == "From a batch"
    refused(run.result["missing"], 404, "itemNotFound")
    [posted] = run.journal("POST", "/v1.0/$batch")
    assert posted["status"] == 200
    steps = [e for e in run.mock.requests if e.get("batch", {}).get("requestId") ==
             posted["requestId"]]  # fmt: skip
    assert sorted(e["status"] for e in steps) == [200, 200, 201, 404]
    assert run.item("/From a batch") is not None


def throttle_once(run: Run) -> None:
    folder = run.seen["folder"]
    run.seen["rule"] = run.mock.faults.add(
        effect="throttle", method="GET", path=f"/items/{folder}/children$", times=1, retryAfter=1
    ).id


def throttled(run: Run) -> None:
    """GraphBrowser's ``BrowserFetchWithRetry`` waits ``Retry-After`` seconds and retries."""
    assert set(run.result["names"]) >= {"todo.txt", "figures.bin"}
    assert run.result["waitedMs"] >= 1000
    rule = next(r for r in run.mock.faults if r["id"] == run.seen["rule"])
    assert (rule["fired"], rule["violations"]) == (1, 0)
    asked = run.journal("GET", f"/items/{run.seen['folder']}/children")
    assert [e["status"] for e in asked[-2:]] == [429, 200]
    run.mock.faults.clear()


def throttle_always(run: Run) -> None:
    folder = run.seen["folder"]
    run.mock.faults.add(effect="throttle", method="GET", path=f"/items/{folder}/children$",
                        times=3, nth=1, retryAfter=0)  # fmt: skip


def throttled_out(run: Run) -> None:
    """Three tries in all, then an ``HttpRequestError`` ("Retry count exceeded (3)") over the
    last 429, whose body is the envelope."""
    refused(run.result, 429, "activityLimitReached")
    assert run.result["message"].startswith("Retry count exceeded (3)")
    assert run.result["retryAfter"] == "0"
    asked = run.journal("GET", f"/items/{run.seen['folder']}/children")
    assert [e["status"] for e in asked[-3:]] == [429, 429, 429]
    run.mock.faults.clear()


def not_found(run: Run) -> None:
    """A 404 is not retried: one request, an ``HttpRequestError`` whose message carries the body."""
    refused(run.result, 404, "itemNotFound")
    assert '"itemNotFound"' in run.result["message"]
    assert len(run.journal("GET", "/me/drive/root:/Reports/nothing.txt:")) == 1


def forbidden(run: Run) -> None:
    refused(run.result, 403, "accessDenied")
    assert run.item("/Reports/figures.bin").id == run.seen["figures"]


def delete(run: Run) -> None:
    assert run.result == {}
    assert run.item("/Archive") is None and run.item("/Archive/q3-summary.txt") is None


def bearer_token(run: Run) -> None:
    """PnPjs's ``BearerToken`` adds its header at the ``pre`` moment, which the upload session's
    queryable copies: the fragment goes with the token, and the service documents that this
    "may result in an HTTP 401 Unauthorized response". mockdrive's strict rule answers 401
    (``lenientUploadSessions`` would take it); nothing is stored."""
    refused(run.result, 401, "unauthenticated")
    assert "Authorization" in run.result["body"]["error"]["message"]
    assert run.item("/Reports/bearer.bin") is None


def signed_in(run: Run) -> None:
    assert set(run.result) >= {"Projects", "Notes.txt", "Reports"}
    grants = [e for e in run.mock.requests if e["path"].endswith("/oauth2/v2.0/token")]
    assert [(e["body"].get("grant_type"), e["status"]) for e in grants] == [
        ("client_credentials", 200)
    ]
    listed = run.journal("GET", "/users/ada@contoso.example/drive/root/children")
    assert [(e["caller"], e["status"]) for e in listed] == [("backup-job", 200)]


Check = Callable[[Run], None]
STEPS: list[tuple[str, Check | None, Check]] = [  # (step, arrange before it, check after it)
    ("me/drive", None, me_drive),
    ("root children", None, root_children),
    ("create a folder", None, create_folder),
    ("add a file (POST, then PUT content)", None, add_file),
    ("small upload", None, small_upload),
    ("large upload (upload session)", None, large_upload),
    ("read content", None, read_content),
    ("children in pages", None, children_in_pages),
    ("copy", None, copy),
    ("rename", None, rename),
    ("move", None, move),
    ("invite", None, invite),
    ("shared with me (as Bob)", None, shared_with_me),
    ("create a sharing link", None, create_link),
    ("list permissions", None, list_permissions),
    ("update and delete a permission", None, update_and_delete_permission),
    ("redeem a sharing link (/shares)", None, shares),
    ("delta", None, delta),
    ("batch", None, batch),
    ("throttled (429 with Retry-After)", throttle_once, throttled),
    ("throttled past its retries", throttle_always, throttled_out),
    ("not found (404)", None, not_found),
    ("forbidden (403)", None, forbidden),
    ("delete", None, delete),
    ("BearerToken sends its token with the fragments", None, bearer_token),
    ("signed in with @azure/identity", None, signed_in),
]


def ask(process: subprocess.Popen[str], step: str) -> dict[str, Any]:
    """Run one step of the script: its JSON line, or why there is none."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(step + "\n")
    process.stdin.flush()
    deadline = time.monotonic() + STEP_SECONDS
    while True:
        ready, _, _ = select.select([process.stdout], [], [], max(0, deadline - time.monotonic()))
        if not ready:
            return {"step": step, "ok": False, "detail": f"no answer in {STEP_SECONDS} s"}
        line = process.stdout.readline()
        if not line:
            return {"step": step, "ok": False, "detail": "the script ended"}
        if line.startswith("{"):
            return json.loads(line)


@pytest.fixture(scope="module")
def outcomes(worker_servers: Any) -> Iterator[dict[str, str | None]]:
    """Run every step once, in order, each checked as soon as it has run: {step: None, or why
    it failed}."""
    node = node_with("@pnp/graph", "PnPjs")
    server = worker_servers.get(build_state(SCENARIO), tls=True)
    run = Run(MockDriveFixture(server))
    env = {**os.environ, "MOCKDRIVE_URL": run.mock.url, "MOCKDRIVE_GRAPH": run.mock.graph_url,
           "MOCKDRIVE_TENANT": run.mock.tenant_id, "ADA_TOKEN": "ada-token",
           "BOB_TOKEN": "bob-token", "NODE_EXTRA_CA_CERTS": str(run.mock.ca_path)}  # fmt: skip
    for key in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        env.pop(key, None)
    results: dict[str, str | None] = {}
    with subprocess.Popen([node, "pnpjs.mjs"], cwd=JS, env=env, text=True, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:  # fmt: skip
        for name, arrange, check in STEPS:  # a step after a failed one runs, and says what it lacks
            if arrange is not None:
                arrange(run)
            line = ask(process, name)
            if not line["ok"]:
                results[name] = line["detail"]
                continue
            run.result = line["result"]
            failure = outcome_of(check, run)
            results[name] = failure and f"{failure}\nthe step answered {run.result!r}"
        process.stdin.close()  # type: ignore[union-attr]
        process.wait(timeout=10)
    yield results


@pytest.mark.parametrize("name", [name for name, _, _ in STEPS])
def test_step(outcomes: dict[str, str | None], name: str):
    assert outcomes[name] is None, outcomes[name]
