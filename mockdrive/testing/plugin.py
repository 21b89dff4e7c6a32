"""The ``mock_drive`` pytest fixture: one server per test process, a fresh state per test.

Fixtures: ``mock_drive`` (a server on its own thread, for sync and async tests) and
``mock_drive_app`` (an un-started app for ``aiohttp_client``, in the test's own loop). The marker
``@pytest.mark.mock_drive(scenario=..., seed=..., tls=..., demo=..., clock=...)`` chooses the
state each test starts from. Its clock is pinned at 2024-01-01T00:00:00Z (or the scenario's
``clock:``), so tests may compare bytes and fixed times; ``clock="wall"`` makes it follow the
wall time, and a date-time (or ISO text) pins it there. pytest finds these through
:mod:`mockdrive.pytest_plugin`, the entry point, which imports them from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..model.state import State
    from ..server import MockDrive
    from .fixture import MockDriveApp, MockDriveFixture

# pytest imports this module in every run of a project that has mockdrive installed (the pytest11
# entry point), so it imports nothing of mockdrive at the top: the server, the model and the
# scenario loader load when a test first asks for a fixture.
_LAZY = {
    "MockDriveFixture": "mockdrive.testing.fixture",
    "MockDriveApp": "mockdrive.testing.fixture",
    "OWNER_TOKEN": "mockdrive.scenario.defaults",
}

# What the entry point takes from here: the hook and the fixtures (``__getattr__`` too).
__all__ = [
    "mock_drive",
    "mock_drive_app",
    "mock_drive_server",
    "mock_drive_servers",
    "pytest_configure",
    "pytest_runtest_protocol",
]


def __getattr__(name: str) -> Any:
    """``from mockdrive.pytest_plugin import MockDriveFixture`` (for type hints) and
    ``OWNER_TOKEN`` keep working, loaded on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)


MARKER = "mock_drive"
MARKER_OPTIONS = ("scenario", "seed", "tls", "demo", "users", "items", "clock")
MARKER_HELP = (
    "mock_drive(scenario=None, seed=None, tls=False, demo=False, users=25, items=500, "
    "clock=None): the state the mock_drive fixture starts from (scenario: a path relative to "
    "the rootdir or the test file, or a shipped scenario's name such as 'team'), whether it "
    "serves https, and its clock ('wall', or a date-time to pin it at; default: the "
    "scenario's clock: or 2024-01-01T00:00:00Z)"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)


# The test being run. ``mock_drive`` reads its marker and path here instead of asking for
# pytest's ``request``: that argument alone cost a test ~20 us of set-up (pytest builds a
# fixture definition for it twice per use), a fifth of what the fixture costs.
_item: pytest.Item | None = None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Name the test being run, from before its set-up to after its teardown; a pytest run
    inside it (pytester, in process) names its own tests and then this one again."""
    global _item
    outer, _item = _item, item
    try:
        return (yield)
    finally:
        _item = outer


def _marker_options(node: pytest.Item) -> dict[str, Any]:
    """The marker's keyword arguments; anything it would ignore fails the test's set-up."""
    marker = node.get_closest_marker(MARKER)
    if marker is None:
        return {}
    known = ", ".join(f"{name}=" for name in MARKER_OPTIONS)
    if marker.args:
        pytest.fail(
            f"@pytest.mark.mock_drive takes keyword arguments only ({known}), "
            f"not {marker.args!r}; e.g. @pytest.mark.mock_drive(scenario='team')",
            pytrace=False,
        )
    unknown = sorted(set(marker.kwargs) - set(MARKER_OPTIONS))
    if unknown:
        pytest.fail(
            f"@pytest.mark.mock_drive got unknown argument(s) {', '.join(unknown)}; known: {known}",
            pytrace=False,
        )
    options = dict(marker.kwargs)
    clock = options.get("clock")
    if clock is not None and clock != "wall" and not isinstance(clock, (str, datetime)):
        pytest.fail("@pytest.mark.mock_drive: clock= is 'wall', a datetime or ISO text",
                    pytrace=False)  # fmt: skip
    if options.get("scenario") and options.get("demo"):
        pytest.fail("@pytest.mark.mock_drive: give scenario= or demo=True, not both", pytrace=False)
    if not options.get("demo") and ("users" in options or "items" in options):
        message = "@pytest.mark.mock_drive: users= and items= only apply to demo=True"
        pytest.fail(message, pytrace=False)
    return options


def _scenario_dirs(node: pytest.Item) -> list[Path]:
    return [node.config.rootpath, node.path.parent]


def _state_factory(node: pytest.Item) -> tuple[Callable[[], State], bool]:
    """How to build this test's state (from its marker), and whether it needs TLS."""
    marker = node.get_closest_marker(MARKER)
    if marker is None:  # most tests: the default state, pinned (see _default_state)
        return _default_state, False
    from ..scenario.defaults import OWNER_TOKEN, default_state
    from .scenarios import scenario_file, scenario_state

    options = _marker_options(node)
    seed = options.get("seed")
    clock = options.get("clock")
    # a pinned clock= is the scenario's clock: (it wins over the scenario's own): the moment the
    # load dates what it shares at, which a clock set only afterwards would leave in its future
    loaded_at = None if clock is None or clock == "wall" else _clock_text(clock)
    if options.get("scenario"):
        path = scenario_file(options["scenario"], _scenario_dirs(node))
        build = lambda: scenario_state(path, seed, loaded_at)  # noqa: E731
    elif options.get("demo"):
        from ..demo import demo_scenario
        from ..scenario import build_state

        users, items = options.get("users", 25), options.get("items", 500)
        clock_data = {} if loaded_at is None else {"clock": loaded_at}
        build = lambda: build_state(  # noqa: E731
            {**demo_scenario(seed or 0, users, items), **clock_data}, f"<demo seed={seed or 0}>"
        )
    else:
        build = lambda: default_state(OWNER_TOKEN, seed or 0)  # noqa: E731

    def build_with_clock() -> State:
        state = build()
        if clock is None:  # the scenario's clock:, or EPOCH: tests compare bytes and times
            state.clock.pin()
        elif clock == "wall":  # the marker's clock= wins over the scenario's clock:
            state.clock.follow_wall()
        else:
            state.clock.set(clock)
        return state

    return build_with_clock, bool(options.get("tls"))


