"""The OpenAPI 3 document of every route: Graph, the older OneDrive API, Onehub, admin.

Served at ``/_mockdrive/openapi.json``. The OneDrive, Onehub, admin and dashboard paths are the
rows of their route tables (``onedrive_v1.ROUTES``, ``onehub.ROUTES``, ``admin.ROUTES``,
``dashboard.ROUTES``); this module says only what each handler takes and answers. Graph routes
are listed for each documented drive and item addressing form; examples carry ids from the live
state so generated requests reach real items. Tests keep this document and the routes in step
in both directions.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from ..model.faults import LIMITS as FAULT_LIMITS
from ..model.policy import MAX_LINK_DAYS, MAX_RECIPIENTS_LIMIT, MAX_SHARED_WITH_ME_DELAY
from ..model.state import State
from ..model.uploads import MAX_FILE_BYTES
from . import admin, admin_clock, admin_faults, dashboard, entra, onedrive_v1, onehub
from .admin_clock import MAX_STEP_DAYS, UNIT_PER_DAY
from .graph import delta, directory, links, operations, routes, shares
from .routing import GraphRoute, Handler, Route

JSON = "application/json"
OBJECT: dict[str, Any] = {"type": "object"}
STRING = {"type": "string"}
VALUE: dict[str, Any] = {"type": "object", "properties": {"value": {"type": "array"}}}

# Item addressing forms documented for every item operation (spec sections 1.1 and 1.2).
ITEM_BASES = (
    "/drives/{driveId}/items/{itemId}",
    "/drives/{driveId}/root",
    "/drives/{driveId}/root:/{itemPath}:",
    "/me/drive/items/{itemId}",
    "/me/drive/root",
    "/me/drive/root:/{itemPath}:",
    "/drive/items/{itemId}",
    "/drive/root",
    "/users/{userId}/drive/items/{itemId}",
    "/groups/{groupId}/drive/items/{itemId}",
    "/sites/{siteId}/drive/items/{itemId}",
)
USER_PATHS = ("/me", "/users/{userId}")
DRIVE_PATHS = (
    "/me/drive",
    "/drive",
    "/me/drives/{driveId}",
    "/drives/{driveId}",
    "/users/{userId}/drive",
    "/users/{userId}/drives/{driveId}",
    "/groups/{groupId}/drive",
    "/sites/{siteId}/drive",
)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": schema}}}


# The refusals most answers are, named by their code as well as by the 4XX range: a client that
# matches an answer to its response finds these by key, where a range is tried code by code
# (schemathesis expands 4XX into its 100 codes for each of the four look-ups of every answer).
COMMON_REFUSALS = ("400", "401", "403", "404", "405")
# each dialect's refusal, one shared response (components/responses) that every code names
ERROR_SCHEMAS = ("GraphError", "OneDriveError", "OnehubError", "EntraError", "LiveError")


def refusal_responses() -> dict[str, Any]:
    """components/responses: each dialect's refusal, in its error envelope."""
    return {
        f"{name}Refusal": {"description": "refused", "content": {JSON: {"schema": ref(name)}}}
        for name in ERROR_SCHEMAS
    }


def responses(ok: dict[str, Any], error: str) -> dict[str, Any]:
    """Success responses plus every 4xx in the dialect's error envelope (the common ones by code,
    the same response as the 4XX range)."""
    refused = {"$ref": f"#/components/responses/{error}Refusal"}
    by_code = {code: dict(refused) for code in COMMON_REFUSALS if code not in ok}
    return {**ok, **by_code, "4XX": dict(refused)}


