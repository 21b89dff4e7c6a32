"""Groups found by address and by alias (invite's recipients, Onehub, the fixture) after the
directory's groups changed: a group re-addressed, removed, or another put in its place."""

from __future__ import annotations

from mockdrive.model.identity import Directory, Group, User


def directory_with_a_group() -> tuple[Directory, Group]:
    directory = Directory()
    directory.add(User("u-1", "Bob", "bob@contoso.example"))
    group = directory.add_group(Group("g-1", "Crew", ["u-1"], "crew@contoso.example"))
    return directory, group


def test_a_re_addressed_group_is_found_at_its_new_address_only():
    directory, group = directory_with_a_group()
    assert directory.group_by_email("CREW@contoso.example") is group  # looked up once
    group.email = "team@contoso.example"
    assert directory.group_by_email("team@contoso.example") is group
    assert directory.group_by_alias("Team") is group
    assert directory.group_by_email("crew@contoso.example") is None
    assert directory.group_by_alias("crew") is None


def test_a_group_put_in_a_removed_ones_place_is_the_one_found():
    directory, group = directory_with_a_group()
    assert directory.group_by_alias("crew") is group
    del directory.groups[group.id]
    directory.users["u-1"].group_ids.discard(group.id)
    other = directory.add_group(Group("g-2", "Other", ["u-1"], "other@contoso.example"))
    assert directory.group_by_email("other@contoso.example") is other
    assert directory.group_by_alias("other") is other
    assert directory.group_by_email("crew@contoso.example") is None


def test_an_address_given_to_a_group_that_had_none_is_found():
    directory = Directory()
    group = directory.add_group(Group("g-1", "Unaddressed", []))
    assert directory.group_by_email("late@contoso.example") is None
    group.email = "late@contoso.example"
    assert directory.group_by_email("late@contoso.example") is group


def test_an_invite_to_a_re_addressed_group_grants_the_group(mock_drive, graph, projects):
    bob = projects.user("bob@contoso.example")
    group = mock_drive.add_group("Finance Team", [bob], email="finance@contoso.example")
    body = {"recipients": [{"email": "finance@contoso.example"}], "roles": ["read"]}
    first = graph.post("/me/drive/root:/Projects:/invite", json=body)
    assert first.json()["value"][0]["grantedToV2"]["group"]["id"] == group.id
    mock_drive.server.call(lambda: setattr(group, "email", "money@contoso.example"))
    body = {"recipients": [{"email": "money@contoso.example"}], "roles": ["write"]}
    again = graph.post("/me/drive/root:/Projects:/invite", json=body)
    assert again.status_code == 200, again.text
    granted = again.json()["value"][0]
    assert granted.get("grantedToV2", {}).get("group", {}).get("id") == group.id, granted
    assert granted["id"] == first.json()["value"][0]["id"]  # the group's one grant, raised
