"""The pytest11 entry point; the plugin is :mod:`mockdrive.testing.plugin`."""

from typing import TYPE_CHECKING

from .testing.plugin import *  # noqa: F403
from .testing.plugin import __getattr__  # noqa: F401

if TYPE_CHECKING:  # what ``__getattr__`` loads on first use, named for type checkers
    from .scenario.defaults import OWNER_TOKEN  # noqa: F401
    from .testing.fixture import MockDriveApp, MockDriveFixture  # noqa: F401
