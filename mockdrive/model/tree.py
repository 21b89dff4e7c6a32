"""Drives and their items. Names are case-insensitive and case-preserving; lookups are O(depth)."""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .errors import InvalidRequest, NameConflict, NotFound
from .grants import PermissionList
from .ids import DuplicateId
from .text import is_unicode

DRIVE_TYPES = ("personal", "business", "documentLibrary")
MAX_NAME_LENGTH = 255
# OneDrive for Business / SharePoint: "the entire decoded file path, including the file name,
# can't contain more than 400 characters". Counted here on the drive-relative path.
MAX_PATH_LENGTH = 400
_ILLEGAL_PERSONAL = set('/\\*<>?:|"')
_ILLEGAL_BUSINESS = _ILLEGAL_PERSONAL | {"#", "%"}


def _any_of(characters: set[str]) -> re.Pattern[str]:
    """One search for any of ``characters`` or a control character (C0 or DEL)."""
    return re.compile("[" + re.escape("".join(sorted(characters))) + "\\x00-\\x1f\\x7f]")


# one search finds a refused character; the list of them is built only when there is one
_ILLEGAL_PERSONAL_SEARCH = _any_of(_ILLEGAL_PERSONAL)
_ILLEGAL_BUSINESS_SEARCH = _any_of(_ILLEGAL_BUSINESS)


@dataclass(slots=True, eq=False)
class Item:
    id: str
    drive_id: str
    name: str
    parent_id: str | None
    is_folder: bool
    created: str
    modified: str
    created_by: str
    modified_by: str
    size: int = 0
    mime_type: str | None = None
    content: bytes | None = None
    version: int = 1
    content_version: int = 1
    depth: int = 0
    children: dict[str, str] | None = None  # case-folded name -> item id (folders only)
    # stored here, never copied down; indexed by grantee (see PermissionList)
    permissions: PermissionList = field(default_factory=PermissionList)
    inherits: bool = True
    description: str | None = None
    # fileSystemInfo as the client set it (None: the item's own created / modified times)
    fs_created: str | None = None
    fs_modified: str | None = None
    content_hashes: tuple[bytes, dict[str, str]] | None = None  # (content, hashes) see hashes.py

    @property
    def etag(self) -> str:
        return f'"{{{self.id}}},{self.version}"'

    @property
    def ctag(self) -> str:
        return f'"c:{{{self.id}}},{self.content_version}"'


@dataclass(slots=True, eq=False)
class Drive:
    id: str
    drive_type: str
    name: str
    owner_id: str  # a user id (or a group id for group drives)
    root_id: str
    created: str
    quota_total: int = 1024**4
    # ids of items in this drive that hold permissions of their own: who can see the drive
    shared_item_ids: set[str] = field(default_factory=set)


def validate_name(name: object, drive_type: str, is_folder: bool) -> str:
    """Return ``name`` if it is a legal item name for the drive type, else raise InvalidRequest."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest("name must be a non-empty string", "invalidName")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidRequest(
            f"name is longer than {MAX_NAME_LENGTH} characters", "parameterIsTooLong"
        )
    if not is_unicode(name):
        raise InvalidRequest("name is not valid Unicode text (a lone surrogate)", "invalidName")
    personal = drive_type == "personal"
    if (_ILLEGAL_PERSONAL_SEARCH if personal else _ILLEGAL_BUSINESS_SEARCH).search(name):
        illegal = _ILLEGAL_PERSONAL if personal else _ILLEGAL_BUSINESS
        bad = sorted({c for c in name if c in illegal or ord(c) < 32 or ord(c) == 127})
        shown = ", ".join(repr(c) for c in bad)
        raise InvalidRequest(
            f"name contains characters that are not allowed: {shown}", "invalidName"
        )
    if name in (".", "..") or name != name.strip():
        raise InvalidRequest("name cannot be '.', '..' or start or end with a space", "invalidName")
    if is_folder and name.endswith("."):
        raise InvalidRequest("folder names cannot end with '.'", "invalidName")
    if drive_type != "personal" and name.startswith("~"):
        raise InvalidRequest("names cannot begin with '~' on this drive", "invalidName")
    return name


def _split_extension(name: str) -> tuple[str, str, str]:
    """``("Plan", ".", "docx")``; a name without one (or a dot file) is all stem."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return name, "", ""
    return stem, dot, ext


def split_path(path: str) -> list[str]:
    """Split a drive-relative path such as ``/a/b/`` into names; refuses ``.`` and ``..``."""
    names = [part for part in path.split("/") if part]
    for name in names:
        if name in (".", ".."):
            raise InvalidRequest(f"the path {path!r} is not valid", "invalidPath")
    return names


