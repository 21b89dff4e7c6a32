"""Invite answers with each permission's JSON encoded once and kept while every input of its
rendering is equal (``render.encode_permission``). After any change of the permission, of the
people it names (grantee, inviter: renamed, re-addressed, gone, a group), of the drive it is
on, or of the state it is rendered in, the kept JSON must be byte for byte what rendering it
now and encoding that gives; and the invite's answer must be what rendering its outcomes gives.
"""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockdrive.api import jsonio
from mockdrive.api.graph.render import (
    OWNER_VIEW,
    encode_permission,
    render_notification_error,
    render_permission,
)
from mockdrive.model.grants import Permission
from mockdrive.model.identity import Group
from mockdrive.model.permissions import EffectivePermission
from mockdrive.model.state import State


def plain(state: State, permission: Permission) -> bytes | None:
    """The permission rendered now and encoded, as an invite's answer did it."""
    return jsonio.encode(render_permission(state, OWNER_VIEW, EffectivePermission(permission)))


def arranged() -> tuple[State, list[Permission]]:
    """Users, groups (one without an address), a business and a personal drive, and a few
    permissions on an item of each."""
    state = State(seed=3)
    users = [state.add_user(f"User {n}", f"user{n}@contoso.example") for n in range(4)]
    state.directory.add_group(Group("group-a", "Group A", [users[1].id], "a@contoso.example"))
    state.directory.add_group(Group("group-b", "Group B", [users[2].id]))
    business = state.add_drive(users[0])
    personal = state.add_drive(users[3], drive_type="personal", name="Personal")
    items = [
        state.make_path(business, "/Shared/Plan.docx", is_folder=False, content=b"p"),
        state.make_path(personal, "/Mine/Notes.txt", is_folder=False, content=b"n"),
    ]
    inviter = users[0].id
    permissions = [  # as invites leave them: a user, a group, an outside address, a personal drive
        Permission("PERM0", items[0].id, ["read"], users[1].id, users[1].email, invited_by=inviter),
        Permission("PERM1", items[0].id, ["write"], "group-a", "a@contoso.example", True, inviter),
        Permission("PERM2", items[0].id, ["read"], None, "x@fabrikam.example", invited_by=inviter),
        Permission("PERM3", items[1].id, ["read"], users[2].id, users[2].email, invited_by=inviter),
    ]
    return state, permissions


PEOPLE = ["user", "group-a", "group-b", "nobody", None]  # "user": one of the users, by index
STEP = st.one_of(
    st.tuples(
        st.just("roles"),
        st.integers(0, 3),
        st.sampled_from([["read"], ["write"], ["owner"], ["read", "write"]]),
    ),
    st.tuples(st.just("grantee"), st.integers(0, 3), st.sampled_from(PEOPLE), st.integers(0, 3)),
    st.tuples(st.just("inviter"), st.integers(0, 3), st.sampled_from(PEOPLE), st.integers(0, 3)),
    st.tuples(
        st.just("address"),
        st.integers(0, 3),
        st.sampled_from([None, "x@fabrikam.example", "User1@Contoso.example"]),
    ),
    st.tuples(
        st.just("flag"),
        st.integers(0, 3),
        st.sampled_from(["pending", "sign_in_required", "has_password"]),
    ),
    st.tuples(
        st.just("expiration"),
        st.integers(0, 3),
        st.sampled_from([None, "2030-01-01T00:00:00Z", "2031-06-01T00:00:00Z"]),
    ),
    st.tuples(st.just("item"), st.integers(0, 3), st.integers(0, 1)),
    st.tuples(st.just("rename"), st.integers(0, 3), st.sampled_from(["User X", "Ünï", ""])),
    st.tuples(
        st.just("readdress"),
        st.integers(0, 3),
        st.sampled_from(["new@contoso.example", "user0@contoso.example"]),
    ),
    st.tuples(
        st.just("group"),
        st.sampled_from(["group-a", "group-b"]),
        st.sampled_from(["Renamed", None]),
        st.sampled_from([None, "g@contoso.example"]),
    ),
    st.tuples(
        st.just("drive type"),
        st.integers(0, 1),
        st.sampled_from(["business", "personal", "documentLibrary"]),
    ),
    st.tuples(st.just("user gone"), st.integers(1, 3)),
    st.tuples(
        st.just("copy"),
    ),
)


