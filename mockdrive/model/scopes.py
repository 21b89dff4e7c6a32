"""The scope table: what a token's delegated scopes (``scp``) or application roles (``roles``)
allow, on top of the resource permissions the model enforces anyway.

Authorization is both at once: a request is served only if the caller's permissions allow it
(``permissions.py``, ``view.py``) **and** the token's scopes do (this table). A scope never
widens what a user can reach; it only narrows it. A scenario's static token keeps every scope.

Each scope or role allows an *access* (read, or read and write) over a *reach*:

* ``onedrive``: the user's own drives and other people's OneDrives (``personal`` and
  ``business`` drives), where the user reaches only what is shared with them; a SharePoint
  document library (``documentLibrary``) the user does not own is out of reach;
* ``reachable``: everything the user can reach, document libraries included;
* ``every``: app-only, every drive of the tenant;
* ``selected``: app-only ``Sites.Selected``, only the drives granted to the app, each with the
  role of its grant.

docs/identity.md (Authorization by scope) documents the table and where it departs from Graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from .errors import AccessDenied, InvalidRequest
from .identity import READ, WRITE, AppAccess

if TYPE_CHECKING:
    from .identity import User
    from .tree import Drive

__all__ = ["READ", "WRITE", "AppAccess"]  # the app's reach lives with the caller it describes

ONEDRIVE = "onedrive"
REACHABLE = "reachable"
EVERY = "every"
SELECTED = "selected"
STATIC = "static"
APPLICATION = "application"
ONEDRIVE_TYPES = ("personal", "business")


@dataclass(frozen=True, slots=True)
class Allowance:
    """What one scope or role allows: ``access`` (read, or write which includes read) over
    ``reach``."""

    access: str
    reach: str


# Delegated scopes (``scp``) that reach files. Sites.* reach what the user can reach, as
# Files.*.All do.
DELEGATED: dict[str, Allowance] = {
    "Files.Read": Allowance(READ, ONEDRIVE),
    "Files.ReadWrite": Allowance(WRITE, ONEDRIVE),
    "Files.Read.All": Allowance(READ, REACHABLE),
    "Files.ReadWrite.All": Allowance(WRITE, REACHABLE),
    "Sites.Read.All": Allowance(READ, REACHABLE),
    "Sites.ReadWrite.All": Allowance(WRITE, REACHABLE),
    "Sites.Manage.All": Allowance(WRITE, REACHABLE),
    "Sites.FullControl.All": Allowance(WRITE, REACHABLE),
}
# Application roles (``roles``) that reach files: every drive, or the granted ones.
APPLICATION_ROLES: dict[str, Allowance] = {
    "Files.Read.All": Allowance(READ, EVERY),
    "Files.ReadWrite.All": Allowance(WRITE, EVERY),
    "Sites.Read.All": Allowance(READ, EVERY),
    "Sites.ReadWrite.All": Allowance(WRITE, EVERY),
    "Sites.Manage.All": Allowance(WRITE, EVERY),
    "Sites.FullControl.All": Allowance(WRITE, EVERY),
    "Sites.Selected": Allowance(WRITE, SELECTED),  # capped by each grant's role
}
# Reading the directory user. ``/me`` answers any delegated token: Graph asks for User.Read,
# which Entra puts in nearly every token (every app registration holds it), while the mock's
# tokens carry only the scopes asked for. ``/users/{id}`` of someone else asks for one of these.
READ_USERS = frozenset({"User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All",
                        "Directory.Read.All", "Directory.ReadWrite.All",
                        "Directory.AccessAsUser.All"})  # fmt: skip
READ_USERS_APP = frozenset({"User.Read.All", "User.ReadWrite.All", "Directory.Read.All",
                            "Directory.ReadWrite.All"})  # fmt: skip

ACCESS_DENIED = "Access denied"
ME_NEEDS_DELEGATED = "/me request is only valid with delegated authentication flow."
INSUFFICIENT_PRIVILEGES = "Insufficient privileges to complete the operation."


class TokenHolder(Protocol):
    """What the table reads of a principal (``model.principal.Principal``)."""

    kind: str
    scopes: frozenset[str]
    roles: frozenset[str]


class DirectoryDenied(AccessDenied):
    """The directory's refusal (Graph: 403 ``Authorization_RequestDenied``)."""


class DelegatedOnly(InvalidRequest):
    """An app-only token on ``/me`` (Graph: 400 ``BadRequest``)."""


