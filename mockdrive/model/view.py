"""What one caller sees at and below an item, and with which roles: the one walk every
operation that lists, syncs, searches or copies on a caller's behalf goes through.

Roles are computed top-down, as ``roles_down`` does along one path: a child's roles are its own
held permissions, plus its parent's roles if it inherits, plus ``owner`` if the caller owns the
drive. A child that inherits from a visible parent is therefore always visible (roles only add
up), so only children that stop inheriting need a look at their own permissions. The walk
prunes at an item the caller cannot see and never descends below it: the cost is O(depth of the
start + visible items + hidden children of visible folders), never O(drive).

**An item shared with the caller below a folder they cannot see is not in the view.** As in
Graph, listing (or delta, or copying) the folder above does not show it, even though the
caller may read it: they reach it through ``sharedWithMe``, by its id, or as a search hit
(``search`` adds such items on purpose, as the service's search includes what was shared with
the caller).

Roles sets handed out may be shared between items (a child that inherits and holds nothing of
its own gets its parent's set): read them, never change them.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator
from typing import TYPE_CHECKING

from .permissions import held_candidates, owns_drive, roles_down, roles_of

if TYPE_CHECKING:
    from .identity import User
    from .tree import DriveStore, Item

NO_ROLES: frozenset[str] = frozenset()


def child_roles(
    caller: User, child: Item, parent_roles: set[str] | frozenset[str], owner: bool
) -> set[str] | frozenset[str]:
    """The caller's roles on ``child`` given their roles on its parent (O(the child's own
    permissions that may apply to the caller)); empty: hidden. ``owner``: the caller owns
    the drive (``owns_drive``). An app-only caller's roles are the same all through a drive."""
    if caller.app is not None:
        return parent_roles
    permissions = child.permissions
    if not permissions:
        if child.inherits:
            return parent_roles
        return {"owner"} if owner else NO_ROLES
    held = {r for p in held_candidates(child, caller) if p.holds(caller) for r in p.roles}
    if child.inherits:
        return held | parent_roles if held else parent_roles
    if owner:
        held.add("owner")
    return held


def visible_children(
    store: DriveStore, caller: User, folder: Item, folder_roles: set[str] | frozenset[str]
) -> Iterator[tuple[Item, set[str] | frozenset[str]]]:
    """(child, roles) for each child of ``folder`` the caller sees, in the folder's order,
    given the caller's (non-empty) roles on the folder."""
    if not folder.children:
        return
    owner = owns_drive(store, caller, folder)
    items = store.items
    for child_id in folder.children.values():
        child = items[child_id]
        roles = child_roles(caller, child, folder_roles, owner)
        if roles:
            yield child, roles


def visible_child_items(
    store: DriveStore, caller: User, folder: Item, folder_roles: set[str] | frozenset[str]
) -> Iterator[Item]:
    """``visible_children`` without the roles, for listings: each child of ``folder`` the
    caller sees, in the folder's order. A child that inherits and holds nothing of its own
    (most of a folder) is seen at the cost of one test."""
    if not folder.children:
        return
    owner = owns_drive(store, caller, folder)
    items = store.items
    for child_id in folder.children.values():
        child = items[child_id]
        if (child.inherits and not child.permissions) or child_roles(
            caller, child, folder_roles, owner
        ):  # (the first test: child_roles would give the folder's roles, never empty)
            yield child


def sees_child(store: DriveStore, caller: User, folder: Item) -> Callable[[Item], bool]:
    """A test of one child of ``folder`` against the caller's view, for listings that order the
    children first (``$orderby``): O(1) for a child that inherits and holds nothing."""
    roles = roles_of(store, caller, folder)
    owner = owns_drive(store, caller, folder)
    return lambda child: bool(roles) and bool(child_roles(caller, child, roles, owner))


def visible_below(
    store: DriveStore,
    caller: User,
    item: Item,
    roles: set[str] | frozenset[str] | None = None,
    prune: Container[str] = (),
) -> Iterator[tuple[Item, set[str] | frozenset[str]]]:
    """(item, roles) for ``item`` and everything below it the caller sees, depth first in the
    order ``store.iter_subtree`` gives (a folder, then each child's subtree in the folder's
    order), pruning at items the caller cannot see. Nothing if the caller cannot see ``item``.
    ``roles``: the caller's roles on ``item`` when already known (saves the walk up).
    ``prune``: ids of items given but not walked below (``item`` itself is walked)."""
    top_roles = roles_of(store, caller, item) if roles is None else roles
    if not top_roles:
        return
    owner = owns_drive(store, caller, item)
    items = store.items
    stack: list[tuple[Item, set[str] | frozenset[str]]] = [(item, top_roles)]
    while stack:
        current, current_roles = stack.pop()
        yield current, current_roles
        children = current.children
        if not children or (prune and current is not item and current.id in prune):
            continue
        shown = []
        for child_id in children.values():
            child = items[child_id]
            roles_here = child_roles(caller, child, current_roles, owner)
            if roles_here:
                shown.append((child, roles_here))
        shown.reverse()
        stack.extend(shown)


def roles_within(store: DriveStore, caller: User, top: Item, item: Item) -> set[str]:
    """The caller's roles on ``item`` if it is in the view from ``top`` (``top`` itself or
    below it, with every item on the way down visible); empty otherwise. O(depth)."""
    chain = [item]
    current = item
    while current is not top:
        if current.parent_id is None:
            return set()
        current = store.items[current.parent_id]
        chain.append(current)
    chain.reverse()
    found = roles_down(store, caller, chain)
    return found[-1] if all(found) else set()


def search(
    store: DriveStore, caller: User, start: Item, query: str, also: Iterable[Item] = ()
) -> Iterator[Item]:
    """Items below ``start`` whose name contains ``query`` (case-insensitive) that the caller
    can see: the view below each of ``also`` (items of other drives shared with the caller,
    for a drive-wide search; first, as the docs' sample lists them), the caller's view below
    ``start``, then, as the service's search includes what was shared with the caller, the
    view below each item shared with them inside parts of it they cannot see. O(items the
    caller can see + their hidden children + depth x items shared in the drive)."""
    needle = query.casefold()
    visited: set[str] = set()
    tops: set[str] = set()  # the items walked from: a later walk stops at them

    def walk(top: Item) -> Iterator[Item]:
        tops.add(top.id)
        for item, _ in visible_below(store, caller, top, prune=tops):
            if item.id in visited:  # an earlier walk's top (a share inside a later one)
                continue
            visited.add(item.id)
            if item is not start and needle in item.name.casefold():
                yield item

    for item in also:  # items of other drives shared with the caller (a drive-wide search)
        if item.id not in visited:
            yield from walk(item)
    yield from walk(start)
    shared = []  # grants held by the caller below start, inside parts not walked yet
    for item_id in store.drives[start.drive_id].shared_item_ids:
        item = store.items.get(item_id)
        if item is None or item is start or not any(p.holds(caller) for p in item.permissions):
            continue
        ancestors = list(store.ancestors(item))
        if start in ancestors:
            shared.append((len(ancestors), item.id, item))
    for _, _, item in sorted(shared, key=lambda entry: entry[:2]):  # shallowest first
        if item.id not in visited:
            yield from walk(item)
