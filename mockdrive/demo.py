"""Faker-seeded demo data: a believable organisation as a scenario (same seed → same data).

``demo_scenario(seed, users, items)`` returns scenario data (the format of ``fixtures/*.yaml``):
internal staff and external guests, department groups, each department's document library and a
few personal OneDrives, nested folders with realistic names, files whose mimeType and size match
their extension, folder shares that children inherit, direct file shares, a folder that stops
inheriting, and pending invitations to outside addresses.
"""

from __future__ import annotations

import base64
import bisect
import itertools
import random
import re
from typing import Any

from faker import Faker

from .model.state import State
from .scenario import build_state

DEFAULT_USERS = 25
DEFAULT_ITEMS = 500
DEPARTMENTS = ["Finance", "Marketing", "Engineering", "Sales", "Human Resources", "Legal"]
TOP_FOLDERS = {
    "Finance": ["Budgets", "Invoices", "Audit", "Forecasts", "Payroll", "Tax"],
    "Marketing": ["Campaigns", "Brand Assets", "Events", "Social Media", "Press"],
    "Engineering": ["Architecture", "Specs", "Releases", "Runbooks", "Research"],
    "Sales": ["Clients", "Proposals", "Contracts", "Pipeline", "Training"],
    "Human Resources": ["Onboarding", "Policies", "Recruiting", "Reviews", "Benefits"],
    "Legal": ["Contracts", "Compliance", "Litigation", "NDAs", "Trademarks"],
    "personal": ["Documents", "Projects", "Meeting Notes", "Pictures", "Archive", "Templates"],
}
SUB_FOLDERS = [
    "2022", "2023", "2024", "Q1", "Q2", "Q3", "Q4", "Drafts", "Final", "Archive", "Shared",
    "Templates", "Working", "Reference", "Old", "Review", "Signed", "Scans", "Exports",
]  # fmt: skip
DOCUMENT_KINDS = [
    "Report", "Budget", "Plan", "Minutes", "Proposal", "Invoice", "Summary", "Draft", "Contract",
    "Roadmap", "Forecast", "Checklist", "Notes", "Overview", "Review", "Brief", "Agenda", "Memo",
]  # fmt: skip
# extension → (mimeType, smallest size, largest size)
FILE_TYPES = {
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        12_000,
        900_000,
    ),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 8_000, 2_500_000),
    "pptx": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        60_000,
        15_000_000,
    ),
    "pdf": ("application/pdf", 20_000, 8_000_000),
    "png": ("image/png", 15_000, 4_000_000),
    "jpg": ("image/jpeg", 40_000, 6_000_000),
    "csv": ("text/csv", 500, 3_000_000),
    "txt": ("text/plain", 100, 40_000),
    "md": ("text/markdown", 200, 30_000),
    "mp4": ("video/mp4", 2_000_000, 400_000_000),
    "zip": ("application/zip", 100_000, 80_000_000),
}
FILE_WEIGHTS = [22, 18, 8, 16, 7, 7, 6, 5, 4, 2, 5]
# ``rng.choices(extensions, FILE_WEIGHTS)[0]`` drawn as it draws it (its running sums, one
# ``random()``, a bisection): the same extension, ~5x cheaper once per generated file
_FILE_SUMS = list(itertools.accumulate(FILE_WEIGHTS))
_FILE_TOTAL = _FILE_SUMS[-1] + 0.0
MAX_DEPTH = 6


def demo_scenario(
    seed: int = 0, users: int = DEFAULT_USERS, items: int = DEFAULT_ITEMS
) -> dict[str, Any]:
    """A believable organisation with ``users`` people and about ``items`` drive items."""
    return _Organisation(seed, max(users, 2), max(items, 0)).scenario()


def demo_state(seed: int = 0, users: int = DEFAULT_USERS, items: int = DEFAULT_ITEMS) -> State:
    """``demo_scenario`` loaded into a fresh State."""
    return build_state(demo_scenario(seed, users, items), source=f"<demo seed={seed}>")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower()) or "org"


