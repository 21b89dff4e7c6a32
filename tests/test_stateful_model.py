"""Stateful property test of the model (pure Python, no HTTP): random sequences of creates,
uploads, deep trees, renames, deletes, Graph invites, permission changes, inheritance breaks,
Onehub invitations and rolemap changes, new workspaces, exports, reloads and resets.

After every step: the invariants of ``stateful_support.check_state`` (ids, reachability, naive
permission recomputation, the ``explain.access`` oracle), a refused operation changed nothing,
and every reloaded copy ("twin") exports the same as the original. A reload (export → load)
must export byte for byte what it loaded, and from then on every operation runs on the original
and on each reloaded copy alike and must give the same result (the differential test).

CI runs a quick seeded set; the long run (random seeds, the machine with every switch on) is::

    MOCKDRIVE_STATEFUL_EXAMPLES=10000 \\
        .venv/bin/pytest -p no:xdist -s tests/test_stateful_model.py -k full
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from stateful_support import (
    ADDRESSES,
    BAD_ROLES,
    GRAPH_ROLES,
    OWNER,
    RunStats,
    as_json,
    canonical,
    check_state,
    contents,
    differences,
    flat_export,
    initial_state,
    machine_settings,
    names,
    pick,
)

from mockdrive.api.jsonio import dumps
from mockdrive.model import onehub, sharing
from mockdrive.model.errors import DomainError
from mockdrive.model.permissions import effective_permissions
from mockdrive.model.state import State
from mockdrive.model.tree import Item
from mockdrive.scenario import ScenarioError, dump_yaml, export_scenario, load_scenario_text

INDEX = st.integers(min_value=0, max_value=10_000)
CALLER = st.just(0) | INDEX  # the owner half the time, or most requests are refusals
CONFLICTS = st.sampled_from(["fail", "replace", "rename", "bogus"])
ONEHUB_ROLES = st.sampled_from([*onehub.ROLES, "moderator", "Owner", ""])
MAX_TWINS = 3
SAFE_DEPTH = 150  # deeper trees did not export/reload (recursion)
PATH_LIMIT_DEPTH = 200  # "d/" * 200 = the 400-character path limit of OneDrive for Business


@pytest.fixture(autouse=True)
def older_objects_out_of_sight() -> Iterator[None]:
    """Moves what is alive before the test out of the cyclic collector's sight (``gc.freeze``)
    until it ends: the machines' full collections otherwise walk the worker's whole heap
    (pytest's, hypothesis's, earlier tests') again and again, 0.8 s of a 10 s run. A frozen
    object is still freed when nothing refers to it; nothing made by the test is frozen."""
    gc.freeze()
    yield
    gc.unfreeze()


def fingerprint(state: State) -> str:
    """Everything a refused operation must leave alone (Onehub numbers are handed out on
    first sight, even by reads, so they are not part of it)."""
    data = flat_export(export_scenario(state))
    data.pop("onehub", None)  # the numbering handed out so far (exported to survive a reload)
    data["versions"] = sorted(
        (i.id, i.version, i.content_version, i.modified) for i in state.store.items.values()
    )
    data["outbox"] = len(state.outbox.to_list())
    return as_json(data, sort_keys=True)


ItemKey = tuple[int, tuple[str, ...]]  # (drive index, names from its root)


class ModelMachine(RuleBasedStateMachine):
    """Operations run on every twin; twin 0 is the original, the others reloaded copies."""

    # What the green run stays away from (each switch names the finding that needs it off):
    hostile = False  # surrogates, C1 controls, U+FFFE/FFFF in names and contents
    to_the_limit = False  # trees deeper than 150 (up to the 400-character path)
    owner_check = False  # the drive owner keeps write everywhere
    fidelity = False  # eTags, times, Onehub numbers, spellings survive a reload
    access_denied_rolemaps = False  # rolemaps set to Access Denied did not export

    stats = RunStats()

    def __init__(self) -> None:
        super().__init__()
        self.twins: list[State] = [initial_state()]
        self.steps = 0
        self.stats["sequences"] += 1

    # -- addressing the same thing in every twin --------------------------------------------
    @property
    def primary(self) -> State:
        return self.twins[0]

    def item_key(self, index: int) -> ItemKey:
        state = self.primary
        items = sorted(state.store.items.values(), key=lambda i: (i.drive_id, i.depth, i.id))
        item = pick(items, index)
        drives = list(state.store.drives)
        names_up = [item.name] if item.parent_id else []
        names_up += [a.name for a in state.store.ancestors(item) if a.parent_id]
        return drives.index(item.drive_id), tuple(reversed(names_up))

    @staticmethod
    def resolve(state: State, key: ItemKey) -> Item:
        drive = list(state.store.drives.values())[key[0]]
        item = state.store.root(drive)
        for name in key[1]:
            item = state.store.child(item, name)
        return item

    @staticmethod
    def user(state: State, index: int):
        return pick(state.directory.users.values(), index)

    def run(self, operation: Callable[[State], Any]) -> None:
        """Run ``operation`` on every twin: same outcome everywhere, a refusal changes nothing,
        anything but a DomainError is a crash (the model's 500)."""
        outcomes = []
        for state in self.twins:
            before = fingerprint(state)
            try:
                outcome: Any = ("ok", operation(state))
            except DomainError as refused:
                outcome = ("refused", type(refused).__name__, refused.inner_code)
                self.stats["refused"] += 1
                after = fingerprint(state)
                assert after == before, (
                    f"a refused operation changed the state {differences(before, after)}"
                )
            outcomes.append(canonical(outcome))
            self.stats["operations"] += 1
        for index, other in enumerate(outcomes[1:], 1):
            assert other == outcomes[0], (
                f"twin {index} (reloaded) answers differently: {differences(outcomes[0], other)}"
            )
        self.steps += 1

    def summary(self, state: State, item: Item) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": item.id,
            "path": state.store.path_of(item),
            "size": item.size,
            "folder": item.is_folder,
        }
        if self.fidelity:  # versions and times do not survive a reload
            data.update(etag=item.etag, created=item.created, modified=item.modified)
        return data

    def permission_summary(self, state: State, permission: Any) -> dict[str, Any]:
        email = permission.invitation_email
        return {
            "id": permission.id,
            "roles": permission.roles,
            "grantee": permission.grantee_id,
            # a reload re-spells the address (compared exactly with fidelity on)
            "email": email if self.fidelity or email is None else email.casefold(),
            "pending": permission.pending,
            "onehub": onehub.role_name(state, permission),
        }

    # -- tree -------------------------------------------------------------------------------
    @rule(caller=CALLER, parent=INDEX, name=names(True), conflict=CONFLICTS, folder=st.booleans())
    def create(self, caller: int, parent: int, name: str, conflict: str, folder: bool) -> None:
        self._create(caller, parent, name, conflict, folder)

    def _create(self, caller: int, parent: int, name: str, conflict: str, folder: bool) -> None:
        key = self.item_key(parent)

        def operation(state: State) -> Any:
            item = state.create_item(
                self.user(state, caller),
                self.resolve(state, key),
                name,
                is_folder=folder,
                conflict=conflict,
                content=b"" if folder else b"new",
            )
            return self.summary(state, item)

        self.run(operation)

    @rule(
        caller=CALLER,
        parent=INDEX,
        path=st.lists(names(True), min_size=1, max_size=3),
        content=contents(True),
        conflict=CONFLICTS,
    )
    def upload(
        self, caller: int, parent: int, path: list[str], content: bytes, conflict: str
    ) -> None:
        self._upload(caller, parent, path, content, conflict)

    def _upload(
        self, caller: int, parent: int, path: list[str], content: bytes, conflict: str
    ) -> None:
        key = self.item_key(parent)

        def operation(state: State) -> Any:
            item, created = state.upload(
                self.user(state, caller),
                self.resolve(state, key),
                "/" + "/".join(path),
                content,
                conflict=conflict,
            )
            return self.summary(state, item), created

        self.run(operation)

    @precondition(lambda self: len(self.primary.store.items) < 400)
    @rule(parent=INDEX, depth=st.integers(1, 8) | st.integers(1, SAFE_DEPTH))
    def deepen(self, parent: int, depth: int) -> None:
        """The owner uploads a file ``depth`` folders down (one-letter names)."""
        self._upload(0, parent, ["d"] * depth + ["leaf.txt"], b"deep", "rename")

    @rule(caller=CALLER, victim=INDEX)
    def delete(self, caller: int, victim: int) -> None:
        key = self.item_key(victim)
        self.run(lambda s: s.delete_item(self.user(s, caller), self.resolve(s, key)))

    @rule(caller=CALLER, victim=INDEX, name=names(True))
    def rename(self, caller: int, victim: int, name: str) -> None:
        key = self.item_key(victim)

        def operation(state: State) -> Any:
            item = state.rename_item(self.user(state, caller), self.resolve(state, key), name)
            return self.summary(state, item)

        self.run(operation)

    @rule(caller=CALLER, name=st.sampled_from(["Team site", "team SITE", "Ünïcode", "x"]))
    def create_workspace(self, caller: int, name: str) -> None:
        def operation(state: State) -> Any:
            drive = state.add_drive(
                self.user(state, caller), drive_type="documentLibrary", name=name
            )
            return drive.id, drive.root_id

        self.run(operation)

    # -- Graph sharing ------------------------------------------------------------------------
    @rule(
        caller=CALLER,
        victim=INDEX,
        recipients=st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=3),
        roles=st.lists(st.sampled_from(GRAPH_ROLES + BAD_ROLES), min_size=1, max_size=2),
        retain=st.booleans(),
        send=st.booleans(),
    )
    def invite(
        self,
        caller: int,
        victim: int,
        recipients: list[str],
        roles: list[str],
        retain: bool,
        send: bool,
    ) -> None:
        key = self.item_key(victim)

        def operation(state: State) -> Any:
            request = sharing.InviteRequest(
                recipients=[sharing.Recipient(email=r) for r in recipients],
                roles=list(roles),
                send_invitation=send,
                retain_inherited_permissions=retain,
            )
            result = sharing.invite(
                state, self.user(state, caller), self.resolve(state, key), request
            )
            return [
                (o.address, o.created, self.permission_summary(state, o.permission))
                for o in result.outcomes
            ]

        self.run(operation)

    def _effective(self, state: State, key: ItemKey, index: int) -> Any:
        entries = effective_permissions(state.store, self.resolve(state, key))
        return pick(entries, index)

    @rule(
        caller=CALLER,
        victim=INDEX,
        which=INDEX,
        roles=st.lists(st.sampled_from(GRAPH_ROLES + BAD_ROLES), max_size=2),
    )
    def patch_permission(self, caller: int, victim: int, which: int, roles: list[str]) -> None:
        key = self.item_key(victim)

        def operation(state: State) -> Any:
            entry = self._effective(state, key, which)
            permission_id = entry.permission.id if entry else "no-such-permission"
            item = self.resolve(state, key)
            permission = sharing.update_roles(
                state, self.user(state, caller), item, permission_id, list(roles)
            )
            return self.permission_summary(state, permission)

        self.run(operation)

    @rule(caller=CALLER, victim=INDEX, which=INDEX)
    def delete_permission(self, caller: int, victim: int, which: int) -> None:
        key = self.item_key(victim)

        def operation(state: State) -> Any:
            entry = self._effective(state, key, which)
            permission_id = entry.permission.id if entry else "no-such-permission"
            item = self.resolve(state, key)
            sharing.delete_permission(state, self.user(state, caller), item, permission_id)

        self.run(operation)

    # -- Onehub -------------------------------------------------------------------------------
    @rule(
        caller=CALLER,
        victim=INDEX,
        recipients=st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=3),
        role=ONEHUB_ROLES,
    )
    def onehub_invite(self, caller: int, victim: int, recipients: list[str], role: str) -> None:
        key = self.item_key(victim)

        def operation(state: State) -> Any:
            result = onehub.invite_emails(
                state,
                self.user(state, caller),
                self.resolve(state, key),
                ",".join(recipients),
                role,
                sharing.RequestContext(),
            )
            invited = [a for a, number in result.invited]
            if self.fidelity:  # Onehub numbers change on reload
                invited = result.invited
            return invited, result.join_errors, result.errors

        self.run(operation)

    def _rolemap_number(self, state: State, key: ItemKey, which: int) -> int:
        entry = self._effective(state, key, which)
        if entry is None:
            return 10**9
        return state.onehub.number("rolemap", entry.permission.id)

    @rule(caller=CALLER, victim=INDEX, which=INDEX, role=ONEHUB_ROLES)
    def onehub_set_role(self, caller: int, victim: int, which: int, role: str) -> None:
        if role.casefold() == "access denied" and not self.access_denied_rolemaps:
            return  # an Access Denied rolemap makes the export unloadable
        key = self.item_key(victim)

        def operation(state: State) -> Any:
            number = self._rolemap_number(state, key, which)
            permission = onehub.set_role(state, self.user(state, caller), number, role)
            return self.permission_summary(state, permission)

        self.run(operation)

    @rule(caller=CALLER, victim=INDEX, which=INDEX)
    def onehub_delete_rolemap(self, caller: int, victim: int, which: int) -> None:
        key = self.item_key(victim)

        def operation(state: State) -> Any:
            number = self._rolemap_number(state, key, which)
            onehub.delete_rolemap(state, self.user(state, caller), number)

        self.run(operation)

    @rule(address=st.sampled_from(ADDRESSES))
    def onehub_accept(self, address: str) -> None:
        self.run(lambda s: onehub.accept_invitations_of(s, address))

    # -- export, reload, reset ----------------------------------------------------------------
    @rule(as_yaml=st.booleans())
    def reload(self, as_yaml: bool) -> None:
        """Export → load → export is identical; the copy joins the twins."""
        state = self.primary
        data = export_scenario(state)
        text = dump_yaml(data) if as_yaml else dumps(data)
        try:
            loaded = load_scenario_text(text)
        except (ScenarioError, RecursionError) as error:
            raise AssertionError(f"the export does not load back: {str(error)[:2000]}") from None
        again = export_scenario(loaded)
        first, second = json.dumps(data, ensure_ascii=False), json.dumps(again, ensure_ascii=False)
        assert first == second, f"export → load → export differs {differences(first, second)}"
        self.twins = [self.twins[0], *self.twins[1:][-(MAX_TWINS - 2) :], loaded]
        self.stats["reloads"] += 1

    @rule()
    def reset(self) -> None:
        self.twins = [initial_state()]

    # -- after every step -----------------------------------------------------------------------
    @invariant()
    def state_is_sound(self) -> None:
        self.stats["steps"] += 1
        for state in self.twins:
            check_state(state, owner_keeps_access=self.owner_check)

    def teardown(self) -> None:
        self.stats.sequence_done("model")

    @invariant()
    def twins_export_the_same(self) -> None:
        if len(self.twins) < 2:
            return
        exports = [canonical(flat_export(export_scenario(s))) for s in self.twins]
        for index, other in enumerate(exports[1:], 1):
            assert other == exports[0], f"twin {index} drifted {differences(exports[0], other)}"


