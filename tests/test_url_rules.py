"""The URL rule over every way in: each kind of URL the service hands out, in direct answers and
in ``$batch`` answers, is followed on the server that handed it out, over http, TLS and proxy
mode. (tests/conftest.py follows the URLs of every other test too, on a copy of the state.)
Also: the rule checker itself fails where it should."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
import requests
from aiohttp import web
from url_check import (
    PINNED,
    RuleChecker,
    _may_name_urls,
    follow_on,
    json_body,
    state_parts,
    urls_in,
)

from mockdrive.api.app import BACKEND
from mockdrive.cli import default_state
from mockdrive.model.state import State
from mockdrive.server import MockDrive

TOKEN = "rules-token"
KINDS = {"nextLink", "deltaLink", "downloadUrl", "uploadUrl", "monitor", "redirect", "link"}


def exercise(session: requests.Session, graph: str, auth: dict[str, str]) -> None:
    """One request for each kind of URL the service hands out, alone and in a ``$batch``."""
    for name in ("a.txt", "b.txt"):
        put = session.put(f"{graph}/me/drive/root:/{name}:/content", data=b"abc", headers=auth)
        assert put.status_code == 201, put.text
    steps = [
        ("GET", "/me/drive/root/children?$top=1", None),
        ("GET", "/me/drive/root/delta", None),
        ("POST", "/me/drive/root:/up.bin:/createUploadSession", {}),
        ("GET", "/me/drive/root:/a.txt:/content", None),
        ("POST", "/me/drive/root:/a.txt:/copy", {"name": "a copy.txt"}),
        ("POST", "/me/drive/root:/b.txt:/createLink", {"type": "view", "scope": "organization"}),
        ("POST", "/me/drive/root:/b.txt:/createLink", {"type": "edit", "scope": "users"}),
    ]
    for method, path, body in steps:
        body = {"name": "a second copy.txt"} if body == {"name": "a copy.txt"} else body
        answer = session.request(
            method, graph + path, json=body, headers=auth, allow_redirects=False, timeout=10
        )
        assert answer.status_code < 400, answer.text
    batch = [
        {"id": str(n), "method": m, "url": p, **({"body": b} if b is not None else {}),
         **({"headers": {"Content-Type": "application/json"}} if b is not None else {})}
        for n, (m, p, b) in enumerate(steps)
    ]  # fmt: skip
    steps[4] = ("POST", "/me/drive/root:/a.txt:/copy", {"name": "a third copy.txt"})
    answer = session.post(f"{graph}/$batch", json={"requests": batch}, headers=auth, timeout=10)
    assert answer.status_code == 200, answer.text
    assert all(r["status"] < 400 for r in answer.json()["responses"]), answer.text


def follow_live(checker: RuleChecker, server: MockDrive, session: requests.Session) -> list[str]:
    """Follow every URL the checker collected on the live server, through ``session``."""
    problems = []
    for handed in checker.handed:
        problem = follow_on(server, session, handed.origin, handed)
        if problem:
            problems.append(f"{handed.kind} {handed.url} from {handed.answer}: {problem}")
    return problems


def test_every_kind_of_url_works_over_http_directly_and_in_batch(mock_drive, rule_checker):
    session = requests.Session()
    session.trust_env = False
    exercise(session, mock_drive.graph_url, mock_drive.headers())
    assert {h.kind for h in rule_checker.handed} >= KINDS
    batch = [h for h in rule_checker.handed if h.detail.get("batch")]
    assert {h.kind for h in batch} >= KINDS
    assert follow_live(rule_checker, mock_drive.server, session) == []


@pytest.mark.mock_drive(tls=True)
def test_every_kind_of_url_works_over_tls(mock_drive, rule_checker):
    session = requests.Session()
    session.trust_env = False
    session.verify = mock_drive.ca_path
    exercise(session, mock_drive.graph_url, mock_drive.headers())
    assert {h.kind for h in rule_checker.handed} >= KINDS
    assert all(h.url.startswith("https://") for h in rule_checker.handed if h.kind != "link")
    assert follow_live(rule_checker, mock_drive.server, session) == []


@pytest.fixture
def proxied() -> Iterator[tuple[MockDrive, RuleChecker]]:
    checker = RuleChecker()
    server = MockDrive(
        default_state(TOKEN), proxy=True, middlewares=[checker.middleware], clock=PINNED
    )
    with server:
        checker.start_test()
        yield server, checker
        checker.stop()


def test_every_kind_of_url_works_through_the_proxy(proxied):
    server, checker = proxied
    session = requests.Session()
    session.trust_env = False
    session.proxies = {"http": server.url, "https": server.url}
    session.verify = server.ca_path
    exercise(session, "https://graph.microsoft.com/v1.0", {"Authorization": f"Bearer {TOKEN}"})
    assert {h.kind for h in checker.handed} >= KINDS
    foreign = [h.url for h in checker.handed if h.kind != "link" and "graph.microsoft" not in h.url]
    # every URL stays on the host the client asked for, but upload sessions: as the service's,
    # their uploadUrl is on the storage host (so SDKs send it no token), as is what a PUT there
    # hands out; proxy mode serves that host too (followed below)
    assert all(url.startswith("https://api.onedrive.com/") for url in foreign), foreign
    assert any(url.startswith("https://api.onedrive.com/up/") for url in foreign)
    assert follow_live(checker, server, session) == []
    assert checker.finish_test() == []  # and on a copy of the state of each moment


# -- the checker fails where it must ------------------------------------------------------------
@web.middleware
async def vandal(request: web.Request, handler) -> web.StreamResponse:
    """Misbehaves on request: a refusal that changes the state, or a URL that leads nowhere."""
    state = request.app[BACKEND].state
    what = request.headers.get("X-Vandal")
    if what == "ids":
        state.ids.guid()
    elif what == "clock":
        state.clock.tick()
    elif what == "quietly-ids":  # a change the answer does not refuse
        state.ids.guid()
        return await handler(request)
    elif what == "deadline":  # due at once: the next request's sweep draws an id
        state.expirations.handlers["vandal"] = lambda key, when: bool(state.ids.guid())
        state.expirations.schedule(state.clock.moment(), "vandal", "key")
    elif what == "dead-link":
        origin = str(request.url.origin())
        return web.json_response({"value": [], "@odata.nextLink": origin + "/v1.0/nowhere"})
    elif what == "open-download":  # a "signed" URL anyone can forge
        origin = str(request.url.origin())
        url = origin + "/_mockdrive/health?signature=abc"
        return web.json_response({"value": [{"@microsoft.graph.downloadUrl": url}]})
    else:
        return await handler(request)
    return web.json_response({"error": {"code": "invalidRequest"}}, status=400)


@pytest.fixture(scope="module")
def vandalised() -> Iterator[tuple[MockDrive, RuleChecker]]:
    checker = RuleChecker()
    with MockDrive(
        default_state(TOKEN), middlewares=[checker.middleware, vandal], clock=PINNED
    ) as server:
        yield server, checker
    checker.stop()


@pytest.fixture(scope="module")
def vandalised_by_requests() -> Iterator[tuple[MockDrive, RuleChecker]]:
    """As ``vandalised``, the checker told that only requests change the state."""
    checker = RuleChecker(requests_only=True)
    with MockDrive(
        default_state(TOKEN), middlewares=[checker.middleware, vandal], clock=PINNED
    ) as server:
        yield server, checker
    checker.stop()


def refuse(server: MockDrive, vandal: str | None = None) -> None:
    """A write the service refuses (a folder under an item that does not exist)."""
    headers = {"Authorization": f"Bearer {TOKEN}", **({"X-Vandal": vandal} if vandal else {})}
    url = server.graph_url + "/me/drive/items/nothing/children"
    answer = requests.post(url, json={"name": "x", "folder": {}}, headers=headers, timeout=10)
    assert answer.status_code in (400, 404), answer.text


@pytest.mark.parametrize("what", ["ids", "clock"])
def test_the_checker_fails_a_refusal_that_moved_the_state(vandalised, what):
    server, checker = vandalised
    checker.start_test()
    url = server.graph_url + "/me/drive/root/children"
    answer = requests.post(url, json={}, headers={"X-Vandal": what}, timeout=10)
    assert answer.status_code == 400
    failures = checker.finish_test()
    assert len(failures) == 1 and f"refused, yet {what} changed" in failures[0], failures


def test_the_checker_passes_a_refusal_that_changed_nothing(vandalised):
    server, checker = vandalised
    checker.start_test()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    url = server.graph_url + "/me/drive/items/nothing/children"
    answer = requests.post(url, json={"name": "x", "folder": {}}, headers=auth, timeout=10)
    assert answer.status_code == 404
    assert checker.finish_test() == []


def test_the_checker_fails_a_url_that_does_not_work(vandalised):
    server, checker = vandalised
    checker.start_test()
    auth = {"Authorization": f"Bearer {TOKEN}", "X-Vandal": "dead-link"}
    requests.get(server.graph_url + "/me/drive/root/children", headers=auth, timeout=10)
    failures = checker.finish_test()
    assert len(failures) == 1 and "/v1.0/nowhere" in failures[0] and "answers 400" in failures[0]


def test_the_checker_fails_a_download_url_that_a_forgery_also_opens(vandalised):
    server, checker = vandalised
    checker.start_test()
    auth = {"Authorization": f"Bearer {TOKEN}", "X-Vandal": "open-download"}
    requests.get(server.graph_url + "/me/drive/root/children", headers=auth, timeout=10)
    failures = checker.finish_test()
    assert len(failures) == 1 and "tampered copy still answers" in failures[0], failures


# -- when only requests change the state: one digest per refusal of a run ---------------------
def test_a_run_of_refusals_takes_one_digest_each_and_still_fails_one_that_moved_the_state(
    vandalised_by_requests,
):
    server, checker = vandalised_by_requests
    checker.start_test()
    digests = checker.digests
    for _ in range(3):
        refuse(server)
    assert checker.digests - digests == 4  # before the first, and after each
    assert checker.finish_test() == []
    checker.start_test()
    refuse(server)
    refuse(server, "ids")  # its digest before is the last one's after
    failures = checker.finish_test()
    assert len(failures) == 1 and "refused, yet ids changed" in failures[0], failures


@pytest.mark.parametrize("between", ["quietly-ids", "deadline"])
def test_a_change_between_two_refusals_is_not_blamed_on_the_second(vandalised_by_requests, between):
    """What a request between them changed, or a deadline the second one's sweep reached, is
    in the second one's digest before: it is taken anew, not reused."""
    server, checker = vandalised_by_requests
    checker.start_test()
    refuse(server)
    if between == "quietly-ids":  # a read that changes the state
        auth = {"Authorization": f"Bearer {TOKEN}", "X-Vandal": between}
        answer = requests.get(server.graph_url + "/me/drive/root", headers=auth, timeout=10)
        assert answer.status_code == 200
    else:  # refused, changing nothing the digest holds: the deadline is due at once
        refuse(server, between)
    digests = checker.digests
    refuse(server)
    assert checker.digests - digests == 2
    assert checker.finish_test() == []