def app_access(roles: frozenset[str], granted: Mapping[str, str]) -> AppAccess:
    """The reach of an app with these roles; ``granted``: drive id → role (read or write) of
    the app's ``Sites.Selected`` grants."""
    role = None
    for name in roles:
        allowance = APPLICATION_ROLES.get(name)
        if allowance is not None and allowance.reach == EVERY:
            role = WRITE if WRITE in (role, allowance.access) else READ
    drives = dict(granted) if "Sites.Selected" in roles else None
    return AppAccess(role, drives)


def app_caller(base: User, roles: Iterable[str], drives: Iterable[str]) -> User:
    """``base`` (the User standing for an app) with the reach of ``roles``; ``drives``: those
    granted to it for ``Sites.Selected`` (read and write). It holds no group, no permission."""
    access = app_access(frozenset(roles), {drive_id: WRITE for drive_id in drives})
    return replace(base, app=access, group_ids=set())


def allows(principal: TokenHolder, operation: str, drive: Drive, caller: User) -> bool:
    """Do the token's scopes allow ``operation`` (read or write) on ``drive`` for ``caller``
    (the signed-in user, or the app standing for itself)? An app's reach is the model's
    (``AppAccess``, which decides what it sees at all), so for an app only read-versus-write
    on this drive is left."""
    if principal.kind == STATIC:
        return True
    if caller.app is not None:
        role = caller.app.role_on(drive.id)
        return role == WRITE or (role == READ and operation == READ)
    if principal.kind == APPLICATION:  # an app token whose caller lacks its reach: nothing
        return False
    reaches = _REACHES.get(principal.scopes)
    if reaches is None:
        reaches = _remember_reaches(principal.scopes)
    reach = reaches[operation == WRITE]
    if reach == ONEDRIVE:
        return drive.owner_id == caller.id or drive.drive_type in ONEDRIVE_TYPES
    return reach == REACHABLE


# The widest reach a set of delegated scopes allows, to read and to write (None: none), kept
# per set: a token's scopes are one frozenset, asked on each of its requests.
_REACHES: dict[frozenset[str], tuple[str | None, str | None]] = {}
_REACHES_KEPT = 1024  # forgotten all at once past this: a token may name any scopes


def _remember_reaches(names: frozenset[str]) -> tuple[str | None, str | None]:
    read = write = None
    for name in names:
        allowance = DELEGATED.get(name)
        if allowance is None:
            continue
        read = REACHABLE if REACHABLE in (read, allowance.reach) else allowance.reach
        if allowance.access == WRITE:
            write = REACHABLE if REACHABLE in (write, allowance.reach) else allowance.reach
    if len(_REACHES) >= _REACHES_KEPT:
        _REACHES.clear()
    _REACHES[names] = reaches = (read, write)
    return reaches


def require_scope(principal: TokenHolder, operation: str, drive: Drive, caller: User) -> None:
    """Refuse (AccessDenied, Graph's 403 ``accessDenied``) what the token's scopes do not
    allow. Call it once the caller is known to see ``drive``: what they cannot see at all
    answers as missing, whatever the token."""
    if not allows(principal, operation, drive, caller):
        raise AccessDenied(ACCESS_DENIED)


def may_list_shared(principal: TokenHolder) -> bool:
    """``sharedWithMe``: any delegated scope that reads files (Graph lists with Files.Read
    too)."""
    if principal.kind == STATIC:
        return True
    return principal.kind != APPLICATION and any(s in DELEGATED for s in principal.scopes)


def require_user_read(principal: TokenHolder, own: bool, me: bool) -> None:
    """``/me`` (``me``) or ``/users/{id}`` (``own``: the signed-in user themself): an app-only
    token on ``/me`` is a bad request; someone else needs a directory scope."""
    if principal.kind == STATIC:
        return
    if principal.kind == APPLICATION:
        if me:
            raise DelegatedOnly(ME_NEEDS_DELEGATED)
        if not principal.roles & READ_USERS_APP:
            raise DirectoryDenied(INSUFFICIENT_PRIVILEGES)
        return
    if not own and not principal.scopes & READ_USERS:
        raise DirectoryDenied(INSUFFICIENT_PRIVILEGES)


def require_delegated(principal: TokenHolder) -> None:
    """Anything under ``/me`` needs a signed-in user."""
    if principal.kind == APPLICATION:
        raise DelegatedOnly(ME_NEEDS_DELEGATED)
