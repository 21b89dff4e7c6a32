"""``PermissionList.remove`` drops only its entry from the index: withdrawals after the
permissions changed in every way the model changes one (an invitation accepted, a link's
members grown, roles set, owner roles given), interleaved with lookups and whole-state copies,
leave every lookup finding exactly what the plain scan finds, in grant order
(``check_state`` of test_permission_indexes.py, the plain computation)."""

from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as st
from test_permission_indexes import SETTINGS, add_permission, check_state, states

from mockdrive.model.grants import INDEX_FROM, PermissionList
from mockdrive.model.identity import User
from mockdrive.model.permissions import Permission
from mockdrive.model.sharing import set_roles

CHANGES = st.sampled_from(
    ["append", "remove", "remove-first", "remove-last", "accept", "roles", "member", "copy"]
)


@SETTINGS
@given(arranged=states(), data=st.data())
def test_withdrawals_after_changes_and_copies_agree_with_the_plain_scan(arranged, data):
    state, users, groups, chain = arranged
    for item in chain:
        if data.draw(st.booleans()):  # some lists indexed before the changes, some not
            item.permissions.candidates(users[1])
    for _ in range(data.draw(st.integers(1, 12))):
        item = data.draw(st.sampled_from(chain))
        permissions = item.permissions
        change = data.draw(CHANGES)
        if change == "copy":  # go on with the copy; the original must not move
            before = [[(p.id, list(p.roles)) for p in i.permissions] for i in chain]
            state = copy.deepcopy(state)
            users = [state.directory.users[u.id] for u in users]
            groups = [state.directory.groups[g.id] for g in groups]
            chain = [state.store.items[i.id] for i in chain]
            assert [[(p.id, list(p.roles)) for p in i.permissions] for i in chain] == before
        elif change == "append" or not permissions:
            add_permission(state, data.draw, item, users, groups)
        elif change.startswith("remove"):
            if change == "remove":
                chosen = data.draw(st.sampled_from(list(permissions)))
            else:
                chosen = permissions[0] if change == "remove-first" else permissions[-1]
            permissions.remove(chosen)
            assert not permissions.contains(chosen)
        elif change == "accept":  # a pending invitation accepted: it applies from now on
            for permission in permissions:
                permission.pending = False
        elif change == "roles":
            chosen = data.draw(st.sampled_from(list(permissions)))
            set_roles(chosen, [data.draw(st.sampled_from(["read", "write", "owner"]))])
        else:
            links = [p for p in permissions if p.link is not None]
            if links:
                member = data.draw(st.sampled_from([*users, *groups]))
                data.draw(st.sampled_from(links)).link.add_member_id(member.id)
        check_state(state, users, groups, chain)


def test_a_permission_withdrawn_and_granted_again_comes_last() -> None:
    """Entries keep grant order across withdrawals: one withdrawn and appended again is found
    after those granted before it, in a copy too."""
    granted = [
        Permission(f"p{i}", "item", ["read"], grantee_id=f"u{i % 2}") for i in range(INDEX_FROM + 4)
    ]
    permissions = PermissionList(granted)
    user = User("u0", "U", "u0@x.example", group_ids={"u1"})  # holds both keys
    assert permissions.candidates(user) == granted
    for permission in (granted[0], granted[3], granted[-1]):
        permissions.remove(permission)
        permissions.append(permission)
        copied = copy.deepcopy(permissions)
        for found in (permissions, copied):
            expected = list(found)
            assert found.candidates(user) == expected
            assert all(found.contains(p) for p in expected)
    assert list(permissions)[-3:] == [granted[0], granted[3], granted[-1]]