def apply(state: State, permissions: list[Permission], step: tuple) -> State:
    """``step`` done to the state or a permission; the state to render in afterwards."""
    users = sorted(state.directory.users.values(), key=lambda u: u.email)
    kind = step[0]
    if kind == "copy":  # a state's copy renders in its own right (a cache per state)
        copied = copy.deepcopy(state)
        permissions[:] = [copy.deepcopy(p) for p in permissions]
        return copied
    if kind in ("rename", "readdress"):
        if users:
            user = users[step[1] % len(users)]
            if kind == "rename":
                user.display_name = step[2]
            else:
                user.email = step[2]
        return state
    if kind == "group":
        group = state.directory.groups[step[1]]
        if step[2] is not None:
            group.display_name = step[2]
        group.email = step[3]
        return state
    if kind == "drive type":
        drives = sorted(state.store.drives.values(), key=lambda d: d.id)
        drives[step[1] % len(drives)].drive_type = step[2]
        return state
    if kind == "user gone":
        if len(users) > step[1]:
            del state.directory.users[users[step[1]].id]
        return state
    permission = permissions[step[1]]
    if kind == "roles":
        permission.roles = list(step[2])
    elif kind in ("grantee", "inviter"):
        who = step[2]
        if who == "user":
            who = users[step[3] % len(users)].id if users else None
        if kind == "grantee":
            permission.grantee_id = who
        else:
            permission.invited_by = who
    elif kind == "address":
        permission.invitation_email = step[2]
    elif kind == "flag":
        setattr(permission, step[2], not getattr(permission, step[2]))
    elif kind == "expiration":
        permission.expiration = step[2]
    elif kind == "item":
        items = sorted(
            (i for i in state.store.items.values() if not i.is_folder), key=lambda i: i.id
        )
        permission.item_id = items[step[2] % len(items)].id
    return state


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, max_size=25))
def test_a_kept_permission_encoding_is_the_rendering_of_now(steps: list[tuple]) -> None:
    assert jsonio._orjson is not None, "orjson is a dependency"
    state, permissions = arranged()
    for step in [("roles", 0, ["read"]), *steps]:
        state = apply(state, permissions, step)
        for permission in permissions:
            try:
                expected: object = plain(state, permission)
            except Exception as error:  # (what rendering raises, raised alike)
                expected = type(error)
            try:
                got: object = encode_permission(state, OWNER_VIEW, permission)
            except Exception as error:
                got = type(error)
            assert got == expected, (step, permission)


def test_a_link_or_a_permission_on_no_item_is_left_to_the_rendering() -> None:
    state, permissions = arranged()
    permission = permissions[0]
    permission.link = object()  # type: ignore[assignment]  # (never read: refused first)
    assert encode_permission(state, OWNER_VIEW, permission) is None
    permission.link = None
    permission.item_id = "no-such-item"
    assert encode_permission(state, OWNER_VIEW, permission) is None


INVITE = "/me/drive/root:/Projects:/invite"


def answer_as_rendered(projects, response) -> bytes | None:
    """The answer ``response`` names, rendered now and encoded as before the kept encodings."""
    state = projects.state
    item = state.store.resolve(
        state.store.root(state.store.drives[next(iter(state.store.drives))]), "/Projects"
    )
    by_id = {p.id: p for p in item.permissions}
    value = []
    for entry in response.json()["value"]:
        rendered = render_permission(state, OWNER_VIEW, EffectivePermission(by_id[entry["id"]]))
        if "error" in entry:
            rendered["error"] = render_notification_error(entry["error"]["innererror"]["code"])
        value.append(rendered)
    return jsonio.encode({"value": value})


def test_an_invites_answer_is_its_outcomes_rendered(projects, graph) -> None:
    """Over HTTP: each answer (200; the 207 of a failed notification) is byte for byte the
    rendering of the permissions it names as they are after it, as re-invites raise roles and
    the people they name are renamed between them."""
    bodies = [
        {"recipients": [{"email": "someone@fabrikam.example"}], "roles": ["read"]},
        {
            "recipients": [{"email": "someone@fabrikam.example"}, {"alias": "carolj"}],
            "roles": ["write"],
            "requireSignIn": True,
            "sendInvitation": True,
        },
        {
            "recipients": [{"email": "other@fabrikam.example"}, {"email": "bob@contoso.example"}],
            "roles": ["read"],
            "sendInvitation": False,
            "password": "x",
        },
    ]
    carol = projects.state.user("carol@contoso.example")
    for round_ in range(3):
        carol.display_name = f"Carol {round_}"
        for body in bodies:
            response = graph.post(INVITE, json=body)
            assert response.status_code == 200, response.text
            assert response.content == answer_as_rendered(projects, response)
    projects.faults.add(effect="notificationFailure", recipient="bob@contoso.example")
    response = graph.post(INVITE, json={**bodies[2], "sendInvitation": True})
    assert response.status_code == 207
    assert response.content == answer_as_rendered(projects, response)
