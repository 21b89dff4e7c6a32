"""mockdrive: an in-memory test double for cloud-drive sharing APIs."""

from .model.state import State
from .server import MockDrive

__version__ = "0.1.0"
__all__ = ["MockDrive", "State", "__version__"]
