"""State: the directory, the drives and the outbox of one mock tenant, plus its id source and clock.

Every change to drives goes through here (or ``sharing``) so that checks and bookkeeping live in
one place. The API layer never edits the dicts directly.
"""

from __future__ import annotations

import mimetypes
import weakref
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import lru_cache
from urllib.parse import quote

from .clock import Clock, Expirations
from .copying import deepcopy_attrs
from .delta import ChangeLog
from .entra import Entra
from .errors import InvalidRequest, NameConflict, NotFound
from .faults import FaultRules
from .identity import Directory, User
from .ids import IdFactory
from .journal import Journal
from .links import LinkIndex, install_expiry, track
from .onehub import OnehubIds
from .outbox import Outbox
from .permissions import Permission, require_removable, require_role, roles_down
from .policy import SharingPolicy
from .tree import DRIVE_TYPES, Drive, DriveStore, Item, split_path, validate_name
from .uploads import UploadSessions, check_quota

CONFLICT_BEHAVIORS = ("fail", "replace", "rename")
WEB_BASE = "https://mockdrive.example"
# urllib's quote costs ~4 µs a call and every rendered item needs two; paths repeat across
# requests, so a bounded cache of the (pure) function makes rendering ~2x cheaper.
_quote = lru_cache(maxsize=16384)(quote)


