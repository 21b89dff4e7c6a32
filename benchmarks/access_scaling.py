"""Per-request cost of paths that were once quadratic, over real HTTP, each at a
small and a large size (a flat cost means a ratio near 1):

- ``conflictBehavior: rename`` on a name with 1,000 vs 14,000 numbered duplicates;
- a Onehub folder page (30 rows) of a folder with 10,000 vs 100,000 children;
- a Graph invite of 500 new recipients on an item holding 1,000 vs 25,000 permissions.

Usage: ``python benchmarks/access_scaling.py [--quick]``. Prints ms per request and ratios;
nothing asserts on timing (the tests count the work instead: tests/test_scale.py).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import requests

from mockdrive.model.permissions import Permission
from mockdrive.model.state import State
from mockdrive.server import MockDrive

TOKEN = "owner-token"


def new_state() -> State:
    state = State(seed=1)
    owner = state.add_user("Ada Owner", "ada@contoso.example", token=TOKEN)
    state.add_drive(owner)
    return state


def timed(send: Callable[[], requests.Response], repeat: int) -> float:
    """Median ms of ``repeat`` requests (each must succeed)."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = send()
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code < 300, response.text
    return statistics.median(samples)


def rename(duplicates: int, repeat: int) -> float:
    state = new_state()
    drive = next(iter(state.store.drives.values()))
    owner = state.directory.users[drive.owner_id]
    folder = state.make_path(drive, "/Dups")
    for n in range(duplicates):
        state.create_item(owner, folder, "x.txt" if n == 0 else f"x {n}.txt", is_folder=False)
    with MockDrive(state) as server, requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        url = server.graph_url + "/me/drive/root:/Dups:/children"
        body = {"name": "x.txt", "file": {}, "@microsoft.graph.conflictBehavior": "rename"}
        session.post(url, json=body)  # the first one scans the numbers once
        return timed(lambda: session.post(url, json=body), repeat)


def onehub_page(children: int, repeat: int) -> float:
    state = new_state()
    drive = next(iter(state.store.drives.values()))
    owner = state.directory.users[drive.owner_id]
    folder = state.make_path(drive, "/Big")
    for n in range(children):
        state.create_item(owner, folder, f"file{n}.txt", is_folder=False)
    number = state.onehub.number("node", folder.id)
    with MockDrive(state) as server, requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        url = f"{server.url}/folders/{number}?offset=300"
        return timed(lambda: session.get(url), repeat)


def invite(permissions: int, recipients: int, repeat: int) -> float:
    state = new_state()
    drive = next(iter(state.store.drives.values()))
    crowd = state.make_path(drive, "/Crowd")
    for n in range(permissions):
        crowd.permissions.append(
            Permission(f"P{n}", crowd.id, ["read"], invitation_email=f"guest{n}@ext.example")
        )
    drive.shared_item_ids.add(crowd.id)
    with MockDrive(state) as server, requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        url = server.graph_url + "/me/drive/root:/Crowd:/invite"
        batches = iter(range(repeat + 1))

        def send() -> requests.Response:
            batch = next(batches)
            emails = [f"new{batch}-{n}@ext.example" for n in range(recipients)]
            body = {"recipients": [{"email": e} for e in emails], "roles": ["read"]}
            return session.post(url, json=body)

        send()  # the first invite indexes the item's permissions once
        return timed(send, repeat)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI)")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    repeat = 5 if args.quick else 50
    rows = [
        ("rename, ms/request", 1000 // scale, 14000 // scale, lambda n: rename(n, repeat)),
        ("Onehub folder page, ms", 10000 // scale, 100000 // scale,
         lambda n: onehub_page(n, repeat)),
        ("invite 500 recipients, ms", 1000 // scale, 25000 // scale,
         lambda n: invite(n, 500, max(3, repeat // 4))),
    ]  # fmt: skip
    print(f"{'figure':30} {'small':>8} {'ms':>8} {'large':>8} {'ms':>8} {'ratio':>6}")
    for figure, small, large, measure in rows:
        a, b = measure(small), measure(large)
        print(f"{figure:30} {small:>8} {a:>8.2f} {large:>8} {b:>8.2f} {b / a:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
