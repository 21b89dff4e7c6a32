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

import contextlib
import gc
import json
import re
from collections.abc import Iterator
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
# first characters after which only numbers and timestamps are resolved; those are written
# with these characters alone, so text with any other (an id such as 01P4H2...) is text
_NUMERIC_STARTS = frozenset(
    start
    for start, candidates in _RESOLVERS.items()
    if {tag for tag, _ in candidates} <= {_INT, _FLOAT, _TAG + "timestamp"}
)
_NOT_NUMERIC = re.compile("[^-+0-9_.:a-fA-FxoTtZinINaA \t\n]")  # inf, nan, 0x, 0o, 1e3, ...

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
        lines = [str(p) for p in problems]
        if len(lines) >= MAX_REPORTED_PROBLEMS:  # the checks stopped there: say so, in the limit
            del lines[MAX_REPORTED_PROBLEMS - 1 :]
            lines.append(
                f"{problems[0].source}: and more problems (the first {len(lines)} are shown); "
                "fix these and run again"
            )
        super().__init__("\n".join(lines))


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


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while scenario data is read, built or exported
    (also as a decorator). These make hundreds of thousands of objects that live on, and every
    collection their allocations trigger walks all of them again: about a quarter of the CPU
    of a 100,000-item YAML load and export. Reference counting frees everything else as usual;
    the collector resumes at the end, unless it was off already."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@collector_paused()
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


_NO_KEY = object()
_MERGE_KEY = object()


