"""mockdrive: an in-memory test double for cloud-drive sharing APIs."""

__version__ = "0.1.0"  # first: submodules (the admin index, the CLI) import it

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
