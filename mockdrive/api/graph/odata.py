"""OData query options that change answers: ``$select``, ``$expand``, ``$orderby``, ``$filter``
(refused), ``$skipToken``/``$skiptoken``; and ``@odata.context``.

Costs: ``$select`` and ``$expand`` are O(page). ``$orderby=name`` pages through a sorted index
of the folder's names, built once per change of the folder (O(n log n)) and then O(log n + page)
a page; ``$orderby`` on ``size`` or ``lastModifiedDateTime`` sorts the folder's children on every
page (O(n log n) for a folder of n children).
"""

from __future__ import annotations

import weakref
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from aiohttp import web

from ...model.errors import InvalidRequest
from ...model.identity import User
from ...model.permissions import highest_role, owns_drive, require_role, roles_of
from ...model.ranges import LARGEST_OFFSET, whole_number_text
from ...model.state import State
from ...model.tree import DriveStore, Item
from ...model.view import child_roles, visible_children
from ..errors import ApiError
from .gaps import not_implemented

ORDERABLE = {"name": "name", "size": "size", "lastmodifieddatetime": "lastModifiedDateTime"}
EXPANDABLE = ("children", "permissions", "thumbnails", "versions")
UNSERVED_EXPANSIONS = ("activities", "analytics", "listItem", "retentionLabel", "subscriptions",
                       "workbook")  # fmt: skip
INLINE_CHILDREN = 200
# Other driveItem properties (for telling a property mockdrive cannot order by from a typo).
DRIVE_ITEM_PROPERTIES = frozenset(
    ("createdDateTime", "createdBy", "cTag", "description", "eTag", "file", "fileSystemInfo",
     "folder", "id", "lastModifiedBy", "parentReference", "webUrl", "shared")
)  # fmt: skip  # children expanded inline; more are linked with children@odata.nextLink


@dataclass(frozen=True, slots=True)
class Options:
    select: frozenset[str] | None = None
    expand: dict[str, Options] = field(default_factory=dict)
    orderby: tuple[str, bool] | None = None  # (property, descending)
    top: int | None = None


def parse_options(query: Mapping[str, str]) -> Options:
    """The query options of a driveItem request, validated."""
    if query.get("$filter") is not None:
        raise ApiError(
            501,
            "notSupported",
            f"$filter is not supported by mockdrive (cannot evaluate {query['$filter']!r})",
        )
    return Options(
        select=parse_select(query.get("$select")),
        expand=_expand(query.get("$expand")),
        orderby=_orderby(query.get("$orderby")),
    )


def skip_token(query: Mapping[str, str]) -> str | None:
    """``$skiptoken`` as mockdrive's links write it, or ``$skipToken`` as the docs spell it."""
    token = query.get("$skiptoken")
    return token if token is not None else query.get("$skipToken")


def parse_select(raw: str | None) -> frozenset[str] | None:
    if raw is None:
        return None
    names = [name.strip() for name in raw.split(",")]
    if not all(names):
        raise InvalidRequest("$select must be a comma-separated list of property names")
    return frozenset(names)


