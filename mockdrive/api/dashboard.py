"""The dashboard: a web page at ``/_mockdrive/ui`` (and ``/`` for browsers), and its JSON.

The page (``mockdrive/static/dashboard.*``, no build step, no CDN) comes with its first view
drawn here, on the server: the summary, the drive tree with the first drives open, the request
journal, the outbox and the fault rules, so that a page that runs no script (a plain headless
screenshot) shows them. Its script then takes over and polls these admin routes, which only
read the state:

- ``GET /_mockdrive/dashboard/overview``: state id (changes on reset), drives, users, groups;
- ``GET /_mockdrive/dashboard/tree?item=ID&limit=N&as=USER``: one folder with its effective
  permissions, its children each with their own, and once what every child that inherits gets
  from above (``inherited``); with ``as``, that user's roles and why. Lazy: one folder per call,
  so a 100k-item drive costs what its open folders cost, and a page costs its children plus the
  grants above them, never their product;
- ``GET /_mockdrive/dashboard/access?user=USER``: what a user can see and do: every item where a
  permission applies to them, their roles there, and where inheritance stops below it;
- ``GET /_mockdrive/dashboard/journal?after=ID``: journal entries newer than ``ID``.
"""

from __future__ import annotations

import html
import itertools
import weakref
from importlib import resources
from typing import Any

from aiohttp import web

from ..model.access import (
    access,
    bears_on,
    describe_path,
    drive_label,
    entries,
    pending_invitations,
)
from ..model.errors import InvalidRequest, NotFound
from ..model.identity import User
from ..model.permissions import (
    ROLE_RANK,
    EffectivePermission,
    Permission,
    effective_permissions,
    highest_role,
)
from ..model.ranges import whole_number_text
from ..model.state import State
from ..model.tree import Drive, Item
from .context import backend_of
from .entra import identity_overview
from .errors import ApiError
from .jsonio import json_response
from .routing import Route

DEFAULT_CHILDREN = 200
FIRST_VIEW_ROWS = 200  # journal and outbox rows drawn on the server (the script shows more)
MAX_CHILDREN = 5000
# inherited permissions a row of the tree draws as chips (then one "+N inherited" chip): a row
# under a thousand grants draws a few; the details pane lists them all
INHERITED_CHIPS = 10
ABILITIES = {
    "read": ["view", "download", "see own permissions"],
    "write": ["edit", "upload", "rename", "delete", "invite others", "change shares"],
    "owner": ["manage every permission"],
}
STATIC_TYPES = {
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
}
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}


_STATE_SERIALS: weakref.WeakKeyDictionary[State, str] = weakref.WeakKeyDictionary()
_NEXT_SERIAL = itertools.count(1)


def state_id(state: State) -> str:
    """A label that differs for every State this process made (the page sees resets by it)."""
    found = _STATE_SERIALS.get(state)
    if found is None:
        found = _STATE_SERIALS[state] = str(next(_NEXT_SERIAL))
    return found


def static_text(name: str) -> str:
    """A file shipped in ``mockdrive/static``."""
    return resources.files("mockdrive").joinpath("static", name).read_text("utf-8")


# -- rendering ------------------------------------------------------------------------------------
# ui_*: an object as the page (at /_mockdrive/ui) shows it; Graph's render_* are another shape.
def abilities(roles: list[str] | set[str]) -> list[str]:
    """What the roles let someone do, cumulative (owner includes write includes read)."""
    top = highest_role(roles)
    if top is None:
        return []
    return [
        a for role, rank in ROLE_RANK.items() if rank <= ROLE_RANK[top] for a in ABILITIES[role]
    ]


def ui_principal(state: State, permission: Permission) -> dict[str, Any]:
    """Who a permission is for: a user, a group, or an address invited from outside."""
    link = permission.link
    if link is not None:
        return {"kind": "link", "name": f"{link.scope} {link.type} link", "email": link.web_url}
    grantee_id = permission.grantee_id
    group = state.directory.groups.get(grantee_id or "")
    if group is not None:
        return {"kind": "group", "id": group.id, "name": group.display_name}
    user = state.directory.users.get(grantee_id or "")
    if user is not None:
        return {"kind": "user", "id": user.id, "name": user.display_name, "email": user.email}
    email = permission.invitation_email or grantee_id or "?"
    return {"kind": "invitation", "name": email, "email": email}


