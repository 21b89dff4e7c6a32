"""Users of the mock tenant and the bearer tokens that identify them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .copying import deepcopy_attrs, deepcopy_slots

READ = "read"
WRITE = "write"
# counts every address given to a group (one made, one re-addressed) and every group added: a
# directory's index of groups by address (``Directory._groups_indexed``) is rebuilt when this
# has moved since, as when its ``groups`` changed size
_group_addresses = 0


@dataclass(frozen=True, slots=True)
class AppAccess:
    """What an app-only caller reaches, from its roles (``scopes.app_access``): ``role`` on
    every drive, or (``drives`` not None) the role granted on each listed drive
    (``Sites.Selected``), the better of the two where both apply. The model gives an app
    caller these roles and nothing else: it holds no permission and owns nothing."""

    role: str | None
    drives: Mapping[str, str] | None = None

    def role_on(self, drive_id: str) -> str | None:
        granted = self.drives.get(drive_id) if self.drives is not None else None
        held = (self.role, granted)
        return WRITE if WRITE in held else READ if READ in held else None


@dataclass(slots=True)
class User:
    __deepcopy__ = deepcopy_slots  # a state's copy: see model/copying.py

    id: str
    display_name: str
    email: str
    token: str | None = None
    alias: str | None = None
    group_ids: set[str] = field(default_factory=set)  # groups this user is a member of
    # an app-only caller standing for itself (never in the directory): what its roles reach
    app: AppAccess | None = None


@dataclass(slots=True)
class Group:
    """A security or Microsoft 365 group: permissions granted to it apply to every member."""

    __deepcopy__ = deepcopy_slots  # a state's copy: see model/copying.py

    id: str
    display_name: str
    member_ids: list[str] = field(default_factory=list)
    email: str | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "email":  # the directories' indexes by address are out of date
            global _group_addresses
            _group_addresses += 1
        object.__setattr__(self, name, value)


class Directory:
    """All users, indexed by id, case-folded e-mail, alias and token."""

    __deepcopy__ = deepcopy_attrs  # a state's copy: see model/copying.py

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self._by_email: dict[str, User] = {}
        self._by_alias: dict[str, User] = {}
        self._by_token: dict[str, User] = {}
        # no token longer than this was ever given (``by_token`` of a longer one is None): a
        # JWT, a thousand characters or more, is told from a scenario's token without hashing it
        self.longest_token = 0
        self.groups: dict[str, Group] = {}
        # groups by case-folded address and by the address's local part (an alias), the first
        # group of each in ``groups``' order; rebuilt when ``groups`` has changed size or any
        # group was added or given an address since (``_group_addresses``)
        self._group_index: tuple[int, int, dict[str, Group], dict[str, Group]] = (0, 0, {}, {})

    def add(self, user: User) -> User:
        from .errors import InvalidRequest

        if user.id in self.users:
            raise InvalidRequest(f"a user with id {user.id!r} already exists")
        if user.email.casefold() in self._by_email:
            raise InvalidRequest(f"a user with e-mail {user.email!r} already exists")
        if user.token and user.token in self._by_token:
            raise InvalidRequest("two users cannot share one token")
        self.users[user.id] = user
        self._by_email[user.email.casefold()] = user
        if user.alias:
            self._by_alias[user.alias.casefold()] = user
        if user.token:
            self._by_token[user.token] = user
            self.longest_token = max(self.longest_token, len(user.token))
        return user

    def add_group(self, group: Group) -> Group:
        """Add ``group``; its members must already be users of the directory."""
        from .errors import InvalidRequest

        if group.id in self.groups or group.id in self.users:
            raise InvalidRequest(f"a directory object with id {group.id!r} already exists")
        for member_id in group.member_ids:
            if member_id not in self.users:
                raise InvalidRequest(f"group member {member_id!r} is not a user")
        self.groups[group.id] = group
        global _group_addresses
        _group_addresses += 1  # (a group made before the index, put where one was removed)
        for member_id in group.member_ids:
            self.users[member_id].group_ids.add(group.id)
        return group

    def set_token(self, user: User, token: str) -> None:
        """Give ``user`` a (new) bearer token, e.g. once an invited person signs in."""
        from .errors import InvalidRequest

        holder = self._by_token.get(token)
        if holder is not None and holder is not user:
            raise InvalidRequest("two users cannot share one token")
        if user.token:
            self._by_token.pop(user.token, None)
        user.token = token
        self._by_token[token] = user
        self.longest_token = max(self.longest_token, len(token))

    def by_id(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    def by_email(self, email: str) -> User | None:
        return self._by_email.get(email.casefold())

    def group_by_email(self, email: str) -> Group | None:
        """The first group with this address (case-folded). O(1)."""
        return self._groups_indexed()[2].get(email.casefold())

    def group_by_alias(self, alias: str) -> Group | None:
        """The first group whose address's local part is ``alias`` (case-folded). O(1)."""
        return self._groups_indexed()[3].get(alias.casefold())

    def _groups_indexed(self) -> tuple[int, int, dict[str, Group], dict[str, Group]]:
        index = self._group_index
        if index[0] != len(self.groups) or index[1] != _group_addresses:
            seen = _group_addresses  # (read first: an address given during the scan is seen)
            by_email: dict[str, Group] = {}
            by_alias: dict[str, Group] = {}
            for group in self.groups.values():
                if group.email:
                    by_email.setdefault(group.email.casefold(), group)
                    by_alias.setdefault(group.email.split("@")[0].casefold(), group)
            index = (len(self.groups), seen, by_email, by_alias)
            self._group_index = index
        return index

    def by_alias(self, alias: str) -> User | None:
        return self._by_alias.get(alias.casefold())

    def by_token(self, token: str) -> User | None:
        return self._by_token.get(token)
