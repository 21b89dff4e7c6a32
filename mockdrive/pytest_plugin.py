"""The pytest11 entry point; the plugin is :mod:`mockdrive.testing.plugin`."""

from .testing.plugin import *  # noqa: F403
from .testing.plugin import __getattr__  # noqa: F401
