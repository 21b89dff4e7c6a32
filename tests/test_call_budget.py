"""A regression guard for the hot paths that load cannot fool: it counts the Python function
calls the server makes for one request, and fails when a count passes its budget.

Each request goes through the whole application in process (router, ``pipeline``, handler,
JSON), with a state already warmed by the same request, and the count is taken with
``sys.setprofile`` around the server's own work only (building the request object is the
client's side). Counts do not vary with the machine's load, so the budgets are exact: a
change that makes a hot path do more fails here even when no timing would notice.

No ``mock_drive`` fixture and no socket: the tests/url_check.py rule checker (which only
watches the fixture's servers) adds nothing to these counts.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from mockdrive.api import jsonio
from mockdrive.api.aiohttp_internals import inner_request, serve
from mockdrive.api.app import build_app
from mockdrive.backend import Backend
from mockdrive.model.entra import DEFAULT_DELEGATED_SCOPES, TEST_CLIENT_ID, Entra
from mockdrive.model.state import State

# Python function calls per request (frames entered, coroutine and generator resumptions
# included), measured with the code of this commit. A change that raises a budget must say
# why in its commit message; one that lowers a count should lower its budget. aiohttp's own
# calls are counted too (CPython 3.11, aiohttp 3.14 here): a new aiohttp may move them.
BUDGETS = {
    "GET item": 56,
    "GET children, a page of 50": 327,
    "list permissions, depth 10": 123,
    "invite, 2 recipients": 89,
    "$batch of 5 GET item": 634,
    # the same GET with a delegated JWT (verified once per token, then remembered)
    "GET item with a JWT (delegated)": 57,
}
# The counts before the hot paths were reworked (plain json, as installed then):
# GET item 172, children 1,174, permissions 317, invite 240, $batch 1,251. Before one roles
# walk per request (with identity): GET item 139, children 894, permissions 196, invite 218,
# $batch 1,105. Before a page's children were rendered by one ItemRenderer (the walk testing
# an inheriting child without a call): children 871 (476 before the page looked up its state's
# rendered fragments: one call a page, for ~a fifth less CPU). Before download URLs were
# remembered by item (``Downloads.issued``): GET item 121, children 477, $batch 1,014, JWT 126.
# Before the pipeline kept one object on the request (not five keys), wrapped each handler
# (not aiohttp middleware), matched Graph's prefixes without a regular expression and completed
# the request's one Call in place: GET item 120, children 378, permissions 174, invite 216,
# $batch 1,009, JWT GET 125. Before the pipeline was given its backend when registered, Graph's
# dispatch ran as one coroutine (not four nested), a drive-relative path was found without a
# generator and a request's download URLs were looked up before making their signer: GET item 88,
# children 347, permissions 142, invite 186, $batch 833, JWT GET 92.
# (invite: 183 while Graph's entry was still a coroutine around a body-reading handler's.)
# Before Graph's paths were matched ahead of the router's walk, the pipeline asked the clock's
# deadlines by ``len`` and GET item took its ETag from the item (not from the rendered
# eTag): GET item 77, children 339, permissions 138, invite 184, $batch 775, JWT GET 81
# ($batch 776 for one commit: the batch's own path is left to the walk after the look-up).
# Before GET item encoded an item's fields once while their inputs are equal (``encode_item``),
# Graph's dispatch skipped the scope checks of a static token without a call and addressing
# found an item without ``resolve_item``: GET item 75, children 338, permissions 137, invite
# 183, $batch 765, JWT GET 79.
# Before Graph's entry served a drive's path without ``dispatch``'s call, the query string's
# emptiness was read from the raw query (``query_string``'s first read is a call) and GET item
# keyed its encoded fields on its people's fields (not their rendered identities): GET item 70,
# children 335, permissions 134, invite 180, $batch 740, JWT GET 76.
# Before Graph's dispatch asked ``authorize.enter`` only of an app-only token and
# ``check_drive`` read a GET as a read without ``operation_of``: JWT GET 73.
# Before the pipeline took a path without a ``%`` as its own decoding (``request.path``: two
# calls and a decoding off a socket, one here) and the OData context read the version from the
# router's ``path_safe``: GET item 67, children 333, permissions 132, $batch 724, JWT GET 71.
# Before a read by the drive's owner was served without walking their roles (walked only
# where a handler asks for them): GET item 65, $batch 684, JWT GET 67.
# Before the pipeline was bound to its handler and backend positionally, a drive addressed
# as ``/me/drive`` and an item by id were found without ``default_drive`` and ``resolve_base``
# and GET item keyed its fields on whether the drive is the viewer's (not on the rendered
# prefix): GET item 60, children 331, permissions 131, $batch 659, JWT GET 62.
# Before invite's permissions were encoded once and kept (``render.encode_permission``), a body
# kept as its bytes was journaled without a second request key, Content-Length was read once,
# ``roles_of`` tested grants without ``Permission.holds`` and a short body was read by orjson:
# invite 113, $batch 684.
# Before the dispatch left the roles of a write by the drive's owner unwalked (an invite takes
# ``{"owner"}`` for them: all that sharing asks of an owner): invite 96.
# Before the pipeline gathered the journaled headers without a comprehension's frame and
# passed only ASCII ones without ``check_text`` (which passes them): invite 92, $batch 637.

# the requests' protocol and writer are aiohttp's test mocks: their calls are no server work
MOCKED_TRANSPORT = "unittest/mock.py"
TOKEN = "budget-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Host": "127.0.0.1:8080"}
INVITE = {
    "recipients": [{"email": "carol@contoso.example"}, {"email": "dave@contoso.example"}],
    "roles": ["read"],
    "sendInvitation": False,
}


@functools.cache
def key_holder() -> Entra:
    """Entra with the RSA key every arrangement signs its delegated JWT with, made once per
    process (a key takes ~60 ms to generate; checking a token costs the same with any key)."""
    entra = State(seed=1).entra
    _ = entra.key  # made on first use, then kept
    return entra


def arranged() -> tuple[State, dict[str, str]]:
    """An owner, a folder of 50 files, a file 10 deep with 5 grants above it, an invite target."""
    state = State(seed=1)
    state.entra.keep_key(key_holder())
    owner = state.add_user("Ada Owner", "ada@contoso.example", token=TOKEN)
    users = [state.add_user(f"User {n}", f"user{n}@contoso.example") for n in range(10)]
    for name in ("Carol", "Dave"):
        state.add_user(name, f"{name.lower()}@contoso.example")
    drive = state.add_drive(owner)
    files = [
        state.make_path(drive, f"/Fifty/Doc {n:02}.docx", is_folder=False, content=b"x" * 100)
        for n in range(50)
    ]
    folder = state.store.resolve(state.store.root(drive), "/Fifty")
    deep_path = "/" + "/".join(f"Level {n}" for n in range(1, 10)) + "/Deep.docx"
    deep = state.make_path(drive, deep_path, is_folder=False, content=b"deep")
    for index, ancestor in enumerate(state.store.ancestors(deep)):
        if index % 2 == 0 and ancestor.parent_id is not None:
            state.grant(ancestor, users[index], ["read" if index % 4 else "write"])
    target = state.make_path(drive, "/Shared/Report.docx", is_folder=False, content=b"r")
    steps = [
        {"id": str(n), "method": "GET", "url": f"/me/drive/items/{files[n].id}"} for n in range(5)
    ]
    # a delegated JWT for the owner, as the fixture's ``token_for`` issues it
    app = state.entra.app(TEST_CLIENT_ID)
    jwt = state.entra.access_token(
        state.clock.moment(), app, user=owner, scopes=DEFAULT_DELEGATED_SCOPES
    )
    # pinned: a clock following the wall would move the download URLs' expiry (and so sign
    # new tokens) whenever a second passes between two counts
    state.clock.pin()
    return state, {
        "item": f"/v1.0/me/drive/items/{files[7].id}",
        "children": f"/v1.0/me/drive/items/{folder.id}/children",
        "permissions": f"/v1.0/me/drive/items/{deep.id}/permissions",
        "invite": f"/v1.0/me/drive/items/{target.id}/invite",
        "batch_body": json.dumps({"requests": steps}),
        "jwt": jwt,
    }


def request_maker(app: web.Application, name: str, paths: dict[str, str]) -> Callable[[], Any]:
    def get(path: str, headers: dict[str, str] = HEADERS) -> Callable[[], web.Request]:
        return lambda: make_mocked_request("GET", path, headers=headers, app=app)

    def post(path: str, body: bytes) -> Callable[[], web.Request]:
        headers = {**HEADERS, "Content-Type": "application/json"}

        def make() -> web.Request:
            outer = make_mocked_request("POST", path, headers=HEADERS, app=app)
            return inner_request(outer, "POST", path, headers, body)

        return make

    return {
        "GET item": get(paths["item"]),
        "GET children, a page of 50": get(paths["children"]),
        "list permissions, depth 10": get(paths["permissions"]),
        "invite, 2 recipients": post(paths["invite"], json.dumps(INVITE).encode()),
        "$batch of 5 GET item": post("/v1.0/$batch", paths["batch_body"].encode()),
        "GET item with a JWT (delegated)": get(
            paths["item"], {**HEADERS, "Authorization": f"Bearer {paths['jwt']}"}
        ),
    }[name]


async def counted(app: web.Application, request: web.Request) -> Counter[str]:
    """Python calls (by function) while the application serves ``request``."""
    calls: Counter[str] = Counter()

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            if code.co_filename.endswith(MOCKED_TRANSPORT):
                return
            calls[f"{code.co_filename.rpartition('/')[2]}:{code.co_name}"] += 1

    # A collection during the count would run the finalizers of whatever earlier tests left
    # (transports, sessions): calls that are not this request's. Collect first, then pause.
    gc.collect()
    gc.disable()
    sys.setprofile(profile)
    try:
        response = await serve(app, request)
    finally:
        sys.setprofile(None)
        gc.enable()
    assert response.status == 200, (response.status, response.text)
    return calls


def counts_of(name: str, rounds: int = 3) -> list[Counter[str]]:
    """The calls of ``name``'s request, ``rounds`` times, after two warm-up requests."""
    state, paths = arranged()
    app = build_app(Backend(state))
    app.freeze()
    make = request_maker(app, name, paths)

    async def run() -> list[Counter[str]]:
        for _ in range(2):  # first uses fill the caches (parsed paths, quoted names, hashes)
            await counted(app, make())
        return [await counted(app, make()) for _ in range(rounds)]

    # What survives a collection now is set aside (``gc.freeze``) while counting, so each
    # count's collection walks only what was made since, not every object of the process.
    gc.collect()
    gc.freeze()
    try:
        return asyncio.run(run())
    finally:
        gc.unfreeze()


