"""An invite's journaled body, kept as the bytes that arrived while it is small enough to be
journaled whole: a larger one is journaled truncated at once, so its parse is not repeated."""

from __future__ import annotations

import asyncio
import copy
import gc
import json

from aiohttp.test_utils import make_mocked_request
from test_call_budget import HEADERS, arranged, counted, request_maker

from mockdrive.api.aiohttp_internals import inner_request, serve
from mockdrive.api.app import build_app
from mockdrive.backend import Backend
from mockdrive.model.journal import MAX_BODY_BYTES, TRUNCATED_KEY


def invite_calls(body: dict) -> tuple[dict, int]:
    """The journal's entry for an invite of ``body`` and how often the journal parsed it."""
    state, paths = arranged()
    app = build_app(Backend(state))
    app.freeze()
    raw = json.dumps(body).encode()
    headers = {**HEADERS, "Content-Type": "application/json"}
    path = paths["invite"]

    async def run() -> int:
        outer = make_mocked_request("POST", path, headers=headers, app=app)
        calls = await counted(app, inner_request(outer, "POST", path, headers, raw))
        return calls["journal.py:parse_arrived"]

    parses = asyncio.run(run())
    return state.journal.entries[-1].to_dict(), parses


def test_a_large_invite_body_is_parsed_once_for_the_journal():
    body = {
        "recipients": [{"email": "carol@contoso.example"}],
        "roles": ["read"],
        "@odata.note": "x" * (MAX_BODY_BYTES + 1),  # (an annotation the handler ignores)
    }
    entry, parses = invite_calls(body)
    assert parses == 0  # the handler's parse is the one truncated
    kept = entry["body"][TRUNCATED_KEY]
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    assert kept == {"bytes": len(json.dumps(body)), "start": text[:MAX_BODY_BYTES]}


def test_a_small_invite_body_is_journaled_as_sent():
    body = {"recipients": [{"email": "carol@contoso.example"}], "roles": ["read"], "n": -0.0}
    entry, _ = invite_calls(body)
    assert entry["body"] == body and str(entry["body"]["n"]) == "-0.0"


def test_a_copy_of_the_state_leaves_an_invites_journaled_bytes_unparsed():
    state, paths = arranged()
    app = build_app(Backend(state))
    app.freeze()
    make = request_maker(app, "invite, 2 recipients", paths)

    async def run() -> None:
        await serve(app, make())

    asyncio.run(run())
    entry = state.journal.entries[-1]

    def held(entry: object) -> list[object]:
        return [r for r in gc.get_referents(entry) if gc.is_tracked(r) and not isinstance(r, type)]

    assert held(entry) == [entry.faults]
    copied = copy.deepcopy(state).journal.entries[-1]
    assert held(entry) == [entry.faults] and held(copied) == [copied.faults]
    assert copied.body == entry.body
