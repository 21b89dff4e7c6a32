"""Scenario text → plain data, bounded before anything large is built.

YAML is read event by event from libyaml (no recursion, so no nesting depth can crash the
process), and the data is built here with three limits checked as it grows: nesting depth,
element count and elements reached through aliases (a "billion laughs" file is refused after a
few thousand expansions, not after gigabytes). JSON text (an export) is read by the ``json``
module, which keeps every character a JSON string may hold (YAML refuses C1 controls and turns
U+0085 into a line break). Plain scalars are typed as YAML 1.1 does (numbers, booleans, null),
except timestamps, which stay text. Line numbers are looked up only when there is a problem to
report (a second pass over the events).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

MAX_DEPTH = 600  # nested mappings/lists: 200 folder levels (the 400-character path) need ~410
MAX_ELEMENTS = 2_000_000  # values in the document (about 200,000 items)
MAX_ALIAS_ELEMENTS = 10_000  # values reached through aliases (YAML anchors reused)
MAX_REPORTED_PROBLEMS = 20

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVERS = yaml.resolver.Resolver.yaml_implicit_resolvers
_TAG = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT = (_TAG + t for t in ("str", "null", "bool", "int", "float"))
_MERGE = _TAG + "merge"

PathParts = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a scenario: where (file, line, path in the document) and why."""

    source: str
    line: int | None
    path: PathParts
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {format_path(self.path)}: {self.reason}"


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; each line names the file, the line, the path and why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def format_path(path: PathParts) -> str:
    """``("drives", 0, "owner")`` → ``drives[0].owner``; the empty path is ``(document)``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


class Document:
    """Parsed data, the text it came from (to find line numbers on demand) and its source name."""

    def __init__(self, data: Any, text: str | None, source: str) -> None:
        self.data = data
        self.text = text
        self.source = source
        self.validated = False  # checked against the schema (set by validate_document)

    def with_data(self, data: Any) -> Document:
        """The same document with other data (already checked: e.g. another ``seed``)."""
        document = Document(data, self.text, self.source)
        document.validated = self.validated
        return document

    def problems(self, found: list[tuple[PathParts, str, bool]]) -> list[Problem]:
        """``(path, reason, at_key)`` → problems with line numbers (one pass over the text).

        ``at_key``: the problem is the key itself (an unknown key), so its line is the key's
        line, not the line where its value starts.
        """
        lines = find_lines(self.text, [path for path, _, _ in found]) if self.text else {}
        result = []
        for path, reason, at_key in found:
            line = None
            for end in range(len(path), -1, -1):
                key_line, value_line = lines.get(path[:end], (None, None))
                line = (key_line if at_key and end == len(path) else None) or value_line
                if line is not None:
                    break
            result.append(Problem(self.source, line, path, reason))
        return result

    def error(self, found: list[tuple[PathParts, str, bool]]) -> ScenarioError:
        return ScenarioError(self.problems(found))


class _ParseProblem(Exception):
    def __init__(self, line: int | None, path: PathParts, reason: str) -> None:
        super().__init__(reason)
        self.line, self.path, self.reason = line, path, reason


def parse(text: str, source: str = "<scenario>") -> Document:
    """YAML or JSON text → a Document; refuses (ScenarioError) what it cannot read safely."""
    stripped = text.lstrip()
    # JSON is read by ``json`` unless it may hold more values than allowed: the YAML reader
    # counts them as it goes (``json`` would build them all first)
    if stripped[:1] in ("{", "[") and text.count(",") + text.count(":") <= MAX_ELEMENTS:
        try:
            return Document(json.loads(text), text, source)
        except json.JSONDecodeError:
            pass  # not JSON: perhaps YAML flow style; the YAML reader says what is wrong
        except RecursionError:
            reason = f"nested deeper than {MAX_DEPTH} levels"
            raise ScenarioError([Problem(source, None, (), reason)]) from None
        except ValueError as error:  # a number with more digits than Python converts
            reason = f"not a usable number ({error})"
            raise ScenarioError([Problem(source, None, (), reason)]) from None
    try:
        data = _read_yaml(text)
    except _ParseProblem as problem:
        raise ScenarioError([Problem(source, problem.line, problem.path, problem.reason)]) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        reason = f"not valid YAML: {error.problem or error.context}"
        raise ScenarioError([Problem(source, line, (), reason)]) from None
    except yaml.YAMLError as error:
        raise ScenarioError([Problem(source, None, (), f"not valid YAML: {error}")]) from None
    except UnicodeError:  # a lone surrogate in the text given to load_scenario_text
        raise ScenarioError([Problem(source, None, (), "not valid Unicode text")]) from None
    return Document(data, text, source)


class _Frame:
    __slots__ = ("anchor", "container", "height", "is_list", "key", "start")

    def __init__(self, container: dict | list, anchor: str | None, start: int) -> None:
        self.container = container
        self.is_list = type(container) is list
        self.key: Any = _NO_KEY
        self.anchor = anchor
        self.start = start  # element count when this collection began
        self.height = 0  # nesting below this collection


_NO_KEY = object()
_MERGE_KEY = object()


def _read_yaml(text: str) -> Any:
    """One YAML document → data, iteratively, with the depth/element/alias limits."""
    loader = _Loader(text)
    try:
        return _build(loader)
    finally:
        loader.dispose()


def _build(loader: Any) -> Any:
    get_event = loader.get_event
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    mapping_start, sequence_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
    mapping_end, sequence_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    resolvers = _RESOLVERS
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int, int]] = {}  # anchor → (value, elements, height)
    elements = aliased = 0
    root: Any = None
    documents = 0
    while True:
        event = get_event()
        kind = type(event)
        if kind is scalar_event:
            elements += 1
            value: Any = event.value
            # the common case inline: quoted text, or plain text no implicit type starts with
            if event.tag is not None or (event.implicit[0] and value[:1] in resolvers):
                value = _scalar(event, stack)
            if event.anchor:
                anchors[event.anchor] = (value, 1, 0)
            elif stack and elements <= MAX_ELEMENTS:
                # fast path: a plain value into the open collection (a scalar is hashable)
                frame = stack[-1]
                if frame.is_list:
                    frame.container.append(value)
                elif frame.key is _NO_KEY:
                    frame.key = value
                elif frame.key is not _MERGE_KEY:
                    frame.container[frame.key] = value
                    frame.key = _NO_KEY
                else:
                    _merge(frame.container, value, event, stack)
                    frame.key = _NO_KEY
                continue
        elif kind is mapping_start or kind is sequence_start:
            elements += 1
            if event.tag not in (None, "!", _TAG + "map", _TAG + "seq"):
                raise _problem(event, stack, f"the tag {event.tag} is not supported")
            if len(stack) >= MAX_DEPTH:
                raise _problem(event, stack, f"nested deeper than {MAX_DEPTH} levels")
            if elements > MAX_ELEMENTS:
                raise _problem(event, stack, f"more than {MAX_ELEMENTS:,} values")
            container: dict | list = {} if kind is mapping_start else []
            stack.append(_Frame(container, event.anchor, elements))
            continue
        elif kind is mapping_end or kind is sequence_end:
            frame = stack.pop()
            if frame.key is not _NO_KEY:
                raise _problem(event, stack, "a key without a value")
            value = frame.container
            if frame.anchor:
                anchors[frame.anchor] = (value, elements - frame.start + 1, frame.height)
            if stack:
                stack[-1].height = max(stack[-1].height, frame.height + 1)
        elif kind is alias_event:
            if event.anchor not in anchors:
                raise _problem(event, stack, f"unknown alias *{event.anchor}")
            value, size, height = anchors[event.anchor]
            if len(stack) + height >= MAX_DEPTH:
                raise _problem(event, stack, f"nested deeper than {MAX_DEPTH} levels")
            aliased += size
            elements += size
            if aliased > MAX_ALIAS_ELEMENTS:
                reason = f"aliases expand to more than {MAX_ALIAS_ELEMENTS:,} values"
                raise _problem(event, stack, reason)
            if stack:
                stack[-1].height = max(stack[-1].height, height)
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _problem(event, stack, "more than one YAML document (---) in one scenario")
            continue
        elif kind is yaml.StreamEndEvent:
            return root
        else:  # StreamStart, DocumentEnd
            continue
        if elements > MAX_ELEMENTS:
            raise _problem(event, stack, f"more than {MAX_ELEMENTS:,} values")
        if not stack:
            root = value
            continue
        frame = stack[-1]
        container = frame.container
        if type(container) is list:
            container.append(value)
        elif frame.key is _NO_KEY:
            if value is _MERGE_KEY:
                frame.key = value
            else:
                try:
                    hash(value)
                except TypeError:
                    raise _problem(event, stack, "a key must be text or a number") from None
                frame.key = value
        else:
            if frame.key is _MERGE_KEY:
                _merge(container, value, event, stack)
            else:
                container[frame.key] = value
            frame.key = _NO_KEY


def _merge(container: dict, value: Any, event: Any, stack: list[_Frame]) -> None:
    """``<<: *base`` (or a list of them): keys not given explicitly come from the base."""
    sources = value if isinstance(value, list) else [value]
    for source in sources:
        if not isinstance(source, dict):
            raise _problem(event, stack, "'<<' merges mappings only")
        for key, item in source.items():
            container.setdefault(key, item)


def _scalar(event: Any, stack: list[_Frame]) -> Any:
    value: str = event.value
    tag = event.tag
    if tag is None or tag == "!":
        if not event.implicit[0]:  # quoted, literal or folded: text
            return value
        resolvers = _RESOLVERS.get(value[:1])
        if resolvers is None:
            return value
        tag = _STR
        for candidate, regexp in resolvers:
            if regexp.match(value):
                tag = candidate
                break
    if tag == _STR or tag == _TAG + "timestamp" or tag == _TAG + "value":
        return value
    if tag == _MERGE:
        in_key = bool(stack) and type(stack[-1].container) is dict and stack[-1].key is _NO_KEY
        return _MERGE_KEY if in_key else value
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return value.lower() in ("yes", "true", "on", "y")
    try:
        if tag == _INT:
            return _int(value)
        if tag == _FLOAT:
            node = yaml.ScalarNode(tag, value)
            return yaml.constructor.SafeConstructor.construct_yaml_float(_CONSTRUCTOR, node)
    except ValueError:
        shown = value if len(value) <= 40 else f"{value[:20]}…({len(value):,} characters)"
        raise _problem(event, stack, f"{shown} is not a usable number") from None
    raise _problem(event, stack, f"the tag {tag} is not supported")


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _int(text: str) -> int:
    """A YAML 1.1 integer (``1_000``, ``0x1F``, ``0o17``/``017``, ``0b101``, ``1:30``)."""
    value = text.replace("_", "")
    sign = -1 if value[:1] == "-" else 1
    if value[:1] in "+-":
        value = value[1:]
    if value == "0":
        return 0
    if value.startswith("0b"):
        return sign * int(value[2:], 2)
    if value.startswith("0x"):
        return sign * int(value[2:], 16)
    if value.startswith("0o"):
        return sign * int(value[2:], 8)
    if value.startswith("0"):
        return sign * int(value, 8)
    if ":" in value:
        total = 0
        for part in value.split(":"):
            total = total * 60 + int(part)
        return sign * total
    return sign * int(value)


def _problem(event: Any, stack: list[_Frame], reason: str) -> _ParseProblem:
    path: list[str | int] = []
    for frame in stack[:12]:  # enough to find the place; a deep path is not read
        if type(frame.container) is list:
            path.append(len(frame.container))
        elif frame.key is not _NO_KEY and isinstance(frame.key, str | int):
            path.append(frame.key)
    line = event.start_mark.line + 1 if event.start_mark else None
    return _ParseProblem(line, tuple(path), reason)


def find_lines(text: str, paths: list[PathParts]) -> dict[PathParts, tuple[int | None, int]]:
    """``path → (line of its key, line of its value)`` for ``paths`` and their prefixes.

    A second pass over the YAML events, done only when there are problems to report. Text the
    YAML reader refuses (JSON with C1 controls) gives the lines found before that point.
    """
    wanted = {path[:end] for path in paths for end in range(len(path) + 1)}
    found: dict[PathParts, tuple[int | None, int]] = {}
    loader = _Loader(text)
    # each frame: [is_mapping, path, next index or pending key, key line, expecting a key]
    stack: list[list[Any]] = []
    try:
        while True:
            event = loader.get_event()
            kind = type(event)
            if kind is yaml.StreamEndEvent:
                break
            if kind in (yaml.StreamStartEvent, yaml.DocumentStartEvent, yaml.DocumentEndEvent):
                continue
            if kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                stack.pop()
                _advance(stack)
                continue
            line = event.start_mark.line + 1
            if stack and stack[-1][0] and stack[-1][4]:  # a key of a mapping
                if kind is not yaml.ScalarEvent:
                    break  # a mapping or alias as a key: parse() has refused or reported it
                frame = stack[-1]
                frame[2], frame[3], frame[4] = event.value, line, False
                continue
            path = _current_path(stack)
            if path is not None and path in wanted:
                found[path] = (stack[-1][3] if stack and stack[-1][0] else None, line)
            if kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                is_map = kind is yaml.MappingStartEvent
                stack.append([is_map, path, 0, None, True])
            else:
                _advance(stack)
    except yaml.YAMLError:
        pass
    finally:
        loader.dispose()
    return found


def _current_path(stack: list[list[Any]]) -> PathParts | None:
    if not stack:
        return ()
    frame = stack[-1]
    if frame[1] is None:
        return None
    return (*frame[1], frame[2])


def _advance(stack: list[list[Any]]) -> None:
    """A value finished: the parent expects its next key (mapping) or index (list)."""
    if not stack:
        return
    frame = stack[-1]
    if frame[0]:
        frame[4] = True
    else:
        frame[2] += 1
