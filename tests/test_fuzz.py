"""schemathesis against the served OpenAPI document, on a live server: no 5xx, and every answer
conforms to the document (status, content type, body schema).

CI runs a quick pass: every operation's coverage phase (boundary values, missing and wrong-typed
fields, each number at and past its documented range: ~13,000 requests) plus 2 generated
examples per operation (~15,000 requests in all, at least 2,000). The document's examples name
a live upload session, sharing link and permission, so fragment ranges, /shares and grants are
reached; the clock and policy admin routes are fuzzed too.

The operations are fuzzed in four groups by path (``GROUPS``), each on a server of its own with
the same arrangement, so that ``pytest -n 2`` spreads them over its workers; a test checks that
the groups cover every operation of the document exactly once. The long local run::

    MOCKDRIVE_FUZZ_EXAMPLES=40 MOCKDRIVE_FUZZ_MIN_REQUESTS=10000 \
        .venv/bin/pytest tests/test_fuzz.py -s
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from aiohttp import web
from url_check import PINNED, RuleChecker

from mockdrive.api.openapi import COMMON_REFUSALS
from mockdrive.cli import default_state
from mockdrive.server import MockDrive

EXAMPLES = int(os.environ.get("MOCKDRIVE_FUZZ_EXAMPLES", "2"))
MIN_REQUESTS = int(os.environ.get("MOCKDRIVE_FUZZ_MIN_REQUESTS", "2000"))
CHECKS = ",".join(
    ("not_a_server_error", "status_code_conformance", "content_type_conformance",
     "response_schema_conformance")
)  # fmt: skip
# Routes that reconfigure the mock itself: fault rules inject 5xx on purpose, and reset/state
# would swap the data the examples point at. The clock and the policy are fuzzed: whatever they
# are set to, no answer may be a 5xx.
EXCLUDED = r"^/_mockdrive/(faults|reset|state)"
# The path groups fuzzed apart (each a regex over the document's paths, matched as schemathesis
# matches them: re.search); "rest" is every path none of the others takes.
GROUPS = {
    "me": r"^/v1\.0/me(/|$)",
    "drives": r"^/v1\.0/drives(/|$)",
    "drive-shares-batch-groups": r"^/v1\.0/(drive|shares|\$batch|groups)(/|$)",
}
REST = "rest"
METHODS = ("get", "put", "post", "patch", "delete", "head", "options")


def group_filters(group: str) -> list[str]:
    """The schemathesis options that select ``group``'s operations."""
    if group == REST:
        return ["--exclude-path-regex", "|".join([EXCLUDED, *GROUPS.values()])]
    return ["--include-path-regex", GROUPS[group], "--exclude-path-regex", EXCLUDED]


def group_of(path: str) -> str | None:
    """The group that fuzzes ``path`` (None: excluded); what ``group_filters`` selects."""
    if re.search(EXCLUDED, path):
        return None
    taken = [name for name, pattern in GROUPS.items() if re.search(pattern, path)]
    assert len(taken) <= 1, f"{path} is in {taken}"
    return taken[0] if taken else REST


def operations(document: dict) -> list[tuple[str, str]]:
    return [(m, path) for path, ops in document["paths"].items() for m in ops if m in METHODS]


