"""State → scenario data, and scenario data → YAML text.

Both work with explicit stacks, so a tree as deep as the path limit allows (and deeper, should
one ever exist) exports without recursion. ``dump_yaml`` is a small block-style emitter for
scenario data (mappings, lists, text, numbers, booleans, null): it writes text plain when YAML
reads it back as the same text, and double-quoted with escapes otherwise, which keeps every
character (C1 controls, U+0085, U+2028, noncharacters) through a round trip. It is about ten
times faster than PyYAML's dumper, which builds an event per value.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import yaml

from ..model import delta, uploads
from ..model.entra import DEFAULT_DOMAIN, DEFAULT_TENANT_ID
from ..model.ids import EPOCH, format_time
from ..model.onehub import tier_roles
from ..model.permissions import ROLE_RANK, Permission
from ..model.state import State, guess_mime_type, is_root_owner_permission
from ..model.tree import Drive, Item, content_of
from .links import link_to_data
from .load import collector_paused


@collector_paused()
def export_scenario(state: State, *, change_log: bool = True) -> dict[str, Any]:
    """The whole state as scenario data (ids included), in a stable order.

    Loading the result and exporting again gives the same data, byte for byte once dumped.
    ``change_log=False`` leaves out the change log (``changes``: every change it holds, for
    delta tokens), for a caller that tells two moments of one state apart by its serial.
    """
    directory = state.directory
    users = [_drop_none(_export_user(state, u)) for u in directory.users.values()]
    scenario: dict[str, Any] = {"seed": state.seed}
    counts = state.ids.to_data()
    if counts:  # a reload draws none of the ids this history drew
        scenario["ids"] = counts
    scenario["users"] = users
    if directory.groups:
        scenario["groups"] = [
            _drop_none(
                {
                    "id": g.id,
                    "displayName": g.display_name,
                    "email": g.email,
                    "members": [directory.users[m].email for m in g.member_ids],
                }
            )
            for g in directory.groups.values()
        ]
    scenario["drives"] = [_export_drive(state, d) for d in state.store.drives.values()]
    if not state.policy.is_default:
        scenario["policy"] = state.policy.to_dict()
    _export_identity(state, scenario)
    if state.faults.rules:
        scenario["faults"] = [rule.state() for rule in state.faults.rules]
    if state.clock.moved or state.clock.moment() != EPOCH:  # a reload continues it exactly
        scenario["clock"] = state.clock.peek()
    numbering = _export_onehub(state)
    if numbering:
        scenario["onehub"] = numbering
    # delta tokens handed out, and a time as the token (which needs none), continue on the
    # reloaded copy: the log goes along once a token was issued or anything changed
    log = state.changes
    if change_log and (log.issued or log.marks):
        scenario["changes"] = delta.log_to_data(log)
        if not log.issued:  # no token names this state: a reload takes a number of its own
            del scenario["changes"]["generation"]
    sessions = uploads.sessions_to_data(state)
    if sessions:  # half-done uploads continue on the reloaded copy
        scenario["uploadSessions"] = sessions
    if state.copy_jobs:  # and copy monitors answer as before
        scenario["copyJobs"] = dict(state.copy_jobs)
    sign_ins = state.entra.sign_ins_to_data(directory)
    if sign_ins:  # refresh tokens, codes and device codes redeem as before; device codes poll
        scenario["signIns"] = sign_ins  # as the switch says
    return scenario


def _export_onehub(state: State) -> dict[str, Any]:
    """Onehub's integer ids, each kind in number order (deleted objects too, so that the next
    number handed out after a load is the one the original would hand out)."""
    ids = state.onehub
    data: dict[str, Any] = {}
    kinds = (("workspace", "workspaces"), ("node", "nodes"), ("user", "users"))
    for kind, key in (*kinds, ("rolemap", "rolemaps")):
        numbered = ids.numbered(kind)
        if numbered:
            data[key] = numbered
    return data


def _export_history(state: State, drive: Drive, item: Item, node: dict[str, Any]) -> None:
    """What a client sees of an item's past: its times, eTag/cTag versions, who made it."""
    node["createdDateTime"] = item.created
    if item.modified != item.created:
        node["lastModifiedDateTime"] = item.modified
    if item.version != 1:
        node["version"] = item.version
    if item.content_version != 1:
        node["contentVersion"] = item.content_version
    if item.description is not None:
        node["description"] = item.description
    client_times = {"createdDateTime": item.fs_created, "lastModifiedDateTime": item.fs_modified}
    if item.fs_created or item.fs_modified:
        node["fileSystemInfo"] = _drop_none(client_times)
    users = state.directory.users
    for key, user_id in (("createdBy", item.created_by), ("lastModifiedBy", item.modified_by)):
        if user_id != drive.owner_id and user_id in users:
            node[key] = users[user_id].email


