"""mockdrive: an in-memory test double for cloud-drive sharing APIs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"  # first: submodules (the admin index, the CLI) import it

if TYPE_CHECKING:
    from .model.state import State
    from .scenario import ScenarioError, export_scenario, load_scenario
    from .server import MockDrive

__all__ = [
    "MockDrive",
    "ScenarioError",
    "State",
    "__version__",
    "export_scenario",
    "load_scenario",
]

# The public names load on first use: ``import mockdrive`` (and the pytest plugin, which every
# pytest run in a user's project imports) stays cheap until a server or a scenario is needed.
_LAZY = {
    "MockDrive": ".server",
    "ScenarioError": ".scenario",
    "State": ".model.state",
    "export_scenario": ".scenario",
    "load_scenario": ".scenario",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    if module != ".scenario":  # the scenario package's names are looked up on each use there
        globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
