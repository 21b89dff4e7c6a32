"""Two rules every answer of every suite is checked against (installed by tests/conftest.py).

* **A refused request changes nothing.** Around every write (every method but GET, HEAD and
  OPTIONS) the state's digest is taken; an answer of 400 or more (a fault rule that fired
  aside) must leave it as it was: no item, link, permission, outbox entry, clock tick, id or
  upload session.
* **Every URL handed out works when followed, by its holder only.** Every JSON answer (and every
  ``$batch`` step in it) is searched for the URLs the service hands out: ``@odata.nextLink``,
  ``@odata.deltaLink``, ``@microsoft.graph.downloadUrl``, ``uploadUrl``, ``Location`` and the
  ``webUrl`` of a sharing link. The state is copied at that moment and, at the end of the test,
  each URL is followed against the copy on a second server, as the caller it was given to (and
  as someone else, where the service refuses them). Each URL shape is followed once per test.

Following on a copy taken when the URL was handed out means a URL the test later invalidates
(a cancelled session, a revoked link, a reset) is still checked as it stood, and the test's own
server, journal and request ids are never touched.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from aiohttp import web
from wire_client import WireSession

from mockdrive.api.app import BACKEND, is_api
from mockdrive.api.context import exchange_of
from mockdrive.api.entra import LIVE_TOKEN
from mockdrive.api.graph.batch import BATCH_OF
from mockdrive.api.graph.special import SPECIAL_PATHS
from mockdrive.api.graph.uploads import GRAPH_HOSTS, UPLOAD_HOST
from mockdrive.cli import default_state
from mockdrive.model.state import State
from mockdrive.model.uploads import is_expired
from mockdrive.scenario import export_scenario
from mockdrive.server import MockDrive

# servers whose refusals are digested: a clock that followed the wall would move under a refusal
PINNED = "2024-01-01T00:00:00Z"

CLIENT_CLOSED_REQUEST = 499
# Reads are not digested: the rule is about writes (a read may still make a special folder or
# give Onehub numbers on first sight, as the services do), and most requests are reads.
READS = ("GET", "HEAD", "OPTIONS")
# Digests may cost this many seconds per test, plus this share of the time spent serving.
BUDGET_FLOOR = 0.1
BUDGET_SHARE = 0.25
URL_KEYS = {
    "@odata.nextLink": "nextLink",
    "@odata.deltaLink": "deltaLink",
    "@microsoft.graph.downloadUrl": "downloadUrl",
    "@content.downloadUrl": "downloadUrl",
    "uploadUrl": "uploadUrl",
}
# what making a special folder on first use moves (the service makes it whatever follows)
SPECIAL_FOLDER_PARTS = {"changes", "clock", "drives", "ids", "versions"}
STRANGER_TOKEN = "url-check-stranger-token"
DEVICE_POLL_ANSWERS = ("authorization_pending", "authorization_declined", "expired_token")
_ID_LIKE = re.compile(r"[0-9!]|^.{17,}$")
_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def state_digest(state: State) -> str:
    """One hash of :func:`state_parts`."""
    return hashlib.sha256(repr(sorted(state_parts(state).items())).encode()).hexdigest()


def state_parts(state: State) -> dict[str, str]:
    """A hash of everything a refused request must leave alone: the export, plus what an export
    leaves out (each item's versions and times, the outbox, the clock reading, the id
    generator's position, open upload sessions, the change log, copy monitors). The journal is
    left out: it records refusals too. The change log is told by its serial (a change logged
    moves it), whether a token was handed out and its generation, so the export's copy of the
    log is not made."""
    data: dict[str, Any] = export_scenario(state, change_log=False)
    data["clock"] = [state.clock.peek(), state.clock.moved]
    data["ids"] = hash(state.ids.position())
    messages = state.outbox.messages  # a new message, or one dropped: the ends move
    ends = [messages[0].to_dict(), messages[-1].to_dict()] if messages else []
    data["outbox"] = [len(messages), *ends]
    data["versions"] = [
        [item.id, item.version, item.content_version, item.created, item.modified]
        for item in state.store.items.values()
    ]
    data["uploads"] = sorted(
        [s.id, len(s.data), s.size, s.expires]
        for s in state.uploads.sessions.values()
        if not is_expired(state, s.expires)  # an expired one is dropped when it is next named
    )
    log = state.changes  # a token handed out moves no serial, but the export then has the log
    data["changes"] = [log.serial, log.issued, log.generation]
    data["copyJobs"] = sorted(state.copy_jobs.items())
    entra = state.entra  # the sign-ins: what a code, a refresh token or a device code left
    data["entra"] = [
        sorted(entra.refresh_tokens),
        sorted(entra.auth_codes),
        sorted((value, device.pending) for value, device in entra.device_codes.items()),
        [app.client_id for app in entra.known_apps()],
        sorted(map(str, entra.holders.values())),
    ]
    return {key: _sorted_json(value) for key, value in data.items()}


def _sorted_json(value: Any) -> str:
    """``value`` as JSON with sorted keys (anything else as its ``str``), through orjson (a
    digest is taken around every write; the plain encoder was most of its cost), or json where
    orjson refuses it (a lone surrogate, an int past 64 bits)."""
    try:
        return orjson.dumps(value, default=str, option=_SORTED).decode()
    except TypeError:
        return json.dumps(value, sort_keys=True, default=str)


def snapshot_of(state: State) -> State:
    """A deep copy of ``state`` whose journal shares its entries with the original's.

    An entry is not changed once recorded, so sharing them is a copy as faithful as a deep one;
    the snapshot's journal is a deque of its own (what is followed on it is recorded there,
    never in the test's journal). A full journal's headers and bodies were most of a copy's cost.
    """
    journal = copy.copy(state.journal)
    journal.entries = deque(state.journal.entries, maxlen=state.journal.entries.maxlen)
    return copy.deepcopy(state, {id(state.journal): journal})


@dataclass
class Handed:
    """A URL as it was handed out: to whom, in which answer, and the state at that moment."""

    kind: str
    url: str
    holder: str | None  # the Authorization header of the request that got it
    origin: str  # the origin that request used
    answer: str  # "POST /v1.0/... -> 201", for failure messages
    state: State
    detail: dict[str, Any]


def _special_folders_made(state: State, before: dict[str, str], after: dict[str, str]) -> bool:
    """Whether the request only made special folders (every item it added is one, or a folder
    on one's path), or only took folders at their places as them (the drives differ in nothing
    but ``specialFolder`` marks)."""
    old = {entry[0] for entry in json.loads(before["versions"])}
    new = [entry[0] for entry in json.loads(after["versions"]) if entry[0] not in old]
    if not new:
        return _unmarked(json.loads(before["drives"])) == _unmarked(json.loads(after["drives"]))
    wanted = {p for path in SPECIAL_PATHS.values() for p in _prefixes(path)}
    items = state.store.items
    return all(items[i].is_folder and state.store.path_of(items[i]) in wanted for i in new)


def _unmarked(data: Any) -> Any:
    """Exported drives without their items' ``specialFolder`` marks."""
    if isinstance(data, dict):
        return {k: _unmarked(v) for k, v in data.items() if k != "specialFolder"}
    if isinstance(data, list):
        return [_unmarked(v) for v in data]
    return data


def _prefixes(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[: n + 1]) for n in range(len(parts))]


