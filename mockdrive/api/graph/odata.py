"""OData query options that change answers, parsed and validated: ``$select``, ``$expand``,
``$orderby``, ``$filter`` (refused), ``$skipToken``/``$skiptoken``.

Parsing only. What an answer carries (``@odata.context``, ``@odata.nextLink``, ``$select``
applied) is in ``envelope``; ``$expand`` is served by ``relations``; ``$orderby`` pages by
``ordering``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from multidict import MultiDict

from ...model.errors import InvalidRequest
from ...model.ranges import whole_number_text
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
     "folder", "id", "lastModifiedBy", "parentReference", "webUrl", "shared", "specialFolder")
)  # fmt: skip  # children expanded inline; more are linked with children@odata.nextLink


@dataclass(frozen=True, slots=True)
class Options:
    select: frozenset[str] | None = None
    expand: dict[str, Options] = field(default_factory=dict)
    orderby: tuple[str, bool] | None = None  # (property, descending)
    top: int | None = None


NO_OPTIONS = Options()  # what a request without a query string asks for (never changed)


def parse_options(query: Mapping[str, str]) -> Options:
    """The query options of a driveItem request, validated."""
    if not query:
        return NO_OPTIONS
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


# The system query options mockdrive reads, as a client may send them without their ``$``
# (the Debian ``onedrive`` client asks ``?select=id,name,…``): the query parameters page says
# the prefix is optional on beta and, on v1.0, for a subset of APIs the drive APIs are in.
BARE_OPTIONS = frozenset(("select", "expand", "top", "orderby", "filter", "skiptoken", "skipToken"))
# each bare name's ``$`` forms (the skip token is read in either case: ``skip_token``)
DOLLAR_FORMS = {name: ("$" + name,) for name in BARE_OPTIONS} | {
    "skiptoken": ("$skiptoken", "$skipToken"),
    "skipToken": ("$skiptoken", "$skipToken"),
}


def with_dollars(query: Mapping[str, str]) -> MultiDict[str] | None:
    """The query with each bare system option spelled with its ``$`` (a bare name the client
    also sent with its ``$`` stays as it is, a custom option); None if it has none."""
    if BARE_OPTIONS.isdisjoint(query):  # one C-level pass over the names
        return None
    spelled: MultiDict[str] = MultiDict()
    for key, value in query.items():
        if key in BARE_OPTIONS and not any(form in query for form in DOLLAR_FORMS[key]):
            key = "$" + key
        spelled.add(key, value)
    return spelled


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
                key = key if key.startswith("$") else "$" + key  # the $ is optional here too
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
