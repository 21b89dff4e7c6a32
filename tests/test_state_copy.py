"""A deep copy of a state (what the tests' templates and the rule checker's snapshots are) is
the same state and shares nothing that can change with the original: the model's slotted
classes copy themselves (``model/copying.py``) rather than through ``__reduce_ex__``."""

from __future__ import annotations

import copy
import json
import random
import weakref
from typing import Any

from stateful_support import initial_state

from mockdrive.model import copying, links, onehub, sharing
from mockdrive.model.state import State
from mockdrive.scenario import export_scenario

SCALARS = (str, int, float, bool, bytes, type(None))


def shared_state() -> State:
    """A tenant with a deep chain, grants, a group grant, an invitation, a link with members,
    a Onehub rolemap, renames and a deletion in the change log."""
    state = initial_state()
    owner = next(iter(state.directory.users.values()))
    root = state.store.root(next(iter(state.store.drives.values())))
    state.upload(owner, root, "/" + "/".join(["d"] * 30) + "/leaf.txt", b"deep")
    state.upload(owner, root, "/F/a.txt", b"alpha")
    folder = state.store.child(root, "F")
    request = sharing.InviteRequest(
        [sharing.Recipient("bob@contoso.example"), sharing.Recipient("team@contoso.example")],
        ["write"],
    )
    sharing.invite(state, owner, folder, request)
    outsider = sharing.InviteRequest([sharing.Recipient("eve@outside.example")], ["read"])
    sharing.invite(state, owner, state.store.child(root, "d"), outsider)
    recipients = [sharing.Recipient("carol@contoso.example")]
    request_link = links.LinkRequest("view", "users", recipients=recipients)
    made = links.create_link(state, owner, folder, request_link)
    assert made is not None
    onehub.invite_emails(state, owner, folder, "dan@contoso.example", "Viewer",
                         sharing.RequestContext())  # fmt: skip
    state.rename_item(owner, state.store.child(folder, "a.txt"), "b.txt")
    state.delete_item(owner, state.store.child(root, "d"))
    state.changes.issued = True  # the log goes along in the export
    return state


def objects(value: Any) -> dict[int, Any]:
    """Every object reachable from ``value`` that is not an immutable scalar, by id."""
    found: dict[int, Any] = {}
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, SCALARS) or id(current) in found:
            continue
        found[id(current)] = current
        if isinstance(current, dict):
            stack.extend(current.keys())
            stack.extend(current.values())
        elif isinstance(current, (list, tuple, set, frozenset)) or (
            hasattr(current, "__iter__") and type(current).__name__ == "deque"
        ):
            stack.extend(current)
        else:
            for name in getattr(type(current), "__slots__", ()):
                if hasattr(current, name):
                    stack.append(getattr(current, name))
            stack.extend(getattr(current, "__dict__", {}).values())
    return found


def test_a_copied_state_exports_the_same_and_shares_nothing_mutable() -> None:
    state = shared_state()
    copied = copy.deepcopy(state)
    assert json.dumps(export_scenario(copied)) == json.dumps(export_scenario(state))
    copying = {type(o) for o in objects(state).values() if hasattr(type(o), "__deepcopy__")}
    mutable = (dict, list, set, *copying)
    original = {i for i, o in objects(state).items() if isinstance(o, mutable)}
    shared = [o for i, o in objects(copied).items() if i in original]
    assert not shared, f"the copy shares {len(shared)} objects with the original: {shared[:3]}"


def test_what_the_original_shares_the_copy_shares() -> None:
    """One object reached two ways is one object in the copy too (the memo)."""
    state = shared_state()
    item = next(i for i in state.store.items.values() if i.permissions)
    permission = item.permissions[0]
    holder = [permission, permission, item]
    first, second, copied_item = copy.deepcopy(holder)
    assert first is second and first is not permission
    assert copied_item.permissions[0] is first