def _allowed(request: web.Request, status: int, moved: list[str], body: Any) -> bool:
    """The answers of 400 or more that may change something, as the services do:

    * the last fragment of an upload whose commit fails (a name taken meanwhile, a full drive):
      the service keeps the session and its bytes until it expires, so that the client can
      commit it explicitly;
    * Onehub's 422 for invitations with some bad addresses: the good ones are still invited
      (a per-recipient outcome, like Graph's 207);
    * a device code's poll that is pending, declined or expired (it counts down the switch
      or ends the code, as the passing of time does in Entra), and a refresh token refused for
      its age (Entra forgets it; so does login.live.com's endpoint, which has no AADSTS
      number to tell it by);
    * Onehub numbers given, on display, to objects that already existed (a 422 that shows a
      rolemap numbers its user as a GET would): a look, not a change.

    (A special folder addressed for the first time is made before the request is validated,
    as the service makes it on first use: the middleware allows that separately.)
    """
    if moved == ["onehub"]:
        return True
    # (the sign-ins are in the export too, as ``signIns``)
    if moved and set(moved) <= {"entra", "signIns"} and isinstance(body, dict):
        if request.path == LIVE_TOKEN:
            return "the grant is expired" in str(body.get("error_description"))
        return body.get("error") in DEVICE_POLL_ANSWERS or body.get("error_codes") == [700082]
    if request.path.startswith("/up/") and status in (409, 507):
        return moved == ["uploads"]
    share = body.get("share") if isinstance(body, dict) else None
    return status == 422 and isinstance(share, dict) and bool(share.get("invited_emails"))


