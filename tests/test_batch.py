"""JSON batching over loopback: per-request outcomes, dependencies, throttling inside a batch."""

from __future__ import annotations

import base64

import pytest
import requests
from conftest import as_user, assert_graph_error


@pytest.fixture
def team(projects):
    """The shared projects, plus three folders for a batch to invite to: Alpha (with a file),
    Beta and Gamma."""
    for name in ("Alpha", "Beta", "Gamma"):
        projects.add_folder(f"/{name}")
    projects.add_file("/Alpha/Plan.docx", "plan")
    return projects


def invite(folder, *emails, request_id=None, **extra):
    step = {
        "id": request_id or folder,
        "method": "POST",
        "url": f"/me/drive/root:/{folder}:/invite",
        "headers": {"Content-Type": "application/json"},
        "body": {
            "recipients": [{"email": e} for e in emails],
            "roles": ["write"],
            "sendInvitation": True,
        },
    }
    step.update(extra)
    return step


def by_id(response):
    assert response.status_code == 200, response.text
    items = response.json()["responses"]
    for item in items:
        assert set(item) == {"id", "status", "headers", "body"}, item
    return {item["id"]: item for item in items}


def direct_grantees(mock_drive, path):
    return sorted(
        p["grantedToV2"]["user"]["email"]
        for p in mock_drive.permissions(path)
        if "inheritedFrom" not in p and "grantedToV2" in p and "owner" not in p["roles"]
    )


def test_mixed_success_and_failure_in_one_batch(team, graph):
    batch = {"requests": [
        {"id": "1", "method": "GET", "url": "/me/drive/root:/Alpha/Plan.docx"},
        {"id": "2", "method": "GET", "url": "/me/drive/root:/Nope"},
        invite("Beta", "carol@contoso.example"),
        {"id": "4", "method": "GET", "url": "me/drive/root/children?$top=1"},
    ]}  # fmt: skip
    items = by_id(graph.post("/$batch", json=batch))
    assert items["1"]["status"] == 200 and items["1"]["body"]["name"] == "Plan.docx"
    assert items["1"]["headers"]["Content-Type"].startswith("application/json")
    assert items["2"]["status"] == 404
    assert items["2"]["body"]["error"]["code"] == "itemNotFound"
    assert items["Beta"]["status"] == 200
    assert items["Beta"]["body"]["value"][0]["roles"] == ["write"]
    assert len(items["4"]["body"]["value"]) == 1 and "@odata.nextLink" in items["4"]["body"]
    assert direct_grantees(team, "/Beta") == ["carol@contoso.example"]
    assert [m["to"] for m in team.outbox] == ["carol@contoso.example"]


def test_each_step_is_journaled_and_linked_to_its_batch(team, graph):
    response = graph.post("/$batch", json={"requests": [
        {"id": "a", "method": "GET", "url": "/me/drive"},
        invite("Gamma", "bob@contoso.example", request_id="b"),
    ]})  # fmt: skip
    by_id(response)
    journal = list(team.requests)
    batch_entry = next(e for e in journal if e["path"] == "/v1.0/$batch")
    steps = [e for e in journal if e.get("batch")]
    assert [(e["method"], e["path"], e["batch"]["id"]) for e in steps] == [
        ("GET", "/v1.0/me/drive", "a"),
        ("POST", "/v1.0/me/drive/root:/Gamma:/invite", "b"),
    ]
    assert {e["batch"]["requestId"] for e in steps} == {batch_entry["requestId"]}
    assert all(e["caller"] == "ada@contoso.example" for e in steps)
    assert steps[1]["body"]["recipients"] == [{"email": "bob@contoso.example"}]


def test_failed_dependency_answers_424_and_runs_nothing(team, graph):
    before = team.digest()
    batch = {"requests": [
        invite("Nowhere", "carol@contoso.example", request_id="1"),
        invite("Beta", "carol@contoso.example", request_id="2", dependsOn=["1"]),
        invite("Gamma", "bob@contoso.example", request_id="3", dependsOn=["2"]),
    ]}  # fmt: skip
    items = by_id(graph.post("/$batch", json=batch))
    assert items["1"]["status"] == 404
    assert items["2"]["status"] == 424 and items["3"]["status"] == 424
    assert items["2"]["body"]["error"]["code"] == "failedDependency"
    assert team.digest() == before
    assert team.outbox == []


def test_dependency_chain_runs_in_order(team, graph):
    batch = {"requests": [
        {"id": "1", "method": "POST", "url": "/me/drive/root/children",
         "headers": {"Content-Type": "application/json"},
         "body": {"name": "Reports", "folder": {}}},
        invite("Reports", "carol@contoso.example", request_id="2", dependsOn=["1"]),
        {"id": "3", "method": "GET", "url": "/me/drive/root:/Reports:/permissions",
         "dependsOn": ["2"]},
    ]}  # fmt: skip
    items = by_id(graph.post("/$batch", json=batch))
    assert [items[i]["status"] for i in "123"] == [201, 200, 200]
    emails = [p.get("grantedToV2", {}).get("user", {}).get("email")
              for p in items["3"]["body"]["value"]]  # fmt: skip
    assert "carol@contoso.example" in emails


