"""What sits beside the drives: ``/me`` and ``/users/{id | userPrincipalName}`` (the directory
user), the drive collections ``/me/drives``, ``/drives`` and ``/users/{id}/drives``, and the
honest answer (501 or the gateway's 400) for every other top-level resource. The rows that
serve them are in ``routes.ROUTES``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...model.identity import User
from ...model.permissions import can_see_drive
from ...model.state import State
from ..context import Call
from ..errors import ApiError
from ..jsonio import fast_json_response
from . import authorize
from .envelope import context_url, shape
from .gaps import TOP_LEVEL, USER_SEGMENTS, bad_segment, not_implemented
from .odata import parse_select
from .render import render_drive


def get_user(request: web.Request, call: Call, user: User) -> web.StreamResponse:
    authorize.check_user(call, False, user)  # the token's scopes (an app-only /me: refused before)
    body = {"@odata.context": context_url(request, "users/$entity"), **render_user(user)}
    return fast_json_response(shape(body, parse_select(request.query.get("$select"))))


def my_drives(request: web.Request, call: Call) -> web.StreamResponse:
    """``/drives``: the caller's own."""
    return drives_response(request, call, call.caller)


def user_drives(request: web.Request, call: Call, user: User) -> web.StreamResponse:
    return drives_response(request, call, user)


def user_address(segments: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]] | None:
    """``/me/…`` → (None: the caller, what follows); ``/users/{key}/…`` → (key, what follows);
    None for anything else."""
    if segments[:1] == ("me",):
        return None, segments[1:]
    if segments[:1] == ("users",) and len(segments) > 1:
        return segments[1], segments[2:]
    return None


def resolve_user(call: Call, key: str | None) -> User:
    """The caller (``/me``) or the user of ``/users/{id | userPrincipalName}``, else a 404."""
    return call.caller if key is None else find_user(call.state, key)


def addresses_drive(segments: tuple[str, ...]) -> bool:
    """Is this a drive, or something in one (``/me/drive/…``, ``/drives/{id}/…``)?"""
    match list(segments):
        case ["me", "drive", *_] | ["me", "drives", _, *_] | ["drive", *_] | ["drives", _, *_]:
            return True
        case [("users" | "groups" | "sites"), _, "drive", *_] | ["users", _, "drives", _, *_]:
            return True
    return False


def unserved(segments: tuple[str, ...]) -> Exception:
    """What a path no row serves and no drive holds answers: 501 for a resource of Graph that
    mockdrive lacks, the gateway's 400 for a segment Graph does not have."""
    match list(segments):
        case ["users"]:
            return not_implemented("listing the users of the directory")
        case ["me", segment, *_] | ["users", _, segment, *_]:
            if segment in USER_SEGMENTS or segment == "drives":
                return not_implemented(f"the user's {segment!r}")
            return bad_segment(segment)
        case [first, *_] if first in TOP_LEVEL:
            return not_implemented(f"the {first!r} resource")
        case [first, *_]:
            return bad_segment(first)
    return not_implemented("the service document")


def find_user(state: State, key: str) -> User:
    user = state.directory.by_id(key) or state.directory.by_email(key)
    if user is None:
        raise ApiError(404, "Request_ResourceNotFound",
                       f"Resource '{key}' does not exist or one of its queried "
                       "reference-property objects are not present.")  # fmt: skip
    return user


def render_user(user: User) -> dict[str, Any]:
    """The directory user as Graph's user resource (no nulls: unset properties are left out)."""
    data: dict[str, Any] = {"businessPhones": [], "displayName": user.display_name}
    given, _, surname = user.display_name.partition(" ")
    if surname:
        data.update(givenName=given, surname=surname)
    data.update(mail=user.email, userPrincipalName=user.email, id=user.id)
    return data


def drives_response(request: web.Request, call: Call, owner: User) -> web.StreamResponse:
    """The drives ``owner`` owns that the caller can see and the token reaches, the default
    drive first (O(drives))."""
    state, caller = call.state, call.caller
    store = state.store
    default = store.default_drive.get(owner.id)
    owned = [d for d in store.drives.values() if d.owner_id == owner.id]
    owned.sort(key=lambda d: d.id != default)
    select = parse_select(request.query.get("$select"))
    value = [shape(render_drive(state, d), select) for d in owned
             if (owner.id == caller.id or can_see_drive(store, caller, d.id))
             and authorize.may_list_drive(call, d)]  # fmt: skip
    return fast_json_response({"@odata.context": context_url(request, "drives"), "value": value})
