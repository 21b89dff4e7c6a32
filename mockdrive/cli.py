"""``mockdrive`` / ``python -m mockdrive``: serve a scenario, demo data or one empty drive.

Subcommands: ``validate FILE`` checks scenario files; ``export`` prints a state as scenario YAML.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .constants import DEFAULT_TOKEN
from .shipped import find_scenario, shipped_names

# What a command needs loads when it runs: the server (aiohttp) only to serve, the model and the
# scenario reader only to build a state, so help, --version and usage errors start with none of
# them (0.12 s of CPU down to 0.04 s for ``--help``).
if TYPE_CHECKING:
    from .model.state import State
    from .scenario.defaults import default_state  # loaded on use: ``__getattr__``
    from .server import MockDrive

DEFAULT_PORT = 8000
BANNER_TOKENS = 25  # a demo with thousands of users lists only the first tokens
EXIT_SCENARIO_ERROR = 2
EXIT_USAGE = 2  # what argparse uses
SUBCOMMANDS = ("validate", "export", "help")
DEMO_USERS = 25
DEMO_ITEMS = 500
DEMO_LEAST_USERS = 2  # an owner and someone to share with (demo.py makes no fewer)
# the most a command line may ask the demo for (BENCHMARKS.md: 100,000 items are built in
# ~3 s, and an item holds ~0.7 KB; a typo with three zeros too many would fill the machine's
# memory before anything is served)
DEMO_MOST_USERS = 10_000
DEMO_MOST_ITEMS = 1_000_000


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("what to serve (one empty drive unless told otherwise)")
    source.add_argument(
        "--scenario",
        metavar="FILE",
        help="a YAML or JSON scenario file, or the name of a shipped one "
        f"({', '.join(shipped_names()) or 'none found'})",
    )
    source.add_argument(
        "--demo", action="store_true", help="generate a Faker organisation (see --users, --items)"
    )
    source.add_argument(
        "--seed",
        type=int,
        help="seed of the generated ids, and of the --demo data (default 0; overrides a "
        "scenario's own seed)",
    )
    source.add_argument(
        "--users",
        type=whole_number(DEMO_LEAST_USERS, DEMO_MOST_USERS),
        help=f"people in the --demo directory, {DEMO_LEAST_USERS} to {DEMO_MOST_USERS:,} "
        f"(default {DEMO_USERS})",
    )
    source.add_argument(
        "--items",
        type=whole_number(0, DEMO_MOST_ITEMS),
        help=f"drive items in the --demo data, 0 to {DEMO_MOST_ITEMS:,} (default {DEMO_ITEMS})",
    )
    source.add_argument(
        "--token",
        help=f"token of the default drive's owner, without --scenario or --demo "
        f"(default {DEFAULT_TOKEN})",
    )


SERVER_EPILOG = """subcommands:
  mockdrive validate FILE...   check scenario files (paths or shipped names); exit 2 if invalid
  mockdrive export [--scenario FILE | --demo ...]
                               print the state the server would start with as scenario YAML
  mockdrive help [validate | export]
                               print this help, or a subcommand's"""


def server_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockdrive",
        description="Serve an in-memory Microsoft Graph drive until Ctrl-C or SIGTERM.",
        epilog=SERVER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port",
        type=port_argument,
        default=DEFAULT_PORT,
        help="port to listen on (default %(default)s; 0 picks a free one)",
    )
    parser.add_argument(
        "--tls", action="store_true", help="serve https with a fresh trustme CA (default: http)"
    )
    parser.add_argument(
        "--proxy", action="store_true", help="also be an HTTP(S) proxy for graph.microsoft.com"
    )
    parser.add_argument(
        "--clock",
        type=clock_argument,
        default="wall",
        metavar="DATETIME",
        help="pin the virtual clock at this ISO date-time (e.g. 2024-01-01T00:00:00Z) for "
        "byte-identical runs (default: the wall time at start, keeping up with real time; a "
        "scenario's clock: wins)",
    )
    parser.add_argument(
        "--admin-token",
        help="require this token (X-Mockdrive-Admin-Token or Bearer) on /_mockdrive/* "
        "(default: none required)",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="info and debug also log every request (default %(default)s)",
    )
    parser.add_argument("--version", action="version", version=f"mockdrive {__version__}")
    _add_source_options(parser)
    return parser


