"""Check scenario data against ``scenario.schema.json``, in words, without building every error.

A small interpreter of the JSON Schema keywords the scenario schema uses (``type``, ``enum``,
``properties``, ``required``, ``additionalProperties``, ``items``, ``minItems``, ``minLength``,
``minimum``, ``maximum``, ``pattern``, ``anyOf`` of ``required``, ``$ref``). It walks the data
with an explicit stack (any depth), reports problems in document order and stops after
``limit`` of them. ``tests/test_scenario.py`` checks it agrees with ``jsonschema`` on the
schema itself.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from ..model.text import is_unicode
from .load import MAX_REPORTED_PROBLEMS, PathParts

SCHEMA_FILE = "scenario.schema.json"
Found = tuple[PathParts, str, bool]  # (path, reason, the problem is the key itself)

# what each $defs entry is called in a message ("a permission needs roles")
_NOUNS = {
    "user": "a user",
    "group": "a group",
    "drive": "a drive",
    "root": "a drive root",
    "item": "an item",
    "permission": "a permission",
    "policy": "the policy",
    "faultRule": "a fault rule",
}
_TYPE_WORDS = {
    "object": "a mapping (key: value)",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}
_PATTERN_WORDS = {"email": "not an e-mail address"}


@cache
def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of the scenario format, as shipped in the package."""
    return json.loads(resources.files("mockdrive").joinpath(SCHEMA_FILE).read_text("utf-8"))


