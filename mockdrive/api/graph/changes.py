"""Changing driveItems: ``PATCH`` (rename, move, description, fileSystemInfo) and ``POST …/copy``
with its monitor URL. Parsing and rendering only; the rules live in ``model/changes.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from ...model import changes
from ...model.clock import parse_time
from ...model.errors import InvalidRequest, NotFound
from ...model.identity import User
from ...model.ids import format_time
from ...model.permissions import can_see_drive
from ...model.state import State
from ...model.tree import Item
from ..context import Call
from ..jsonio import (
    fast_json_response,
    json_response,
    optional,
    read_json_object,
    read_optional_json_object,
)
from . import authorize
from .addressing import check_if_match
from .envelope import item_context
from .items import CONFLICT_KEYS
from .render import render_item

PATCHABLE = frozenset(("name", "parentReference", "description", "fileSystemInfo", *CONFLICT_KEYS))
COPY_KEYS = ("parentReference", "name", "childrenOnly", "includeAllVersionHistory", *CONFLICT_KEYS)
MONITOR_PREFIX = "/_api/v2.0/monitor/"  # as SharePoint's monitor URLs read; needs no token


def item_response(request: web.Request, call: Call, item: Item, status: int = 200):
    """A driveItem with ``@odata.context`` and its ``ETag`` header."""
    body = {"@odata.context": item_context(request, item), **render_item(call.state, call, item)}
    return fast_json_response(body, status=status, headers={"ETag": item.etag})


def conflict_of(request: web.Request, body: dict[str, Any]) -> str | None:
    conflict = request.query.get(CONFLICT_KEYS[0]) or request.query.get(CONFLICT_KEYS[1])
    for key in CONFLICT_KEYS:
        conflict = optional(body, key, str, "one of fail, replace, rename") or conflict
    return conflict


async def patch_item(request: web.Request, call: Call, item: Item) -> web.StreamResponse:
    body = await read_json_object(request)
    state, caller = call.state, call.caller
    for key in body:
        if key in PATCHABLE or key.startswith("@odata.") or (key == "id" and body[key] == item.id):
            continue
        raise InvalidRequest(f"{key} cannot be updated", "propertyNotUpdateable")
    change = changes.ItemChange(conflict=conflict_of(request, body) or "fail")
    change.name = optional(body, "name", str, "a string")
    change.description = optional(body, "description", str, "a string")
    system_info = optional(body, "fileSystemInfo", dict, "an object")
    if system_info is not None:
        for key in system_info:
            known = ("createdDateTime", "lastModifiedDateTime", "lastAccessedDateTime")
            if key not in known and not key.startswith("@odata."):
                raise InvalidRequest(f"fileSystemInfo.{key} cannot be updated",
                                         "propertyNotUpdateable")  # fmt: skip
        change.fs_created = timestamp(system_info, "createdDateTime")
        change.fs_modified = timestamp(system_info, "lastModifiedDateTime")
    reference = optional(body, "parentReference", dict, "an object")
    if reference is not None:
        change.parent = destination(state, caller, item, reference, moving=True)
    check_if_match(request, item)
    changes.update_item(state, caller, item, change)
    return item_response(request, call, item)


def timestamp(container: dict[str, Any], key: str) -> str | None:
    """A time a client sets (``fileSystemInfo``), kept to the second in UTC; it must name its
    zone and lie in the years a scenario holds, so that an export of it loads again."""
    value = optional(container, key, str, "an ISO 8601 date and time")
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"{key} must be an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise InvalidRequest(f"{key} needs a time zone (e.g. 'Z')")
    return format_time(parse_time(value, key))  # the range, and no overflow past year 9999


def destination(
    state: State, caller: User, item: Item, reference: dict[str, Any], *, moving: bool
) -> Item | None:
    """The folder a ``parentReference`` names (``id``, or ``path`` such as ``/drive/root:/A``
    or ``/drives/{id}/root:/A``); ``driveId`` alone names that drive's root. None: no change."""
    store = state.store
    drive_id = optional(reference, "driveId", str, "a string")
    item_id = optional(reference, "id", str, "a string")
    path = optional(reference, "path", str, "a string")
    if moving and drive_id is not None and drive_id != item.drive_id:
        raise InvalidRequest("items cannot be moved between drives", "invalidDestination")
    if item_id is not None:
        target = store.items.get(item_id)
        if target is None or (drive_id is not None and target.drive_id != drive_id):
            raise NotFound(f"the destination {item_id!r} was not found")
        return target
    if path is not None:
        drive_id, relative = split_reference_path(state, caller, path, drive_id or item.drive_id)
        if moving and drive_id != item.drive_id:
            raise InvalidRequest("items cannot be moved between drives", "invalidDestination")
        drive = store.drives.get(drive_id)
        if drive is None:
            raise NotFound(f"drive {drive_id!r} was not found")
        return store.resolve(store.root(drive), relative)
    if drive_id is not None:
        drive = store.drives.get(drive_id)
        if drive is None or not can_see_drive(store, caller, drive_id):
            raise NotFound(f"drive {drive_id!r} was not found")
        return store.root(drive)
    return None