# How the child runs the schemathesis console script: as its own process would (the script
# runs as ``__main__`` from its own file, its directory first on the path; this code has no
# file, so Hypothesis collects the same constants from the same modules and the run sends the
# same requests), with the collector tuned for a short run that makes millions of objects: what
# the imports made is frozen (no collection walks it again) and the young generation is
# collected every 10,000 allocations, not every 700 (the collector's CPU in the "me" group:
# 0.80 s -> 0.38 s of ~10 s; its peak memory 110 -> 111 MB).
CHILD = """
import gc, os, runpy, sys
import schemathesis.cli
gc.collect()
gc.freeze()
gc.set_threshold(10_000, 20, 50)
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(sys.argv[0])
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def schemathesis_command(url: str, group: str, har: Path) -> list[str]:
    """The schemathesis run that fuzzes ``group`` on the server at ``url``, its HAR in ``har``."""
    return [
        sys.executable, "-c", CHILD,
        str(Path(sys.executable).parent / "schemathesis"), "run",
        f"{url}/_mockdrive/openapi.json",
        "--header", "Authorization: Bearer fuzz-token",
        "--checks", CHECKS,
        "--max-examples", str(EXAMPLES),
        "--phases", "examples,coverage,fuzzing",
        # the run starts from no saved examples and keeps none (Hypothesis's home is shared:
        # ``child_environment``), so the same seed sends the same requests every time
        "--generation-database", "none",
        *group_filters(group),
        "--report", "har", "--report-har-path", str(har),
        # one worker: with two, CPython 3.11's ast.parse is not thread-safe under
        # schemathesis and the run failed now and then; one worker plus the seed also
        # sends the same requests in the same order every run
        "--workers", "1", "--seed", "1",
        # CI shares two cores with the other tests: allow a slow answer, and retry a
        # request whose connection failed (network level only; a 5xx is never retried)
        "--request-timeout", "30", "--request-retries", "2",
    ]  # fmt: skip


def child_environment(url: str, tmp_path: Path) -> dict[str, str]:
    """Ours, with what requests would otherwise look up in the environment on every request
    settled for the server: its host in ``no_proxy`` (no proxy the environment names takes
    loopback calls, and the whole environment is not scanned for proxies each time), and
    ``NETRC`` naming a file that does not exist (a ~/.netrc entry would replace the bearer
    token with basic auth; looking for one was two file lookups a request).

    Hypothesis keeps its caches in the home this process's Hypothesis uses, not in the run's
    fresh directory: its tables of the Unicode characters each codec encodes are computed once
    (1.4 s of CPU a run, redone by every run in a directory of its own), and are the same tables
    either way. Only content-keyed caches are kept there: no example database
    (``--generation-database none``)."""
    host = urlsplit(url).hostname or ""
    bypass = os.environ.get("no_proxy") or os.environ.get("NO_PROXY")
    no_netrc = str(tmp_path / "no-netrc")  # never made
    return {
        **os.environ,
        "no_proxy": ",".join(filter(None, [host, bypass])),
        "NETRC": no_netrc,
        "HYPOTHESIS_STORAGE_DIRECTORY": str(hypothesis_home()),
    }


def hypothesis_home() -> Path:
    """The directory this process's Hypothesis keeps its data in, found as Hypothesis finds it."""
    return Path(os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY") or Path.cwd() / ".hypothesis")


def arrange(server: MockDrive) -> None:
    """A file, an open upload session and a sharing link: the document's examples name them,
    so generated requests reach fragment ranges, /shares and grants, not only their 404s."""
    headers = {"Authorization": "Bearer fuzz-token"}
    with requests.Session() as http:
        http.trust_env = False
        put = http.put(f"{server.url}/v1.0/me/drive/root:/Projects/Plan.docx:/content",
                       data=b"plan", headers=headers, timeout=30)  # fmt: skip
        assert put.status_code == 201, put.text
        link = http.post(f"{server.url}/v1.0/me/drive/root:/Projects:/createLink",
                         json={"type": "edit", "scope": "users"}, headers=headers,
                         timeout=30)  # fmt: skip
        assert link.status_code == 201, link.text
        session = http.post(f"{server.url}/v1.0/me/drive/root:/Upload.bin:/createUploadSession",
                            json={}, headers=headers, timeout=30)  # fmt: skip
        assert session.status_code == 200, session.text


def test_the_groups_cover_every_operation_once():
    """Splitting the run drops nothing: every operation of the served document but the excluded
    admin routes is in one group (``group_of`` asserts "at most one"), and no group is empty."""
    with MockDrive(default_state("fuzz-token"), clock=PINNED) as server:
        document = requests.get(f"{server.url}/_mockdrive/openapi.json", timeout=30).json()
    groups = Counter(group_of(path) for _, path in operations(document))
    assert set(groups) == {*GROUPS, REST, None}, groups
    assert groups[None] == sum(bool(re.search(EXCLUDED, p)) for _, p in operations(document))
    assert min(groups[name] for name in [*GROUPS, REST]) >= 20, groups


def test_a_refusal_by_code_is_the_4xx_response():
    """The common refusals are named by code (schemathesis finds a code by key, a range code by
    code) and are the 4XX range's own response: the document accepts and refuses the same
    answers as with the range alone. Every response reference resolves."""
    with MockDrive(default_state("fuzz-token"), clock=PINNED) as server:
        document = requests.get(f"{server.url}/_mockdrive/openapi.json", timeout=30).json()
    shared = document["components"]["responses"]
    for method, path in operations(document):
        answers = document["paths"][path][method]["responses"]
        assert "4XX" in answers, (method, path)
        for code in COMMON_REFUSALS:
            assert answers[code] == answers["4XX"], (method, path, code)
        for answer in answers.values():
            name = answer.get("$ref", "#/components/responses/").rpartition("/")[2]
            assert not name or name in shared, (method, path, answer)


@pytest.mark.parametrize("group", [*GROUPS, REST])
def test_generated_requests_find_no_server_error_and_conform(tmp_path: Path, group: str):
    # every refusal changes nothing; every URL handed out works. Nothing but schemathesis's
    # requests changes the state while it runs (the admin routes that swap it are excluded)
    checker = RuleChecker(budget=False, requests_only=True)
    checker.start_test()
    with MockDrive(
        default_state("fuzz-token"), middlewares=[checker.middleware], clock=PINNED
    ) as server:
        arrange(server)
        document = requests.get(f"{server.url}/_mockdrive/openapi.json", timeout=30).json()
        every = operations(document)
        mine = [op for op in every if group_of(op[1]) == group]
        # this group's share of the run's minimum
        minimum = MIN_REQUESTS * len(mine) // len([op for op in every if group_of(op[1])])
        har = tmp_path / "run.har"
        command = schemathesis_command(server.url, group, har)
        environment = child_environment(server.url, tmp_path)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=900, cwd=tmp_path
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        broken_rules = checker.finish_test()
    checker.stop()
    entries = json.loads(har.read_text())["log"]["entries"]
    statuses = Counter(entry["response"]["status"] for entry in entries)
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    print(
        f"\nschemathesis, {group} ({len(mine)} operations): {len(entries)} requests, "
        f"{server_errors} 5xx, statuses {dict(statuses)}"
    )
    failing = [
        f"{e['request']['method']} {e['request']['url']} {e['request'].get('postData', {})}"[:600]
        for e in entries
        if e["response"]["status"] >= 500
    ]
    assert server_errors == 0, "\n".join(failing[:5])
    assert result.returncode == 0, result.stdout[-6000:]
    assert len(entries) >= minimum, f"{len(entries)} requests, fewer than {minimum}"
    print(f"rules: {checker.refusals_checked} refusals checked; URLs followed {checker.followed}")
    child = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    spent = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in checker.seconds.items())
    print(f"CPU: schemathesis {child:.2f} s; the rule checks: {spent} ({checker.digests} digests)")
    assert broken_rules == [], "\n".join(broken_rules[:40])


