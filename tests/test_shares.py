"""/shares/{id}: reading through a link with any token, none, or only the right people;
redemption with Prefer; grant through /shares; share ids that name nothing."""

from __future__ import annotations

import base64

import pytest
import requests
from conftest import as_user, assert_graph_error, assert_item


@pytest.fixture
def arranged(projects):
    """The shared projects, plus /Projects/Drafts/v1.txt and /Other.txt."""
    projects.add_file("/Projects/Drafts/v1.txt", "one")
    projects.add_file("/Other.txt", "other")
    return projects


def make_link(graph, body, path="/me/drive/root:/Projects:"):
    response = graph.post(path + "/createLink", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def encode(url: str, padded: bool = False) -> str:
    encoded = base64.urlsafe_b64encode(url.encode()).decode()
    return "u!" + (encoded if padded else encoded.rstrip("="))


def check_anonymous_link_reads(reader, link, projects, owner) -> None:
    """What a link that works for anyone lets ``reader`` read, through every share id form."""
    for share in (link["shareId"], encode(link["link"]["webUrl"]),
                  encode(link["link"]["webUrl"], padded=True)):  # fmt: skip
        item = reader.get(f"/shares/{share}/driveItem")
        assert item.status_code == 200, item.text
        assert item.json()["id"] == projects.id and item.json()["name"] == "Projects"
    root = reader.get(f"/shares/{link['shareId']}/root/children").json()["value"]
    assert sorted(c["name"] for c in root) == ["Drafts", "Plan.docx"]
    shared = reader.get(f"/shares/{link['shareId']}").json()
    assert shared["name"] == "Projects" and shared["owner"]["user"]["id"] == owner.id
    assert reader.get(f"/shares/{link['shareId']}/permission").json()["id"] == link["id"]


def test_an_anonymous_link_on_a_business_drive_works_with_any_token_not_with_none(arranged, graph):
    link = make_link(graph, {"type": "view", "scope": "anonymous"})
    projects = arranged.item("/Projects")
    check_anonymous_link_reads(as_user(graph, "bob-token"), link, projects, arranged.owner)
    # the Shares API always needs a signed-in caller on OneDrive for Business and SharePoint
    anyone = as_user(graph, None)
    for tail in ("", "/driveItem", "/root/children", "/permission", "/driveItem/content"):
        assert_graph_error(anyone.get(f"/shares/{link['shareId']}{tail}"), 401, "unauthenticated")
    bob = as_user(graph, "bob-token")
    drafts = arranged.item("/Projects/Drafts")
    inside = bob.get(f"/shares/{link['shareId']}/items/{drafts.id}/children").json()
    assert [c["name"] for c in inside["value"]] == ["v1.txt"]


def test_an_anonymous_link_on_a_personal_drive_works_without_a_token(mock_drive, graph):
    dora = mock_drive.add_user("Dora", "dora@contoso.example")
    mock_drive.add_user("Bob", "bob@contoso.example")
    drive = mock_drive.add_drive(dora, drive_type="personal", name="OneDrive")
    mock_drive.add_file("/Projects/Plan.docx", "plan", drive=drive)
    mock_drive.add_file("/Projects/Drafts/v1.txt", "one", drive=drive)
    mock_drive.add_file("/Other.txt", "other", drive=drive)
    owner = as_user(graph, "dora-token")
    link = make_link(
        owner, {"type": "view", "scope": "anonymous"}, f"/drives/{drive.id}/root:/Projects:"
    )
    projects = mock_drive.item("/Projects", drive=drive)
    anyone = as_user(graph, None)
    for reader in (as_user(graph, "bob-token"), anyone):
        check_anonymous_link_reads(reader, link, projects, dora)
    drafts = mock_drive.item("/Projects/Drafts", drive=drive)
    inside = anyone.get(f"/shares/{link['shareId']}/items/{drafts.id}/children").json()
    assert [c["name"] for c in inside["value"]] == ["v1.txt"]
    v1 = mock_drive.item("/Projects/Drafts/v1.txt", drive=drive)
    assert anyone.get(f"/shares/{link['shareId']}/items/{v1.id}/content").text == "one"
    outside = mock_drive.item("/Other.txt", drive=drive)
    response = anyone.get(f"/shares/{link['shareId']}/items/{outside.id}")
    assert_graph_error(response, 404, "itemNotFound")
    # an anonymous caller reaches /shares only
    assert_graph_error(anyone.get("/me/drive"), 401, "unauthenticated")
    # a link that does not work for anyone, or none at all: sign in (nothing shows)
    people = {"type": "view", "scope": "users", "recipients": [{"email": "bob@contoso.example"}]}
    users_link = make_link(owner, people, f"/drives/{drive.id}/root:/Projects:")
    for share in (users_link["shareId"], "s!unknown"):
        assert_graph_error(anyone.get(f"/shares/{share}/driveItem"), 401, "unauthenticated")


def test_an_organization_link_needs_a_signed_in_user(arranged, graph):
    link = make_link(graph, {"type": "edit", "scope": "organization"})
    url = f"/shares/{link['shareId']}/driveItem"
    # without a token a business drive's link answers 401, as a missing one does: nothing shows
    assert_graph_error(as_user(graph, None).get(url), 401, "unauthenticated")
    assert_item(as_user(graph, "bob-token").get(url), arranged, "/Projects")
    assert_graph_error(as_user(graph, "nobody").get(url), 401, "unauthenticated")


def test_a_users_link_works_only_for_its_people_and_grant_adds_them(arranged, graph):
    link = make_link(
        graph, {"type": "view", "scope": "users", "recipients": [{"email": "bob@contoso.example"}]}
    )
    url = f"/shares/{link['shareId']}/driveItem"
    assert_item(as_user(graph, "bob-token").get(url), arranged, "/Projects")
    # anyone else learns nothing: the answer of a link that does not exist
    assert_graph_error(as_user(graph, "carol-token").get(url), 404, "itemNotFound")
    assert_graph_error(as_user(graph, None).get(url), 401, "unauthenticated")
    response = graph.post(
        f"/shares/{link['shareId']}/permission/grant",
        json={"recipients": [{"email": "carol@contoso.example"}], "roles": ["read"]},
    )
    assert response.status_code == 200, response.text
    assert response.json()["value"][0]["link"]["scope"] == "users"
    assert_item(as_user(graph, "carol-token").get(url), arranged, "/Projects")
    anonymous_grant = as_user(graph, None).post(
        f"/shares/{link['shareId']}/permission/grant",
        json={"recipients": [{"email": "carol@contoso.example"}]},
    )
    assert_graph_error(anonymous_grant, 401, "unauthenticated")
    bob_grant = as_user(graph, "bob-token").post(
        f"/shares/{link['shareId']}/permission/grant",
        json={"recipients": [{"email": "carol@contoso.example"}]},
    )
    assert_graph_error(bob_grant, 403, "accessDenied")  # a reader cannot share


def test_prefer_redeem_sharing_link_gives_durable_access(arranged, graph):
    link = make_link(graph, {"type": "view", "scope": "organization"})
    bob = as_user(graph, "bob-token")
    item = f"/drives/{arranged.drive.id}/items/{arranged.item('/Projects').id}"
    assert_graph_error(bob.get(item), 404, "itemNotFound")
    share = f"/shares/{link['shareId']}/driveItem"
    redeemed = bob.get(share, headers={"Prefer": "redeemSharingLinkIfNecessary"})
    assert_item(redeemed, arranged, "/Projects")
    assert_graph_error(bob.get(item), 404, "itemNotFound")  # for that request only
    assert_item(bob.get(share, headers={"Prefer": "redeemSharingLink"}), arranged, "/Projects")
    assert_item(bob.get(item), arranged, "/Projects")
    arranged.assert_can("bob@contoso.example", "read", "/Projects/Plan.docx")
    arranged.assert_cannot("bob@contoso.example", "write", "/Projects")
    member = bob.get(f"/shares/{link['shareId']}/permission").json()
    assert member["grantedToIdentitiesV2"][0]["user"]["email"] == "bob@contoso.example"


def test_a_password_link_is_refused_to_people_without_other_access(arranged, graph):
    link = make_link(graph, {"type": "view", "scope": "anonymous", "password": "s3cret"})
    assert link["hasPassword"] is True
    url = f"/shares/{link['shareId']}/driveItem"
    refused = assert_graph_error(as_user(graph, "bob-token").get(url), 404, "itemNotFound")
    nowhere = "/shares/s!no-such-link-token/driveItem"
    missing = assert_graph_error(as_user(graph, "bob-token").get(nowhere), 404, "itemNotFound")
    assert refused["message"] == missing["message"]  # holding the URL reveals nothing
    assert_item(graph.get(url), arranged, "/Projects")  # the owner holds the item anyway


def test_an_expired_link_is_refused(arranged, graph):
    link = make_link(
        graph, {"type": "view", "scope": "anonymous", "expirationDateTime": "2024-01-08T00:00:00Z"}
    )
    url = f"/shares/{link['shareId']}/driveItem"
    assert_item(as_user(graph, "bob-token").get(url), arranged, "/Projects")
    arranged.clock.advance(days=8)
    assert_graph_error(as_user(graph, "bob-token").get(url), 404, "itemNotFound")


def test_a_deleted_link_or_item_is_not_found(arranged, graph):
    link = make_link(graph, {"type": "view", "scope": "anonymous"})
    url = f"/shares/{link['shareId']}/driveItem"
    assert graph.delete(f"/me/drive/root:/Projects:/permissions/{link['id']}").status_code == 204
    assert_graph_error(graph.get(url), 404, "itemNotFound")
    link = make_link(graph, {"type": "view", "scope": "anonymous"})
    assert graph.delete("/me/drive/root:/Projects").status_code == 204
    assert_graph_error(graph.get(f"/shares/{link['shareId']}/driveItem"), 404, "itemNotFound")


@pytest.mark.parametrize(
    ("share", "status", "code"),
    [
        ("garbage", 400, "invalidRequest"),
        ("u!@@@@", 400, "invalidRequest"),
        ("u!" + base64.urlsafe_b64encode(b"\xff\xfe").decode(), 400, "invalidRequest"),
        (encode("https://elsewhere.example/s/abc"), 404, "itemNotFound"),
        (encode("https://mockdrive.example/s/unknown"), 404, "itemNotFound"),
        ("s!unknown", 404, "itemNotFound"),
    ],
)
def test_share_ids_that_name_nothing_change_nothing(arranged, graph, share, status, code):
    make_link(graph, {"type": "view", "scope": "anonymous"})
    before = arranged.digest()
    for reader, missing in (
        (graph, (status, code)),
        (as_user(graph, None), (401, "unauthenticated")),
    ):
        # without a token an id that names nothing answers as a business drive's link does
        expected = missing if status == 404 else (status, code)
        assert_graph_error(reader.get(f"/shares/{share}/driveItem"), *expected)
        response = reader.post(
            f"/shares/{share}/permission/grant",
            json={"recipients": [{"email": "bob@contoso.example"}]},
        )
        assert_graph_error(response, *missing)  # granting needs a caller, then a link
    assert arranged.digest() == before


def test_only_get_reads_a_share(arranged, graph):
    link = make_link(graph, {"type": "view", "scope": "anonymous"})
    response = graph.delete(f"/shares/{link['shareId']}/driveItem")
    assert_graph_error(response, 405, "notSupported")
    assert_graph_error(graph.get(f"/shares/{link['shareId']}/nonsense"), 400, "invalidRequest")


def test_readme_example_anonymous_link_expires(mock_drive):
    mock_drive.add_folder("/Finance")
    url = mock_drive.graph_url + "/me/drive/root:/Finance:/createLink"
    body = {"type": "view", "scope": "anonymous", "expirationDateTime": "2024-01-08T00:00:00Z"}
    link = requests.post(url, json=body, headers=mock_drive.headers(), timeout=10).json()
    share = f"{mock_drive.graph_url}/shares/{link['shareId']}/driveItem"
    mock_drive.add_user("Gus", "gus@outside.example")  # anyone signed in
    assert requests.get(share, headers=mock_drive.headers("gus-token"), timeout=10).ok
    assert requests.get(share, timeout=10).status_code == 401  # a business drive: sign in
    mock_drive.clock.advance(days=8)
    assert (
        requests.get(share, headers=mock_drive.headers("gus-token"), timeout=10).status_code == 404
    )
