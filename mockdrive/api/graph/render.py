"""How Graph renders drives, driveItems, permissions and per-recipient errors on the wire."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import quote

from ...model.faults import NOTIFICATION_CODES
from ...model.hashes import file_hashes
from ...model.permissions import EffectivePermission, Permission
from ...model.state import WEB_BASE, State
from ...model.tree import Drive, Item
from ..jsonio import encode, encode_kept
from .downloads import Downloads, download_url, may_read
from .viewer import root_prefix

DEPRECATED_GRANTED_TO = "GrantedTo has been deprecated. Refer to GrantedToV2"
# the quoted names and paths of webUrl (``State.web_url``), each quoted once
_quote = lru_cache(maxsize=16384)(quote)


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
    Every object in the answer is its own (``lastModifiedBy`` is a copy even when the creator
    modified it last): a caller may change it."""
    store = state.store
    parent = None if item.parent_id is None else store.items[item.parent_id]
    data = ItemRenderer(state, view, store.drives[item.drive_id], parent, parent_path).render(item)
    if item.modified_by == item.created_by:
        data["lastModifiedBy"] = {"user": dict(data["createdBy"]["user"])}
    return data


def encode_item(state: State, view: View, item: Item, context: str) -> bytes | None:
    """The JSON of ``{"@odata.context": context, **render_item(state, view, item)}``, byte for
    byte what ``jsonio.encode`` makes of it, or None where that gives None (no orjson, or a
    value it refuses): the caller then renders and encodes as usual.

    The fields up to the file or folder facet are encoded once and kept per state while every
    input they are made from is equal (as ``render_children`` keeps its fragments); what follows
    them (the download URL, ``root``, ``shared``, ``specialFolder``) is worked out each time."""
    store = state.store
    drive = store.drives[item.drive_id]
    parent_id = item.parent_id
    if parent_id is None:
        parent, parent_path, own_drive = None, None, None
    else:
        parent = store.items[parent_id]
        parent_path = store.path_of(parent)
        # what ``root_prefix`` depends on beside the drive: is it the viewer's default drive?
        viewer_id = view.viewer_id
        if viewer_id is None:
            viewer_id = drive.owner_id
        own_drive = store.default_drive.get(viewer_id) == drive.id
    created_by, modified_by = item.created_by, item.modified_by
    users = state.directory.users
    # the people as ``identity`` renders them: who (by id) and what of them it shows
    creator = users.get(created_by)
    shown = None if creator is None else (creator.id, creator.display_name, creator.email)
    if modified_by == created_by:
        people = (created_by, shown, modified_by, shown)
    else:
        modifier = users.get(modified_by)
        also = None if modifier is None else (modifier.id, modifier.display_name, modifier.email)
        people = (created_by, shown, modified_by, also)
    is_folder = item.is_folder
    hashes = None if is_folder else file_hashes(item, drive.drive_type)
    children = item.children
    # everything the fields are made from: the item's own (those ``ItemRenderer.render``'s key
    # reads), its people, and where it sits (``ItemRenderer``'s parentReference and webUrl come
    # from the drive and the parent's path)
    key = (
        item.name,
        item.version,
        item.content_version,
        item.size,
        item.created,
        item.modified,
        item.fs_created,
        item.fs_modified,
        item.description,
        item.parent_id,
        item.mime_type,
        -1 if children is None else len(children),
        hashes,
        people,
        drive.id,
        drive.drive_type,
        own_drive,
        parent_path,
    )
    global _ENCODED
    last = _ENCODED  # read once: a server on another thread may replace it meanwhile
    if last[0]() is state:
        encoded = last[1]
    else:  # another state: start afresh (and forget it all once that state is freed)
        encoded = {}
        _ENCODED = (weakref.ref(state, lambda _, kept=encoded: kept.clear()), encoded)
    cached = encoded.get(item.id)
    if cached is not None and cached[0] == key:
        fields = cached[1]
    else:
        renderer = ItemRenderer(state, view, drive, parent, parent_path)
        created = renderer.person(created_by)
        modified = created if modified_by == created_by else renderer.person(modified_by)
        whole = encode(renderer.fragment(item, created, modified, hashes))
        if whole is None:
            return None
        fields = whole[1:-1]  # ``"id":…,"file":{…}``, without the braces
        if len(encoded) >= FRAGMENTS_KEPT:
            encoded.clear()
        encoded[item.id] = (key, fields)
    head = _CONTEXTS.get(context)
    if head is None:
        head = encode_kept(context)
        if head is None:
            return None
        if len(_CONTEXTS) >= CONTEXTS_KEPT:
            _CONTEXTS.clear()
        _CONTEXTS[context] = head
    parts = [b'{"@odata.context":', head, b",", fields]
    if not is_folder:
        url = download_url(state, view.downloads, item)
        if url is not None:
            text = encode(url)
            if text is None:
                return None
            parts += (b',"@microsoft.graph.downloadUrl":', text)
    if parent_id is None:
        parts.append(b',"root":{}')
    if item.permissions.any_shared():
        parts.append(b',"shared":{"scope":"users"}')
    if item.special is not None:  # a SPECIAL_PATHS name: nothing to escape
        parts += (b',"specialFolder":{"name":"', item.special.encode(), b'"}')
    parts.append(b"}")
    return b"".join(parts)