# -- the run can fail ------------------------------------------------------------------------------
def broken_refusals(kind: str) -> Any:
    """A middleware that breaks each 404 and 400 answer: its body out of the dialect's envelope
    (``body``) or its content type (``type``), the status kept."""

    @web.middleware
    async def breaking(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        if response.status not in (400, 404) or request.path == "/_mockdrive/openapi.json":
            return response
        if kind == "body":
            return web.json_response({"error": "refused"}, status=response.status)
        return web.Response(status=response.status, text="refused", content_type="text/plain")

    return breaking


@pytest.mark.parametrize("kind", ["body", "type"])
def test_the_run_fails_on_a_refusal_the_document_does_not_describe(tmp_path: Path, kind: str):
    """The checks reach the refusals the document names by code: one operation's run fails
    when its 400s and 404s leave their envelope or their content type."""
    with MockDrive(
        default_state("fuzz-token"), middlewares=[broken_refusals(kind)], clock=PINNED
    ) as server:
        command = schemathesis_command(server.url, "me", tmp_path / "run.har")
        at = command.index("--include-path-regex") + 1
        command[at] = r"^/v1\.0/me/drive/items/\{itemId\}$"
        result = subprocess.run(
            command,
            env=child_environment(server.url, tmp_path),
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    reason = "Response violates schema" if kind == "body" else "Undocumented Content-Type"
    assert reason in result.stdout, result.stdout[-3000:]