def _split_top_level(raw: str, separator: str) -> list[str]:
    """Split on ``separator`` outside parentheses."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(raw):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise InvalidRequest(f"unbalanced parentheses in {raw!r}")
        elif char == separator and depth == 0:
            parts.append(raw[start:index])
            start = index + 1
    if depth:
        raise InvalidRequest(f"unbalanced parentheses in {raw!r}")
    parts.append(raw[start:])
    return [part.strip() for part in parts]


def _expand(raw: str | None) -> dict[str, Options]:
    if raw is None:
        return {}
    expanded: dict[str, Options] = {}
    for part in _split_top_level(raw, ","):
        name, paren, inner = part.partition("(")
        name = name.strip()
        if name == "*":
            raise not_implemented("$expand=*")
        if name in UNSERVED_EXPANSIONS:
            raise not_implemented(f"$expand={name}")
        if name not in EXPANDABLE:
            raise InvalidRequest(
                f"Could not find a property named '{name}' on type 'microsoft.graph.driveItem'."
            )
        nested: dict[str, str] = {}
        if paren:
            if not inner.endswith(")"):
                raise InvalidRequest(f"$expand={part!r} is malformed")
            for option in _split_top_level(inner[:-1], ";"):
                key, equals, value = option.partition("=")
                if not equals or key not in ("$select", "$top"):
                    raise not_implemented(f"the nested option {option!r} in $expand")
                nested[key] = value
        top = None
        if "$top" in nested:
            top = whole_number_text(nested["$top"], "$top in $expand", 1, INLINE_CHILDREN)
        expanded[name] = Options(select=parse_select(nested.get("$select")), top=top)
    return expanded


def _orderby(raw: str | None) -> tuple[str, bool] | None:
    if raw is None:
        return None
    clauses = _split_top_level(raw, ",")
    if len(clauses) > 1:
        raise not_implemented("$orderby on more than one property")
    words = clauses[0].split()
    if not words or len(words) > 2:
        raise InvalidRequest(f"$orderby={raw!r} is malformed")
    prop = ORDERABLE.get(words[0].casefold())
    if prop is None and words[0] in DRIVE_ITEM_PROPERTIES:
        raise not_implemented(f"$orderby={words[0]} (name, size and lastModifiedDateTime only)")
    if prop is None:
        raise InvalidRequest(
            f"Could not find a property named '{words[0]}' on type 'microsoft.graph.driveItem'."
        )
    direction = words[1].lower() if len(words) == 2 else "asc"
    if direction not in ("asc", "desc"):
        raise InvalidRequest(f"$orderby direction must be asc or desc, not {words[1]!r}")
    return prop, direction == "desc"


def shape(
    data: dict[str, Any], select: frozenset[str] | None, also: Collection[str] = ()
) -> dict[str, Any]:
    """Only the selected properties, plus ``id``, OData annotations and the relationships
    expanded (``also``, with their ``…@odata.nextLink``)."""
    if select is None:
        return data
    return {
        k: v
        for k, v in data.items()
        if k in select or k == "id" or k.startswith("@odata.") or k.split("@")[0] in also
    }


def context_url(request: web.Request, fragment: str) -> str:
    """``@odata.context``: ``{base}/v1.0/$metadata#{fragment}`` on the host that was called."""
    version = "/beta" if request.path.startswith("/beta") else "/v1.0"
    return f"{request.scheme}://{request.host}{version}/$metadata#{fragment}"


def item_context(request: web.Request, item: Item, suffix: str = "") -> str:
    """The context of an item (``suffix`` empty) or of one of its collections."""
    if not suffix:
        return context_url(request, f"drives('{item.drive_id}')/items/$entity")
    return context_url(request, f"drives('{item.drive_id}')/items('{item.id}')/{suffix}")


def children_seen(store: DriveStore, caller: User, folder: Item) -> Iterator[Item]:
    """The folder's children in the caller's view (``model/view.py``); none if the caller
    cannot see the folder."""
    roles = roles_of(store, caller, folder)
    if not roles:
        return iter(())
    return (child for child, _ in visible_children(store, caller, folder, roles))


def _seen_filter(store: DriveStore, caller: User, folder: Item):
    """A test of one child of ``folder`` against the caller's view (for listings that order
    the children first): O(1) for a child that inherits and holds nothing."""
    roles = roles_of(store, caller, folder)
    owner = owns_drive(store, caller, folder)
    return lambda child: bool(roles) and bool(child_roles(caller, child, roles, owner))


# -- ordered listing ---------------------------------------------------------------------------
_NAME_INDEXES: weakref.WeakKeyDictionary[State, OrderedDict[str, tuple[int, list[str]]]]
_NAME_INDEXES = weakref.WeakKeyDictionary()
_INDEXES_PER_STATE = 64


def name_index(state: State, folder: Item) -> list[str]:
    """The folder's case-folded child names, sorted; rebuilt only when the folder changed
    (every change to a folder's children bumps its version)."""
    cache = _NAME_INDEXES.setdefault(state, OrderedDict())
    entry = cache.get(folder.id)
    if entry is not None and entry[0] == folder.version:
        cache.move_to_end(folder.id)
        return entry[1]
    keys = sorted(folder.children or ())
    cache[folder.id] = (folder.version, keys)
    while len(cache) > _INDEXES_PER_STATE:
        cache.popitem(last=False)
    return keys


