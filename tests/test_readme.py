"""The README's set-up commands stay true: CI runs exactly the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(python3 -m venv[^\n]*)\n```", (ROOT / "README.md").read_text())


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one():
    commands = readme_commands()
    assert len(commands) == 2
    serve, test = commands
    assert "python -m mockdrive" in serve and "pytest" in test
    assert test in (ROOT / ".ci" / "run").read_text().splitlines()


def test_every_shipped_fixture_loads():
    from mockdrive.scenario import load_scenario

    for path in sorted((ROOT / "fixtures").glob("*.yaml")):
        state = load_scenario(path)
        assert state.store.drives, path