def test_a_throttled_step_gets_its_own_retry_after_while_the_others_succeed(team, graph):
    team.faults.add(effect="throttle", path="/Gamma:/invite$", retryAfter=7)
    batch = {"requests": [
        invite("Alpha", "carol@contoso.example"),
        invite("Gamma", "carol@contoso.example"),
        invite("Beta", "bob@contoso.example"),
    ]}  # fmt: skip
    items = by_id(graph.post("/$batch", json=batch))
    assert items["Alpha"]["status"] == 200 and items["Beta"]["status"] == 200
    assert items["Gamma"]["status"] == 429
    assert items["Gamma"]["headers"]["Retry-After"] == "7"
    assert items["Gamma"]["body"]["error"]["code"] == "activityLimitReached"
    assert direct_grantees(team, "/Gamma") == []
    assert direct_grantees(team, "/Beta") == ["bob@contoso.example"]


def test_a_fault_rule_fails_one_invite_of_the_batch(team, graph):
    team.faults.add(effect="error", path="/Beta:/invite$", status=403, code="accessDenied",
                    message="nope")  # fmt: skip
    items = by_id(graph.post("/$batch", json={"requests": [
        invite("Alpha", "carol@contoso.example"), invite("Beta", "carol@contoso.example"),
    ]}))  # fmt: skip
    assert items["Alpha"]["status"] == 200
    assert items["Beta"]["status"] == 403
    assert items["Beta"]["body"]["error"] == {
        **items["Beta"]["body"]["error"],
        "code": "accessDenied",
        "message": "nope",
    }


def test_partial_invite_is_a_207_item(team, graph):
    team.faults.add(effect="notificationFailure", recipient="bob@contoso.example",
                    innerCode="exchangeInvalidUser")  # fmt: skip
    items = by_id(graph.post("/$batch", json={"requests": [
        invite("Alpha", "carol@contoso.example", "bob@contoso.example"),
    ]}))  # fmt: skip
    item = items["Alpha"]
    assert item["status"] == 207
    errors = [entry.get("error") for entry in item["body"]["value"]]
    assert errors[0] is None
    assert errors[1]["innererror"]["code"] == "exchangeInvalidUser"


def test_steps_run_as_the_batch_caller(team, graph):
    reader = as_user(graph, "carol-token")
    items = by_id(reader.post("/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": "/me/drive/root:/Alpha"},
        invite("Beta", "bob@contoso.example", request_id="2"),
    ]}))  # fmt: skip
    assert items["1"]["status"] == 404  # carol cannot see ada's folder
    assert items["2"]["status"] == 404
    assert direct_grantees(team, "/Beta") == []


def test_a_step_runs_as_the_batch_caller_whatever_token_it_names(team, graph):
    items = by_id(as_user(graph, "carol-token").post("/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": "/me/drive/root:/Alpha",
         "headers": {"Authorization": f"Bearer {team.token}"}},
    ]}))  # fmt: skip
    assert items["1"]["status"] == 404  # carol's batch cannot borrow ada's token


def test_connection_headers_of_a_step_are_ignored(team, graph):
    items = by_id(graph.post("/$batch", json={"requests": [
        {"id": "1", "method": "POST", "url": "/me/drive/root/children",
         "headers": {"Content-Type": "application/json", "Expect": "100-continue",
                     "Content-Length": "999999", "Transfer-Encoding": "chunked"},
         "body": {"name": "Reports", "folder": {}}},
    ]}))  # fmt: skip
    assert items["1"]["status"] == 201 and items["1"]["body"]["name"] == "Reports"


def test_unknown_and_unimplemented_routes_inside_a_batch(team, graph):
    items = by_id(graph.post("/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": "/me/drive/items/nope"},
        {"id": "2", "method": "POST", "url": "/me/drive/items/x/action.invite",
         "headers": {"Content-Type": "application/json"}, "body": {}},
        {"id": "3", "method": "PUT", "url": "/me/drive"},
    ]}))  # fmt: skip
    assert items["1"]["status"] == 404
    assert items["2"]["status"] == 501
    assert items["2"]["body"]["error"]["code"] == "notImplemented"
    assert items["3"]["status"] == 405


