"""Changing items in place: rename, move, description, fileSystemInfo (PATCH); copying.

Each function checks everything first and changes nothing if any check fails. A move is
O(depth): permissions stay stored where they were granted, so the moved subtree inherits from
its new ancestors at once. A copy is O(size of the copied subtree the caller sees).

**A copy holds only what the caller can read.** The service copies as the caller, and the
copy inherits the destination's permissions, so copying a hidden item along would put it
where the caller (and whoever can read the destination) can read it. The copy walks the
caller's view (``model/view.py``): items the caller cannot see, and everything below them,
are left out without an error, and the copy's answer says nothing about them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidRequest, NameConflict, NotFound
from .identity import User
from .permissions import can_read, require_removable, require_role
from .state import CONFLICT_BEHAVIORS, State
from .tree import Item, is_within, numbered_name, relink, split_extension, validate_name
from .uploads import check_quota
from .view import visible_below


@dataclass(slots=True)
class ItemChange:
    """What a PATCH asks for; ``None`` leaves a property as it is."""

    name: str | None = None
    parent: Item | None = None
    description: str | None = None
    fs_created: str | None = None
    fs_modified: str | None = None
    conflict: str = "fail"


def update_item(state: State, caller: User, item: Item, change: ItemChange) -> Item:
    """Apply ``change`` to ``item`` as ``caller``, all or nothing."""
    store = state.store
    require_role(store, caller, item, "write")
    if change.conflict not in CONFLICT_BEHAVIORS:
        raise InvalidRequest(f"conflictBehavior must be one of {', '.join(CONFLICT_BEHAVIORS)}")
    moving = change.parent is not None and change.parent.id != item.parent_id
    renaming = change.name is not None and change.name != item.name
    if (moving or renaming) and item.parent_id is None:
        raise InvalidRequest("the root of a drive cannot be moved or renamed")
    target = change.parent if moving else None
    if target is not None:
        check_move(state, caller, item, target)
    parent = target or (store.items[item.parent_id] if item.parent_id else None)
    drive = store.drives[item.drive_id]
    name = item.name
    if change.name is not None:
        name = validate_name(change.name, drive.drive_type, item.is_folder)
    doomed: Item | None = None
    if (moving or renaming) and parent is not None:
        name, doomed = settle_conflict(state, caller, parent, name, change.conflict, item)
        store.check_path_after_move(item, parent, name)
    # Every check has passed: change the state.
    if doomed is not None:
        state.remove_item(doomed)
    moved_from = item.parent_id if target is not None else None
    if target is not None:
        relink(store, item, target, name)
    elif name != item.name and parent is not None:
        del parent.children[item.name.casefold()]
        store.name_freed(parent, item.name)
        parent.children[name.casefold()] = item.id
        parent.version += 1
        item.name = name
    if change.description is not None:
        item.description = change.description
    if change.fs_created is not None:
        item.fs_created = change.fs_created
    if change.fs_modified is not None:
        item.fs_modified = change.fs_modified
    elif item.fs_modified is None:  # the client's time stays: only the item's own one moves
        item.fs_modified = item.modified
    item.version += 1
    item.modified = state.clock.now()
    item.modified_by = caller.id
    # renamed, moved or changed: delta reports it (a move out of a caller's view as a removal)
    state.changed(item, moved_from=moved_from)  # with the second it was made at
    return item


def check_move(state: State, caller: User, item: Item, target: Item) -> None:
    """What the service requires of a move: a folder in the same drive, not below the item
    itself; write on the target and on the item's current parent (and on the item)."""
    store = state.store
    if not can_read(store, caller, target):  # an unseen target must not be told apart
        raise NotFound("the destination was not found")
    if target.drive_id != item.drive_id:
        raise InvalidRequest("items cannot be moved between drives", "invalidDestination")
    require_role(store, caller, target, "write")
    if not target.is_folder:
        raise InvalidRequest("the destination is a file, not a folder", "invalidDestination")
    if is_within(store, target, item):
        raise InvalidRequest(
            "an item cannot be moved into itself or one of its own descendants",
            "invalidDestination",
        )
    source_parent = store.items[item.parent_id or ""]
    require_role(store, caller, source_parent, "write")
    require_removable(store, caller, item)  # nothing the caller cannot write is moved away