class State:
    def __init__(self, seed: int = 0, ids_from: tuple[object, int, int] | None = None) -> None:
        """An empty state. ``ids_from``: where its id generator starts (``IdFactory.position()``
        of one of the same seed; the default state's, scenario/defaults.py)."""
        self.seed = seed
        # the generator asks the state which ids it holds, through a weak reference: the
        # state is freed by reference counting once unused, not by the cycle collector
        self.ids = IdFactory(seed, taken=_taken_in(weakref.ref(self)), start=ids_from)
        self.clock = Clock()
        self.expirations = Expirations()  # what expires against the clock (model/links.py)
        self.links = LinkIndex()
        self.shared_at: dict[str, datetime] = {}  # permission id (/member): when it was shared
        self.changes = ChangeLog()  # what delta reports (model/delta.py)
        self.directory = Directory()
        self.store = DriveStore()
        self.outbox = Outbox()
        self.faults = FaultRules(seed)
        self.policy = SharingPolicy()
        self.journal = Journal()
        self.onehub = OnehubIds()
        self.copy_jobs: dict[str, str] = {}  # copy monitor id -> the copy's item id (changes.py)
        self.uploads = UploadSessions()  # open upload sessions (model/uploads.py)
        self.entra = Entra()  # the tenant's identity service: apps, sign-ins (model/entra.py)
        install_expiry(self)

    def __deepcopy__(self, memo: dict[int, object]) -> State:
        """A copy whose id generator and expiry handlers work on the copy (a function is copied
        as itself: theirs would still reach this state)."""
        copied: State = deepcopy_attrs(self, memo)  # a subclass's copy keeps its class, slots
        copied.ids._taken = _taken_in(weakref.ref(copied))
        install_expiry(copied)
        return copied

    def changed(
        self,
        item: Item,
        kind: str = "item",
        *,
        created: bool = False,
        broke: bool = False,
        lost: tuple[Permission, ...] = (),
        granted: tuple[str, ...] = (),
        moved_from: str | None = None,
    ) -> None:
        """Note a change for ``delta``: ``item`` (created, renamed, new content, moved: from
        the folder ``moved_from``),
        ``deleted`` (``remove_item`` logs it) or ``sharing`` (its permissions changed). What
        a change took away (``lost`` permissions, ``broke`` inheritance) or gave (``granted``
        permission ids, ``{permission id}/{member}`` of a link) and whether it ``created``
        the item let delta tell what a caller saw before it (``model/delta.py``)."""
        self.changes.record(
            self.store, item, kind, created=created, broke=broke, lost=lost, granted=granted,
            moved_from=moved_from, at=self.clock.epoch_seconds(),
        )  # fmt: skip
        if lost:
            self._forget(lost)

    def remove_item(self, item: Item) -> None:
        """Delete ``item`` and its subtree, every check passed: delta logs it (before it goes)
        and what its permissions leave beside them is forgotten. O(subtree)."""
        self.changed(item, "deleted")
        for gone in self.store.iter_subtree(item):
            self._forget(gone.permissions)
        self.store.remove(item)

    def _forget(self, permissions: Iterable[Permission]) -> None:
        """What the state keeps beside ``permissions``, withdrawn for good (their ids are never
        given again): their link tokens, when they were shared, their deadlines, Onehub's
        memory of them as rolemaps. What a reload of the state would not have either, so a
        state that shares and unshares for ever stays bounded."""
        shared_at, rolemaps = self.shared_at, self.onehub.rolemaps
        for permission in permissions:
            shared_at.pop(permission.id, None)
            if rolemaps.get(permission.id) is permission:
                del rolemaps[permission.id]
            link = permission.link
            if link is not None:
                self.links.by_token.pop(link.token, None)
                for member in link.member_ids:
                    shared_at.pop(f"{permission.id}/{member}", None)
            self.expirations.withdraw(permission.item_id, permission.id)

    def track(self, permission: Permission) -> None:
        """Schedule ``permission``'s expiry (its expirationDateTime; a pending invitation's
        lifetime) on the clock. Call it when a permission is created or its expiration set."""
        track(self, permission)

    def _id_taken(self, candidate: str) -> bool:
        """Does the state hold this id (or link token) already (the generator then skips it)?
        A loaded scenario may hold ids the seed's generator makes (model/ids.py)."""
        store, directory = self.store, self.directory
        return (
            candidate in store.items
            or candidate in store.drives
            or candidate in directory.users
            or candidate in directory.groups
            or candidate in self.links.by_token
        )

    # -- directory ----------------------------------------------------------------------------
    def add_user(
        self,
        display_name: str,
        email: str,
        *,
        token: str | None = None,
        alias: str | None = None,
        user_id: str | None = None,
    ) -> User:
        user = User(
            id=user_id or self.ids.guid(),
            display_name=display_name,
            email=email,
            token=token,
            alias=alias,
        )
        return self.directory.add(user)

    def user(self, key: str) -> User:
        """A user by id or e-mail."""
        user = self.directory.by_id(key) or self.directory.by_email(key)
        if user is None:
            raise NotFound(f"no user {key!r}")
        return user

    # -- drives -------------------------------------------------------------------------------
    def add_drive(
        self,
        owner: User,
        *,
        drive_type: str = "business",
        name: str = "OneDrive",
        drive_id: str | None = None,
        also_default_for: tuple[str, ...] = (),
        root_id: str | None = None,
    ) -> Drive:
        """A new drive with its root folder; the owner holds an ``owner`` permission on the root.

        The first drive of a user becomes their default drive (``/me/drive``);
        ``also_default_for`` names group or site ids whose ``/drive`` this is; ``drive_id`` and
        ``root_id`` are drawn from the id generator unless given.
        """
        if drive_type not in DRIVE_TYPES:
            raise InvalidRequest(f"driveType must be one of {', '.join(DRIVE_TYPES)}")
        now = self.clock.now()
        if drive_id is None:
            drive_id = (
                self.ids.drive_id() if drive_type != "personal" else self.ids.personal_drive_id()
            )
        root = Item(
            id=root_id or self.ids.item_id(),
            drive_id=drive_id,
            name="root",
            parent_id=None,
            is_folder=True,
            created=now,
            modified=now,
            created_by=owner.id,
            modified_by=owner.id,
            children={},
        )
        drive = Drive(drive_id, drive_type, name, owner.id, root.id, now)
        # the owner's first drive keeps the plain id; others name the drive too, so that
        # Onehub's rolemap numbers (by permission id) never meet across an owner's drives
        owner_permission_id = "owner-" + owner.id
        if owner.id in self.store.default_drive:
            owner_permission_id += "-" + drive_id
        self.store.add_drive(drive, root)
        root.permissions.append(
            Permission(
                id=owner_permission_id, item_id=root.id, roles=["owner"], grantee_id=owner.id
            )
        )
        drive.shared_item_ids.add(root.id)
        self.store.default_drive.setdefault(owner.id, drive.id)
        for key in also_default_for:
            self.store.default_drive[key] = drive.id
        return drive

    def default_drive(self, owner_id: str) -> Drive:
        drive_id = self.store.default_drive.get(owner_id)
        if drive_id is None:
            user = self.directory.by_id(owner_id)
            raise NotFound(f"{user.email if user else owner_id} has no drive")
        return self.store.drives[drive_id]

    # -- items --------------------------------------------------------------------------------
    def create_item(
        self,
        caller: User,
        parent: Item,
        name: object,
        *,
        is_folder: bool,
        conflict: str = "fail",
        content: bytes = b"",
        mime_type: str | None = None,
    ) -> Item:
        """Create a folder or file under ``parent`` (checks the caller's write role)."""
        require_role(self.store, caller, parent, "write")
        if not parent.is_folder:
            raise InvalidRequest("the parent item is a file, not a folder")
        if conflict not in CONFLICT_BEHAVIORS:
            raise InvalidRequest(f"conflictBehavior must be one of {', '.join(CONFLICT_BEHAVIORS)}")
        drive = self.store.drives[parent.drive_id]
        name = validate_name(name, drive.drive_type, is_folder)
        existing = self.store.child(parent, name)
        if existing is not None:  # the requested spelling: a hidden item's must not show
            if conflict == "fail":
                raise NameConflict(f"an item named {name!r} already exists")
            if conflict == "rename":
                name = self.store.free_name(parent, name)
            else:  # never replace what the caller could not delete (or cannot even see)
                require_removable(self.store, caller, existing, name)
                # the name may be longer than the one it replaces (``SS`` for ``ß``): refused
                # before the replaced item goes
                self.store.check_path_length(parent, len(name) + 1)
                self.remove_item(existing)
        return self._new_item(caller, parent, name, is_folder, content, mime_type)

    def _new_item(
        self,
        caller: User,
        parent: Item,
        name: str,
        is_folder: bool,
        content: bytes = b"",
        mime_type: str | None = None,
        size: int | None = None,
    ) -> Item:
        # refused before the clock or the id source moves: a refusal changes nothing (a
        # ``rename`` may have lengthened the name past what the caller's checks measured)
        self.store.check_path_length(parent, len(name) + 1)
        now = self.clock.now()
        item = Item(
            id=self.ids.item_id(),
            drive_id=parent.drive_id,
            name=name,
            parent_id=parent.id,
            is_folder=is_folder,
            created=now,
            modified=now,
            created_by=caller.id,
            modified_by=caller.id,
        )
        if is_folder:
            item.children = {}
        else:
            item.content = content
            item.size = len(content) if size is None else size
            item.mime_type = mime_type or guess_mime_type(name)
        self.store.attach(parent, item)
        self.changed(item, created=True)
        return item

    def upload_target(
        self, caller: User, start: Item, path: str, conflict: str
    ) -> tuple[list[str], Item | None, Item, list[str]]:
        """Where an upload of ``path`` below ``start`` lands, or the refusal (changing nothing)
        of that upload: (its names, the file it replaces or None, the folder the new file goes
        in, the names of the folders still to make). An upload session checks this as it
        opens, so it is refused exactly as the simple upload of its path would be."""
        names = split_path(path)
        if not names:
            raise InvalidRequest("an upload needs a file name", "invalidPath")
        if conflict not in CONFLICT_BEHAVIORS:
            raise InvalidRequest(f"conflictBehavior must be one of {', '.join(CONFLICT_BEHAVIORS)}")
        drive = self.store.drives[start.drive_id]
        for index, name in enumerate(names):  # check every name before creating anything
            validate_name(name, drive.drive_type, is_folder=index < len(names) - 1)
        self.store.check_path_length(start, sum(len(name) + 1 for name in names))
        # Find what exists and refuse before creating anything, so a failure changes nothing.
        # The walk goes through items the caller cannot see (a share further down still
        # counts) and stops at the deepest one they can: a hidden item in the way answers as
        # ``fail`` would, whether it is a file or a folder.
        chain = [start]  # the existing items along the path
        for name in names:
            found = self.store.child(chain[-1], name) if chain[-1].is_folder else None
            if found is None:
                break
            chain.append(found)
        seen = [i for i, roles in enumerate(roles_down(self.store, caller, chain)) if roles]
        if not seen:
            raise NotFound("the item was not found")
        last = chain[seen[-1]]
        if seen[-1] < len(names) and not last.is_folder:
            raise InvalidRequest(f"{last.name!r} is a file, not a folder", "invalidPath")
        if seen[-1] < len(chain) - 1:  # the next name is taken by an item the caller can't see
            require_role(self.store, caller, last, "write")
            if conflict != "rename" or seen[-1] != len(names) - 1:
                raise NameConflict(f"an item named {names[seen[-1]]!r} already exists")
            chain = chain[:-1]  # the file itself is hidden: rename picks a free name beside it
        existing = chain[-1] if len(chain) == len(names) + 1 else None
        parent = chain[-2] if existing is not None else chain[-1]
        missing = names[len(chain) - 1 : -1]
        require_role(self.store, caller, existing or parent, "write")
        if (
            existing is not None
            and conflict != "rename"
            and (conflict == "fail" or existing.is_folder)
        ):
            raise NameConflict(f"an item named {names[-1]!r} already exists")
        if conflict == "rename" and not missing and self.store.child(parent, names[-1]):
            # the name is taken: the file gets the lowest free numbered one, which must fit
            self.store.check_path_length(parent, len(self.store.free_name(parent, names[-1])) + 1)
        return names, existing, parent, missing

    def upload(
        self,
        caller: User,
        start: Item,
        path: str,
        content: bytes,
        *,
        conflict: str = "replace",
        mime_type: str | None = None,
    ) -> tuple[Item, bool]:
        """Simple upload to ``path`` below ``start``: (item, created). Missing folders are made."""
        names, existing, parent, missing = self.upload_target(caller, start, path, conflict)
        replaced = existing is not None and conflict == "replace"
        check_quota(self, start, len(content) - (existing.size if replaced and existing else 0))
        if existing is not None and conflict == "replace":
            self.replace_content(caller, existing, content, mime_type)
            return existing, False
        for name in missing:
            parent = self._new_item(caller, parent, name, True)
        item = self.create_item(
            caller,
            parent,
            names[-1],
            is_folder=False,
            conflict=conflict,
            content=content,
            mime_type=mime_type,
        )
        return item, True

    def replace_content(
        self, caller: User, item: Item, content: bytes, mime_type: str | None = None
    ) -> Item:
        require_role(self.store, caller, item, "write")
        if item.is_folder:
            raise InvalidRequest("a folder has no content")
        check_quota(self, item, len(content) - item.size)  # what the new bytes add
        self.store.set_file_content(item, content, mime_type)
        item.modified = self.clock.now()
        item.modified_by = caller.id
        # new content is modified now: a time a client set for the old content no longer holds
        # (an upload session that carries fileSystemInfo sets it again after this)
        item.fs_modified = None
        self.changed(item)
        return item

    def rename_item(self, caller: User, item: Item, name: object) -> Item:
        """Rename in place (same id); a sibling of that name → NameConflict."""
        require_role(self.store, caller, item, "write")
        if item.parent_id is None:
            raise InvalidRequest("the root of a drive cannot be renamed")
        drive = self.store.drives[item.drive_id]
        new_name = validate_name(name, drive.drive_type, item.is_folder)
        parent = self.store.items[item.parent_id]
        existing = self.store.child(parent, new_name)
        if existing is not None and existing is not item:
            raise NameConflict(f"an item named {new_name!r} already exists")
        self.store.check_path_after_move(item, parent, new_name)
        del parent.children[item.name.casefold()]
        self.store.name_freed(parent, item.name)
        parent.children[new_name.casefold()] = item.id
        parent.version += 1
        item.name = new_name
        item.version += 1
        if item.fs_modified is None:  # fileSystemInfo (the client's time) stays as it was
            item.fs_modified = item.modified
        item.modified = self.clock.now()
        item.modified_by = caller.id
        self.changed(item)
        return item

    def delete_item(self, caller: User, item: Item) -> None:
        require_role(self.store, caller, item, "write")
        if item.parent_id is None:
            raise InvalidRequest("the root of a drive cannot be deleted")
        require_removable(self.store, caller, item)  # 403 if the subtree holds what they can't
        self.remove_item(item)

    # -- arranging (fixture, scenarios): the drive owner acts -------------------------------------
    def make_path(self, drive: Drive, path: str, *, is_folder: bool = True, **file: object) -> Item:
        """Create ``path`` in ``drive`` (parents included) as its owner; return the last item."""
        owner = self.directory.users[drive.owner_id]
        names = split_path(path)
        parent = self.store.root(drive)
        for index, name in enumerate(names):
            last = index == len(names) - 1
            folder = is_folder or not last
            found = self.store.child(parent, name)
            if found is None:
                validate_name(name, drive.drive_type, folder)
                found = self._new_item(owner, parent, name, folder, **(file if last else {}))
            parent = found
        return parent

    def grant(self, item: Item, user: User, roles: list[str]) -> Permission:
        """A direct permission for ``user`` on ``item``, as if invited without notification."""
        drive = self.store.drives[item.drive_id]
        permission = Permission(
            id=self.ids.guid().upper(),
            item_id=item.id,
            roles=list(roles),
            grantee_id=user.id,
            invitation_email=user.email,
            invited_by=drive.owner_id,
        )
        item.permissions.append(permission)
        drive.shared_item_ids.add(item.id)
        return permission

    # -- presentation helpers shared by the dialects ------------------------------------------
    def web_url(self, item: Item, path: str | None = None) -> str:
        """The item's webUrl; ``path`` is its ``store.path_of`` when the caller has it already."""
        path = self.store.path_of(item) if path is None else path
        return f"{WEB_BASE}/{_quote(item.drive_id)}{_quote(path)}"


def _taken_in(state: weakref.ReferenceType[State]) -> Callable[[str], bool]:
    def taken(candidate: str) -> bool:
        held = state()
        return held is not None and held._id_taken(candidate)

    return taken


def is_root_owner_permission(drive: Drive, permission: Permission) -> bool:
    """Is this the owner grant ``add_drive`` puts on the root (``owner-<user id>[-<drive id>]``)?"""
    owner_id = "owner-" + drive.owner_id
    return permission.grantee_id == drive.owner_id and permission.id in (
        owner_id,
        f"{owner_id}-{drive.id}",
    )


def guess_mime_type(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"
