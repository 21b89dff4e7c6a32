"""Fault rules: data that makes requests fail on cue, deterministically.

A rule matches on method, a path regex, the caller, and (for invites) a recipient address or
domain; it fires on the ``nth`` matching request (then ``times`` times, default once) or, with
neither, on every match. Its effect is one of:

- ``notificationFailure``: the matching recipients keep their permission but their e-mail fails
  with ``innerCode`` (Graph answers 207);
- ``error``: the request fails with ``status``/``code``/``message`` and changes nothing;
- ``throttle``: 429 (or 503) with ``Retry-After: retryAfter`` seconds; an early retry is recorded
  as a violation and, with ``throttleEarlyRetries``, throttled again;
- ``latency``: the answer is delayed ``latencyMs`` plus seeded jitter up to ``jitterMs``.

Numbers are bounded when a rule is made (``LIMITS``), so a rule can never make the requests it
matches fail. ``path`` is a Python regex searched in the request path, from a subset that cannot
backtrack catastrophically (see ``check_path_pattern``): the loop serves every request, so a
pattern that takes minutes on one path would stall them all.
"""

from __future__ import annotations

import random
import re
import time

try:  # the regex parser: re._parser since Python 3.11, sre_parse before
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .copying import deepcopy_attrs
from .errors import InvalidRequest

EFFECTS = ("notificationFailure", "error", "throttle", "latency")
NOTIFICATION_CODES = {
    "accountVerificationRequired": (
        "Account verification needed to unblock sending emails.",
        "http://g.live.com/8SESkydrive/VerifyAccount",
    ),
    "hipCheckRequired": (
        "Human interaction proof needed to unblock sending emails.",
        "http://g.live.com/8SESkydrive/HipCheck",
    ),
    "exchangeInvalidUser": (
        "The sender's mailbox could not be found.",
        "http://g.live.com/8SESkydrive/Mailbox",
    ),
    "exchangeOutOfMailboxQuota": (
        "The sender's mailbox is out of quota.",
        "http://g.live.com/8SESkydrive/MailboxQuota",
    ),
    "exchangeMaxRecipients": (
        "Too many recipients were notified at once.",
        "http://g.live.com/8SESkydrive/MaxRecipients",
    ),
}
_FIELDS = {
    "id": str, "effect": str, "method": str, "path": str, "caller": str, "recipient": str,
    "domain": str, "nth": int, "times": int, "innerCode": str, "status": int, "code": str,
    "message": str, "retryAfter": int, "throttleEarlyRetries": bool, "latencyMs": int,
    "jitterMs": int, "matched": int, "fired": int, "violations": int,
}  # fmt: skip


# Inclusive bounds of the numeric fields: beyond them a rule would only break the mock (a sleep
# of years, a Retry-After that overflows), never model the service.
LIMITS = {
    "nth": (1, 1_000_000_000),
    "times": (0, 1_000_000_000),
    "retryAfter": (0, 86_400),  # a day
    "latencyMs": (0, 600_000),  # ten minutes
    "jitterMs": (0, 600_000),
    "status": (400, 599),  # an HTTP error status (a throttle takes 429 or 503 only)
    # what happened so far (an export's, so that a reloaded rule goes on counting)
    "matched": (0, 2**53),
    "fired": (0, 2**53),
    "violations": (0, 2**53),
}
MAX_PATH_PATTERN = 200  # characters
# How many ways a path pattern may split a subject: the product, over its variable quantifiers,
# of how many counts each allows (an unbounded one counts as a whole 8 KiB path). One ``*`` uses
# it up; a search then costs at most ~path length x budget steps (about a second at 8 KiB).
PATH_PATTERN_BUDGET = 8192


