"""What a permission is — roles held on one item by an account, a group, an invited address or
a sharing link's members — and an item's list of them.

Plain data shared by the tree (which keeps each item's list), the access rules
(``permissions``) and the links (``links``); it imports none of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .copying import deepcopy_slots

if TYPE_CHECKING:
    from .identity import User

LINK_BASE = "https://mockdrive.example/s/"  # a link's webUrl is LINK_BASE + its token


@dataclass(slots=True, eq=False)
class SharingLink:
    """A link's facet. Its members are kept in grant order (``member_ids``, ``member_emails``:
    read them, add through ``add_member_id`` / ``add_member_email``) and in sets, so that
    ``holds`` and adding a member cost O(1) however many members the link has."""

    __deepcopy__ = deepcopy_slots  # a state's copy: see model/copying.py

    type: str
    scope: str
    token: str
    created_by: str
    member_ids: list[str] = field(default_factory=list)  # users and groups granted or redeemed
    member_emails: list[str] = field(default_factory=list)  # outside addresses granted
    password: str | None = None
    prevents_download: bool = False
    _id_set: set[str] = field(default_factory=set, repr=False)
    _email_set: set[str] = field(default_factory=set, repr=False)  # case-folded

    def __post_init__(self) -> None:
        self._id_set.update(self.member_ids)
        self._email_set.update(e.casefold() for e in self.member_emails)

    @property
    def web_url(self) -> str:
        return LINK_BASE + self.token

    @property
    def share_id(self) -> str:
        return "s!" + self.token

    def add_member_id(self, member_id: str) -> bool:
        """Add a user or group; False if it is a member already."""
        if member_id in self._id_set:
            return False
        self._id_set.add(member_id)
        self.member_ids.append(member_id)
        return True

    def add_member_email(self, address: str) -> bool:
        """Add an outside address; False if it is a member already (case-insensitively)."""
        key = address.casefold()
        if key in self._email_set:
            return False
        self._email_set.add(key)
        self.member_emails.append(address)
        return True

    def member_keys(self, user: User) -> list[str]:
        """How ``user`` is a member: their id, their groups' ids, their case-folded address
        (each that is one), as ``links._add_members`` names them to the change log."""
        ids = self._id_set
        keys = [key for key in (user.id, *user.group_ids) if key in ids]
        if user.email.casefold() in self._email_set:
            keys.append(user.email.casefold())
        return keys

    def holds(self, user: User) -> bool:
        """Is ``user`` a member (by account, a group, or the address granted)?"""
        ids = self._id_set
        if user.id in ids or any(g in ids for g in user.group_ids):
            return True
        return user.email.casefold() in self._email_set


@dataclass(slots=True, eq=False)
class Permission:
    __deepcopy__ = deepcopy_slots  # a state's copy: see model/copying.py

    id: str
    item_id: str
    roles: list[str]
    grantee_id: str | None = None  # a directory user; None for a pending external invitation
    invitation_email: str | None = None
    sign_in_required: bool = False
    invited_by: str | None = None
    expiration: str | None = None
    has_password: bool = False
    pending: bool = False  # an invitation not yet accepted: grants nothing until it is
    native_role: str | None = None  # the role name in the dialect that granted it (Onehub)
    link: SharingLink | None = None  # a sharing link (createLink): held by its members only

    @property
    def is_owner(self) -> bool:
        return "owner" in self.roles

    def holds(self, user: User) -> bool:
        """Does this permission apply to ``user`` (by account, group, or the address invited)?"""
        if self.pending:
            return False
        if self.link is not None:
            return self.link.holds(user)
        if self.grantee_id is not None:
            return self.grantee_id == user.id or self.grantee_id in user.group_ids
        return (
            self.invitation_email is not None
            and self.invitation_email.casefold() == user.email.casefold()
        )


INDEX_FROM = 16  # shorter lists are scanned: cheaper than keeping an index


class PermissionList:
    """An item's own permissions, in grant order, with an index by grantee and by invited
    address so that finding a user's grants on an item with thousands of them costs
    O(the user's groups + links on the item), not O(permissions): an invite is O(recipients).
    A permission whose holders no key names (a sharing link, held by its members) sits in a
    third bucket that every lookup scans. The index is built on first use and kept up to date
    by ``append`` and ``remove``; its entries carry a number in grant order (the position at
    the build, then counting on), which orders what a lookup finds.

    It holds a plain list and offers only what the model does with an item's permissions:
    add (``append``), withdraw (``remove``), read (iterate, ``len``, truth, ``[i]``) and the
    indexed lookups. A permission's ``grantee_id``, ``invitation_email`` and ``link`` must be
    set before it is added.
    """

    __deepcopy__ = deepcopy_slots  # a state's copy: see model/copying.py

    __slots__ = ("_by_address", "_by_grantee", "_items", "_next", "_others")

    def __init__(self, permissions: Iterable[Permission] = ()) -> None:
        self._items: list[Permission] = list(permissions)
        self._by_grantee: dict[str, list[tuple[int, Permission]]] | None = None
        self._by_address: dict[str, list[tuple[int, Permission]]] | None = None
        self._others: list[tuple[int, Permission]] | None = None
        self._next = 0  # the number of the next permission indexed

    def __iter__(self) -> Iterator[Permission]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def any_shared(self) -> bool:
        """Does any permission here grant less than ``owner`` (the item is shared)? Once per
        rendered item: a plain loop, no generator frame."""
        for permission in self._items:  # noqa: SIM110
            if "owner" not in permission.roles:
                return True
        return False

    def __getitem__(self, index: int) -> Permission:
        return self._items[index]

    def __repr__(self) -> str:
        return f"PermissionList({self._items!r})"

    def _index(
        self,
    ) -> tuple[dict[str, list[tuple[int, Permission]]], dict[str, list[tuple[int, Permission]]]]:
        """(by grantee id, by case-folded invited address), built on first use."""
        if self._by_grantee is None or self._by_address is None or self._others is None:
            self._by_grantee, self._by_address, self._others = {}, {}, []
            for position, permission in enumerate(self._items):
                self._add(position, permission)
            self._next = len(self._items)
        return self._by_grantee, self._by_address

    def _bucket(self, permission: Permission) -> list[tuple[int, Permission]]:
        """The index's list that holds (or is to hold) ``permission``'s entry."""
        assert self._by_grantee is not None and self._by_address is not None
        assert self._others is not None
        if permission.link is not None:
            return self._others
        if permission.grantee_id is not None:
            return self._by_grantee.setdefault(permission.grantee_id, [])
        if permission.invitation_email is not None:
            return self._by_address.setdefault(permission.invitation_email.casefold(), [])
        return self._others

    def _add(self, number: int, permission: Permission) -> None:
        self._bucket(permission).append((number, permission))

    def append(self, permission: Permission) -> None:
        self._items.append(permission)
        if self._by_grantee is not None:
            self._add(self._next, permission)
            self._next += 1

    def remove(self, permission: Permission) -> None:
        """Withdraw ``permission`` (ValueError if it is not here), and its index entry (the
        index is built anew on the next lookup where its entry is not where it would be put)."""
        self._items.remove(permission)
        if self._by_grantee is None:
            return
        bucket = self._bucket(permission)
        for index, (_, indexed) in enumerate(bucket):
            if indexed is permission:
                del bucket[index]
                return
        self._by_grantee = None

    def candidates(self, user: User) -> Sequence[Permission]:
        """The permissions that may apply to ``user`` (a superset of those that do), in order
        (a short list is returned as it is held: read it, never change it)."""
        if len(self._items) < INDEX_FROM:
            return self._items
        by_grantee, by_address = self._index()
        found = [*by_grantee.get(user.id, ()), *by_address.get(user.email.casefold(), ())]
        found.extend(self._others or ())
        for group_id in user.group_ids:
            found.extend(by_grantee.get(group_id, ()))
        return [permission for _, permission in sorted(found, key=lambda entry: entry[0])]

    def contains(self, permission: Permission) -> bool:
        """Is this very permission in the list (by identity; O(1) on a long list)?"""
        if len(self._items) < INDEX_FROM:
            return any(p is permission for p in self._items)
        by_grantee, by_address = self._index()
        if permission.link is not None or (
            permission.grantee_id is None and permission.invitation_email is None
        ):
            entries = self._others or ()
        elif permission.grantee_id is not None:
            entries = by_grantee.get(permission.grantee_id, ())
        else:
            entries = by_address.get((permission.invitation_email or "").casefold(), ())
        return any(p is permission for _, p in entries)

    def direct_for(self, grantee_id: str | None, address: str) -> Permission | None:
        """The first non-owner permission for that grantee, or for that invited address."""
        items = self._items
        if len(items) < INDEX_FROM:  # once per invited recipient: no call per permission
            folded = None
            for permission in items:
                if "owner" in permission.roles:  # ``is_owner``
                    continue
                held_by = permission.grantee_id
                if held_by is not None:
                    if held_by == grantee_id:
                        return permission
                elif permission.invitation_email:
                    if folded is None:
                        folded = address.casefold()
                    if permission.invitation_email.casefold() == folded:
                        return permission
            return None
        by_grantee, by_address = self._index()
        found = list(by_grantee.get(grantee_id, ())) if grantee_id is not None else []
        found.extend(by_address.get(address.casefold(), ()))
        found.sort(key=lambda entry: entry[0])
        return next((p for _, p in found if not p.is_owner), None)
