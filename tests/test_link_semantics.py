"""What a sharing link grants, to whom, and what it tells those it does not admit.

A link grants its role to its audience only: a specific-people link to its people, an
organization link to the tenant's members, an anonymous link to anyone; a password link to
nobody through the API. Redeeming it never gives a caller more than the link grants them, and a
caller the link does not admit learns nothing (the answer of a link that does not exist). A
refused createLink, grant, invite or redeem changes nothing.
"""

from __future__ import annotations

import pytest
from conftest import as_user, assert_graph_error, assert_item

from mockdrive.model.clock import CLOCK_LAST_YEAR, LAST_YEAR

PROJECTS = "/me/drive/root:/Projects:"
NOWHERE = "s!no-such-link-token"


@pytest.fixture
def arranged(projects):
    """The shared projects, plus /Other.txt, Dave, and Gina, a guest of another domain."""
    projects.add_file("/Other.txt", "other")
    projects.add_user("Dave", "dave@contoso.example")
    projects.add_user("Gina (Guest)", "gina@partner.example")
    return projects


def redeem() -> dict[str, str]:
    """A fresh header dict each time (the test client adds Authorization to the one given)."""
    return {"Prefer": "redeemSharingLink"}


def make_link(graph, body, path=PROJECTS):
    response = graph.post(path + "/createLink", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def fingerprint(mock_drive) -> tuple:
    """The state (digest) plus what a digest leaves out: the id source and the link index."""

    def read() -> tuple:
        state = mock_drive.state
        return state.ids._serial, state.ids._rng.getstate(), len(state.links.by_token)

    return mock_drive.digest(), mock_drive.server.call(read)


def same_answer(hidden, missing) -> None:
    """Two answers a caller cannot tell apart: status, code, message and body shape."""
    assert hidden.status_code == missing.status_code, (hidden.text, missing.text)
    left, right = hidden.json(), missing.json()
    assert set(left) == set(right)
    assert left["error"]["code"] == right["error"]["code"]
    assert left["error"]["message"] == right["error"]["message"]
    assert set(left["error"]["innerError"]) == set(right["error"]["innerError"])


# -- who a link admits -------------------------------------------------------------------------
def test_a_reader_gains_no_write_through_an_edit_link_meant_for_someone_else(arranged, graph):
    arranged.grant("/Projects", "bob@contoso.example", ["read"])
    link = make_link(
        graph,
        {"type": "edit", "scope": "users", "recipients": [{"email": "carol@contoso.example"}]},
    )
    bob = as_user(graph, "bob-token")
    before = fingerprint(arranged)
    response = bob.get(f"/shares/{link['shareId']}/driveItem", headers=redeem())
    assert response.status_code == 200, response.text  # he reads it with his own access
    assert fingerprint(arranged) == before  # but is no member of Carol's link
    arranged.assert_cannot("bob@contoso.example", "write", "/Projects/Plan.docx")
    plan = arranged.item("/Projects/Plan.docx")
    upload = bob.put(f"/drives/{arranged.drive.id}/items/{plan.id}/content", data=b"x")
    assert_graph_error(upload, 403, "accessDenied")


def test_a_specific_people_link_answers_others_as_a_missing_link(arranged, graph):
    link = make_link(
        graph,
        {"type": "view", "scope": "users", "recipients": [{"email": "carol@contoso.example"}]},
    )
    for token in ("bob-token", "gina-token", None):
        reader = as_user(graph, token)
        for tail in ("", "/driveItem", "/root/children", "/permission"):
            hidden = reader.get(f"/shares/{link['shareId']}{tail}", headers=redeem())
            same_answer(hidden, reader.get(f"/shares/{NOWHERE}{tail}", headers=redeem()))
            assert "carol" not in hidden.text
    carol = as_user(graph, "carol-token").get(f"/shares/{link['shareId']}/driveItem")
    assert_item(carol, arranged, "/Projects")


def test_a_password_link_is_redeemed_by_nobody_without_the_password(arranged, graph):
    link = make_link(graph, {"type": "edit", "scope": "anonymous", "password": "s3cret"})
    arranged.grant("/Projects", "bob@contoso.example", ["read"])
    before = fingerprint(arranged)
    url = f"/shares/{link['shareId']}/driveItem"
    refused = as_user(graph, "carol-token").get(url, headers=redeem())
    same_answer(refused, as_user(graph, "carol-token").get(f"/shares/{NOWHERE}/driveItem"))
    own = as_user(graph, "bob-token").get(url, headers=redeem())
    assert_item(own, arranged, "/Projects")  # his own read, no more
    assert fingerprint(arranged) == before
    arranged.assert_cannot("carol@contoso.example", "read", "/Projects")
    arranged.assert_cannot("bob@contoso.example", "write", "/Projects")


def test_an_organization_link_admits_tenant_members_only(arranged, graph):
    link = make_link(graph, {"type": "edit", "scope": "organization"})
    url = f"/shares/{link['shareId']}/driveItem"
    before = fingerprint(arranged)
    gina = as_user(graph, "gina-token")
    same_answer(gina.get(url, headers=redeem()), gina.get(f"/shares/{NOWHERE}/driveItem"))
    assert fingerprint(arranged) == before
    arranged.assert_cannot("gina@partner.example", "read", "/Projects")
    assert_item(as_user(graph, "dave-token").get(url, headers=redeem()), arranged, "/Projects")
    arranged.assert_can("dave@contoso.example", "write", "/Projects/Plan.docx")


def test_granting_an_organization_link_to_outsiders_is_refused(arranged, graph):
    link = make_link(graph, {"type": "view", "scope": "organization"})
    before = fingerprint(arranged)
    for recipient in ({"email": "gina@partner.example"}, {"email": "someone@outside.example"}):
        response = graph.post(
            f"/shares/{link['shareId']}/permission/grant",
            json={"recipients": [{"email": "bob@contoso.example"}, recipient]},
        )
        assert_graph_error(response, 400, "invalidRequest")
    assert fingerprint(arranged) == before
    arranged.assert_cannot("bob@contoso.example", "read", "/Projects")


def test_redeem_if_necessary_is_for_this_request_only(arranged, graph):
    link = make_link(graph, {"type": "view", "scope": "organization"})
    before = fingerprint(arranged)
    bob = as_user(graph, "bob-token")
    headers = {"Prefer": "redeemSharingLinkIfNecessary"}
    assert_item(
        bob.get(f"/shares/{link['shareId']}/driveItem", headers=headers), arranged, "/Projects"
    )
    assert bob.get(f"/shares/{link['shareId']}/root/children").ok
    assert fingerprint(arranged) == before
    arranged.assert_cannot("bob@contoso.example", "read", "/Projects")


def test_an_expired_link_grants_nothing_not_even_to_those_who_redeemed_it(arranged, graph):
    link = make_link(
        graph, {"type": "view", "scope": "anonymous", "expirationDateTime": "2024-01-08T00:00:00Z"}
    )
    bob = as_user(graph, "bob-token")
    assert_item(
        bob.get(f"/shares/{link['shareId']}/driveItem", headers=redeem()), arranged, "/Projects"
    )
    arranged.assert_can("bob@contoso.example", "read", "/Projects")
    arranged.clock.advance(days=8)
    hidden = bob.get(f"/shares/{link['shareId']}/driveItem", headers=redeem())
    same_answer(hidden, bob.get(f"/shares/{NOWHERE}/driveItem", headers=redeem()))
    arranged.assert_cannot("bob@contoso.example", "read", "/Projects")


# -- what holders of a link see of each other --------------------------------------------------
def test_a_member_who_may_not_share_sees_only_themselves_among_a_links_holders(arranged, graph):
    link = make_link(
        graph,
        {"type": "view", "scope": "users",
         "recipients": [{"email": "bob@contoso.example"}, {"email": "carol@contoso.example"},
                        {"email": "friend@outside.example"}]},
    )  # fmt: skip
    bob = as_user(graph, "bob-token")
    seen = bob.get(f"/shares/{link['shareId']}/permission").json()
    assert [p["user"]["email"] for p in seen["grantedToIdentitiesV2"]] == ["bob@contoso.example"]
    assert "carol" not in str(seen) and "friend" not in str(seen)
    projects = f"/drives/{arranged.drive.id}/items/{arranged.item('/Projects').id}"
    listed = bob.get(f"{projects}/permissions").json()["value"]
    assert link["id"] in str(listed)
    assert "carol" not in str(listed) and "friend" not in str(listed)
    one = bob.get(f"{projects}/permissions/{link['id']}").json()
    assert "carol" not in str(one) and one["grantedToIdentities"][0]["user"]["email"] == (
        "bob@contoso.example"
    )
    for seen_link in (seen, one, next(p for p in listed if p["id"] == link["id"])):
        assert "shareId" not in seen_link and "webUrl" not in seen_link["link"]  # its secrets
    everyone = graph.get(f"/shares/{link['shareId']}/permission").json()  # the owner sees all
    assert everyone["shareId"] == link["shareId"]
    assert len(everyone["grantedToIdentitiesV2"]) == 3
    anonymous = make_link(graph, {"type": "view", "scope": "anonymous"})
    redeemed = bob.get(f"/shares/{anonymous['shareId']}/driveItem", headers=redeem())
    assert_item(redeemed, arranged, "/Projects")
    nobody = as_user(graph, None).get(f"/shares/{anonymous['shareId']}/permission").json()
    assert "grantedToIdentitiesV2" not in nobody and "bob" not in str(nobody)


# -- grant through /shares ---------------------------------------------------------------------
def test_grant_through_shares_tells_nothing_to_those_the_link_does_not_admit(arranged, graph):
    link = make_link(
        graph, {"type": "view", "scope": "users", "recipients": [{"email": "bob@contoso.example"}]}
    )
    body = {"recipients": [{"email": "dave@contoso.example"}], "roles": ["read"]}
    before = fingerprint(arranged)
    for token in (None, "carol-token"):
        caller = as_user(graph, token)
        hidden = caller.post(f"/shares/{link['shareId']}/permission/grant", json=body)
        same_answer(hidden, caller.post(f"/shares/{NOWHERE}/permission/grant", json=body))
    reader = as_user(graph, "bob-token").post(f"/shares/{link['shareId']}/permission/grant",
                                              json=body)  # fmt: skip
    assert_graph_error(reader, 403, "accessDenied")  # he may use it, not share it
    assert fingerprint(arranged) == before


# -- drives the caller cannot see --------------------------------------------------------------
def test_a_drive_the_caller_cannot_see_answers_as_one_that_does_not_exist(arranged, graph):
    bob = as_user(graph, "bob-token")
    drive_id = arranged.drive.id
    random_id = "b!" + "x" * (len(drive_id) - 2)
    plan = arranged.item("/Projects/Plan.docx").id
    for tail in ("", "/root", "/root/children", "/sharedWithMe", "/items/nothing",
                 "/root:/Projects:", "/root/delta", "/recent", "/special/documents",
                 "/root/search(q='plan')", f"/items/{plan}", f"/items/{plan}/permissions",
                 f"/items/{plan}/content", "/root:/Projects/Plan.docx:/thumbnails",
                 f"/items/{plan}/versions", "/following", "/bundles"):  # fmt: skip
        hidden = bob.get(f"/drives/{drive_id}{tail}")
        missing = bob.get(f"/drives/{random_id}{tail}")
        assert hidden.status_code == missing.status_code, (tail, hidden.text, missing.text)
        same_answer_but_id(hidden.json(), missing.json(), drive_id, random_id)


def test_a_users_drive_the_caller_cannot_see_answers_as_a_user_that_does_not_exist(arranged, graph):
    bob = as_user(graph, "bob-token")
    owner, nobody = arranged.owner.id, "00000000-0000-0000-0000-000000000000"
    for tail in ("/drive", "/drive/root", "/drive/root/children", "/drive/items/nothing",
                 "/drive/root:/Projects:"):  # fmt: skip
        hidden, missing = bob.get(f"/users/{owner}{tail}"), bob.get(f"/users/{nobody}{tail}")
        assert hidden.status_code == missing.status_code == 404, (tail, hidden.text)
        same_answer_but_id(hidden.json(), missing.json(), owner, nobody)


def same_answer_but_id(left: dict, right: dict, left_id: str, right_id: str) -> None:
    assert left["error"]["code"] == right["error"]["code"]
    assert left["error"]["message"].replace(left_id, "ID") == (
        right["error"]["message"].replace(right_id, "ID")
    )
    assert set(left["error"]["innerError"]) == set(right["error"]["innerError"])


# -- one validation for invite and createLink; a refusal changes nothing -----------------------
def test_invite_refuses_a_past_expiration_and_normalises_dates_as_create_link_does(arranged, graph):
    before = fingerprint(arranged)
    body = {"recipients": [{"email": "bob@contoso.example"}], "roles": ["read"]}
    past = graph.post(
        PROJECTS + "/invite", json={**body, "expirationDateTime": "2020-01-01T00:00:00Z"}
    )
    error = assert_graph_error(past, 400, "invalidRequest")
    assert error["innerError"]["code"] == "invalidExpiration"
    assert fingerprint(arranged) == before
    invited = graph.post(
        PROJECTS + "/invite", json={**body, "expirationDateTime": "2030-01-01T01:00:00+01:00"}
    )
    assert invited.status_code == 200, invited.text
    assert invited.json()["value"][0]["expirationDateTime"] == "2030-01-01T00:00:00Z"
    link = make_link(graph, {"type": "view", "scope": "anonymous",
                             "expirationDateTime": "2030-01-01T01:00:00+01:00"})  # fmt: skip
    assert link["expirationDateTime"] == "2030-01-01T00:00:00Z"


def test_create_link_caps_its_message_as_invite_does(arranged, graph):
    before = fingerprint(arranged)
    body = {"type": "view", "scope": "users", "recipients": [{"email": "bob@contoso.example"}],
            "sendNotification": True, "message": "x" * 2001}  # fmt: skip
    error = assert_graph_error(graph.post(PROJECTS + "/createLink", json=body), 400,
                               "invalidRequest")  # fmt: skip
    assert error["innerError"]["code"] == "parameterIsTooLong"
    no_recipients = {"type": "view", "scope": "anonymous", "message": "x" * 2001}
    assert_graph_error(graph.post(PROJECTS + "/createLink", json=no_recipients), 400,
                       "invalidRequest")  # fmt: skip
    assert fingerprint(arranged) == before
    assert make_link(graph, {**body, "message": "x" * 2000})["link"]["scope"] == "users"


def test_a_create_link_refused_near_the_end_of_the_clock_leaves_no_link(arranged, graph):
    """At the last moment callers may move the clock to, a link's default expiry still fits the
    range of times (the clock cannot be run out by ordinary requests); an expiry past that
    range is refused, and the refusal leaves no link behind."""
    arranged.set_policy(anonymousLinkMaxDays=30)

    def days_left() -> int:  # until the last day callers may move the clock to
        now = arranged.state.clock.moment()
        return (now.replace(year=CLOCK_LAST_YEAR, month=12, day=31) - now).days

    while (left := arranged.server.call(days_left)) > 0:
        arranged.clock.advance(days=min(left, 36_000))
    before = fingerprint(arranged)
    past_the_range = {"type": "view", "scope": "anonymous",
                      "expirationDateTime": f"{LAST_YEAR + 1}-01-01T00:00:00Z"}  # fmt: skip
    response = graph.post(PROJECTS + "/createLink", json=past_the_range)
    assert_graph_error(response, 400, "invalidRequest")
    assert fingerprint(arranged) == before
    assert all("link" not in p for p in graph.get(PROJECTS + "/permissions").json()["value"])
    created = graph.post(PROJECTS + "/createLink", json={"type": "view", "scope": "anonymous"})
    assert created.status_code == 201, created.text
    assert created.json()["expirationDateTime"].startswith(f"{CLOCK_LAST_YEAR + 1}-01-30")


def test_a_grant_on_a_link_with_many_members_answers_with_this_grants_people(arranged, graph):
    """The answer lists the people of this grant, not the link's 40,000 members (its cost is
    guarded by counting in tests/test_growth.py and measured in benchmarks/growth.py)."""
    link = make_link(graph, {"type": "view", "scope": "users",
                             "recipients": [{"email": "bob@contoso.example"}]})  # fmt: skip

    projects = arranged.item("/Projects")

    def the_link():
        item = arranged.state.store.items[projects.id]
        return next(p for p in item.permissions if p.id == link["id"]).link

    def add_members(count: int) -> None:
        def apply() -> None:
            members = the_link()
            for index in range(count):
                members.add_member_email(f"member{index}@outside.example")

        arranged.server.call(apply)

    def grant(start: int) -> None:
        recipients = [{"email": f"new{start + i}@outside.example"} for i in range(500)]
        response = graph.post(f"/shares/{link['shareId']}/permission/grant",
                              json={"recipients": recipients})  # fmt: skip
        assert response.status_code == 200, response.text[:300]
        people = response.json()["value"][0]["grantedToIdentitiesV2"]  # this grant's people only
        assert [p["user"]["email"] for p in people] == [r["email"] for r in recipients]

    add_members(40_000)
    for start in (0, 500, 1000):
        grant(start)
    assert arranged.server.call(lambda: len(the_link().member_emails)) == 40_000 + 1500


def test_a_links_member_keeps_access_on_an_item_with_many_permissions(arranged, graph):
    """Past the size where the permission index takes over, links are still found."""
    recipients = [{"email": f"person{i}@outside.example"} for i in range(20)]
    invited = graph.post(PROJECTS + "/invite", json={"recipients": recipients, "roles": ["read"]})
    assert invited.status_code == 200, invited.text
    make_link(
        graph, {"type": "edit", "scope": "users", "recipients": [{"email": "bob@contoso.example"}]}
    )
    projects = f"/drives/{arranged.drive.id}/items/{arranged.item('/Projects').id}"
    bob = as_user(graph, "bob-token")
    assert bob.get(projects).status_code == 200
    assert bob.get(f"/drives/{arranged.drive.id}").status_code == 200
    arranged.assert_can("bob@contoso.example", "write", "/Projects/Plan.docx")


def test_anonymous_links_turned_off_admit_nobody_new(arranged, graph):
    link = make_link(graph, {"type": "view", "scope": "anonymous"})
    arranged.set_policy(anonymousLinks=False)
    url = f"/shares/{link['shareId']}/driveItem"
    before = fingerprint(arranged)
    for token in (None, "bob-token"):
        reader = as_user(graph, token)
        same_answer(reader.get(url, headers=redeem()), reader.get(f"/shares/{NOWHERE}/driveItem"))
    assert fingerprint(arranged) == before
    assert graph.get(url).status_code == 200  # the owner holds the item anyway
