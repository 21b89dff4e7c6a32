"""Sharing links in a scenario: a link permission as scenario data, and back.

The model's links (``model/links.py``) know nothing of the scenario format; a load and an
export meet here.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..model import sharing
from ..model.clock import format_time, parse_time
from ..model.errors import InvalidRequest
from ..model.grants import Permission, SharingLink
from ..model.links import LINK_TYPES, TYPE_ROLES, add_link_permission
from ..model.policy import LINK_SCOPES

if TYPE_CHECKING:
    from ..model.state import State
    from ..model.tree import Item


def link_from_data(state: State, item: Item, data: dict) -> Permission:
    """A link declared in a scenario (``{link: {type, scope, token, password, members}, id,
    expiration, invitedBy}``, shapes checked by the schema), stored on ``item``."""
    raw = data["link"]
    if not isinstance(raw, dict) or raw.get("type") not in LINK_TYPES:
        raise InvalidRequest(f"link type must be one of {', '.join(LINK_TYPES)}")
    if raw.get("scope") not in LINK_SCOPES:
        raise InvalidRequest(f"link scope must be one of {', '.join(LINK_SCOPES)}")
    drive = state.store.drives[item.drive_id]
    creator = drive.owner_id
    if "invitedBy" in data:
        user = state.directory.by_email(data["invitedBy"]) or state.directory.by_id(
            data["invitedBy"]
        )
        if user is None:
            raise InvalidRequest(f"invitedBy {data['invitedBy']!r} is not a user")
        creator = user.id
    token = raw.get("token") or state.ids.token()
    if token in state.links.by_token:
        raise InvalidRequest(f"two links have the token {token!r}")
    link = SharingLink(raw["type"], raw["scope"], token, creator, password=raw.get("password"))
    shared = None
    if data.get("sharedDateTime") is not None:
        shared = parse_time(data["sharedDateTime"], "sharedDateTime")
    joined: dict[str, datetime] = {}  # member id -> when it was granted or redeemed
    member_times = raw.get("memberSharedDateTimes") or {}
    for index, member in enumerate(raw.get("members") or []):
        user = state.directory.by_email(member) or state.directory.by_id(member)
        group = state.directory.groups.get(member)
        if user is not None or group is not None:
            member_id = user.id if user is not None else member
            link.add_member_id(member_id)
            if member in member_times:
                joined[member_id] = parse_time(member_times[member], "sharedDateTime")
        elif sharing.EMAIL_PATTERN.match(member):
            link.add_member_email(member)
        else:
            raise InvalidRequest(f"members[{index}]: {member!r} is no user, group or address")
    permission = Permission(
        id=data.get("id") or state.ids.guid(),
        item_id=item.id,
        roles=[TYPE_ROLES[link.type]],
        invited_by=creator,
        expiration=data.get("expiration"),
        has_password=link.password is not None,
        link=link,
    )
    if any(p.id == permission.id for p in item.permissions):
        raise InvalidRequest(f"duplicate permission id {permission.id!r}")
    add_link_permission(state, item, permission, shared)
    for member_id, when in joined.items():
        state.shared_at[f"{permission.id}/{member_id}"] = when
    return permission


def link_to_data(state: State, permission: Permission) -> dict:
    """A link permission as scenario data (what ``link_from_data`` reads back)."""
    link = permission.link
    assert link is not None
    raw: dict = {"type": link.type, "scope": link.scope, "token": link.token}
    if link.password is not None:
        raw["password"] = link.password
    members = []
    member_times: dict[str, str] = {}
    for member_id in link.member_ids:
        user = state.directory.users.get(member_id)
        members.append(user.email if user is not None else member_id)
        when = state.shared_at.get(f"{permission.id}/{member_id}")
        if when is not None:
            member_times[members[-1]] = format_time(when)
    members.extend(link.member_emails)
    if members:
        raw["members"] = members
    if member_times:
        raw["memberSharedDateTimes"] = member_times
    data: dict = {"id": permission.id, "link": raw}
    when = state.shared_at.get(permission.id)
    data["sharedDateTime"] = None if when is None else format_time(when)
    drive = state.store.drives[state.store.items[permission.item_id].drive_id]
    if link.created_by != drive.owner_id:
        creator = state.directory.users.get(link.created_by)
        data["invitedBy"] = creator.email if creator else link.created_by
    if permission.expiration:
        data["expiration"] = permission.expiration
    return data
