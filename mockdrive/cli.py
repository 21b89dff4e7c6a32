"""``mockdrive`` / ``python -m mockdrive``: serve a scenario, demo data or one empty drive.

Subcommands: ``validate FILE`` checks scenario files; ``export`` prints a state as scenario YAML.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
import sys
from collections.abc import Callable

from . import __version__
from .model.state import State
from .scenario import ScenarioError, build_state, dump_yaml, export_scenario, read_scenario
from .server import MockDrive

DEFAULT_TOKEN = "mockdrive-token"
DEFAULT_PORT = 8000
BANNER_TOKENS = 25  # a demo with thousands of users lists only the first tokens
EXIT_SCENARIO_ERROR = 2
SUBCOMMANDS = ("validate", "export")


def default_state(token: str = DEFAULT_TOKEN, seed: int = 0) -> State:
    """One user with one empty business drive: enough to try every route by hand."""
    state = State(seed=seed)
    owner = state.add_user("Ada Owner", "ada@contoso.example", token=token)
    state.add_drive(owner)
    return state


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("what to serve")
    source.add_argument("--scenario", metavar="FILE", help="YAML or JSON scenario file")
    source.add_argument(
        "--demo", action="store_true", help="generate a Faker organisation (see --seed, --users)"
    )
    source.add_argument("--seed", type=int, default=0, help="seed for --demo and ids (default 0)")
    source.add_argument("--users", type=int, default=25, help="people in the --demo directory")
    source.add_argument("--items", type=int, default=500, help="drive items in the --demo data")
    source.add_argument(
        "--token", default=DEFAULT_TOKEN, help="token of the default user (no scenario, no demo)"
    )


def server_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockdrive",
        description="Serve an in-memory Microsoft Graph drive until Ctrl-C or SIGTERM.",
        epilog="subcommands: 'mockdrive validate FILE...' checks scenario files; "
        "'mockdrive export [--scenario FILE | --demo ...]' prints the state as scenario YAML.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0 picks a free one"
    )
    parser.add_argument("--tls", action="store_true", help="serve https with a fresh trustme CA")
    parser.add_argument(
        "--proxy", action="store_true", help="also be an HTTP(S) proxy for graph.microsoft.com"
    )
    parser.add_argument(
        "--admin-token",
        help="require this token (X-Mockdrive-Admin-Token or Bearer) on /_mockdrive/*",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="info and debug also log every request",
    )
    parser.add_argument("--version", action="version", version=f"mockdrive {__version__}")
    _add_source_options(parser)
    return parser


def validate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockdrive validate", description="Check scenario files; exit 2 if any is invalid."
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    return parser


def export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockdrive export", description="Print the state a server would start with as YAML."
    )
    _add_source_options(parser)
    return parser


def state_factory(args: argparse.Namespace) -> Callable[[], State]:
    """A function building the initial state afresh (what ``/_mockdrive/reset`` goes back to).

    The scenario is read and validated once here; each call rebuilds from the parsed data.
    """
    if args.scenario and args.demo:
        raise SystemExit("mockdrive: give --scenario or --demo, not both")
    if args.scenario:
        document = read_scenario(args.scenario)
        return lambda: build_state(document)
    if args.demo:
        from .demo import demo_scenario

        data = demo_scenario(args.seed, args.users, args.items)
        source = f"<demo seed={args.seed}>"
        return lambda: build_state(data, source)
    token, seed = args.token, args.seed
    return lambda: default_state(token, seed)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mockdrive`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "validate":
        return validate(validate_parser().parse_args(argv[1:]))
    if argv and argv[0] == "export":
        return export(export_parser().parse_args(argv[1:]))
    args = server_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
    try:
        factory = state_factory(args)
        state = factory()
    except ScenarioError as error:
        print(f"mockdrive: {error}", file=sys.stderr)
        return EXIT_SCENARIO_ERROR
    if not _is_loopback(args.host):
        print(
            f"mockdrive: warning: binding {args.host} exposes the mock beyond this machine; "
            "its tokens are not secrets and anyone who can reach it can read and change it"
            + ("" if args.admin_token else " (consider --admin-token for /_mockdrive)"),
            file=sys.stderr,
            flush=True,
        )
    server = MockDrive(
        state,
        host=args.host,
        port=args.port,
        state_factory=factory,
        tls=args.tls,
        access_log=args.log_level in ("debug", "info"),
        admin_token=args.admin_token,
        proxy=args.proxy,
    )
    return asyncio.run(_serve(server))


def validate(args: argparse.Namespace) -> int:
    """``mockdrive validate FILE...``: one line per file, problems on stderr."""
    status = 0
    for path in args.files:
        try:
            state = build_state(read_scenario(path))
        except ScenarioError as error:
            print(error, file=sys.stderr)
            status = EXIT_SCENARIO_ERROR
            continue
        directory = state.directory
        print(
            f"{path}: ok ({len(directory.users)} users, {len(directory.groups)} groups, "
            f"{len(state.store.drives)} drives, {len(state.store.items)} items)"
        )
    return status


def export(args: argparse.Namespace) -> int:
    """``mockdrive export ...``: the initial state as scenario YAML on stdout."""
    try:
        state = state_factory(args)()
    except ScenarioError as error:
        print(f"mockdrive: {error}", file=sys.stderr)
        return EXIT_SCENARIO_ERROR
    sys.stdout.write(dump_yaml(export_scenario(state)))
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def banner(server: MockDrive) -> list[str]:
    """The lines printed at start-up; the first one stays ``mockdrive listening on URL``."""
    lines = [f"mockdrive listening on {server.url}", f"  Graph API: {server.graph_url}"]
    users = [u for u in server.state.directory.users.values() if u.token]
    lines.extend(f"  token for {u.email}: {u.token}" for u in users[:BANNER_TOKENS])
    if len(users) > BANNER_TOKENS:
        lines.append(f"  ... and {len(users) - BANNER_TOKENS} more tokens (GET /_mockdrive/state)")
    token = server.backend.admin_token
    lines.append(f"  Dashboard: {server.url}/_mockdrive/ui" + (f"#token={token}" if token else ""))
    lines.append(f"  Admin API: {server.admin_url}")
    if server.ca_path:
        lines.append(f"  CA bundle: {server.ca_path}")
    if server.proxy:
        lines.append(f"  Proxy: HTTPS_PROXY={server.url} for graph.microsoft.com and kin")
    return lines


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
    for line in banner(server):
        print(line, flush=True)
    await stop.wait()
    await server.stop_async()
    return 0
