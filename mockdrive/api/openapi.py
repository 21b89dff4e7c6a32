"""The OpenAPI 3 document of every route: Graph (and OneDrive's action.invite), Onehub, admin.

Served at ``/_mockdrive/openapi.json``. Graph routes are listed for each documented drive and
item addressing form; examples carry ids from the live state so generated requests reach real
items. A test keeps this document and the routes in step in both directions.
"""

from __future__ import annotations

from typing import Any

from ..model.faults import LIMITS as FAULT_LIMITS
from ..model.policy import MAX_LINK_DAYS, MAX_RECIPIENTS_LIMIT, MAX_SHARED_WITH_ME_DELAY
from ..model.state import State
from .admin_clock import UNIT_PER_DAY
from .graph.routes import ITEM_OPERATIONS

JSON = "application/json"
OBJECT: dict[str, Any] = {"type": "object"}
STRING = {"type": "string"}
VALUE: dict[str, Any] = {"type": "object", "properties": {"value": {"type": "array"}}}
BOOL = {"type": "boolean"}

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
DRIVE_PATHS = (
    "/me/drive",
    "/drive",
    "/me/drives/{driveId}",
    "/drives/{driveId}",
    "/users/{userId}/drive",
    "/groups/{groupId}/drive",
    "/sites/{siteId}/drive",
)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": schema}}}


def responses(ok: dict[str, Any], error: str) -> dict[str, Any]:
    """Success responses plus every 4xx in the dialect's error envelope."""
    return {**ok, "4XX": {"description": "refused", "content": {JSON: {"schema": ref(error)}}}}


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
    """One item operation (``action`` as in ITEM_OPERATIONS) in Graph's terms."""
    error = "OneDriveError" if action == "action.invite" else "GraphError"
    op: dict[str, Any] = {"tags": ["graph"], "security": [{"bearer": []}]}
    if action == "action.invite":
        op["tags"] = ["onedrive"]
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
        case "action.invite", "POST":
            op["requestBody"] = json_body(ref("ActionInviteRequest"))
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
    paths: dict[str, dict[str, Any]] = {}
    for path in DRIVE_PATHS:
        op = {
            "tags": ["graph"],
            "security": [{"bearer": []}],
            "responses": responses(returns(ref("Drive")), "GraphError"),
        }
        paths["/v1.0" + path] = {"get": op}
    for base in ITEM_BASES:
        for action, method in ITEM_OPERATIONS:
            path = "/v1.0" + base + ("/" + action if action else "")
            paths.setdefault(path, {})[method.lower()] = graph_operation(action, method)
    paths["/v1.0/$batch"] = {"post": batch_operation()}
    paths.update(directory_paths())
    for path, item in paths.items():
        params = parameters_of(path, state)
        if params:
            item["parameters"] = params
    return paths


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