@dataclass(slots=True, eq=False)
class FaultRule:
    id: str
    effect: str
    method: str | None = None
    path: str | None = None
    caller: str | None = None
    recipient: str | None = None
    domain: str | None = None
    nth: int | None = None
    times: int | None = None
    inner_code: str = "accountVerificationRequired"
    status: int | None = None
    code: str | None = None
    message: str | None = None
    retry_after: int = 1
    throttle_early_retries: bool = False
    latency_ms: int = 0
    jitter_ms: int = 0
    matched: int = 0
    fired: int = 0
    violations: int = 0
    _path_re: re.Pattern[str] | None = None
    _rng: random.Random = field(default_factory=random.Random)
    _blocked_until: dict[str, float] = field(default_factory=dict)

    @property
    def per_recipient(self) -> bool:
        return self.recipient is not None or self.domain is not None

    def matches(self, method: str, path: str, caller_email: str | None) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self._path_re is not None and not self._path_re.search(path):
            return False
        return self.caller is None or (
            caller_email is not None and self.caller.casefold() == caller_email.casefold()
        )

    def matches_address(self, address: str) -> bool:
        if self.recipient is not None and self.recipient.casefold() != address.casefold():
            return False
        domain = address.rpartition("@")[2].casefold()
        return self.domain is None or self.domain.casefold().lstrip("@") == domain

    def count_and_fire(self) -> bool:
        """Count one match; True if the rule fires for it."""
        self.matched += 1
        start = self.nth or 1
        limit = self.times if self.times is not None else (1 if self.nth else None)
        if self.matched < start or (limit is not None and self.fired >= limit):
            return False
        self.fired += 1
        return True

    def delay_seconds(self) -> float:
        jitter = self._rng.randint(0, self.jitter_ms) if self.jitter_ms else 0
        return (self.latency_ms + jitter) / 1000

    def definition(self) -> dict[str, Any]:
        """The rule as it is written in a scenario or sent to the admin API."""
        data = {
            "id": self.id, "effect": self.effect, "method": self.method, "path": self.path,
            "caller": self.caller, "recipient": self.recipient, "domain": self.domain,
            "nth": self.nth, "times": self.times,
        }  # fmt: skip
        if self.effect == "notificationFailure":
            data["innerCode"] = self.inner_code
        elif self.effect == "error":
            data.update(status=self.status, code=self.code, message=self.message)
        elif self.effect == "throttle":
            data.update(
                status=self.status,
                retryAfter=self.retry_after,
                throttleEarlyRetries=self.throttle_early_retries,
            )
        else:
            data.update(latencyMs=self.latency_ms, jitterMs=self.jitter_ms)
        return {k: v for k, v in data.items() if v is not None}

    def state(self) -> dict[str, Any]:
        """The definition plus the counters that are not zero: what an export holds."""
        counters = {"matched": self.matched, "fired": self.fired, "violations": self.violations}
        return {**self.definition(), **{k: v for k, v in counters.items() if v}}

    def to_dict(self) -> dict[str, Any]:
        """The definition plus what happened so far (matched, fired, early-retry violations)."""
        data = {**self.definition(), "matched": self.matched, "fired": self.fired}
        if self.effect == "throttle":
            data["violations"] = self.violations
        return data


