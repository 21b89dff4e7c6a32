"""``deepcopy_slots``'s written-out copiers (model/copying.py) against odd slotted classes.

Each class below is copied with ``deepcopy_slots`` and with the loop it replaced (kept in
test_state_copy.py as the reference); both copies must hold the same values in the same shape, with
what the original shares shared alike, and leave the original as it was.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from test_state_copy import reference_deepcopy_slots

from mockdrive.model import copying
from mockdrive.model.copying import deepcopy_slots


def slots_of(value: Any) -> dict[str, Any]:
    """The slots ``value`` has set, by name (an unset one is absent)."""
    return {
        name: getattr(value, name)
        for name in copying._slots_of(type(value))
        if hasattr(value, name)
    }


def as_the_loop_copies(original: Any) -> Any:
    """``copy.deepcopy(original)``, checked against the loop's copy of it."""
    expected = reference_deepcopy_slots(original, {})
    before = slots_of(original)
    copied = copy.deepcopy(original)
    assert copied is not original and type(copied) is type(original)
    assert slots_of(copied) == slots_of(expected)
    assert slots_of(original) == before
    return copied


def slotted(name: str, slots: tuple[str, ...], bases: tuple[type, ...] = ()) -> type:
    return type(name, bases, {"__slots__": slots, "__deepcopy__": deepcopy_slots})


def test_a_slot_named_as_a_keyword_is_copied() -> None:
    """``self.class`` cannot be written in source: the copier is not made of it."""
    cls = slotted("Keyworded", ("class", "x", "None"))
    original = cls()
    held = ["a"]
    setattr(original, "class", held)
    original.x = 2
    setattr(original, "None", "kept")
    copied = as_the_loop_copies(original)
    assert getattr(copied, "class") == ["a"] and getattr(copied, "class") is not held
    assert getattr(copied, "None") == "kept"


def test_a_slot_whose_name_the_parser_would_fold_is_copied() -> None:
    """The parser reads an identifier in its NFKC form (the ligature ``ﬁ`` as ``fi``), so
    ``self.ﬁle`` in source reads the attribute ``file``: the slot was silently left unset."""
    ligature = "\ufb01le"
    cls = slotted("Folded", (ligature, "file"))
    original = cls()
    setattr(original, ligature, "the ligature's")
    copied = as_the_loop_copies(original)
    assert getattr(copied, ligature) == "the ligature's"
    assert not hasattr(copied, "file")


def test_a_setattr_given_to_the_class_later_is_not_called() -> None:
    """The loop set every slot with object's ``__setattr__``; a class given its own after its
    first copy (a frozen one, say) is copied the same way, not through it."""
    cls = slotted("LaterFrozen", ("a", "b"))
    original = cls()
    original.a = [1, 2]
    copy.deepcopy(original)  # the copier is made now, while the class sets plainly

    def refuse(self: Any, name: str, value: Any) -> None:
        raise AttributeError(f"{name} is frozen")

    cls.__setattr__ = refuse  # type: ignore[method-assign]
    copied = as_the_loop_copies(original)
    assert copied.a == [1, 2] and not hasattr(copied, "b")


def test_private_slots_of_a_class_and_its_subclass_are_both_copied() -> None:
    class Base:
        __slots__ = ("__secret", "shared")
        __deepcopy__ = deepcopy_slots

        def __init__(self) -> None:
            self.__secret = ["base"]

    class _Sub(Base):
        __slots__ = ("__secret", "extra")

        def __init__(self) -> None:
            super().__init__()
            self.__secret = ["sub"]

    original = _Sub()
    original.shared = {"k": [1]}
    copied = as_the_loop_copies(original)
    assert copied._Base__secret == ["base"] and copied._Sub__secret == ["sub"]
    assert not hasattr(copied, "extra")


def test_shared_values_stay_shared_and_the_sides_stay_apart() -> None:
    cls = slotted("Pair", ("left", "right", "loop"))
    inner = [1, {"deep": [2]}]
    original = cls()
    original.left = inner
    original.right = (inner, "t")
    original.loop = original  # a cycle back to itself
    first = copy.deepcopy(original)
    expected = reference_deepcopy_slots(original, {})
    assert first.left == expected.left and first.right == expected.right
    assert first.right[0] is first.left and first.loop is first
    assert expected.right[0] is expected.left and expected.loop is expected
    second = copy.deepcopy(first)  # a copy of a copy
    assert second.right[0] is second.left and second.loop is second
    first.left[1]["deep"].append(3)
    assert inner == [1, {"deep": [2]}] and second.left == [1, {"deep": [2]}]
    inner.append("original's")
    assert first.left == [1, {"deep": [2, 3]}]


def test_a_class_redefined_at_run_time_copies_its_own_slots() -> None:
    old = slotted("Again", ("a",))
    new = slotted("Again", ("a", "b"))
    one, two = old(), new()
    one.a, two.a, two.b = [1], [2], [3]
    assert slots_of(copy.deepcopy(one)) == {"a": [1]}
    assert slots_of(copy.deepcopy(two)) == {"a": [2], "b": [3]}


@pytest.mark.parametrize("with_dict", [False, True])
def test_a_subclass_adding_slots_or_a_dict(with_dict: bool) -> None:
    base = slotted("Base2", ("a",))
    namespace: dict[str, Any] = {} if with_dict else {"__slots__": ("b",)}
    cls = type("Sub2", (base,), namespace)
    original = cls()
    original.a = [1]
    original.b = {"x": [2]}
    copied = as_the_loop_copies(original)
    assert copied.b == {"x": [2]} and copied.b is not original.b


def test_a_new_given_to_the_class_later_makes_the_copy() -> None:
    """The loop made each copy with the class's ``__new__`` as it is at the copy."""
    cls = slotted("LaterNew", ("a",))
    original = cls()
    original.a = "kept"
    copy.deepcopy(original)  # the copier is made now, with object's ``__new__``
    made: list[type] = []

    def counted_new(klass: type) -> Any:
        made.append(klass)
        return object.__new__(klass)

    cls.__new__ = counted_new  # type: ignore[method-assign]
    copied = as_the_loop_copies(original)
    assert copied.a == "kept" and made == [cls, cls]  # the reference's copy, then this one