def directory_paths() -> dict[str, dict[str, Any]]:
    """The user and drive collections, special folders and the OData key form."""

    def op(ok: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
        operation = {"tags": ["graph"], "security": [{"bearer": []}],
                     "responses": responses(ok, "GraphError")}  # fmt: skip
        if body is not None:
            operation["requestBody"] = body
        return operation

    drives = returns(_object({"value": {"type": "array", "items": ref("Drive")}}, ("value",)))
    item = returns(ref("DriveItem"))
    octets = {"type": "string", "format": "binary"}
    binary = {"content": {"application/octet-stream": {"schema": octets}}}
    keyed = "/v1.0/me/drive/root/children('{name}')"
    return {
        "/v1.0/me": {"get": op(returns(ref("User")))},
        "/v1.0/users/{userId}": {"get": op(returns(ref("User")))},
        "/v1.0/me/drives": {"get": op(drives)},
        "/v1.0/drives": {"get": op(drives)},
        "/v1.0/users/{userId}/drives": {"get": op(drives)},
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
    }


# -- sharing links, /shares, sharedWithMe, delta, the clock (issue 14) -------------------------
def link_paths() -> dict[str, dict[str, Any]]:
    from .graph.links import LINK_OPERATIONS

    def op(ok: dict[str, Any], body: dict[str, Any] | None = None, tag: str = "graph"):
        operation: dict[str, Any] = {"tags": [tag], "security": [{"bearer": []}]}
        operation["responses"] = responses(
            ok, "OneDriveError" if tag == "onedrive" else "GraphError"
        )
        if body is not None:
            operation["requestBody"] = json_body(body)
        return operation

    permission, collection = ref("Permission"), ref("PermissionCollection")
    created = {**returns(permission), **returns(permission, "201")}
    operations = {
        "createLink": op(created, ref("CreateLinkRequest")),
        "action.createLink": op(created, ref("CreateLinkRequest"), "onedrive"),
        "permissions/{permissionId}/grant": op(returns(collection), ref("GrantRequest")),
    }
    paths: dict[str, dict[str, Any]] = {}
    for base in ITEM_BASES:
        for action, method in LINK_OPERATIONS:
            paths.setdefault("/v1.0" + base + "/" + action, {})[method.lower()] = operations[action]
    from .graph.shares import SHARE_OPERATIONS

    share_ok = {
        "": returns(OBJECT),
        "permission": returns(permission),
        "permission/grant": returns(collection),
    }
    for action, method in SHARE_OPERATIONS:
        path = "/v1.0/shares/{shareId}" + ("/" + action if action else "")
        binary = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
        ok = share_ok.get(action) or returns(
            OBJECT if action.endswith("children") else ref("DriveItem")
        )
        if action.endswith("content"):
            ok = {"200": {"description": "bytes", "content": binary}}
        body = ref("GrantRequest") if method == "POST" else None
        paths.setdefault(path, {})[method.lower()] = op(ok, body)
        if action.endswith("children"):
            paths[path][method.lower()]["parameters"] = list(PAGING)
    listing = {"type": "object", "properties": {"value": {"type": "array"}}}
    delta_op = op(returns(listing))
    delta_op["parameters"] = [{"name": "token", "in": "query", "schema": STRING}, *PAGING]
    for base in ITEM_BASES:
        paths["/v1.0" + base + "/delta"] = {"get": delta_op}
    for path in ("/me/drive/sharedWithMe", "/drive/sharedWithMe", "/drives/{driveId}/sharedWithMe"):
        paths["/v1.0" + path] = {"get": op(returns(listing))}
    admin = {"tags": ["admin"]}
    clock = returns(ref("Clock"))
    paths["/_mockdrive/clock"] = {
        "get": {**admin, "responses": responses(clock, "GraphError")},
        "post": {
            **admin,
            "responses": responses(clock, "GraphError"),
            **json_body_of(ref("ClockMove")),
        },
    }
    return paths


def json_body_of(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": json_body(schema)}


# -- Onehub -----------------------------------------------------------------------------------
def onehub_paths() -> dict[str, dict[str, Any]]:
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

    return {
        "/workspaces": {
            "get": listing(),
            "post": op(returns(ref("OnehubWorkspace"), "201"), OBJECT),
        },
        "/workspaces/{id}": {"get": op(returns(ref("OnehubWorkspace")))},
        "/workspaces/{id}/folders": {
            "get": op(returns(OBJECT)),
            "post": op(returns(node, "201"), OBJECT),
        },
        "/workspaces/{id}/folders/{folderId}/folders": {"post": op(returns(node, "201"), OBJECT)},
        "/folders/{id}": {"get": listing()},
        "/files/{id}": {"get": op(returns(node))},
        "/folders/{id}/files": {
            "post": {
                **op(returns(node, "201")),
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {"file": {"type": "string", "format": "binary"}},
                            }
                        }
                    },
                },
            }
        },
        "/{kind}/{id}": {"put": op(returns(node), OBJECT), "delete": op(NO_CONTENT)},
        "/{kind}/{id}/invitations": {
            "post": op({**returns(ref("OnehubShare"), "201")}, ref("OnehubInvitation"))
        },
        "/{kind}/{id}/rolemaps": {"get": listing()},
        "/rolemaps/{id}": {
            "get": op(returns(ref("OnehubRolemap"))),
            "put": op({"200": {"description": "updated, empty body"}}, OBJECT),
            "delete": op(NO_CONTENT),
        },
    }


