"""Onehub at its own paths: workspaces, folders, files, invitations and rolemaps.

Integer ids, ``{"folder": {...}}`` wrappers, offset pagination (30 a page) and Rails-style
``errors`` hashes, over the same model Graph serves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any

from aiohttp import web

from ..model import onehub
from ..model.errors import InvalidRequest, NotFound
from ..model.identity import User
from ..model.permissions import Permission, effective_permissions, owns_drive
from ..model.ranges import LARGEST_OFFSET, whole_number_text
from ..model.sharing import RequestContext
from ..model.state import State
from ..model.text import is_unicode
from ..model.tree import MAX_NAME_LENGTH, Drive, Item, validate_name
from .aiohttp_internals import HttpProcessingError
from .context import Call, backend_of, call_of
from .jsonio import json_response, read_json_object
from .routing import Route

PREFIXES = ("/workspaces", "/folders", "/files", "/rolemaps")
PER_PAGE = 30
OBJECT_KINDS = {"workspaces", "folders", "files"}


def timestamp(value: str | None) -> str | None:
    """Onehub writes ISO-8601 with an offset."""
    return value.replace("Z", "+00:00") if value else None


# -- rendering --------------------------------------------------------------------------------
def node_number(state: State, item: Item) -> int:
    return state.onehub.number("node", item.id)


def workspace_number(state: State, drive: Drive) -> int:
    return state.onehub.number("workspace", drive.id)


def user_number(state: State, user_id: str) -> int:
    return state.onehub.number("user", user_id)


def render_node(state: State, item: Item) -> dict[str, Any]:
    """``{"folder": {...}}`` or ``{"file": {...}}``."""
    ancestors = [a for a in state.store.ancestors(item)]
    drive = state.store.drives[item.drive_id]
    data: dict[str, Any] = {
        "id": node_number(state, item),
        "filename": item.name if item.parent_id else drive.name,
        "created_at": timestamp(item.created),
        "updated_at": timestamp(item.modified),
        "user_id": user_number(state, item.created_by),
        "workspace_id": workspace_number(state, drive),
        "ancestor_ids": [node_number(state, a) for a in reversed(ancestors)],
        "errors": {},
        "hidden?": False,
        "size": item.size,
    }
    if item.is_folder:
        return {"folder": data}
    data["thumbnail"] = None
    data["content_type"] = item.mime_type
    return {"file": data}


def render_workspace(state: State, drive: Drive, caller: User) -> dict[str, Any]:
    root = state.store.root(drive)
    access = onehub.onehub_access(state, caller, root)
    return {
        "workspace": {
            "id": workspace_number(state, drive),
            "name": drive.name,
            "root_folder_id": node_number(state, root),
            "owner_id": user_number(state, drive.owner_id),
            "is_owner": drive.owner_id == caller.id,
            "effective_role": access.role if access else None,
            "errors": {},
            "created_at": timestamp(drive.created),
            "updated_at": timestamp(drive.created),
        }
    }


def render_user(state: State, permission: Permission) -> dict[str, Any]:
    user = state.directory.by_id(permission.grantee_id or "")
    if user is None:  # an invitation to an address with no account yet
        address = permission.invitation_email or ""
        key, first, last, email = "email:" + address.casefold(), "", "", address
    else:
        first, _, last = user.display_name.partition(" ")
        key, email = user.id, user.email
    return {
        "id": state.onehub.number("user", key),
        "first_name": first,
        "last_name": last,
        "email": email,
        "address": None,
        "profile_photo_url": None,
    }


def object_type(item: Item) -> str:
    if item.parent_id is None:
        return "Workspace"
    return "Folder" if item.is_folder else "File"


def render_rolemap(state: State, permission: Permission, holder: Item) -> dict[str, Any]:
    user = render_user(state, permission)
    state.onehub.rolemaps[permission.id] = permission  # found again by its number in O(1)
    return {
        "rolemap": {
            "id": state.onehub.number("rolemap", permission.id),
            "state": "pending" if permission.pending or permission.grantee_id is None else "active",
            "updated_at": timestamp(holder.modified),
            "activated_at": None if permission.pending else timestamp(holder.created),
            "suspended_at": None,
            "deleted_at": None,
            "object_type": object_type(holder),
            "role_name": onehub.role_name(state, permission),
            "available_roles": onehub.available_roles(holder),
            "user_id": user["id"],
            "user": user,
        }
    }


def page(
    request: web.Request,
    rows: Sequence[Any],
    with_offsets: bool = False,
    render: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """One page of ``rows``; ``render`` turns each row of that page (only) into its JSON."""
    raw = request.query.get("offset")
    offset = 0 if raw is None else whole_number_text(raw, "offset", 0, LARGEST_OFFSET)
    total = len(rows)
    shown = rows[offset : offset + PER_PAGE]
    data: dict[str, Any] = {
        "current_page": offset // PER_PAGE + 1,
        "total_entries": total,
        "total_pages": max(1, -(-total // PER_PAGE)),
        "per_page": PER_PAGE,
        "items": [render(row) for row in shown] if render is not None else list(shown),
    }
    if with_offsets:
        data["offset"] = offset
        data["previous_offset"] = offset - PER_PAGE if offset >= PER_PAGE else None
        data["next_offset"] = offset + PER_PAGE if offset + PER_PAGE < total else None
    return data


class Children(Sequence[Item]):
    """A folder's children as a sequence that slices without building the whole list."""

    def __init__(self, state: State, folder: Item) -> None:
        self.items = state.store.items
        self.ids = (folder.children or {}).values()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index):  # type: ignore[override]
        if not isinstance(index, slice) or (index.step or 1) != 1:
            raise TypeError("only plain slices of a folder's children are supported")
        start, stop, _ = index.indices(len(self.ids))
        return [self.items[i] for i in islice(self.ids, start, stop)]