def json_body(response: web.StreamResponse) -> Any:
    """The answer's JSON, or None."""
    if isinstance(response, web.Response) and "json" in (response.content_type or ""):
        raw = response.body
        if isinstance(raw, bytes | bytearray) and raw:
            try:
                return orjson.loads(raw)
            except ValueError:
                pass
            try:  # what orjson refuses that json reads: NaN, a number past its range
                return json.loads(raw)
            except ValueError:
                return None
    return None


def _may_name_urls(response: web.StreamResponse) -> bool:
    """Whether ``urls_in`` could find a URL in the answer's body, told without parsing it:
    each key it reads (``URL_KEYS``, ``…@odata.nextLink``, a link's ``webUrl``, a ``$batch``
    step's ``Location``) has ``Url``, ``Link`` or ``Location`` in it, and JSON shows a key as
    it is unless a character of it is escaped (``\\u``)."""
    raw = response.body if isinstance(response, web.Response) else None
    if not isinstance(raw, bytes | bytearray):
        return True
    return any(part in raw for part in (b"Url", b"Link", b"Location", b"\\u"))


def urls_in(body: Any, headers: Any, status: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, url, detail) for every URL an answer hands out, ``$batch`` steps included."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    location = headers.get("Location") if headers else None
    if isinstance(location, str) and location:
        kind = {202: "monitor", 302: "redirect", 201: "created"}.get(status, "location")
        found.append((kind, location, {}))
    stack = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("responses"), list):  # a $batch answer: each step's own
            for step in node["responses"]:
                if isinstance(step, dict) and isinstance(step.get("status"), int):
                    inner = urls_in(step.get("body"), step.get("headers"), step["status"])
                    found.extend((k, u, {**d, "batch": True}) for k, u, d in inner)
            continue
        for key, value in node.items():
            if isinstance(value, dict | list):
                stack.append(value)
            elif isinstance(value, str) and value:
                kind = URL_KEYS.get(key)
                if kind is None and key.endswith("@odata.nextLink"):
                    kind = "nextLink"
                if kind is not None:
                    found.append((kind, value, {}))
        link = node.get("link")
        if isinstance(link, dict) and isinstance(link.get("webUrl"), str):
            found.append(("link", link["webUrl"], {"scope": link.get("scope")}))
    return found


def shape_of(kind: str, url: str, detail: dict[str, Any]) -> tuple[Any, ...]:
    """A URL with its ids blanked out (its origin kept, and whether a ``$batch`` answer held
    it): one URL of each shape is followed per test."""
    parts = urlsplit(url)
    path = "/".join("{}" if _ID_LIKE.search(s) else s for s in parts.path.split("/"))
    keys = tuple(sorted(p.partition("=")[0] for p in parts.query.split("&") if p))
    return kind, parts.scheme, parts.netloc, path, keys, bool(detail.get("batch"))