def test_binary_bodies_travel_base64(team, graph):
    data = bytes(range(256))
    items = by_id(graph.post("/$batch", json={"requests": [
        {"id": "up", "method": "PUT", "url": "/me/drive/root:/Alpha/blob.bin:/content",
         "headers": {"Content-Type": "application/octet-stream"},
         "body": base64.b64encode(data).decode()},
        {"id": "down", "method": "GET", "url": "/me/drive/root:/Alpha/blob.bin:/content",
         "dependsOn": ["up"]},
    ]}))  # fmt: skip
    assert items["up"]["status"] == 201 and items["up"]["body"]["size"] == 256
    down = items["down"]
    if down["status"] == 302:  # the service redirects content reads to a download URL
        assert down["headers"]["Location"]
    else:
        assert down["status"] == 200
        assert base64.b64decode(down["body"]) == data


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({}, "requests"),
        ({"requests": {}}, "requests"),
        ({"requests": []}, "no requests"),
        ({"requests": [{"id": str(i), "method": "GET", "url": "/me"} for i in range(21)]},
         "maximum of 20"),
        ({"requests": [{"id": "a", "method": "GET", "url": "/me/drive"},
                       {"id": "A", "method": "GET", "url": "/me/drive"}]}, "more than one"),
        ({"requests": [{"id": "1", "method": "GET", "url": "/me/drive", "dependsOn": ["9"]}]},
         "not in the batch"),
        ({"requests": [{"id": "1", "method": "GET", "url": "/me/drive", "dependsOn": ["2"]},
                       {"id": "2", "method": "GET", "url": "/me/drive"}]}, "before it"),
        ({"requests": [{"id": "1", "method": "FETCH", "url": "/me/drive"}]}, "method"),
        ({"requests": [{"id": "", "method": "GET", "url": "/me/drive"}]}, "id"),
        ({"requests": [{"id": "1", "method": "GET"}]}, "url"),
        ({"requests": [{"id": "1", "method": "POST", "url": "/me/drive/root/children",
                        "body": {"name": "x", "folder": {}}}]}, "Content-Type"),
        ({"requests": [{"id": "1", "method": "PUT", "url": "/me/drive/root:/a.bin:/content",
                        "headers": {"Content-Type": "application/octet-stream"},
                        "body": "not base64!"}]}, "base64"),
        ({"requests": [{"id": "1", "method": "GET", "url": "/../_mockdrive/state"}]}, "url"),
        ({"requests": [{"id": "1", "method": "GET", "url": "/%2e%2e/_mockdrive/state"}]},
         "url"),
        ({"requests": [{"id": "1", "method": "POST", "url": "/$batch"}]}, "another batch"),
        ({"requests": [{"id": "1", "method": "GET", "url": "/me",
                        "headers": {"X-Evil": "a\r\nb"}}]}, "header"),
        ({"requests": [{"id": "1", "method": "GET", "url": "/me", "headers": ["x"]}]},
         "headers"),
    ],
)  # fmt: skip
def test_a_malformed_batch_is_a_400_and_runs_nothing(team, graph, body, why):
    body = dict(body)
    if body.get("requests") and isinstance(body["requests"], list):
        body["requests"] = [*body["requests"]]
    before = team.digest()
    journal_before = len(list(team.requests))
    error = assert_graph_error(graph.post("/$batch", json=body), 400, "invalidRequest")
    assert why in error["message"]
    assert team.digest() == before
    assert len(list(team.requests)) == journal_before + 1  # only the batch itself


def test_batch_needs_a_token_and_post(team, graph):
    assert_graph_error(as_user(graph, None).post("/$batch", json={"requests": []}), 401,
                       "unauthenticated")  # fmt: skip
    assert_graph_error(graph.get("/$batch"), 405, "notSupported")
    assert (
        graph.post(
            "/$batch", data=b"not json", headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )


def test_beta_batch_and_step_urls_with_the_version(team, mock_drive):
    url = mock_drive.url + "/beta/$batch"
    response = requests.post(url, headers=mock_drive.headers(), json={"requests": [
        {"id": "1", "method": "GET", "url": mock_drive.url + "/beta/me/drive/root:/Alpha"},
        {"id": "2", "method": "GET", "url": "/v1.0/me/drive/root:/Alpha"},  # as the JS SDK sends
    ]}, timeout=10)  # fmt: skip
    items = by_id(response)
    assert items["1"]["status"] == 200 and items["1"]["body"]["name"] == "Alpha"
    assert items["2"]["status"] == 200 and items["2"]["body"]["name"] == "Alpha"


def test_urls_a_step_hands_out_work_on_the_batch_host(team, graph):
    """A step is served on the host the batch came to: its download URL and Location reach this
    server (its Host was once dropped with the hop headers, and URLs lost the port)."""
    items = by_id(graph.post("/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": "/me/drive/root:/Alpha:/children",
         "headers": {"Host": "elsewhere.example:1"}},
        {"id": "2", "method": "POST", "url": "/me/drive/root/children",
         "headers": {"Content-Type": "application/json"},
         "body": {"name": "Reports", "folder": {}}},
    ]}))  # fmt: skip
    (plan,) = items["1"]["body"]["value"]
    download = as_user(graph, None).get(plan["@microsoft.graph.downloadUrl"])  # no token
    assert download.status_code == 200 and download.content == b"plan"
    created = graph.get(items["2"]["headers"]["Location"].split("/v1.0", 1)[1])
    assert items["2"]["headers"]["Location"].startswith(team.graph_url.split("/v1.0")[0] + "/")
    assert created.status_code == 200 and created.json()["name"] == "Reports"
