"""Invite outcomes on cue: partial failures (207), policy refusals, throttling, latency, errors."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
import requests
from conftest import as_user, assert_graph_error

INVITE = "/me/drive/root:/Projects:/invite"


def invite_body(*emails, send=True, **extra):
    return {"recipients": [{"email": e} for e in emails], "roles": ["write"],
            "sendInvitation": send, **extra}  # fmt: skip


def admin(mock_drive, method, path, **kwargs):
    return requests.request(method, f"{mock_drive.url}/_mockdrive{path}", timeout=10, **kwargs)


# -- per-recipient notification failures -------------------------------------------------------
def test_mixed_outcome_is_207_and_every_recipient_keeps_the_grant(projects, graph):
    projects.faults.add(effect="notificationFailure", recipient="bob@contoso.example",
                    innerCode="hipCheckRequired")  # fmt: skip
    response = graph.post(INVITE, json=invite_body("carol@contoso.example", "bob@contoso.example"))
    assert response.status_code == 207
    carol, bob = response.json()["value"]
    assert "error" not in carol
    assert bob["error"] == {
        "code": "notAllowed",
        "message": "Human interaction proof needed to unblock sending emails.",
        "localizedMessage": "Human interaction proof needed to unblock sending emails.",
        "fixItUrl": "http://g.live.com/8SESkydrive/HipCheck",
        "innererror": {"code": "hipCheckRequired"},
    }
    held = {p["id"] for p in projects.permissions("/Projects") if "inheritedFrom" not in p}
    assert {carol["id"], bob["id"]} <= held  # both were granted
    delivered = [m["to"] for m in projects.outbox if m["status"] == "delivered"]
    failed = [(m["to"], m["errorCode"]) for m in projects.outbox if m["status"] == "failed"]
    assert delivered == ["carol@contoso.example"]
    assert failed == [("bob@contoso.example", "hipCheckRequired")]


@pytest.mark.parametrize(
    "code",
    ["accountVerificationRequired", "hipCheckRequired", "exchangeInvalidUser",
     "exchangeOutOfMailboxQuota", "exchangeMaxRecipients"],
)  # fmt: skip
def test_all_failing_is_still_207_with_every_entry_in_error(projects, graph, code):
    projects.faults.add(effect="notificationFailure", innerCode=code)
    response = graph.post(INVITE, json=invite_body("carol@contoso.example", "x@ext.example"))
    assert response.status_code == 207
    assert [e["error"]["innererror"]["code"] for e in response.json()["value"]] == [code, code]
    assert len([p for p in projects.permissions("/Projects") if "inheritedFrom" not in p]) == 2


def test_no_notification_failure_without_send_invitation(projects, graph):
    projects.faults.add(effect="notificationFailure")
    response = graph.post(INVITE, json=invite_body("carol@contoso.example", send=False))
    assert response.status_code == 200 and "error" not in response.json()["value"][0]
    assert projects.outbox == []


def test_domain_rule_and_nth_recipient(projects, graph):
    projects.faults.add(effect="notificationFailure", domain="ext.example", nth=2)
    first = graph.post(INVITE, json=invite_body("a@ext.example", "b@ext.example", "c@ext.example"))
    assert [("error" in e) for e in first.json()["value"]] == [False, True, False]


# -- grant-level failures: policy, recipient error rules ----------------------------------------
@pytest.mark.parametrize(
    "policy, recipients, status, code, inner",
    [
        ({"externalSharing": False}, ["x@ext.example"], 403, "notAllowed",
         "externalSharingDisabled"),
        ({"blockedDomains": ["ext.example"]}, ["x@ext.example"], 403, "notAllowed",
         "domainNotAllowed"),
        ({"allowedDomains": ["partner.example"]}, ["x@ext.example"], 403, "notAllowed",
         "domainNotAllowed"),
        ({"maxRecipients": 2}, ["a@x.example", "b@x.example", "c@x.example"], 400, "invalidRequest",
         "tooManyRecipients"),
    ],
)  # fmt: skip
def test_policy_violations_fail_the_whole_request(
    projects, graph, policy, recipients, status, code, inner
):
    projects.set_policy(**policy)
    before = projects.digest()
    response = graph.post(INVITE, json=invite_body("carol@contoso.example", *recipients))
    error = assert_graph_error(response, status, code)
    assert error["innerError"]["code"] == inner
    assert projects.digest() == before and projects.outbox == []


def test_policy_allows_internal_users_and_allowed_domains(projects, graph):
    projects.set_policy(externalSharing=True, allowedDomains=["partner.example"])
    response = graph.post(INVITE, json=invite_body("carol@contoso.example", "p@partner.example"))
    assert response.status_code == 200


def test_policy_over_the_admin_api(projects, graph):
    assert admin(projects, "PUT", "/policy", json={"externalSharing": False}).status_code == 200
    assert admin(projects, "GET", "/policy").json()["externalSharing"] is False
    assert_graph_error(graph.post(INVITE, json=invite_body("x@ext.example")), 403, "notAllowed")
    bad = admin(projects, "PUT", "/policy", json={"maxRecipients": -1})
    assert_graph_error(bad, 400, "invalidRequest")


def test_recipient_error_rule_fails_the_request_and_grants_nothing(projects, graph):
    projects.faults.add(effect="error", recipient="bob@contoso.example", status=403,
                    code="accessDenied", message="Bob is blocked")  # fmt: skip
    before = projects.digest()
    response = graph.post(INVITE, json=invite_body("carol@contoso.example", "bob@contoso.example"))
    assert assert_graph_error(response, 403, "accessDenied")["message"] == "Bob is blocked"
    assert projects.digest() == before


# -- request-level rules: errors, throttling, latency --------------------------------------------
def test_error_rule_on_a_route_with_times(projects, graph):
    projects.faults.add(effect="error", method="GET", path="/children$", status=503,
                    code="serviceNotAvailable", times=2)  # fmt: skip
    statuses = [graph.get("/me/drive/root/children").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert graph.get("/me/drive/root").status_code == 200  # other routes unaffected


class Seconds:
    """A monotonic time source the test moves by hand, for throttle windows without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_then_success_after_waiting(projects, graph):
    seconds = projects.state.faults.time_source = Seconds()
    projects.faults.add(effect="throttle", path="/invite$", nth=2, retryAfter=1)
    assert graph.post(INVITE, json=invite_body("carol@contoso.example")).status_code == 200
    throttled = graph.post(INVITE, json=invite_body("bob@contoso.example"))
    assert_graph_error(throttled, 429, "activityLimitReached")
    assert throttled.headers["Retry-After"] == "1"
    assert throttled.json()["error"]["innerError"]["code"] == "throttledRequest"
    seconds.now += 1.05  # the Retry-After window passes
    assert graph.post(INVITE, json=invite_body("bob@contoso.example")).status_code == 200
    assert [r["fired"] for r in projects.faults] == [1]
    assert [r["violations"] for r in projects.faults] == [0]  # the retry came after the window


