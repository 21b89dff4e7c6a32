"""The scenario package loads its submodules on first use; what a user reached through it
before, they still reach: its submodules as attributes of the package (``s.load.MAX_DEPTH``)."""

from __future__ import annotations

import subprocess
import sys


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