def _export_user(state: State, user: Any) -> dict[str, Any]:
    consent = state.entra.consent.get(user.id)
    return {
        "id": user.id,
        "displayName": user.display_name,
        "email": user.email,
        "token": user.token,
        "alias": user.alias,
        "password": state.entra.passwords.get(user.id),
        "consent": list(consent) if consent is not None else None,
    }


def _export_identity(state: State, scenario: dict[str, Any]) -> None:
    """The tenant (when not the default one) and its declared apps (what sign-ins left is
    ``signIns``, written last)."""
    entra = state.entra
    tenant = {}
    if entra.tenant_id != DEFAULT_TENANT_ID:
        tenant["id"] = entra.tenant_id
    if entra.domain != DEFAULT_DOMAIN:
        tenant["domain"] = entra.domain
    if tenant:
        scenario["tenant"] = tenant
    if entra.apps:
        scenario["apps"] = [
            _drop_none(
                {
                    "clientId": app.client_id,
                    "displayName": app.display_name,
                    "clientSecret": app.secret,
                    # copies: the data is written in a thread while the state goes on
                    "redirectUris": list(app.redirect_uris) or None,
                    "roles": list(app.roles) or None,
                    "drives": list(app.drives) or None,
                }
            )
            for app in entra.apps.values()
        ]


def _export_drive(state: State, drive: Drive) -> dict[str, Any]:
    owner = state.directory.users[drive.owner_id]
    defaults = [key for key, value in state.store.default_drive.items() if value == drive.id]
    data: dict[str, Any] = {
        "id": drive.id,
        "owner": owner.email,
        "driveType": drive.drive_type,
        "name": drive.name,
        "createdDateTime": drive.created,
    }
    extra = [k for k in defaults if k != owner.id]
    if extra:
        data["defaultFor"] = extra
    root = state.store.root(drive)
    root_node: dict[str, Any] = {"id": root.id}
    _export_history(state, drive, root, root_node)
    permissions = [
        _export_permission(state, drive, p)
        for p in root.permissions
        if not is_root_owner_permission(drive, p)
    ]
    if permissions:
        root_node["permissions"] = permissions
    data["root"] = root_node
    # depth first with an explicit stack: each entry is (folder, the node whose children it fills)
    stack = [(root, root_node)]
    items = state.store.items
    while stack:
        folder, node = stack.pop()
        if not folder.children:
            continue
        children = []
        for child_id in folder.children.values():
            child = items[child_id]
            child_node = _export_item(state, drive, child)
            children.append(child_node)
            if child.children:
                stack.append((child, child_node))
        node["children"] = children
    return data


def _export_item(state: State, drive: Drive, item: Item) -> dict[str, Any]:
    """One item without its children (the caller adds them)."""
    node: dict[str, Any] = {"id": item.id, "name": item.name}
    _export_history(state, drive, item, node)
    if item.is_folder:
        node["folder"] = {}
    else:
        node["file"] = {"mimeType": item.mime_type or guess_mime_type(item.name)}
        if item.filler is not None and item.filler != item.id:  # a copy: its seed is not its id
            node["content"] = content_of(item).decode("ascii")
        elif item.content:
            try:
                node["content"] = item.content.decode("utf-8")
            except UnicodeDecodeError:
                node["contentBase64"] = base64.b64encode(item.content).decode("ascii")
        else:
            node["size"] = item.size
    if item.special is not None:
        node["specialFolder"] = {"name": item.special}
    if not item.inherits:
        node["inherits"] = False
    if item.permissions:
        node["permissions"] = [_export_permission(state, drive, p) for p in item.permissions]
    return node


