"""Graph/OneDrive URL grammar: drive part, item part (ids or ``root:/path:``), then an action.

The raw path is split on ``/`` and each segment percent-decoded on its own, so a client may
encode a whole ``root:/a/b:`` selector into one segment (as msgraph-sdk does) or send it plain.
Names cannot contain ``/`` or ``:``, so re-joining the decoded segments is unambiguous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote, unquote

from ...model.errors import InvalidRequest
from .gaps import DRIVE_SEGMENTS, bad_segment, function_name, not_implemented

_COLON_FORM = re.compile(r"^(?P<head>[^:]*):(?P<path>[^:]*)(?::(?P<tail>.*))?$")
# a function call's quoted argument (``delta(token='2024-01-01T00:00:00Z')``, ``search(q='a:b')``):
# a ':' in it is text, not the ':' of a path address
_QUOTED_ARGUMENT = re.compile(r"\((?:[A-Za-z]+=)?'(?:[^']|'')*'\)")


@dataclass(frozen=True, slots=True)
class GraphPath:
    drive_kind: str  # "me", "drives", "users", "groups", "sites"
    drive_key: str | None
    item_base: str | None  # None: the drive itself; "root", "special/{name}" or an item id
    item_path: str | None  # path relative to item_base (the text between the colons)
    action: tuple[str, ...]  # e.g. (), ("children",), ("permissions", "ID"), ("invite",)
    # ``/users/{key}/drives/{id}``: the user whose drive ``drive_key`` must be, else None
    user_key: str | None = None
    # ``item_base`` where it is an item id (neither ``root`` nor ``special/…``), else None
    item_id: str | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        base = self.item_base
        by_id = base is not None and base != "root" and not base.startswith("special/")
        object.__setattr__(self, "item_id", base if by_id else None)


def decode_path(raw_path: str) -> str:
    """Percent-decode each ``/`` segment separately (``+`` stays ``+``)."""
    if "%" not in raw_path:
        return raw_path
    try:
        return "/".join(unquote(segment, errors="strict") for segment in raw_path.split("/"))
    except UnicodeDecodeError:
        raise InvalidRequest("the URL path is not valid UTF-8", "invalidPath") from None


# what a canonical path leaves unencoded: RFC 3986's pchar (unreserved, sub-delims, ':' and '@')
_PCHAR = "!$&'()*+,;=:@-._~"
# a function call (``search(q='…')``, ``children('…')``): its argument may hold a '/'
_CALL = re.compile(r"^[A-Za-z.]+\(.*\)$", re.DOTALL)


@lru_cache(maxsize=4096)
def normalize_path(raw_path: str) -> str:
    """The one form of a raw path (after the version) that the routes read, as Graph's gateway
    accepts it: empty and ``.`` segments dropped, each segment percent-decoded, an encoded
    ``/`` (``%2F``) a separator (except inside a function call's argument), and every segment
    re-encoded one way, so ``/drives/b%21x`` is ``/drives/b!x`` and ``root:/.%2Fa:`` is
    ``root:/a:``. ``..`` stays, for the path rules to refuse (nothing climbs above the root).
    """
    if "%" not in raw_path and "//" not in raw_path and "/." not in raw_path:
        return raw_path  # the common form: nothing to change
    pieces: list[str] = []
    for segment in _decoded(raw_path):
        for piece in [segment] if _CALL.match(segment) else segment.split("/"):
            if piece == ".:" and pieces:  # ``root:/a/.:`` is ``root:/a:``, ``root:/.:`` is root
                last = pieces[-1]
                pieces[-1] = last[:-1] if last.endswith(":") else last + ":"
                continue
            if piece not in ("", "."):
                pieces.append(quote(piece, safe=_PCHAR))
    return "/" + "/".join(pieces)


def _decoded(raw_path: str) -> list[str]:
    try:
        return [unquote(segment, errors="strict") for segment in raw_path.split("/")]
    except UnicodeDecodeError:
        raise InvalidRequest("the URL path is not valid UTF-8", "invalidPath") from None


@lru_cache(maxsize=4096)
def parse_raw_path(raw_path: str) -> GraphPath:
    """``parse_graph_path(decode_path(raw_path))``, remembered: clients repeat their paths, and a
    GraphPath is immutable (a refused path raises, and is not remembered)."""
    return parse_graph_path(decode_path(raw_path))


def parse_graph_path(logical: str) -> GraphPath:
    """Parse a decoded path after the version prefix, e.g. ``/me/drive/root:/a:/children``."""
    item_path: str | None = None
    tail: str | None = None
    masked = logical  # as long as logical, the colons of quoted arguments hidden
    if "'" in logical:
        masked = _QUOTED_ARGUMENT.sub(lambda m: "(" + "_" * (len(m[0]) - 2) + ")", logical)
    match = _COLON_FORM.match(masked)
    if match:
        head, item_path = logical[slice(*match.span("head"))], logical[slice(*match.span("path"))]
        tail = None if match["tail"] is None else logical[slice(*match.span("tail"))]
        if item_path and not item_path.startswith("/"):
            raise InvalidRequest("a path after ':' must start with '/'", "invalidPath")
    else:
        head = logical
    segments = [s for s in head.split("/") if s]
    drive_kind, drive_key, rest, user_key = _drive_part(segments)
    if rest:  # ``/drive/microsoft.graph.search(q='…')``
        rest[0] = _unqualified(rest[0])

    item_base: str | None = None
    if rest:
        if rest[0] == "root":
            item_base, rest = "root", rest[1:]
        elif rest[0] == "items" and len(rest) >= 2:
            item_base, rest = rest[1], rest[2:]
        elif rest[0] == "special" and len(rest) >= 2:
            item_base, rest = "special/" + rest[1].lower(), rest[2:]
        elif function_name(rest[0]) == "search":  # /drive/search(q=…): the root's search
            item_base = "root"
        elif rest[0] in DRIVE_SEGMENTS or rest[0] == "items":
            raise not_implemented(f"the drive's {rest[0]!r} collection")
        else:
            raise bad_segment(rest[0])
    if match:
        if item_base is None or rest:
            raise InvalidRequest("a ':' path must follow 'root' or 'items/{id}'", "invalidPath")
        action = tuple(s for s in (tail or "").split("/") if s)
    else:
        action = tuple(rest)
    if item_base is None and action:
        raise bad_segment(action[0])
    action = tuple(_unqualified(segment) for segment in action)
    action, item_path = _fold_child_keys(action, item_path)
    return GraphPath(drive_kind, drive_key, item_base, item_path, action, user_key)


_NAMESPACE = "microsoft.graph."


def _unqualified(segment: str) -> str:
    """A bound function or action named with its namespace, as some SDKs send it
    (``microsoft.graph.delta()``, ``microsoft.graph.search(q='x')``), is the same segment
    without it, as OData allows."""
    return segment[len(_NAMESPACE) :] if segment.startswith(_NAMESPACE) else segment


_CHILD_KEY = re.compile(r"^children\('((?:[^']|'')*)'\)$")


def _fold_child_keys(
    action: tuple[str, ...], item_path: str | None
) -> tuple[tuple[str, ...], str | None]:
    """The OData key form ``children('a')/children('b')/content`` → path ``/a/b``, ``content``."""
    names: list[str] = []
    while action and (match := _CHILD_KEY.match(action[0])):
        names.append(match[1].replace("''", "'"))
        action = action[1:]
    if names:
        item_path = (item_path or "").rstrip("/") + "/" + "/".join(names)
    return action, item_path


def _drive_part(segments: list[str]) -> tuple[str, str | None, list[str], str | None]:
    """(kind, key, the segments after the drive, the user of ``/users/{key}/drives/{id}``)."""
    match segments:
        case ["me", "drive", *rest] | ["drive", *rest] | ["drives", "me", *rest]:
            return "me", None, rest, None  # /drives/me: what the OneDrive SDK sends
        case ["me", "drives", key, *rest] | ["drives", key, *rest]:
            return "drives", key, rest, None
        case ["users", user_key, "drives", key, *rest]:  # python-o365's form for a user's drive
            return "drives", key, rest, user_key
        case [("users" | "groups" | "sites") as kind, key, "drive", *rest]:
            return kind, key, rest, None
    shown = "/" + "/".join(segments[:3])
    raise InvalidRequest(f"no drive is addressed by {shown!r}")
