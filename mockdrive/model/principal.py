"""Who a request acts for: a user with delegated scopes, an application with its roles, or a
scenario's opaque token (every scope). The pipeline resolves it once per request."""

from __future__ import annotations

from dataclasses import dataclass

from .identity import User

STATIC = "static"  # a scenario's opaque bearer token: the user, with every scope
DELEGATED = "delegated"  # a JWT for a signed-in user: its ``scp``
APPLICATION = "application"  # an app-only JWT: its ``roles``; no signed-in user


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # STATIC, DELEGATED or APPLICATION
    user: User | None  # the signed-in user; None for application tokens
    app_id: str | None  # the client id (``appid``); None for static tokens
    scopes: frozenset[str]  # delegated ``scp``
    roles: frozenset[str]  # application ``roles``
    token_id: str | None = None  # the JWT's ``uti``; None for static tokens

    @classmethod
    def static(cls, user: User) -> Principal:
        """A scenario's opaque token (or an upload URL's own): the user, with every scope.
        Immutable and the same for every request of ``user``, so made once per user."""
        made = _STATIC.get(user.id)
        if made is None or made.user is not user:
            if len(_STATIC) >= STATIC_KEPT:
                _STATIC.clear()
            made = _STATIC[user.id] = cls(STATIC, user, None, frozenset(), frozenset())
        return made

    @property
    def is_app_only(self) -> bool:
        return self.kind == APPLICATION


_STATIC: dict[str, Principal] = {}  # user id -> the static principal of that very User
STATIC_KEPT = 4096