class RuleChecker:
    """The middleware that watches every answer, and the follower that runs after each test."""

    def __init__(self, *, budget: bool = True, requests_only: bool = False) -> None:
        """``budget=False``: digest every request whatever it costs (a fuzzer's small state).

        ``requests_only``: while a test runs, nothing but requests to the server changes its
        state (the test calls no model code, its clock follows no wall). A refusal's digest
        after is then the next write's digest before, when no request ran between them and
        the expiry sweep found nothing due: one digest per refusal of a run of them, not two.
        """
        self.budget = budget
        self.requests_only = requests_only
        self.digests = 0  # states digested
        # (events, state, parts): the digest after the last refusal, while nothing ran since
        self._settled: tuple[int, State, dict[str, str]] | None = None
        # id of a state copied from (``copied``) → (it, the digest of its first copy served)
        self._copies: dict[int, tuple[State, dict[str, str]]] = {}
        self.active = False
        self.failures: list[str] = []
        self.handed: list[Handed] = []
        self.shapes: set[tuple[Any, ...]] = set()
        self.refusals_checked = 0
        self.unchecked = 0  # requests not digested, to keep within the budget
        self._spent = self._served = 0.0  # seconds digesting, and serving, in this test
        self.followed: dict[str, int] = {}  # URLs followed, by kind
        self.seconds = {"digest": 0.0, "copy": 0.0, "follow": 0.0}  # what the checks cost
        self._in_flight = 0
        self._events = 0  # requests started or finished: another one between means no verdict
        self._shadow: MockDrive | None = None
        self._session = WireSession()  # keep-alive to the shadow (requests' bytes, cheaper)
        # shapes whose "only by them" was checked: once per run (their holder's follow: per test)
        self._exclusive: set[tuple[Any, ...]] = set()

    # -- during the test --------------------------------------------------------------------
    def start_test(self) -> None:
        self.active = True
        self.failures, self.handed, self.shapes = [], [], set()
        self._settled = None  # the test may have changed the state since
        self._spent = self._served = 0.0

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not self.active:
            return await handler(request)
        backend = request.app[BACKEND]
        state = backend.state
        due = state.expirations
        if is_api(request.path) and len(due):
            pending = len(due)
            due.sweep(state.clock.moment())  # what the pipeline does first
            if len(due) != pending:  # a deadline came: the digest before is taken anew
                self._settled = None
        # a verdict only for a request that runs alone (a $batch step inside its batch)
        step = request.get(BATCH_OF) is not None
        others = self._in_flight - (1 if step else 0)
        quiet = self._events if self._in_flight == 0 else None  # the count, if none is running
        self._in_flight += 1
        self._events += 1
        mark = self._events
        before = None
        if others == 0 and request.method not in READS and self._affordable():
            started = time.perf_counter()
            settled = self._settled_parts(state, quiet)
            before = settled if settled is not None else self._digest(state)
            self._spent += time.perf_counter() - started
            self.seconds["digest"] += time.perf_counter() - started
        started = time.perf_counter()
        try:
            response = await handler(request)
        finally:
            self._served += time.perf_counter() - started
            self._in_flight -= 1
            alone = before is not None and self._events == mark and backend.state is state
            self._events += 1
        answer = f"{request.method} {request.path_qs} -> {response.status}"
        if alone and before is not None and self._is_refusal(request, response):
            self.refusals_checked += 1
            started = time.perf_counter()
            after = self._digest(state)
            self._spent += time.perf_counter() - started
            self.seconds["digest"] += time.perf_counter() - started
            if self.requests_only and not step:
                self._settled = (self._events, state, after)
            moved = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
            if "/special/" in request.path and set(moved) <= SPECIAL_FOLDER_PARTS:
                moved = [] if _special_folders_made(state, before, after) else moved
            if moved and not _allowed(request, response.status, moved, json_body(response)):
                self.failures.append(f"refused, yet {', '.join(moved)} changed: {answer}")
        if backend.state is state:  # the URLs of an answer hold in the state it left
            self._collect(request, response, state, answer)
        return response

    def copied(self, state: State, source: State) -> None:
        """``state``, a copy of ``source`` just served (``reset``), is what the next request
        meets, nothing run on it before: that request's digest before is the one of the first
        copy of ``source`` served, taken once. A copy that differs from it in what is digested
        shows as a change after a refusal: a failure, never a change missed."""
        known = self._copies.get(id(source))
        if known is None or known[0] is not source:
            known = self._copies[id(source)] = (source, self._digest(state))
        self._settled = (self._events, state, known[1])

    def _digest(self, state: State) -> dict[str, str]:
        self.digests += 1
        return state_parts(state)

    def _settled_parts(self, state: State, events: int | None) -> dict[str, str] | None:
        """The digest after the last refusal if it is still the state's: taken at ``events``
        (the count when this request began, None if another was running), of the same state,
        whose clock follows no wall."""
        settled = self._settled
        if settled is None or settled[0] != events or settled[1] is not state:
            return None
        return None if state.clock.follows_wall else settled[2]

    def _affordable(self) -> bool:
        """Whether the digests stay within budget: a test of many requests over a big state
        (thousands of permissions) has only a sample of its requests checked."""
        if not self.budget or self._spent <= BUDGET_FLOOR + BUDGET_SHARE * self._served:
            return True
        self.unchecked += 1
        return False

    @staticmethod
    def _is_refusal(request: web.Request, response: web.StreamResponse) -> bool:
        status = response.status
        exchange = exchange_of(request)
        fired = exchange is not None and exchange.fired_faults
        return status >= 400 and status != CLIENT_CLOSED_REQUEST and not fired

    def _collect(
        self, request: web.Request, response: web.StreamResponse, state: State, answer: str
    ) -> None:
        if request.path.endswith(("/oauth2/v2.0/authorize", "/oauth2/v2.0/authorize/")):
            return  # Entra sends the browser back to the client's own redirect_uri
        body = json_body(response) if _may_name_urls(response) else None
        found = urls_in(body, response.headers, response.status)
        fresh = [f for f in found if shape_of(*f) not in self.shapes]
        if not fresh:
            return
        try:
            started = time.perf_counter()
            snapshot = snapshot_of(state)
            self.seconds["copy"] += time.perf_counter() - started
        except Exception as error:  # a state that cannot be copied cannot be checked
            self.failures.append(f"the state cannot be copied after {answer}: {error!r}")
            return
        holder = request.headers.get("Authorization")
        origin = str(request.url.origin())
        for kind, url, detail in fresh:
            self.shapes.add(shape_of(kind, url, detail))
            self.handed.append(Handed(kind, url, holder, origin, answer, snapshot, detail))

    # -- after the test ---------------------------------------------------------------------
    def finish_test(self) -> list[str]:
        """Follow every URL collected; every failure found during the test and now."""
        self.active = False
        started = time.perf_counter()
        for handed in self.handed:
            self.followed[handed.kind] = self.followed.get(handed.kind, 0) + 1
            try:
                problem = self.follow(handed)
            except requests.RequestException as error:
                problem = f"following it failed: {error!r}"
            if problem:
                self.failures.append(f"{handed.kind} {handed.url} from {handed.answer}: {problem}")
        self.seconds["follow"] += time.perf_counter() - started
        failures, self.failures, self.handed = self.failures, [], []
        return failures

    def shadow(self) -> MockDrive:
        if self._shadow is None:
            self._session = WireSession()
            self._shadow = MockDrive(default_state("shadow-token"), clock=PINNED).start()
        return self._shadow

    def stop(self) -> None:
        self._session.close()
        if self._shadow is not None:
            self._shadow.stop()
            self._shadow = None

    def follow(self, handed: Handed) -> str | None:
        """Follow one URL on a server holding the state of the moment it was handed out."""
        shadow = self.shadow()
        if shadow.backend.state is not handed.state:  # URLs of one answer share their moment
            shadow.call(lambda: setattr(shadow.backend, "state", handed.state))
        exclusive = shape_of(handed.kind, handed.url, handed.detail) not in self._exclusive
        self._exclusive.add(shape_of(handed.kind, handed.url, handed.detail))
        return follow_on(shadow, self._session, shadow.url, handed, exclusive=exclusive)


