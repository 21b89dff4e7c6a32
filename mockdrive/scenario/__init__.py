"""Scenario files (YAML or JSON) ⇄ State.

A scenario lists ``users``, ``groups`` and ``drives``; each drive has a ``root`` whose ``children``
nest folders (``folder: {}``) and files (``file: {mimeType}``, ``size`` or ``content``), each with
optional ``permissions`` (``user``, ``group`` or ``email``, and ``roles``) and ``inherits: false``.
The format is described by ``scenario.schema.json`` (shipped in the package).

- ``load``: text → data, with nesting depth, size and alias expansion bounded while reading;
- ``validate``: data against the schema, problems in words, stopping after the reported ones;
- ``build``: data → State, every reference problem of the file reported in one go;
- ``export``: State → data → YAML, so export → load → export is stable.

Every problem is reported as ``file:line: path: reason``.
"""

from __future__ import annotations

import contextlib
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model.state import State  # (the default drive's server has it loaded already)

if TYPE_CHECKING:
    from .export import dump_yaml, export_scenario, export_yaml
    from .load import (
        MAX_ALIAS_ELEMENTS,
        MAX_DEPTH,
        MAX_ELEMENTS,
        MAX_REPORTED_PROBLEMS,
        Document,
        PathParts,
        Problem,
        ScenarioError,
        format_path,
        parse,
    )
    from .validate import SCHEMA_FILE, scenario_schema

# The public names the submodules define, loaded on first use: the server of the default drive
# (``scenario.defaults``) starts without YAML, the schema checks or the scenario builder.
_LAZY = {
    "dump_yaml": "export",
    "export_scenario": "export",
    "export_yaml": "export",
    "MAX_ALIAS_ELEMENTS": "load",
    "MAX_DEPTH": "load",
    "MAX_ELEMENTS": "load",
    "MAX_REPORTED_PROBLEMS": "load",
    "Document": "load",
    "_Document": "load",
    "PathParts": "load",
    "Problem": "load",
    "ScenarioError": "load",
    "format_path": "load",
    "parse": "load",
    "SCHEMA_FILE": "validate",
    "check_schema": "validate",
    "scenario_schema": "validate",
}

# the submodules importing the package imported when it loaded them all: attributes of it then
_SUBMODULES = frozenset({"build", "export", "links", "load", "validate"})


def __getattr__(name: str) -> Any:
    """A public name of a submodule, imported on first use. Looked up each time, not kept here:
    a test runner that drops the modules an in-process run imported (pytester) may import the
    submodule afresh, and the names given out then stay those its functions raise and return."""
    if name in _SUBMODULES:  # importing it makes it an attribute here, as Python does
        return import_module(f".{name}", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name.lstrip("_"))


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBMODULES})


__all__ = [
    "MAX_ALIAS_ELEMENTS",
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "MAX_REPORTED_PROBLEMS",
    "SCHEMA_FILE",
    "Document",
    "PathParts",
    "Problem",
    "ScenarioError",
    "build_state",
    "dump_yaml",
    "export_scenario",
    "export_yaml",
    "format_path",
    "load_scenario",
    "load_scenario_text",
    "parse",
    "parse_scenario",
    "read_scenario",
    "scenario_schema",
    "validate_document",
]

EMPTY_REASON = "the scenario is empty (write {} for a state with nothing in it)"


def validate_document(document: Document) -> None:
    """Check ``document`` against the schema; raise ScenarioError naming its problems.

    When the schema check fails, the references are checked as well (leniently), so one run
    names every problem of the file, up to ``MAX_REPORTED_PROBLEMS``.
    """
    from .build import Builder
    from .load import MAX_REPORTED_PROBLEMS, ScenarioError
    from .validate import check_schema

    if document.data is None:
        raise document.error([((), EMPTY_REASON, False)])
    found = check_schema(document.data)
    if not found:
        document.validated = True
        return
    if isinstance(document.data, dict) and len(found) < MAX_REPORTED_PROBLEMS:
        builder = Builder(document, tolerant=True)
        with contextlib.suppress(ScenarioError):
            builder.build()
        # the builder's own view of an entry the schema already faulted is a repeat: drop it
        seen = {path[:end] for path, _, _ in found for end in range(len(path) + 1)}
        schema_paths = {path for path, _, _ in found}
        for path, reason, at_key in builder.found:
            repeat = path in seen or any(path[:end] in schema_paths for end in range(len(path)))
            if not repeat:
                found.append((path, reason, at_key))
    problems = document.problems(found[:MAX_REPORTED_PROBLEMS])
    problems.sort(key=lambda p: p.line or 0)
    raise ScenarioError(problems)


def parse_scenario(text: str, source: str = "<scenario>") -> Document:
    """Parse and validate scenario text; build it with ``build_state``."""
    from .load import parse

    document = parse(text, source)
    validate_document(document)
    return document


def read_scenario(path: str | Path) -> Document:
    """Read and validate (but do not build) a scenario file; cache this to rebuild cheaply."""
    from .load import Problem, ScenarioError

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ScenarioError([Problem(str(path), None, (), f"cannot read: {reason}")]) from None
    return parse_scenario(text, str(path))


def load_scenario(path: str | Path) -> State:
    """Read, validate and build the scenario file at ``path``."""
    return build_state(read_scenario(path))


def load_scenario_text(text: str, source: str = "<scenario>") -> State:
    """Parse, validate and build scenario text (YAML or JSON)."""
    return build_state(parse_scenario(text, source))


def build_state(document: Document | dict[str, Any], source: str = "<scenario>") -> State:
    """A fresh State from scenario data (a parsed document, or a dict checked here)."""
    from .build import Builder
    from .load import Document

    if not isinstance(document, Document):
        document = Document(document, None, source)
    if not getattr(document, "validated", False):
        validate_document(document)
    if not isinstance(document.data, dict):
        raise document.error([((), "the scenario must be a mapping (users:, drives:, ...)", False)])
    return Builder(document).build()
