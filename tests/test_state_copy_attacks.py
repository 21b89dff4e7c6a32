"""A state's copy, attacked: a state that has used every part (journal, fault rules mid-way
through their ``times``, a throttle's window, latency, the outbox, an upload session half sent,
a copy monitor, Entra tokens, the policy, delta tokens, expiring grants and links, the id
generator mid-stream) copies into one that shares no mutable object with it, reaches it through
no weak reference, closure or bound method, and goes its own way; a subclass of the state or of
one of its parts keeps what it adds."""

from __future__ import annotations

import copy
import json
import re
import threading
import types
import weakref
from collections import deque
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from url_check import state_digest

from mockdrive.model import delta, onehub, sharing
from mockdrive.model.journal import Journal
from mockdrive.model.outbox import Outbox
from mockdrive.model.policy import SharingPolicy
from mockdrive.model.state import State
from mockdrive.model.uploads import UploadSessions
from mockdrive.scenario import export_scenario
from mockdrive.scenario.defaults import default_state

# what a copy may share with its original: immutable, or (a key) an opaque immutable handle
IMMUTABLE = (str, int, float, bool, bytes, type(None), complex, type, range, re.Pattern,
             datetime, date, timedelta, timezone, types.BuiltinFunctionType,
             types.ModuleType)  # fmt: skip
IMMUTABLE_NAMES = {"RSAPrivateKey", "RSAPublicKey"}  # cryptography's keys: copied as themselves


def _inside(value: Any) -> list[Any]:
    """What ``value`` holds, including what a weak reference, a closure, a function's defaults
    and a bound method reach."""
    if isinstance(value, weakref.ReferenceType):
        target = value()
        return [] if target is None else [target]
    if isinstance(value, types.MethodType):
        return [value.__self__, value.__func__]
    if isinstance(value, types.FunctionType):
        held = [cell.cell_contents for cell in value.__closure__ or () if _filled(cell)]
        return held + list(value.__defaults__ or ()) + list((value.__kwdefaults__ or {}).values())
    found: list[Any] = []
    if isinstance(value, dict):
        found += [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple, set, frozenset, deque)):
        found += list(value)
    for klass in type(value).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{klass.__name__.lstrip('_')}{name}"
            if name not in ("__dict__", "__weakref__") and hasattr(value, name):
                found.append(getattr(value, name))
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict):
        found += list(attributes.values())
    return found


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


def reachable(root: Any) -> dict[int, tuple[Any, str]]:
    """Every object reachable from ``root`` that could change, by id, with a path to it."""
    found: dict[int, tuple[Any, str]] = {}
    stack: list[tuple[Any, str]] = [(root, type(root).__name__)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, IMMUTABLE) or type(value).__name__ in IMMUTABLE_NAMES:
            continue
        if id(value) in found:
            continue
        found[id(value)] = (value, path)
        stack.extend((inner, f"{path}>{type(inner).__name__}") for inner in _inside(value))
    return found


def shared_between(original: Any, copied: Any) -> list[str]:
    """The paths (in the copy) of the objects that can change and both reach: a tuple or a
    function with nothing mutable inside is not one (what it holds is looked at on its own)."""
    before = reachable(original)
    both = []
    for key, (value, path) in reachable(copied).items():
        if key not in before or isinstance(value, (tuple, frozenset)):
            continue
        if isinstance(value, types.FunctionType) and not value.__closure__:
            continue
        both.append(f"{path}: {value!r:.80}")
    return both