class _Organisation:
    def __init__(self, seed: int, users: int, items: int) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.seed = seed
        self.user_count = users
        self.item_count = items
        company = self.fake.company()
        self.company = company
        self.domain = _slug(company.split(",")[0].split(" ")[0]) + ".example"
        self.partners = [
            _slug(self.fake.company().split(",")[0].split(" ")[0]) + "-partner.example"
            for _ in range(3)
        ]
        self.topics = [self.fake.bs().split(" ")[-1].title() for _ in range(40)]
        self.clients = [self.fake.company().replace(",", "") for _ in range(30)]
        self.users: list[dict[str, Any]] = []
        self.guests: list[dict[str, Any]] = []
        self._emails: set[str] = set()
        self._tokens: set[str] = set()
        self._serial = 0

    # -- ids --------------------------------------------------------------------------------
    def _item_id(self) -> str:
        raw = self.rng.getrandbits(160).to_bytes(20, "big")
        return "01" + base64.b32encode(raw).decode("ascii")[:32]

    def _drive_id(self) -> str:
        raw = self.rng.getrandbits(240).to_bytes(30, "big")
        return "b!" + base64.urlsafe_b64encode(raw).decode("ascii")[:40]

    def _guid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    # -- directory --------------------------------------------------------------------------
    def _person(self, domain: str, guest: bool) -> dict[str, Any]:
        first, last = self.fake.first_name(), self.fake.last_name()
        local = _slug(first) + "." + _slug(last)
        suffix = "-guest-token" if guest else "-token"
        # the token is made of the address's local part only: guests of two partner domains
        # with one name would share it, so the number goes on until both are new
        email, token, n = f"{local}@{domain}", local + suffix, 1
        while email.casefold() in self._emails or token in self._tokens:
            n += 1
            email, token = f"{local}{n}@{domain}", f"{local}{n}{suffix}"
        self._emails.add(email.casefold())
        self._tokens.add(token)
        name = f"{first} {last}" + (" (Guest)" if guest else "")
        return {"id": self._guid(), "displayName": name, "email": email, "token": token}

    def scenario(self) -> dict[str, Any]:
        guests = max(1, self.user_count // 5)
        for _ in range(self.user_count - guests):
            self.users.append(self._person(self.domain, guest=False))
        for index in range(guests):
            self.guests.append(self._person(self.partners[index % len(self.partners)], True))
        departments = DEPARTMENTS[: max(2, min(len(DEPARTMENTS), len(self.users) // 3))]
        groups = []
        for name in departments:
            size = min(len(self.users), 2 + len(self.users) // len(departments))
            members = self.rng.sample(self.users, k=max(1, size))
            groups.append(
                {
                    "id": self._guid(),
                    "displayName": name,
                    "email": _slug(name) + "@" + self.domain,
                    "members": [m["email"] for m in members],
                    "_members": members,
                }
            )
        drives = [self._onedrive(person) for person in self.users[: min(len(self.users), 4)]]
        drives.extend(self._library(group) for group in groups)
        self._fill_drives(drives)
        for group in groups:
            del group["_members"]
        for drive in drives:
            del drive["_kind"]
        return {
            "seed": self.seed,
            "users": self.users + self.guests,
            "groups": groups,
            "drives": drives,
        }

    # -- drives -----------------------------------------------------------------------------
    def _library(self, group: dict[str, Any]) -> dict[str, Any]:
        owner = group["_members"][0]
        return {
            "id": self._drive_id(),
            "owner": owner["email"],
            "driveType": "documentLibrary",
            "name": group["displayName"],
            "defaultFor": [group["id"]],
            "root": {
                "id": self._item_id(),
                "permissions": [
                    {"id": self._guid().upper(), "group": group["id"], "roles": ["write"]}
                ],
                "children": [],
            },
            "_kind": group["displayName"],
        }

    def _onedrive(self, person: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self._drive_id(),
            "owner": person["email"],
            "driveType": "business",
            "name": "OneDrive",
            "root": {"id": self._item_id(), "children": []},
            "_kind": "personal",
        }

    # -- trees ------------------------------------------------------------------------------
    def _fill_drives(self, drives: list[dict[str, Any]]) -> None:
        weights = [3 if d["_kind"] != "personal" else 2 for d in drives]
        total = sum(weights)
        budgets = [self.item_count * w // total for w in weights]
        budgets[0] += self.item_count - sum(budgets)
        for drive, budget in zip(drives, budgets, strict=True):
            folders = self._grow(drive, budget)
            self._share(drive, folders)

    def _grow(self, drive: dict[str, Any], budget: int) -> list[tuple[dict, int]]:
        """Add ``budget`` items below the drive's root; returns the folders as (node, depth)."""
        rng = self.rng
        root = drive["root"]
        names: dict[int, set[str]] = {id(root): set()}
        folders: list[tuple[dict, int]] = [(root, 0)]
        tops = list(TOP_FOLDERS[drive["_kind"]])
        rng.shuffle(tops)
        for name in tops[: min(len(tops), max(0, budget // 8), rng.randint(3, len(tops)))]:
            folders.append(self._add(root, names, self._folder(name), 1))
            budget -= 1
        extensions = list(FILE_TYPES)
        for _ in range(max(0, budget)):
            parent, depth = folders[rng.randrange(len(folders))]
            if depth < MAX_DEPTH and rng.random() < 0.12:
                if rng.random() < 0.5:
                    name = SUB_FOLDERS[rng.randrange(len(SUB_FOLDERS))]
                elif rng.random() < 0.5:
                    name = self.clients[rng.randrange(len(self.clients))]
                else:
                    name = self.topics[rng.randrange(len(self.topics))]
                folders.append(self._add(parent, names, self._folder(name), depth + 1))
            else:
                at = bisect.bisect(_FILE_SUMS, rng.random() * _FILE_TOTAL, 0, len(extensions) - 1)
                ext = extensions[at]
                self._add(parent, names, self._file(ext), depth + 1)
        return folders[1:]

    def _add(self, parent: dict, names: dict[int, set[str]], node: dict, depth: int):
        taken = names[id(parent)]
        name, n = node["name"], 1
        while name.casefold() in taken:
            n += 1
            stem, dot, ext = node["name"].rpartition(".")
            name = f"{stem} ({n}).{ext}" if dot and "file" in node else f"{node['name']} ({n})"
        taken.add(name.casefold())
        node["name"] = name
        parent.setdefault("children", []).append(node)
        if "folder" in node:
            names[id(node)] = set()
        return node, depth

    def _folder(self, name: str) -> dict[str, Any]:
        return {"id": self._item_id(), "name": name, "folder": {}}

    def _file(self, ext: str) -> dict[str, Any]:
        rng = self.rng
        mime, low, high = FILE_TYPES[ext]
        if ext in ("png", "jpg"):
            stem = f"IMG_{rng.randint(1000, 9999)}"
        elif ext in ("mp4", "zip") or rng.random() < 0.25:
            stem = f"{self.clients[rng.randrange(len(self.clients))]} {self._kind()}"
        else:
            stem = f"{self.topics[rng.randrange(len(self.topics))]} {self._kind()}"
        size = int(low * (high / low) ** rng.random())
        return {
            "id": self._item_id(),
            "name": f"{stem}.{ext}",
            "file": {"mimeType": mime},
            "size": size,
        }

    def _kind(self) -> str:
        return DOCUMENT_KINDS[self.rng.randrange(len(DOCUMENT_KINDS))]

    # -- shares -----------------------------------------------------------------------------
    def _share(self, drive: dict[str, Any], folders: list[tuple[dict, int]]) -> None:
        """Folder shares (inherited below), direct file shares, one folder that stops
        inheriting, and pending invitations to outside addresses."""
        rng = self.rng
        if not folders:
            return
        owner = drive["owner"]
        colleagues = [u for u in self.users if u["email"] != owner]
        shares = max(2, self.item_count // (300 * 10))
        for _ in range(shares):
            node, _depth = folders[rng.randrange(len(folders))]
            if colleagues:
                person = colleagues[rng.randrange(len(colleagues))]
                self._grant(node, {"user": person["email"]}, rng.choice(["read", "write"]))
        files = [c for node, _ in folders for c in node.get("children", []) if "file" in c]
        for _ in range(min(len(files), shares)):
            node = files[rng.randrange(len(files))]
            guest = self.guests[rng.randrange(len(self.guests))]
            self._grant(node, {"user": guest["email"]}, "read")
        private, _depth = folders[rng.randrange(len(folders))]
        private["inherits"] = False
        if colleagues:
            keeper = colleagues[rng.randrange(len(colleagues))]
            self._grant(private, {"user": keeper["email"]}, "write")
        for _ in range(max(1, shares // 2)):
            node, _depth = folders[rng.randrange(len(folders))]
            self._grant(node, {"email": self._outside_address()}, "read")

    def _grant(self, node: dict[str, Any], grantee: dict[str, str], role: str) -> None:
        permissions = node.setdefault("permissions", [])
        key, value = next(iter(grantee.items()))
        if any(p.get(key) == value for p in permissions):
            return
        permissions.append({"id": self._guid().upper(), **grantee, "roles": [role]})

    def _outside_address(self) -> str:
        while True:
            first, last = self.fake.first_name(), self.fake.last_name()
            partner = self.partners[self.rng.randrange(len(self.partners))]
            email = f"{_slug(first)}.{_slug(last)}@{partner}"
            if email.casefold() not in self._emails:
                self._emails.add(email.casefold())
                return email