class FullModelMachine(ModelMachine):
    """No holding back: every switch on."""

    hostile = True
    to_the_limit = True
    owner_check = True
    fidelity = True
    access_denied_rolemaps = True

    @initialize(name=names(False), depth=st.integers(SAFE_DEPTH, PATH_LIMIT_DEPTH))
    def hostile_tree(self, name: str, depth: int) -> None:
        """Start from a folder with a hostile name and a chain down to the path limit."""
        if self.hostile:
            self._create(0, 0, name, "rename", True)
        if self.to_the_limit:
            self._upload(0, 0, ["d"] * depth + ["leaf.txt"], b"deep", "rename")

    @precondition(lambda self: self.hostile)
    @rule(caller=CALLER, parent=INDEX, name=names(False), conflict=CONFLICTS, folder=st.booleans())
    def create_hostile(
        self, caller: int, parent: int, name: str, conflict: str, folder: bool
    ) -> None:
        self._create(caller, parent, name, conflict, folder)

    @precondition(lambda self: self.hostile)
    @rule(
        caller=CALLER,
        parent=INDEX,
        path=st.lists(names(False), min_size=1, max_size=3),
        content=contents(False),
    )
    def upload_hostile(self, caller: int, parent: int, path: list[str], content: bytes) -> None:
        self._upload(caller, parent, path, content, "replace")

    @precondition(lambda self: self.to_the_limit and len(self.primary.store.items) < 600)
    @rule(parent=INDEX, depth=st.integers(min_value=SAFE_DEPTH, max_value=PATH_LIMIT_DEPTH))
    def deepen_to_the_limit(self, parent: int, depth: int) -> None:
        """A chain of folders from the root up to the 400-character path limit."""
        self._upload(0, 0, ["d"] * depth + ["leaf.txt"], b"deep", "rename")