def ui_permission(state: State, entry: EffectivePermission) -> dict[str, Any]:
    permission = entry.permission
    data: dict[str, Any] = {
        "id": permission.id,
        "roles": list(permission.roles),
        "role": highest_role(permission.roles),
        "grantee": ui_principal(state, permission),
        "inherited": entry.inherited,
    }
    if permission.native_role:
        data["nativeRole"] = permission.native_role
    if permission.pending:
        data["pending"] = True
    if permission.link is not None:
        data["link"] = ui_link(state, permission)
    elif permission.grantee_id is None:
        data["pending"] = True  # an invitation to an outside address nobody has redeemed
    if permission.expiration:
        data["expiration"] = permission.expiration
    if permission.invited_by:
        inviter = state.directory.users.get(permission.invited_by)
        data["invitedBy"] = inviter.email if inviter else permission.invited_by
    if entry.holder is not None:
        data["inheritedFrom"] = {
            "id": entry.holder.id,
            "path": state.store.path_of(entry.holder),
            "name": entry.holder.name if entry.holder.parent_id else "(drive root)",
        }
    return data


def ui_link(state: State, permission: Permission) -> dict[str, Any]:
    """A sharing link: type, scope, URL, share id, password, and who it was granted to."""
    link = permission.link
    assert link is not None
    members = [
        getattr(state.directory.users.get(m), "email", None)
        or getattr(state.directory.groups.get(m), "display_name", m)
        for m in link.member_ids
    ]
    return {
        "type": link.type,
        "scope": link.scope,
        "webUrl": link.web_url,
        "shareId": link.share_id,
        "hasPassword": link.password is not None,
        "members": members + list(link.member_emails),
    }


def ui_access(
    state: State, user: User, item: Item, effective: list[EffectivePermission] | None = None
) -> dict[str, Any]:
    """One user's roles on one item, with the grants behind them (from the access oracle);
    ``effective``: the item's effective permissions, or those of them that bear on ``user``."""
    result = access(state, user, item, effective=effective)
    data: dict[str, Any] = {
        "roles": result.roles,
        "highest": result.highest,
        "abilities": abilities(result.roles),
        "grants": [str(g) for g in result.grants],
    }
    if result.stops_at is not None:
        data["stopsAt"] = result.stops_at
    return data


def ui_item(
    state: State,
    item: Item,
    as_user: User | None = None,
    *,
    permissions: bool = True,
    own_only: bool = False,
    bearing: list[EffectivePermission] | None = None,
) -> dict[str, Any]:
    """An item as the page shows it: with its effective permissions, or (``own_only``) only
    those granted on it, as a folder's children are listed (``inherited_by_children``).
    ``bearing``: those of its effective permissions that bear on ``as_user`` (``bears_on``)."""
    node: dict[str, Any] = {
        "id": item.id,
        "driveId": item.drive_id,
        "name": item.name if item.parent_id else "(drive root)",
        "path": state.store.path_of(item),
        "folder": item.is_folder,
        "size": item.size,
        "inherits": item.inherits,
    }
    if item.is_folder:
        node["childCount"] = len(item.children or {})
    else:
        node["mimeType"] = item.mime_type
    if permissions and own_only:
        node["permissions"] = [
            ui_permission(state, EffectivePermission(p)) for p in item.permissions
        ]
    elif permissions:
        node["permissions"] = [
            ui_permission(state, e) for e in effective_permissions(state.store, item)
        ]
    if as_user is not None:
        node["access"] = ui_access(state, as_user, item, bearing)
    return node


def inherited_by_children(state: State, folder: Item) -> list[dict[str, Any]]:
    """What a child of ``folder`` that inherits gets from above, as a child's effective list
    shows it after its own: the folder's own permissions (inherited from the folder), then those
    the folder inherits. Listed once per folder, not once per child."""
    return [
        ui_permission(state, EffectivePermission(e.permission, e.holder or folder))
        for e in effective_permissions(state.store, folder)
    ]