class _Refused(Exception):
    """A value the reader refuses; ``_build`` adds where it is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _read_yaml(text: str) -> Any:
    """One YAML document → data, iteratively, with the depth/element/alias limits."""
    loader = _Loader(text)
    try:
        return _build(loader)
    finally:
        loader.dispose()


# what ``_build`` saves of an enclosing collection while a nested one is read:
# (container or None at the top, is a list, its pending key, anchor, elements at its start,
# nesting below it)
_Saved = tuple[Any, bool, Any, Any, int, int]


def _build(loader: Any) -> Any:
    """The events → data. The open collection is held in local variables (most events are
    scalars added to it); the enclosing ones are saved on ``stack``, one entry each."""
    get_event = loader.get_event
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    mapping_start, sequence_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
    mapping_end, sequence_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    resolvers = _RESOLVERS
    numeric_starts, not_numeric = _NUMERIC_STARTS, _NOT_NUMERIC.search
    max_elements, max_depth = MAX_ELEMENTS, MAX_DEPTH
    collection_tags = ("!", _TAG + "map", _TAG + "seq")
    no_key = _NO_KEY
    merge_key = _MERGE_KEY
    # the open collection (None: none, at the document's top level)
    container: Any = None
    is_list = False
    key: Any = no_key  # of a mapping: the key read, whose value comes next
    anchor: Any = None
    start = 0  # element count when it began
    height = 0  # nesting below it
    stack: list[_Saved] = []
    anchors: dict[str, tuple[Any, int, int]] = {}  # anchor → (value, elements, height)
    typed: dict[str, Any] = {}  # plain text already typed (keys such as name: repeat)
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
            if event.tag is not None:
                value = _typed(event, stack, container, is_list, key)
            elif value[:1] in resolvers and event.implicit[0]:
                if value in typed:
                    value = typed[value]
                elif value.isdigit() and value.isascii() and value[0] != "0" and len(value) < 19:
                    value = int(value)  # a plain decimal number (a leading 0 is octal in YAML 1.1)
                elif value[:1] in numeric_starts and not_numeric(value):
                    pass  # text
                else:
                    text = value
                    value = _typed(event, stack, container, is_list, key)
                    if text[:1] != "<":  # "<<" is a merge key or text, by its place
                        typed[text] = value
            if event.anchor:
                anchors[event.anchor] = (value, 1, 0)
            elif container is not None and elements <= max_elements:
                # fast path: a plain value into the open collection (a scalar is hashable)
                if is_list:
                    container.append(value)
                elif key is no_key:
                    key = value
                elif key is not merge_key:
                    container[key] = value
                    key = no_key
                else:
                    try:
                        _merge(container, value)
                    except _Refused as refused:
                        frames = _open(stack, container, key)
                        raise _problem(event, frames, refused.reason) from None
                    key = no_key
                continue
        elif kind is mapping_start or kind is sequence_start:
            elements += 1
            if event.tag is not None and event.tag not in collection_tags:
                reason = f"the tag {event.tag} is not supported"
                raise _problem(event, _open(stack, container, key), reason)
            if len(stack) >= max_depth:
                reason = f"nested deeper than {MAX_DEPTH} levels"
                raise _problem(event, _open(stack, container, key), reason)
            if elements > max_elements:
                reason = f"more than {MAX_ELEMENTS:,} values"
                raise _problem(event, _open(stack, container, key), reason)
            stack.append((container, is_list, key, anchor, start, height))
            is_list = kind is sequence_start
            container = [] if is_list else {}
            key, anchor, start, height = no_key, event.anchor, elements, 0
            continue
        elif kind is mapping_end or kind is sequence_end:
            if key is not no_key:
                raise _problem(event, _open(stack, None, None), "a key without a value")
            value = container
            if anchor:
                anchors[anchor] = (value, elements - start + 1, height)
            below = height + 1
            container, is_list, key, anchor, start, height = stack.pop()
            if container is not None and below > height:
                height = below
        elif kind is alias_event:
            if event.anchor not in anchors:
                reason = f"unknown alias *{event.anchor}"
                raise _problem(event, _open(stack, container, key), reason)
            value, size, alias_height = anchors[event.anchor]
            if len(stack) + alias_height >= MAX_DEPTH:
                reason = f"nested deeper than {MAX_DEPTH} levels"
                raise _problem(event, _open(stack, container, key), reason)
            aliased += size
            elements += size
            if aliased > MAX_ALIAS_ELEMENTS:
                reason = f"aliases expand to more than {MAX_ALIAS_ELEMENTS:,} values"
                raise _problem(event, _open(stack, container, key), reason)
            if container is not None and alias_height > height:
                height = alias_height
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                reason = "more than one YAML document (---) in one scenario"
                raise _problem(event, _open(stack, container, key), reason)
            continue
        elif kind is yaml.StreamEndEvent:
            return root
        else:  # StreamStart, DocumentEnd
            continue
        if elements > max_elements:
            reason = f"more than {MAX_ELEMENTS:,} values"
            raise _problem(event, _open(stack, container, key), reason)
        if container is None:
            root = value
        elif is_list:
            container.append(value)
        elif key is no_key:
            if value is not merge_key:
                try:
                    hash(value)
                except TypeError:
                    reason = "a key must be text or a number"
                    raise _problem(event, _open(stack, container, key), reason) from None
            key = value
        else:
            if key is merge_key:
                try:
                    _merge(container, value)
                except _Refused as refused:
                    raise _problem(event, _open(stack, container, key), refused.reason) from None
            else:
                container[key] = value
            key = no_key


def _typed(event: Any, stack: list[_Saved], container: Any, is_list: bool, key: Any) -> Any:
    """``_scalar`` at the reader's place (where a problem is then reported)."""
    try:
        return _scalar(event, key is _NO_KEY and container is not None and not is_list)
    except _Refused as refused:
        raise _problem(event, _open(stack, container, key), refused.reason) from None


def _open(stack: list[_Saved], container: Any, key: Any) -> list[tuple[Any, Any]]:
    """The open collections, outermost first, each with its pending key: where the reader is."""
    frames = [(saved[0], saved[2]) for saved in stack[1:]]
    if stack and container is not None:
        frames.append((container, key))
    return frames


def _merge(container: dict, value: Any) -> None:
    """``<<: *base`` (or a list of them): keys not given explicitly come from the base."""
    sources = value if isinstance(value, list) else [value]
    for source in sources:
        if not isinstance(source, dict):
            raise _Refused("'<<' merges mappings only")
        for key, item in source.items():
            container.setdefault(key, item)


def _scalar(event: Any, in_key: bool) -> Any:
    """A scalar typed as YAML 1.1 does (``in_key``: it is a mapping's key, where ``<<`` merges)."""
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
        raise _Refused(f"{shown} is not a usable number") from None
    raise _Refused(f"the tag {tag} is not supported")


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


def _problem(event: Any, frames: list[tuple[Any, Any]], reason: str) -> _ParseProblem:
    """The problem at ``event``; ``frames``: the open collections and their pending keys."""
    path: list[str | int] = []
    for container, key in frames[:12]:  # enough to find the place; a deep path is not read
        if type(container) is list:
            path.append(len(container))
        elif key is not _NO_KEY and isinstance(key, str | int):
            path.append(key)
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
