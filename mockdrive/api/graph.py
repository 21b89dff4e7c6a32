"""Microsoft Graph v1.0 (and /beta): drives, driveItems, children, content, permissions, invite.

Each handler parses the request, makes one call into the model and renders the result. Access
checks live in the model; this module decides only how things look on the wire.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from aiohttp import web

from ..model import sharing
from ..model.errors import InjectedFault, InvalidRequest, NotFound, PreconditionFailed
from ..model.faults import NOTIFICATION_CODES
from ..model.identity import User
from ..model.permissions import (
    EffectivePermission,
    can_read,
    can_see_drive,
    effective_permissions,
    find_effective,
    highest_role,
    require_role,
)
from ..model.state import State
from ..model.tree import Drive, Item
from .context import Call
from .errors import ApiError
from .graph_paths import GraphPath, parse_raw_path
from .jsonio import fast_json_response, optional, read_json_object

DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000
MAX_UPLOAD_BYTES = 4 * 1024 * 1024  # Graph's limit for a simple upload
DEPRECATED_GRANTED_TO = "GrantedTo has been deprecated. Refer to GrantedToV2"
CONFLICT_KEYS = ("@microsoft.graph.conflictBehavior", "@name.conflictBehavior")
# Every operation on an addressed item: (action after the item, method). ``handle`` serves
# exactly these; the OpenAPI document lists them for every addressing form.
ITEM_OPERATIONS = (
    ("", "GET"),
    ("", "DELETE"),
    ("children", "GET"),
    ("children", "POST"),
    ("content", "GET"),
    ("content", "PUT"),
    ("invite", "POST"),
    ("action.invite", "POST"),
    ("permissions", "GET"),
    ("permissions/{permissionId}", "GET"),
    ("permissions/{permissionId}", "PATCH"),
    ("permissions/{permissionId}", "DELETE"),
)


# -- rendering --------------------------------------------------------------------------------
def identity(state: State, user_id: str) -> dict[str, str]:
    user = state.directory.by_id(user_id)
    if user is None:
        return {"id": user_id}
    return {"id": user.id, "displayName": user.display_name, "email": user.email}


def api_path(state: State, item: Item) -> str:
    """``/drive/root:`` for the root, ``/drive/root:/Projects`` below it (itemReference.path)."""
    path = state.store.path_of(item)
    return "/drive/root:" if path == "/" else "/drive/root:" + path


def render_drive(state: State, drive: Drive) -> dict[str, Any]:
    used = state.store.root(drive).size
    return {
        "id": drive.id,
        "driveType": drive.drive_type,
        "name": drive.name,
        "createdDateTime": drive.created,
        "lastModifiedDateTime": drive.created,
        "webUrl": state.web_url(state.store.root(drive)),
        "owner": {"user": identity(state, drive.owner_id)},
        "quota": {
            "total": drive.quota_total,
            "used": used,
            "remaining": max(drive.quota_total - used, 0),
            "deleted": 0,
            "state": "normal",
        },
    }


def render_item(state: State, item: Item, parent_path: str | None = None) -> dict[str, Any]:
    """``parent_path`` is ``store.path_of`` the parent when the caller knows it (children)."""
    store = state.store
    drive = store.drives[item.drive_id]
    if item.parent_id is None:
        path = "/"
    else:  # one walk up the tree serves both webUrl and parentReference.path
        if parent_path is None:
            parent_path = store.path_of(store.items[item.parent_id])
        path = "/" + item.name if parent_path == "/" else parent_path + "/" + item.name
    data: dict[str, Any] = {
        "id": item.id,
        "name": item.name,
        "eTag": item.etag,
        "cTag": item.ctag,
        "size": item.size,
        "createdDateTime": item.created,
        "lastModifiedDateTime": item.modified,
        "webUrl": state.web_url(item, path),
        "createdBy": {"user": identity(state, item.created_by)},
        "lastModifiedBy": {"user": identity(state, item.modified_by)},
    }
    reference: dict[str, Any] = {"driveId": drive.id, "driveType": drive.drive_type}
    if item.parent_id is not None:
        reference["id"] = item.parent_id
        reference["path"] = "/drive/root:" if parent_path == "/" else "/drive/root:" + parent_path
    data["parentReference"] = reference
    if item.is_folder:
        data["folder"] = {"childCount": len(item.children or ())}
    else:
        data["file"] = {"mimeType": item.mime_type}
    if item.parent_id is None:
        data["root"] = {}
    if any(not p.is_owner for p in item.permissions):
        data["shared"] = {"scope": "users"}
    return data


def render_permission(
    state: State, entry: EffectivePermission, holder_paths: dict[str, str] | None = None
) -> dict[str, Any]:
    """``holder_paths`` memoizes ``api_path`` of the holders across one listing."""
    permission = entry.permission
    data: dict[str, Any] = {"id": permission.id, "roles": list(permission.roles)}
    group = state.directory.groups.get(permission.grantee_id or "")
    if group is not None:  # a group grant: grantedToV2.group (identitySet has no group)
        data["grantedToV2"] = {"group": {
            k: v for k, v in (("id", group.id), ("displayName", group.display_name),
                              ("email", group.email)) if v is not None}}  # fmt: skip
    elif permission.grantee_id is not None and not permission.pending:
        user = identity(state, permission.grantee_id)
        data["@deprecated.GrantedTo"] = DEPRECATED_GRANTED_TO
        data["grantedTo"] = {"user": user}
        v2: dict[str, Any] = {"user": user}
        drive = state.store.drives[state.store.items[permission.item_id].drive_id]
        if drive.drive_type != "personal" and "email" in user:
            v2["siteUser"] = {
                "id": user["id"],
                "displayName": user.get("displayName", ""),
                "loginName": "i:0#.f|membership|" + user["email"],
            }
        data["grantedToV2"] = v2
    if permission.invitation_email is not None:
        invitation: dict[str, Any] = {
            "email": permission.invitation_email,
            "signInRequired": permission.sign_in_required,
        }
        if permission.invited_by:
            invitation["invitedBy"] = {"user": identity(state, permission.invited_by)}
        data["invitation"] = invitation
    if permission.expiration:
        data["expirationDateTime"] = permission.expiration
    if permission.has_password:
        data["hasPassword"] = True
    if entry.holder is not None:
        holder = entry.holder
        if holder_paths is None:
            path = api_path(state, holder)
        else:
            path = holder_paths.get(holder.id)
            if path is None:
                path = holder_paths[holder.id] = api_path(state, holder)
        data["inheritedFrom"] = {"driveId": holder.drive_id, "id": holder.id, "path": path}
    return data


# -- addressing -------------------------------------------------------------------------------
def resolve_drive(state: State, caller: User, path: GraphPath) -> Drive:
    """The addressed drive, if the caller may see it (else 404: existence must not leak)."""
    if path.drive_kind == "me":
        drive = state.default_drive(caller.id)
    elif path.drive_kind == "drives":
        drive = state.store.drive(path.drive_key or "")
    elif path.drive_kind == "users":
        user = state.directory.by_id(path.drive_key or "") or state.directory.by_email(
            path.drive_key or ""
        )
        if user is None:
            raise NotFound(f"user {path.drive_key!r} was not found")
        drive = state.default_drive(user.id)
    else:
        drive = state.default_drive(path.drive_key or "")
    return drive


def resolve_base(state: State, drive: Drive, path: GraphPath) -> Item:
    """The item before any ':' path (``root`` or ``items/{id}``), checked to be in ``drive``."""
    if path.item_base == "root":
        return state.store.root(drive)
    item = state.store.items.get(path.item_base or "")
    if item is None or item.drive_id != drive.id:
        raise NotFound(f"item {path.item_base!r} was not found")
    return item


def resolve_item(state: State, drive: Drive, path: GraphPath) -> Item:
    base = resolve_base(state, drive, path)
    return state.store.resolve(base, path.item_path) if path.item_path else base


def check_if_match(request: web.Request, item: Item) -> None:
    expected = request.headers.get("If-Match")
    if expected is not None and expected.strip() not in ("*", item.etag, item.ctag):
        raise PreconditionFailed("the item has changed since that eTag", "entityTagDoesNotMatch")


def not_modified(request: web.Request, item: Item) -> bool:
    return request.headers.get("If-None-Match") in (item.etag, item.ctag)


# -- handlers ---------------------------------------------------------------------------------
async def handle(request: web.Request, call: Call, rest: str) -> web.StreamResponse:
    """Entry point for everything under ``/v1.0`` and ``/beta``."""
    path = parse_raw_path(rest)
    state, caller = call.state, call.caller
    drive = resolve_drive(state, caller, path)
    method = request.method
    if path.item_base is None:
        if method != "GET":
            raise _method_not_allowed(method)
        if not can_see_drive(state.store, caller, drive.id):
            raise NotFound("the drive was not found")
        return fast_json_response(render_drive(state, drive))

    action = path.action
    if action and action[0] == "content" and len(action) == 1 and method == "PUT":
        return await _put_content(request, call, drive, path)
    item = resolve_item(state, drive, path)
    match action, method:
        case (), "GET":
            require_role(state.store, caller, item, "read")
            if not_modified(request, item):
                return web.Response(status=304)
            return fast_json_response(render_item(state, item))
        case (), "DELETE":
            check_if_match(request, item)
            state.delete_item(caller, item)
            return web.Response(status=204)
        case ("children",), "GET":
            return _list_children(request, state, caller, item)
        case ("children",), "POST":
            return await _create_child(request, state, caller, item)
        case ("content",), "GET":
            require_role(state.store, caller, item, "read")
            if item.is_folder:
                raise InvalidRequest("a folder has no content")
            return web.Response(body=item.content or b"", content_type=item.mime_type)
        case ("invite",), "POST":
            return await _invite(request, call, item)
        case ("action.invite",), "POST":
            from . import onedrive_v1  # the legacy dialect builds on this module

            return await onedrive_v1.invite(request, call, item)
        case ("permissions",), "GET":
            return _list_permissions(request, state, caller, item)
        case ("permissions", permission_id), "GET":
            roles = require_role(state.store, caller, item, "read")
            entry = find_effective(state.store, item, permission_id)
            if highest_role(roles) == "read" and not entry.permission.holds(caller):
                raise NotFound(f"permission {permission_id!r} was not found on this item")
            return fast_json_response(render_permission(state, entry))
        case ("permissions", permission_id), "PATCH":
            body = await read_json_object(request)
            roles = _permission_patch(body)
            check_if_match(request, item)
            permission = sharing.update_roles(state, caller, item, permission_id, roles)
            return fast_json_response(render_permission(state, EffectivePermission(permission)))
        case ("permissions", permission_id), "DELETE":
            check_if_match(request, item)
            sharing.delete_permission(state, caller, item, permission_id)
            return web.Response(status=204)
    shape = "/".join(action[:1] + (("{permissionId}",) if len(action) == 2 else ()))
    if len(action) <= 2 and any(shape == known for known, _ in ITEM_OPERATIONS):
        raise _method_not_allowed(method)
    raise InvalidRequest(f"unsupported segment {'/'.join(action)!r}")


def _method_not_allowed(method: str) -> ApiError:
    return ApiError(405, "notSupported", f"the method {method} is not supported on this resource")


def _page_params(request: web.Request) -> tuple[int, int]:
    query = request.query
    try:
        top = int(query.get("$top", DEFAULT_PAGE_SIZE))
        offset = int(query.get("$skiptoken", 0))
    except ValueError:
        raise InvalidRequest("$top and $skiptoken must be whole numbers") from None
    if not 1 <= top <= MAX_PAGE_SIZE or offset < 0:
        raise InvalidRequest(f"$top must be between 1 and {MAX_PAGE_SIZE}")
    return top, offset


def _list_children(request: web.Request, state: State, caller: User, folder: Item):
    top, offset = _page_params(request)
    require_role(state.store, caller, folder, "read")
    if not folder.is_folder:
        return fast_json_response({"value": []})
    store = state.store
    visible = (c for c in store.iter_children(folder) if c.inherits or can_read(store, caller, c))
    page = list(islice(visible, offset, offset + top + 1))
    folder_path = store.path_of(folder)
    body: dict[str, Any] = {"value": [render_item(state, c, folder_path) for c in page[:top]]}
    if len(page) > top:
        query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
        query.update({"$top": str(top), "$skiptoken": str(offset + top)})
        body["@odata.nextLink"] = str(request.url.with_query(query))
    return fast_json_response(body)


async def _create_child(request: web.Request, state: State, caller: User, parent: Item):
    body = await read_json_object(request)
    name = body.get("name")
    is_folder = body.get("folder") is not None
    if is_folder and not isinstance(body["folder"], dict):
        raise InvalidRequest("folder must be an object")
    if not is_folder and not isinstance(body.get("file"), dict):
        raise InvalidRequest("a new item needs a folder or file facet")
    conflict = request.query.get(CONFLICT_KEYS[0]) or request.query.get(CONFLICT_KEYS[1])
    for key in CONFLICT_KEYS:
        conflict = optional(body, key, str, "one of fail, replace, rename") or conflict
    item = state.create_item(caller, parent, name, is_folder=is_folder, conflict=conflict or "fail")
    return fast_json_response(render_item(state, item), status=201)


async def _put_content(request: web.Request, call: Call, drive: Drive, path: GraphPath):
    if request.content_length is not None and request.content_length > MAX_UPLOAD_BYTES:
        raise _too_large()
    content = await request.content.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise _too_large()
    state, caller = call.state, call.caller
    base = resolve_base(state, drive, path)
    if not path.item_path:
        check_if_match(request, base)
        state.replace_content(caller, base, content)
        return fast_json_response(render_item(state, base))
    conflict = request.query.get(CONFLICT_KEYS[0]) or request.query.get(CONFLICT_KEYS[1])
    item, created = state.upload(
        caller, base, path.item_path, content, conflict=conflict or "replace"
    )
    return fast_json_response(render_item(state, item), status=201 if created else 200)


def _too_large() -> ApiError:
    limit = MAX_UPLOAD_BYTES // (1024 * 1024)
    return ApiError(
        413, "invalidRequest", f"a simple upload is limited to {limit} MB", "maxFileSizeExceeded"
    )


def list_permissions(state: State, item: Item, reader: User | None = None) -> list[dict[str, Any]]:
    """The item's permissions as Graph lists them: own and inherited, without grants that
    carry no Graph role (Onehub's Access Denied); for a ``reader``, only what applies to them."""
    entries = [e for e in effective_permissions(state.store, item) if e.permission.roles]
    if reader is not None:
        entries = [e for e in entries if e.permission.holds(reader)]
    holder_paths: dict[str, str] = {}
    return [render_permission(state, e, holder_paths) for e in entries]


def _list_permissions(request: web.Request, state: State, caller: User, item: Item):
    roles = require_role(state.store, caller, item, "read")
    if not_modified(request, item):
        return web.Response(status=304)
    reader = caller if highest_role(roles) == "read" else None  # readers see only their own
    return fast_json_response({"value": list_permissions(state, item, reader)})


def _permission_patch(body: dict[str, Any]) -> object:
    for key in body:
        if key not in ("roles", "expirationDateTime") and not key.startswith("@odata."):
            raise InvalidRequest(f"{key} cannot be updated", "propertyNotUpdateable")
    if "roles" not in body:
        raise InvalidRequest("roles is required")
    return body["roles"]


def parse_invite_body(body: dict[str, Any]) -> sharing.InviteRequest:
    """Graph's invite body → the model's request. Types are checked here, rules in the model."""
    raw_recipients = body.get("recipients")
    if not isinstance(raw_recipients, list):
        raise InvalidRequest("recipients must be an array of driveRecipient objects")
    recipients = []
    for index, raw in enumerate(raw_recipients):
        if not isinstance(raw, dict):
            raise InvalidRequest(f"recipients[{index}] must be an object")
        fields = {}
        for key in ("email", "alias", "objectId"):
            fields[key] = optional(raw, key, str, "a string")
        recipients.append(
            sharing.Recipient(
                email=fields["email"], alias=fields["alias"], object_id=fields["objectId"]
            )
        )
    roles = body.get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidRequest("roles must be an array of strings")
    expiration = optional(body, "expirationDateTime", str, "a date-time string")
    if expiration is not None:
        _check_datetime(expiration)
    retain = optional(body, "retainInheritedPermissions", bool, "true or false")
    return sharing.InviteRequest(
        recipients=recipients,
        roles=roles,
        message=optional(body, "message", str, "a string"),
        require_sign_in=bool(optional(body, "requireSignIn", bool, "true or false")),
        send_invitation=bool(optional(body, "sendInvitation", bool, "true or false")),
        retain_inherited_permissions=True if retain is None else retain,
        expiration=expiration,
        password=optional(body, "password", str, "a string"),
    )


def _check_datetime(value: str) -> None:
    from datetime import datetime

    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"expirationDateTime {value!r} is not a date-time") from None


