"""Who the current Graph request is served to, for rendering that depends on it.

``parentReference.path`` and ``inheritedFrom.path`` read ``/drive/root:…`` when the drive is the
caller's own default drive and ``/drives/{id}/root:…`` otherwise, as the service writes them.
``routes.handle`` sets the caller for the request's task; outside a request (fixture helpers,
exports) the drive owner's view is used.
"""

from __future__ import annotations

from contextvars import ContextVar

from ...model.state import State

VIEWER: ContextVar[str | None] = ContextVar("mockdrive_graph_viewer", default=None)


def root_prefix(state: State, drive_id: str) -> str:
    """``/drive/root:`` for the viewer's default drive, else ``/drives/{id}/root:``."""
    viewer = VIEWER.get()
    if viewer is None:
        viewer = state.store.drives[drive_id].owner_id
    if state.store.default_drive.get(viewer) == drive_id:
        return "/drive/root:"
    return f"/drives/{drive_id}/root:"