def settle_conflict(
    state: State, caller: User, folder: Item, name: str, conflict: str, mover: Item | None
) -> tuple[str, Item | None]:
    """The name to use in ``folder`` and the sibling to remove first (``replace``).

    A sibling the caller cannot see still holds its name (names are unique in a folder), so it
    conflicts; it can be neither replaced nor revealed beyond that.
    """
    store = state.store
    existing = store.child(folder, name)
    if existing is None or existing is mover:
        return name, None
    if conflict == "rename":
        return store.free_name(folder, name), None
    if conflict == "fail" or not can_read(store, caller, existing):
        raise NameConflict(f"an item named {name!r} already exists")
    if mover is not None and is_within(store, mover, existing):
        raise InvalidRequest("an item cannot replace a folder that contains it")
    require_removable(store, caller, existing, name)  # nor anything below it it cannot write
    return name, existing


def copy_item(
    state: State,
    caller: User,
    source: Item,
    target: Item,
    name: object | None,
    conflict: str = "fail",
) -> Item:
    """Copy ``source`` (and the part of its subtree the caller sees) into the folder
    ``target``, as ``name`` if given.

    The caller needs read on the source and write on the target; the copy carries none of the
    source's own permissions and inherits the target's. Copies across drives are allowed.
    Every path the copy makes is checked against the limit before anything changes.
    """
    roles = require_role(state.store, caller, source, "read")
    plan = _check_copy(state, caller, source, roles, target, name, conflict)
    check_quota(state, target, _added_bytes(plan))
    return _apply_copy(state, caller, target, *plan)


def copy_children(
    state: State, caller: User, source: Item, target: Item, conflict: str = "fail"
) -> list[Item]:
    """``childrenOnly``: copy each child of the folder ``source`` that the caller sees (with
    what it sees below it) into ``target`` under its own name, but not ``source`` itself.
    Every child is checked, under the name it will take, before the first is copied, so a
    refusal copies nothing; with ``rename`` each later child is named against the copies
    made before it."""
    store = state.store
    roles = require_role(store, caller, source, "read")
    if not source.is_folder:
        raise InvalidRequest("childrenOnly copies the children of a folder; this is a file")
    children = [item for item, _ in visible_below(store, caller, source, roles)
                if item.parent_id == source.id]  # fmt: skip
    planned = [(child, require_role(store, caller, child, "read")) for child in children]
    plans, taken = [], set()  # taken: the names the earlier children's copies will have
    for child, child_roles in planned:
        plan = _check_copy(state, caller, child, child_roles, target, None, conflict, taken)
        taken.add(plan[0].casefold())
        plans.append(plan)
    check_quota(state, target, sum(_added_bytes(plan) for plan in plans))
    return [_apply_copy(state, caller, target, *plan) for plan in plans]


def _check_copy(
    state: State,
    caller: User,
    source: Item,
    roles: set[str],
    target: Item,
    name: object | None,
    conflict: str,
    taken: set[str] | None = None,
) -> tuple[str, Item | None, list[Item]]:
    """Every check of a copy, changing nothing: (its name, the item it replaces, the items it
    copies: ``source`` first, each item after its parent). ``taken``: case-folded names that
    copies made before this one will hold in ``target`` (a rename avoids them too)."""
    store = state.store
    require_role(store, caller, target, "write")
    if source.parent_id is None:
        raise InvalidRequest("the root of a drive cannot be copied")
    if not target.is_folder:
        raise InvalidRequest("the destination is a file, not a folder", "invalidDestination")
    if conflict not in CONFLICT_BEHAVIORS:
        raise InvalidRequest(f"conflictBehavior must be one of {', '.join(CONFLICT_BEHAVIORS)}")
    if is_within(store, target, source):
        raise InvalidRequest(
            "a folder cannot be copied into itself or one of its descendants",
            "invalidDestination",
        )
    drive = store.drives[target.drive_id]
    new_name = validate_name(source.name if name is None else name, drive.drive_type,
                             source.is_folder)  # fmt: skip
    new_name, doomed = settle_conflict(state, caller, target, new_name, conflict, None)
    if taken and new_name.casefold() in taken:  # only under rename: the children's names differ
        new_name = _free_name_beside(state, target, source.name, taken)
    if doomed is not None and is_within(store, source, doomed):
        raise InvalidRequest("a copy cannot replace the folder that holds its source")
    seen = [item for item, _ in visible_below(store, caller, source, roles)]
    store.check_path_length(target, len(new_name) + 1 + _longest_below(seen))
    return new_name, doomed, seen