def is_onehub_workspace(state: State, drive: Drive) -> bool:
    """A drive someone shared through Onehub (a permission there carries an Onehub role)."""
    for item_id in drive.shared_item_ids:
        item = state.store.items.get(item_id)
        if item is not None and any(p.native_role for p in item.permissions):
            return True
    return False


def ui_drive(state: State, drive: Drive) -> dict[str, Any]:
    owner = state.directory.users.get(drive.owner_id)
    return {
        "id": drive.id,
        "name": drive.name,
        "label": drive_label(state, drive),
        "driveType": drive.drive_type,
        "owner": owner.email if owner else drive.owner_id,
        "rootId": drive.root_id,
        "onehubWorkspace": is_onehub_workspace(state, drive),
    }


def ui_user(state: State, user: User) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": user.id,
        "displayName": user.display_name,
        "email": user.email,
        "groups": sorted(
            state.directory.groups[g].display_name
            for g in user.group_ids
            if g in state.directory.groups
        ),
    }
    if user.token:
        data["token"] = user.token
    if user.alias:
        data["alias"] = user.alias
    return data


MAX_HOLDERS = 50  # token holders the dashboard lists (GET /_mockdrive/identity has all)


def overview(state: State) -> dict[str, Any]:
    return {
        "stateId": state_id(state),
        "drives": [ui_drive(state, d) for d in state.store.drives.values()],
        "users": [ui_user(state, u) for u in state.directory.users.values()],
        "groups": [
            {"id": g.id, "displayName": g.display_name, "members": len(g.member_ids)}
            for g in state.directory.groups.values()
        ],
        "itemCount": len(state.store.items),
        "outboxCount": len(state.outbox.messages),
        "faultCount": len(state.faults.rules),
        "clock": state.clock.peek(),  # the virtual time (POST /_mockdrive/clock moves it)
        "linkCount": len(state.links.by_token),
        "identity": identity_overview(state, MAX_HOLDERS),  # apps, and who holds tokens
    }


def children_of(state: State, folder: Item) -> list[Item]:
    """Folders first, then files, each by name (case-insensitive)."""
    return sorted(
        state.store.iter_children(folder), key=lambda c: (not c.is_folder, c.name.lower())
    )


def bearing_on_children(
    state: State, folder: Item, children: list[Item], user: User | None
) -> list[list[EffectivePermission] | None]:
    """For each child, those of its effective permissions that bear on ``user`` (``bears_on``):
    what it inherits is sorted out once for the folder, not once for every child. None for
    every child without a ``user``."""
    if user is None:
        return [None] * len(children)
    above = [
        EffectivePermission(e.permission, e.holder or folder)
        for e in effective_permissions(state.store, folder)
        if bears_on(e.permission, user)
    ]
    return [
        [EffectivePermission(p) for p in child.permissions if bears_on(p, user)]
        + (above if child.inherits else [])
        for child in children
    ]


def user_access(state: State, user: User) -> dict[str, Any]:
    """What the access page shows for ``user``: ``model.access.entries``, rendered."""
    rows = []
    for entry in entries(state, user):
        node = ui_item(state, entry.item, user, permissions=False)
        node["drive"] = ui_drive(state, entry.drive)
        node["exceptions"] = list(entry.exceptions)
        rows.append(node)
    rows.sort(key=lambda r: (r["drive"]["name"].lower(), r["path"].lower()))
    pending = [
        {"path": describe_path(state, item), "roles": list(p.roles)}
        for item, p in pending_invitations(state, user)
    ]
    return {"user": ui_user(state, user), "entries": rows, "pendingInvitations": pending}


