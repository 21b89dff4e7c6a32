"""The Microsoft Graph dialect, split by resource: ``routes`` dispatches, ``paths`` parses
addresses, ``addressing`` resolves them, ``items``, ``content`` and ``permissions`` serve each
resource, ``render`` shapes the JSON."""

from .changes import MONITOR_PREFIX, monitor
from .permissions import list_permissions
from .render import identity, render_item, render_permission
from .routes import ITEM_OPERATIONS, handle

__all__ = [
    "ITEM_OPERATIONS",
    "MONITOR_PREFIX",
    "handle",
    "identity",
    "list_permissions",
    "monitor",
    "render_item",
    "render_permission",
]
