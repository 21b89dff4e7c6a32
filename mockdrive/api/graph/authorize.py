"""The token's scopes at each Graph entry point, one call each (the table: ``model.scopes``).

``enter`` runs first for every Graph request (``$batch`` steps included, as they re-enter the
pipeline): an app-only token on ``/me`` is Graph's 400, and an app-only caller is given the
reach of its roles. ``check_drive`` runs once the addressed drive is known, ``check_item`` for
an item reached through a sharing link. A static token (a scenario's) keeps every scope and
costs one comparison.
"""

from __future__ import annotations

from dataclasses import replace

from ...model import scopes
from ...model.identity import User
from ...model.permissions import can_see_drive
from ...model.tree import Drive, Item
from ..context import Call

# POSTs that only read: Graph lists them under the read scopes
READ_POSTS = (("preview",),)


def operation_of(method: str, action: tuple[str, ...] = ()) -> str:
    """``read`` or ``write``, as the scope table counts a request."""
    if method in ("GET", "HEAD") or (method == "POST" and action in READ_POSTS):
        return scopes.READ
    return scopes.WRITE


def enter(call: Call, rest: str) -> Call:
    """The call as the Graph routes serve it: ``/me…`` (and ``/drive…``, the signed-in user's
    drive) refused to an app-only token, and an app-only caller standing for itself with the
    reach of its roles."""
    principal = call.principal
    if principal is None or principal.kind != scopes.APPLICATION:
        return call
    if rest in ("/me", "/drive") or rest.startswith(("/me/", "/drive/")):
        scopes.require_delegated(principal)  # the signed-in user's, as /drive is
    return replace(call, caller=app_caller(call))


def app_caller(call: Call) -> User:
    """The app as the model sees it: no permission and no drive of its own, the roles of its
    token on every drive, or the drives granted to it (``Sites.Selected``)."""
    principal, state = call.principal, call.state
    app = state.entra.apps.get(principal.app_id or "")
    return scopes.app_caller(call.caller, principal.roles, app.drives if app is not None else ())


def check_drive(call: Call, method: str, action: tuple[str, ...], drive: Drive) -> None:
    """The token may do this (read or write) on ``drive``? A drive the caller cannot see is
    left to the route, which answers as for one that does not exist."""
    principal = call.principal
    if principal is None or principal.kind == scopes.STATIC:
        return
    # (``operation_of``, its call spared to the reads, most requests a token makes)
    operation = scopes.READ if method in ("GET", "HEAD") else operation_of(method, action)
    if scopes.allows(principal, operation, drive, call.caller):
        return
    if can_see_drive(call.state.store, call.caller, drive.id):  # only a refusal looks
        raise scopes.AccessDenied(scopes.ACCESS_DENIED)


def check_item(call: Call, method: str, item: Item) -> None:
    """An item reached through a sharing link (``/shares``): the scopes of its drive."""
    principal = call.principal
    if principal is None or principal.kind == scopes.STATIC:
        return
    drive = call.state.store.drives[item.drive_id]
    scopes.require_scope(principal, operation_of(method), drive, call.caller)


def check_shared_list(call: Call) -> None:
    """``sharedWithMe``: any delegated scope that reads files."""
    principal = call.principal
    if principal is not None and not scopes.may_list_shared(principal):
        raise scopes.AccessDenied(scopes.ACCESS_DENIED)


def check_user(call: Call, me: bool, user: User | None) -> None:
    """``/me`` (``me``) or ``/users/{key}`` (``user``: who the key names, None if nobody)."""
    principal = call.principal
    if principal is not None:
        scopes.require_user_read(principal, own=me or user is call.caller, me=me)


def may_list_drive(call: Call, drive: Drive) -> bool:
    """Does the token reach ``drive`` (for the drive collections, which list only those)?"""
    principal = call.principal
    if principal is None or principal.kind == scopes.STATIC:
        return True
    return scopes.allows(principal, scopes.READ, drive, call.caller)
