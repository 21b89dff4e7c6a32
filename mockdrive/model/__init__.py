"""The domain model of mockdrive: pure Python, no HTTP."""

from .errors import (
    AccessDenied,
    DomainError,
    InvalidRequest,
    NameConflict,
    NotAllowed,
    NotFound,
    PreconditionFailed,
    Unauthenticated,
)
from .identity import User
from .permissions import EffectivePermission, Permission, effective_permissions, roles_of
from .state import State
from .tree import Drive, Item

__all__ = [
    "AccessDenied",
    "DomainError",
    "Drive",
    "EffectivePermission",
    "InvalidRequest",
    "Item",
    "NameConflict",
    "NotAllowed",
    "NotFound",
    "Permission",
    "PreconditionFailed",
    "State",
    "Unauthenticated",
    "User",
    "effective_permissions",
    "roles_of",
]