def parse_rule(data: object, rule_id: str, seed: int = 0) -> FaultRule:
    """Build a rule from its JSON/YAML form, or raise InvalidRequest saying what is wrong."""
    if not isinstance(data, dict):
        raise InvalidRequest("a fault rule must be an object")
    for key, value in data.items():
        kind = _FIELDS.get(key)
        if kind is None:
            known = ", ".join(sorted(_FIELDS))
            raise InvalidRequest(f"unknown fault rule field {key!r} (known: {known})")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise InvalidRequest(f"fault rule field {key!r} must be of type {kind.__name__}")
    effect = data.get("effect")
    if effect not in EFFECTS:
        raise InvalidRequest(
            f"fault rule effect must be one of {', '.join(EFFECTS)}, not {effect!r}"
        )
    for key, (low, high) in LIMITS.items():  # (each is an int by now: checked above)
        if key in data and data[key] < low and low <= 1:
            raise InvalidRequest(f"fault rule field {key!r} must not be negative or zero")
        if key in data and not low <= data[key] <= high:
            raise InvalidRequest(f"fault rule field {key!r} must be between {low} and {high}")
    rule = FaultRule(
        id=data.get("id", rule_id),
        effect=effect,
        method=data.get("method"),
        path=data.get("path"),
        caller=data.get("caller"),
        recipient=data.get("recipient"),
        domain=data.get("domain"),
        nth=data.get("nth"),
        times=data.get("times"),
        inner_code=data.get("innerCode", "accountVerificationRequired"),
        status=data.get("status"),
        code=data.get("code"),
        message=data.get("message"),
        retry_after=data.get("retryAfter", 1),
        throttle_early_retries=data.get("throttleEarlyRetries", False),
        latency_ms=data.get("latencyMs", 0),
        jitter_ms=data.get("jitterMs", 0),
        matched=data.get("matched", 0),
        fired=data.get("fired", 0),
        violations=data.get("violations", 0),
        _rng=random.Random(f"{seed}:{rule_id}"),
    )
    if rule.path is not None:
        try:
            rule._path_re = re.compile(rule.path)
        except (re.error, OverflowError, RecursionError) as error:
            raise InvalidRequest(
                f"fault rule path {rule.path!r} is not a valid regex: {error}"
            ) from None
        check_path_pattern(rule.path)
    _check_effect(rule)
    return rule


def check_path_pattern(pattern: str) -> None:
    """Refuse a ``path`` regex that could backtrack for long: Python's engine backtracks, and
    ``(a+)+$`` or ``.*a.*b`` take minutes on a long path. Allowed: at most MAX_PATH_PATTERN
    characters, quantifiers within PATH_PATTERN_BUDGET (one unbounded ``*``, ``+`` or ``{n,}``,
    or bounded ones such as ``?`` and ``{1,5}`` whose counts multiply to at most that), no
    quantifier or alternation inside a quantified group, no backreferences or lookarounds.
    What remains searches any path aiohttp accepts (8 KiB) in at most quadratic time."""
    if len(pattern) > MAX_PATH_PATTERN:
        raise InvalidRequest(f"fault rule path is longer than {MAX_PATH_PATTERN} characters")
    constants = sre_constants
    repeats = {constants.MAX_REPEAT, constants.MIN_REPEAT}
    repeats |= {getattr(constants, "POSSESSIVE_REPEAT", constants.MAX_REPEAT)}
    refused = {constants.GROUPREF, constants.GROUPREF_EXISTS, constants.ASSERT}
    refused |= {constants.ASSERT_NOT}
    ways = 1
    stack: list[tuple[object, bool]] = [(sre_parse.parse(pattern), False)]
    while stack:
        node, in_repeat = stack.pop()
        for op, av in node:  # type: ignore[attr-defined]
            if op in refused:
                raise InvalidRequest("fault rule path may not use backreferences or lookarounds")
            if op in repeats:
                low, high, body = av
                if in_repeat:
                    raise InvalidRequest(
                        "fault rule path may not nest quantifiers, as in (a+)+: "
                        "it could take minutes to match"
                    )
                if high == constants.MAXREPEAT:
                    high = low + PATH_PATTERN_BUDGET - 1
                ways *= high - low + 1
                stack.append((body, True))
            elif op == constants.BRANCH:
                if in_repeat:
                    raise InvalidRequest(
                        "fault rule path may not repeat an alternation, as in (a|ab)*: "
                        "use a character class or one alternation outside the repeat"
                    )
                stack.extend((branch, in_repeat) for branch in av[1])
            elif op == constants.SUBPATTERN:
                stack.append((av[-1], in_repeat))
            elif op == getattr(constants, "ATOMIC_GROUP", None):
                stack.append((av, in_repeat))
    if ways > PATH_PATTERN_BUDGET:
        raise InvalidRequest(
            "fault rule path may hold at most one unbounded quantifier (*, +, {n,}) and few "
            "bounded ones: more, as in .*a.*b, can take minutes to match a long path"
        )


