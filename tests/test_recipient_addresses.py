"""What counts as an e-mail address where a recipient is named by one (invite, a link's grant,
a scenario's link members): the whole string, never a prefix of it.

Python's ``$`` also matches before a final newline, so a pattern ending in it accepts
``"bob@contoso.example\\n"``: an invite then answered 200 and stored an external invitation for
an address nobody has (the directory's Bob is not found under it). Graph refuses an address
that is not one with 400; mockdrive's own rule is the same for every form that names people.
"""

from __future__ import annotations

import pytest
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
