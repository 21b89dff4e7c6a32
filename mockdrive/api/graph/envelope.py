"""The OData parts of a Graph answer: ``@odata.context``, ``@odata.nextLink`` and ``$select``
applied (O(page))."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from aiohttp import web
from yarl import URL

from ...model.tree import Item
from .paths import normalize_path


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
    """``@odata.context``: ``{base}/v1.0/$metadata#{fragment}`` on the host that was called.
    (The version is read from ``path_safe``, which the router decoded already: it starts as
    ``request.path`` does, as only ``%2F`` and ``%25`` stay encoded in it.)"""
    version = "/beta" if request.rel_url.path_safe.startswith("/beta") else "/v1.0"
    return f"{request.scheme}://{request.host}{version}/$metadata#{fragment}"


def item_context(request: web.Request, item: Item, suffix: str = "") -> str:
    """The context of an item (``suffix`` empty) or of one of its collections."""
    if not suffix:  # (``context_url``, without its call: on every GET item)
        version = "/beta" if request.rel_url.path_safe.startswith("/beta") else "/v1.0"
        entity = f"drives('{item.drive_id}')/items/$entity"
        return f"{request.scheme}://{request.host}{version}/$metadata#{entity}"
    return context_url(request, f"drives('{item.drive_id}')/items('{item.id}')/{suffix}")


def own_url(request: web.Request) -> URL:
    """The request's URL with its path in the one normal form (``normalize_path``): the base
    of the links an answer hands out, whichever form the client sent."""
    raw = request.rel_url.raw_path
    version = "/beta" if raw.startswith("/beta") else "/v1.0"
    normal = version + normalize_path(raw[len(version) :])
    if normal == raw:
        return request.url
    return request.url.with_path(normal, encoded=True).with_query(request.query)


def first_values(query: Mapping[str, str], *dropped: str) -> dict[str, str]:
    """The query's options, each by its first value (as ``query.get`` reads it, and so the
    answer was made), less ``dropped``: what a link to the next page or delta carries."""
    kept: dict[str, str] = {}
    for key, value in query.items():
        if key not in dropped:
            kept.setdefault(key, value)
    return kept


def next_link(request: web.Request, top: int, token: str) -> str:
    """``@odata.nextLink``: the request's own URL with the next page's ``$top`` and token."""
    query = first_values(request.query, "$skiptoken", "$skipToken")
    query.update({"$top": str(top), "$skiptoken": token})
    return str(own_url(request).with_query(query))