def returns(schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
    return {status: {"description": "OK", "content": {JSON: {"schema": schema}}}}


NO_CONTENT = {"204": {"description": "No Content"}}
NOT_MODIFIED = {"304": {"description": "Not Modified (If-None-Match)"}}
REDIRECT_TO_DOWNLOAD = {
    "302": {
        "description": "Found: the file's pre-authenticated download URL",
        "headers": {"Location": {"schema": STRING}},
    }
}
BYTES = {"*/*": {"schema": {"type": "string", "format": "binary"}}}

# Numbers from outside, with the ranges the server enforces (docs/number-ranges.md).
TOP = {"name": "$top", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
OFFSET_TOKEN = {"type": "string", "pattern": "^[0-9]{1,10}$"}  # an offset up to 10^9
PAGING = [
    TOP,
    {"name": "$skiptoken", "in": "query", "schema": OFFSET_TOKEN},
    {"name": "$skipToken", "in": "query", "schema": OFFSET_TOKEN},
]
ONEHUB_OFFSET = {
    "name": "offset",
    "in": "query",
    "schema": {"type": "integer", "minimum": 0, "maximum": 1_000_000_000},
}
CONTENT_RANGE = {
    "name": "Content-Range",
    "in": "header",
    "required": True,
    "schema": {"type": "string", "pattern": "^bytes [0-9]{1,15}-[0-9]{1,15}/[0-9]{1,15}$"},
}
RANGE = {"name": "Range", "in": "header", "schema": {"type": "string"}}


def parameters_of(path: str, state: State | None) -> list[dict[str, Any]]:
    examples = _examples(state)
    params = []
    for name in (
        "driveId",
        "itemId",
        "itemPath",
        "userId",
        "groupId",
        "siteId",
        "permissionId",
        "session",
        "token",
        "id",
        "folderId",
        "kind",
        "ruleId",
        "name",
        "q",
        "versionId",
        "jobId",
        "specialFolder",
        "shareId",
    ):
        if "{" + name + "}" in path:
            schema: dict[str, Any] = {"type": "string", "minLength": 1}
            if name in ("id", "folderId"):  # Onehub's numbers: up to 18 ASCII digits
                schema = {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}
            if name == "kind":
                schema = {"enum": ["workspaces", "folders", "files"]}
            if name == "specialFolder":
                schema = {"enum": ["approot", "documents", "photos", "cameraroll", "music"]}
            param: dict[str, Any] = {"name": name, "in": "path", "required": True, "schema": schema}
            if name in examples:
                param["example"] = examples[name]
            params.append(param)
    return params


def _examples(state: State | None) -> dict[str, Any]:
    if state is None or not state.store.drives:
        return {}
    drive = next(iter(state.store.drives.values()))
    root = state.store.root(drive)
    first_child = next(state.store.iter_children(root), None)
    examples: dict[str, Any] = {"driveId": drive.id, "userId": drive.owner_id}
    examples["itemId"] = first_child.id if first_child else root.id
    if first_child is not None:
        examples["itemPath"] = "/" + first_child.name
        if first_child.permissions:
            examples["permissionId"] = first_child.permissions[0].id
    # a live upload session and sharing link, when there are any: fuzzing then reaches the
    # fragment ranges and /shares instead of only their 404s
    session = next(iter(state.uploads.sessions), None)
    if session is not None:
        examples["session"] = session
    token = next(iter(state.links.by_token), None)
    if token is not None:
        examples["shareId"] = "s!" + token
    return examples


HTML_PAGE: dict[str, Any] = {
    "200": {"description": "an HTML page", "content": {"text/html": {"schema": STRING}}}
}


# -- Graph ------------------------------------------------------------------------------------
def graph_operation(action: str, method: str) -> dict[str, Any]:
    """What an item row (``action`` after the item, and ``method``) takes and answers."""
    error = "GraphError"
    op: dict[str, Any] = {"tags": ["graph"], "security": [{"bearer": []}]}
    match action, method:
        case "", "GET" | "HEAD":
            op["parameters"] = [
                {"name": "$select", "in": "query", "schema": STRING},
                {"name": "$expand", "in": "query", "schema": STRING},
            ]
            op["responses"] = responses(
                {**returns(ref("SelectedDriveItem")), **NOT_MODIFIED}, error
            )
        case "", "PATCH":
            op["requestBody"] = json_body(ref("ItemPatch"))
            op["responses"] = responses(returns(ref("DriveItem")), error)
        case "", "DELETE":
            op["responses"] = responses(NO_CONTENT, error)
        case "copy", "POST":
            op["requestBody"] = json_body(ref("CopyRequest"), required=False)
            accepted = {
                "description": "Accepted; Location is the monitor URL (no token needed)",
                "headers": {"Location": {"schema": STRING}},
            }
            op["responses"] = responses({"202": accepted}, error)
        case "search(q='{q}')", "GET":
            op["parameters"] = list(PAGING)
            op["responses"] = responses(returns(ref("DriveItemCollection")), error)
        case "thumbnails", "GET":
            op["responses"] = responses(returns(VALUE), error)
        case "versions", "GET":
            op["responses"] = responses(returns(VALUE), error)
        case "versions/{versionId}", "GET":
            op["responses"] = responses(returns(OBJECT), error)
        case "children", "GET":
            op["parameters"] = [  # with $orderby the token is not an offset: any string
                TOP,
                {"name": "$skiptoken", "in": "query", "schema": STRING},
                {"name": "$skipToken", "in": "query", "schema": STRING},
                {"name": "$select", "in": "query", "schema": STRING},
                {"name": "$orderby", "in": "query", "schema": STRING},
            ]
            op["responses"] = responses(returns(ref("DriveItemCollection")), error)
        case "children", "POST":
            op["requestBody"] = json_body(ref("NewItem"))
            op["responses"] = responses(returns(ref("DriveItem"), "201"), error)
        case "content", "GET" | "HEAD":
            op["parameters"] = [RANGE]
            op["responses"] = responses({**REDIRECT_TO_DOWNLOAD, **NOT_MODIFIED}, error)
        case "preview", "POST":
            op["requestBody"] = json_body(OBJECT, required=False)
            op["responses"] = responses(returns(ref("Preview")), error)
        case "createUploadSession", "POST":
            op["requestBody"] = json_body(ref("CreateUploadSession"), required=False)
            op["responses"] = responses(returns(ref("UploadSession")), error)
        case "content", "PUT":
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
            op["responses"] = responses(
                {**returns(ref("DriveItem")), **returns(ref("DriveItem"), "201")}, error
            )
        case "invite", "POST":
            op["requestBody"] = json_body(ref("InviteRequest"))
            ok = {
                **returns(ref("PermissionCollection")),
                **returns(ref("PermissionCollection"), "207"),
            }
            op["responses"] = responses(ok, error)
        case "permissions", "GET":
            op["responses"] = responses(
                {**returns(ref("PermissionCollection")), **NOT_MODIFIED}, error
            )
        case "permissions/{permissionId}", "GET":
            op["responses"] = responses(returns(ref("Permission")), error)
        case "permissions/{permissionId}", "PATCH":
            op["requestBody"] = json_body(ref("PermissionPatch"))
            op["responses"] = responses(returns(ref("Permission")), error)
        case "permissions/{permissionId}", "DELETE":
            op["responses"] = responses(NO_CONTENT, error)
        case _:
            raise ValueError(f"undocumented item operation {method} {action}")
    return op


def graph_paths(state: State | None) -> dict[str, dict[str, Any]]:
    """Each row of Graph's table (``routes.ROUTES``, OneDrive's rows included): a user's row for
    ``/me`` and ``/users/{userId}``, a drive's for every drive form, an item's for every item
    addressing form."""
    paths: dict[str, dict[str, Any]] = {}
    for row in routes.ROUTES:
        operation = graph_row_operation(row)
        if row.target == "/":
            bases = ("",)
        elif row.target == "{drive}":
            bases = DRIVE_PATHS
        elif row.target == "{user}":
            bases = USER_PATHS
        elif row.target == "{share}":
            bases = ("/shares/{shareId}",)
        else:
            bases = ITEM_BASES
        for base in bases:
            path = "/v1.0" + base + ("/" + row.action if row.action else "")
            if row.target == "/":
                path = "/v1.0" + row.path
            paths.setdefault(path, {})[row.method.lower()] = operation
    paths["/v1.0/$batch"] = {"post": batch_operation()}
    paths.update(addressing_paths())
    for path, item in paths.items():
        params = parameters_of(path, state)
        if params:
            item["parameters"] = params
    return paths


def graph_row_operation(row: GraphRoute) -> dict[str, Any]:
    """What the row's handler takes and answers."""
    operation = ROW_OPERATIONS.get(row.handler)
    if operation is None:
        operation = graph_operation(row.action, row.method)
    if row.summary:
        operation = {"summary": row.summary, **operation}
    return operation


def batch_operation() -> dict[str, Any]:
    """JSON batching: up to 20 steps, each answered inside a 200 with its own status."""
    step = {
        "type": "object",
        "required": ["id", "method", "url"],
        "properties": {
            "id": {"type": "string", "minLength": 1},
            "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]},
            "url": {"type": "string", "minLength": 1},
            "headers": {"type": "object", "additionalProperties": STRING},
            "body": {},
            "dependsOn": {"type": "array", "items": STRING},
        },
    }
    answer = {
        "type": "object",
        "required": ["id", "status", "headers", "body"],
        "properties": {
            "id": STRING,
            "status": {"type": "integer"},
            "headers": {"type": "object", "additionalProperties": STRING},
            "body": {},
        },
    }
    body = {
        "type": "object",
        "required": ["requests"],
        "properties": {"requests": {"type": "array", "items": step, "minItems": 1, "maxItems": 20}},
    }
    outcome = {
        "type": "object",
        "required": ["responses"],
        "properties": {"responses": {"type": "array", "items": answer}},
    }
    request_body = json_body(body)
    request_body["content"][JSON]["example"] = {  # relative, absolute and chained steps
        "requests": [
            {"id": "1", "method": "GET", "url": "/me/drive/root/children?$top=2"},
            {"id": "2", "method": "GET", "url": "https://graph.microsoft.com/v1.0/me/drive",
             "dependsOn": ["1"]},
            {"id": "3", "method": "POST", "url": "/me/drive/root/children",
             "headers": {"Content-Type": "application/json"},
             "body": {"name": "Made in a batch", "folder": {}}},
        ]
    }  # fmt: skip
    return {
        "tags": ["graph"],
        "security": [{"bearer": []}],
        "requestBody": request_body,
        "responses": responses(returns(outcome), "GraphError"),
    }


def graph_op(ok: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
    operation = {"tags": ["graph"], "security": [{"bearer": []}],
                 "responses": responses(ok, "GraphError")}  # fmt: skip
    if body is not None:
        operation["requestBody"] = body
    return operation


def addressing_paths() -> dict[str, dict[str, Any]]:
    """Addressing forms beyond ``ITEM_BASES``, shown on one drive: special folders and the
    OData key form (their rows are the item rows)."""
    op = graph_op
    item = returns(ref("DriveItem"))
    octets = {"type": "string", "format": "binary"}
    binary = {"content": {"application/octet-stream": {"schema": octets}}}
    keyed = "/v1.0/me/drive/root/children('{name}')"
    return {
        "/v1.0/me/drive/special/{specialFolder}": {"get": op(item)},
        "/v1.0/me/drive/special/{specialFolder}/children": {
            "get": op(returns(ref("DriveItemCollection"))),
            "post": op(returns(ref("DriveItem"), "201"), json_body(ref("NewItem"))),
        },
        keyed: {"get": op(item)},
        keyed + "/content": {
            "get": op({"200": {"description": "bytes", **binary}}),
            "put": op({**item, **returns(ref("DriveItem"), "201")}, {"required": True, **binary}),
        },
    }


def directory_operations() -> dict[Any, Any]:
    """The operations of the rows of resources of their own, by handler."""
    drives = returns(_object({"value": {"type": "array", "items": ref("Drive")}}, ("value",)))
    user = graph_op(returns(ref("User")))
    listing = graph_op(returns({"type": "object", "properties": {"value": {"type": "array"}}}))
    return {
        directory.get_user: user,
        directory.my_drives: graph_op(drives),
        directory.user_drives: graph_op(drives),
        shares.my_shared_with_me: listing,
        shares.drive_shared_with_me: listing,
        operations.get_drive: graph_op(returns(ref("Drive"))),
    }


def transfer_paths() -> dict[str, dict[str, Any]]:
    """Upload session URLs and download URLs: pre-authenticated, no bearer token."""
    fragment = {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
    status = returns(ref("UploadSession"))
    ranged = RANGE
    download = {
        "tags": ["graph"],
        "parameters": [ranged],
        "responses": responses(
            {
                "200": {"description": "bytes", "content": BYTES},
                "206": {"description": "the requested range", "content": BYTES},
                **NOT_MODIFIED,
            },
            "GraphError",
        ),
    }
    return {
        "/up/{session}": {
            "get": {"tags": ["graph"], "responses": responses(status, "GraphError")},
            "put": {
                "tags": ["graph"],
                "parameters": [CONTENT_RANGE],
                "requestBody": fragment,
                "responses": responses(
                    {
                        **returns(ref("UploadSession"), "202"),
                        **returns(ref("DriveItem"), "201"),
                        **returns(ref("DriveItem")),
                    },
                    "GraphError",
                ),
            },
            "post": {
                "tags": ["graph"],
                "responses": responses(
                    {**returns(ref("DriveItem"), "201"), **returns(ref("DriveItem"))}, "GraphError"
                ),
            },
            "delete": {"tags": ["graph"], "responses": responses(NO_CONTENT, "GraphError")},
        },
        "/download/{token}": {"get": download},  # HEAD too (aiohttp answers it like GET)
        "/preview/{token}": {  # the page a preview's getUrl / postUrl shows (no token)
            "get": {"tags": ["graph"], "responses": responses(HTML_PAGE, "GraphError")},
            "post": {"tags": ["graph"], "responses": responses(HTML_PAGE, "GraphError")},
        },
        "/_api/v2.0/monitor/{jobId}": {
            "get": {
                "tags": ["graph"],
                "description": "A copy's monitor (Location of POST …/copy); needs no token.",
                "responses": responses(returns(ref("CopyStatus")), "GraphError"),
            }
        },
    }


# -- sharing links, /shares, sharedWithMe, delta ----------------------------------------------
def share_operations() -> dict[Any, Any]:
    """The operations of the rows on ``/shares/{shareId}``, by handler."""
    binary = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
    content = graph_op({"200": {"description": "bytes", "content": binary}})
    children = {**graph_op(returns(OBJECT)), "parameters": list(PAGING)}
    item = graph_op(returns(ref("DriveItem")))
    return {
        shares.share_summary: graph_op(returns(OBJECT)),
        shares.shared_item: item,
        shares.shared_children: children,
        shares.shared_content: content,
        shares.item_by_id: item,
        shares.children_by_id: children,
        shares.content_by_id: content,
        shares.share_permission: graph_op(returns(ref("Permission"))),
        shares.grant: graph_op(
            returns(ref("PermissionCollection")), json_body(ref("GrantRequest"))
        ),
    }


def item_operations() -> dict[Any, Any]:
    """The operations of item rows that ``graph_operation`` does not describe, by handler:
    sharing links, delta and the older OneDrive API's actions."""
    permission, collection = ref("Permission"), ref("PermissionCollection")
    created = {**returns(permission), **returns(permission, "201")}
    listing = {"type": "object", "properties": {"value": {"type": "array"}}}
    delta_op = graph_op(returns(listing))
    delta_op["parameters"] = [{"name": "token", "in": "query", "schema": STRING}, *PAGING]

    def onedrive(ok: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        return {
            "tags": ["onedrive"],
            "security": [{"bearer": []}],
            "requestBody": json_body(body),
            "responses": responses(ok, "OneDriveError"),
        }

    return {
        links.create_link: graph_op(created, json_body(ref("CreateLinkRequest"))),
        links.grant: graph_op(returns(collection), json_body(ref("GrantRequest"))),
        delta.serve: delta_op,
        onedrive_v1.invite: onedrive(
            {**returns(collection), **returns(collection, "207")}, ref("ActionInviteRequest")
        ),
        onedrive_v1.onedrive_create_link: onedrive(created, ref("CreateLinkRequest")),
    }


# -- route tables -----------------------------------------------------------------------------
def table_paths(
    table: tuple[Route, ...], operations: dict[Handler, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The paths of a route table's rows, each with its handler's operation."""
    paths: dict[str, dict[str, Any]] = {}
    for row in table:
        operation = operations[row.handler]
        if row.summary:
            operation = {"summary": row.summary, **operation}
        paths.setdefault(row.plain_path, {})[row.method.lower()] = operation
    return paths


# -- Onehub -----------------------------------------------------------------------------------
def onehub_paths() -> dict[str, dict[str, Any]]:
    """The rows of ``onehub.ROUTES``."""

    def op(ok: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "tags": ["onehub"],
            "security": [{"bearer": []}],
            "responses": responses(ok, "OnehubError"),
        }
        if body is not None:
            operation["requestBody"] = json_body(body)
        return operation

    node = ref("OnehubNode")
    page = ref("OnehubPage")

    def listing() -> dict[str, Any]:
        return {**op(returns(page)), "parameters": [ONEHUB_OFFSET]}

    upload = {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
    operations: dict[Handler, dict[str, Any]] = {
        onehub.list_workspaces: listing(),
        onehub.create_workspace: op(returns(ref("OnehubWorkspace"), "201"), OBJECT),
        onehub.get_workspace: op(returns(ref("OnehubWorkspace"))),
        onehub.workspace_root: op(returns(OBJECT)),
        onehub.create_root_folder: op(returns(node, "201"), OBJECT),
        onehub.create_sub_folder: op(returns(node, "201"), OBJECT),
        onehub.list_folder: listing(),
        onehub.get_file: op(returns(node)),
        onehub.upload_file: {**op(returns(node, "201")), "requestBody": upload},
        onehub.rename: op(returns(node), OBJECT),
        onehub.delete: op(NO_CONTENT),
        onehub.invite: op({**returns(ref("OnehubShare"), "201")}, ref("OnehubInvitation")),
        onehub.list_rolemaps: listing(),
        onehub.get_rolemap: op(returns(ref("OnehubRolemap"))),
        onehub.update_rolemap: op({"200": {"description": "updated, empty body"}}, OBJECT),
        onehub.delete_rolemap: op(NO_CONTENT),
    }
    return table_paths(onehub.ROUTES, operations)


# -- admin ------------------------------------------------------------------------------------
def admin_paths() -> dict[str, dict[str, Any]]:
    """The rows of ``admin.ROUTES`` and ``dashboard.ROUTES``."""

    def op(ok: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
        operation: dict[str, Any] = {"tags": ["admin"], "responses": responses(ok, "GraphError")}
        if body is not None:
            operation["requestBody"] = json_body(body)
        return operation

    value = returns({"type": "object", "properties": {"value": {"type": "array"}}})
    page = {"200": {"description": "HTML", "content": {"text/html": {"schema": STRING}}}}
    asset = {"200": {"description": "a page asset", "content": {"*/*": {"schema": STRING}}}}
    clock = returns(ref("Clock"))
    operations: dict[Handler, dict[str, Any]] = {
        admin.index: op(returns(OBJECT)),
        admin.health: op(returns(OBJECT)),
        admin.openapi: op(returns(OBJECT)),
        admin.reset: op(NO_CONTENT),
        admin.export_state: op(returns(OBJECT)),
        admin.import_state: op(returns(OBJECT), OBJECT),
        admin.outbox: op(value),
        admin.clear_outbox: op(NO_CONTENT),
        admin_faults.list_faults: op(value),
        admin_faults.add_fault: op(returns(OBJECT, "201"), ref("FaultRule")),
        admin_faults.clear_faults: op(NO_CONTENT),
        admin_faults.remove_fault: op(NO_CONTENT),
        admin_faults.journal: op(value),
        admin_faults.clear_journal: op(NO_CONTENT),
        admin_faults.get_policy: op(returns(ref("Policy"))),
        admin_faults.put_policy: op(returns(ref("Policy")), ref("Policy")),
        admin_clock.read_clock: op(clock),
        admin_clock.move_clock: op(clock, ref("ClockMove")),
        onehub.accept_pending_rolemap: op(returns(ref("OnehubRolemap"))),
        dashboard.home: op(page),
        dashboard.serve_page: op(page),
        dashboard.static_file: op(asset),
        dashboard.get_overview: op(returns(OBJECT)),
        dashboard.get_tree: op(returns(OBJECT)),
        dashboard.get_access: op(returns(OBJECT)),
        dashboard.get_journal: op(returns(OBJECT)),
    }
    return {
        **table_paths(admin.ROUTES, operations),
        **table_paths(dashboard.ROUTES, operations),
    }


# -- Entra ------------------------------------------------------------------------------------
TENANT = {
    "name": "tenant",
    "in": "path",
    "required": True,
    "description": "the tenant's id or domain, common, organizations or consumers",
    "schema": {"type": "string", "minLength": 1},
    "example": "common",
}


def entra_paths() -> dict[str, dict[str, Any]]:
    """The rows of ``entra.ROUTES`` (sign-in, open) and ``entra.ADMIN_ROUTES`` (the mock's)."""

    def op(
        ok: dict[str, Any], form: str | None = None, error: str = "EntraError"
    ) -> dict[str, Any]:
        operation: dict[str, Any] = {"tags": ["identity"], "responses": responses(ok, error)}
        if form is not None:
            content = {"application/x-www-form-urlencoded": {"schema": ref(form)}}
            operation["requestBody"] = {"required": True, "content": content}
        return operation

    authorize_query = [
        {"name": name, "in": "query", "required": name in ("client_id", "redirect_uri"),
         "schema": STRING}
        for name in ("client_id", "response_type", "redirect_uri", "scope", "state", "nonce",
                     "login_hint", "code_challenge", "code_challenge_method", "response_mode")
    ]  # fmt: skip
    redirect = {"302": {"description": "back to redirect_uri with a code or Entra's error",
                        "headers": {"Location": {"schema": STRING}}},
                "200": {"description": "response_mode=form_post: a page that POSTs it there",
                        "content": {"text/html": {"schema": STRING}}}}  # fmt: skip
    discovery_query = [{"name": "authorization_endpoint", "in": "query", "schema": STRING}]
    operations: dict[Handler, dict[str, Any]] = {
        entra.openid_configuration: op(returns(OBJECT)),
        entra.keys: op(returns(ref("Jwks"))),
        entra.instance_discovery: {**op(returns(OBJECT)), "parameters": discovery_query},
        entra.user_realm: {
            **op(returns(OBJECT)),
            "parameters": [{"name": "username", "in": "path", "required": True, "schema": STRING}],
        },
        entra.token: op(returns(ref("EntraToken")), "EntraTokenRequest"),
        entra.authorize: {**op(redirect), "parameters": authorize_query},
        entra.devicecode: op(returns(ref("DeviceCode")), "DeviceCodeRequest"),
        entra.live_token: op(returns(ref("LiveToken")), "LiveTokenRequest", error="LiveError"),
        entra.get_identity: op(returns(OBJECT), error="GraphError"),  # the mock's own
        entra.put_device_flow: {
            **op(returns(ref("DeviceFlow")), error="GraphError"),
            "requestBody": json_body(ref("DeviceFlow")),
        },
    }
    paths = {
        **table_paths(entra.ROUTES, operations),
        **table_paths(entra.ADMIN_ROUTES, operations),
    }
    for path, item in paths.items():
        if "{tenant}" in path:
            item["parameters"] = [TENANT]
    return paths


# -- schemas ----------------------------------------------------------------------------------
SCHEMA_FILE = "openapi.schemas.json"  # shipped next to scenario.schema.json


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _whole(low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


def _number(low: float, high: float) -> dict[str, Any]:
    return {"type": "number", "minimum": low, "maximum": high}


def load_schemas() -> dict[str, Any]:
    """The document's schemas: the shipped file, with the ranges the model enforces."""
    text = resources.files("mockdrive").joinpath(SCHEMA_FILE).read_text("utf-8")
    schemas: dict[str, Any] = json.loads(text)["schemas"]
    model_ranges(schemas)
    return schemas


def model_ranges(schemas: dict[str, Any]) -> None:
    """Fill in the bounds of every number whose range the model defines, so the file cannot
    drift from them."""
    fault_rule = schemas["FaultRule"]["properties"]
    for name, (low, high) in FAULT_LIMITS.items():
        fault_rule[name] = _whole(low, high)
    clock_move = schemas["ClockMove"]["properties"]
    for unit, per_day in UNIT_PER_DAY.items():
        clock_move[unit] = _number(0, MAX_STEP_DAYS * per_day)
    policy = schemas["Policy"]["properties"]
    policy["maxRecipients"] = _whole(1, MAX_RECIPIENTS_LIMIT)
    policy["anonymousLinkMaxDays"] = _whole(1, MAX_LINK_DAYS)
    policy["sharedWithMeDelaySeconds"] = _whole(0, MAX_SHARED_WITH_ME_DELAY)
    item = schemas["CreateUploadSession"]["properties"]["item"]["properties"]
    item["fileSize"] = _whole(0, MAX_FILE_BYTES)


SCHEMAS: dict[str, Any] = load_schemas()
ROW_OPERATIONS: dict[Any, dict[str, Any]] = {
    **directory_operations(),
    **share_operations(),
    **item_operations(),
}


def openapi_document(state: State | None = None, server_url: str | None = None) -> dict[str, Any]:
    """The document; ``state`` supplies example ids, ``server_url`` the server to call."""
    paths = {
        **graph_paths(state),
        **transfer_paths(),
        **onehub_paths(),
        **admin_paths(),
        **entra_paths(),
    }
    for path, item in paths.items():
        if "parameters" not in item:
            params = parameters_of(path, state)
            if params:
                item["parameters"] = params
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "mockdrive",
            "version": "1",
            "description": (
                "An in-memory test double for Microsoft Graph v1.0 drive sharing (also served "
                "under /beta), the older OneDrive API's action.invite, and Onehub."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "responses": refusal_responses(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document