class VerifiedChecker(RuleChecker):
    """A ``requests_only`` checker that also digests the state afresh wherever it reuses a
    refusal's digest, noting every part in which the two differ."""

    def __init__(self) -> None:
        super().__init__(requests_only=True)
        self.reused = 0
        self.stale: list[list[str]] = []

    def _settled_parts(self, state: State, events: int | None) -> dict[str, str] | None:
        parts = super()._settled_parts(state, events)
        if parts is not None:
            self.reused += 1
            fresh = state_parts(state)
            if fresh != parts:
                self.stale.append(
                    sorted(k for k in fresh.keys() | parts if fresh.get(k) != parts.get(k))
                )
        return parts


def test_a_reused_digest_is_the_one_taken_afresh_as_time_and_deadlines_pass():
    """Between two refusals with no request between them nothing moves: not the clock, nor a
    link's expiry, an upload session's or an invitation's, nor a copy. Each digest reused as
    the next write's before is the digest taken anew, whatever ran before the pair."""
    checker = VerifiedChecker()
    checker.start_test()
    with MockDrive(
        default_state(TOKEN), middlewares=[checker.middleware], clock=PINNED
    ) as server, requests.Session() as session:  # fmt: skip
        session.trust_env = False
        graph, auth = server.graph_url, {"Authorization": f"Bearer {TOKEN}"}

        def post(path: str, body: dict) -> requests.Response:
            return session.post(graph + path, json=body, headers=auth, timeout=10)

        def advance(**moved: int) -> None:
            answer = session.post(f"{server.url}/_mockdrive/clock", json=moved, timeout=10)
            assert answer.status_code == 200, answer.text

        def refusals() -> None:
            for _ in range(2):
                refuse(server)

        exercise(session, graph, auth)
        refusals()
        soon = "2024-01-01T00:10:00Z"  # past within the minutes the clock is moved below
        link = post("/me/drive/root:/a.txt:/createLink",
                    {"type": "view", "scope": "anonymous", "expirationDateTime": soon})  # fmt: skip
        assert link.status_code == 201, link.text
        invite = post("/me/drive/root:/b.txt:/invite",
                      {"recipients": [{"email": "guest@outside.example"}], "roles": ["read"],
                       "expirationDateTime": soon})  # fmt: skip
        assert invite.status_code == 200, invite.text
        session_answer = post("/me/drive/root:/big.bin:/createUploadSession", {})
        assert session_answer.status_code == 200, session_answer.text
        refusals()
        advance(minutes=30)  # the link and the grant are due: the next request sweeps them
        refusals()
        advance(days=40)  # the upload session and the invitation run out too
        refusals()
        copied = post("/me/drive/root:/a.txt:/copy", {"name": "later.txt"})
        assert copied.status_code == 202, copied.text
        refusals()
        failures = checker.finish_test()
    checker.stop()
    assert checker.reused >= 6, checker.reused
    assert checker.stale == []
    assert failures == [], failures


