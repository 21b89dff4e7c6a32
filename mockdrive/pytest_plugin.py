"""The ``mock_drive`` pytest fixture: one server per test process, a fresh state per test."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from .api.graph import render_permission
from .cli import default_state
from .model.identity import User
from .model.permissions import effective_permissions
from .model.policy import SharingPolicy
from .model.state import State
from .model.tree import Drive, Item
from .outcomes import Faults, Requests, set_policy
from .server import MockDrive

OWNER_TOKEN = "owner-token"


class MockDriveFixture:
    """Arrange and inspect a running mockdrive from a test. Every call runs on the server loop."""

    def __init__(self, server: MockDrive) -> None:
        self.server = server

    # -- where it is --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.server.url

    @property
    def graph_url(self) -> str:
        return self.server.graph_url

    @property
    def state(self) -> State:
        return self.server.state

    @property
    def owner(self) -> User:
        return self.server.call(lambda: self.state.user("ada@contoso.example"))

    @property
    def token(self) -> str:
        """The bearer token of the default drive's owner."""
        return OWNER_TOKEN

    @property
    def drive(self) -> Drive:
        return self.server.call(lambda: self.state.default_drive(self.owner.id))

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    # -- arrange ------------------------------------------------------------------------------
    def add_user(
        self, display_name: str, email: str, *, token: str | None = None, alias: str | None = None
    ) -> User:
        """A directory user; the token defaults to ``<local part of the e-mail>-token``."""
        token = token or email.split("@")[0] + "-token"
        return self.server.call(
            lambda: self.state.add_user(display_name, email, token=token, alias=alias)
        )

    def add_drive(self, owner: User, **options: Any) -> Drive:
        return self.server.call(lambda: self.state.add_drive(owner, **options))

    def add_folder(self, path: str, *, drive: Drive | None = None) -> Item:
        return self.server.call(lambda: self.state.make_path(drive or self.drive, path))

    def add_file(
        self,
        path: str,
        content: bytes | str = b"",
        *,
        size: int | None = None,
        mime_type: str | None = None,
        drive: Drive | None = None,
    ) -> Item:
        data = content.encode() if isinstance(content, str) else content
        return self.server.call(
            lambda: self.state.make_path(
                drive or self.drive,
                path,
                is_folder=False,
                content=data,
                mime_type=mime_type,
                size=size,
            )
        )

    def grant(self, path: str, user: User, roles: list[str], *, drive: Drive | None = None):
        return self.server.call(lambda: self.state.grant(self.item(path, drive=drive), user, roles))

    # -- inspect ------------------------------------------------------------------------------
    def item(self, path: str, *, drive: Drive | None = None) -> Item:
        def find() -> Item:
            target = drive or self.drive
            return self.state.store.resolve(self.state.store.root(target), path)

        return self.server.call(find)

    def permissions(self, path: str, *, drive: Drive | None = None) -> list[dict[str, Any]]:
        """The item's effective permissions, rendered as Graph would list them."""

        def render() -> list[dict[str, Any]]:
            item = self.item(path, drive=drive)
            return [
                render_permission(self.state, e)
                for e in effective_permissions(self.state.store, item)
            ]

        return self.server.call(render)

    @property
    def outbox(self) -> list[dict[str, Any]]:
        return self.server.call(self.state.outbox.to_list)

    @property
    def faults(self) -> Faults:
        """Fault rules: ``mock_drive.faults.add(effect="throttle", retryAfter=2)``."""
        return Faults(self.server)

    @property
    def requests(self) -> Requests:
        """The request journal: ``mock_drive.requests.assert_called("POST", path, json=...)``."""
        return Requests(self.server)

    def set_policy(self, **policy: Any) -> SharingPolicy:
        """The tenant's sharing policy: ``set_policy(externalSharing=False)``."""
        return set_policy(self.server, **policy)

    def export(self) -> dict[str, Any]:
        return self.server.call(self.state.export)

    def digest(self) -> str:
        """A hash of the whole exported state: equal digests mean nothing changed."""
        text = json.dumps(self.export(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="session")
def mock_drive_server() -> Iterator[MockDrive]:
    """The one server of this test process (each xdist worker has its own)."""
    server = MockDrive(default_state(OWNER_TOKEN)).start()
    yield server
    server.stop()


@pytest.fixture
def mock_drive(mock_drive_server: MockDrive) -> MockDriveFixture:
    """A running mockdrive with a fresh state: one owner (``token``) and an empty drive."""
    mock_drive_server.call(lambda: mock_drive_server.backend.reset(default_state(OWNER_TOKEN)))
    return MockDriveFixture(mock_drive_server)
