"""The scenario package loads its submodules on first use; what a user reached through it
before, they still reach: its submodules as attributes of the package (``s.load.MAX_DEPTH``)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_the_submodules_are_attributes_of_the_package_in_a_fresh_interpreter() -> None:
    probe = (
        "import mockdrive.scenario as s\n"
        "assert s.load.ScenarioError is s.ScenarioError\n"
        "assert s.validate.scenario_schema is s.scenario_schema\n"
        "assert s.export.dump_yaml is s.dump_yaml\n"
        "assert s.build.Builder and s.links\n"
        "assert {'load', 'validate'} <= set(dir(s))\n"
        "import sys\n"
        "try:\n"
        "    s.no_such_module\n"
        "except AttributeError as error:\n"
        "    assert 'no_such_module' in str(error), error\n"
        "else:\n"
        "    sys.exit('no AttributeError')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_the_top_level_scenario_error_follows_a_reader_imported_afresh(monkeypatch) -> None:
    """pytester's in-process runs drop from sys.modules what was first imported inside them:
    ``mockdrive.ScenarioError`` then is the class the reader imported afresh raises, as the
    scenario package's own name is (not the one a first use kept)."""
    import importlib

    import mockdrive
    from mockdrive import scenario

    assert mockdrive.ScenarioError is scenario.ScenarioError  # used once (kept, were it kept)
    monkeypatch.setattr(scenario, "load", importlib.import_module("mockdrive.scenario.load"))
    monkeypatch.delitem(sys.modules, "mockdrive.scenario.load")
    with pytest.raises(mockdrive.ScenarioError, match="the scenario is empty"):
        scenario.parse_scenario("", "<empty>")
    assert mockdrive.ScenarioError is sys.modules["mockdrive.scenario.load"].ScenarioError


def test_the_loaders_annotations_evaluate() -> None:
    """``mockdrive.load_scenario`` and ``load_scenario_text`` name only the State they return:
    tools that read annotations (``typing.get_type_hints``, ``inspect.signature(eval_str=True)``,
    documentation generators) find it in the package."""
    import inspect
    import typing

    import mockdrive
    from mockdrive import scenario
    from mockdrive.model.state import State

    assert typing.get_type_hints(scenario.load_scenario_text)["return"] is State
    assert inspect.signature(mockdrive.load_scenario, eval_str=True).return_annotation is State


@pytest.mark.xfail(
    strict=True,
    reason="the scenario package loads its submodules on first use, so Document (in load, with "
    "YAML) is not among its globals, where annotations are evaluated",
)
def test_the_readers_annotations_evaluate() -> None:
    import typing

    from mockdrive import scenario

    for function in (scenario.read_scenario, scenario.parse_scenario, scenario.build_state):
        typing.get_type_hints(function)
