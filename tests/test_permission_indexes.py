"""Every fast path over permissions gives the answer of the plain computation.

The index of an item's permissions by grantee and address (``PermissionList``, used from
``INDEX_FROM`` permissions on), link membership sets, the link index by token, group membership
and ``can_see_drive`` are each compared with a linear computation written out here, for every
kind of permission (user, group, invitation, pending, owner, links of every scope with users,
groups and addresses as members) at counts on both sides of every threshold, before and after
the list changes in each way it can (``PermissionList`` offers no other way to change it).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockdrive.model.errors import NotFound
from mockdrive.model.grants import INDEX_FROM, PermissionList
from mockdrive.model.identity import Group, User
from mockdrive.model.links import SharingLink, add_link_permission
from mockdrive.model.permissions import (
    ROLE_RANK,
    Permission,
    can_see_drive,
    effective_permissions,
    find_effective,
    owns_drive,
    roles_down,
    roles_of,
)
from mockdrive.model.policy import LINK_SCOPES
from mockdrive.model.state import State

USERS = 6
GROUPS = 3
OUTSIDERS = ("out1@outside.example", "Out2@Outside.example")
COUNTS = st.sampled_from([0, 1, INDEX_FROM - 1, INDEX_FROM, INDEX_FROM + 1, 3 * INDEX_FROM])
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- the plain computations ----------------------------------------------------------------------
def plain_groups(state: State, user: User) -> set[str]:
    """The groups whose stored member list names ``user`` (not ``user.group_ids``)."""
    return {g.id for g in state.directory.groups.values() if user.id in g.member_ids}


def plain_holds(
    state: State, permission: Permission, user: User, groups: set[str] | None = None
) -> bool:
    """Does ``permission`` apply to ``user``? From the stored lists only, no sets or indexes.
    ``groups``: ``plain_groups(state, user)``, if a caller asking of many permissions found
    them once."""
    if permission.pending:
        return False
    if groups is None:
        groups = plain_groups(state, user)
    email = user.email.casefold()
    link = permission.link
    if link is not None:
        return any(m == user.id or m in groups for m in link.member_ids) or any(
            e.casefold() == email for e in link.member_emails
        )
    if permission.grantee_id is not None:
        return permission.grantee_id == user.id or permission.grantee_id in groups
    return (
        permission.invitation_email is not None and permission.invitation_email.casefold() == email
    )


def plain_roles(state: State, user: User, item) -> set[str]:
    roles = {"owner"} if owns_drive(state.store, user, item) else set()
    groups = plain_groups(state, user)
    for entry in effective_permissions(state.store, item):
        if plain_holds(state, entry.permission, user, groups):
            roles.update(entry.permission.roles)
    return roles


def plain_direct_for(permissions: list, grantee_id: str | None, address: str):
    for permission in permissions:
        if permission.is_owner:
            continue
        if grantee_id is not None and permission.grantee_id == grantee_id:
            return permission
        if (
            permission.grantee_id is None
            and permission.invitation_email
            and permission.invitation_email.casefold() == address.casefold()
        ):
            return permission
    return None


# -- arranging a state ---------------------------------------------------------------------------
# Strategies are built once (per module, or per example for those over its users and groups):
# hypothesis validates each new strategy object on its first draw, which cost more than the
# draws themselves when every permission built its own. The same strategies, the same draws.
BOOLEANS = st.booleans()
DEPTHS = st.integers(1, 3)
KINDS = st.sampled_from(["user", "group", "invitation", "pending", "owner", "link"])
ROLES = st.sampled_from(["read", "write"])
LINK_TYPES = st.sampled_from(["view", "edit"])
SCOPES = st.sampled_from(LINK_SCOPES)
MEMBER_ADDRESSES = st.lists(st.sampled_from([*OUTSIDERS, "USER3@contoso.example"]))


class Drawn:
    """The strategies over one example's users and groups, each built on first use."""

    def __init__(self, users: list[User], groups: list[Group]) -> None:
        self.users, self.groups = users, groups
        self._built: dict[object, st.SearchStrategy] = {}

    def strategy(self, key: object, build) -> st.SearchStrategy:
        found = self._built.get(key)
        if found is None:
            found = self._built[key] = build()
        return found


_DRAWN: dict[tuple[int, int], Drawn] = {}  # by (id(users), id(groups)): the example's own


def drawn_for(users: list[User], groups: list[Group]) -> Drawn:
    key = (id(users), id(groups))
    found = _DRAWN.get(key)
    if found is None or found.users is not users or found.groups is not groups:
        _DRAWN.clear()  # one example at a time
        found = _DRAWN[key] = Drawn(users, groups)
    return found


