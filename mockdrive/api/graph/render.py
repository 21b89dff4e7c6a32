"""How Graph renders drives, driveItems, permissions and per-recipient errors on the wire."""

from __future__ import annotations

from typing import Any, Protocol

from ...model.faults import NOTIFICATION_CODES
from ...model.hashes import file_hashes
from ...model.permissions import EffectivePermission, Permission
from ...model.state import State
from ...model.tree import Drive, Item
from .downloads import Downloads, download_url
from .viewer import root_prefix

DEPRECATED_GRANTED_TO = "GrantedTo has been deprecated. Refer to GrantedToV2"


class View(Protocol):
    """Whom an answer is rendered for: a request's ``Call``, or ``OWNER_VIEW``."""

    viewer_id: str | None  # None: each drive as its owner sees it
    downloads: Downloads | None  # None: files without ``@microsoft.graph.downloadUrl``


class _OwnerView:
    __slots__ = ()
    viewer_id: str | None = None
    downloads: Downloads | None = None


# Outside a request (fixture helpers, exports): as each drive's owner, with no download URLs.
OWNER_VIEW: View = _OwnerView()


def identity(state: State, user_id: str) -> dict[str, str]:
    user = state.directory.users.get(user_id)  # ``by_id``, without a call: twice an item
    if user is None:
        return {"id": user_id}
    return {"id": user.id, "displayName": user.display_name, "email": user.email}


def api_path(state: State, view: View, item: Item) -> str:
    """``/drive/root:`` for the root, ``/drive/root:/Projects`` below it (itemReference.path);
    ``/drives/{id}/root:…`` when the drive is not the viewer's default drive."""
    path = state.store.path_of(item)
    prefix = root_prefix(state, view.viewer_id, item.drive_id)
    return prefix if path == "/" else prefix + path


def render_drive(state: State, drive: Drive) -> dict[str, Any]:
    used = state.store.root(drive).size
    return {
        "id": drive.id,
        "driveType": drive.drive_type,
        "name": drive.name,
        "createdDateTime": drive.created,
        "lastModifiedDateTime": drive.created,
        "webUrl": state.web_url(state.store.root(drive)),
        "owner": drive_owner(state, drive),
        "quota": {
            "total": drive.quota_total,
            "used": used,
            "remaining": max(drive.quota_total - used, 0),
            "deleted": 0,
            "state": "normal",
        },
    }


def drive_owner(state: State, drive: Drive) -> dict[str, Any]:
    """A group's drive is owned by the group (``owner.group``), any other by its user."""
    group = state.directory.groups.get(drive.owner_id)
    if group is None:  # a drive that is some group's /drive belongs to that group
        group = next((g for g in state.directory.groups.values()
                      if state.store.default_drive.get(g.id) == drive.id), None)  # fmt: skip
    if group is None:
        return {"user": identity(state, drive.owner_id)}
    data = {"id": group.id, "displayName": group.display_name, "email": group.email}
    return {"group": {k: v for k, v in data.items() if v is not None}}


def render_item(
    state: State, view: View, item: Item, parent_path: str | None = None
) -> dict[str, Any]:
    """``parent_path`` is ``store.path_of`` the parent when the caller knows it (children).

    Paid once per item of every page: one pass, each lookup made once (the creator's identity
    serves ``lastModifiedBy`` too when they are the same user)."""
    store = state.store
    drive = store.drives[item.drive_id]
    parent_id = item.parent_id
    if parent_id is None:
        path = "/"
    else:  # one walk up the tree serves both webUrl and parentReference.path
        if parent_path is None:
            parent_path = store.path_of(store.items[parent_id])
        path = "/" + item.name if parent_path == "/" else parent_path + "/" + item.name
    created_by = identity(state, item.created_by)
    modified_by = (
        created_by if item.modified_by == item.created_by else identity(state, item.modified_by)
    )
    data: dict[str, Any] = {
        "id": item.id,
        "name": item.name,
        "eTag": item.etag,
        "cTag": item.ctag,
        "size": item.size,
        "createdDateTime": item.created,
        "lastModifiedDateTime": item.modified,
        "webUrl": state.web_url(item, path),
        "createdBy": {"user": created_by},
        "lastModifiedBy": {"user": dict(modified_by)},
    }
    if parent_id is None:
        data["parentReference"] = {"driveId": drive.id, "driveType": drive.drive_type}
    else:
        prefix = root_prefix(state, view.viewer_id, drive.id)
        data["parentReference"] = {
            "driveId": drive.id,
            "driveType": drive.drive_type,
            "id": parent_id,
            "path": prefix if parent_path == "/" else prefix + parent_path,
        }
    data["fileSystemInfo"] = {
        "createdDateTime": item.fs_created or item.created,
        "lastModifiedDateTime": item.fs_modified or item.modified,
    }
    if item.description is not None:
        data["description"] = item.description
    if item.is_folder:
        data["folder"] = {"childCount": len(item.children or ())}
    else:
        data["file"] = {"mimeType": item.mime_type, "hashes": file_hashes(item, drive.drive_type)}
        url = download_url(state, view.downloads, item)
        if url is not None:
            data["@microsoft.graph.downloadUrl"] = url
    if parent_id is None:
        data["root"] = {}
    if item.permissions.any_shared():
        data["shared"] = {"scope": "users"}
    return data