def _inline_patterns(schema: Any) -> list[str]:
    """Every ``pattern`` anywhere in the schema, walked iteratively."""
    found, stack = [], [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.append(node["pattern"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


@cache
def _compiled() -> dict[str, Any]:
    """$ref → (name, schema); patterns compiled once."""
    schema = scenario_schema()
    patterns = {}
    for name, definition in schema["$defs"].items():
        if "pattern" in definition:
            patterns[definition["pattern"]] = (re.compile(definition["pattern"]), name)
    for inline in _inline_patterns(schema):  # a pattern written in place, not as a $def
        patterns.setdefault(inline, (re.compile(inline), None))
    return {"defs": schema["$defs"], "patterns": patterns}


def describe(value: Any) -> str:
    """A value's kind in words (for "must be text, not a list")."""
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _type_ok(value: Any, expected: str) -> bool:
    if expected == "string":
        return isinstance(value, str)
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


def check_schema(data: Any, limit: int = MAX_REPORTED_PROBLEMS) -> list[Found]:
    """Problems of ``data`` against the scenario schema, in document order, at most ``limit``.

    Valid data (the common case) is recognised by a quick check that builds no message; only
    when that finds something wrong are the problems worked out (by ``schema_problems``).
    """
    if is_valid(data):
        return []
    return schema_problems(data, limit)


def is_valid(data: Any) -> bool:
    """Does ``data`` follow the scenario schema? Exactly when ``schema_problems`` finds none;
    False also when the data is nested too deep for this recursive check to decide."""
    try:
        return _validator()(data)
    except RecursionError:
        return False


def schema_problems(data: Any, limit: int = MAX_REPORTED_PROBLEMS) -> list[Found]:
    """What ``check_schema`` reports, worked out in full (any depth, messages and paths).

    Paths are kept as links ``(parent link, key)`` while walking and made into tuples only
    for a problem found: a walk over valid parts builds none."""
    compiled = _compiled()
    defs, patterns = compiled["defs"], compiled["patterns"]
    found: list[Found] = []
    stack: list[tuple[dict[str, Any], Any, _Link, str | None]] = [
        (scenario_schema(), data, None, None)
    ]
    while stack and len(found) < limit:
        schema, value, link, noun = stack.pop()
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            noun = _NOUNS.get(name, noun)
            schema = defs[name]
        expected = schema.get("type")
        if expected is not None and not _type_ok(value, expected):
            found.append(
                (_parts(link), f"must be {_TYPE_WORDS[expected]}, not {describe(value)}", False)
            )
            continue
        if "enum" in schema:
            options = schema["enum"]
            if isinstance(value, bool | dict | list) or value not in options:
                shown = ", ".join(str(o) for o in options)
                found.append((_parts(link), f"{value!r} is not one of: {shown}", False))
            continue
        if isinstance(value, str):
            if not is_unicode(value):
                found.append((_parts(link), "not valid Unicode text (a lone surrogate)", False))
            elif len(value) < schema.get("minLength", 0):
                found.append((_parts(link), "must not be empty", False))
            elif "pattern" in schema:
                regex, name = patterns[schema["pattern"]]
                if not regex.search(value):
                    words = _PATTERN_WORDS.get(name or "", f"does not match {schema['pattern']}")
                    found.append((_parts(link), f"{value!r} is {words}", False))
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            if "minimum" in schema and value < schema["minimum"]:
                found.append((_parts(link), f"must be at least {schema['minimum']}", False))
            elif "maximum" in schema and value > schema["maximum"]:
                found.append((_parts(link), f"must be at most {schema['maximum']}", False))
            continue
        if isinstance(value, list):
            if len(value) < schema.get("minItems", 0):
                found.append((_parts(link), "needs at least one entry", False))
            items = schema.get("items")
            if items is not None:
                for index in range(len(value) - 1, -1, -1):
                    stack.append((items, value[index], (link, index), noun))
            continue
        if isinstance(value, dict):
            _check_mapping(schema, value, link, noun or "the scenario", found, stack)
    return found[:limit]


_Link = tuple[Any, Any] | None  # (parent link, key); None: the document itself


def _parts(link: _Link) -> PathParts:
    """A link's path as a tuple, from the document down."""
    keys = []
    while link is not None:
        link, key = link
        keys.append(key)
    return tuple(reversed(keys))


def _check_mapping(
    schema: dict[str, Any],
    value: dict[Any, Any],
    link: _Link,
    noun: str,
    found: list[Found],
    stack: list[tuple[dict[str, Any], Any, _Link, str | None]],
) -> None:
    properties = schema.get("properties", {})
    for key in schema.get("required", ()):
        if key not in value:
            found.append((_parts(link), f"{noun} needs '{key}'", False))
    alternatives = schema.get("anyOf")
    if alternatives and not any(all(k in value for k in a["required"]) for a in alternatives):
        names = " or ".join(f"'{k}'" for a in alternatives for k in a["required"])
        found.append((_parts(link), f"{noun} needs {names}", False))
    children = []
    for key, child in value.items():
        if key in properties:
            children.append((properties[key], child, (link, key), None))
        elif schema.get("additionalProperties") is False:
            found.append((_key_path(_parts(link), key), _unknown_key(key, properties), True))
    stack.extend(reversed(children))


def _key_path(path: PathParts, key: Any) -> PathParts:
    return (*path, key if isinstance(key, str | int) and not isinstance(key, bool) else str(key))


def _unknown_key(key: Any, properties: dict[str, Any]) -> str:
    known = sorted(properties)
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown key (expected one of: {', '.join(known)}{hint})"


# -- the quick check: the schema compiled once into small functions value → bool ------------
# Each mirrors, keyword for keyword and in the same order, what ``schema_problems`` does with
# its node, so that a value passes here exactly when no problem would be reported there.
Check = Callable[[Any], bool]


def _accept(value: Any) -> bool:
    return True


@cache
def _validator() -> Check:
    defs = scenario_schema()["$defs"]
    patterns = _compiled()["patterns"]
    done: dict[str, Check] = {}
    building: set[str] = set()

    def reference(name: str) -> Check:
        if name in done:
            return done[name]
        if name in building:  # a definition that contains itself (an item's children)
            return lambda value: done[name](value)
        building.add(name)
        done[name] = compile_node(defs[name])
        return done[name]

    def compile_node(schema: dict[str, Any]) -> Check:
        if "$ref" in schema:  # what schema_problems does: the $ref replaces the node
            return reference(schema["$ref"].rsplit("/", 1)[-1])
        expected = schema.get("type")
        if "enum" in schema:
            return _enum_check(schema["enum"], expected)
        strings = _string_check(schema, patterns)
        numbers = _number_check(schema)
        lists = _list_check(schema, compile_node)
        mappings = _mapping_check(schema, compile_node)
        if expected == "string":
            return strings
        if expected in ("integer", "number"):
            number_type = int if expected == "integer" else (int, float)
            return lambda value: (
                isinstance(value, number_type) and not isinstance(value, bool) and numbers(value)
            )
        if expected == "boolean":
            return lambda value: isinstance(value, bool)
        if expected == "array":
            return lists
        if expected == "object":
            return mappings

        def any_type(value: Any) -> bool:  # no type given (or one that accepts anything)
            if isinstance(value, str):
                return strings(value)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return numbers(value)
            if isinstance(value, list):
                return lists(value)
            if isinstance(value, dict):
                return mappings(value)
            return True

        return any_type

    return compile_node(scenario_schema())


def _enum_check(options: list[Any], expected: str | None) -> Check:
    def check(value: Any) -> bool:
        if expected is not None and not _type_ok(value, expected):
            return False
        return not isinstance(value, bool | dict | list) and value in options

    return check


def _string_check(schema: dict[str, Any], patterns: dict[str, Any]) -> Check:
    """``str`` values (anything else fails: only called where text is expected or known)."""
    min_length = schema.get("minLength", 0)
    regex = patterns[schema["pattern"]][0] if "pattern" in schema else None
    if regex is not None:
        search = regex.search
        return lambda value: (
            isinstance(value, str)
            and is_unicode(value)
            and len(value) >= min_length
            and search(value) is not None
        )
    if min_length:
        return lambda value: (
            isinstance(value, str) and len(value) >= min_length and is_unicode(value)
        )
    return lambda value: isinstance(value, str) and is_unicode(value)


def _number_check(schema: dict[str, Any]) -> Check:
    """Numbers already known to be numbers (not bool)."""
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is None and high is None:
        return _accept
    return lambda value: (low is None or value >= low) and (high is None or value <= high)


def _list_check(schema: dict[str, Any], compile_node: Callable[[dict[str, Any]], Check]) -> Check:
    min_items = schema.get("minItems", 0)
    items = schema.get("items")
    if items is None:
        return lambda value: isinstance(value, list) and len(value) >= min_items
    check_item = compile_node(items)

    def check(value: Any) -> bool:
        if not isinstance(value, list) or len(value) < min_items:
            return False
        return all(map(check_item, value))

    return check


def _mapping_check(
    schema: dict[str, Any], compile_node: Callable[[dict[str, Any]], Check]
) -> Check:
    properties = {key: compile_node(child) for key, child in schema.get("properties", {}).items()}
    required = tuple(schema.get("required", ()))
    alternatives = [tuple(a["required"]) for a in schema.get("anyOf", ())]
    closed = schema.get("additionalProperties") is False

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        for key in required:
            if key not in value:
                return False
        if alternatives and not any(all(k in value for k in keys) for keys in alternatives):
            return False
        get = properties.get
        for key, child in value.items():
            check_child = get(key)
            if check_child is None:
                if closed:
                    return False
            elif not check_child(child):
                return False
        return True

    return check