# -- lookup -----------------------------------------------------------------------------------
def find_node(state: State, caller: User, number: str, want_folder: bool | None) -> Item:
    """The folder or file with this Onehub id, if the caller has a role on it (else 404)."""
    item_id = state.onehub.key("node", int(number))
    item = state.store.items.get(item_id or "")
    if item is None or (want_folder is not None and item.is_folder != want_folder):
        raise NotFound("Not found")
    if onehub.onehub_access(state, caller, item) is None:
        raise NotFound("Not found")
    return item


def find_workspace(state: State, caller: User, number: str) -> Drive:
    drive = state.store.drives.get(state.onehub.key("workspace", int(number)) or "")
    if drive is None or onehub.onehub_access(state, caller, state.store.root(drive)) is None:
        raise NotFound("Not found")
    return drive


def find_object(state: State, caller: User, kind: str, number: str) -> Item:
    if kind == "workspaces":
        return state.store.root(find_workspace(state, caller, number))
    return find_node(state, caller, number, kind == "folders")


# -- handlers ---------------------------------------------------------------------------------
async def list_workspaces(request: web.Request) -> web.Response:
    call = call_of(request)
    state = call.state
    rows = [
        render_workspace(state, drive, call.caller)
        for drive in state.store.drives.values()
        if onehub.onehub_access(state, call.caller, state.store.root(drive)) is not None
    ]
    return json_response(page(request, rows))


async def create_workspace(request: web.Request) -> web.Response:
    call = call_of(request)
    body = await read_json_object(request)
    fields = body.get("workspace", body)
    name = fields.get("name") if isinstance(fields, dict) else None
    error = workspace_name_error(name)
    if error is not None:
        return json_response({"workspace": {"errors": {"name": [error]}}}, 422)
    drive = call.state.add_drive(call.caller, drive_type="documentLibrary", name=name.strip())
    return json_response(render_workspace(call.state, drive, call.caller), 201)