def follow_on(
    server: MockDrive,
    session: requests.Session | WireSession,
    base: str,
    handed: Handed,
    *,
    exclusive: bool = True,
) -> str | None:
    """The problem with ``handed`` followed through ``session`` at ``base`` (the origin of
    ``server``, which serves the state to follow it on), or None if it works. ``exclusive``:
    also check that others cannot use it (no token, a stranger, a tampered copy)."""
    kind, url = handed.kind, handed.url
    if kind == "link":
        return _follow_link(server, session, base, handed, exclusive)
    origin = handed.origin
    host = urlsplit(origin).hostname
    if kind == "uploadUrl" and host in GRAPH_HOSTS:  # as the service's: on the storage host
        origin = origin.replace(host, UPLOAD_HOST, 1)
    if not url.startswith(origin + "/"):
        return f"it is not on the origin the caller used ({origin})"
    target = base + url[len(origin) :]
    own = {"Authorization": handed.holder} if handed.holder else {}
    bearer_free = kind in ("downloadUrl", "uploadUrl", "monitor", "redirect")
    answer = session.get(target, headers={} if bearer_free else own, timeout=30)
    if answer.status_code >= 400:
        return f"answers {answer.status_code}: {answer.text[:300]}"
    if kind in ("nextLink", "deltaLink") and not isinstance(answer.json().get("value"), list):
        return f"answers without a value array: {answer.text[:300]}"
    if kind == "uploadUrl" and "nextExpectedRanges" not in answer.json():
        return f"does not answer the session: {answer.text[:300]}"
    whole = int(answer.headers.get("Content-Length", -1)) == len(answer.content)
    if kind == "downloadUrl" and not whole:
        return "does not serve its bytes whole"
    if not exclusive:
        return None
    # only by them: a bearer URL needs the bearer; a signed one does not survive tampering
    if bearer_free:
        if kind not in ("downloadUrl", "uploadUrl"):
            return None
        forged = target[:-1] + ("A" if target[-1] != "A" else "B")
        other = session.get(forged, timeout=30)
        if other.status_code < 400:
            return f"a tampered copy still answers {other.status_code}"
    elif handed.holder:
        anonymous = session.get(target, timeout=30)
        if anonymous.status_code != 401:
            return f"answers {anonymous.status_code} without the bearer token"
        if "/drives/" in urlsplit(target).path:
            refused = session.get(target, headers=_stranger(server), timeout=30)
            if refused.status_code < 400:
                return f"a user without access gets {refused.status_code}"
    return None