# -- the first view, drawn on the server ----------------------------------------------------------
# Each part mirrors what dashboard.js draws (same elements, classes and data attributes), so the
# script's first redraw changes nothing a reader would notice. Every text is escaped.
EMPTY_VIEW = {
    "summary": "loading…",
    "clock": "…",
    "users": "",
    "tree": "",
    "journal": "",
    "journal-empty": "",
    "outbox": "",
    "outbox-empty": "",
    "faults": "",
    "faults-empty": "",
    "identity": "",
    "identity-empty": "",
}


def page_text(view: dict[str, str] | None) -> str:
    """``dashboard.html`` with its ``{{part}}`` slots filled (empty: the script fills them)."""
    text = static_text("dashboard.html")
    for name, value in (view or EMPTY_VIEW).items():
        text = text.replace("{{" + name + "}}", value)
    return text


def _el(tag: str, attrs: dict[str, Any] | None = None, *children: str) -> str:
    """An element; attribute values are escaped, ``children`` are HTML already."""
    parts = [tag]
    for key, value in (attrs or {}).items():
        if value is None or value is False:
            continue
        parts.append(key if value is True else f'{key}="{html.escape(str(value))}"')
    return f"<{' '.join(parts)}>{''.join(children)}</{tag}>"


def _text(value: Any) -> str:
    return html.escape(str(value), quote=False)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def first_view(state: State) -> dict[str, str]:
    """The page's parts as HTML: what the script draws after its first poll."""
    data = overview(state)
    summary = " · ".join(
        [
            _count(len(data["drives"]), "drive"),
            _count(data["itemCount"], "item"),
            _count(len(data["users"]), "user"),
            _count(len(data["groups"]), "group"),
            _count(data["outboxCount"], "e-mail"),
            _count(data["faultCount"], "fault rule"),
            _count(data["linkCount"], "link"),
        ]
    )
    users = "".join(
        _el("option", {"value": u["email"]}, _text(f"{u['displayName']} <{u['email']}>"))
        for u in data["users"]
    )
    newest = itertools.islice(reversed(state.journal.entries), FIRST_VIEW_ROWS)
    entries = [entry.to_dict() for entry in newest]  # newest first, as the script shows them
    messages = [
        m.to_dict() for m in itertools.islice(reversed(state.outbox.messages), FIRST_VIEW_ROWS)
    ]
    rules = [rule.to_dict() for rule in state.faults.rules]
    identity = _identity(data["identity"])
    return {
        "summary": _text(summary),
        "clock": _text(f"clock {data['clock']}"),
        "users": users,
        "tree": _tree(state, data["drives"]),
        "journal": "".join(_journal_row(e) for e in entries),
        "journal-empty": " hidden" if entries else "",
        "outbox": "".join(_outbox_row(m) for m in messages),
        "outbox-empty": " hidden" if messages else "",
        "faults": "".join(_fault_item(rule) for rule in rules),
        "faults-empty": " hidden" if rules else "",
        "identity": identity,
        "identity-empty": " hidden" if identity else "",
    }


def _tree(state: State, drives: list[dict[str, Any]]) -> str:
    open_drives = drives if len(drives) <= 4 else drives[:1]  # as the script opens them
    open_ids = {d["rootId"] for d in open_drives}
    rows = []
    for drive in drives:
        root = state.store.items[drive["rootId"]]
        extras = _el("span", {"class": "badge"}, _text(drive["driveType"]))
        if drive["onehubWorkspace"]:
            extras += _el("span", {"class": "badge onehub"}, "Onehub workspace")
        extras += _el("span", {"class": "meta"}, _text(f"owner {drive['owner']}"))
        node = {**ui_item(state, root), "childCount": 1}
        is_open = root.id in open_ids
        row = _item_row(node, "drive-row", drive["label"], extras, is_open)
        if is_open:
            row += _folder_list(state, root)
        attrs = {"class": "node drive", "data-path": "/", "data-drive": drive["id"]}
        rows.append(_el("li", {**attrs, "data-id": root.id}, row))
    return "".join(rows) or _el("li", {"class": "empty"}, "No drive.")