def _added_bytes(plan: tuple[str, Item | None, list[Item]]) -> int:
    """What a planned copy adds to its target's drive: the files it copies, less the item it
    replaces."""
    _, doomed, seen = plan
    copied = sum(item.size for item in seen if not item.is_folder)
    return copied - (doomed.size if doomed is not None else 0)


def _free_name_beside(state: State, folder: Item, name: str, taken: set[str]) -> str:
    """The lowest numbered form of ``name`` (``name 1``, ``name 2``... before the extension)
    free in ``folder`` and not in ``taken``: ``free_name``'s answer once those are made."""
    stem, dot, ext = split_extension(name)
    number = 1
    while True:
        candidate = numbered_name(stem, number, dot, ext)
        if candidate.casefold() not in taken and state.store.child(folder, candidate) is None:
            return candidate
        number += 1


def _apply_copy(
    state: State, caller: User, target: Item, name: str, doomed: Item | None, seen: list[Item]
) -> Item:
    """Make the copy ``_check_copy`` planned (every check has passed)."""
    store = state.store
    if doomed is not None:
        state.remove_item(doomed)
    copy = _clone(state, caller, seen, target, name)
    for made in store.iter_subtree(copy):  # O(size of the copy), like the copy itself
        state.changed(made, created=True)
    return copy


def _longest_below(items: list[Item]) -> int:
    """The longest path below the first of ``items`` (a folder, then items below it, each
    after its parent), in characters, counted from the end of the first item's name."""
    lengths = {items[0].id: 0}
    longest = 0
    for item in items[1:]:
        length = lengths[item.parent_id or ""] + 1 + len(item.name)
        lengths[item.id] = length
        longest = max(longest, length)
    return longest


def _clone(state: State, caller: User, items: list[Item], target: Item, name: str) -> Item:
    """Copies of ``items`` (the source first, each item after its parent) under ``target``,
    the source's copy named ``name``: new ids, no permissions of their own."""
    store, now = state.store, state.clock.now()
    copies: dict[str, Item] = {}
    for original in items:
        parent = copies[original.parent_id or ""] if copies else target
        copy = Item(
            id=state.ids.item_id(),
            drive_id=target.drive_id,
            name=original.name if copies else name,
            parent_id=parent.id,
            is_folder=original.is_folder,
            created=now,
            modified=now,
            created_by=caller.id,
            modified_by=caller.id,
            size=0 if original.is_folder else original.size,
            mime_type=original.mime_type,
            content=original.content,
            filler=original.filler,
            children={} if original.is_folder else None,
            description=original.description,
            fs_created=original.fs_created or original.created,
            fs_modified=original.fs_modified or original.modified,
        )
        store.attach(parent, copy)
        copies[original.id] = copy
    return copies[items[0].id]


def record_copy_job(state: State, item: Item) -> str:
    """A finished copy's monitor id (the copy runs synchronously; the monitor reports it)."""
    job_id = state.ids.guid()
    jobs = state.copy_jobs
    jobs[job_id] = item.id
    while len(jobs) > 10_000:  # bounded: the oldest monitors are forgotten first
        del jobs[next(iter(jobs))]
    return job_id


def copy_job(state: State, job_id: str) -> str:
    """The id of the item a copy job made, or NotFound."""
    item_id = state.copy_jobs.get(job_id)
    if item_id is None:
        raise NotFound(f"no copy operation {job_id!r}")
    return item_id