def _follow_link(
    server: MockDrive,
    session: requests.Session | WireSession,
    base: str,
    handed: Handed,
    exclusive: bool,
) -> str | None:
    """A sharing link is followed as a client does: redeemed through ``/shares``."""
    encoded = base64.urlsafe_b64encode(handed.url.encode()).decode().rstrip("=")
    target = f"{base}/v1.0/shares/u!{encoded}/driveItem"
    own = {"Authorization": handed.holder} if handed.holder else {}
    answer = session.get(target, headers=own, timeout=30)
    if answer.status_code >= 400:
        return f"its holder cannot redeem it: {answer.status_code}: {answer.text[:300]}"
    if not exclusive:
        return None
    scope = handed.detail.get("scope")
    if scope == "users":
        refused = session.get(target, headers=_stranger(server), timeout=30)
        if refused.status_code < 400:
            return f"a user it was not granted to redeems it ({refused.status_code})"
    elif scope == "organization":
        refused = session.get(target, timeout=30)
        if refused.status_code < 400:
            return f"an organization link is redeemed without a token ({refused.status_code})"
    return None


def _stranger(server: MockDrive) -> dict[str, str]:
    """A directory user holding nothing, added to the state being followed on."""

    def add() -> None:
        state = server.backend.state
        if state.directory.by_token(STRANGER_TOKEN) is None:
            state.add_user("Url Check Stranger", "url-check-stranger@contoso.example",
                           token=STRANGER_TOKEN)  # fmt: skip

    server.call(add)
    return {"Authorization": f"Bearer {STRANGER_TOKEN}"}
