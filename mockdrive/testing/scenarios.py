"""Scenarios for tests, as the ``mock_drive`` marker and ``mock_drive.load`` name them: found by
path or shipped name, parsed once per process, built afresh for every test."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..model.state import State
from ..scenario import Document, Problem, ScenarioError, build_state, read_scenario
from ..shipped import find_scenario

DOCUMENTS: dict[Path, Document] = {}  # parsed and validated scenarios, by resolved path


def scenario_file(spec: str | Path, bases: Sequence[Path] = ()) -> Path:
    """Where a scenario is: an existing path first (relative to each of ``bases`` in turn, else
    to the current directory), then a shipped scenario's name (``team``)."""
    found, tried = find_scenario(spec, bases)
    if found is None:
        reason = "no such file or shipped scenario; tried " + ", ".join(tried)
        raise ScenarioError([Problem(str(spec), None, (), reason)])
    return found


def scenario_state(path: str | Path, seed: int | None = None, clock: str | None = None) -> State:
    """A fresh State from a scenario file parsed once per process; ``seed`` and ``clock`` (ISO
    text: the marker's) in place of the scenario's own."""
    resolved = Path(path).resolve()
    document = DOCUMENTS.get(resolved)
    if document is None:
        document = DOCUMENTS[resolved] = read_scenario(path)
    if seed is not None:
        document = document.with_data({**document.data, "seed": seed})
    if clock is not None:
        document = document.with_data({**document.data, "clock": clock})
    return build_state(document)
