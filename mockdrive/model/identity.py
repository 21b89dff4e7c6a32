"""Users of the mock tenant and the bearer tokens that identify them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class User:
    id: str
    display_name: str
    email: str
    token: str | None = None
    alias: str | None = None


class Directory:
    """All users, indexed by id, case-folded e-mail, alias and token."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self._by_email: dict[str, User] = {}
        self._by_alias: dict[str, User] = {}
        self._by_token: dict[str, User] = {}

    def add(self, user: User) -> User:
        from .errors import InvalidRequest

        if user.id in self.users:
            raise InvalidRequest(f"a user with id {user.id!r} already exists")
        if user.email.casefold() in self._by_email:
            raise InvalidRequest(f"a user with e-mail {user.email!r} already exists")
        if user.token and user.token in self._by_token:
            raise InvalidRequest("two users cannot share one token")
        self.users[user.id] = user
        self._by_email[user.email.casefold()] = user
        if user.alias:
            self._by_alias[user.alias.casefold()] = user
        if user.token:
            self._by_token[user.token] = user
        return user

    def by_id(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    def by_email(self, email: str) -> User | None:
        return self._by_email.get(email.casefold())

    def by_alias(self, alias: str) -> User | None:
        return self._by_alias.get(alias.casefold())

    def by_token(self, token: str) -> User | None:
        return self._by_token.get(token)
