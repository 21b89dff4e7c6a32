"""A benchmark server in its own process: ``python _serve.py bare|mockdrive [--uvloop]``.

Prints one JSON line (port, pid and the URLs and bodies to load) on stdout once listening, then
serves until stdin closes (the parent exits or closes it) or SIGTERM. Running each server in a
process of its own keeps the load generator off its GIL and lets the parent read its CPU time.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from typing import Any

from aiohttp import web

TOKEN = "bench-token"
# About 300 bytes of JSON, shaped like a driveItem: what the bare handler returns.
BARE_ITEM = {
    "id": "01BENCHAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "name": "Plan.docx",
    "eTag": '"{01BENCHAAAAAAAAAAAAAAAAAAAAAAAAAAAA},1"',
    "size": 12345,
    "createdDateTime": "2024-01-01T00:00:01Z",
    "webUrl": "https://mockdrive.example/b!bench/Projects/Plan.docx",
    "file": {"mimeType": "application/vnd.openxmlformats-officedocument"},
}
INVITE_BODIES = [  # alternate recipients and roles; re-invites merge, so state stays bounded
    {
        "recipients": [{"email": "carol@contoso.example"}, {"email": "dave@contoso.example"}],
        "roles": ["read"],
        "sendInvitation": False,
    },
    {
        "recipients": [{"email": "erin@contoso.example"}, {"email": "frank@fabrikam.example"}],
        "roles": ["write"],
        "sendInvitation": False,
    },
]


async def bare_handler(request: web.Request) -> web.Response:
    return web.json_response(BARE_ITEM)


async def bare_echo_handler(request: web.Request) -> web.Response:
    """A POST's baseline: read the JSON body and answer it back."""
    return web.json_response(await request.json())


def bare_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/item", bare_handler)
    app.router.add_post("/echo", bare_echo_handler)
    return app


def mockdrive_state() -> tuple[Any, dict[str, Any]]:
    """An owner, a folder of 50 files, a chain 10 deep with grants on the way, an invite target."""
    from mockdrive.model.state import State

    state = State(seed=1)
    owner = state.add_user("Ada Owner", "ada@contoso.example", token=TOKEN)
    users = [state.add_user(f"User {n}", f"user{n}@contoso.example") for n in range(10)]
    for name in ("Carol", "Dave", "Erin"):
        state.add_user(name, f"{name.lower()}@contoso.example")
    drive = state.add_drive(owner)
    files = [
        state.make_path(drive, f"/Fifty/Doc {n:02}.docx", is_folder=False, content=b"x" * 100)
        for n in range(50)
    ]
    folder = state.store.resolve(state.store.root(drive), "/Fifty")
    deep_path = "/" + "/".join(f"Level {n}" for n in range(1, 10)) + "/Deep.docx"
    deep = state.make_path(drive, deep_path, is_folder=False, content=b"deep")
    for index, ancestor in enumerate(state.store.ancestors(deep)):
        if index % 2 == 0 and ancestor.parent_id is not None:  # 5 inherited grants on the way
            state.grant(ancestor, users[index], ["read" if index % 4 else "write"])
    target = state.make_path(drive, "/Shared/Report.docx", is_folder=False, content=b"r")
    assert deep.depth == 10 and len(folder.children or {}) == 50
    paths = {
        "item": f"/v1.0/me/drive/items/{files[7].id}",
        "children": f"/v1.0/me/drive/items/{folder.id}/children",
        "permissions": f"/v1.0/me/drive/items/{deep.id}/permissions",
        "invite": f"/v1.0/me/drive/items/{target.id}/invite",
    }
    return state, paths


async def serve(kind: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(sys.stdin.fileno(), stop.set)  # stdin closed (EOF) or written to: stop
    info: dict[str, Any] = {"pid": os.getpid(), "kind": kind}
    if kind == "bare":
        runner = web.AppRunner(bare_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        info["port"] = runner.addresses[0][1]
        info["paths"] = {"bare": "/item", "echo": "/echo"}
        stopper = runner.cleanup
    else:
        from mockdrive.server import MockDrive

        state, paths = mockdrive_state()
        server = await MockDrive(state).start_async()
        info["port"], info["paths"] = server.port, paths
        stopper = server.stop_async
    info["token"] = TOKEN
    info["invite_bodies"] = INVITE_BODIES
    info["loop"] = type(loop).__module__
    print(json.dumps(info), flush=True)
    await stop.wait()
    await stopper()


def main() -> None:
    kind = sys.argv[1]
    if "--uvloop" in sys.argv[2:]:
        import uvloop

        uvloop.run(serve(kind))
    else:
        asyncio.run(serve(kind))


if __name__ == "__main__":
    main()
