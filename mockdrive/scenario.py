"""Scenario files (YAML) → State.

A scenario lists users and drives; each drive has a ``root`` whose ``children`` nest folders
(``folder: {}``) and files (``file: {mimeType}``, ``size`` or ``content``), each with optional
``permissions`` (``user`` or ``email``, ``roles``) and ``inherits: false``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .model.identity import User
from .model.state import State
from .model.tree import Drive, Item


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the message names the file, the place and the reason."""


def load_scenario(path: str | Path) -> State:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ScenarioError(f"{path}: cannot read: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ScenarioError(f"{path}: not valid YAML: {error}") from None
    return build_state(data, source=str(path))


def build_state(data: Any, source: str = "<scenario>") -> State:
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: the document must be a mapping")
    try:
        return _Builder(data, source).build()
    except ScenarioError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise ScenarioError(f"{source}: {error}") from None


class _Builder:
    def __init__(self, data: dict, source: str) -> None:
        self.data = data
        self.source = source
        self.state = State(seed=int(data.get("seed", 0)))

    def fail(self, where: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {where}: {message}")

    def build(self) -> State:
        for raw in self.data.get("users", []):
            self.state.add_user(
                raw["displayName"],
                raw["email"],
                token=raw.get("token"),
                alias=raw.get("alias"),
                user_id=raw.get("id"),
            )
        for index, raw in enumerate(self.data.get("drives", [])):
            where = f"drives[{index}]"
            owner = self._user(raw.get("owner"), f"{where}.owner")
            drive = self.state.add_drive(
                owner,
                drive_type=raw.get("driveType", "business"),
                name=raw.get("name", "OneDrive"),
                drive_id=raw.get("id"),
                also_default_for=tuple(raw.get("defaultFor", ())),
            )
            root = self.state.store.root(drive)
            self._fill(drive, root, raw.get("root") or {}, f"{where}.root")
        return self.state

    def _user(self, key: Any, where: str) -> User:
        user = None
        if isinstance(key, str):
            user = self.state.directory.by_id(key) or self.state.directory.by_email(key)
        if user is None:
            raise self.fail(where, f"{key!r} is not a user declared under 'users'")
        return user

    def _fill(self, drive: Drive, item: Item, node: dict, where: str) -> None:
        for index, grant in enumerate(node.get("permissions", [])):
            self._grant(item, grant, f"{where}.permissions[{index}]")
        if node.get("inherits") is False:
            item.inherits = False
        for index, child in enumerate(node.get("children", [])):
            child_where = f"{where}.children[{index}]"
            is_folder = "file" not in child
            file_facet = child.get("file") or {}
            content = child.get("content")
            extra: dict[str, Any] = {}
            if not is_folder:
                extra["content"] = content.encode() if isinstance(content, str) else b""
                extra["mime_type"] = file_facet.get("mimeType")
                if content is None:
                    extra["size"] = int(child.get("size", 0))
            path = self.state.store.path_of(item).rstrip("/") + "/" + str(child.get("name"))
            created = self.state.make_path(drive, path, is_folder=is_folder, **extra)
            self._fill(drive, created, child, child_where)

    def _grant(self, item: Item, grant: dict, where: str) -> None:
        roles = grant.get("roles", ["read"])
        if "user" in grant:
            self.state.grant(item, self._user(grant["user"], f"{where}.user"), roles)
            return
        raise self.fail(where, "a permission needs 'user'")
