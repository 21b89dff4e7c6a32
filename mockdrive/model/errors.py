"""Domain errors. Each API dialect maps these onto its own status codes and envelopes."""

from __future__ import annotations


class DomainError(Exception):
    """A request the model refuses. ``inner_code`` is an optional finer-grained reason."""

    def __init__(self, message: str, inner_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.inner_code = inner_code


class Unauthenticated(DomainError):
    """No bearer token, or one that belongs to nobody."""


class InjectedFault(DomainError):
    """A fault rule's ``error`` effect: fails the request with the rule's own status and code."""

    def __init__(self, status: int, code: str, message: str, rule_id: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.rule_id = rule_id


class InvalidRequest(DomainError):
    """The request as a whole is malformed or breaks a rule (Graph: 400 invalidRequest)."""


class NotFound(DomainError):
    """The item, drive or permission does not exist or is not visible to the caller."""


class AccessDenied(DomainError):
    """The caller may see the target but lacks the role for this action."""


class NotAllowed(DomainError):
    """The action is not allowed by the system (inherited permission, owner permission, policy)."""


class NameConflict(DomainError):
    """An item of that name already exists and the conflict behaviour is ``fail``."""


class PreconditionFailed(DomainError):
    """An ``If-Match`` eTag did not match the item's current one."""
