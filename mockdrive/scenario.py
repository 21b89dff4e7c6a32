"""Scenario files (YAML or JSON) ⇄ State.

A scenario lists ``users``, ``groups`` and ``drives``; each drive has a ``root`` whose ``children``
nest folders (``folder: {}``) and files (``file: {mimeType}``, ``size`` or ``content``), each with
optional ``permissions`` (``user``, ``group`` or ``email``, and ``roles``) and ``inherits: false``.
The format is described by ``scenario.schema.json`` (shipped in the package). Loading validates
against it, then checks references; every problem is reported as ``file:line: path: reason``.
``export_scenario`` writes a state back in the same format, so export → load → export is stable.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .model import links, onehub
from .model.errors import InvalidRequest
from .model.identity import Group, User
from .model.permissions import ROLE_RANK, Permission
from .model.policy import SharingPolicy
from .model.state import State, guess_mime_type
from .model.tree import Drive, Item, validate_name

SCHEMA_FILE = "scenario.schema.json"
MAX_REPORTED_PROBLEMS = 20
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

PathParts = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a scenario: where (file, line, path in the document) and why."""

    source: str
    line: int | None
    path: PathParts
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {format_path(self.path)}: {self.reason}"


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; each line names the file, the line, the path and why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def format_path(path: PathParts) -> str:
    """``("drives", 0, "owner")`` → ``drives[0].owner``; the empty path is ``(document)``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


@cache
def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of the scenario format, as shipped in the package."""
    return json.loads(resources.files("mockdrive").joinpath(SCHEMA_FILE).read_text("utf-8"))


# -- parsing: text → data, with the YAML node tree kept to find line numbers -------------------
class _Document:
    """Parsed data plus the YAML nodes it came from (to turn a path into a line number)."""

    def __init__(self, data: Any, node: yaml.Node | None, source: str) -> None:
        self.data = data
        self.node = node
        self.source = source

    def line_of(self, path: PathParts) -> int | None:
        """The line of the deepest node that exists along ``path`` (1-based)."""
        node = self.node
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in path:
            child = None
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                        child = value
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                child = node.value[part]
            if child is None:
                break
            node = child
            line = node.start_mark.line + 1
        return line

    def problem(self, path: PathParts, reason: str) -> Problem:
        return Problem(self.source, self.line_of(path), path, reason)


def parse(text: str, source: str = "<scenario>") -> _Document:
    """YAML (or JSON, a subset) → a document; syntax errors become a ScenarioError with a line."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        reason = f"not valid YAML: {error.problem or error.context}"
        raise ScenarioError([Problem(source, line, (), reason)]) from None
    except yaml.YAMLError as error:
        raise ScenarioError([Problem(source, None, (), f"not valid YAML: {error}")]) from None
    finally:
        loader.dispose()
    return _Document(data, node, source)


def validate_document(document: _Document) -> None:
    """Check ``document`` against the JSON Schema; raise ScenarioError listing every problem."""
    from jsonschema import Draft202012Validator

    if document.data is None:
        document.data = {}
    validator = Draft202012Validator(scenario_schema())
    errors = sorted(validator.iter_errors(document.data), key=lambda e: list(map(str, e.path)))
    if errors:
        problems = [p for e in errors for p in _problems_of(document, e)]
        problems.sort(key=lambda p: p.line or 0)
        raise ScenarioError(problems[:MAX_REPORTED_PROBLEMS])


def _problems_of(document: _Document, error: Any) -> list[Problem]:
    """One problem per schema error; an unknown key is reported at the key itself."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(error.schema.get("properties", {}))
        unknown = [k for k in error.instance if k not in known]
        reason = f"unknown key (expected one of: {', '.join(known)})"
        return [document.problem((*path, key), reason) for key in unknown]
    return [document.problem(path, error.message)]


# -- loading ------------------------------------------------------------------------------------
def load_scenario(path: str | Path) -> State:
    """Read, validate and build the scenario file at ``path``."""
    return build_state(read_scenario(path))