def workspace_name_error(name: object) -> str | None:
    """What is wrong with a new workspace's name, as Onehub (Rails) words a field's error: the
    limits of an item's name (``validate_name``) that a workspace's shares, on the name as
    stored, its edges trimmed (as a folder's is before it is checked)."""
    if not isinstance(name, str) or not name.strip():
        return "can't be blank"
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        return f"is too long (maximum is {MAX_NAME_LENGTH} characters)"
    if not is_unicode(name) or any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "is invalid"
    return None


async def get_workspace(request: web.Request) -> web.Response:
    call = call_of(request)
    drive = find_workspace(call.state, call.caller, request.match_info["id"])
    return json_response(render_workspace(call.state, drive, call.caller))


async def workspace_root(request: web.Request) -> web.Response:
    call = call_of(request)
    drive = find_workspace(call.state, call.caller, request.match_info["id"])
    return json_response({"items": [render_node(call.state, call.state.store.root(drive))]})


async def create_folder(request: web.Request, parent: Item, call: Call) -> web.Response:
    # the role first: a caller who may not create here learns nothing from the body's checks
    onehub.require_onehub_role(call.state, call.caller, parent, "Creator")
    body = await read_json_object(request)
    fields = body.get("folder", body)
    name = fields.get("filename") if isinstance(fields, dict) else None
    if not isinstance(name, str) or not name.strip():
        return json_response({"folder": {"errors": {"filename": ["can't be blank"]}}}, 422)
    name = name.strip().replace("/", "-")
    refused = refused_name(call.state, "folder", parent, name, is_folder=True)
    if refused is not None:
        return refused
    if call.state.store.child(parent, name) is not None:
        errors = {"filename": ["has already been taken"]}
        return json_response({"folder": {"filename": name, "errors": errors}}, 422)
    created = call.state.create_item(call.caller, parent, name, is_folder=True)
    return json_response(render_node(call.state, created), 201)


def refused_name(
    state: State, kind: str, within: Item, name: str, is_folder: bool
) -> web.Response | None:
    """A name the drive refuses (``validate_name``), as Onehub answers a field it refuses: 422
    with the resource's envelope and the field's error, as for a blank or a taken name."""
    try:
        validate_name(name, state.store.drives[within.drive_id].drive_type, is_folder)
    except InvalidRequest as error:
        message = error.message.removeprefix("name ")
        return json_response({kind: {"filename": name, "errors": {"filename": [message]}}}, 422)
    return None


async def create_root_folder(request: web.Request) -> web.Response:
    call = call_of(request)
    drive = find_workspace(call.state, call.caller, request.match_info["id"])
    return await create_folder(request, call.state.store.root(drive), call)


async def create_sub_folder(request: web.Request) -> web.Response:
    call = call_of(request)
    # Folder invitees may not see the workspace itself; the folder must only belong to it.
    parent = find_node(call.state, call.caller, request.match_info["folderId"], True)
    workspace = call.state.onehub.key("workspace", int(request.match_info["id"]))
    if parent.drive_id != workspace:
        raise NotFound("Not found")
    return await create_folder(request, parent, call)


async def list_folder(request: web.Request) -> web.Response:
    call = call_of(request)
    state = call.state
    folder = find_node(state, call.caller, request.match_info["id"], True)
    access = onehub.onehub_access(state, call.caller, folder)
    assert access is not None  # find_node found it
    visible: Sequence[Item]
    if owns_drive(state.store, call.caller, folder):  # the owner sees every child
        visible = Children(state, folder)
    else:
        visible = onehub.visible_children(state, call.caller, folder, access)
    return json_response(page(request, visible, render=lambda c: render_node(state, c)))


async def get_file(request: web.Request) -> web.Response:
    call = call_of(request)
    item = find_node(call.state, call.caller, request.match_info["id"], False)
    return json_response(render_node(call.state, item))


