"""Offset paging at the cost of one page: paused walks that the next page resumes.

A ``$skiptoken`` of a listing is an offset (mockdrive's links write ``str(offset)``; a first
delta round's carries the state's delta token before it, ``model.delta.make_walk_token``, so a
reset or a state load answers 410 as a stale deltaLink does), and the answer to a page is
defined as items ``offset…offset+top`` of the listing computed now. Computing that from the
start costs O(offset + page), so reading a listing to its end cost O(n² / page).
Here, after serving a page, the walk that produced it is kept paused, keyed by who asked, which
listing and the offset where it stopped; the next page's request (the ``@odata.nextLink`` just
handed out, directly or inside ``$batch``) resumes it in O(page).

A paused walk is resumed only while nothing that could change the listing has happened: the
state's change log (every create, rename, move, content change, delete and sharing change that
``delta`` reports, expiries included), its generation (a reset) and its clock's version (every
write reads the clock; the wall passing alone does not count, so a clock that follows the wall
keeps walks resumable) are as they were, and so is anything else the listing names (``extra``: a
folder's version, a policy value, the time where the listing depends on it).
Otherwise, or when the walk is gone (evicted, another process, a reloaded state), the page is
computed from the start by offset: the answer is the same either way, and the token's text is
the offset as before. A walk belongs to the caller who got it: another caller presenting the
same link gets the page computed for them.

Memory: at most ``MAX_WALKS`` paused walks per state, least recently used first out; each holds
what its walk holds (for a depth-first walk, the folders entered and their pending children;
for a sorted listing, the sorted list).
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from itertools import islice
from typing import Any, TypeVar

from ...model.state import State

T = TypeVar("T")
MAX_WALKS = 1000

_WALKS: weakref.WeakKeyDictionary[State, OrderedDict[tuple, tuple[tuple, Any, Iterator]]]
_WALKS = weakref.WeakKeyDictionary()


def stamp(state: State, extra: Hashable = ()) -> tuple:
    """What must be unchanged for a paused walk to give what a fresh one would."""
    log = state.changes
    return (log.generation, log.serial, state.clock.version, extra)


def page(
    state: State,
    key: tuple,
    offset: int,
    top: int,
    walk: Callable[[], Iterator[T]],
    extra: Hashable = (),
) -> tuple[list[T], bool]:
    """Items ``offset…offset+top`` of what ``walk()`` yields, and whether more follow.

    ``key`` names the caller and the listing (everything that decides what ``walk`` yields).
    What ``walk()`` returns is kept in a table weakly keyed by ``state``: it must not hold the
    state (nor a ``Call``), or the state would never be freed; the store and the caller are fine.
    ``offset`` is within ``model.ranges.LARGEST_OFFSET`` (the caller checked it). O(top)
    when the previous page of the same key paused there, else O(offset + top)."""
    walks = _WALKS.get(state)
    if walks is None:
        walks = _WALKS[state] = OrderedDict()
    now = stamp(state, extra)
    paused = walks.pop((*key, offset), None) if offset else None
    if paused is not None and paused[0] == now:
        _, head, rest = paused
        found = [head, *islice(rest, top)]
    else:
        rest = walk()
        found = list(islice(rest, offset, offset + top + 1))
    if len(found) <= top:
        return found, False
    walks[(*key, offset + top)] = (now, found[top], rest)
    while len(walks) > MAX_WALKS:
        walks.popitem(last=False)
    return found[:top], True


def paused_walks(state: State) -> int:
    """How many walks are paused for ``state`` (for tests and the docs' memory bound)."""
    walks = _WALKS.get(state)
    return len(walks) if walks is not None else 0