def used_state(mock_drive: Any) -> State:
    """The fixture's state after it has used each of its parts."""
    graph, url = mock_drive.session, mock_drive.graph_url
    mock_drive.add_folder("/F")
    mock_drive.add_file("/F/a.txt", b"alpha")
    token = mock_drive.token_for(mock_drive.owner, scopes=["Files.ReadWrite.All"])
    signed = {"Authorization": f"Bearer {token}"}
    assert graph.get(url + "/me/drive/root/children", headers=signed).ok  # a token remembered
    faults = mock_drive.faults
    faults.add(method="GET", path="/v1.0/me/drive/root:/F", effect="error", status=503, times=3)
    faults.add(method="GET", path="/v1.0/me/drive/root:/F/a.txt", effect="latency",
               latencyMs=1, jitterMs=1)  # fmt: skip
    faults.add(method="GET", path="/v1.0/me/drive/root/children", effect="throttle", times=2)
    for path in ("/me/drive/root:/F", "/me/drive/root:/F/a.txt", "/me/drive/root/children"):
        graph.get(url + path)
    invite = {"recipients": [{"email": "x@outside.example"}], "roles": ["read"],
              "requireSignIn": True, "sendInvitation": True}  # fmt: skip
    assert graph.post(url + "/me/drive/root:/F:/invite", json=invite).ok  # outbox, invitation
    expiring = {**invite, "recipients": [{"email": "y@outside.example"}],
                "expirationDateTime": "2099-01-01T00:00:00Z"}  # fmt: skip
    assert graph.post(url + "/me/drive/root:/F:/invite", json=expiring).ok
    link = {"type": "view", "scope": "anonymous", "expirationDateTime": "2099-01-01T00:00:00Z"}
    assert graph.post(url + "/me/drive/root:/F/a.txt:/createLink", json=link).ok
    session = graph.post(url + "/me/drive/root:/F/big.bin:/createUploadSession", json={}).json()
    piece = 327_680  # the fragment unit: a first part of two
    half = requests.put(session["uploadUrl"], data=b"x" * piece,
                        headers={"Content-Range": f"bytes 0-{piece - 1}/{2 * piece}"},
                        timeout=10)  # fmt: skip
    assert half.status_code == 202, half.text
    assert graph.post(url + "/me/drive/root:/F/a.txt:/copy", json={"name": "b.txt"}).ok
    first = graph.get(url + "/me/drive/root/delta").json()
    assert graph.get(first["@odata.deltaLink"]).ok
    mock_drive.set_policy(maxRecipients=5, blockedDomains=["blocked.example"])
    folder = mock_drive.item("/F")
    mock_drive.server.call(
        lambda: onehub.invite_emails(mock_drive.state, mock_drive.owner, folder,
                                     "dan@outside.example", "Viewer", sharing.RequestContext())
    )  # fmt: skip
    mock_drive.clock.advance(days=1)
    mock_drive.server.call(lambda: [mock_drive.state.ids.guid() for _ in range(3)])
    return mock_drive.state


def exported(mock_drive: Any, state: State) -> str:
    return mock_drive.server.call(lambda: json.dumps(export_scenario(state), sort_keys=True))


def journal_of(mock_drive: Any, state: State) -> list[dict]:
    return mock_drive.server.call(lambda: state.journal.to_list(timing=False))


def test_a_used_state_copies_into_one_that_shares_nothing_that_can_change(mock_drive):
    state = used_state(mock_drive)
    copied = mock_drive.server.call(lambda: copy.deepcopy(state))
    assert exported(mock_drive, copied) == exported(mock_drive, state)
    assert mock_drive.server.call(lambda: shared_between(state, copied)) == []
    again = mock_drive.server.call(lambda: copy.deepcopy(copied))  # a copy of a copy
    assert mock_drive.server.call(lambda: shared_between(copied, again)) == []
    assert mock_drive.server.call(lambda: shared_between(state, again)) == []


def test_what_a_served_copy_does_leaves_the_original(mock_drive):
    """The copy served over HTTP (faults firing, the upload finished, an invitation, the clock
    moved past the expirations) and changed through the model: the original exports, journals
    and hands out ids as it did."""
    state = used_state(mock_drive)
    before, journal = exported(mock_drive, state), journal_of(mock_drive, state)
    copied = mock_drive.server.call(lambda: copy.deepcopy(state))
    mock_drive.server.reset(copied)
    graph, url = mock_drive.session, mock_drive.graph_url
    for path in ("/me/drive/root:/F", "/me/drive/root:/F/a.txt", "/me/drive/root/children") * 3:
        graph.get(url + path)
    session = graph.post(url + "/me/drive/root:/F/c.bin:/createUploadSession", json={}).json()
    requests.put(session["uploadUrl"], data=b"y" * 4, headers={"Content-Range": "bytes 0-3/4"},
                 timeout=10)  # fmt: skip
    invite = {"recipients": [{"email": "z@outside.example"}], "roles": ["write"],
              "sendInvitation": True}  # fmt: skip
    assert graph.post(url + "/me/drive/root:/F:/invite", json=invite).ok
    mock_drive.set_policy(maxRecipients=2)
    assert mock_drive.accept_invitations("dan@outside.example") == 1  # Onehub's, on the copy
    mock_drive.clock.advance(days=365 * 100)  # every grant, link and invitation runs out
    mock_drive.faults.clear()
    mock_drive.server.call(lambda: [copied.ids.guid() for _ in range(7)])
    assert exported(mock_drive, copied) != before
    assert exported(mock_drive, state) == before
    assert journal_of(mock_drive, state) == journal
    twin = mock_drive.server.call(lambda: copy.deepcopy(state))
    drawn = mock_drive.server.call(lambda: (twin.ids.guid(), state.ids.guid()))
    assert drawn[0] == drawn[1]  # the original's generator where it was