def render_permission(
    state: State,
    view: View,
    entry: EffectivePermission,
    holder_paths: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``holder_paths`` memoizes ``api_path`` of the holders across one listing."""
    permission = entry.permission
    data: dict[str, Any] = {"id": permission.id, "roles": list(permission.roles)}
    if permission.link is not None:
        data.update(render_link(state, permission))
    group = state.directory.groups.get(permission.grantee_id or "")
    if group is not None:  # a group grant: grantedToV2.group (identitySet has no group)
        data["grantedToV2"] = {"group": {
            k: v for k, v in (("id", group.id), ("displayName", group.display_name),
                              ("email", group.email)) if v is not None}}  # fmt: skip
    elif permission.grantee_id is not None and not permission.pending:
        user = identity(state, permission.grantee_id)
        data["@deprecated.GrantedTo"] = DEPRECATED_GRANTED_TO
        data["grantedTo"] = {"user": user}
        v2: dict[str, Any] = {"user": user}
        drive = state.store.drives[state.store.items[permission.item_id].drive_id]
        if drive.drive_type != "personal" and "email" in user:
            v2["siteUser"] = {
                "id": user["id"],
                "displayName": user.get("displayName", ""),
                "loginName": "i:0#.f|membership|" + user["email"],
            }
        data["grantedToV2"] = v2
    if permission.invitation_email is not None:
        invitation: dict[str, Any] = {
            "email": permission.invitation_email,
            "signInRequired": permission.sign_in_required,
        }
        if permission.invited_by:
            invitation["invitedBy"] = {"user": identity(state, permission.invited_by)}
        data["invitation"] = invitation
    if permission.expiration:
        data["expirationDateTime"] = permission.expiration
    if permission.has_password:
        data["hasPassword"] = True
    if entry.holder is not None:
        holder = entry.holder
        if holder_paths is None:
            path = api_path(state, view, holder)
        else:
            path = holder_paths.get(holder.id)
            if path is None:
                path = holder_paths[holder.id] = api_path(state, view, holder)
        data["inheritedFrom"] = {"driveId": holder.drive_id, "id": holder.id, "path": path}
    return data


def render_link(state: State, permission: Permission) -> dict[str, Any]:
    """A link permission's facets: ``link``, ``shareId``, ``hasPassword`` and the people it
    was granted to (``grantedToIdentitiesV2``, and the deprecated ``grantedToIdentities``)."""
    link = permission.link
    assert link is not None
    facet: dict[str, Any] = {
        "type": link.type,
        "scope": link.scope,
        "webUrl": link.web_url,
        "preventsDownload": link.prevents_download,
    }
    if link.type == "embed":
        facet["webHtml"] = f'<iframe src="{link.web_url}" frameborder="0"></iframe>'
    data: dict[str, Any] = {"link": facet, "shareId": link.share_id,
                            "hasPassword": permission.has_password}  # fmt: skip
    people: list[dict[str, Any]] = []
    for member_id in link.member_ids:
        group = state.directory.groups.get(member_id)
        if group is not None:
            people.append({"group": {"id": group.id, "displayName": group.display_name}})
        else:
            people.append({"user": identity(state, member_id)})
    people.extend({"user": {"email": email}} for email in link.member_emails)
    if people:
        data["grantedToIdentitiesV2"] = people
        data["grantedToIdentities"] = [p for p in people if "user" in p]
    return data


def render_notification_error(inner_code: str) -> dict[str, Any]:
    """The per-recipient ``error`` of a 207 entry (note the lowercase ``innererror``)."""
    message, fix_it_url = NOTIFICATION_CODES[inner_code]
    return {
        "code": "notAllowed",
        "message": message,
        "localizedMessage": message,
        "fixItUrl": fix_it_url,
        "innererror": {"code": inner_code},
    }
