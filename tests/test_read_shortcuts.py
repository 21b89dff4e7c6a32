"""Graph's addressing short cuts against the plain code they replaced.

A request by the drive's owner is served without walking their roles
(``resolve_visible(…, walk=False)`` gives None; ``require_read`` walks them if a handler asks,
and an invite takes ``{"owner"}`` for them, ``roles_seen``),
an item addressed by id is found without ``resolve_base`` (``GraphPath.item_id``), and
``/me/drive`` without ``State.default_drive``. The reference below is the code as it stood
before, kept verbatim; over generated states, callers (owners, a group drive's member, grantees,
strangers, an app-only caller, a user without a drive) and every address form, both run on
copies of one state and must agree: the item found or the error (type and message), and the
roles ``require_read`` hands a handler, and whether sharing lets the caller share the item
(``_check_shareable``) with the roles an invite is handed (``roles_seen``).
"""

from __future__ import annotations

import copy
import random

import pytest

from mockdrive.api.context import Call
from mockdrive.api.graph.addressing import (
    check_read,
    hidden,
    require_read,
    resolve_base,
    resolve_drive,
    resolve_visible,
)
from mockdrive.api.graph.paths import parse_raw_path
from mockdrive.api.invites import roles_seen
from mockdrive.model import sharing
from mockdrive.model.errors import NotFound
from mockdrive.model.identity import AppAccess, User
from mockdrive.model.permissions import roles_of
from mockdrive.model.state import State

# -- the reference: the code before the short cuts -------------------------------------------


def reference_resolve_drive(state, caller, path):
    if path.drive_kind == "me":
        return state.default_drive(caller.id)
    return resolve_drive(state, caller, path)  # (the other forms did not change)


def reference_resolve_visible(state, caller, drive, path):
    try:
        item = resolve_base(state, caller, drive, path)
        if path.item_path:
            item = state.store.resolve(item, path.item_path)
    except NotFound:
        raise hidden(state, caller, drive, path) from None
    roles = roles_of(state.store, caller, item)
    if not roles:
        raise hidden(state, caller, drive, path)
    return item, roles


# -- generated states and addresses ----------------------------------------------------------


def arranged(rng: random.Random) -> tuple[State, list[User], list[str]]:
    """Drives of two users and a group's, nested items with grants, a folder that stops
    inheriting, a special folder; the callers, and raw paths addressing all of it."""
    state = State(seed=rng.randrange(1000))
    ada = state.add_user("Ada", "ada@contoso.example", token="ada")
    bob = state.add_user("Bob", "bob@contoso.example", token="bob")
    cat = state.add_user("Cat", "cat@contoso.example", token="cat")
    dan = state.add_user("Dan", "dan@contoso.example", token="dan")  # no drive of his own
    drives = [state.add_drive(ada), state.add_drive(bob)]
    crew = state.add_drive(state.add_user("Crew owner", "crew-owner@contoso.example"))
    drives.append(crew)
    paths = []
    for drive in drives:
        made = []
        for n in range(rng.randrange(3, 8)):
            parent = rng.choice(["", *[p for p, folder in made if folder]])
            folder = rng.random() < 0.5
            name = f"{parent}/{rng.choice(['Doc', 'Plan', 'Notes'])} {n}"
            item = state.make_path(drive, name, is_folder=folder, content=b"x")
            made.append((name, folder))
            if rng.random() < 0.4:
                state.grant(item, rng.choice([bob, cat, dan]), [rng.choice(["read", "write"])])
            if folder and rng.random() < 0.2:
                item.inherits = False
        if rng.random() < 0.5:
            state.make_path(drive, "/Documents", is_folder=True)
        for name, _ in made:
            item = state.store.resolve(state.store.root(drive), name)
            paths += [
                f"/drives/{drive.id}/items/{item.id}",
                f"/drives/{drive.id}/root:{name}:",
                f"/me/drive/items/{item.id}",
                f"/me/drive/root:{name}:",
                f"/drives/{drive.id}/items/{item.parent_id}:/{name.rsplit('/', 1)[1]}:",
            ]
        paths += [
            f"/drives/{drive.id}/root",
            f"/drives/{drive.id}/items/root",
            f"/drives/{drive.id}/items/{drive.root_id}",
            f"/drives/{drive.id}/special/documents",
            f"/drives/{drive.id}/items/special%2Fdocuments",
            f"/drives/{drive.id}/items/missing",
            f"/drives/{drive.id}/root:/missing:",
        ]
    crew.owner_id = "group-crew"  # a group's drive: its members own it
    cat.group_ids.add("group-crew")
    app = User("app-1", "App", "app@contoso.example", app=AppAccess("read"))
    return state, [ada, bob, cat, dan, app], paths