# -- admin ------------------------------------------------------------------------------------
def admin_paths() -> dict[str, dict[str, Any]]:
    def op(ok: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
        operation: dict[str, Any] = {"tags": ["admin"], "responses": responses(ok, "GraphError")}
        if body is not None:
            operation["requestBody"] = json_body(body)
        return operation

    value = returns({"type": "object", "properties": {"value": {"type": "array"}}})
    page = {"200": {"description": "HTML", "content": {"text/html": {"schema": STRING}}}}
    asset = {"200": {"description": "a page asset", "content": {"*/*": {"schema": STRING}}}}
    return {
        "/_mockdrive": {"get": op(returns(OBJECT))},
        "/_mockdrive/": {"get": op(returns(OBJECT))},
        "/_mockdrive/health": {"get": op(returns(OBJECT))},
        "/_mockdrive/openapi.json": {"get": op(returns(OBJECT))},
        "/_mockdrive/reset": {"post": op(NO_CONTENT)},
        "/_mockdrive/state": {"get": op(returns(OBJECT)), "put": op(returns(OBJECT), OBJECT)},
        "/_mockdrive/outbox": {"get": op(value), "delete": op(NO_CONTENT)},
        "/_mockdrive/faults": {
            "get": op(value),
            "post": op(returns(OBJECT, "201"), ref("FaultRule")),
            "delete": op(NO_CONTENT),
        },
        "/_mockdrive/faults/{ruleId}": {"delete": op(NO_CONTENT)},
        "/_mockdrive/journal": {"get": op(value), "delete": op(NO_CONTENT)},
        "/_mockdrive/policy": {
            "get": op(returns(ref("Policy"))),
            "put": op(returns(ref("Policy")), ref("Policy")),
        },
        "/_mockdrive/onehub/rolemaps/{id}/accept": {"post": op(returns(ref("OnehubRolemap")))},
        "/": {"get": op(page)},
        "/_mockdrive/ui": {"get": op(page)},
        "/_mockdrive/ui/": {"get": op(page)},
        "/_mockdrive/ui/{name}": {"get": op(asset)},
        "/_mockdrive/dashboard/overview": {"get": op(returns(OBJECT))},
        "/_mockdrive/dashboard/tree": {"get": op(returns(OBJECT))},
        "/_mockdrive/dashboard/access": {"get": op(returns(OBJECT))},
        "/_mockdrive/dashboard/journal": {"get": op(returns(OBJECT))},
        "/_api/v2.0/monitor/{jobId}": {
            "get": {
                "tags": ["graph"],
                "description": "A copy's monitor (Location of POST …/copy); needs no token.",
                "responses": responses(returns(ref("CopyStatus")), "GraphError"),
            }
        },
    }


# -- schemas ----------------------------------------------------------------------------------
def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _whole(low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


def _number(low: float, high: float) -> dict[str, Any]:
    return {"type": "number", "minimum": low, "maximum": high}


IDENTITY_SET = _object({"user": _object({"id": STRING, "displayName": STRING, "email": STRING})})
ROLES = {"type": "array", "items": {"enum": ["read", "write", "owner"]}}

DRIVE_ITEM_PROPERTIES: dict[str, Any] = {
    "id": STRING,
    "name": STRING,
    "eTag": STRING,
    "cTag": STRING,
    "size": {"type": "integer"},
    "createdDateTime": STRING,
    "lastModifiedDateTime": STRING,
    "webUrl": STRING,
    "createdBy": IDENTITY_SET,
    "parentReference": OBJECT,
    "folder": _object({"childCount": {"type": "integer"}}),
    "file": OBJECT,
}

SCHEMAS: dict[str, Any] = {
    # a driveItem as $select shapes it: only the id is always there
    "SelectedDriveItem": _object(DRIVE_ITEM_PROPERTIES, ("id",)),
    "GraphError": _object(
        {
            "error": _object(
                {"code": STRING, "message": STRING, "innerError": OBJECT},
                ("code", "message", "innerError"),
            )
        },
        ("error",),
    ),
    "OneDriveError": _object(
        {
            "error": _object(
                {
                    "code": STRING,
                    "message": STRING,
                    "innererror": _object({"code": STRING}, ("code",)),
                },
                ("code", "message", "innererror"),
            )
        },
        ("error",),
    ),
    "OnehubError": {
        "anyOf": [
            _object({"errors": _object({"base": {"type": "array", "items": STRING}})}, ("errors",)),
            _object({"error": STRING}, ("error",)),
            _object({"share": OBJECT}, ("share",)),
            {"type": "object", "minProperties": 1},  # a resource envelope with its errors hash
        ]
    },
    "Drive": _object(
        {
            "id": STRING,
            "driveType": {"enum": ["personal", "business", "documentLibrary"]},
            "name": STRING,
            "owner": OBJECT,
            "quota": OBJECT,
        },
        ("id", "driveType", "owner", "quota"),
    ),
    "DriveItem": _object(
        dict(DRIVE_ITEM_PROPERTIES),
        ("id", "name", "eTag", "size", "parentReference"),
    ),
    "DriveItemCollection": _object(
        {"value": {"type": "array", "items": ref("SelectedDriveItem")}, "@odata.nextLink": STRING},
        ("value",),
    ),
    "NewItem": _object(
        {
            "name": STRING,
            "folder": OBJECT,
            "file": OBJECT,
            "@microsoft.graph.conflictBehavior": {"enum": ["fail", "replace", "rename"]},
        },
        ("name",),
    ),
    "Permission": _object(
        {
            "id": STRING,
            "roles": ROLES,
            "grantedTo": IDENTITY_SET,
            "grantedToV2": OBJECT,
            "invitation": _object({"email": STRING, "signInRequired": {"type": "boolean"}}),
            "inheritedFrom": _object({"driveId": STRING, "id": STRING, "path": STRING}),
            "error": OBJECT,
            "link": _object(
                {"type": STRING, "scope": STRING, "webUrl": STRING, "preventsDownload": BOOL}
            ),
            "shareId": STRING,
            "hasPassword": BOOL,
            "expirationDateTime": STRING,
            "grantedToIdentitiesV2": {"type": "array", "items": OBJECT},
        },
        ("id", "roles"),
    ),
    "CreateUploadSession": _object(
        {
            "item": _object(
                {
                    "@microsoft.graph.conflictBehavior": {"enum": ["fail", "replace", "rename"]},
                    "name": STRING,
                    "fileSize": {"type": "integer", "minimum": 0, "maximum": 250 * 1024**3},
                    "fileSystemInfo": _object(
                        {"createdDateTime": STRING, "lastModifiedDateTime": STRING}
                    ),
                    "description": STRING,
                }
            ),
            "@microsoft.graph.conflictBehavior": {"enum": ["fail", "replace", "rename"]},
            "deferCommit": {"type": "boolean"},
        }
    ),
    "UploadSession": _object(
        {
            "uploadUrl": STRING,
            "expirationDateTime": STRING,
            "nextExpectedRanges": {"type": "array", "items": STRING},
        },
        ("expirationDateTime", "nextExpectedRanges"),
    ),
    "Preview": _object(
        {"getUrl": STRING, "postUrl": STRING, "postParameters": STRING},
        ("getUrl", "postUrl", "postParameters"),
    ),
    "CreateLinkRequest": _object(
        {
            "type": {"enum": ["view", "edit", "embed"]},
            "scope": {"enum": ["anonymous", "organization", "users"]},
            "password": STRING,
            "expirationDateTime": {"type": "string", "format": "date-time"},
            "retainInheritedPermissions": {"type": "boolean"},
            "recipients": {"type": "array", "items": ref("DriveRecipient")},
            "sendNotification": {"type": "boolean"},
            "message": STRING,
        },
        ("type",),
    ),
    "GrantRequest": _object(
        {
            "recipients": {"type": "array", "items": ref("DriveRecipient")},
            "roles": {"type": "array", "items": {"enum": ["read", "write"]}},
        },
        ("recipients",),
    ),
    "PermissionCollection": _object(
        {"value": {"type": "array", "items": ref("Permission")}}, ("value",)
    ),
    "DriveRecipient": _object({"email": STRING, "alias": STRING, "objectId": STRING}),
    "InviteRequest": _object(
        {
            "recipients": {"type": "array", "items": ref("DriveRecipient")},
            "roles": {"type": "array", "items": {"enum": ["read", "write"]}},
            "message": {"type": "string", "maxLength": 2000},
            "requireSignIn": {"type": "boolean"},
            "sendInvitation": {"type": "boolean"},
            "retainInheritedPermissions": {"type": "boolean"},
            "expirationDateTime": {"type": "string", "format": "date-time"},
            "password": STRING,
        },
        ("recipients", "roles"),
    ),
    "ActionInviteRequest": _object(
        {
            "recipients": {"type": "array", "items": {"anyOf": [STRING, ref("DriveRecipient")]}},
            "roles": {"type": "array", "items": {"enum": ["read", "write"]}},
            "message": {"type": "string", "maxLength": 2000},
            "requireSignIn": {"type": "boolean"},
            "requiresSignIn": {"type": "boolean"},
            "suppressNotification": {"type": "boolean"},
            "sendInvitation": {"type": "boolean"},
            "type": {"enum": ["mail"]},
        },
        ("recipients", "roles"),
    ),
    "ItemPatch": _object(
        {
            "name": STRING,
            "description": STRING,
            "parentReference": _object({"driveId": STRING, "id": STRING, "path": STRING}),
            "fileSystemInfo": _object({"createdDateTime": STRING, "lastModifiedDateTime": STRING}),
            "@microsoft.graph.conflictBehavior": {"enum": ["fail", "replace", "rename"]},
        }
    ),
    "CopyRequest": _object(
        {
            "name": STRING,
            "parentReference": _object({"driveId": STRING, "id": STRING, "path": STRING}),
        }
    ),
    "CopyStatus": _object(
        {
            "operation": STRING,
            "percentageComplete": {"type": "number"},
            "resourceId": STRING,
            "status": {"enum": ["completed"]},
        },
        ("status", "resourceId"),
    ),
    "User": _object(
        {
            "id": STRING,
            "displayName": STRING,
            "mail": STRING,
            "userPrincipalName": STRING,
            "givenName": STRING,
            "surname": STRING,
            "businessPhones": {"type": "array", "items": STRING},
        },
        ("id", "displayName"),
    ),
    "PermissionPatch": _object(
        {
            "roles": {"type": "array", "items": {"enum": ["read", "write"]}},
            "expirationDateTime": STRING,
        },
        ("roles",),
    ),
    "FaultRule": _object(
        {
            "effect": {"enum": ["notificationFailure", "error", "throttle", "latency"]},
            "id": STRING,
            "method": STRING,
            "path": {"type": "string", "maxLength": 200},
            "caller": STRING,
            "recipient": STRING,
            "domain": STRING,
            "innerCode": STRING,
            "code": STRING,
            "message": STRING,
            "throttleEarlyRetries": BOOL,
            **{name: _whole(low, high) for name, (low, high) in FAULT_LIMITS.items()},
        },
        ("effect",),
    ),
    "ClockMove": {
        **_object({unit: _number(0, 36_600 * per_day) for unit, per_day in UNIT_PER_DAY.items()}),
        "minProperties": 1,
        "additionalProperties": False,
        "description": "moves the clock forward, at most 36,600 days in all, never past 9000",
    },
    "Clock": _object(
        {"now": STRING, "pending": {"type": "integer"}, "deadlinesReached": {"type": "integer"}},
        ("now", "pending"),
    ),
    "Policy": {
        **_object(
            {
                "externalSharing": BOOL,
                "allowedDomains": {"type": "array", "items": STRING},
                "blockedDomains": {"type": "array", "items": STRING},
                "maxRecipients": _whole(1, MAX_RECIPIENTS_LIMIT),
                "anonymousLinks": BOOL,
                "anonymousLinkMaxDays": _whole(1, MAX_LINK_DAYS),
                "defaultLinkScope": {"enum": ["anonymous", "organization", "users"]},
                "sharedWithMeDelaySeconds": _whole(0, MAX_SHARED_WITH_ME_DELAY),
                "lenientUploadSessions": BOOL,
            }
        ),
        "additionalProperties": False,
    },
    "OnehubNode": {
        "anyOf": [_object({"folder": OBJECT}, ("folder",)), _object({"file": OBJECT}, ("file",))]
    },
    "OnehubWorkspace": _object(
        {
            "workspace": _object(
                {"id": {"type": "integer"}, "name": STRING, "root_folder_id": {"type": "integer"}}
            )
        },
        ("workspace",),
    ),
    "OnehubPage": _object(
        {
            "current_page": {"type": "integer"},
            "total_entries": {"type": "integer"},
            "total_pages": {"type": "integer"},
            "per_page": {"type": "integer"},
            "items": {"type": "array"},
        },
        ("current_page", "total_entries", "total_pages", "per_page", "items"),
    ),
    "OnehubInvitation": _object({"invitation": _object({"emails": STRING, "role_name": STRING})}),
    "OnehubShare": _object(
        {
            "share": _object(
                {
                    "emails": STRING,
                    "email_errors": {"type": "array"},
                    "join_errors": {"type": "array"},
                    "invited_emails": {"type": "array"},
                    "errors": OBJECT,
                }
            )
        },
        ("share",),
    ),
    "OnehubRolemap": _object(
        {"rolemap": _object({"id": {"type": "integer"}, "role_name": STRING, "state": STRING})},
        ("rolemap",),
    ),
}


def openapi_document(state: State | None = None, server_url: str | None = None) -> dict[str, Any]:
    """The document; ``state`` supplies example ids, ``server_url`` the server to call."""
    paths = {
        **graph_paths(state),
        **transfer_paths(),
        **link_paths(),
        **onehub_paths(),
        **admin_paths(),
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
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document