def test_a_retry_one_instant_before_the_window_ends_is_early(projects, graph):
    seconds = projects.state.faults.time_source = Seconds()
    projects.faults.add(effect="throttle", path="/invite$", retryAfter=5, times=1,
                    throttleEarlyRetries=True)  # fmt: skip
    body = invite_body("carol@contoso.example")
    assert graph.post(INVITE, json=body).status_code == 429
    seconds.now += 4.99
    assert graph.post(INVITE, json=body).status_code == 429
    assert [r["violations"] for r in projects.faults] == [1]
    seconds.now += 0.02
    assert graph.post(INVITE, json=body).status_code == 200
    assert [(r["fired"], r["violations"]) for r in projects.faults] == [(1, 1)]


def test_early_retry_is_recorded_and_throttled_again_if_the_rule_says_so(projects, graph):
    rule = projects.faults.add(effect="throttle", path="/invite$", retryAfter=30, times=1,
                           throttleEarlyRetries=True)  # fmt: skip
    body = invite_body("carol@contoso.example")
    assert graph.post(INVITE, json=body).status_code == 429
    assert graph.post(INVITE, json=body).status_code == 429  # too early: throttled again
    assert [r["violations"] for r in projects.faults] == [1]
    journal = admin(projects, "GET", "/journal").json()["value"]
    assert journal[-1]["faults"] == [{"rule": rule.id, "effect": "throttle", "earlyRetry": True}]


def test_early_retry_is_only_recorded_by_default(projects, graph):
    projects.faults.add(effect="throttle", path="/invite$", retryAfter=30, times=1)
    body = invite_body("carol@contoso.example")
    assert graph.post(INVITE, json=body).status_code == 429
    assert graph.post(INVITE, json=body).status_code == 200
    assert [r["violations"] for r in projects.faults] == [1]


def test_503_throttle(projects, graph):
    projects.faults.add(effect="throttle", status=503, retryAfter=7)
    response = graph.get("/me/drive")
    assert_graph_error(response, 503, "serviceNotAvailable")
    assert response.headers["Retry-After"] == "7"


