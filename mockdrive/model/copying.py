"""A quicker ``copy.deepcopy`` for the model's slotted classes.

Tests and the dashboard copy whole states (a template restored before each request, a
snapshot kept for later). ``copy.deepcopy`` reaches a slotted object through
``__reduce_ex__`` and a state tuple it copies too, and calls itself once for every string and
number in it: most of a state's copy. ``deepcopy_slots`` makes the same copy (every slot that
is set, each value deep-copied with the same memo, so what was shared stays shared) but takes
immutable scalars (and tuples of them) as they are, as ``copy.deepcopy`` does, without a call
each; a plain list, dict or deque is copied here, element by element in the same way, and an
object whose ``__deepcopy__`` is one of these is copied by it directly (as deepcopy would,
without its dispatch). A moment, a duration or a zone is taken as it is (immutable: deepcopy
would rebuild it through ``__reduce_ex__`` for a copy equal in every way).
``deepcopy_attrs`` does the same for a plain class's ``__dict__`` (the store, the directory,
the change log, the id source).
"""

from __future__ import annotations

import copy
import keyword
import random
from collections import deque
from datetime import date, datetime, timedelta, timezone
from typing import Any

# deepcopy returns these as is; and immutable values it would rebuild to no end (a moment, a
# duration, a zone: their copy equals them and nothing can change either), taken as they are too
_SCALARS = frozenset(
    {str, int, float, bool, bytes, type(None), datetime, date, timedelta, timezone}
)
_SLOTS: dict[type, tuple[str, ...]] = {}
_MISSING = object()


def _slots_of(cls: type) -> tuple[str, ...]:
    names = _SLOTS.get(cls)
    if names is None:
        found: list[str] = []
        for klass in reversed(cls.__mro__):
            slots = klass.__dict__.get("__slots__", ())
            for name in (slots,) if isinstance(slots, str) else slots:
                if name in ("__weakref__", "__dict__"):
                    continue
                if name.startswith("__") and not name.endswith("__"):  # a private name
                    owner = klass.__name__.lstrip("_")
                    name = f"_{owner}{name}" if owner else name
                if name not in found:
                    found.append(name)
        names = _SLOTS[cls] = tuple(found)
    return names