async def upload_file(request: web.Request) -> web.Response:
    call = call_of(request)
    folder = find_node(call.state, call.caller, request.match_info["id"], True)
    onehub.require_onehub_role(call.state, call.caller, folder, "Creator")
    if not request.content_type.startswith("multipart/"):
        raise InvalidRequest("upload a file as multipart/form-data in the field 'file'")
    try:
        form = await request.post()
    except (ValueError, HttpProcessingError) as error:  # no boundary, broken part headers
        raise InvalidRequest(f"the multipart body cannot be read: {error}") from None
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        raise InvalidRequest("the multipart field 'file' is missing")
    name = (upload.filename or "upload").replace("/", "-")
    refused = refused_name(call.state, "file", folder, name, is_folder=False)
    if refused is not None:
        return refused
    item, _ = call.state.upload(call.caller, folder, "/" + name, upload.file.read())
    return json_response(render_node(call.state, item), 201)


async def rename(request: web.Request) -> web.Response:
    call = call_of(request)
    kind_name = request.match_info["kind"]
    item = find_node(call.state, call.caller, request.match_info["id"], kind_name == "folders")
    # the role first, as for every write: the body's checks tell a caller without it nothing
    onehub.require_onehub_role(call.state, call.caller, item, "Collaborator")
    body = await read_json_object(request)
    fields = body.get(kind_name[:-1], body)
    name = fields.get("filename") if isinstance(fields, dict) else None
    if not isinstance(name, str) or not name.strip():
        errors = {"filename": ["can't be blank"]}
        return json_response({kind_name[:-1]: {"errors": errors}}, 422)
    name = name.strip().replace("/", "-")
    refused = refused_name(call.state, kind_name[:-1], item, name, item.is_folder)
    if refused is not None:
        return refused
    call.state.rename_item(call.caller, item, name)
    return json_response(render_node(call.state, item))


async def delete(request: web.Request) -> web.Response:
    call = call_of(request)
    kind_name = request.match_info["kind"]
    item = find_node(call.state, call.caller, request.match_info["id"], kind_name == "folders")
    onehub.require_onehub_role(call.state, call.caller, item, "Collaborator")
    call.state.delete_item(call.caller, item)
    return web.Response(status=204)


async def invite(request: web.Request) -> web.Response:
    call = call_of(request)
    kind_name, number_text = request.match_info["kind"], request.match_info["id"]
    item = find_object(call.state, call.caller, kind_name, number_text)
    onehub.require_onehub_role(call.state, call.caller, item, onehub.INVITER_ROLE)  # the role first
    body = await read_json_object(request)
    invitation = body.get("invitation", {})
    if not isinstance(invitation, dict):
        raise InvalidRequest("invitation must be an object")
    emails = invitation.get("emails", "")
    if isinstance(emails, list) and all(isinstance(e, str) for e in emails):
        emails = ",".join(emails)
    if not isinstance(emails, str):
        raise InvalidRequest("invitation.emails must be a comma-separated string")
    context = RequestContext(request.method, request.path)
    result = onehub.invite_emails(
        call.state, call.caller, item, emails, invitation.get("role_name"), context
    )
    call.fired_faults.extend({"rule": r, "effect": "fault"} for r in result.fired_rules)
    share = {
        "emails": ", ".join(result.unprocessed),
        "email_errors": result.email_errors,
        "join_errors": result.join_errors,
        "invited_emails": [{email: user_id} for email, user_id in result.invited],
        "errors": result.errors,
    }
    return json_response({"share": share}, status=422 if result.errors else 201)


async def list_rolemaps(request: web.Request) -> web.Response:
    call = call_of(request)
    state = call.state
    item = find_object(state, call.caller, request.match_info["kind"], request.match_info["id"])
    onehub.require_onehub_role(state, call.caller, item, onehub.INVITER_ROLE)
    entries = [
        e
        for e in effective_permissions(state.store, item)
        if e.permission.link is None  # Onehub has no sharing links
    ]
    shown = page(
        request,
        entries,
        with_offsets=True,
        render=lambda e: render_rolemap(state, e.permission, e.holder or item),
    )
    return json_response(shown)


async def get_rolemap(request: web.Request) -> web.Response:
    call = call_of(request)
    rolemap_id = int(request.match_info["id"])
    permission, holder = onehub.visible_rolemap(call.state, call.caller, rolemap_id)
    return json_response(render_rolemap(call.state, permission, holder))