def _folder_list(state: State, folder: Item) -> str:
    children = children_of(state, folder)
    inherited = inherited_by_children(state, folder)
    items = []
    for child in children[:DEFAULT_CHILDREN]:
        node = ui_item(state, child, own_only=True)
        meta = _count(node["childCount"], "item") if child.is_folder else _size(child.size)
        extras = _el("span", {"class": "meta"}, meta)
        # as the script completes a listing's children: their own, then what they inherit
        row = _item_row(node, "item-row", child.name, extras, False,
                        inherited if child.inherits else [])  # fmt: skip
        attrs = {"class": "node", "data-path": node["path"], "data-id": child.id}
        items.append(_el("li", attrs, row))
    rest = len(children) - DEFAULT_CHILDREN
    if rest > 0:
        label = f"show {min(DEFAULT_CHILDREN, rest)} more of {rest}"
        items.append(_el("li", {}, _el("button", {"type": "button", "class": "more"}, label)))
    if not items:
        items.append(_el("li", {"class": "meta"}, "(empty folder)"))
    return _el("ul", {}, *items)


def _size(size: int) -> str:
    """As the script formats it: ``0 B``, ``512 B``, ``1.5 KB``..."""
    if not size:
        return "0 B"
    units = ["B", "KB", "MB", "GB", "TB"]
    value, unit = float(size), 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{value:.1f} {units[unit]}" if unit else f"{int(value)} B"


def _item_row(
    node: dict[str, Any],
    kind: str,
    label: str,
    extras: str,
    is_open: bool,
    inherited: list[dict[str, Any]] | None = None,
) -> str:
    """A row of the tree; ``inherited``: what the item inherits, given apart from its own
    ``permissions`` (a folder's children share one list), else told from them."""
    toggle = _el(
        "button",
        {
            "type": "button",
            "class": "toggle",
            "disabled": not node["folder"] or (node.get("childCount") == 0 and kind != "drive-row"),
            "aria-expanded": ("true" if is_open else "false") if node["folder"] else None,
            "aria-label": f"{'collapse' if is_open else 'expand'} {node['name']}",
        },
        "▾" if is_open else "▸",
    )
    icon = "drive" if kind == "drive-row" else "folder" if node["folder"] else "file"
    stop = "" if node["inherits"] else _el("span", {"class": "badge stop"}, "stops inheriting")
    chips = _permission_chips(node.get("permissions", []), inherited)
    return _el(
        "div",
        {"class": f"row {kind}"},
        toggle,
        _el("span", {"class": f"icon {icon}"}),
        _el("span", {"class": "name"}, _text(label)),
        extras,
        stop,
        _el("span", {"class": "perms"}, chips),
    )


def _permission_chips(
    permissions: list[dict[str, Any]], inherited: list[dict[str, Any]] | None = None
) -> str:
    """A row's chips: every permission granted on the item, the first ``INHERITED_CHIPS`` of
    those it inherits, and how many more it inherits (as the script's ``permissionChips``).
    With ``inherited`` given, ``permissions`` are the item's own: a row costs its own grants,
    not every grant above it."""
    if inherited is None:
        own = [p for p in permissions if not p["inherited"]]
        inherited = [p for p in permissions if p["inherited"]]
    else:
        own = permissions
    chips = "".join(_permission_chip(p) for p in own + inherited[:INHERITED_CHIPS])
    rest = len(inherited) - INHERITED_CHIPS
    if rest > 0:
        chips += _el("span", {"class": "badge perm more"}, _text(f"+{rest} inherited"))
    return chips


def _permission_chip(p: dict[str, Any]) -> str:
    classes = ["badge", "perm", f"role-{p['role'] or 'none'}"]
    classes += [name for name in ("inherited", "pending", "link") if p.get(name)]
    roles = ", ".join(p["roles"])
    role = f"{p['nativeRole']} ({roles})" if p.get("nativeRole") else roles
    source = f"inherited from {p['inheritedFrom']['path']}" if p["inherited"] else "direct"
    grantee = p["grantee"]
    title = f"{grantee['kind']} {grantee.get('email') or grantee['name']}: {roles}, {source}"
    label = _text(f"{grantee['name']} · {role}")
    if p.get("pending"):
        label += _el("span", {"class": "src"}, "(invited)")
    if p["inherited"]:
        label += _el("span", {"class": "src"}, _text(f"↳ {source}"))
    attrs = {"class": " ".join(classes), "title": title, "data-permission": p["id"]}
    return _el("span", {**attrs, "data-source": source}, label)