def validate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockdrive validate", description="Check scenario files; exit 2 if any is invalid."
    )
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help="a scenario file, or the name of a shipped one"
    )
    return parser


def export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockdrive export", description="Print the state a server would start with as YAML."
    )
    _add_source_options(parser)
    return parser


def check_source_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse option combinations that would be silently ignored (exit 2 with usage)."""
    if args.scenario and args.demo:
        parser.error("give --scenario or --demo, not both")
    ignored = [
        option
        for option, value in (("--users", args.users), ("--items", args.items))
        if value is not None and not args.demo
    ]
    if ignored:
        verb = "apply" if len(ignored) > 1 else "applies"
        parser.error(f"{' and '.join(ignored)} only {verb} to --demo")
    if args.token is not None and (args.scenario or args.demo):
        parser.error(
            "--token only applies to the default drive; a scenario or the demo sets its own "
            "tokens (the banner prints them)"
        )


def scenario_path(spec: str) -> Path:
    """A scenario given on the command line: an existing path first, then a shipped name."""
    from .scenario import Problem, ScenarioError

    found, tried = find_scenario(spec)
    if found is None:
        reason = "no such file or shipped scenario; tried " + ", ".join(tried)
        raise ScenarioError([Problem(spec, None, (), reason)])
    return found


def state_factory(args: argparse.Namespace) -> Callable[[], State]:
    """A function building the initial state afresh (what ``/_mockdrive/reset`` goes back to).

    The scenario is read and validated once here; each call rebuilds from the parsed data.
    ``--seed`` overrides a scenario's own seed, as the marker's ``seed=`` does; a scenario
    without ``clock:`` loads at ``--clock`` (``loaded_at``).
    """
    from .backend import WALL, loaded_at

    clock = getattr(args, "clock", WALL)  # (``export`` has no --clock)
    if args.scenario:
        from .scenario import build_state, read_scenario

        document = read_scenario(scenario_path(args.scenario))
        data = loaded_at(document.data, clock)
        if args.seed is not None:
            data = {**data, "seed": args.seed}
        document = document.with_data(data)
        return lambda: build_state(document)
    seed = args.seed or 0
    if args.demo:
        from .demo import demo_scenario
        from .scenario import build_state

        users = DEMO_USERS if args.users is None else args.users
        items = DEMO_ITEMS if args.items is None else args.items
        data = loaded_at(demo_scenario(seed, users, items), clock)
        source = f"<demo seed={seed}>"
        return lambda: build_state(data, source)
    from .scenario.defaults import default_state

    token = args.token or DEFAULT_TOKEN
    return lambda: default_state(token, seed)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mockdrive`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        try:
            status = subcommand(argv)
            sys.stdout.flush()  # here, not at exit: a reader gone away is reported as below
        except BrokenPipeError:
            # the reader stopped early (``mockdrive export | head``): no traceback, and nothing
            # more written to it (the interpreter flushes stdout again at exit); not all was
            # delivered, so 1, as Python's own recipe for this does
            _discard_stdout()
            return 1
        return status
    return serve(argv)


def _discard_stdout() -> None:
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a test's capture: nothing to do
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def subcommand(argv: list[str]) -> int:
    """``validate``, ``export`` or ``help`` (``argv[0]``), with its arguments."""
    if argv[0] == "validate":
        return validate(validate_parser().parse_args(argv[1:]))
    if argv[0] == "export":
        parser = export_parser()
        args = parser.parse_args(argv[1:])
        check_source_options(parser, args)
        return export(args)
    return print_help(argv[1:])


def serve(argv: list[str]) -> int:
    """The server, until SIGINT or SIGTERM."""
    parser = server_parser()
    args = parser.parse_args(argv)
    check_source_options(parser, args)
    if args.proxy and args.tls:  # the proxy's port speaks plain http; it does TLS in tunnels
        parser.error("give --proxy or --tls, not both: the proxy's port speaks plain http and "
                     "terminates TLS itself inside CONNECT tunnels")  # fmt: skip
    import logging

    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
    try:
        factory = state_factory(args)
        state = factory()
    except scenario_errors(args) as error:
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
    from .server import MockDrive

    server = MockDrive(
        state,
        host=args.host,
        port=args.port,
        state_factory=factory,
        tls=args.tls,
        access_log=args.log_level in ("debug", "info"),
        admin_token=args.admin_token,
        proxy=args.proxy,
        clock=args.clock,
    )
    import asyncio  # only to serve: validate, export, help and usage errors start without it

    return asyncio.run(_serve(server))


def scenario_errors(args: argparse.Namespace) -> tuple[type[Exception], ...]:
    """What building the initial state may raise to report: ScenarioError for a scenario or
    the demo; nothing for the default drive, which is served without the scenario reader."""
    if not (args.scenario or args.demo):
        return ()
    from .scenario import ScenarioError

    return (ScenarioError,)


def port_argument(text: str) -> int:
    """``--port``: a TCP port, 0 to 65535 (0 picks a free one)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 0 to 65535")
    return port