def _export_permission(state: State, drive: Drive, permission: Permission) -> dict[str, Any]:
    if permission.link is not None:
        return link_to_data(state, permission)
    directory = state.directory
    data: dict[str, Any] = {"id": permission.id}
    derived_address: str | None = None  # the invitation address a load gives by default
    owner_role = "owner" in permission.roles and permission.native_role is None
    if permission.grantee_id in directory.groups:
        data["group"] = permission.grantee_id
    elif permission.grantee_id is not None:
        user = directory.users.get(permission.grantee_id)
        data["user"] = user.email if user else permission.grantee_id
        derived_address = None if owner_role or user is None else user.email
    else:
        data["email"] = derived_address = permission.invitation_email
    roles = sorted(permission.roles, key=ROLE_RANK.get)
    if roles or not permission.native_role or tier_roles(permission.native_role):
        data["roles"] = roles  # a Onehub "Access Denied" has none: onehubRole says it all
    default_inviter = None if "owner" in permission.roles else drive.owner_id
    if permission.invited_by != default_inviter and permission.invited_by is not None:
        inviter = directory.users.get(permission.invited_by)
        data["invitedBy"] = inviter.email if inviter else permission.invited_by
    if permission.native_role:
        data["onehubRole"] = permission.native_role
    if permission.pending:
        data["pending"] = True
    if permission.sign_in_required:
        data["signInRequired"] = True
    if permission.has_password:
        data["hasPassword"] = True
    if permission.expiration:
        data["expiration"] = permission.expiration
    if permission.invitation_email != derived_address and permission.invitation_email:
        data["invitationEmail"] = permission.invitation_email
    # sharedWithMe's order and delay, and a pending invitation's deadline, count from it
    when = state.shared_at.get(permission.id)
    data["sharedDateTime"] = None if when is None else format_time(when)
    return data


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


# -- YAML text ------------------------------------------------------------------------------------
_PLAIN = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9 _./@+()=,;'-]*")
_RESOLVERS = yaml.resolver.Resolver.yaml_implicit_resolvers
_ESCAPE = re.compile(
    '[\\x00-\\x1f"\\\\\\x7f-\\x9f\\u2028\\u2029\\ufeff\\ufffe\\uffff\\ud800-\\udfff]'
)
_ESCAPES = {"\0": "\\0", "\t": "\\t", "\n": "\\n", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
_END = object()


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02X}" if code <= 0xFF else f"\\u{code:04X}"


def _text(value: str, cache: dict[str, str]) -> str:
    """``value`` as a YAML scalar that reads back as the same text."""
    shown = cache.get(value)
    if shown is not None:
        return shown
    shown = value
    if not _PLAIN.fullmatch(value) or value[-1] == " " or " #" in value:
        shown = '"' + _ESCAPE.sub(_escape, value) + '"'
    else:
        for _tag, regexp in _RESOLVERS.get(value[0], ()):
            if regexp.match(value):  # would read back as a number, boolean, null or date
                shown = '"' + value + '"'
                break
    if len(cache) < 100_000:
        cache[value] = shown
    return shown


def _scalar(value: Any, cache: dict[str, str]) -> str:
    if isinstance(value, str):
        return _text(value, cache)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return yaml.dump(value, Dumper=yaml.SafeDumper).split("\n", 1)[0]
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    raise TypeError(f"cannot write {type(value).__name__} in a scenario")


@collector_paused()
def dump_yaml(data: Any) -> str:
    """Scenario data as block-style YAML, keys in the order given (what ``mockdrive export``
    prints); ``parse`` reads it back to equal data."""
    cache: dict[str, str] = {}
    if not isinstance(data, dict | list) or not data:
        return _scalar(data, cache) + "\n"
    out: list[str] = []
    write = out.append
    # each entry: (iterator over the entries of a collection, indent, is a mapping)
    stack: list[tuple[Any, int, bool]] = [
        (iter(data.items()) if isinstance(data, dict) else iter(data), 0, isinstance(data, dict))
    ]
    inline = False  # the current line already holds "- ": the next key goes right after it
    while stack:
        entries, indent, is_map = stack[-1]
        entry = next(entries, _END)
        if entry is _END:
            stack.pop()
            continue
        if is_map:
            key, value = entry
            head = _scalar(key, cache) + ":"
        else:
            value, head = entry, "-"
        pad = "" if inline else " " * indent
        inline = False
        if isinstance(value, dict) and value:
            if is_map:
                write(f"{pad}{head}\n")
            else:
                write(f"{pad}- ")
                inline = True
            stack.append((iter(value.items()), indent + 2, True))
        elif isinstance(value, list) and value:
            write(f"{pad}{head}\n")
            stack.append((iter(value), indent if is_map else indent + 2, False))
        else:
            write(f"{pad}{head} {_scalar(value, cache)}\n")
    return "".join(out)


def export_yaml(state: State) -> str:
    """The state as scenario YAML."""
    return dump_yaml(export_scenario(state))
