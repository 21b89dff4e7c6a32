"""The tenant's sharing policy: checked for every recipient before anything is granted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .copying import deepcopy_slots
from .errors import InvalidRequest, NotAllowed
from .ranges import whole_number

DEFAULT_MAX_RECIPIENTS = 500
# The ranges of the numbers (docs/number-ranges.md): each far past what a test needs, and
# each keeps what is computed from it inside the clock's range.
MAX_RECIPIENTS_LIMIT = 1_000_000
MAX_LINK_DAYS = 36_500  # an anonymous link's longest life: a century
MAX_SHARED_WITH_ME_DELAY = 10 * 366 * 86_400  # ten years, in seconds
LINK_SCOPES = ("anonymous", "organization", "users")


@dataclass(slots=True)
class SharingPolicy:
    __deepcopy__ = deepcopy_slots  # a state's copy: see model/copying.py
    external_sharing: bool = True
    allowed_domains: list[str] | None = None  # None: any outside domain
    blocked_domains: list[str] = field(default_factory=list)
    max_recipients: int = DEFAULT_MAX_RECIPIENTS
    # sharing links (createLink): anyone-links allowed, their longest life, the default scope
    anonymous_links: bool = True
    anonymous_link_max_days: int | None = None  # None: no limit
    default_link_scope: str = "anonymous"
    shared_with_me_delay_seconds: int = 0  # sharedWithMe shows a share this long after it
    # upload sessions: False refuses what the service refuses (fragments that are not multiples
    # of 320 KiB but the last, a bearer token on the uploadUrl); True lets both through
    lenient_upload_sessions: bool = False

    @classmethod
    def from_dict(cls, data: object) -> SharingPolicy:
        if not isinstance(data, dict):
            raise InvalidRequest("policy must be an object")
        known = {"externalSharing", "allowedDomains", "blockedDomains", "maxRecipients"}
        known |= set(_LINK_KEYS)
        for key in data:
            if key not in known:
                raise InvalidRequest(
                    f"unknown policy field {key!r} (known: {', '.join(sorted(known))})"
                )
        external = data.get("externalSharing", True)
        if not isinstance(external, bool):
            raise InvalidRequest("policy externalSharing must be true or false")
        allowed = data.get("allowedDomains")
        blocked = data.get("blockedDomains", [])
        for name, value in (("allowedDomains", allowed), ("blockedDomains", blocked)):
            if (value is not None or name == "blockedDomains") and (  # null: any (allowed only)
                not isinstance(value, list) or not all(isinstance(d, str) for d in value)
            ):
                raise InvalidRequest(f"policy {name} must be a list of domain names")
        limit = whole_number(data.get("maxRecipients", DEFAULT_MAX_RECIPIENTS),
                             "policy maxRecipients", 1, MAX_RECIPIENTS_LIMIT)  # fmt: skip
        return cls(
            external_sharing=external,
            allowed_domains=[d.casefold() for d in allowed] if allowed is not None else None,
            blocked_domains=[d.casefold() for d in blocked],
            max_recipients=limit,
            **_link_settings(data),
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "externalSharing": self.external_sharing,
            "blockedDomains": list(self.blocked_domains),
            "maxRecipients": self.max_recipients,
        }
        if self.allowed_domains is not None:
            data["allowedDomains"] = list(self.allowed_domains)
        defaults = SharingPolicy()
        for key, attribute in _LINK_KEYS.items():  # written only when set, as scenarios say it
            if getattr(self, attribute) != getattr(defaults, attribute):
                data[key] = getattr(self, attribute)
        return data

    @property
    def is_default(self) -> bool:
        return self == SharingPolicy()

    def check_count(self, count: int) -> None:
        if count > self.max_recipients:
            raise InvalidRequest(
                f"an invitation may name at most {self.max_recipients} recipients, not {count}",
                "tooManyRecipients",
            )

    def check_external(self, address: str) -> None:
        """Refuse an outside address the policy does not allow (Graph: 403 notAllowed)."""
        domain = address.rpartition("@")[2].casefold()
        if not self.external_sharing:
            raise NotAllowed(
                f"sharing with people outside the organisation is turned off ({address})",
                "externalSharingDisabled",
            )
        if domain in self.blocked_domains or (
            self.allowed_domains is not None and domain not in self.allowed_domains
        ):
            raise NotAllowed(
                f"the sharing policy does not allow sharing with {domain}", "domainNotAllowed"
            )


_LINK_KEYS = {
    "anonymousLinks": "anonymous_links",
    "anonymousLinkMaxDays": "anonymous_link_max_days",
    "defaultLinkScope": "default_link_scope",
    "sharedWithMeDelaySeconds": "shared_with_me_delay_seconds",
    "lenientUploadSessions": "lenient_upload_sessions",
}


def _link_settings(data: dict[str, Any]) -> dict[str, Any]:
    """The link settings of a policy document, checked (see README, 'Sharing links')."""
    settings: dict[str, Any] = {}
    anonymous = data.get("anonymousLinks", True)
    if not isinstance(anonymous, bool):
        raise InvalidRequest("policy anonymousLinks must be true or false")
    settings["anonymous_links"] = anonymous
    days = data.get("anonymousLinkMaxDays")
    if days is not None:
        days = whole_number(days, "policy anonymousLinkMaxDays", 1, MAX_LINK_DAYS)
    settings["anonymous_link_max_days"] = days
    scope = data.get("defaultLinkScope", "anonymous")
    if scope not in LINK_SCOPES:
        raise InvalidRequest(f"policy defaultLinkScope must be one of {', '.join(LINK_SCOPES)}")
    settings["default_link_scope"] = scope
    settings["shared_with_me_delay_seconds"] = whole_number(
        data.get("sharedWithMeDelaySeconds", 0), "policy sharedWithMeDelaySeconds", 0,
        MAX_SHARED_WITH_ME_DELAY,
    )  # fmt: skip
    lenient = data.get("lenientUploadSessions", False)
    if not isinstance(lenient, bool):
        raise InvalidRequest("policy lenientUploadSessions must be true or false")
    settings["lenient_upload_sessions"] = lenient
    return settings