def _clock_text(clock: str | datetime) -> str:
    """The marker's clock= as a scenario's ``clock:`` (ISO text, to the second, in UTC)."""
    from ..model.clock import parse_time
    from ..model.ids import format_time

    moment = parse_time(clock, "clock") if isinstance(clock, str) else clock
    return format_time(moment.astimezone(timezone.utc))


def _default_state() -> State:
    """A test's state without a marker: the default one (seed 0), its clock pinned."""
    from ..scenario.defaults import OWNER_TOKEN, default_state

    state = default_state(OWNER_TOKEN)
    state.clock.pin()
    return state


class _Servers:
    """This process's servers, started on first use: plain http and (if asked) https."""

    def __init__(self) -> None:
        self.started: dict[bool, MockDrive] = {}

    def get(self, tls: bool) -> MockDrive:
        if tls not in self.started:
            from ..model.ids import EPOCH
            from ..scenario.defaults import OWNER_TOKEN, default_state
            from ..server import MockDrive

            # pinned at EPOCH: tests compare bytes and fixed times (the marker's clock= moves it)
            server = MockDrive(default_state(OWNER_TOKEN), tls=tls, clock=EPOCH)
            self.started[tls] = server.start()
        return self.started[tls]

    def stop(self) -> None:
        for server in self.started.values():
            server.stop()


@pytest.fixture(scope="session")
def mock_drive_servers() -> Iterator[_Servers]:
    """The servers of this test process (each xdist worker has its own)."""
    servers = _Servers()
    yield servers
    servers.stop()


@pytest.fixture(scope="session")
def mock_drive_server(mock_drive_servers: _Servers) -> MockDrive:
    """The one plain-http server of this test process (each xdist worker has its own)."""
    return mock_drive_servers.get(tls=False)


NOT_REGISTERED = (
    "mock_drive reads the test being set up from the mockdrive plugin's pytest_runtest_protocol "
    "hook, which is not registered in this run (its fixtures were imported rather than the "
    "plugin loaded?): with plugin autoloading off, load it with -p mockdrive.pytest_plugin or "
    "pytest_plugins = ['mockdrive.pytest_plugin'] in a conftest.py"
)


@pytest.fixture
def mock_drive(mock_drive_servers: _Servers) -> MockDriveFixture:
    """A running mockdrive with a fresh state: one owner (``token``) and an empty drive, or
    what the ``mock_drive`` marker asks for. Resetting swaps in a new State (no restart)."""
    item = _item
    if item is None:
        raise RuntimeError(NOT_REGISTERED)
    factory, tls = _state_factory(item)
    server = mock_drive_servers.get(tls)
    server.backend.state_factory = factory  # POST /_mockdrive/reset: back to this test's start
    server.reset(factory())
    handle = (_fixture_class or _load_fixture_class())(server)
    handle.scenario_dirs = _scenario_dirs(item)
    return handle


_fixture_class: type[MockDriveFixture] | None = None


def _load_fixture_class() -> type[MockDriveFixture]:
    """``MockDriveFixture``, imported on the first test (the plugin imports nothing at the top);
    kept, so later tests skip the import statement's look-up."""
    global _fixture_class
    from .fixture import MockDriveFixture

    _fixture_class = MockDriveFixture
    return MockDriveFixture


@pytest.fixture
def mock_drive_app(request: pytest.FixtureRequest) -> MockDriveApp:
    """An un-started mockdrive app with a fresh state (honours the marker's scenario/seed)."""
    from ..server import MockDrive
    from .fixture import MockDriveApp

    factory, _tls = _state_factory(request.node)
    handle = MockDriveApp(MockDrive(factory(), state_factory=factory))
    handle.scenario_dirs = _scenario_dirs(request.node)
    return handle
