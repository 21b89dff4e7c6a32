"""``python -m mockdrive``: serve a scenario (or one empty drive) until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from . import __version__
from .model.state import State
from .scenario import ScenarioError, load_scenario
from .server import MockDrive

DEFAULT_TOKEN = "mockdrive-token"


def default_state(token: str = DEFAULT_TOKEN) -> State:
    """One user with one empty business drive: enough to try every route by hand."""
    state = State()
    owner = state.add_user("Ada Owner", "ada@contoso.example", token=token)
    state.add_drive(owner)
    return state


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mockdrive", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--scenario", help="YAML scenario file to serve")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="token of the default user")
    parser.add_argument("--version", action="version", version=f"mockdrive {__version__}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.scenario:
            state = load_scenario(args.scenario)
            factory = lambda: load_scenario(args.scenario)  # noqa: E731 - reset reloads the file
        else:
            state = default_state(args.token)
            factory = lambda: default_state(args.token)  # noqa: E731
    except ScenarioError as error:
        print(f"mockdrive: {error}", file=sys.stderr)
        return 2
    return asyncio.run(
        _serve(MockDrive(state, host=args.host, port=args.port, state_factory=factory))
    )


async def _serve(server: MockDrive) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start_async()
    except OSError as error:
        print(f"mockdrive: cannot listen on {server.host}:{server.port}: {error}", file=sys.stderr)
        return 1
    print(f"mockdrive listening on {server.url}", flush=True)
    print(f"  Graph API: {server.graph_url}", flush=True)
    for user in server.state.directory.users.values():
        if user.token:
            print(f"  token for {user.email}: {user.token}", flush=True)
    await stop.wait()
    await server.stop_async()
    return 0
