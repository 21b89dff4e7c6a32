"""What sits beside the drives: ``/me`` and ``/users/{id | userPrincipalName}`` (the directory
user), the drive collections ``/me/drives``, ``/drives`` and ``/users/{id}/drives``, and the
honest answer (501 or the gateway's 400) for every other top-level resource."""

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
from .paths import decode_path
from .render import render_drive

_DRIVE_STARTS = ("/me/drive/", "/drive/", "/drives/")


async def dispatch(request: web.Request, call: Call, rest: str) -> web.StreamResponse | None:
    """The answer for a non-drive route, or None when ``rest`` addresses a drive."""
    if rest.startswith(_DRIVE_STARTS) or rest in ("/me/drive", "/drive"):
        return None
    segments = [s for s in decode_path(rest).split("/") if s]
    state, caller = call.state, call.caller
    match segments:
        case ["me", "drive", *_] | ["me", "drives", _, *_] | ["drive", *_] | ["drives", _, *_]:
            return None
        case [("users" | "groups" | "sites"), _, "drive", *_]:
            return None
        case ["me"]:
            authorize.check_user(call, True, caller)
            return user_response(request, caller)
        case ["users", key]:
            authorize.check_user(call, False, state.directory.by_id(key) or
                                 state.directory.by_email(key))  # fmt: skip
            return user_response(request, find_user(state, key))
        case ["me", "drives"] | ["drives"]:
            return drives_response(request, call, caller)
        case ["users", key, "drives"]:
            return drives_response(request, call, find_user(state, key))
        case ["users"]:
            raise not_implemented("listing the users of the directory")
        case ["me", segment, *_] | ["users", _, segment, *_]:
            if segment in USER_SEGMENTS or segment == "drives":
                raise not_implemented(f"the user's {segment!r}")
            raise bad_segment(segment)
        case [first, *_] if first in TOP_LEVEL:
            raise not_implemented(f"the {first!r} resource")
        case [first, *_]:
            raise bad_segment(first)
        case []:
            raise not_implemented("the service document")
    return None


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


def user_response(request: web.Request, user: User) -> web.StreamResponse:
    only_get(request)
    body = {"@odata.context": context_url(request, "users/$entity"), **render_user(user)}
    return fast_json_response(shape(body, parse_select(request.query.get("$select"))))


def drives_response(request: web.Request, call: Call, owner: User) -> web.StreamResponse:
    """The drives ``owner`` owns that the caller can see and the token reaches, the default
    drive first (O(drives))."""
    only_get(request)
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


def only_get(request: web.Request) -> None:
    if request.method not in ("GET", "HEAD"):
        message = f"the method {request.method} is not supported on this resource"
        raise ApiError(405, "notSupported", message)