def outcome(run, state: State, caller: User, raw: str):
    """What ``run`` finds on a copy of ``state``: ("found", item id, roles) or the error."""
    state = copy.deepcopy(state)
    caller = state.directory.users.get(caller.id, caller)
    try:
        return ("found", *run(state, caller, parse_raw_path(raw)))
    except Exception as error:  # every refusal, compared by type and message
        return ("refused", type(error).__name__, str(error))


def reference_run(state: State, caller: User, path):
    drive = reference_resolve_drive(state, caller, path)
    item, roles = reference_resolve_visible(state, caller, drive, path)
    return item.id, roles, shareable(state, caller, item, roles)


def shareable(state: State, caller: User, item, roles: set[str] | None) -> str:
    """Whether sharing lets ``caller`` share ``item``, given these roles: "yes" or the error."""
    try:
        sharing._check_shareable(state, caller, item, roles)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return "yes"


def run_as(method: str, unwalked: list[str]):
    def run(state: State, caller: User, path):
        drive = resolve_drive(state, caller, path)
        # as the dispatch (``serve_drive``) asks, whatever the method
        item, roles = resolve_visible(state, caller, drive, path, False)
        if roles is None:  # only for the drive's owner, who holds owner on all of it
            owner = drive.owner_id
            assert caller.app is None and (owner == caller.id or owner in caller.group_ids)
            unwalked.append(caller.id)
        call = Call(state, caller, "request-id", seen=(caller, item, roles))
        check_read(call, item)  # readable: nothing raised
        # what an invite is handed (before ``require_read``, as ``graph_invite`` asks)
        share = shareable(state, caller, item, roles_seen(call, item)) if method == "POST" else None
        handed = require_read(call, item)  # the roles a handler is handed
        if share is None:  # a GET shares nothing: the reference's answer, to compare the rest
            share = shareable(state, caller, item, handed)
        return item.id, handed, share

    return run


@pytest.mark.parametrize("seed", range(12))
def test_addressing_agrees_with_the_plain_code(seed: int) -> None:
    """Each case against the plain code's outcome, found once for both methods (it does not
    depend on the method; each run is on a copy of the state of its own)."""
    rng = random.Random(seed)
    state, callers, paths = arranged(rng)
    compared, unwalked = 0, {"GET": [], "POST": []}
    for raw in paths:
        for caller in callers:
            expected = outcome(reference_run, state, caller, raw)
            for method, seen in unwalked.items():
                found = outcome(run_as(method, seen), state, caller, raw)
                assert found == expected, (method, raw, caller)
            compared += 1
    assert compared > 100
    # a request by an owner (Ada's drive, and Cat's group's) was served without the walk
    ada, cat = callers[0].id, callers[2].id
    assert {ada, cat} <= set(unwalked["GET"]) and {ada, cat} <= set(unwalked["POST"])


def test_an_item_id_is_the_base_only_where_resolve_base_reads_one() -> None:
    assert parse_raw_path("/me/drive/items/abc").item_id == "abc"
    assert parse_raw_path("/me/drive/items/abc:/x:").item_id == "abc"
    assert parse_raw_path("/me/drive/root").item_id is None
    assert parse_raw_path("/me/drive/items/root").item_id is None
    assert parse_raw_path("/me/drive/special/documents").item_id is None
    assert parse_raw_path("/me/drive").item_id is None