def render_notification_error(inner_code: str) -> dict[str, Any]:
    """The per-recipient ``error`` of a 207 entry (note the lowercase ``innererror``)."""
    message, fix_it_url = NOTIFICATION_CODES[inner_code]
    return {
        "code": "notAllowed",
        "message": message,
        "localizedMessage": message,
        "fixItUrl": fix_it_url,
        "innererror": {"code": inner_code},
    }


def run_invite(
    request: web.Request, call: Call, item: Item, invite_request: sharing.InviteRequest
) -> sharing.InviteResult:
    """One invite through the model (Graph and OneDrive), noting for the journal which fault
    rules fired."""
    context = sharing.RequestContext(request.method, request.path)
    try:
        result = sharing.invite(call.state, call.caller, item, invite_request, context)
    except InjectedFault as fault:
        call.fired_faults.append({"rule": fault.rule_id, "effect": "error"})
        raise
    call.fired_faults.extend(
        {"rule": r, "effect": "notificationFailure"} for r in result.fired_rules
    )
    return result


async def _invite(request: web.Request, call: Call, item: Item):
    invite_request = parse_invite_body(await read_json_object(request))
    result = run_invite(request, call, item, invite_request)
    value = []
    for outcome in result.outcomes:
        entry = render_permission(call.state, EffectivePermission(outcome.permission))
        if outcome.notification_error:
            entry["error"] = render_notification_error(outcome.notification_error)
        value.append(entry)
    return fast_json_response({"value": value}, status=207 if result.partial else 200)