def test_a_copy_made_while_a_request_is_held_gets_none_of_it(mock_drive):
    """A request held by a latency rule belongs to the state it began in: a copy made while it
    waits (and served from then on) journals nothing of it, and the original journals it."""
    state = used_state(mock_drive)
    mock_drive.faults.add(method="GET", path="/v1.0/me/drive", effect="latency", latencyMs=300)
    held: list[requests.Response] = []
    url = mock_drive.graph_url + "/me/drive"
    thread = threading.Thread(target=lambda: held.append(mock_drive.session.get(url)))
    thread.start()
    probe = re.compile(r"/v1\.0/me/drive")
    for _ in range(200):  # the rule has fired: the request is in the state, waiting
        fired = mock_drive.server.call(lambda: state.faults.rules[-1].fired)
        if fired:
            break
        threading.Event().wait(0.01)
    copied = mock_drive.server.call(lambda: copy.deepcopy(state))
    mock_drive.server.reset(copied)
    thread.join(10)
    assert held and held[0].status_code == 200
    paths = [entry["path"] for entry in journal_of(mock_drive, copied)]
    assert not any(probe.fullmatch(p) for p in paths)
    assert probe.fullmatch(journal_of(mock_drive, state)[-1]["path"])


class _KeptJournal(Journal):
    __slots__ = ("kept",)


class _NamedPolicy(SharingPolicy):
    __slots__ = "label"  # a string, as Python allows


class _PrivatePolicy(SharingPolicy):
    __slots__ = ("__secret",)  # stored as _PrivatePolicy__secret

    def hide(self, value: list[int]) -> None:
        self.__secret = value

    def secret(self) -> list[int]:
        return self.__secret


class _TaggedState(State):
    __slots__ = ("tags",)


class _NotedSessions(UploadSessions):
    pass


@pytest.mark.parametrize("make", [_KeptJournal, Outbox, _NotedSessions, _TaggedState])
def test_a_subclass_that_adds_slots_or_attributes_keeps_them_in_its_copy(make):
    part = make()
    if hasattr(type(part), "__slots__") and not isinstance(type(part).__slots__, str):
        name = type(part).__slots__[0] if type(part).__slots__ else "note"
    else:
        name = "note"
    setattr(part, name, [1, [2]])
    copied = copy.deepcopy(part)
    assert type(copied) is type(part)
    assert getattr(copied, name) == [1, [2]]
    assert getattr(copied, name) is not getattr(part, name)
    assert getattr(copied, name)[1] is not getattr(part, name)[1]


def test_a_slotted_parts_subclass_keeps_a_slot_named_by_a_string_or_a_private_name():
    named = _NamedPolicy()
    named.label = ["x"]
    assert copy.deepcopy(named).label == ["x"]
    private = _PrivatePolicy()
    private.hide([7])
    twin = copy.deepcopy(private)
    assert twin.secret() == [7] and twin.secret() is not private.secret()


def _without_changes(state: State) -> str:
    whole = export_scenario(state)
    return json.dumps({key: value for key, value in whole.items() if key != "changes"})


def test_an_export_without_the_change_log_is_the_whole_export_less_its_changes(mock_drive):
    """For an empty state, the default one, one whose log holds changes but no token, and one
    used everywhere: the same keys in the same order, and neither export moves the other."""
    empty = State()
    default = mock_drive.server.call(lambda: copy.deepcopy(mock_drive.state))
    untokened = mock_drive.server.call(lambda: copy.deepcopy(mock_drive.state))
    owner = mock_drive.owner
    mock_drive.server.call(
        lambda: untokened.make_path(
            untokened.default_drive(owner.id), "/n.txt", is_folder=False, content=b"n"
        )
    )
    used = used_state(mock_drive)
    for state in (empty, default, untokened, used):
        lean = mock_drive.server.call(
            lambda state=state: json.dumps(export_scenario(state, change_log=False))
        )
        assert lean == mock_drive.server.call(lambda state=state: _without_changes(state))
        assert lean == mock_drive.server.call(
            lambda state=state: json.dumps(export_scenario(state, change_log=False))
        )
    assert mock_drive.server.call(lambda: "changes" in export_scenario(used))


def test_the_refusal_digest_tells_a_handed_out_delta_token_apart():
    """The digest reads the change log by its serial, not from the export: a first delta token
    moves no serial, but it makes the export carry the log (``issued``), which the full
    export's digest saw."""
    state = copy.deepcopy(default_state())
    before = state_digest(state)
    assert "changes" not in export_scenario(state)
    delta.make_token(state)
    assert "changes" in export_scenario(state)  # what a reload of it now carries
    assert state_digest(state) != before