def test_an_answer_is_parsed_for_urls_unless_no_key_of_one_can_be_in_it():
    """The checker reads an answer's body for URLs only where one of the keys it looks for may
    be written in it: every body in which ``urls_in`` finds a URL is read (a key of each kind,
    in a ``$batch`` step, escaped), and one told apart unread holds none."""
    url = "http://x.example/a"
    holding = [
        {"@odata.nextLink": url}, {"@odata.deltaLink": url}, {"value": [{"uploadUrl": url}]},
        {"@microsoft.graph.downloadUrl": url}, {"@content.downloadUrl": url},
        {"children@odata.nextLink": url}, {"link": {"webUrl": url, "scope": "users"}},
        {"responses": [{"id": "1", "status": 202, "headers": {"Location": url}, "body": {}}]},
        {"responses": [{"id": "1", "status": 200, "body": {"@odata.nextLink": url}}]},
    ]  # fmt: skip
    bodies = [orjson.dumps(body) for body in holding]
    bodies.append(b'{"@odata.next\\u004cink": "http://x.example/a"}')  # the L escaped
    bodies.append(
        b'{"responses": [{"id": "1", "status": 201, "headers": {"Loc\\u0061tion": "u"}}]}'
    )
    for raw in bodies:
        answer = web.Response(body=raw, content_type="application/json")
        assert urls_in(json_body(answer), {}, 200), raw
        assert _may_name_urls(answer), raw
    for body in ({"id": "1", "name": "a.txt", "roles": ["read"]}, {"error": {"code": "x"}}):
        answer = web.Response(body=orjson.dumps(body), content_type="application/json")
        assert not _may_name_urls(answer) and not urls_in(json_body(answer), {}, 200)
