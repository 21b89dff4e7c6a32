"""Deterministic ids and timestamps: the same seed and the same operations give the same values.

A fresh id never collides with one in use. A loaded scenario may name ids that this seed's
generator hands out (explicit ids copied from a run, an export without its ``ids``); so the
generator skips every candidate that is reserved (ids the loaded data names) or taken (an id
the state's own indexes hold). Collisions are otherwise astronomically unlikely, so the skip
costs nothing in practice and the ids of an ordinary run do not change.

An id handed out once is never handed out again in the same history, even after it was
withdrawn (a revoked link's token, a deleted item's id) and the state exported and loaded: an
export writes how many ids its state drew (``ids: {drawn}``), and a load of it draws from a
sequence of its own for the seed and that count (``IdFactory.resume``), not the seed's again.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from .copying import deepcopy_attrs

_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
# A candidate repeats only after a restart of the generator, and then each reserved id costs
# at most one skip; far more attempts than this means the generator is broken, not unlucky.
_MAX_ATTEMPTS = 10_000
# the largest ``drawn`` and ``serial`` an export may carry (JSON-safe; no run comes near it)
MAX_COUNT = 2**53 - 1


def _high_byte_table(alphabet: str) -> bytes:
    """Byte → the character ``choice`` picks for a 32-bit word whose top byte it is, or 0 for
    a word ``choice`` rejects (its top bits name no character): ``choice(alphabet)`` takes the
    top ``len(alphabet).bit_length()`` bits of one word per try."""
    size = len(alphabet)
    shift = 8 - size.bit_length()
    assert shift >= 0 and alphabet.isascii() and "\0" not in alphabet
    return bytes(ord(alphabet[b >> shift]) if b >> shift < size else 0 for b in range(256))


_TABLES = {alphabet: _high_byte_table(alphabet) for alphabet in (_BASE32, _URLSAFE)}


def draw(rng: random.Random, alphabet: str, count: int) -> str:
    """``"".join(rng.choice(alphabet) for _ in range(count))``: the same text, leaving ``rng``
    in the same state, in a few C calls instead of ~2 Python calls per character. Each try of
    ``choice`` consumes one 32-bit word; ``getrandbits(32 * n)`` gives the next ``n`` words,
    least significant first; ``n`` is never more than the tries still certainly needed, so no
    word is drawn that the one-by-one loop would not have drawn. (``tests/test_fixture_speed.py``
    compares the two.)"""
    table = _TABLES.get(alphabet) or _high_byte_table(alphabet)
    got = b""
    while len(got) < count:
        need = count - len(got)
        words = rng.getrandbits(32 * need).to_bytes(4 * need, "little")
        got += words[3::4].translate(table).replace(b"\0", b"")
    return got.decode("ascii")


class DuplicateId(Exception):
    """An id that is already in use was about to be stored again (an internal error: a
    scenario load reports it as a validation problem; from a request it is a 500)."""


class IdFactory:
    """Seeded generator of the id shapes Graph uses (GUIDs, item ids, business drive ids).

    ``taken(candidate)`` tells whether the state already holds an id (items, drives, users,
    groups); ``reserve`` adds ids the state is about to hold (e.g. every explicit id of a
    scenario, before any id is generated for it).
    """

    def __init__(
        self,
        seed: int = 0,
        taken: Callable[[str], bool] | None = None,
        start: tuple[object, int, int] | None = None,
    ) -> None:
        # The generator is made on the first id drawn (seeding it is most of what a fresh state
        # costs, and many states draw none): from ``seed``, or from ``start``, a ``position()``
        # of a generator of the same seed (the default state's, which draws the same ids).
        self._seed = seed
        self._start = start
        self._random: random.Random | None = None
        self._serial = 0 if start is None else start[1]
        # candidates drawn in this state's history, those of the state it was exported from
        # included; and how many of them came before this generator's sequence (``resume``)
        self.drawn = 0 if start is None else start[2]
        self._resumed_at = 0
        self._taken = taken
        self._reserved: set[str] = set()

    def __deepcopy__(self, memo: dict[int, Any]) -> IdFactory:
        """A state's copy (model/copying.py). The start position is shared, not copied: it is
        immutable, and deepcopy would walk its 625 words one by one (~5x this copy)."""
        if self._start is not None:
            memo[id(self._start)] = self._start
            memo.setdefault(id(memo), []).append(self._start)  # kept alive, as deepcopy does
        twin: IdFactory = deepcopy_attrs(self, memo)
        return twin

    @property
    def _rng(self) -> random.Random:
        rng = self._random
        if rng is None:
            if self._start is None:
                after = self._resumed_at
                rng = random.Random(f"ids of {self._seed} after {after}" if after else self._seed)
            else:
                rng = random.Random.__new__(random.Random)
                rng.setstate(self._start[0])  # type: ignore[arg-type]
            self._random = rng
        return rng

    def resume(self, drawn: int, serial: int) -> None:
        """Go on with the history of an exported state, whose generator had drawn ``drawn``
        candidates and numbered up to ``serial`` (the export's ``ids``); before any id is
        drawn here. With ``drawn`` above 0 the ids come from a sequence of their own for the
        seed and ``drawn`` instead of the seed's, so none the exported state (or any state
        before it) handed out comes back, withdrawn or not; the same export loaded twice draws
        the same ids. (Every later export of this history has a larger ``drawn`` once an id
        was drawn here, so its load takes yet another sequence.)"""
        if self._random is not None or self._start is not None:
            raise RuntimeError("resume() must come before the first id is drawn")
        self.drawn = self._resumed_at = drawn
        self._serial = serial

    def reserve(self, ids: Iterable[str]) -> None:
        """Never hand out any of ``ids`` (compared as given and upper-cased, the two forms
        a generated GUID is stored in)."""
        for value in ids:
            self._reserved.add(value)

    def in_use(self, candidate: str) -> bool:
        for form in (candidate, candidate.upper()):
            if form in self._reserved or (self._taken is not None and self._taken(form)):
                return True
        return False

    def _fresh(self, make: Callable[[], str]) -> str:
        for _ in range(_MAX_ATTEMPTS):
            self.drawn += 1
            candidate = make()
            if not self.in_use(candidate):
                return candidate
        raise DuplicateId(f"no free id after {_MAX_ATTEMPTS} attempts")

    def guid(self) -> str:
        return self._fresh(self._guid)

    def item_id(self) -> str:
        return self._fresh(lambda: "01" + draw(self._rng, _BASE32, 32))

    def drive_id(self) -> str:
        return self._fresh(lambda: "b!" + draw(self._rng, _URLSAFE, 40))

    def personal_drive_id(self) -> str:
        """A 16-character id, as OneDrive personal drives have."""
        return self._fresh(lambda: self._token()[:16])

    def token(self) -> str:
        return self._fresh(self._token)

    def _guid(self) -> str:
        h = f"{self._rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _token(self) -> str:
        return draw(self._rng, _URLSAFE, 32)

    def position(self) -> tuple[object, int, int]:
        """Where the generator is: equal positions hand out the same ids next."""
        return self._rng.getstate(), self._serial, self.drawn

    def to_data(self) -> dict[str, int]:
        """What an export writes as ``ids`` (what ``resume`` takes): the candidates drawn and
        the last number ``serial`` gave, each left out when 0."""
        counts = {"drawn": self.drawn, "serial": self._serial}
        return {key: value for key, value in counts.items() if value}

    def serial(self) -> int:
        """A strictly increasing integer (the outbox's message ids)."""
        self._serial += 1
        return self._serial


def ids_in(data: Any) -> Iterator[str]:
    """Every string under an ``id`` key in nested dicts and lists (scenario data), iteratively
    so that any depth works."""
    stack = [data]
    pop, push = stack.pop, stack.append
    while stack:
        current = pop()
        if isinstance(current, dict):
            value = current.get("id")
            if isinstance(value, str):
                yield value
            for child in current.values():
                if isinstance(child, (dict, list)):  # a tuple: faster than dict | list
                    push(child)
        elif isinstance(current, list):
            for child in current:
                if isinstance(child, (dict, list)):
                    push(child)


class LogicalClock:
    """A clock that advances one second per reading, starting at ``start``.

    Real time would make two runs of the same scenario differ; a logical clock keeps exports
    byte-identical while still ordering events.
    """

    def __init__(self, start: datetime = EPOCH) -> None:
        self._start = start
        self._ticks = 0

    def now(self) -> str:
        """Advance one second and return the new time."""
        self._ticks += 1
        return self.peek()

    def tick(self) -> None:
        """Advance one second, as ``now()`` does, when the time itself is not needed."""
        self._ticks += 1

    # the last reading ``peek`` wrote out with the start and ticks it is of (read on every
    # refusal and most answers, often at one reading: written out once a reading), kept as one
    # tuple: a thread reading between separate writes would get an older reading's text
    _shown: tuple[datetime | None, int, str] = (None, -1, "")

    def peek(self) -> str:
        """The current time, without advancing (for response metadata that changes nothing)."""
        start, ticks = self._start, self._ticks
        shown_start, shown_ticks, shown = self._shown
        if ticks == shown_ticks and start is shown_start:
            return shown
        shown = format_time(start + timedelta(seconds=ticks))
        self._shown = (start, ticks, shown)
        return shown


# moments in UTC ``format_time`` wrote out (an equal one is the same instant, written the same),
# forgotten all at once past ``TIMES_KEPT``: exports and listings write the same few moments
# (when each permission was shared, each item made) again and again
_WRITTEN: dict[datetime, str] = {}
TIMES_KEPT = 4096


def format_time(moment: datetime) -> str:
    """``2024-01-01T00:00:05Z``: the moment in UTC, to the second."""
    if moment.tzinfo is timezone.utc:
        shown = _WRITTEN.get(moment)
        if shown is not None:
            return shown
        shown = _written(moment)
        if len(_WRITTEN) >= TIMES_KEPT:
            _WRITTEN.clear()
        _WRITTEN[moment] = shown
        return shown
    return _written(moment.astimezone(timezone.utc))


def _written(utc: datetime) -> str:
    year = utc.year
    if year < 1000:  # strftime writes such a year without leading zeros
        return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    # what that strftime writes, several times faster
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (  # noqa: UP031
        year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
    )