def ordered_page(
    state: State,
    caller: User,
    folder: Item,
    orderby: tuple[str, bool],
    top: int,
    token: str | None,
) -> tuple[list[Item], str | None]:
    """One page of the folder's visible children in ``orderby`` order and the next token."""
    store = state.store
    prop, descending = orderby
    if prop == "name":
        keys = name_index(state, folder)
        if token is None:
            start = len(keys) - 1 if descending else 0
        elif not token.startswith("n:"):
            raise InvalidRequest("the $skiptoken does not belong to this listing")
        elif descending:
            start = bisect_left(keys, token[2:]) - 1
        else:
            start = bisect_right(keys, token[2:])
        step = -1 if descending else 1
        indexes = range(start, -1, -1) if descending else range(start, len(keys), step)
        children = folder.children or {}
        candidates = (store.items[children[keys[i]]] for i in indexes)
        seen = _seen_filter(store, caller, folder)
        page = list(islice(filter(seen, candidates), top + 1))
        more = len(page) > top
        page = page[:top]
        return page, ("n:" + page[-1].name.casefold()) if more and page else None
    if token is not None and not token.startswith("o:"):
        raise InvalidRequest("the $skiptoken does not belong to this listing")
    offset = 0 if token is None else whole_number_text(token[2:], "$skiptoken", 0, LARGEST_OFFSET)
    if prop == "size":
        ordered = sorted(store.iter_children(folder), key=lambda c: (c.size, c.name.casefold()),
                         reverse=descending)  # fmt: skip
    else:
        ordered = sorted(store.iter_children(folder),
                         key=lambda c: (c.fs_modified or c.modified, c.name.casefold()),
                         reverse=descending)  # fmt: skip
    page = list(islice(filter(_seen_filter(store, caller, folder), ordered), offset,
                       offset + top + 1))  # fmt: skip
    more = len(page) > top
    return page[:top], f"o:{offset + top}" if more else None


def next_link(request: web.Request, top: int, token: str) -> str:
    query = {k: v for k, v in request.query.items() if k not in ("$skiptoken", "$skipToken")}
    query.update({"$top": str(top), "$skiptoken": token})
    return str(request.url.with_query(query))


# -- expansion ---------------------------------------------------------------------------------
def expand_item(
    request: web.Request,
    state: State,
    caller: User,
    item: Item,
    data: dict[str, Any],
    expand: dict[str, Options],
) -> dict[str, Any]:
    """Add the expanded relationships to a rendered item (O(page) each)."""
    if not expand:  # the usual request: skip the imports below (they cost on every call)
        return data
    from .permissions import list_permissions
    from .render import render_item

    store = state.store
    for name, options in expand.items():
        if name == "children":
            if not item.is_folder:
                continue
            limit = options.top or INLINE_CHILDREN
            page = list(islice(children_seen(store, caller, item), limit + 1))
            path = store.path_of(item)
            data["children"] = [shape(render_item(state, c, path), options.select)
                                for c in page[:limit]]  # fmt: skip
            if len(page) > limit:
                version = "/beta" if request.path.startswith("/beta") else "/v1.0"
                data["children@odata.nextLink"] = (
                    f"{request.scheme}://{request.host}{version}/drives/{item.drive_id}"
                    f"/items/{item.id}/children?$top={limit}&$skiptoken={limit}"
                )
        elif name == "permissions":
            roles = require_role(store, caller, item, "read")
            reader = caller if highest_role(roles) == "read" else None
            data["permissions"] = [shape(p, options.select)
                                   for p in list_permissions(state, item, reader)]  # fmt: skip
        elif name == "thumbnails":
            data["thumbnails"] = []
        elif name == "versions":
            data["versions"] = [shape(v, options.select) for v in versions_of(state, item)]
    return data


def versions_of(state: State, item: Item) -> list[dict[str, Any]]:
    """The versions mockdrive keeps: the current one only."""
    if item.is_folder:
        return []
    from .render import identity

    return [{
        "id": f"{item.content_version}.0",
        "lastModifiedDateTime": item.modified,
        "lastModifiedBy": {"user": identity(state, item.modified_by)},
        "size": item.size,
    }]  # fmt: skip