def _journal_row(entry: dict[str, Any]) -> str:
    status = str(entry["status"])
    faults = "".join(
        _el("span", {"class": "badge fault"}, _text(f"{f.get('rule')} {f.get('effect')}"))
        for f in entry.get("faults") or ()
    )
    duration = entry.get("durationMs")
    return _el(
        "tr",
        {"class": f"entry status-{status[0]}", "data-id": entry["id"]},
        _el("td", {"class": "meta"}, _text(entry["id"])),
        _el("td", {"class": "mono"}, _text(entry["method"])),
        _el("td", {"class": "mono path"}, _text(entry["path"])),
        _el("td", {"class": "status"}, _text(status)),
        _el("td", {}, _text(entry.get("caller") or "—")),
        _el("td", {"class": "meta"}, "" if duration is None else f"{duration:.1f}"),
        _el("td", {}, faults),
    )


def _outbox_row(m: dict[str, Any]) -> str:
    status = m["status"] + (f" ({m['errorCode']})" if m.get("errorCode") else "")
    return _el(
        "tr",
        {"class": "failed" if m["status"] == "failed" else None, "data-to": m["to"]},
        _el("td", {"class": "meta"}, _text(m["id"])),
        _el("td", {}, _text(m["to"])),
        _el("td", {}, _text(f"{m['senderName']} <{m['sender']}>")),
        _el("td", {"title": m.get("webUrl")}, _text(m["itemName"])),
        _el("td", {}, _text(", ".join(m["roles"]))),
        _el("td", {"class": "status"}, _text(status)),
        _el("td", {"class": "meta"}, _text(m["time"])),
        _el("td", {}, _text(m.get("message") or "")),
    )


def _fault_item(rule: dict[str, Any]) -> str:
    where = [
        rule.get("method") or "any method",
        f"path ~ {rule['path']}" if rule.get("path") else "any path",
    ]
    where += [f"{key} {rule[key]}" for key in ("caller", "recipient", "domain") if rule.get(key)]
    counts = f"matched {rule['matched']}, fired {rule['fired']}"
    return _el(
        "li",
        {"data-rule": rule["id"]},
        _el(
            "div",
            {"class": "what"},
            _el("span", {"class": "badge fault"}, _text(rule["effect"])),
            " ",
            _el("strong", {"class": "mono"}, _text(rule["id"])),
            _el("div", {}, _text(" · ".join(where))),
            _el("div", {"class": "meta"}, counts),
        ),
    )


def _identity(identity: dict[str, Any]) -> str:
    """The apps, then who holds tokens of which app with which scopes."""
    items = []
    for app in identity["apps"]:
        kind = "confidential" if app["confidential"] else "public"
        roles = " ".join(app["roles"])
        what = (
            _el("span", {"class": "badge"}, kind)
            + " "
            + _el("strong", {}, _text(app["displayName"]))
            + _el("div", {"class": "meta mono"}, _text(app["clientId"]))
            + (_el("div", {"class": "meta"}, _text(f"roles {roles}")) if roles else "")
        )
        items.append(_el("li", {"data-app": app["clientId"]}, _el("div", {"class": "what"}, what)))
    for holder in identity["holders"]:
        scopes = " ".join(holder["scopes"]) or "(no scope)"
        what = (
            _el("span", {"class": "badge"}, _text(holder["kind"]))
            + " "
            + _el("strong", {}, _text(holder["who"]))
            + _el("div", {"class": "meta"}, _text(f"{scopes} · expires {holder['expires']}"))
        )
        key = f"{holder['who']} {holder['clientId']}"
        items.append(_el("li", {"data-holder": key}, _el("div", {"class": "what"}, what)))
    return "".join(items)