def test_a_change_to_the_copy_leaves_the_original() -> None:
    state = shared_state()
    before = json.dumps(export_scenario(state))
    copied = copy.deepcopy(state)
    owner = next(iter(copied.directory.users.values()))
    root = copied.store.root(next(iter(copied.store.drives.values())))
    folder = copied.store.child(root, "F")
    copied.upload(owner, folder, "/new.txt", b"new")
    kim = sharing.InviteRequest([sharing.Recipient("kim@contoso.example")], ["read"])
    sharing.invite(copied, owner, folder, kim)
    copied.rename_item(owner, folder, "G")
    assert json.dumps(export_scenario(state)) == before


def test_the_copy_hands_out_the_ids_the_original_would() -> None:
    state = shared_state()
    copied = copy.deepcopy(state)
    assert copied.ids is not state.ids
    assert [copied.ids.guid() for _ in range(5)] == [state.ids.guid() for _ in range(5)]


def reference_deepcopy_slots(self: Any, memo: dict[int, Any]) -> Any:
    """``deepcopy_slots`` as it was: one slot at a time in a loop, set with object's own (and
    a subclass's ``__dict__`` after them)."""
    cls = type(self)
    new = cls.__new__(cls)
    memo[id(self)] = new
    for name in copying._slots_of(cls):
        try:
            value = getattr(self, name)
        except AttributeError:
            continue
        kept = value if type(value) in copying._SCALARS else copying._copied(value, memo)
        object.__setattr__(new, name, kept)
    if cls.__dictoffset__:
        new.__dict__.update(copying._copied(self.__dict__, memo))
    return new


def same_graph(one: Any, two: Any) -> None:
    """``one`` and ``two`` hold the same values in the same shape, sharing alike."""
    pairs: dict[int, Any] = {}
    stack = [(one, two, "state")]
    while stack:
        left, right, where = stack.pop()
        assert type(left) is type(right), where
        if isinstance(left, SCALARS):
            assert left == right, where
            continue
        if id(left) in pairs:
            assert pairs[id(left)] is right, f"{where}: shared in one copy, not in the other"
            continue
        pairs[id(left)] = right
        if isinstance(left, dict):
            assert list(left) == list(right), where
            stack.extend((left[k], right[k], f"{where}[{k!r}]") for k in left)
        elif isinstance(left, (list, tuple)) or type(left).__name__ == "deque":
            assert len(left) == len(right), where
            stack.extend(
                (a, b, f"{where}[{n}]") for n, (a, b) in enumerate(zip(left, right, strict=True))
            )
        elif isinstance(left, (set, frozenset)):
            assert left == right, where
        elif isinstance(left, random.Random):
            assert left.getstate() == right.getstate(), where
        elif callable(left) or isinstance(left, weakref.ref):
            continue  # the expiry handlers and the id source's look-up: made per copy
        else:
            for name in copying._slots_of(type(left)):
                assert hasattr(left, name) == hasattr(right, name), f"{where}.{name}"
                if hasattr(left, name):
                    stack.append((getattr(left, name), getattr(right, name), f"{where}.{name}"))
            if hasattr(left, "__dict__"):
                stack.append((vars(left), vars(right), f"{where}.__dict__"))


def test_the_written_out_slot_copiers_copy_as_the_loop_did(monkeypatch) -> None:
    state = shared_state()
    slotted = {
        type(o)
        for o in objects(state).values()
        if getattr(type(o), "__deepcopy__", None) is copying.deepcopy_slots
    }
    assert len(slotted) >= 6, slotted  # items, permissions, lists of them, users, changes ...
    written_out = copy.deepcopy(state)
    for cls in slotted:
        monkeypatch.setitem(copying._SLOTS_COPIERS, cls, reference_deepcopy_slots)
    looped = copy.deepcopy(state)
    same_graph(written_out, looped)
    assert json.dumps(export_scenario(written_out)) == json.dumps(export_scenario(looped))
