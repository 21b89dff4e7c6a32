"""`import mockdrive` and the pytest plugin (loaded by every pytest run in a user's project) stay
cheap: they load no server, YAML, schema or OpenAPI code until it is used."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import mockdrive
from mockdrive import pytest_plugin, server
from mockdrive.scenario import defaults

HEAVY = ("yaml", "jsonschema", "faker", "mockdrive.api.openapi", "mockdrive.scenario")


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_import_mockdrive_loads_no_server_or_yaml() -> None:
    modules = loaded_after("import mockdrive")
    assert "mockdrive.server" not in modules
    assert "aiohttp" not in modules
    assert not modules & set(HEAVY)


def test_the_pytest_plugin_loads_nothing_of_the_server() -> None:
    modules = loaded_after("import mockdrive.pytest_plugin")
    assert "mockdrive.server" not in modules
    assert "aiohttp" not in modules
    assert not modules & set(HEAVY)


def test_the_command_loads_the_server_only_to_serve() -> None:
    """``mockdrive validate``, ``export``, ``help``, ``--version`` and usage errors start
    without aiohttp (half of a start-up's CPU)."""
    modules = loaded_after("import mockdrive.cli")
    assert "mockdrive.server" not in modules
    assert "aiohttp" not in modules
    assert "asyncio" not in modules  # with ssl and concurrent.futures: a third of what is left
    # nor the model or the scenario reader: help, --version and usage errors need neither
    assert not {m for m in modules if m.startswith(("mockdrive.model", "mockdrive.scenario"))}


def test_the_server_loads_no_yaml_schema_or_openapi_until_used() -> None:
    modules = loaded_after("import mockdrive.server")
    assert not modules & set(HEAVY)


def test_serving_the_default_drive_loads_no_scenario_reader() -> None:
    """The default drive's server starts without YAML, the schema checks or the builder."""
    modules = loaded_after(
        "from mockdrive import cli, server\n"
        "args = cli.server_parser().parse_args([])\n"
        "cli.state_factory(args)()"
    )
    assert {"mockdrive.scenario.defaults", "mockdrive.server"} <= modules  # the probe ran
    assert not modules & {"yaml", "jsonschema", "difflib"}
    assert {m for m in modules if m.startswith("mockdrive.scenario.")} == {
        "mockdrive.scenario.defaults"
    }


def test_every_public_scenario_name_resolves_on_use() -> None:
    modules = loaded_after(
        "import mockdrive.scenario as s\n"
        "assert all(getattr(s, name) is not None for name in s.__all__)\n"
        "from mockdrive.scenario import ScenarioError, dump_yaml, parse, scenario_schema\n"
        "assert s._Document is s.Document and set(s.__all__) <= set(dir(s))"
    )
    assert {"yaml", "mockdrive.scenario.load", "mockdrive.scenario.validate"} <= modules
    from mockdrive import scenario

    assert (
        scenario.ScenarioError is importlib.import_module("mockdrive.scenario.load").ScenarioError
    )
    assert (
        scenario.scenario_schema
        is importlib.import_module("mockdrive.scenario.validate").scenario_schema
    )
    with pytest.raises(AttributeError, match="no_such_name"):
        scenario.no_such_name  # noqa: B018


def test_the_package_names_follow_a_submodule_imported_afresh(monkeypatch) -> None:
    """pytester's in-process runs drop from sys.modules what was first imported inside them:
    the package's names then are those of the submodule imported afresh, which its functions
    use too (one ScenarioError to catch, not two)."""
    from mockdrive import scenario

    assert scenario.ScenarioError  # loaded (and, were it kept, kept from this module)
    monkeypatch.setattr(scenario, "load", importlib.import_module("mockdrive.scenario.load"))
    monkeypatch.delitem(sys.modules, "mockdrive.scenario.load")
    with pytest.raises(scenario.ScenarioError, match="the scenario is empty"):
        scenario.parse_scenario("", "<empty>")
    assert scenario.ScenarioError is sys.modules["mockdrive.scenario.load"].ScenarioError


def test_public_names_still_resolve() -> None:
    assert mockdrive.MockDrive is server.MockDrive
    assert callable(mockdrive.load_scenario) and callable(mockdrive.export_scenario)
    assert issubclass(mockdrive.ScenarioError, Exception)
    assert mockdrive.State.__name__ == "State"
    assert set(mockdrive.__all__) <= set(dir(mockdrive))
    assert pytest_plugin.OWNER_TOKEN is defaults.OWNER_TOKEN  # one constant, not two in sync
    assert pytest_plugin.MockDriveFixture.__name__ == "MockDriveFixture"
