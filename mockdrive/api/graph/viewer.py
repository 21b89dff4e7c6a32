"""Who a Graph answer is rendered for, where the rendering depends on it.

``parentReference.path`` and ``inheritedFrom.path`` read ``/drive/root:…`` when the drive is the
viewer's own default drive and ``/drives/{id}/root:…`` otherwise, as the service writes them.
The viewer comes with the request (``Call.viewer_id``); with none (fixture helpers, exports,
the pre-authenticated upload URLs) each drive is seen by its owner.
"""

from __future__ import annotations

from ...model.state import State


def root_prefix(state: State, viewer_id: str | None, drive_id: str) -> str:
    """``/drive/root:`` for the viewer's default drive, else ``/drives/{id}/root:``."""
    if viewer_id is None:
        viewer_id = state.store.drives[drive_id].owner_id
    if state.store.default_drive.get(viewer_id) == drive_id:
        return "/drive/root:"
    return f"/drives/{drive_id}/root:"