def split_reference_path(state: State, caller: User, path: str, drive_id: str) -> tuple[str, str]:
    """``/drive/root:/A/B`` → (caller's default drive, ``/A/B``); ``/drives/{id}/root:/A`` →
    (id, ``/A``); a bare ``/A`` is relative to the root of ``drive_id``."""
    head, colon, relative = path.partition(":")
    if not colon:
        return drive_id, path
    segments = [s for s in head.split("/") if s]
    if segments == ["drive", "root"]:
        return state.default_drive(caller.id).id, relative
    if len(segments) == 3 and segments[0] == "drives" and segments[2] == "root":
        return segments[1], relative
    raise InvalidRequest(f"parentReference.path {path!r} is not a drive path", "invalidPath")


async def copy(request: web.Request, call: Call, item: Item) -> web.StreamResponse:
    """``POST …/copy``: done at once; answers 202 with a monitor that reports it completed."""
    body = await read_optional_json_object(request)
    state, caller = call.state, call.caller
    for key in body:
        if key not in COPY_KEYS and not key.startswith("@"):
            raise InvalidRequest(f"{key} is not a parameter of copy")
    # msgraph-sdk always sends both, false by default; only the current version is kept, so
    # there is no history to include
    children_only = optional(body, "childrenOnly", bool, "true or false")
    optional(body, "includeAllVersionHistory", bool, "true or false")
    name = optional(body, "name", str, "a string")
    reference = optional(body, "parentReference", dict, "an object")
    target = destination(state, caller, item, reference, moving=False) if reference else None
    if target is None:  # no destination: a copy beside the source
        if item.parent_id is None:
            raise InvalidRequest("the root of a drive cannot be copied")
        target = state.store.items[item.parent_id]
    authorize.check_drive(call, "POST", ("copy",), state.store.drives[target.drive_id])
    conflict = conflict_of(request, body) or "fail"
    if children_only:  # the children land in the target: the monitor reports the target
        if name is not None:
            raise InvalidRequest("childrenOnly copies each child under its own name: no name")
        changes.copy_children(state, caller, item, target, conflict)
        copied = target
    else:
        copied = changes.copy_item(state, caller, item, target, name, conflict)
    job_id = changes.record_copy_job(state, copied)
    location = f"{request.scheme}://{request.host}{MONITOR_PREFIX}{job_id}"
    return web.Response(status=202, headers={"Location": location})


async def monitor(request: web.Request, state: State) -> web.StreamResponse:
    """The copy monitor (no token needed, as in the service): always ``completed``."""
    item_id = changes.copy_job(state, request.match_info["jobId"])
    return json_response({
        "operation": "ItemCopy",
        "percentageComplete": 100.0,
        "resourceId": item_id,
        "status": "completed",
    })  # fmt: skip
