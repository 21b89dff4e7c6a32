"""The access oracle: why a user can (or cannot) reach an item, and what changed between two
states.

``access(state, user, item)`` (from :mod:`mockdrive.model.access`) lists every permission that
gives the user a role on the item. ``snapshot(state)`` records who holds which role on every
item; ``diff(a, b)`` turns two snapshots into readable lines such as
``bob@x.example: read → write on /Q3.xlsx (inherited from /Finance)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.access import Access, Grant, access, describe_path, drive_label, outside_caller
from ..model.permissions import ROLE_RANK, Permission, effective_permissions, highest_role
from ..model.state import State

__all__ = [
    "Access",
    "Changes",
    "Grant",
    "Snapshot",
    "access",
    "describe_path",
    "diff",
    "drive_label",
    "outside_caller",
    "snapshot",
]


# -- snapshots and change sets ------------------------------------------------------------------
# path → principal → (highest role, path it is granted on or "" when direct)
SnapshotData = dict[str, dict[str, tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Who holds which role on every item (by path), for golden-file tests and ``diff``."""

    items: SnapshotData

    def diff(self, other: Snapshot) -> Changes:
        return diff(self, other)


class Changes(list):
    """A list of readable change lines; ``str()`` joins them, one per line."""

    def __str__(self) -> str:
        return "\n".join(self) if self else "(no changes)"


def _principal(state: State, permission: Permission) -> str:
    if permission.grantee_id is not None:
        group = state.directory.groups.get(permission.grantee_id)
        if group is not None:
            return f"group {group.display_name}"
        user = state.directory.users.get(permission.grantee_id)
        return user.email if user else permission.grantee_id
    return f"{permission.invitation_email} (invited)"


def _principals(state: State, permission: Permission) -> list[str]:
    """Who a permission names: one principal, or a link and each of its members."""
    link = permission.link
    if link is None:
        return [_principal(state, permission)]
    name = f"{link.scope} {link.type} link {link.token[:6]}"
    members = [
        f"{_principal(state, Permission('', '', [], grantee_id=m))} (via {name})"
        for m in link.member_ids
    ]
    members.extend(f"{e} (invited, via {name})" for e in link.member_emails)
    return [name, *members]


def snapshot(state: State) -> Snapshot:
    """Every item's effective grants, by principal: O(items * depth)."""
    data: SnapshotData = {}
    for drive in state.store.drives.values():
        for item in state.store.iter_subtree(state.store.root(drive)):
            path = describe_path(state, item)
            holders: dict[str, tuple[str, str]] = {}
            for entry in effective_permissions(state.store, item):
                role = highest_role(entry.permission.roles) or ""
                source = describe_path(state, entry.holder) if entry.holder else ""
                for principal in _principals(state, entry.permission):
                    known = holders.get(principal)
                    if known is None or ROLE_RANK.get(role, 0) > ROLE_RANK.get(known[0], 0):
                        holders[principal] = (role, source)
            data[path] = holders
    return Snapshot(data)


def _source(source: str) -> str:
    return f"inherited from {source}" if source else "direct"


def diff(before: Snapshot, after: Snapshot) -> Changes:
    """Readable changes from ``before`` to ``after``, sorted by path then principal."""
    changes = Changes()
    for path in sorted(before.items.keys() | after.items.keys()):
        if path not in after.items:
            changes.append(f"- {path}")
            continue
        if path not in before.items:
            changes.append(f"+ {path}")
        old, new = before.items.get(path, {}), after.items[path]
        for principal in sorted(old.keys() | new.keys()):
            was, now = old.get(principal), new.get(principal)
            if was == now or (path not in before.items and now is not None and now[1]):
                continue  # a new item inheriting what its folder has is not news
            if was is None:
                changes.append(f"{principal}: + {now[0]} on {path} ({_source(now[1])})")
            elif now is None:
                changes.append(f"{principal}: - {was[0]} on {path} (was {_source(was[1])})")
            elif was[0] != now[0]:
                changes.append(f"{principal}: {was[0]} → {now[0]} on {path} ({_source(now[1])})")
            else:
                changes.append(
                    f"{principal}: {now[0]} on {path} now {_source(now[1])} (was {_source(was[1])})"
                )
    return changes