def render_children(
    state: State, view: View, parent: Item, items: Iterable[Item], parent_path: str | None = None
) -> list[dict[str, Any]]:
    """``render_item`` of each of ``items``, children of ``parent``, for one page: what they
    share is worked out once (``ItemRenderer``), and what each item shows whoever asks is taken
    from the last page that rendered it while everything it was made from is unchanged
    (``ItemRenderer.render``). The entries may share objects with each other and with later
    pages: serialise them, never change them."""
    renderer = ItemRenderer(state, view, state.store.drives[parent.drive_id], parent, parent_path)
    fragments = _FRAGMENTS.get(state)
    if fragments is None:
        fragments = _FRAGMENTS[state] = {}
    renderer.fragments = fragments
    return [renderer.render(item) for item in items]


# What listings rendered lately, per state: item id -> (everything the fragment was rendered
# from, the item's fields up to its file or folder facet). A fragment is used only when each of
# those inputs is equal now, so no change to an item, its parent's path, the people it names
# or the view's root can leave a page showing an old one (and nothing needs to forget it).
_FRAGMENTS: weakref.WeakKeyDictionary[State, dict[str, tuple[tuple, dict[str, Any]]]]
_FRAGMENTS = weakref.WeakKeyDictionary()
# The same fields encoded (``encode_item``, for GET item), by item id: (key, JSON), for the
# last state that encoded any (a weak reference: a state replaced is freed at once, and its
# JSON with it), and the JSON of the ``@odata.context`` strings met (one per drive and host)
_ENCODED: tuple[weakref.ref[State] | Callable[[], None], dict[str, tuple[tuple, bytes]]]
_ENCODED = (lambda: None, {})
# An item's own permissions encoded (``encode_permission``, for invite), by permission id:
# (key, JSON), for the last state that encoded any, as ``_ENCODED``
_PERMISSIONS: tuple[weakref.ref[State] | Callable[[], None], dict[str, tuple[tuple, bytes]]]
_PERMISSIONS = (lambda: None, {})
_CONTEXTS: dict[str, bytes] = {}
CONTEXTS_KEPT = 1024
FRAGMENTS_KEPT = 10_000  # then forgotten at once (a page renders a few hundred at most)