def test_orjson_is_installed() -> None:
    """The budgets count the answers encoded by orjson (a dependency): the plain ``json``
    fallback makes a few more calls per answer."""
    assert jsonio._orjson is not None, "orjson is a dependency: pip install -e ."


@pytest.mark.parametrize("name", list(BUDGETS))
def test_call_budget(name: str) -> None:
    runs = counts_of(name)
    totals = [sum(run.values()) for run in runs]
    assert len(set(totals)) == 1, f"{name}: the count moved between identical requests: {totals}"
    total, budget = totals[0], BUDGETS[name]
    top = ", ".join(f"{f} {n}" for f, n in runs[0].most_common(12))
    print(f"{name}: {total} calls (budget {budget}); most called: {top}")
    assert total <= budget, (
        f"{name}: {total} Python calls, over its budget of {budget}. Most called: {top}. "
        "If the extra work is meant, raise BUDGETS and say why in the commit."
    )


def served_twice(name: str) -> tuple[State, dict[str, str]]:
    """A fresh arrangement that served two ``name`` requests in process, and its paths."""
    state, paths = arranged()
    app = build_app(Backend(state))
    app.freeze()
    make = request_maker(app, name, paths)

    async def run() -> None:
        for _ in range(2):
            await serve(app, make())

    asyncio.run(run())
    return state, paths


