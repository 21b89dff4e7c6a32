"""Bounded cost, counted rather than timed: a request's work grows with what it touches
(recipients, the members it lists), never with their product. The timings are in
``benchmarks/growth.py``; this counts the same operation's scans of a link's members at two
sizes, so that it cannot depend on the machine's load."""

from __future__ import annotations

import pytest
from conftest import Graph

from mockdrive.scenario.links import link_from_data

RECIPIENTS = 50


def counting(members: list) -> list:
    """The same members in a list of the same type that counts every element it yields or
    compares (``counting.scanned``)."""

    class Counting(type(members)):
        def __iter__(self):
            for member in super().__iter__():
                counting.scanned += 1
                yield member

        def __contains__(self, value) -> bool:
            return any(member == value for member in self)

    return Counting(members)


counting.scanned = 0


def link_with_members(mock_drive, count: int) -> tuple[str, str]:
    """A ``users`` link on /Linked.docx with ``count`` outside members, each list counting:
    (item id, permission id)."""

    def arrange() -> tuple[str, str]:
        state = mock_drive.state
        item = state.make_path(mock_drive.drive, "/Linked.docx", is_folder=False)
        members = [f"member{i}@fabrikam.example" for i in range(count)]
        permission = link_from_data(
            state, item, {"link": {"type": "view", "scope": "users", "members": members}}
        )
        link = permission.link
        link.member_emails = counting(link.member_emails)
        link.member_ids = counting(link.member_ids)
        return item.id, permission.id

    return mock_drive.server.call(arrange)


@pytest.mark.parametrize("members", [1_000, 2_000])
def test_granting_a_link_scans_its_members_a_bounded_number_of_times(mock_drive, members):
    item_id, permission_id = link_with_members(mock_drive, members)
    recipients = [{"email": f"new{i}@fabrikam.example"} for i in range(RECIPIENTS)]
    counting.scanned = 0
    response = Graph(mock_drive).post(
        f"/me/drive/items/{item_id}/permissions/{permission_id}/grant",
        json={"recipients": recipients, "roles": ["read"]},
    )
    assert response.status_code == 200, response.text[:300]
    # a few passes over the members (access checks, an answer that lists them) are linear;
    # one pass per recipient is the quadratic cost: RECIPIENTS x members
    assert counting.scanned <= 4 * (members + RECIPIENTS), counting.scanned
