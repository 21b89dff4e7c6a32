"""A quicker ``copy.deepcopy`` for the model's slotted classes.

Tests and the dashboard copy whole states (a template restored before each request, a
snapshot kept for later). ``copy.deepcopy`` reaches a slotted object through
``__reduce_ex__`` and a state tuple it copies too, and calls itself once for every string and
number in it: most of a state's copy. ``deepcopy_slots`` makes the same copy (every slot that
is set, each value deep-copied with the same memo, so what was shared stays shared) but takes
immutable scalars (and tuples of them) as they are, as ``copy.deepcopy`` does, without a call
each; a plain list or dict of scalars (roles, a folder's children by name) is copied in one
step.
"""

from __future__ import annotations

import copy
from typing import Any

_SCALARS = frozenset({str, int, float, bool, bytes, type(None)})  # deepcopy returns these as is
_SLOTS: dict[type, tuple[str, ...]] = {}
_MISSING = object()


def _slots_of(cls: type) -> tuple[str, ...]:
    names = _SLOTS.get(cls)
    if names is None:
        found: list[str] = []
        for klass in reversed(cls.__mro__):
            for name in klass.__dict__.get("__slots__", ()):
                if name not in ("__weakref__", "__dict__") and name not in found:
                    found.append(name)
        names = _SLOTS[cls] = tuple(found)
    return names


def _copied(value: Any, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy(value, memo)``, with its result for a plain list or dict of scalars
    made in one step (registered in ``memo`` and kept alive there, as deepcopy does)."""
    kind = type(value)
    if kind is tuple and all(type(v) in _SCALARS for v in value):
        return value  # deepcopy gives back a tuple whose items all copy to themselves
    if kind is list or kind is dict:
        found = memo.get(id(value), _MISSING)
        if found is not _MISSING:
            return found
        scalars = _SCALARS
        if kind is list:
            if not all(type(v) in scalars for v in value):
                return copy.deepcopy(value, memo)
            result: Any = list(value)
        else:
            if not all(type(k) in scalars and type(v) in scalars for k, v in value.items()):
                return copy.deepcopy(value, memo)
            result = dict(value)
        memo[id(value)] = result
        memo.setdefault(id(memo), []).append(value)  # copy's keep-alive
        return result
    return copy.deepcopy(value, memo)


def deepcopy_slots(self: Any, memo: dict[int, Any]) -> Any:
    """``__deepcopy__`` for a class whose instances hold everything in ``__slots__``."""
    cls = type(self)
    new = cls.__new__(cls)
    memo[id(self)] = new
    scalars = _SCALARS
    for name in _slots_of(cls):
        try:
            value = getattr(self, name)
        except AttributeError:  # a slot never set stays unset
            continue
        object.__setattr__(new, name, value if type(value) in scalars else _copied(value, memo))
    return new