async def test_latency_does_not_block_other_requests(projects):
    projects.faults.add(effect="latency", path="/root/children$", latencyMs=300)
    headers = projects.headers()
    async with aiohttp.ClientSession(headers=headers) as session:
        finished = []

        async def fetch(path):
            started = time.perf_counter()
            async with session.get(projects.graph_url + path) as response:
                assert response.status == 200
            finished.append(path)
            return time.perf_counter() - started

        slow, _ = await asyncio.gather(fetch("/me/drive/root/children"), fetch("/me/drive"))
    assert slow >= 0.3  # the delay was applied...
    assert finished == ["/me/drive", "/me/drive/root/children"]  # ...while the other was served


def test_seeded_jitter_is_deterministic():
    from mockdrive.model.faults import FaultRules

    def delays():
        rules = FaultRules(seed=7)
        rule = rules.add({"effect": "latency", "latencyMs": 10, "jitterMs": 100})
        return [rule.delay_seconds() for _ in range(5)]

    assert delays() == delays()
    assert len(set(delays())) > 1


def test_context_manager_removes_the_rule(projects, graph):
    with projects.faults.active(effect="error", status=500, code="generalException"):
        assert graph.get("/me/drive").status_code == 500
    assert graph.get("/me/drive").status_code == 200
    assert len(projects.faults) == 0


def test_caller_rule_only_hits_that_caller(projects, graph):
    projects.grant("/Projects", projects.state.user("carol@contoso.example"), ["read"])
    projects.faults.add(
        effect="error", caller="carol@contoso.example", status=403, code="accessDenied"
    )
    assert graph.get("/me/drive").status_code == 200
    carol = as_user(graph, "carol-token")
    assert carol.get(f"/drives/{projects.drive.id}").status_code == 403


# -- rules over the admin API and bad rules from every source -----------------------------------
def test_admin_fault_api(projects, graph):
    created = admin(
        projects, "POST", "/faults", json={"effect": "error", "status": 418, "code": "teapot"}
    )
    assert created.status_code == 201
    rule_id = created.json()["id"]
    assert [r["id"] for r in admin(projects, "GET", "/faults").json()["value"]] == [rule_id]
    assert graph.get("/me/drive").status_code == 418
    assert admin(projects, "DELETE", f"/faults/{rule_id}").status_code == 204
    assert graph.get("/me/drive").status_code == 200
    assert_graph_error(admin(projects, "DELETE", f"/faults/{rule_id}"), 404, "itemNotFound")
    many = admin(
        projects, "POST", "/faults", json={"value": [{"effect": "latency"}, {"effect": "latency"}]}
    )
    assert len(many.json()["value"]) == 2
    assert admin(projects, "DELETE", "/faults").status_code == 204
    assert admin(projects, "GET", "/faults").json()["value"] == []


BAD_RULES = {
    "unknown effect": ({"effect": "explode"}, "effect must be one of"),
    "bad regex": ({"effect": "latency", "path": "("}, "not a valid regex"),
    "negative times": ({"effect": "latency", "times": -1}, "must not be negative"),
    "zero nth": ({"effect": "latency", "nth": 0}, "must not be negative"),
    "unknown field": ({"effect": "latency", "delay": 5}, "unknown fault rule field 'delay'"),
    "wrong type": ({"effect": "latency", "latencyMs": "5"}, "must be of type int"),
    "error without status": ({"effect": "error"}, "needs a status"),
    "unknown inner code": ({"effect": "notificationFailure", "innerCode": "x"}, "innerCode"),
    "throttle per recipient": ({"effect": "throttle", "recipient": "a@b.c"}, "only apply"),
    "throttle status": ({"effect": "throttle", "status": 500}, "429 or 503"),
}