def _check_effect(rule: FaultRule) -> None:
    if rule.per_recipient and rule.effect not in ("notificationFailure", "error"):
        raise InvalidRequest(
            "recipient and domain only apply to notificationFailure or error rules"
        )
    if rule.effect == "notificationFailure" and rule.inner_code not in NOTIFICATION_CODES:
        raise InvalidRequest(
            f"innerCode must be one of {', '.join(NOTIFICATION_CODES)}, not {rule.inner_code!r}"
        )
    if rule.effect == "error":
        if rule.status is None or not 400 <= rule.status <= 599:
            raise InvalidRequest("an error rule needs a status between 400 and 599")
        rule.code = rule.code or "generalException"
        rule.message = rule.message or "Injected by a mockdrive fault rule."
    if rule.effect == "throttle":
        rule.status = rule.status or 429
        if rule.status not in (429, 503):
            raise InvalidRequest("a throttle rule answers 429 or 503")


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule that matched a request: ``applies`` is False for a recorded-only early retry."""

    rule: FaultRule
    applies: bool = True
    early_retry: bool = False

    def state(self) -> dict[str, Any]:
        """The definition plus the counters that are not zero: what an export holds."""
        counters = {"matched": self.matched, "fired": self.fired, "violations": self.violations}
        return {**self.definition(), **{k: v for k, v in counters.items() if v}}

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"rule": self.rule.id, "effect": self.rule.effect}
        if self.early_retry:
            data["earlyRetry"] = True
        if not self.applies:
            data["applied"] = False
        return data


class FaultRules:
    """The active rules, in the order they were added.

    ``time_source`` says how many seconds have passed (monotonic; the real clock by default):
    a throttle's ``Retry-After`` window is measured on it. A test that would otherwise sleep
    through a window sets it to a clock of its own (``mock_drive.state.faults.time_source``).
    """

    __deepcopy__ = deepcopy_attrs  # a state's copy: see model/copying.py

    def __init__(self, seed: int = 0, time_source: Callable[[], float] = time.monotonic) -> None:
        self.seed = seed
        self.rules: list[FaultRule] = []
        self._serial = 0
        self.time_source = time_source

    def add(self, data: object) -> FaultRule:
        self._serial += 1
        rule = parse_rule(data, f"rule-{self._serial}", self.seed)
        if any(r.id == rule.id for r in self.rules):
            raise InvalidRequest(f"a fault rule with id {rule.id!r} already exists")
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: str) -> bool:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != rule_id]
        return len(self.rules) != before

    def clear(self) -> None:
        self.rules.clear()

    def for_request(self, method: str, path: str, caller_email: str | None) -> list[Firing]:
        """Request-level rules (error, throttle, latency) that match this request."""
        firings = []
        for rule in self.rules:
            if rule.per_recipient or rule.effect == "notificationFailure":
                continue
            if rule.matches(method, path, caller_email):
                firing = self._fire(rule, caller_email)
                if firing is not None:
                    firings.append(firing)
        return firings

    def for_recipient(
        self, method: str, path: str, caller_email: str | None, address: str, effect: str
    ) -> FaultRule | None:
        """The first ``effect`` rule (notificationFailure or error) that fires for ``address``."""
        for rule in self.rules:
            if rule.effect != effect or not rule.matches(method, path, caller_email):
                continue
            if rule.matches_address(address) and rule.count_and_fire():
                return rule
        return None

    def _fire(self, rule: FaultRule, caller_email: str | None) -> Firing | None:
        if rule.effect != "throttle":
            return Firing(rule) if rule.count_and_fire() else None
        who = caller_email or ""
        now = self.time_source()
        if rule._blocked_until.get(who, 0.0) > now:
            rule.violations += 1  # retried before Retry-After elapsed
            return Firing(rule, applies=rule.throttle_early_retries, early_retry=True)
        if rule.count_and_fire():
            rule._blocked_until[who] = now + rule.retry_after
            return Firing(rule)
        return None

    def to_list(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.rules]