async def update_rolemap(request: web.Request) -> web.Response:
    call = call_of(request)
    rolemap_id = int(request.match_info["id"])
    # a rolemap the caller cannot see (404), then the role to change it (403), then the body
    permission, holder = onehub.visible_rolemap(call.state, call.caller, rolemap_id)
    onehub.require_onehub_role(call.state, call.caller, holder, onehub.INVITER_ROLE)
    body = await read_json_object(request)
    fields = body.get("rolemap", body)
    requested = fields.get("role_name") if isinstance(fields, dict) else None
    try:
        onehub.set_role(call.state, call.caller, rolemap_id, requested)
    except InvalidRequest as refused:
        shown = render_rolemap(call.state, permission, holder)
        shown["rolemap"]["errors"] = {"role_name": [refused.message]}
        return json_response(shown, status=422)
    return web.Response(status=200)


async def delete_rolemap(request: web.Request) -> web.Response:
    call = call_of(request)
    try:
        onehub.delete_rolemap(call.state, call.caller, int(request.match_info["id"]))
    except InvalidRequest as refused:
        return json_response({"rolemap": {"errors": {"base": [refused.message]}}}, 422)
    return web.Response(status=204)


async def accept_pending_rolemap(request: web.Request) -> web.Response:
    """Test hook: the invitee followed the e-mail link; the pending rolemap becomes active.

    An admin route (``admin.ROUTES`` serves it): no bearer token, today's state."""
    state = backend_of(request).state
    permission = onehub.accept_invitation(state, int(request.match_info["id"]))
    holder = state.store.items[permission.item_id]
    return json_response(render_rolemap(state, permission, holder))


# -- the route table (aiohttp tries the rows in this order) -----------------------------------
# Ids are bounded digit strings: a longer one names nothing (404), and int() of one over 4,300
# digits would raise (Python's limit on int-from-string) and answer 500. ASCII digits: \d would
# take any script's.
NUMBER = "{id:[0-9]{1,18}}"
FOLDER_NUMBER = "{folderId:[0-9]{1,18}}"
NODE = "{kind:folders|files}"
OBJECT = "{kind:workspaces|folders|files}"

ROUTES = (
    Route("GET", "/workspaces", list_workspaces, "the workspaces the caller has a role in"),
    Route("POST", "/workspaces", create_workspace, "create a workspace"),
    Route("GET", f"/workspaces/{NUMBER}", get_workspace, "one workspace"),
    Route("GET", f"/workspaces/{NUMBER}/folders", workspace_root, "a workspace's root folder"),
    Route("POST", f"/workspaces/{NUMBER}/folders", create_root_folder,
          "create a folder in the workspace's root"),
    Route("POST", f"/workspaces/{NUMBER}/folders/{FOLDER_NUMBER}/folders", create_sub_folder,
          "create a folder in a folder of the workspace"),
    Route("GET", f"/folders/{NUMBER}", list_folder, "a folder's children, 30 a page"),
    Route("GET", f"/files/{NUMBER}", get_file, "one file"),
    Route("POST", f"/folders/{NUMBER}/files", upload_file, "upload a file (multipart 'file')"),
    Route("PUT", f"/{NODE}/{NUMBER}", rename, "rename a folder or file"),
    Route("DELETE", f"/{NODE}/{NUMBER}", delete, "delete a folder or file"),
    Route("POST", f"/{OBJECT}/{NUMBER}/invitations", invite,
          "invite e-mail addresses with a role"),
    Route("GET", f"/{OBJECT}/{NUMBER}/rolemaps", list_rolemaps,
          "who holds which role, 30 a page"),
    Route("GET", f"/rolemaps/{NUMBER}", get_rolemap, "one rolemap"),
    Route("PUT", f"/rolemaps/{NUMBER}", update_rolemap, "change a rolemap's role"),
    Route("DELETE", f"/rolemaps/{NUMBER}", delete_rolemap, "remove a rolemap"),
)  # fmt: skip