@st.composite
def states(draw):
    state = State()
    users = [
        state.add_user(f"User {i}", f"user{i}@contoso.example", token=f"t{i}") for i in range(USERS)
    ]
    groups = []
    for index in range(GROUPS):
        members = draw(st.lists(st.sampled_from(users[1:]), unique_by=lambda u: u.id, max_size=3))
        group = Group(f"group-{index}", f"Group {index}", [u.id for u in members])
        groups.append(state.directory.add_group(group))
    owner = users[0]
    drive = state.add_drive(owner)
    root = state.store.root(drive)
    chain = [root]
    for depth in range(draw(DEPTHS)):
        folder = state.make_path(drive, "/" + "/".join(f"f{d}" for d in range(depth + 1)))
        folder.inherits = draw(BOOLEANS)
        chain.append(folder)
    if draw(BOOLEANS):  # a drive owned through a group
        drive.owner_id = groups[0].id
    for item in chain:
        for _ in range(draw(COUNTS)):
            add_permission(state, draw, item, users, groups)
    return state, users, groups, chain


def add_permission(state: State, draw, item, users: list[User], groups: list[Group]) -> None:
    strategies = drawn_for(users, groups)
    kind = draw(KINDS)
    role = draw(ROLES)
    new_id = state.ids.guid()
    user = draw(strategies.strategy("user", lambda: st.sampled_from(users)))
    if kind == "link":
        link = SharingLink(draw(LINK_TYPES), draw(SCOPES), state.ids.token(), users[0].id)
        members = strategies.strategy(
            "members", lambda: st.lists(st.sampled_from([*users, *groups]), max_size=4)
        )
        for member in draw(members):
            link.add_member_id(member.id)
        for address in draw(MEMBER_ADDRESSES):
            link.add_member_email(address)
        permission = Permission(new_id, item.id, [role], link=link)
        add_link_permission(state, item, permission)
        return
    permission = Permission(new_id, item.id, [role])
    if kind in ("user", "owner"):
        permission.grantee_id = user.id
        permission.invitation_email = user.email if draw(BOOLEANS) else None
        permission.roles = ["owner"] if kind == "owner" else [role]
    elif kind == "group":
        permission.grantee_id = draw(
            strategies.strategy("group", lambda: st.sampled_from(groups))
        ).id
    else:
        addresses = strategies.strategy(
            ("address", user.id),
            lambda: st.sampled_from([*OUTSIDERS, user.email, user.email.upper()]),
        )
        address = draw(addresses)
        permission.invitation_email = address
        permission.pending = kind == "pending"
    item.permissions.append(permission)
    state.store.drives[item.drive_id].shared_item_ids.add(item.id)


def check_item(state: State, users: list[User], item) -> None:
    permissions = item.permissions
    assert isinstance(permissions, PermissionList)
    for user in users:
        fast = [p for p in permissions.candidates(user) if p.holds(user)]
        groups = plain_groups(state, user)
        assert fast == [p for p in permissions if plain_holds(state, p, user, groups)]
        assert roles_of(state.store, user, item) == plain_roles(state, user, item)
        for grantee_id, address in ((user.id, user.email), (None, user.email.upper())):
            assert permissions.direct_for(grantee_id, address) is plain_direct_for(
                list(permissions), grantee_id, address
            )
    for group_id in state.directory.groups:
        assert permissions.direct_for(group_id, "nobody@x.example") is plain_direct_for(
            list(permissions), group_id, "nobody@x.example"
        )
    for address in OUTSIDERS:
        assert permissions.direct_for(None, address) is plain_direct_for(
            list(permissions), None, address
        )
    for permission in permissions:
        assert permissions.contains(permission)
    effective = effective_permissions(state.store, item)  # by id: the first entry, or none
    for permission_id in {e.permission.id for e in effective} | {"no-such-permission"}:
        plain = next((e for e in effective if e.permission.id == permission_id), None)
        try:
            found = find_effective(state.store, item, permission_id)
        except NotFound:
            found = None
        if plain is None:
            assert found is None, permission_id
        else:
            assert found is not None and found.permission is plain.permission, permission_id
            assert found.holder is plain.holder, permission_id
    stranger = Permission("x", item.id, ["read"], grantee_id=users[1].id)
    assert not permissions.contains(stranger)


