"""Growth ratios, in process: each operation timed at a size n and at 2n in the same run.

Every request should cost O(depth + page + recipients + members it touches), so doubling the
work may at most double the time: the target is a ratio (2n / n) of at most 2.2. Operations:

- link grant against the link's members: a ``users`` link with n members is granted to n/80
  new people (``POST …/permissions/{id}/grant``; its answer lists every member);
- invite against the item's permissions: an item holding n permissions invites n/50 new people;
- delta against changes: n files created after a delta token, read to the last page (and,
  beside it, the first round without a token over n files);
- search against hits: n matching files among 2n, every page read;
- copy against copied items: a folder of n files (in folders of 100) copied;
- sharedWithMe against shares: n items shared with the caller, every page read;
- children against the folder's children: a folder of n files listed to its last page, in
  the folder's order and with ``$orderby=size desc``.

Both sizes run in one process, each with its own mockdrive on this loop (``MockDrive.
start_async``) and an aiohttp client; the repetitions alternate between the two sizes so that
a change of machine load hits both alike. A value is the median CPU time of this process (the
client's and the server's work: both run on this thread) over the repetitions after one
warm-up; CPU time moves far less than wall time on a shared machine (both are in the JSON). The
garbage collector is off while one runs, as in ``timeit``.

Usage: ``python -m benchmarks.growth [--quick] [--repeat N] [--only NAME] [--scale F]``;
``--quick`` uses sizes / 10 (CI runs it so the script never rots; nothing asserts on timing),
``--scale`` multiplies every size (a cost that is quadratic but small shows at larger sizes).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

try:
    from . import _common as common
except ImportError:  # run as a script
    import _common as common

from mockdrive.model import delta
from mockdrive.model.identity import User
from mockdrive.model.ids import EPOCH
from mockdrive.model.permissions import Permission
from mockdrive.model.state import State
from mockdrive.model.tree import Drive, Item
from mockdrive.scenario.links import link_from_data
from mockdrive.server import MockDrive

OWNER_TOKEN = "ada-token"
OTHER_TOKEN = "bob-token"
TARGET = 2.2  # work x2 -> time at most x2.2
FOLDER_SIZE = 100  # files per folder where a size is spread over folders

# One repetition: (client, server, repetition number) -> the requests' work, checked.
Operation = Callable[[aiohttp.ClientSession, MockDrive, int], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    name: str
    figure: str
    doubled: str  # what grows with n, for the table
    size: int  # n of the full run
    build: Callable[[int], tuple[State, Operation]]


# -- states --------------------------------------------------------------------------------------
def owner_state() -> tuple[State, User, Drive]:
    state = State(seed=1)
    owner = state.add_user("Ada Owner", "ada@contoso.example", token=OWNER_TOKEN)
    return state, owner, state.add_drive(owner)


def spread_files(state: State, owner: User, folder: Item, names: list[str]) -> None:
    """Create files ``names`` below ``folder``, FOLDER_SIZE to a subfolder."""
    for start in range(0, len(names), FOLDER_SIZE):
        sub = state.create_item(owner, folder, f"part{start // FOLDER_SIZE}", is_folder=True)
        for name in names[start : start + FOLDER_SIZE]:
            state.create_item(owner, sub, name, is_folder=False, content=b"x")


def addresses(prefix: str, count: int) -> list[dict[str, str]]:
    return [{"email": f"{prefix}{i}@fabrikam.example"} for i in range(count)]


async def expect(response: aiohttp.ClientResponse, status: int) -> Any:
    if response.status != status:
        raise SystemExit(f"{response.method} {response.url} answered {response.status}")
    return await response.json() if response.content_type == "application/json" else None


async def read_all_pages(client: aiohttp.ClientSession, url: str, token: str) -> int:
    """GET ``url`` and every ``@odata.nextLink`` after it; returns the number of values."""
    count = 0
    next_url: str | None = url
    while next_url is not None:
        async with client.get(URL(next_url, encoded=True), headers=auth(token)) as response:
            body = await expect(response, 200)
        count += len(body["value"])
        next_url = body.get("@odata.nextLink")
    return count


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- the operations ------------------------------------------------------------------------------
def link_grant(n: int) -> tuple[State, Operation]:
    state, _, drive = owner_state()
    item = state.make_path(drive, "/Linked.docx", is_folder=False)
    # declared as a scenario would (granting them through the API is what is measured)
    members = [f"member{i}@fabrikam.example" for i in range(n)]
    link = {"type": "view", "scope": "users", "members": members}
    permission = link_from_data(state, item, {"link": link})
    recipients = max(1, n // 80)
    url_path = f"/v1.0/me/drive/items/{item.id}/permissions/{permission.id}/grant"

    async def grant(client: aiohttp.ClientSession, server: MockDrive, rep: int) -> None:
        body = {"recipients": addresses(f"new{rep}-", recipients), "roles": ["read"]}
        async with client.post(server.url + url_path, json=body, headers=auth(OWNER_TOKEN)) as r:
            await expect(r, 200)

    return state, grant


def invite(n: int) -> tuple[State, Operation]:
    state, _, drive = owner_state()
    crowd = state.make_path(drive, "/Crowd")
    for i in range(n):
        crowd.permissions.append(
            Permission(f"P{i}", crowd.id, ["read"], invitation_email=f"guest{i}@fabrikam.example")
        )
    drive.shared_item_ids.add(crowd.id)
    recipients = max(1, n // 50)
    url_path = f"/v1.0/me/drive/items/{crowd.id}/invite"

    async def send(client: aiohttp.ClientSession, server: MockDrive, rep: int) -> None:
        body = {
            "recipients": addresses(f"new{rep}-", recipients),
            "roles": ["read"],
            "sendInvitation": False,
            "requireSignIn": True,
        }
        async with client.post(server.url + url_path, json=body, headers=auth(OWNER_TOKEN)) as r:
            await expect(r, 200)

    return state, send


def delta_changes(n: int) -> tuple[State, Operation]:
    state, owner, drive = owner_state()
    state.changes.generation = 1  # the number its server gives it (a token of 0 would resync)
    token = delta.make_token(state)
    folder = state.make_path(drive, "/Changed")
    spread_files(state, owner, folder, [f"file{i}.txt" for i in range(n)])

    async def read(client: aiohttp.ClientSession, server: MockDrive, rep: int) -> None:
        url = f"{server.graph_url}/me/drive/root/delta?token={token}"
        count = await read_all_pages(client, url, OWNER_TOKEN)
        assert count >= n, count

    return state, read


def delta_first_round(n: int) -> tuple[State, Operation]:
    state, owner, drive = owner_state()
    folder = state.make_path(drive, "/Listed")
    spread_files(state, owner, folder, [f"file{i}.txt" for i in range(n)])

    async def read(client: aiohttp.ClientSession, server: MockDrive, rep: int) -> None:
        count = await read_all_pages(client, f"{server.graph_url}/me/drive/root/delta", OWNER_TOKEN)
        assert count >= n, count

    return state, read


def search_hits(n: int) -> tuple[State, Operation]:
    state, owner, drive = owner_state()
    folder = state.make_path(drive, "/Search")
    names = [f"{kind}{i}.txt" for i in range(n) for kind in ("hit", "miss")]
    spread_files(state, owner, folder, names)

    async def search(client: aiohttp.ClientSession, server: MockDrive, rep: int) -> None:
        url = f"{server.graph_url}/me/drive/root/search(q='hit')"
        count = await read_all_pages(client, url, OWNER_TOKEN)
        assert count == n, count

    return state, search


def copy_items(n: int) -> tuple[State, Operation]:
    state, owner, drive = owner_state()
    source = state.make_path(drive, "/Source")
    spread_files(state, owner, source, [f"file{i}.txt" for i in range(n)])
    url_path = f"/v1.0/me/drive/items/{source.id}/copy"

    async def copy(client: aiohttp.ClientSession, server: MockDrive, rep: int) -> None:
        body = {"name": f"Copy {rep}"}
        async with client.post(server.url + url_path, json=body, headers=auth(OWNER_TOKEN)) as r:
            await expect(r, 202)

    return state, copy


def shared_with_me(n: int) -> tuple[State, Operation]:
    state, owner, drive = owner_state()
    other = state.add_user("Bob Other", "bob@contoso.example", token=OTHER_TOKEN)
    state.add_drive(other)
    folder = state.make_path(drive, "/Shared")
    spread_files(state, owner, folder, [f"file{i}.txt" for i in range(n)])
    for sub in list(state.store.iter_children(folder)):
        for item in list(state.store.iter_children(sub)):
            state.grant(item, other, ["read"])

    async def listing(client: aiohttp.ClientSession, server: MockDrive, rep: int) -> None:
        count = await read_all_pages(
            client, server.graph_url + "/me/drive/sharedWithMe", OTHER_TOKEN
        )
        assert count == n, count

    return state, listing


def children_listing(n: int, query: str = "") -> tuple[State, Operation]:
    state, owner, drive = owner_state()
    folder = state.make_path(drive, "/Wide")
    for i in range(n):
        state.create_item(owner, folder, f"file{i}.txt", is_folder=False, content=b"x" * (i % 9))

    async def listing(client: aiohttp.ClientSession, server: MockDrive, rep: int) -> None:
        url = f"{server.graph_url}/me/drive/root:/Wide:/children{query}"
        count = await read_all_pages(client, url, OWNER_TOKEN)
        assert count == n, count

    return state, listing


def children_by_size(n: int) -> tuple[State, Operation]:
    return children_listing(n, "?$orderby=size%20desc")


CASES = [
    Case("grant", "link grant against members", "members n, recipients n/80", 20_000, link_grant),
    Case("invite", "invite against permissions", "permissions n, recipients n/50", 12_500, invite),
    Case("delta", "delta against changes", "changes n, all pages", 10_000, delta_changes),
    Case("delta-first", "delta first round against items", "items n, all pages", 10_000,
         delta_first_round),
    Case("search", "search against hits", "hits n of 2n files, all pages", 10_000, search_hits),
    Case("copy", "copy against copied items", "files n (+ n/100 folders)", 5_000, copy_items),
    Case("sharedWithMe", "sharedWithMe against shares", "shares n, all pages", 5_000,
         shared_with_me),
    Case("children", "children against the folder's children", "children n, all pages", 20_000,
         children_listing),
    Case("children-by-size", "children by size against the folder's children",
         "children n, $orderby=size desc, all pages", 20_000, children_by_size),
]  # fmt: skip


# -- measuring -----------------------------------------------------------------------------------
async def timed(
    operation: Operation, client: aiohttp.ClientSession, server: MockDrive, rep: int
) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one repetition."""
    gc.collect()
    gc.disable()
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        await operation(client, server, rep)
        return time.process_time() - cpu, time.perf_counter() - wall
    finally:
        gc.enable()