def whole_number(least: int, most: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``least`` to ``most`` (the demo takes fewer as
    ``least``: a command line asking for fewer is refused, not silently changed), written in
    ASCII digits as every number mockdrive reads as text (model/ranges.py): ``int()`` alone
    would also take ``1_000``, ``+5``, `` 5`` and other scripts' digits."""

    def number(text: str) -> int:
        try:
            if not (text.isascii() and text.removeprefix("-").isdigit()):
                raise ValueError(text)
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{value} is too few: at least {least}")
        if value > most:
            raise argparse.ArgumentTypeError(f"{value} is too many: at most {most:,}")
        return value

    return number


def clock_argument(text: str) -> str:
    """``--clock``: ``wall`` or an ISO date-time with a zone (argparse reports the rest)."""
    if text == "wall":
        return text
    from .model.clock import parse_time
    from .model.errors import InvalidRequest

    try:
        parse_time(text, "--clock")
    except InvalidRequest as error:
        raise argparse.ArgumentTypeError(error.message) from None
    return text


def print_help(topics: list[str]) -> int:
    """``mockdrive help [validate | export]``: the server's help, or a subcommand's."""
    parsers = {"validate": validate_parser, "export": export_parser}
    if not topics:
        server_parser().print_help()
        return 0
    if len(topics) == 1 and topics[0] in parsers:
        parsers[topics[0]]().print_help()
        return 0
    print(
        f"mockdrive help: no help on {' '.join(topics)!r}; try 'mockdrive help', "
        "'mockdrive help validate' or 'mockdrive help export'",
        file=sys.stderr,
    )
    return EXIT_USAGE


def validate(args: argparse.Namespace) -> int:
    """``mockdrive validate FILE...``: one line per file, problems on stderr."""
    from .scenario import ScenarioError, build_state, read_scenario

    status = 0
    for path in args.files:
        try:
            state = build_state(read_scenario(scenario_path(path)))
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
    from .scenario import ScenarioError, dump_yaml, export_scenario

    try:
        state = state_factory(args)()
    except ScenarioError as error:
        print(f"mockdrive: {error}", file=sys.stderr)
        return EXIT_SCENARIO_ERROR
    sys.stdout.write(dump_yaml(export_scenario(state)))
    return 0


def _is_loopback(host: str) -> bool:
    import ipaddress

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
    import asyncio

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


def __getattr__(name: str) -> Any:
    """``default_state`` (the default drive, what tests build servers from), loaded on use."""
    if name == "default_state":
        from .scenario.defaults import default_state

        return default_state
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ``from mockdrive.cli import *`` names what it did before the model loaded on use: every public
# name of this module, and ``default_state`` (which ``__getattr__`` loads when the import asks).
__all__ = [name for name in list(globals()) if not name.startswith("_")] + ["default_state"]
