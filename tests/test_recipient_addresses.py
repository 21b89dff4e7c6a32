"""What counts as an e-mail address where a recipient is named by one (invite, a link's grant,
a scenario's link members): the whole string, never a prefix of it.

Python's ``$`` also matches before a final newline, so a pattern ending in it accepts
``"bob@contoso.example\\n"``: an invite then answered 200 and stored an external invitation for
an address nobody has (the directory's Bob is not found under it). Graph refuses an address
that is not one with 400; mockdrive's own rule is the same for every form that names people.
"""

from __future__ import annotations

import pytest
import requests
from conftest import assert_graph_error

from mockdrive.model import sharing
from mockdrive.model.sharing import EMAIL_PATTERN
from mockdrive.scenario import ScenarioError, load_scenario_text

# an address with something after its last character that is no part of an address
NOT_ADDRESSES = [
    "bob@contoso.example\n",
    "x@out.example\n",
    "x@out.example\r\n",
    "x@out.example\n\n",
    "\nx@out.example",
]


@pytest.mark.parametrize("address", NOT_ADDRESSES)
def test_the_pattern_matches_whole_addresses_only(address) -> None:
    assert EMAIL_PATTERN.match(address) is None
    assert EMAIL_PATTERN.match(address.strip()) is not None


@pytest.mark.parametrize("address", NOT_ADDRESSES)
def test_an_invite_to_an_address_with_a_trailing_newline_is_refused(
    mock_drive, graph, projects, address
) -> None:
    before = mock_drive.digest()
    body = {"recipients": [{"email": address}], "roles": ["read"], "sendInvitation": True}
    refused = graph.post("/me/drive/root:/Projects:/invite", json=body)
    assert_graph_error(refused, 400, "invalidRequest")
    assert mock_drive.digest() == before
    # the same address without the newline is served as usual
    body["recipients"] = [{"email": address.strip()}]
    assert graph.post("/me/drive/root:/Projects:/invite", json=body).status_code == 200


def test_a_link_grant_to_an_address_with_a_trailing_newline_is_refused(
    mock_drive, graph, projects
) -> None:
    link = graph.post(
        "/me/drive/root:/Projects/Plan.docx:/createLink", json={"type": "view", "scope": "users"}
    ).json()
    before = mock_drive.digest()
    body = {"recipients": [{"email": "x@out.example\n"}], "roles": ["read"]}
    refused = graph.post(f"/me/drive/root:/Projects/Plan.docx:/permissions/{link['id']}/grant",
                         json=body)  # fmt: skip
    assert_graph_error(refused, 400, "invalidRequest")
    assert mock_drive.digest() == before


def test_a_scenario_link_member_with_a_trailing_newline_is_refused() -> None:
    scenario = """
users:
  - {displayName: Ada, email: ada@contoso.example}
drives:
  - owner: ada@contoso.example
    root:
      children:
        - name: a.txt
          file: {}
          permissions:
            - link: {type: view, scope: users, members: ["x@out.example\\n"]}
"""
    with pytest.raises(ScenarioError, match="is no user, group or address"):
        load_scenario_text(scenario)


def test_the_addresses_remembered_across_states_are_bounded_in_size(mock_drive, graph, projects):
    """Addresses found valid are remembered for the process (a pure function of the string), so
    what is kept must stay small whatever the invites hold: a few long addresses may not pin
    megabytes after their states are gone."""
    long_addresses = [f"{letter * 200_000}@out.example" for letter in "xyz"]
    for address in long_addresses:
        body = {"recipients": [{"email": address}], "roles": ["read"]}
        assert graph.post("/me/drive/root:/Projects:/invite", json=body).status_code == 200
    assert not any(address in sharing._VALID_ADDRESSES for address in long_addresses)
    # at most so many addresses, none longer than an address may be (RFC 3696: 320 characters)
    assert len(sharing._VALID_ADDRESSES) <= sharing.ADDRESSES_KEPT
    assert max(map(len, sharing._VALID_ADDRESSES), default=0) <= 320
    # and a long address is still checked (and served) each time it comes back
    body = {"recipients": [{"email": long_addresses[0]}], "roles": ["write"]}
    assert graph.post("/me/drive/root:/Projects:/invite", json=body).status_code == 200
    body = {"recipients": [{"email": long_addresses[0] + "\n"}], "roles": ["write"]}
    assert_graph_error(graph.post("/me/drive/root:/Projects:/invite", json=body), 400,
                       "invalidRequest")  # fmt: skip


# an address with a control character inside it (not whitespace: ``\s`` already refused those)
CONTROL_ADDRESSES = ["x\x00@out.example", "x@out\x01.example", "x\x1b@out.example",
                     "x@out.exam\x7fple"]  # fmt: skip


@pytest.mark.parametrize("address", CONTROL_ADDRESSES)
def test_an_address_with_a_control_character_is_no_address(address) -> None:
    assert EMAIL_PATTERN.match(address) is None


@pytest.mark.parametrize("address", CONTROL_ADDRESSES)
def test_an_invite_to_an_address_with_a_control_character_is_refused_in_every_dialect(
    mock_drive, graph, projects, address
) -> None:
    """Graph's invite and the older API's ``action.invite`` answered 200 and stored an external
    invitation for it (and e-mailed it); Onehub invited it (201)."""
    before = mock_drive.digest()
    body = {"recipients": [{"email": address}], "roles": ["read"], "sendInvitation": True}
    assert_graph_error(graph.post("/me/drive/root:/Projects:/invite", json=body), 400,
                       "invalidRequest")  # fmt: skip
    legacy = graph.post("/me/drive/root:/Projects:/action.invite", json=body)
    assert legacy.status_code == 400 and legacy.json()["error"]["code"] == "invalidRequest"
    node = mock_drive.onehub_id("/Projects")
    onehub = requests.post(f"{mock_drive.url}/folders/{node}/invitations", timeout=10,
                           headers=mock_drive.headers(),
                           json={"invitation": {"emails": address}})  # fmt: skip
    assert onehub.status_code == 422, onehub.text
    share = onehub.json()["share"]
    assert share["invited_emails"] == [] and share["emails"] == address
    assert share["email_errors"] == [f"{address} is not a valid email address"]
    assert mock_drive.digest() == before