# -- request parsing ------------------------------------------------------------------------------
def find_user(state: State, key: str | None) -> User | None:
    if not key:
        return None
    user = state.directory.by_id(key) or state.directory.by_email(key)
    if user is None:
        raise NotFound(f"no user {key!r}")
    return user


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """A query number in ``low..high`` (ASCII digits; past the range: 400, as everywhere)."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    return whole_number_text(raw, name, low, high)


# -- handlers -------------------------------------------------------------------------------------
async def serve_page(request: web.Request) -> web.Response:
    """The page with its first view drawn; with an admin token, without data (the page is open
    to all, its data is not: the script fetches it with the token)."""
    backend = backend_of(request)
    view = None if backend.admin_token is not None else first_view(backend.state)
    return web.Response(text=page_text(view), content_type="text/html", headers=PAGE_HEADERS)


async def home(request: web.Request) -> web.Response:
    """The page for browsers; API clients asking for ``/`` still get the 404 envelope."""
    if "text/html" not in request.headers.get("Accept", ""):
        raise ApiError(404, "itemNotFound", f"no resource at {request.path!r}")
    return await serve_page(request)


async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    kind = STATIC_TYPES.get(name)
    if kind is None:
        raise NotFound(f"no dashboard file {name!r}")
    return web.Response(text=static_text(name), content_type=kind, headers=PAGE_HEADERS)


async def get_overview(request: web.Request) -> web.Response:
    return json_response(overview(backend_of(request).state))


async def get_tree(request: web.Request) -> web.Response:
    """A folder (default: the first drive's root) and its first ``limit`` children."""
    state = backend_of(request).state
    as_user = find_user(state, request.query.get("as"))
    item_id = request.query.get("item")
    if item_id:
        item = state.store.item(item_id)
    elif state.store.drives:
        item = state.store.root(next(iter(state.store.drives.values())))
    else:
        raise NotFound("the state has no drive")
    limit = int_param(request, "limit", DEFAULT_CHILDREN, 1, MAX_CHILDREN)
    children = children_of(state, item)
    shown = children[:limit]
    return json_response(
        {
            "stateId": state_id(state),
            "item": ui_item(state, item, as_user),
            "children": [
                ui_item(state, c, as_user, own_only=True, bearing=bearing)
                for c, bearing in zip(
                    shown, bearing_on_children(state, item, shown, as_user), strict=True
                )
            ],
            "inherited": inherited_by_children(state, item),
            "total": len(children),
            "limit": limit,
        }
    )


async def get_access(request: web.Request) -> web.Response:
    state = backend_of(request).state
    user = find_user(state, request.query.get("user"))
    if user is None:
        raise InvalidRequest("user is required (an e-mail or id)")
    return json_response(user_access(state, user))


async def get_journal(request: web.Request) -> web.Response:
    state = backend_of(request).state
    after = int_param(request, "after", 0, 0, 2**62)
    entries = [e.to_dict() for e in state.journal.entries if e.id > after]
    last = state.journal.entries[-1].id if state.journal.entries else after
    return json_response({"stateId": state_id(state), "value": entries, "lastId": last})


# -- the route table: the page, its files, its JSON ------------------------------------------------
ROUTES = (
    Route("GET", "/", home, "the dashboard, for a browser (API clients get a 404)"),
    Route("GET", "/_mockdrive/ui", serve_page, "the dashboard"),
    Route("GET", "/_mockdrive/ui/", serve_page, "the dashboard"),
    Route("GET", "/_mockdrive/ui/{name}", static_file, "the dashboard's script and style sheet"),
    Route("GET", "/_mockdrive/dashboard/overview", get_overview,
          "state id, drives, users, groups and counts"),
    Route("GET", "/_mockdrive/dashboard/tree", get_tree,
          "one folder and its children with their permissions (?item=ID&limit=N&as=USER)"),
    Route("GET", "/_mockdrive/dashboard/access", get_access,
          "what a user can see and do (?user=USER)"),
    Route("GET", "/_mockdrive/dashboard/journal", get_journal,
          "journal entries newer than ?after=ID"),
)  # fmt: skip
