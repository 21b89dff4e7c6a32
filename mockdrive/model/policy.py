"""The tenant's sharing policy: checked for every recipient before anything is granted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidRequest, NotAllowed

DEFAULT_MAX_RECIPIENTS = 500


@dataclass(slots=True)
class SharingPolicy:
    external_sharing: bool = True
    allowed_domains: list[str] | None = None  # None: any outside domain
    blocked_domains: list[str] = field(default_factory=list)
    max_recipients: int = DEFAULT_MAX_RECIPIENTS

    @classmethod
    def from_dict(cls, data: object) -> SharingPolicy:
        if not isinstance(data, dict):
            raise InvalidRequest("policy must be an object")
        known = {"externalSharing", "allowedDomains", "blockedDomains", "maxRecipients"}
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
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(d, str) for d in value)
            ):
                raise InvalidRequest(f"policy {name} must be a list of domain names")
        limit = data.get("maxRecipients", DEFAULT_MAX_RECIPIENTS)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise InvalidRequest("policy maxRecipients must be a whole number of at least 1")
        return cls(
            external_sharing=external,
            allowed_domains=[d.casefold() for d in allowed] if allowed is not None else None,
            blocked_domains=[d.casefold() for d in blocked],
            max_recipients=limit,
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "externalSharing": self.external_sharing,
            "blockedDomains": list(self.blocked_domains),
            "maxRecipients": self.max_recipients,
        }
        if self.allowed_domains is not None:
            data["allowedDomains"] = list(self.allowed_domains)
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