class ItemRenderer:
    """Renders driveItems of one parent (or the root, ``parent`` None) for one view. What
    every child of the parent shares (the drive's facets, ``parentReference``, the start of
    ``webUrl``, the people met so far, the download URLs issued) is worked out once, so a page pays
    per item only for the item's own fields. Made per page (or per item): never kept across
    requests, as what it holds is only true now.

    The entries it renders may share objects (the same person's identity, the same
    ``parentReference``): they are rendered to be serialised at once, never changed."""

    __slots__ = (
        "context",
        "downloads",
        "drive_id",
        "drive_type",
        "fragments",
        "issued",
        "parent_id",
        "parent_reference",
        "people",
        "state",
        "url_base",
    )

    def __init__(
        self,
        state: State,
        view: View,
        drive: Drive,
        parent: Item | None,
        parent_path: str | None = None,
    ) -> None:
        self.state = state
        self.drive_id = drive.id
        self.drive_type = drive.drive_type
        self.people: dict[str, dict[str, dict[str, str]]] = {}
        self.downloads = view.downloads
        self.issued: dict[str, str] | None = None  # the download URLs, on the first file
        # webUrl is the quoted drive id and path: quoting goes character by character, so
        # the parent's part is quoted once and each child adds "/" and its quoted name
        self.url_base = f"{WEB_BASE}/{_quote(drive.id)}"
        reference: dict[str, Any] = {"driveId": drive.id, "driveType": drive.drive_type}
        if parent is None:
            self.parent_id = None
        else:
            self.parent_id = parent.id
            if parent_path is None:
                parent_path = state.store.path_of(parent)
            prefix = root_prefix(state, view.viewer_id, drive.id)
            reference["id"] = parent.id
            if parent_path != "/":
                prefix += parent_path
                self.url_base += _quote(parent_path)
            reference["path"] = prefix
        self.parent_reference = reference
        # fragments of earlier pages (set by ``render_children``; None: render all afresh), and
        # what beside the item they depend on
        self.fragments: dict[str, tuple[tuple, dict[str, Any]]] | None = None
        self.context = (self.drive_type, self.url_base, reference.get("path"), self.parent_id)

    def person(self, user_id: str) -> dict[str, dict[str, str]]:
        """``{"user": identity}`` (``createdBy``, ``lastModifiedBy``), once per person a page
        names."""
        found = self.people[user_id] = {"user": identity(self.state, user_id)}
        return found

    def render(self, item: Item) -> dict[str, Any]:
        """The driveItem ``item`` (a child of the parent, or the root). With ``fragments``,
        the fields up to the file or folder facet come from there when every input they were
        made from is equal now (the key below), and go there otherwise; the download URL,
        ``shared`` and ``specialFolder`` are worked out each time (the caller, the clock,
        sharing, a folder taken as a special one)."""
        item_id = item.id
        created_by = item.created_by
        people = self.people
        created = people.get(created_by) or self.person(created_by)
        modified_by = item.modified_by
        if modified_by == created_by:
            modified = created
        else:
            modified = people.get(modified_by) or self.person(modified_by)
        is_folder = item.is_folder
        hashes = None if is_folder else file_hashes(item, self.drive_type)
        fragments = self.fragments
        data = key = None
        if fragments is not None:
            children = item.children
            key = (
                item.name,
                item.version,
                item.content_version,
                item.size,
                item.created,
                item.modified,
                item.fs_created,
                item.fs_modified,
                item.description,
                item.parent_id,
                item.mime_type,
                -1 if children is None else len(children),
                hashes,
                created,
                modified,
                self.context,
            )
            cached = fragments.get(item_id)
            if cached is not None and cached[0] == key:
                data = cached[1].copy()
        if data is None:
            data = self.fragment(item, created, modified, hashes)
            if fragments is not None:
                if len(fragments) >= FRAGMENTS_KEPT:
                    fragments.clear()
                fragments[item_id] = (key, data.copy())
        if not is_folder:
            downloads = self.downloads
            if downloads is not None and (
                (item.inherits and item.parent_id in downloads.readable)
                or item_id in downloads.readable
                or may_read(self.state, downloads, item)
            ):  # (the first test: a file of a folder already found readable, as most of a page)
                issued = self.issued
                if issued is None:
                    issued = self.issued = downloads.issued(self.state)
                url = issued.get(item_id)
                if url is None:
                    signer = downloads.signer_for(self.state)
                    url = issued[item_id] = downloads.origin + signer.token(item)
                data["@microsoft.graph.downloadUrl"] = url
        if item.parent_id is None:
            data["root"] = {}
        if item.permissions.any_shared():
            data["shared"] = {"scope": "users"}
        if item.special is not None:
            data["specialFolder"] = {"name": item.special}
        return data

    def fragment(
        self,
        item: Item,
        created: dict[str, dict[str, str]],
        modified: dict[str, dict[str, str]],
        hashes: dict[str, str] | None,
    ) -> dict[str, Any]:
        """The fields of ``item`` up to its file or folder facet: what ``render`` keeps in
        ``fragments`` (everything else it adds depends on the caller, the clock or sharing)."""
        item_id = item.id
        data = {
            "id": item_id,
            "name": item.name,
            "eTag": f'"{{{item_id}}},{item.version}"',  # Item.etag and Item.ctag
            "cTag": f'"c:{{{item_id}}},{item.content_version}"',
            "size": item.size,
            "createdDateTime": item.created,
            "lastModifiedDateTime": item.modified,
            "webUrl": self.url_base + "/"
            if item.parent_id is None
            else self.url_base + "/" + _quote(item.name),
            "createdBy": created,
            "lastModifiedBy": modified,
            "parentReference": self.parent_reference,
            "fileSystemInfo": {
                "createdDateTime": item.fs_created or item.created,
                "lastModifiedDateTime": item.fs_modified or item.modified,
            },
        }
        if item.description is not None:
            data["description"] = item.description
        if item.is_folder:
            data["folder"] = {"childCount": len(item.children or ())}
        else:
            data["file"] = {"mimeType": item.mime_type, "hashes": hashes}
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
    groups = state.directory.groups  # (most tenants: none to look the grantee up in)
    group = groups.get(permission.grantee_id or "") if groups else None
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