@pytest.mark.parametrize("rule, message", BAD_RULES.values(), ids=BAD_RULES.keys())
def test_bad_rules_are_refused_from_the_fixture_and_the_admin_api(projects, rule, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        projects.faults.add(**rule)
    response = admin(projects, "POST", "/faults", json=rule)
    assert message in assert_graph_error(response, 400, "invalidRequest")["message"]
    batch = admin(projects, "POST", "/faults", json={"value": [{"effect": "latency"}, rule]})
    assert_graph_error(batch, 400, "invalidRequest")
    assert len(projects.faults) == 0  # all or nothing


# -- journal and outbox ---------------------------------------------------------------------------
def test_journal_records_requests_and_assert_called_explains_misses(projects, graph):
    graph.post(
        INVITE, json=invite_body("carol@contoso.example"), headers={"client-request-id": "c1"}
    )
    entry = projects.requests.assert_called("POST", "/v1.0" + INVITE,
                                        json={"roles": ["write"]}, times=1)[0]  # fmt: skip
    assert entry.status == 200 and entry.caller == "ada@contoso.example"
    assert entry.headers["client-request-id"] == "c1"
    with pytest.raises(AssertionError) as failure:
        projects.requests.assert_called("POST", "/v1.0" + INVITE, json={"roles": ["read"]})
    text = str(failure.value)
    assert "nearest requests that arrived" in text and "differs in: body" in text
    with pytest.raises(AssertionError, match=r"no request arrived|nearest"):
        projects.requests.assert_called("DELETE", "/v1.0/me/drive/root")
    projects.requests.assert_not_called("DELETE", "/v1.0/me/drive/root")


def test_journal_is_a_bounded_ring_buffer(projects, graph):
    projects.server.call(lambda: setattr(projects.state.journal, "entries",
                                     type(projects.state.journal.entries)(maxlen=3)))  # fmt: skip
    for _ in range(5):
        graph.get("/me/drive")
    entries = list(projects.requests)
    assert [e["id"] for e in entries] == [3, 4, 5]


def test_outbox_admin_api(projects, graph):
    graph.post(INVITE, json=invite_body("carol@contoso.example", message="Hi"))
    outbox = admin(projects, "GET", "/outbox").json()["value"]
    assert outbox[0]["to"] == "carol@contoso.example" and outbox[0]["message"] == "Hi"
    assert outbox[0]["webUrl"].endswith("/Projects") and outbox[0]["signInRequired"] is False
    assert admin(projects, "DELETE", "/outbox").status_code == 204
    assert projects.outbox == []


def run_script(mock_drive, graph):
    """The same scenario and requests, from a fresh state."""
    from mockdrive.cli import default_state
    from mockdrive.pytest_plugin import OWNER_TOKEN

    mock_drive.server.reset(default_state(OWNER_TOKEN))
    mock_drive.add_file("/Projects/Plan.docx", "plan")
    mock_drive.add_user("Carol Jones", "carol@contoso.example")
    mock_drive.faults.add(effect="notificationFailure", recipient="x@ext.example")
    mock_drive.faults.add(effect="throttle", path="/permissions$", times=1, retryAfter=60)
    graph.post(INVITE, json=invite_body("carol@contoso.example", "x@ext.example", message="m"))
    graph.get("/me/drive/root:/Projects:/permissions")
    graph.get("/me/drive/root:/Projects/Plan.docx:/permissions")
    graph.post(INVITE, json={"recipients": []})
    journal = admin(mock_drive, "GET", "/journal?timing=false").content
    outbox = admin(mock_drive, "GET", "/outbox").content
    return journal, outbox


def test_same_scenario_twice_gives_byte_identical_journal_and_outbox(mock_drive, graph):
    first = run_script(mock_drive, graph)
    second = run_script(mock_drive, graph)
    assert first == second
    journal = json.loads(first[0])["value"]
    assert [e["status"] for e in journal] == [207, 429, 200, 400]


# -- rules and policy from shipped scenario files -----------------------------------------------
@pytest.mark.mock_drive(scenario="fixtures/partial-failure.yaml")
def test_shipped_partial_failure_scenario(mock_drive, graph):
    body = invite_body("bob@contoso.example", "lead@auditors.example")
    response = graph.post(INVITE, json=body)
    assert response.status_code == 207
    bob, auditor = response.json()["value"]
    assert "error" not in bob
    assert auditor["error"]["innererror"]["code"] == "exchangeInvalidUser"


@pytest.mark.mock_drive(scenario="fixtures/throttling.yaml")
def test_shipped_throttling_scenario(mock_drive, graph):
    assert mock_drive.state.policy.allowed_domains == ["partner.example"]
    target = (
        "/me/drive/root:/" + mock_drive.export()["drives"][0]["root"]["children"][0]["name"] + ":"
    )
    body = invite_body("guest@partner.example", send=False)
    assert graph.post(target + "/invite", json=body).status_code == 200
    throttled = graph.post(target + "/invite", json=body)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    outside = graph.post(target + "/invite", json=invite_body("x@elsewhere.example"))
    assert outside.status_code == 429  # retried too early: throttled again, as the rule says


def test_outbox_is_a_bounded_ring_buffer(projects, graph):
    from collections import deque

    projects.server.call(lambda: setattr(projects.state.outbox, "messages", deque(maxlen=2)))
    for n in range(4):
        graph.post(INVITE, json=invite_body(f"p{n}@ext.example"))
    assert [m["to"] for m in projects.outbox] == ["p2@ext.example", "p3@ext.example"]
