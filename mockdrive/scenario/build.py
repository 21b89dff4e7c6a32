"""Validated scenario data → a fresh State, reporting every reference problem at once.

Problems (an unknown owner, a group member nobody declared, two items with one name, ...) are
collected, the faulty entry is skipped and the build goes on, so one run names them all.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from datetime import datetime
from typing import Any

from ..model import delta, links, onehub, uploads
from ..model.clock import CANONICAL_TIME, format_time, parse_time
from ..model.entra import App
from ..model.errors import DomainError, InvalidRequest
from ..model.identity import Group, User
from ..model.ids import MAX_COUNT, DuplicateId, ids_in
from ..model.permissions import Permission
from ..model.policy import SharingPolicy
from ..model.state import State, guess_mime_type
from ..model.tree import DRIVE_TYPES, FILLER_LIMIT, Drive, Item, validate_name
from .links import link_from_data
from .load import MAX_REPORTED_PROBLEMS, Document, PathParts, collector_paused
from .validate import Found


def _time_text(value: Any, name: str) -> str:
    """``format_time(parse_time(value, name))``; text already in that form is only checked
    (a date that exists, in the years parse_time accepts)."""
    if type(value) is str and CANONICAL_TIME.fullmatch(value) and "1900" <= value <= "9001":
        try:
            datetime.fromisoformat(value[:-1])
            return value
        except ValueError:
            pass  # no such date (parse_time says so)
    return format_time(parse_time(value, name))


class _Skip(Exception):
    """This entry has a problem (already recorded): leave it out and go on."""


class Builder:
    def __init__(self, document: Document, tolerant: bool = False) -> None:
        self.document = document
        self.data: dict[str, Any] = document.data
        self.found: list[Found] = []
        # when a share without its own sharedDateTime was shared: the scenario's ``clock:``,
        # which the clock reads once loaded (the load's ticks past it are set back), so that
        # nothing the scenario shares lies in the clock's future (sharedWithMe lists a share
        # once the clock has reached it); without ``clock:``, the clock's reading as it loads
        self.shared_at_load: datetime = links.SHARED_NOW
        # tolerant: the schema check already failed, so entries may be malformed; an entry
        # that breaks the builder is skipped (its problem is among those already reported)
        self.tolerant = tolerant
        seed = self.data.get("seed", 0)
        self.state = State(seed=seed if isinstance(seed, int) else 0)
        counts = self.data.get("ids")  # an export's: its history's ids are not drawn again
        if isinstance(counts, dict):
            drawn, serial = counts.get("drawn", 0), counts.get("serial", 0)
            if all(type(n) is int and 0 <= n <= MAX_COUNT for n in (drawn, serial)):
                self.state.ids.resume(drawn, serial)  # (else the schema check reported it)
        self.state.ids.reserve(ids_in(self.data))  # generated ids must miss the explicit ones
        numbering = self.data.get("onehub")
        # and the keys of deleted objects Onehub has numbered (items, drives, permissions,
        # users): a generated id that matched one would be given its old number again
        for kind in ("nodes", "workspaces", "rolemaps", "users"):
            keys = numbering.get(kind) if isinstance(numbering, dict) else None
            self.state.ids.reserve(k for k in keys or () if isinstance(k, str))
        changes = self.data.get("changes")  # and deleted items delta still reports
        entries = changes.get("log") if isinstance(changes, dict) else None
        if isinstance(entries, list):
            found = (e[1] for e in entries if isinstance(e, list) and len(e) > 1)
            self.state.ids.reserve(i for i in found if isinstance(i, str))
        jobs = self.data.get("copyJobs")  # copy monitor ids
        if isinstance(jobs, dict):
            self.state.ids.reserve(k for k in jobs if isinstance(k, str))
        self.groups_by_name: dict[str, Group] = {}
        # permission ids given so far: one names one permission in the tenant (when it was
        # shared, its Onehub rolemap number are kept by its id alone)
        self.permission_ids: set[str] = set()

    def fail(self, path: PathParts, reason: str, at_key: bool = False) -> _Skip:
        self.found.append((path, reason, at_key))
        return _Skip()

    def _each(self, key: str, add: Any) -> None:
        entries = self.data.get(key) or []
        for index, raw in enumerate(entries if isinstance(entries, list) else []):
            self._guard(add, raw, (key, index))

    def _guard(self, add: Any, *args: Any) -> None:
        if len(self.found) >= MAX_REPORTED_PROBLEMS:
            return
        try:
            add(*args)
        except _Skip:
            pass
        except DomainError as error:  # a rule of the model the schema does not express
            self.found.append((args[-1], error.message, False))
        except DuplicateId as error:  # the store refused an id already in use
            self.found.append((args[-1], str(error), False))
        except (KeyError, TypeError, AttributeError, ValueError):
            if not self.tolerant:
                raise

    @collector_paused()
    def build(self) -> State:
        """The State; raises ScenarioError naming every problem found."""
        if "clock" in self.data:  # before the items (invitations expire from it) and after
            self._guard(self._set_clock, ("clock",))
            if not self.found:
                self.shared_at_load = self.state.clock.moment()
        self._each("users", self._add_user)
        self._each("groups", self._add_group)
        self._each("drives", self._add_drive)
        self._each("workspaces", self._add_workspace)
        if "policy" in self.data:
            self._guard(self._set_policy, self.data["policy"])
        if "tenant" in self.data:
            self._guard(self._set_tenant, ("tenant",))
        self._each("apps", self._add_app)
        self._each("faults", self._add_fault)
        if "onehub" in self.data:
            self._guard(self._set_onehub, ("onehub",))
        if "changes" in self.data:
            self._guard(self._set_changes, ("changes",))
        self._each("uploadSessions", self._add_upload_session)
        if "copyJobs" in self.data:
            self._guard(self._set_copy_jobs, ("copyJobs",))
        if "signIns" in self.data:
            self._guard(self._set_sign_ins, ("signIns",))
        if "clock" in self.data and not self.found:
            self._guard(self._set_clock, ("clock",))
        if self.found:
            problems = self.document.problems(self.found[:MAX_REPORTED_PROBLEMS])
            problems.sort(key=lambda p: p.line or 0)
            from .load import ScenarioError

            raise ScenarioError(problems)
        return self.state

    def _set_policy(self, raw: Any) -> None:
        try:
            self.state.policy = SharingPolicy.from_dict(raw)
        except InvalidRequest as error:
            raise self.fail(("policy",), error.message) from None

    def _set_clock(self, where: PathParts) -> None:
        try:
            self.state.clock.set(self.data["clock"])
        except InvalidRequest as error:
            raise self.fail(where, error.message) from None

    def _set_changes(self, where: PathParts) -> None:
        """The change log delta reads (``delta.log_to_data``), and which state it is."""
        try:
            delta.log_from_data(self.state.changes, self.data["changes"])
        except InvalidRequest as error:
            raise self.fail(where, error.message) from None

    def _add_upload_session(self, raw: Any, where: PathParts) -> None:
        try:
            uploads.session_from_data(self.state, raw)
        except InvalidRequest as error:
            raise self.fail(where, error.message) from None

    def _set_copy_jobs(self, where: PathParts) -> None:
        """Copy monitors: monitor id -> the id of the item the copy made."""
        jobs = self.data["copyJobs"]
        if not all(isinstance(v, str) for v in jobs.values()):
            raise self.fail(where, "each copy job names the id of the item it made")
        self.state.copy_jobs.update(jobs)

    def _set_sign_ins(self, where: PathParts) -> None:
        """What sign-ins left (``Entra.sign_ins_to_data``) and the device-code switch."""
        try:
            self.state.entra.sign_ins_from_data(self.state.directory, self.data["signIns"])
        except InvalidRequest as error:
            raise self.fail(where, error.message) from None

    def _set_onehub(self, where: PathParts) -> None:
        """Onehub's numbering as exported (``OnehubIds.numbered``)."""
        numbering = self.data["onehub"]
        ids = self.state.onehub
        kinds = (("workspace", "workspaces"), ("node", "nodes"), ("user", "users"))
        for kind, key in (*kinds, ("rolemap", "rolemaps")):
            try:
                ids.restore(kind, list(numbering.get(key) or []))
            except ValueError as error:
                self.fail((*where, key), str(error))

    def _set_history(self, item: Item, node: dict, where: PathParts) -> None:
        """An exported item's times, versions and authors (after its children: attaching one
        moves the folder's version)."""
        key = "createdDateTime"
        try:
            if key in node:
                item.created = _time_text(node[key], key)
            key = "lastModifiedDateTime"
            if key in node:
                item.modified = _time_text(node[key], key)
            elif "createdDateTime" in node:
                item.modified = item.created
        except InvalidRequest as error:
            raise self.fail((*where, key), error.message) from None
        client_times = node.get("fileSystemInfo") or {}
        for key, attribute in (("createdDateTime", "fs_created"), ("lastModifiedDateTime",
                                                                  "fs_modified")):  # fmt: skip
            if key in client_times:
                try:
                    parse_time(client_times[key], key)  # kept as the client wrote it
                    setattr(item, attribute, client_times[key])
                except InvalidRequest as error:
                    raise self.fail((*where, "fileSystemInfo", key), error.message) from None
        if "description" in node:
            item.description = node["description"]
        if "version" in node:
            item.version = node["version"]
        if "contentVersion" in node:
            item.content_version = node["contentVersion"]
        if "createdBy" in node:
            item.created_by = self._user(node["createdBy"], (*where, "createdBy")).id
        if "lastModifiedBy" in node:
            item.modified_by = self._user(node["lastModifiedBy"], (*where, "lastModifiedBy")).id

    def _add_fault(self, raw: Any, where: PathParts) -> None:
        try:
            self.state.faults.add(raw)
        except InvalidRequest as error:
            raise self.fail(where, error.message) from None

    # -- directory --------------------------------------------------------------------------
    def _add_user(self, raw: dict, where: PathParts) -> None:
        directory = self.state.directory
        if directory.by_email(raw["email"]) is not None:
            raise self.fail((*where, "email"), f"duplicate e-mail {raw['email']!r}")
        if "id" in raw and (raw["id"] in directory.users or raw["id"] in directory.groups):
            raise self.fail((*where, "id"), f"duplicate user id {raw['id']!r}")
        if raw.get("token") and directory.by_token(raw["token"]) is not None:
            raise self.fail((*where, "token"), "two users cannot share one token")
        user = self.state.add_user(
            raw["displayName"],
            raw["email"],
            token=raw.get("token"),
            alias=raw.get("alias"),
            user_id=raw.get("id"),
        )
        entra = self.state.entra
        if "password" in raw:
            entra.passwords[user.id] = raw["password"]
        if "consent" in raw:
            entra.consent[user.id] = tuple(dict.fromkeys(raw["consent"]))

    def _add_group(self, raw: dict, where: PathParts) -> None:
        directory = self.state.directory
        group_id = raw.get("id") or self.state.ids.guid()
        if group_id in directory.groups or group_id in directory.users:
            raise self.fail((*where, "id"), f"duplicate id {group_id!r}")
        if raw["displayName"].casefold() in self.groups_by_name:
            raise self.fail((*where, "displayName"), f"duplicate group {raw['displayName']!r}")
        members = []
        for index, key in enumerate(raw.get("members") or []):
            with contextlib.suppress(_Skip):
                members.append(self._user(key, (*where, "members", index)).id)
        group = Group(group_id, raw["displayName"], list(dict.fromkeys(members)), raw.get("email"))
        directory.add_group(group)
        self.groups_by_name[group.display_name.casefold()] = group

    def _set_tenant(self, where: PathParts) -> None:
        tenant = self.data["tenant"]
        entra = self.state.entra
        entra.tenant_id = tenant.get("id", entra.tenant_id).lower()
        entra.domain = tenant.get("domain", entra.domain)

    def _add_app(self, raw: dict, where: PathParts) -> None:
        """An app registration; the drives it names (Sites.Selected) must be declared."""
        entra = self.state.entra
        if raw["clientId"] in entra.apps:
            raise self.fail((*where, "clientId"), f"duplicate app {raw['clientId']!r}")
        for index, drive_id in enumerate(raw.get("drives") or []):
            if drive_id not in self.state.store.drives:
                raise self.fail((*where, "drives", index), f"{drive_id!r} is not a drive id")
        entra.add_app(
            App(
                raw["clientId"],
                raw.get("displayName", raw["clientId"]),
                raw.get("clientSecret"),
                list(raw.get("redirectUris") or []),
                list(dict.fromkeys(raw.get("roles") or [])),
                list(dict.fromkeys(raw.get("drives") or [])),
            )
        )

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
    def _add_workspace(self, raw: dict, where: PathParts) -> None:
        self._add_drive({"driveType": "documentLibrary", **raw}, where)

    def _add_drive(self, raw: dict, where: PathParts) -> None:
        try:
            owner = self._user(raw["owner"], (*where, "owner"))
        except _Skip:  # recorded; the drive's tree is still checked, under a stand-in owner
            owner = User(self.state.ids.guid(), "(unknown owner)", "")
        if raw.get("id") in self.state.store.drives:
            raise self.fail((*where, "id"), f"duplicate drive id {raw['id']!r}")
        node = raw.get("root") or {}
        if "id" in node and node["id"] in self.state.store.items:
            raise self.fail((*where, "root", "id"), f"duplicate item id {node['id']!r}")
        drive_type = raw.get("driveType", "business")
        if drive_type not in DRIVE_TYPES:  # the schema's problem: check the tree as business
            self.fail((*where, "driveType"), f"driveType must be one of {', '.join(DRIVE_TYPES)}")
            drive_type = "business"
        root_id = node.get("id")
        drive = self.state.add_drive(
            owner,
            drive_type=drive_type,
            name=raw.get("name", "OneDrive"),
            drive_id=raw.get("id"),
            also_default_for=tuple(raw.get("defaultFor", ())),
            root_id=root_id if isinstance(root_id, str) else None,  # (else the schema said so)
        )
        if "createdDateTime" in raw:
            try:
                drive.created = _time_text(raw["createdDateTime"], "createdDateTime")
            except InvalidRequest as error:
                raise self.fail((*where, "createdDateTime"), error.message) from None
        if isinstance(root_id, str) and root_id and "ids" not in self.data:
            # a scenario without ``ids`` (written by hand, or exported before exports wrote
            # them) draws as it always did: a candidate for each root whose id it names (the
            # root took one before the scenario's id replaced it), so that the ids generated
            # after it are the ones earlier versions generated
            self.state.ids.item_id()
        root = self.state.store.root(drive)
        self._fill(drive, root, node, (*where, "root"))
        self._set_history(root, node, (*where, "root"))

    def _fill(self, drive: Drive, folder: Item, node: dict, where: PathParts) -> None:
        for index, grant in enumerate(node.get("permissions") or []):
            self._guard(self._grant, drive, folder, grant, (*where, "permissions", index))
        if node.get("inherits") is False:
            if folder.parent_id is None:
                self.fail((*where, "inherits"), "the root has nothing to inherit from")
            else:
                folder.inherits = False
        for index, child in enumerate(node.get("children") or []):
            self._guard(self._add_item, drive, folder, child, (*where, "children", index))

    def _add_item(self, drive: Drive, parent: Item, node: dict, where: PathParts) -> None:
        """Add one item and its subtree. A problem with the item is recorded and the rest of
        it still checked (its children too), so one run names every problem of the tree; the
        state is then never used."""
        store, state = self.state.store, self.state
        is_file = "file" in node
        if is_file and "folder" in node:
            self.fail(where, "an item is either a folder or a file, not both")
        if not is_file:
            for key in ("size", "content", "contentBase64"):
                if key in node:
                    self.fail((*where, key), f"a folder has no {key} (add 'file: {{}}')")
                    break
        else:
            if "children" in node:
                self.fail((*where, "children"), "a file cannot have children")
            if "content" in node or "contentBase64" in node:  # with size, or both
                given = [k for k in ("size", "content", "contentBase64") if k in node]
                if len(given) > 1:
                    self.fail((*where, given[1]), f"give only one of {', '.join(given)}")
        name = node["name"]
        placed = True  # False: checked with its subtree, but kept out of its folder
        try:
            validate_name(name, drive.drive_type, not is_file)
        except InvalidRequest as error:
            self.fail((*where, "name"), str(error))
            placed = False
        if placed and store.child(parent, name) is not None:
            self.fail((*where, "name"), f"{name!r} already exists in this folder")
            placed = False
        item_id = node.get("id")
        if item_id is None:
            item_id = state.ids.item_id()
        elif item_id in store.items:
            raise self.fail((*where, "id"), f"duplicate item id {item_id!r}")
        if "createdDateTime" in node:  # the times are the node's (set by _set_history)
            state.clock.tick()
            now = ""
        else:
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
            content = self._content_of(node, where)
            if content is None:
                item.content, item.size = b"", int(node.get("size", 0))
                if 0 < item.size <= FILLER_LIMIT:  # bytes to match the size, made on read
                    item.filler = item.id
            else:
                item.content, item.size = content, len(content)
            item.mime_type = (node.get("file") or {}).get("mimeType") or guess_mime_type(name)
            if "children" in node:  # reported above: its children are still checked
                item.children = {}
        else:
            item.children = {}
        if not placed:
            item.depth = parent.depth + 1
            store.items[item.id] = item
        else:
            try:
                store.attach(parent, item)
            except DomainError as error:
                raise self.fail((*where, "name"), error.message) from None
        if "specialFolder" in node:
            self._mark_special(drive, item, node["specialFolder"]["name"], where)
        self._fill(drive, item, node, where)
        self._set_history(item, node, where)

    def _mark_special(self, drive: Drive, item: Item, name: str, where: PathParts) -> None:
        """``item`` is the drive's special folder ``name`` (the schema checked the name)."""
        where = (*where, "specialFolder", "name")
        if not item.is_folder:
            raise self.fail(where, "only a folder can be a special folder")
        if name in drive.special:
            raise self.fail(where, f"the drive has another {name!r} special folder")
        item.special = name
        drive.special[name] = item.id

    def _content_of(self, node: dict, where: PathParts) -> bytes | None:
        if "content" in node:
            try:
                return node["content"].encode("utf-8")
            except UnicodeEncodeError:
                raise self.fail((*where, "content"), "not valid Unicode text") from None
        if "contentBase64" in node:
            try:
                return base64.b64decode(node["contentBase64"], validate=True)
            except (binascii.Error, ValueError):
                raise self.fail((*where, "contentBase64"), "not valid base64") from None
        return None

    def _grant(self, drive: Drive, item: Item, grant: dict, where: PathParts) -> None:
        given = grant.get("id")
        if isinstance(given, str):
            if given in self.permission_ids:
                raise self.fail((*where, "id"), f"duplicate permission id {given!r}")
            self.permission_ids.add(given)
        if "link" in grant:  # a sharing link (scenario/links.py)
            try:
                link = link_from_data(self.state, item, grant)
            except InvalidRequest as error:
                raise self.fail(where, error.message) from None
            if grant.get("sharedDateTime") is None and self.shared_at_load is not links.SHARED_NOW:
                self.state.shared_at[link.id] = self.shared_at_load
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
            has_password=bool(grant.get("hasPassword", False)),
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
            # an address that is also a directory user is kept as an address: the state can
            # reach this (invited through Graph, provisioned later by a Onehub invitation)
            permission.invitation_email = grant["email"]
        if "invitationEmail" in grant:
            permission.invitation_email = grant["invitationEmail"]
        if "invitedBy" in grant:
            permission.invited_by = self._user(grant["invitedBy"], (*where, "invitedBy")).id
        elif "owner" not in roles:  # the export's default too: an owner-tier grant has none
            permission.invited_by = drive.owner_id
        if any(p.id == permission.id for p in item.permissions):
            raise self.fail((*where, "id"), f"duplicate permission id {permission.id!r}")
        item.permissions.append(permission)
        drive.shared_item_ids.add(item.id)
        shared: datetime | None = self.shared_at_load
        if "sharedDateTime" in grant:  # an export's: when it was shared, or null (unknown)
            try:
                raw_time = grant["sharedDateTime"]
                shared = None if raw_time is None else parse_time(raw_time, "sharedDateTime")
            except InvalidRequest as error:
                raise self.fail((*where, "sharedDateTime"), error.message) from None
        try:
            links.track(self.state, permission, shared)  # expires on the clock
        except InvalidRequest as error:
            raise self.fail((*where, "expiration"), error.message) from None