def encode_permission(state: State, view: View, permission: Permission) -> bytes | None:
    """The JSON of ``render_permission`` for an item's own permission (not inherited, not a
    link), byte for byte what ``jsonio.encode`` makes of it, or None where that gives None: the
    caller then renders and encodes as usual. Encoded once and kept per state while every
    input of the rendering is equal (``encode_item``'s way)."""
    if permission.link is not None:
        return None
    users = state.directory.users
    grantee_id, invited_by = permission.grantee_id, permission.invited_by
    grantee = None if grantee_id is None else users.get(grantee_id)
    inviter = None if invited_by is None else users.get(invited_by)
    groups = state.directory.groups
    group = groups.get(grantee_id or "") if groups else None
    store = state.store
    item = store.items.get(permission.item_id)
    if item is None:
        return None
    # everything ``render_permission`` reads for such a permission: its fields, the grantee
    # (a group or a user, as ``identity`` shows them), the inviter, the item's drive's type
    key = (
        tuple(permission.roles),
        grantee_id,
        permission.pending,
        None if group is None else (group.id, group.display_name, group.email),
        None if grantee is None else (grantee.id, grantee.display_name, grantee.email),
        store.drives[item.drive_id].drive_type,
        permission.invitation_email,
        permission.sign_in_required,
        invited_by,
        None if inviter is None else (inviter.id, inviter.display_name, inviter.email),
        permission.expiration,
        permission.has_password,
    )
    global _PERMISSIONS
    last = _PERMISSIONS  # read once: a server on another thread may replace it meanwhile
    if last[0]() is state:
        encoded = last[1]
    else:  # another state: start afresh (and forget it all once that state is freed)
        encoded = {}
        _PERMISSIONS = (weakref.ref(state, lambda _, kept=encoded: kept.clear()), encoded)
    cached = encoded.get(permission.id)
    if cached is not None and cached[0] == key:
        return cached[1]
    whole = encode_kept(render_permission(state, view, EffectivePermission(permission)))
    if whole is None:
        return None
    if len(encoded) >= FRAGMENTS_KEPT:
        encoded.clear()
    encoded[permission.id] = (key, whole)
    return whole


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
