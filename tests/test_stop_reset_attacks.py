"""A stop racing resets from other threads (the fresh state the factory builds, and a given
one), and a reset or a hop onto the loop in the moment a stop is in: no exception, no wait
past the bounds (``SETTLE_WAIT``, ``STOP_GRACE``), no thread or descriptor left behind."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from mockdrive.cli import default_state
from mockdrive.model.ids import EPOCH
from mockdrive.model.state import State
from mockdrive.server import MockDrive


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_resets_of_either_kind_racing_a_stop_end_without_an_error_or_a_long_wait():
    """A reset to a fresh state lost its hand-over to the closing loop and then hopped onto
    that loop: 'Event loop is closed', or a callback never run and a wait of 30 s."""
    threads, descriptors = threading.active_count(), open_descriptors()
    failures: dict[str, int] = {}
    slowest = 0.0
    for round_ in range(40):
        server = MockDrive(default_state("a"), clock=EPOCH).start()
        go = threading.Event()

        def resets(fresh: bool, server: MockDrive = server, go: threading.Event = go) -> None:
            nonlocal slowest
            go.wait()
            for _ in range(3):
                began = time.monotonic()
                try:
                    given = None if fresh else default_state("b")
                    served = server.reset(given)
                    assert isinstance(served, State) and (fresh or served is given)
                except Exception as error:  # counted below
                    failures[repr(error)] = failures.get(repr(error), 0) + 1
                slowest = max(slowest, time.monotonic() - began)

        racing = [threading.Thread(target=resets, args=(fresh,)) for fresh in (True, False)]
        for thread in racing:
            thread.start()
        go.set()
        time.sleep(0.0005 * (round_ % 7))
        server.stop()
        for thread in racing:
            thread.join(60)
            assert not thread.is_alive()
        fresh = server.reset()  # after the stop: served from here, without a loop
        assert isinstance(fresh, State) and server.state is fresh
    assert failures == {}
    assert slowest < 2  # a settle wait or two, a stop's grace: never the 30 s of a lost hop
    assert threading.active_count() <= threads  # (one an earlier test left may end meanwhile)
    assert open_descriptors() <= descriptors


def test_a_reset_and_a_hop_in_the_moment_a_stop_is_in_run_here():
    """The loop has ended and closed, the stop's join has not returned (``_thread`` still
    set): a reset to a fresh state and ``call`` run on the caller's thread, as after a stop."""
    server = MockDrive(default_state("a"), clock=EPOCH).start()
    loop, thread = server._loop, server._thread
    assert loop is not None and thread is not None
    loop.call_soon_threadsafe(loop.stop)  # what stop() does first
    thread.join(30)
    assert loop.is_closed() and server._thread is thread
    assert server.call(lambda: 41 + 1) == 42
    fresh = server.reset()
    assert isinstance(fresh, State) and server.state is fresh
    given = default_state("b")
    assert server.reset(given) is given
    server.stop()


def test_stops_from_several_threads_at_once_with_resets_between():
    """Two stops at once: the second found the loop closed by the first ('Event loop is
    closed'), or its thread let go of (None has no join), or its stop ran while the loop
    cleaned up ('Event loop stopped before Future completed': port and loop left open)."""
    failures: dict[str, int] = {}
    for _ in range(25):
        server = MockDrive(default_state("a"), clock=EPOCH).start()
        server.clients  # noqa: B018 (what a stop closes, built)
        go = threading.Event()

        def act(stop: bool, server: MockDrive = server, go: threading.Event = go) -> None:
            go.wait()
            try:
                server.stop() if stop else server.reset(default_state("b"))
            except Exception as error:  # counted below
                failures[repr(error)] = failures.get(repr(error), 0) + 1

        actors = [threading.Thread(target=act, args=(kind,)) for kind in (True, True, False, True)]
        for thread in actors:
            thread.start()
        go.set()
        for thread in actors:
            thread.join(60)
            assert not thread.is_alive()
        assert server._thread is None
        assert server._loop is not None and server._loop.is_closed()  # the stop ran through
        with pytest.raises(ConnectionRefusedError):  # its port closed by the runner's clean-up
            socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    assert failures == {}