def _copied(value: Any, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy(value, memo)`` for a value that is not a scalar, with a plain list or
    dict copied here (registered in ``memo`` first and kept alive there, as deepcopy does)
    and a tuple of scalars given back as it is (as deepcopy gives it back)."""
    kind = type(value)
    scalars = _SCALARS
    if kind is tuple:
        if scalars.issuperset(map(type, value)):
            return value
        return copy.deepcopy(value, memo)
    if kind is random.Random:  # what its __reduce__ leads deepcopy to, without copying
        found = memo.get(id(value), _MISSING)  # the 625 numbers of its state one by one
        if found is _MISSING:
            found = memo[id(value)] = random.Random.__new__(random.Random)  # not seeded
            found.setstate(value.getstate())
            memo.setdefault(id(memo), []).append(value)
        return found
    if kind is set and scalars.issuperset(map(type, value)):  # ids, addresses
        found = memo.get(id(value), _MISSING)
        if found is _MISSING:
            found = memo[id(value)] = set(value)
            memo.setdefault(id(memo), []).append(value)  # copy's keep-alive
        return found
    if kind is deque:  # the change log's, the journal's, the outbox's: as deepcopy makes it
        found = memo.get(id(value), _MISSING)
        if found is _MISSING:
            found = memo[id(value)] = deque(maxlen=value.maxlen)
            for item in value:
                found.append(item if type(item) in scalars else _copied(item, memo))
            memo.setdefault(id(memo), []).append(value)  # copy's keep-alive
        return found
    if kind is not list and kind is not dict:
        method = getattr(kind, "__deepcopy__", None)
        if method is deepcopy_slots or method is deepcopy_attrs:  # what deepcopy would call
            found = memo.get(id(value), _MISSING)
            if found is _MISSING:
                found = method(value, memo)  # registers itself in ``memo``
                memo.setdefault(id(memo), []).append(value)  # copy's keep-alive
            return found
        return copy.deepcopy(value, memo)
    found = memo.get(id(value), _MISSING)
    if found is not _MISSING:
        return found
    result: Any
    if kind is list:
        result = []
        memo[id(value)] = result
        for item in value:
            result.append(item if type(item) in scalars else _copied(item, memo))
    else:
        result = {}
        memo[id(value)] = result
        for key, item in value.items():
            if type(key) not in scalars:
                key = copy.deepcopy(key, memo)
            result[key] = item if type(item) in scalars else _copied(item, memo)
    memo.setdefault(id(memo), []).append(value)  # copy's keep-alive
    return result


def _written_name(name: str) -> bool:
    """Can ``self.<name>`` in source code reach the slot ``name``? Not for a keyword (a syntax
    error), nor for a name that is not ASCII: the parser folds an identifier to its NFKC form
    (``\ufb01le`` is read as ``file``), which a slot's name is not."""
    return name.isascii() and name.isidentifier() and not keyword.iskeyword(name)


def _slots_copier(cls: type) -> Any:
    """A function ``(self, memo) -> copy`` that does what ``_looped_copy`` does for an
    instance of ``cls``, written out slot by slot (no loop, no ``getattr`` call per slot):
    the model's states copy thousands of these objects. ``_looped_copy`` itself where a slot's
    name cannot be written out."""
    names = _slots_of(cls)
    if not all(_written_name(name) for name in names):
        return _looped_copy
    # a slot set as ``new.name = …`` goes through the class's ``__setattr__``: only while
    # that is object's own (checked on each copy: a class may be given one later); the loop
    # sets each slot with object's, whatever the class's
    plain = cls.__setattr__ is object.__setattr__
    lines = ["def copier(self, memo):"]
    if plain:
        lines.append("    if cls.__setattr__ is not object_setattr: return looped(self, memo)")
    lines += ["    new = cls.__new__(cls)", "    memo[id(self)] = new"]
    for name in names:
        target = f"new.{name} = " if plain else f"object_setattr(new, {name!r}, "
        close = "" if plain else ")"
        lines += [
            "    try:",
            f"        value = self.{name}",
            "    except AttributeError:",  # a slot never set stays unset
            "        pass",
            "    else:",
            "        kind = type(value)",
            f"        {target}value if kind in scalars or kind is tuple and"
            f" scalars.issuperset(map(type, value)) else copied(value, memo){close}",
        ]
    lines.append("    return new")
    namespace = {"cls": cls, "object_setattr": object.__setattr__, "looped": _looped_copy,
                 "scalars": _SCALARS, "copied": _copied}  # fmt: skip
    exec("\n".join(lines), namespace)  # code made of slot names only (``_written_name``)
    return namespace["copier"]


_SLOTS_COPIERS: dict[type, Any] = {}


def deepcopy_slots(self: Any, memo: dict[int, Any]) -> Any:
    """``__deepcopy__`` for a class whose instances hold everything in ``__slots__`` (and for
    a subclass of one that adds a ``__dict__``: that is copied too)."""
    cls = type(self)
    if cls.__dictoffset__:
        return _looped_copy(self, memo)
    copier = _SLOTS_COPIERS.get(cls)
    if copier is None:
        copier = _SLOTS_COPIERS[cls] = _slots_copier(cls)
    return copier(self, memo)


def _looped_copy(self: Any, memo: dict[int, Any]) -> Any:
    """``deepcopy_slots``, one slot at a time (and the ``__dict__`` of a subclass that has
    one)."""
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
    if cls.__dictoffset__:  # a subclass without __slots__ keeps more in its __dict__
        new.__dict__.update(_copied(self.__dict__, memo))
    return new


def deepcopy_attrs(self: Any, memo: dict[int, Any]) -> Any:
    """``__deepcopy__`` for a plain class whose instances hold everything in ``__dict__`` (and
    for a subclass of one that adds ``__slots__``: those are copied too)."""
    cls = type(self)
    new = cls.__new__(cls)
    memo[id(self)] = new
    scalars = _SCALARS
    target = new.__dict__
    for name, value in self.__dict__.items():
        target[name] = value if type(value) in scalars else _copied(value, memo)
    for name in _slots_of(cls):  # a subclass that adds ``__slots__`` keeps those beside
        try:
            value = getattr(self, name)
        except AttributeError:  # a slot never set stays unset
            continue
        object.__setattr__(new, name, value if type(value) in scalars else _copied(value, memo))
    return new