class DriveStore:
    """Every drive and every item, items in one dict by id."""

    def __init__(self) -> None:
        self.drives: dict[str, Drive] = {}
        self.items: dict[str, Item] = {}
        self.default_drive: dict[str, str] = {}  # user/group/site id -> drive id
        # folder id -> case-folded name -> [where the numbers in use end, heap of freed ones]
        self.rename_hints: dict[str, dict[str, list]] = {}

    # -- lookup -------------------------------------------------------------------------------
    def drive(self, drive_id: str) -> Drive:
        drive = self.drives.get(drive_id)
        if drive is None:
            raise NotFound(f"drive {drive_id!r} was not found")
        return drive

    def item(self, item_id: str) -> Item:
        item = self.items.get(item_id)
        if item is None:
            raise NotFound(f"item {item_id!r} was not found")
        return item

    def root(self, drive: Drive) -> Item:
        return self.items[drive.root_id]

    def child(self, folder: Item, name: str) -> Item | None:
        if folder.children is None:
            return None
        child_id = folder.children.get(name.casefold())
        return self.items[child_id] if child_id else None

    def resolve(self, start: Item, path: str) -> Item:
        """The item at ``path`` relative to ``start`` (O(depth of path))."""
        item = start
        for name in split_path(path):
            found = self.child(item, name)
            if found is None:
                raise NotFound(f"the item at path {path!r} was not found")
            item = found
        return item

    def ancestors(self, item: Item) -> Iterator[Item]:
        """The parent, the grandparent, ... up to the root (O(depth))."""
        parent_id = item.parent_id
        while parent_id is not None:
            parent = self.items[parent_id]
            yield parent
            parent_id = parent.parent_id

    def path_of(self, item: Item) -> str:
        """Drive-relative path: ``/`` for the root, ``/Projects/Plan.docx`` below it."""
        names = [item.name] if item.parent_id is not None else []
        names.extend(a.name for a in self.ancestors(item) if a.parent_id is not None)
        return "/" + "/".join(reversed(names))

    def check_path_length(self, parent: Item, added: int) -> None:
        """Refuse (400 pathIsTooLong) ``added`` more characters below ``parent``'s path if
        that makes it too long (O(depth))."""
        length, current = added, parent
        while current.parent_id is not None:
            length += len(current.name) + 1
            current = self.items[current.parent_id]
        if length > MAX_PATH_LENGTH:
            raise InvalidRequest(
                f"the path would be {length} characters long; the limit is {MAX_PATH_LENGTH}",
                "pathIsTooLong",
            )

    def check_path_after_move(self, item: Item, parent: Item, name: str) -> None:
        """Refuse (400 pathIsTooLong) renaming or moving ``item`` to ``parent/name`` when it or
        anything below it would pass the limit. Only a folder whose path grows needs its subtree
        walked for the longest path below it (O(subtree), like copying it); a file is O(depth)."""
        longest_below = 0
        grows = parent.id != item.parent_id or len(name) > len(item.name)
        if item.is_folder and item.children and grows:
            lengths = {item.id: 0}
            for below in self.iter_subtree(item):  # parents come before their children
                if below is not item:
                    length = lengths[below.parent_id or ""] + 1 + len(below.name)
                    lengths[below.id] = length
                    longest_below = max(longest_below, length)
        self.check_path_length(parent, len(name) + 1 + longest_below)

    def iter_children(self, folder: Item) -> Iterator[Item]:
        for child_id in (folder.children or {}).values():
            yield self.items[child_id]

    def iter_subtree(self, item: Item) -> Iterator[Item]:
        """The item and all its descendants, depth first (iterative, any depth)."""
        stack = [item]
        while stack:
            current = stack.pop()
            yield current
            if current.children:
                stack.extend(self.items[cid] for cid in reversed(current.children.values()))

    # -- changes ------------------------------------------------------------------------------
    def add_drive(self, drive: Drive, root: Item) -> Drive:
        if drive.id in self.drives:
            raise InvalidRequest(f"a drive with id {drive.id!r} already exists")
        if root.id in self.items:
            raise DuplicateId(f"an item with id {root.id!r} already exists")
        self.drives[drive.id] = drive
        self.items[root.id] = root
        return drive

    def attach(self, parent: Item, item: Item) -> Item:
        """Insert a new item under ``parent``; the caller has checked the name is free."""
        if parent.children is None:
            raise InvalidRequest("the parent is a file, not a folder")
        key = item.name.casefold()
        if key in parent.children:
            raise NameConflict(f"an item named {item.name!r} already exists")
        self.check_path_length(parent, len(item.name) + 1)
        if item.id in self.items:  # storing it would overwrite (and orphan) another item
            raise DuplicateId(f"an item with id {item.id!r} already exists")
        item.depth = parent.depth + 1
        parent.children[key] = item.id
        self.items[item.id] = item
        parent.version += 1
        self._add_size(parent, item.size)
        return item

    def free_name(self, folder: Item, name: str) -> str:
        """``name`` if unused in ``folder``, else ``name 1``, ``name 2``... before the extension:
        the lowest number free, so the answer depends on the folder only, not on its history.

        A hint per folder and name keeps where the numbers in use end and which lower ones were
        freed since, so the n-th duplicate costs O(1) probes, not O(n) (the first rename of a
        name after a state is loaded scans its numbers once).
        """
        if self.child(folder, name) is None:
            return name
        stem, dot, ext = _split_extension(name)
        hint = self.rename_hints.setdefault(folder.id, {}).setdefault(name.casefold(), [1, []])
        while hint[1]:  # numbers freed below the end, lowest first (some may be taken again)
            candidate = f"{stem} {heapq.heappop(hint[1])}{dot}{ext}"
            if self.child(folder, candidate) is None:
                return candidate
        n = hint[0]
        while True:
            candidate = f"{stem} {n}{dot}{ext}"
            if self.child(folder, candidate) is None:
                hint[0] = n  # every number below n is in use, or in the freed list
                return candidate
            n += 1

    def name_freed(self, folder: Item, name: str) -> None:
        """``name`` left ``folder`` (deleted, renamed or moved away): if it was a numbered
        duplicate (``x 3.txt``), ``free_name`` may hand its number out again."""
        hints = self.rename_hints.get(folder.id)
        if not hints:
            return
        stem, dot, ext = _split_extension(name)
        base, space, number = stem.rpartition(" ")
        if space and base and number.isascii() and number.isdigit():
            hint = hints.get(f"{base}{dot}{ext}".casefold())
            if hint is not None and int(number) < hint[0]:
                heapq.heappush(hint[1], int(number))

    def set_file_content(self, item: Item, content: bytes, mime_type: str | None) -> None:
        delta = len(content) - item.size
        item.content = content
        item.size = len(content)
        if mime_type:
            item.mime_type = mime_type
        item.version += 1
        item.content_version += 1
        if item.parent_id is not None:
            self._add_size(self.items[item.parent_id], delta)

    def remove(self, item: Item) -> int:
        """Delete ``item`` and its subtree; returns how many items were removed."""
        parent = self.items[item.parent_id] if item.parent_id else None
        drive = self.drives[item.drive_id]
        removed = 0
        for gone in self.iter_subtree(item):
            del self.items[gone.id]
            drive.shared_item_ids.discard(gone.id)
            self.rename_hints.pop(gone.id, None)
            removed += 1
        if parent is not None:
            del parent.children[item.name.casefold()]
            self.name_freed(parent, item.name)
            parent.version += 1
            self._add_size(parent, -item.size)
        return removed

    def _add_size(self, folder: Item, delta: int) -> None:
        if not delta:
            return
        current: Item | None = folder
        while current is not None:
            current.size += delta
            current = self.items[current.parent_id] if current.parent_id else None


# -- moving and copying (used by State.update_item / State.copy_item) ---------------------------
def is_within(store: DriveStore, item: Item, folder: Item) -> bool:
    """Is ``item`` the ``folder`` itself or below it? (O(depth of item))"""
    if item is folder:
        return True
    return any(ancestor is folder for ancestor in store.ancestors(item))


def relink(store: DriveStore, item: Item, new_parent: Item, new_name: str) -> None:
    """Move ``item`` (and its subtree) under ``new_parent`` as ``new_name``: O(depth).

    Permissions stay where they are stored, so the moved subtree inherits from its new
    ancestors at once. The caller has checked the name is free and the move is legal.
    """
    old_parent = store.items[item.parent_id or ""]
    del old_parent.children[item.name.casefold()]
    store.name_freed(old_parent, item.name)
    old_parent.version += 1
    store._add_size(old_parent, -item.size)
    item.name = new_name
    item.parent_id = new_parent.id
    item.depth = new_parent.depth + 1  # descendants' depth is not kept (nothing reads it)
    new_parent.children[new_name.casefold()] = item.id
    new_parent.version += 1
    store._add_size(new_parent, item.size)