def check_state(state: State, users: list[User], groups: list[Group], chain: list) -> None:
    for user in users:
        assert user.group_ids == {g.id for g in groups if user.id in g.member_ids}
    for item in chain:
        check_item(state, users, item)
    for user in users:
        assert roles_down(state.store, user, chain) == [
            plain_roles(state, user, item) for item in chain
        ]
        drive = state.store.drives[chain[0].drive_id]
        readable = any(
            plain_roles(state, user, item) for item in state.store.items.values()
            if item.drive_id == drive.id
        )  # fmt: skip
        assert can_see_drive(state.store, user, drive.id) == readable
    # the link index finds exactly the live links, by token
    live = {
        p.link.token: (item.id, p.id)
        for item in state.store.items.values()
        for p in item.permissions
        if p.link is not None
    }
    assert {t: k for t, k in state.links.by_token.items() if t in live} == live
    for token, (item_id, permission_id) in state.links.by_token.items():
        if token not in live:  # a stale entry must not name a live link of another token
            item = state.store.items.get(item_id)
            assert item is None or all(p.id != permission_id for p in item.permissions)
    for item in chain:
        for permission in item.permissions:
            if permission.link is not None:
                for user in users:
                    assert permission.link.holds(user) == plain_holds(state, permission, user)


# -- the tests -----------------------------------------------------------------------------------
@SETTINGS
@given(arranged=states())
def test_indexes_agree_with_the_plain_computation(arranged):
    state, users, groups, chain = arranged
    check_state(state, users, groups, chain)


@SETTINGS
@given(arranged=states(), data=st.data())
def test_indexes_agree_after_every_kind_of_change(arranged, data):
    state, users, groups, chain = arranged
    for item in chain:
        item.permissions.candidates(users[1])  # build the index first, then change the list
    for _ in range(data.draw(st.integers(1, 8))):
        item = data.draw(st.sampled_from(chain))
        permissions = item.permissions
        change = data.draw(st.sampled_from(["append", "remove", "remove-first", "member"]))
        if change == "append" or not permissions:
            add_permission(state, data.draw, item, users, groups)
        elif change == "remove":
            permissions.remove(data.draw(st.sampled_from(list(permissions))))
        elif change == "remove-first":  # every later position moves
            permissions.remove(permissions[0])
        else:  # a link gains a member (grant, redeem)
            links = [p for p in permissions if p.link is not None]
            if links:
                member = data.draw(st.sampled_from([*users, *groups]))
                data.draw(st.sampled_from(links)).link.add_member_id(member.id)
        check_state(state, users, groups, chain)


@SETTINGS
@given(
    members=st.lists(st.integers(0, 60), max_size=80),
    addresses=st.lists(st.sampled_from(["a@x.example", "A@X.example", "b@x.example"]), max_size=5),
)
def test_link_membership_sets_agree_with_the_member_lists(members, addresses):
    link = SharingLink("view", "users", "token", "creator")
    for member in members:
        link.add_member_id(f"u{member}")
    for address in addresses:
        link.add_member_email(address)
    assert link.member_ids == list(dict.fromkeys(f"u{m}" for m in members))
    folded = list(dict.fromkeys(a.casefold() for a in addresses))
    assert [a.casefold() for a in link.member_emails] == folded
    for number in range(62):
        for groups in (set(), {f"u{number + 1}"}):
            email = "a@x.example" if number == 61 else f"n{number}@y.example"
            user = User(f"u{number}", "U", email, group_ids=groups)
            expected = (
                user.id in link.member_ids
                or any(g in link.member_ids for g in groups)
                or user.email.casefold() in folded
            )
            assert link.holds(user) == expected
    rebuilt = SharingLink("view", "users", "token", "creator", list(link.member_ids),
                          list(link.member_emails))  # fmt: skip
    assert all(rebuilt.holds(User(m, "U", "z@z.example")) for m in link.member_ids)
    assert ROLE_RANK["read"] < ROLE_RANK["write"]


def test_a_permission_list_changes_only_through_its_index_keeping_methods():
    """Every way to change an item's permissions keeps the index right: there is no other."""
    permissions = PermissionList()
    for name in ("insert", "extend", "pop", "clear", "sort", "reverse", "__setitem__",
                 "__delitem__", "__iadd__"):  # fmt: skip
        assert not hasattr(permissions, name), name
    granted = [
        Permission(f"p{i}", "item", ["read"], grantee_id=f"u{i % 3}") for i in range(INDEX_FROM + 2)
    ]
    for permission in granted:
        permissions.append(permission)
    user = User("u1", "U", "u1@x.example")
    assert permissions.candidates(user) == [p for p in granted if p.grantee_id == "u1"]
    permissions.remove(granted[1])  # still indexed: the candidates are exactly the user's
    assert permissions.candidates(user) == [p for p in granted[2:] if p.grantee_id == "u1"]
    assert len(permissions) == INDEX_FROM + 1 and permissions[0] is granted[0]
    assert list(permissions) == [granted[0], *granted[2:]]
