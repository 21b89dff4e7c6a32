"""``$orderby`` on a folder's children, in the caller's view (``model.view.sees_child``).

``$orderby=name`` pages through a sorted index of the folder's names, built once per change of
the folder (O(n log n)) and then O(log n + page) a page; ``$orderby`` on ``size`` or
``lastModifiedDateTime`` sorts the folder's children on the first page (O(n log n) for a folder of
n children) and each next page resumes that sorted walk (O(page), ``paging``) while nothing
changed.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from itertools import islice

from ...model.errors import InvalidRequest
from ...model.identity import User
from ...model.ranges import LARGEST_OFFSET, whole_number_text
from ...model.state import State
from ...model.tree import Item
from ...model.view import sees_child
from . import paging

_NAME_INDEXES: weakref.WeakKeyDictionary[State, OrderedDict[str, tuple[int, list[str]]]]
_NAME_INDEXES = weakref.WeakKeyDictionary()
_INDEXES_PER_STATE = 64


def name_index(state: State, folder: Item) -> list[str]:
    """The folder's case-folded child names, sorted; rebuilt only when the folder changed
    (every change to a folder's children bumps its version)."""
    cache = _NAME_INDEXES.setdefault(state, OrderedDict())
    entry = cache.get(folder.id)
    if entry is not None and entry[0] == folder.version:
        cache.move_to_end(folder.id)
        return entry[1]
    keys = sorted(folder.children or ())
    cache[folder.id] = (folder.version, keys)
    while len(cache) > _INDEXES_PER_STATE:
        cache.popitem(last=False)
    return keys


def ordered_page(
    state: State,
    caller: User,
    folder: Item,
    orderby: tuple[str, bool],
    top: int,
    token: str | None,
) -> tuple[list[Item], str | None]:
    """One page of the folder's visible children in ``orderby`` order and the next token."""
    store = state.store
    prop, descending = orderby
    if prop == "name":
        keys = name_index(state, folder)
        if token is None:
            start = len(keys) - 1 if descending else 0
        elif not token.startswith("n:"):
            raise InvalidRequest("the $skiptoken does not belong to this listing")
        elif descending:
            start = bisect_left(keys, token[2:]) - 1
        else:
            start = bisect_right(keys, token[2:])
        step = -1 if descending else 1
        indexes = range(start, -1, -1) if descending else range(start, len(keys), step)
        children = folder.children or {}
        candidates = (store.items[children[keys[i]]] for i in indexes)
        seen = sees_child(store, caller, folder)
        page = list(islice(filter(seen, candidates), top + 1))
        more = len(page) > top
        page = page[:top]
        return page, ("n:" + page[-1].name.casefold()) if more and page else None
    if token is not None and not token.startswith("o:"):
        raise InvalidRequest("the $skiptoken does not belong to this listing")
    offset = 0 if token is None else whole_number_text(token[2:], "$skiptoken", 0, LARGEST_OFFSET)

    def walk() -> Iterator[Item]:
        if prop == "size":
            ordered = sorted(
                store.iter_children(folder),
                key=lambda c: (c.size, c.name.casefold()),
                reverse=descending,
            )
        else:
            ordered = sorted(
                store.iter_children(folder),
                key=lambda c: (c.fs_modified or c.modified, c.name.casefold()),
                reverse=descending,
            )
        return filter(sees_child(store, caller, folder), ordered)

    key = (caller.id, "ordered", folder.id, prop, descending)  # the sort once per listing
    page, more = paging.page(state, key, offset, top, walk, extra=folder.version)
    return page, f"o:{offset + top}" if more else None