def read_scenario(path: str | Path) -> _Document:
    """Read and validate (but do not build) a scenario file; cache this to rebuild cheaply."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ScenarioError([Problem(str(path), None, (), f"cannot read: {reason}")]) from None
    return parse_scenario(text, str(path))


def parse_scenario(text: str, source: str = "<scenario>") -> _Document:
    """Parse and validate scenario text; build it with ``build_state``."""
    document = parse(text, source)
    validate_document(document)
    return document


def load_scenario_text(text: str, source: str = "<scenario>") -> State:
    """Parse, validate and build scenario text (YAML or JSON)."""
    return build_state(parse_scenario(text, source))


def build_state(document: _Document | dict[str, Any], source: str = "<scenario>") -> State:
    """A fresh State from validated scenario data (a parsed document or a plain dict)."""
    if not isinstance(document, _Document):
        document = _Document(document, None, source)
    if not isinstance(document.data, dict):
        raise ScenarioError([document.problem((), "the document must be a mapping")])
    return _Builder(document).build()


class _Builder:
    def __init__(self, document: _Document) -> None:
        self.document = document
        self.data: dict[str, Any] = document.data
        self.state = State(seed=int(self.data.get("seed", 0)))
        self.groups_by_name: dict[str, Group] = {}

    def fail(self, path: PathParts, reason: str) -> ScenarioError:
        return ScenarioError([self.document.problem(path, reason)])

    def build(self) -> State:
        if "clock" in self.data:  # before the items (invitations expire from it) and after
            self._set_clock()
        for index, raw in enumerate(self.data.get("users") or []):
            self._add_user(raw, ("users", index))
        for index, raw in enumerate(self.data.get("groups") or []):
            self._add_group(raw, ("groups", index))
        for index, raw in enumerate(self.data.get("drives") or []):
            self._add_drive(raw, ("drives", index))
        for index, raw in enumerate(self.data.get("workspaces") or []):
            self._add_drive({"driveType": "documentLibrary", **raw}, ("workspaces", index))
        if "policy" in self.data:
            try:
                self.state.policy = SharingPolicy.from_dict(self.data["policy"])
            except InvalidRequest as error:
                raise self.fail(("policy",), error.message) from None
        for index, raw in enumerate(self.data.get("faults") or []):
            try:
                self.state.faults.add(raw)
            except InvalidRequest as error:
                raise self.fail(("faults", index), error.message) from None
        if "clock" in self.data:
            self._set_clock()
        return self.state

    def _set_clock(self) -> None:
        try:
            self.state.clock.set(self.data["clock"])
        except InvalidRequest as error:
            raise self.fail(("clock",), error.message) from None

    # -- directory --------------------------------------------------------------------------
    def _add_user(self, raw: dict, where: PathParts) -> None:
        directory = self.state.directory
        if directory.by_email(raw["email"]) is not None:
            raise self.fail((*where, "email"), f"duplicate e-mail {raw['email']!r}")
        if "id" in raw and raw["id"] in directory.users:
            raise self.fail((*where, "id"), f"duplicate user id {raw['id']!r}")
        if raw.get("token") and directory.by_token(raw["token"]) is not None:
            raise self.fail((*where, "token"), "two users cannot share one token")
        self.state.add_user(
            raw["displayName"],
            raw["email"],
            token=raw.get("token"),
            alias=raw.get("alias"),
            user_id=raw.get("id"),
        )

    def _add_group(self, raw: dict, where: PathParts) -> None:
        directory = self.state.directory
        group_id = raw.get("id") or self.state.ids.guid()
        if group_id in directory.groups or group_id in directory.users:
            raise self.fail((*where, "id"), f"duplicate id {group_id!r}")
        if raw["displayName"].casefold() in self.groups_by_name:
            raise self.fail((*where, "displayName"), f"duplicate group {raw['displayName']!r}")
        members = []
        for index, key in enumerate(raw.get("members") or []):
            members.append(self._user(key, (*where, "members", index)).id)
        group = Group(group_id, raw["displayName"], list(dict.fromkeys(members)), raw.get("email"))
        directory.add_group(group)
        self.groups_by_name[group.display_name.casefold()] = group

    def _user(self, key: Any, where: PathParts) -> User:
        directory = self.state.directory
        user = None
        if isinstance(key, str):
            user = directory.by_id(key) or directory.by_email(key)
        if user is None:
            raise self.fail(where, f"{key!r} is not a user declared under 'users'")
        return user

    def _group(self, key: str, where: PathParts) -> Group:
        group = self.state.directory.groups.get(key) or self.groups_by_name.get(key.casefold())
        if group is None:
            raise self.fail(where, f"{key!r} is not a group declared under 'groups'")
        return group

    # -- drives and items -------------------------------------------------------------------
    def _add_drive(self, raw: dict, where: PathParts) -> None:
        owner = self._user(raw["owner"], (*where, "owner"))
        if raw.get("id") in self.state.store.drives:
            raise self.fail((*where, "id"), f"duplicate drive id {raw['id']!r}")
        drive = self.state.add_drive(
            owner,
            drive_type=raw.get("driveType", "business"),
            name=raw.get("name", "OneDrive"),
            drive_id=raw.get("id"),
            also_default_for=tuple(raw.get("defaultFor", ())),
        )
        root = self.state.store.root(drive)
        node = raw.get("root") or {}
        if "id" in node:
            self._rekey(drive, root, node["id"], (*where, "root", "id"))
        self._fill(drive, root, node, (*where, "root"))

    def _rekey(self, drive: Drive, item: Item, new_id: str, where: PathParts) -> None:
        """Give a just-created root the id the scenario asks for."""
        store = self.state.store
        if new_id in store.items:
            raise self.fail(where, f"duplicate item id {new_id!r}")
        del store.items[item.id]
        drive.shared_item_ids.discard(item.id)
        item.id = new_id
        store.items[new_id] = item
        drive.root_id = new_id
        drive.shared_item_ids.add(new_id)
        for permission in item.permissions:
            permission.item_id = new_id

    def _fill(self, drive: Drive, folder: Item, node: dict, where: PathParts) -> None:
        for index, grant in enumerate(node.get("permissions") or []):
            self._grant(drive, folder, grant, (*where, "permissions", index))
        if node.get("inherits") is False:
            if folder.parent_id is None:
                raise self.fail((*where, "inherits"), "the root has nothing to inherit from")
            folder.inherits = False
        for index, child in enumerate(node.get("children") or []):
            self._add_item(drive, folder, child, (*where, "children", index))

    def _add_item(self, drive: Drive, parent: Item, node: dict, where: PathParts) -> None:
        store, state = self.state.store, self.state
        is_file = "file" in node
        if is_file and "folder" in node:
            raise self.fail(where, "an item is either a folder or a file, not both")
        if not is_file:
            for key in ("size", "content", "contentBase64"):
                if key in node:
                    raise self.fail((*where, key), f"a folder has no {key} (add 'file: {{}}')")
        elif "children" in node:
            raise self.fail((*where, "children"), "a file cannot have children")
        given = [k for k in ("size", "content", "contentBase64") if k in node]
        if len(given) > 1:
            raise self.fail((*where, given[1]), f"give only one of {', '.join(given)}")
        name = node["name"]
        try:
            validate_name(name, drive.drive_type, not is_file)
        except InvalidRequest as error:
            raise self.fail((*where, "name"), str(error)) from None
        if store.child(parent, name) is not None:
            raise self.fail((*where, "name"), f"{name!r} already exists in this folder")
        item_id = node.get("id")
        if item_id is None:
            item_id = state.ids.item_id()
        elif item_id in store.items:
            raise self.fail((*where, "id"), f"duplicate item id {item_id!r}")
        now = state.clock.now()
        item = Item(
            id=item_id,
            drive_id=drive.id,
            name=name,
            parent_id=parent.id,
            is_folder=not is_file,
            created=now,
            modified=now,
            created_by=drive.owner_id,
            modified_by=drive.owner_id,
        )
        if is_file:
            content = _content_of(node)
            if content is None:
                item.content, item.size = b"", int(node.get("size", 0))
            else:
                item.content, item.size = content, len(content)
            item.mime_type = (node.get("file") or {}).get("mimeType") or guess_mime_type(name)
        else:
            item.children = {}
        store.attach(parent, item)
        self._fill(drive, item, node, where)

    def _grant(self, drive: Drive, item: Item, grant: dict, where: PathParts) -> None:
        if "link" in grant:  # a sharing link (model/links.py)
            try:
                links.link_from_data(self.state, item, grant)
            except InvalidRequest as error:
                raise self.fail(where, error.message) from None
            return
        kinds = [k for k in ("user", "group", "email") if k in grant]
        if len(kinds) != 1:
            raise self.fail(where, "a permission needs exactly one of user, group or email")
        onehub_role = grant.get("onehubRole")
        if "roles" in grant:
            roles = list(dict.fromkeys(grant["roles"]))
        else:
            roles = onehub.tier_roles(onehub_role)
        owner_role = "owner" in roles and onehub_role is None
        permission = Permission(
            id=grant.get("id") or self.state.ids.guid().upper(),
            item_id=item.id,
            roles=roles,
            sign_in_required=bool(grant.get("signInRequired", False)),
            expiration=grant.get("expiration"),
            pending=bool(grant.get("pending", False)),
            native_role=onehub_role,
        )
        if "user" in grant:
            user = self._user(grant["user"], (*where, "user"))
            permission.grantee_id = user.id
            permission.invitation_email = None if owner_role else user.email
        elif "group" in grant:
            permission.grantee_id = self._group(grant["group"], (*where, "group")).id
        else:
            known = self.state.directory.by_email(grant["email"])
            if known is not None:
                raise self.fail(
                    (*where, "email"), f"{grant['email']!r} is a directory user: use 'user:'"
                )
            permission.invitation_email = grant["email"]
        if "invitedBy" in grant:
            permission.invited_by = self._user(grant["invitedBy"], (*where, "invitedBy")).id
        elif not owner_role:
            permission.invited_by = drive.owner_id
        if any(p.id == permission.id for p in item.permissions):
            raise self.fail((*where, "id"), f"duplicate permission id {permission.id!r}")
        item.permissions.append(permission)
        drive.shared_item_ids.add(item.id)
        try:
            self.state.track(permission)  # expires on the clock (model/links.py)
        except InvalidRequest as error:
            raise self.fail((*where, "expiration"), error.message) from None


def _content_of(node: dict) -> bytes | None:
    if "content" in node:
        return node["content"].encode("utf-8")
    if "contentBase64" in node:
        return base64.b64decode(node["contentBase64"])
    return None


# -- export: state → scenario data ---------------------------------------------------------------
def export_scenario(state: State) -> dict[str, Any]:
    """The whole state as scenario data (ids included), in a stable order.

    Loading the result and exporting again gives the same data, byte for byte once dumped.
    """
    directory = state.directory
    users = [_drop_none(_export_user(u)) for u in directory.users.values()]
    scenario: dict[str, Any] = {"seed": state.seed, "users": users}
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
    if state.faults.rules:
        scenario["faults"] = [rule.definition() for rule in state.faults.rules]
    if state.clock.moved:
        scenario["clock"] = state.clock.peek()
    return scenario


def _export_user(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "displayName": user.display_name,
        "email": user.email,
        "token": user.token,
        "alias": user.alias,
    }


def _export_drive(state: State, drive: Drive) -> dict[str, Any]:
    owner = state.directory.users[drive.owner_id]
    defaults = [key for key, value in state.store.default_drive.items() if value == drive.id]
    data: dict[str, Any] = {
        "id": drive.id,
        "owner": owner.email,
        "driveType": drive.drive_type,
        "name": drive.name,
    }
    extra = [k for k in defaults if k != owner.id]
    if extra:
        data["defaultFor"] = extra
    root = state.store.root(drive)
    root_node: dict[str, Any] = {"id": root.id}
    permissions = [
        _export_permission(state, drive, p)
        for p in root.permissions
        if p.id != "owner-" + drive.owner_id
    ]
    if permissions:
        root_node["permissions"] = permissions
    children = [_export_item(state, drive, c) for c in state.store.iter_children(root)]
    if children:
        root_node["children"] = children
    data["root"] = root_node
    return data


def _export_item(state: State, drive: Drive, item: Item) -> dict[str, Any]:
    node: dict[str, Any] = {"id": item.id, "name": item.name}
    if item.is_folder:
        node["folder"] = {}
    else:
        node["file"] = {"mimeType": item.mime_type or guess_mime_type(item.name)}
        if item.content:
            try:
                node["content"] = item.content.decode("utf-8")
            except UnicodeDecodeError:
                node["contentBase64"] = base64.b64encode(item.content).decode("ascii")
        else:
            node["size"] = item.size
    if not item.inherits:
        node["inherits"] = False
    if item.permissions:
        node["permissions"] = [_export_permission(state, drive, p) for p in item.permissions]
    if item.is_folder and item.children:
        node["children"] = [_export_item(state, drive, c) for c in state.store.iter_children(item)]
    return node


def _export_permission(state: State, drive: Drive, permission: Permission) -> dict[str, Any]:
    if permission.link is not None:
        return links.link_to_data(state, permission)
    directory = state.directory
    data: dict[str, Any] = {"id": permission.id}
    if permission.grantee_id in directory.groups:
        data["group"] = permission.grantee_id
    elif permission.grantee_id is not None:
        user = directory.users.get(permission.grantee_id)
        data["user"] = user.email if user else permission.grantee_id
    else:
        data["email"] = permission.invitation_email
    data["roles"] = sorted(permission.roles, key=ROLE_RANK.get)
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
    if permission.expiration:
        data["expiration"] = permission.expiration
    return data


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def dump_yaml(data: Any) -> str:
    """Scenario data as YAML, keys in the order given (what ``mockdrive export`` prints)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, indent=2)


def export_yaml(state: State) -> str:
    """The state as scenario YAML."""
    return dump_yaml(export_scenario(state))
