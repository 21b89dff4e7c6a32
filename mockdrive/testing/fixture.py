"""The handle the ``mock_drive`` fixture gives a test: arrange and inspect a running mockdrive.

It lives apart from :mod:`mockdrive.testing.plugin` so that the plugin, which pytest imports in
every run of a user's project, stays cheap: this module (and the server) load on first use.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..api.graph.permissions import list_permissions
from ..api.graph.render import OWNER_VIEW, render_item
from ..model import onehub
from ..model.entra import (
    ACCESS_TOKEN_SECONDS,
    DEFAULT_DELEGATED_SCOPES,
    TEST_CLIENT_ID,
    App,
    EntraError,
)
from ..model.identity import Group, User
from ..model.permissions import ROLE_RANK, Permission
from ..model.policy import SharingPolicy
from ..model.sharing import EMAIL_PATTERN
from ..model.state import State
from ..model.tree import Drive, Item
from ..scenario import build_state, export_scenario
from ..server import MockDrive
from .handles import ClockHandle, Faults, Requests, set_policy
from .oracle import Access, Changes, Snapshot, access, diff, outside_caller, snapshot
from .scenarios import scenario_file, scenario_state

if TYPE_CHECKING:
    import httpx
    import requests


class MockDriveFixture:
    """Arrange and inspect a running mockdrive from a test. Every call runs on the server loop."""

    def __init__(self, server: MockDrive) -> None:
        self.server = server
        self.scenario_dirs: list[Path] = []  # where a relative ``load()`` path is looked for

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
    def ca_path(self) -> str | None:
        """The CA bundle (PEM) to verify the server with, under ``tls=True``; else None."""
        return self.server.ca_path

    @property
    def owner(self) -> User:
        """The owner of the first drive (``ada@contoso.example`` without a scenario)."""

        def find() -> User:
            first = next(iter(self.state.store.drives.values()), None)
            if first is None:
                raise LookupError(
                    "the state served has no drive, so no owner: add_drive(owner) makes one, "
                    "or load a scenario with drives"
                )
            return self.state.directory.users[first.owner_id]

        return self.server.call(find)

    @property
    def token(self) -> str:
        """The bearer token of the default drive's owner."""
        return self.server.owner_token()

    def user(self, key: str) -> User:
        """A directory user by e-mail or id."""
        return self.server.call(lambda: self.state.user(key))

    @property
    def drive(self) -> Drive:
        return self.server.call(lambda: self.state.default_drive(self.owner.id))

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    # -- ready clients (built once per server, reused by every test) --------------------------
    @property
    def session(self) -> requests.Session:
        """A keep-alive ``requests.Session`` as the owner; relative URLs are Graph paths:
        ``mock_drive.session.get("/me/drive")``."""
        return self.server.clients.session()

    def session_for(self, user: User | str) -> requests.Session:
        """The same, as ``user`` (a User, or an e-mail or id)."""
        return self.server.clients.session(self._token_of(user))

    def httpx_client(self, user: User | str | None = None) -> httpx.Client:
        """An ``httpx.Client`` with ``base_url`` = the Graph URL, as the owner or ``user``."""
        return self.server.clients.httpx_client(self._token_of(user))

    def async_httpx_client(self, user: User | str | None = None) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` for the running loop, as the owner or ``user``; its
        connections close as the loop shuts down (the end of the test, or of ``asyncio.run``)."""
        return self.server.clients.async_httpx_client(self._token_of(user))

    def graph_client(self, user: User | str | None = None) -> Any:
        """A msgraph-sdk ``GraphServiceClient`` pointed at the mock (token, base URL, allowed
        hosts and CA done), as the owner or ``user``. Needs msgraph-sdk installed. It may be made
        outside a loop; its connections close as the loop that opened them shuts down."""
        return self.server.clients.graph_client(self._token_of(user))

    def _token_of(self, user: User | str | None) -> str | None:
        if user is None:
            return None  # the owner's, looked up per request
        if isinstance(user, str) and EMAIL_PATTERN.match(user):
            known = self.server.call(lambda: self.state.directory.by_email(user))
            if known is None:  # an invited guest, say: it needs an account to call
                raise ValueError(
                    f"{user} is not in the directory: add_user(name, {user!r}) gives it an "
                    "account and a token (what it was invited to then applies to it)"
                )
        found = user if isinstance(user, User) else self.user(user)
        if not found.token:
            raise ValueError(f"{found.email} has no token; give one with add_user(token=...)")
        return found.token

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

    def add_group(
        self,
        display_name: str,
        members: Sequence[User | str] = (),
        *,
        group_id: str | None = None,
        email: str | None = None,
    ) -> Group:
        """A group of directory users (given as User or e-mail); grant it like a user."""

        def add() -> Group:
            ids = [m.id if isinstance(m, User) else self.state.user(m).id for m in members]
            new_id = group_id or self.state.ids.guid()
            return self.state.directory.add_group(Group(new_id, display_name, ids, email))

        return self.server.call(add)

    def grant(
        self,
        path: str,
        who: User | Group | str,
        roles: Sequence[str],
        *,
        drive: Drive | None = None,
    ) -> Permission:
        """A direct permission on ``path``, as a scenario's ``permissions:`` entry would give it.

        ``who`` is a User or Group, or a string: a user's e-mail or id, a group's id or display
        name, or an address outside the directory (a pending invitation). ``roles`` are among
        ``read``, ``write``, ``owner``. Anything else raises ValueError saying what is allowed.
        Folders pass the permission on to everything below them. Delta reports it as a
        sharing change."""
        checked = _check_roles(roles)

        def apply() -> Permission:
            item = self.item(path, drive=drive)
            grantee = self._grantee(who)
            if isinstance(grantee, User):
                permission = self.state.grant(item, grantee, checked)
            else:
                holder = self.state.store.drives[item.drive_id]
                permission = Permission(
                    id=self.state.ids.guid().upper(),
                    item_id=item.id,
                    roles=checked,
                    grantee_id=grantee.id if isinstance(grantee, Group) else None,
                    invitation_email=None if isinstance(grantee, Group) else grantee,
                    invited_by=holder.owner_id,
                )
                item.permissions.append(permission)
                holder.shared_item_ids.add(item.id)
            self.state.changed(item, "sharing", granted=(permission.id,))
            return permission

        return self.server.call(apply)

    def _grantee(self, who: User | Group | str) -> User | Group | str:
        """What ``grant`` was given, resolved as a scenario resolves a permission's holder."""
        directory = self.state.directory
        if isinstance(who, User | Group):
            return who
        if not isinstance(who, str):
            raise TypeError(f"grant() takes a User, a Group or a string, not {who!r}")
        user = directory.by_email(who) or directory.by_id(who)
        if user is not None:
            return user
        group = directory.groups.get(who) or next(
            (g for g in directory.groups.values() if g.display_name.casefold() == who.casefold()),
            None,
        )
        if group is not None:
            return group
        if EMAIL_PATTERN.match(who):
            return who
        groups = ", ".join(repr(g.display_name) for g in list(directory.groups.values())[:10])
        raise ValueError(
            f"cannot grant to {who!r}: give a directory user (e-mail or id), a group (id or "
            f"display name{': ' + groups if groups else '; there are none'}) or an e-mail "
            "address outside the directory (a pending invitation)"
        )

    def stop_inheriting(self, path: str, *, drive: Drive | None = None) -> Item:
        """``inherits: false``: the item no longer gets its folders' permissions (delta reports
        it as a sharing change, and as a removal to those who saw the item through them)."""

        def apply() -> Item:
            item = self.item(path, drive=drive)
            if item.inherits:
                item.inherits = False
                self.state.changed(item, "sharing", broke=True)
            return item

        return self.server.call(apply)

    def load(self, scenario: str | Path | dict[str, Any]) -> State:
        """Replace the state by a scenario file, a shipped scenario's name (``"team"``) or
        scenario data. A relative path is looked for as the marker's is: under the rootdir,
        then beside the test file, then as a shipped name. Its clock is pinned (at the
        scenario's ``clock:`` or 2024-01-01T00:00:00Z), as the fixture's own state is."""
        if isinstance(scenario, dict):
            state = build_state(scenario)
        else:
            state = scenario_state(scenario_file(scenario, self.scenario_dirs))
        state.clock.pin()
        return self.server.reset(state)

    # -- identity (Entra) ---------------------------------------------------------------------
    def token_for(
        self,
        user: User | str,
        scopes: Sequence[str] | None = None,
        client_id: str | None = None,
        *,
        lifetime: int = ACCESS_TOKEN_SECONDS,
    ) -> str:
        """A delegated access token (a JWT) for ``user`` (a User, or an e-mail or id) with
        ``scp`` = ``scopes`` (default: ``DEFAULT_DELEGATED_SCOPES``), as ``client_id`` (default:
        the fixture's own public client). No consent is checked: the test says what it holds."""

        def issue() -> str:
            who = user if isinstance(user, User) else self.state.user(user)
            entra = self.state.entra
            app = _known_app(self.state, client_id or TEST_CLIENT_ID)
            granted = tuple(DEFAULT_DELEGATED_SCOPES if scopes is None else scopes)
            now = self.state.clock.moment()
            return entra.access_token(now, app, user=who, scopes=granted, lifetime=lifetime)

        return self.server.call(issue)

    def app_token(self, client_id: str, *, lifetime: int = ACCESS_TOKEN_SECONDS) -> str:
        """An app-only access token (a JWT) for ``client_id``, with the app's ``roles``."""

        def issue() -> str:
            entra = self.state.entra
            app = _known_app(self.state, client_id)
            return entra.access_token(self.state.clock.moment(), app, lifetime=lifetime)

        return self.server.call(issue)

    def app(
        self,
        client_id: str,
        *,
        secret: str | None = None,
        display_name: str | None = None,
        roles: Sequence[str] = (),
        redirect_uris: Sequence[str] = (),
        drives: Sequence[Drive | str] = (),
    ) -> App:
        """Declare an app registration, as a scenario's ``apps:`` entry would: confidential
        with ``secret``, public without. Once one app is declared, undeclared client ids are
        refused (AADSTS700016), but for the well-known public clients."""

        def add() -> App:
            ids = [d.id if isinstance(d, Drive) else d for d in drives]
            for drive_id in ids:
                if drive_id not in self.state.store.drives:
                    raise ValueError(f"{drive_id!r} is not a drive id")
            made = App(client_id, display_name or client_id, secret, list(redirect_uris),
                       list(dict.fromkeys(roles)), ids)  # fmt: skip
            return self.state.entra.add_app(made)

        return self.server.call(add)

    def refresh_token_for(
        self, user: User | str, client_id: str, scopes: Sequence[str] | None = None
    ) -> str:
        """A refresh token of ``user`` for ``client_id`` (what a sign-in would have left, e.g.
        in a sync client's config), good for ``scopes`` (default: DEFAULT_DELEGATED_SCOPES)."""

        def issue() -> str:
            who = user if isinstance(user, User) else self.state.user(user)
            entra = self.state.entra
            _known_app(self.state, client_id)
            granted = (*(DEFAULT_DELEGATED_SCOPES if scopes is None else scopes), "offline_access")
            now = self.state.clock.moment()
            return entra.issue_refresh_token(now, who, client_id, tuple(dict.fromkeys(granted)))

        return self.server.call(issue)

    @property
    def tenant_id(self) -> str:
        return self.server.call(lambda: self.state.entra.tenant_id)

    @property
    def authority(self) -> str:
        """The mock's origin as an Entra authority host: azure-identity's ``authority=`` (with
        ``tenant_id=mock_drive.tenant_id``). It is https only: use ``tls=True`` and trust
        ``ca_path``. MSAL wants the tenant too: ``tenant_authority``."""
        if not self.server.tls:
            raise ValueError("identity clients take https authorities only: use tls=True")
        return self.url

    @property
    def tenant_authority(self) -> str:
        """``authority`` with the tenant: MSAL's ``authority=`` (``https://host:port/tenant``)."""
        return f"{self.authority}/{self.tenant_id}"

    def device_flow(
        self,
        *,
        pending: int = 0,
        outcome: str = "approve",
        user: User | str | None = None,
        interval: int = 0,
    ) -> None:
        """How the device codes issued from now on answer their polls: ``pending`` polls
        ``authorization_pending``, then ``outcome``: ``approve`` (signed in as ``user``, default
        the default drive's owner), ``decline`` or ``expire``. ``interval`` is the wait between
        polls the device-code answer asks for (0 here, so tests do not sleep; Entra says 5)."""

        def apply() -> None:
            who = None
            if user is not None:
                who = (user if isinstance(user, User) else self.state.user(user)).id
            self.state.entra.set_device_flow(
                pending=pending, outcome=outcome, user_id=who, interval=interval
            )

        self.server.call(apply)

    # -- inspect ------------------------------------------------------------------------------
    def item(self, path: str, *, drive: Drive | None = None) -> Item:
        """The model's ``Item`` at ``path`` (attributes: ``id``, ``name``, ``size``, ``etag``...);
        ``item_json(path)`` gives it as Graph renders it."""

        def find() -> Item:
            target = drive or self.drive
            return self.state.store.resolve(self.state.store.root(target), path)

        return self.server.call(find)

    def item_json(self, path: str, *, drive: Drive | None = None) -> dict[str, Any]:
        """The driveItem at ``path`` as Graph renders it to the owner (``["id"]``, ``["eTag"]``)."""

        item = self.item(path, drive=drive)
        return self.server.call(lambda: render_item(self.state, OWNER_VIEW, item))

    def permissions(self, path: str, *, drive: Drive | None = None) -> list[dict[str, Any]]:
        """The item's effective permissions, rendered as Graph would list them."""

        item = self.item(path, drive=drive)
        return self.server.call(lambda: list_permissions(self.state, OWNER_VIEW, item))

    # -- Onehub -------------------------------------------------------------------------------
    def onehub_id(self, path: str, *, drive: Drive | None = None) -> int:
        """The Onehub id of the folder or file at ``path`` (the root folder for ``/``)."""
        item = self.item(path, drive=drive)
        return self.server.call(lambda: self.state.onehub.number("node", item.id))

    def workspace_id(self, drive: Drive | None = None) -> int:
        """The Onehub id of the workspace that is ``drive`` (default: the owner's drive)."""
        target = drive or self.drive
        return self.server.call(lambda: self.state.onehub.number("workspace", target.id))

    def accept_invitations(self, email: str) -> int:
        """Accept every pending invitation of ``email`` (the e-mail link, out of band)."""

        return self.server.call(lambda: onehub.accept_invitations_of(self.state, email))

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

    @property
    def clock(self) -> ClockHandle:
        """The virtual clock: ``mock_drive.clock.advance(days=8)`` expires what is due."""
        return ClockHandle(self.server)

    def set_policy(self, **policy: Any) -> SharingPolicy:
        """The tenant's sharing policy: ``set_policy(externalSharing=False)``."""
        return set_policy(self.server, **policy)

    # -- why, and what changed ----------------------------------------------------------------
    def access(self, user: User | str, path: str, *, drive: Drive | None = None) -> Access:
        """The user's effective roles on ``path`` and why: each permission, where it was granted,
        which folder it is inherited from, and where inheritance stops.

        ``user`` is a User, a directory user's e-mail or id, or any e-mail address the API
        takes as a recipient: an address outside the directory (an invited guest) gets what
        the API answers to it once it signs in with that address (``Access.guest`` is True)."""

        def explain() -> Access:
            return access(self.state, self._caller(user), self.item(path, drive=drive))

        return self.server.call(explain)

    def _caller(self, user: User | str) -> User:
        """Whom ``access`` asks about: a directory user, or a caller for an outside address."""
        if isinstance(user, User):
            return user
        directory = self.state.directory
        found = directory.by_id(user) or directory.by_email(user)
        if found is not None:
            return found
        if not EMAIL_PATTERN.match(user):
            return self.state.user(user)  # NotFound: no user by that id, and not an address
        group = directory.group_by_email(user)
        if group is not None:
            raise ValueError(
                f"{user!r} is the address of group {group.display_name!r}: a group never "
                "calls the API; ask about one of its members"
            )
        return outside_caller(user)

    def assert_can(self, user: User | str, role: str, path: str, **where: Any) -> Access:
        """Fail, explaining the grants found, unless ``user`` holds at least ``role``
        (``read``, ``write`` or ``owner``)."""
        _check_action(role)
        result = self.access(user, path, **where)
        if not result.can(role):
            raise AssertionError(f"{result.who} cannot {role} {result.path}\n{result.explain()}")
        return result

    def assert_cannot(self, user: User | str, role: str, path: str, **where: Any) -> Access:
        """Fail, naming the grants that allow it, if ``user`` holds ``role`` or higher."""
        _check_action(role)
        result = self.access(user, path, **where)
        if result.can(role):
            raise AssertionError(f"{result.who} can {role} {result.path}\n{result.explain()}")
        return result

    def snapshot(self) -> Snapshot:
        """Who holds which role on every item, to compare later with ``diff``."""
        return self.server.call(lambda: snapshot(self.state))

    def diff(self, before: Snapshot, after: Snapshot | None = None) -> Changes:
        """Readable changes since ``before`` (up to now, or to ``after``)."""
        return diff(before, after if after is not None else self.snapshot())

    def export(self) -> dict[str, Any]:
        """The state as scenario data (what ``GET /_mockdrive/state`` answers)."""
        return self.server.call(lambda: export_scenario(self.state))

    def digest(self) -> str:
        """A hash of the whole state: the scenario export plus what it leaves out (each item's
        version and timestamps, the outbox). Equal digests mean nothing changed."""

        def dump() -> str:
            data = export_scenario(self.state)
            data.pop("onehub", None)  # Onehub numbers on first sight: a look, not a change
            if "faults" in data:  # a rule counts what it matched: not a change of the state
                data["faults"] = [rule.definition() for rule in self.state.faults.rules]
            if not self.state.clock.moved:  # every reading ticks it (refusals too)
                data.pop("clock", None)
            data["outbox"] = self.state.outbox.to_list()
            data["versions"] = {
                item.id: [item.version, item.content_version, item.created, item.modified]
                for item in self.state.store.items.values()
            }
            return json.dumps(data, sort_keys=True)

        return hashlib.sha256(self.server.call(dump).encode()).hexdigest()


def _known_app(state: State, client_id: str) -> App:
    """The app ``client_id`` names; ValueError (with Entra's AADSTS700016 text) where the
    tenant does not know it (apps are declared and it is not one of them)."""
    try:
        return state.entra.app(client_id)
    except EntraError as error:
        raise ValueError(str(error)) from None


def _check_roles(roles: Sequence[str]) -> list[str]:
    """``grant``'s roles as a list, or ValueError naming the allowed ones."""
    allowed = ", ".join(ROLE_RANK)
    if isinstance(roles, str) or not roles:
        raise ValueError(f"roles must be a non-empty list of {allowed} (e.g. ['read']): {roles!r}")
    unknown = [r for r in roles if r not in ROLE_RANK]
    if unknown:
        raise ValueError(f"unknown role {unknown[0]!r}: roles are {allowed}")
    return list(dict.fromkeys(roles))


def _check_action(role: str) -> None:
    """``assert_can``/``assert_cannot`` take a role as the action; anything else is a mistake."""
    if role not in ROLE_RANK:
        raise ValueError(f"unknown action {role!r}: use one of {', '.join(ROLE_RANK)}")


class MockDriveApp(MockDriveFixture):
    """``mock_drive`` for aiohttp users: ``client = await aiohttp_client(mock_drive_app.app)``.

    Nothing runs on another thread: the app is served in the test's own loop, and the helpers
    work on the state directly.
    """

    def __init__(self, server: MockDrive) -> None:
        super().__init__(server)
        from ..api.app import build_app

        self.app = build_app(server.backend)