async def measure(case: Case, n: int, repeat: int) -> dict[str, Any]:
    """Median CPU ms at n and at 2n, repetitions alternating between the two."""
    built = [case.build(size) for size in (n, 2 * n)]
    # pinned: the delta case's token was made on the state's clock before its server started
    servers = [await MockDrive(state, clock=EPOCH).start_async() for state, _ in built]
    cpu: list[list[float]] = [[], []]
    wall: list[list[float]] = [[], []]
    try:
        async with aiohttp.ClientSession() as client:
            for rep in range(repeat + 1):
                for index, ((_, operation), server) in enumerate(zip(built, servers, strict=True)):
                    seconds = await timed(operation, client, server, rep)
                    if rep > 0:  # the first is a warm-up (first-use indexes, connections)
                        cpu[index].append(seconds[0] * 1000)
                        wall[index].append(seconds[1] * 1000)
    finally:
        for server in servers:
            await server.stop_async()
    small, large = (statistics.median(s) for s in cpu)
    return common.row(
        f"{case.figure}, n = {n:,} -> {2 * n:,} ({case.doubled})",
        large,
        "ms CPU",
        "the same at n",
        small,
        f"<= {TARGET}x",
        large / small <= TARGET,
        cpu_ms=[[round(v, 2) for v in s] for s in cpu],
        wall_ms=[[round(v, 2) for v in s] for s in wall],
        wall_ratio=statistics.median(wall[1]) / statistics.median(wall[0]),
    )


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes / 10, 3 repetitions (CI)")
    parser.add_argument("--repeat", type=int, help="timed repetitions per size (default 5)")
    parser.add_argument("--only", choices=[c.name for c in CASES], action="append")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size by this")
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 5)
    rows = []
    for case in CASES:
        if args.only and case.name not in args.only:
            continue
        n = max(1, int(case.size * args.scale) // (10 if args.quick else 1))
        rows.append(asyncio.run(measure(case, n, repeat)))
        print(f"{case.figure}: {rows[-1]['ratio']:.2f}x", flush=True)
    title = f"Growth: CPU time at 2n / at n (median of {repeat}, in process)"
    common.report("growth", title, rows)
    return rows


if __name__ == "__main__":
    main()