def test_a_journaled_request_keeps_no_container_it_does_not_need() -> None:
    """Each journal entry lives for the next thousand requests, long enough for the garbage
    collector to move it to its oldest generation, where every container it holds is walked by
    each full collection: a GET item's entry holds no dict for a query or headers that were not
    sent. (Its faults stay a list of their own, empty, as ``entry.faults == []`` has always
    held for users of ``mock_drive.requests``.)"""
    state, paths = served_twice("GET item")
    entry = state.journal.entries[-1]
    assert entry.path == paths["item"]
    held = [gc.is_tracked(value) for value in (entry.query, entry.headers)]
    assert held == [False, False] and entry.faults == []
    assert entry.body is None and entry.batch is None


def test_an_invites_journaled_body_is_kept_as_bytes_until_read() -> None:
    """An invite's entry keeps its body as the bytes that arrived (the handler only reads
    it), not as dicts and lists for every collection to walk while the entry lives; read, it
    is the body that was sent, in every form the journal gives it."""
    state, paths = served_twice("invite, 2 recipients")
    entry = state.journal.entries[-1]
    assert entry.path == paths["invite"] and entry.status == 200
    held = [r for r in gc.get_referents(entry) if gc.is_tracked(r) and not isinstance(r, type)]
    assert held == [entry.faults], held  # the body, query and headers are none of them
    sent = json.loads(json.dumps(INVITE))
    assert entry.body == sent and entry.body is entry.body  # parsed once, then kept
    assert entry.to_dict()["body"] == sent and entry.body_bytes == len(json.dumps(INVITE))
    assert state.journal.find("POST", paths["invite"], {"roles": INVITE["roles"]}) != []