def machine_with(**switches: bool) -> type[FullModelMachine]:
    """The full machine with some switches changed (to look at one defect at a time)."""
    return type("ModelMachineWith", (FullModelMachine,), dict(switches))


def test_model_state_machine() -> None:
    """The green run: everything but the triggers of the known defects."""
    run = ModelMachine.TestCase
    run.settings = machine_settings(examples=40, steps=30)
    ModelMachine.stats.clear()
    run().runTest()
    print("\n" + ModelMachine.stats.report("stateful model machine"), "0 violations")


def test_model_state_machine_full() -> None:
    """Every switch on: hostile names and contents, trees to the path limit, the owner check,
    eTags/times/Onehub ids/spellings compared across reloads, no re-seeding after a load. It was
    a strict xfail until the last defect it found (a lone surrogate in a name, taken by the
    model) was fixed; the long run uses this machine."""
    run = FullModelMachine.TestCase
    run.settings = machine_settings(examples=40, steps=30)
    FullModelMachine.stats.clear()
    run().runTest()
    print("\n" + FullModelMachine.stats.report("full stateful model machine"), "0 violations")


def test_owner_label() -> None:
    """The tenant the machines start from is what the helpers assume."""
    state = initial_state()
    drive = next(iter(state.store.drives.values()))
    assert state.directory.users[drive.owner_id].email == OWNER[1]
    check_state(state)
