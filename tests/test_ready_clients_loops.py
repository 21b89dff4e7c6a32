"""The ready async clients against the ways users run their event loops: what their
connection-closing leaves on a loop, and what it keeps once the server is gone."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref

import pytest
from aiohttp.test_utils import loop_context
from test_ready_clients import client_connections, linux_only

from mockdrive.cli import default_state
from mockdrive.server import MockDrive
from mockdrive.testing.clients import CLOSER_NAME


async def test_a_test_that_waits_for_its_loops_other_tasks_is_not_kept_waiting(mock_drive):
    """What closes the ready clients' connections at the loop's shutdown is not a task."""
    assert (await mock_drive.async_httpx_client().get("/me")).status_code == 200
    others = asyncio.all_tasks() - {asyncio.current_task()}
    pending = (await asyncio.wait(others, timeout=1))[1] if others else set()
    assert [task.get_name() for task in pending] == []


# its connections are left to the collector, as documented (nothing can close them once their
# loop is closed without finalizing its async generators): the collector says so
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_stopped_server_is_not_kept_by_a_loop_closed_without_cancelling_its_tasks():
    """aiohttp's ``loop_context`` closes its loop without cancelling tasks or finalizing async
    generators: the stopped server and its state are still let go."""
    server = MockDrive(default_state("loop-token")).start()

    async def use(server: MockDrive) -> int:
        return (await server.clients.async_httpx_client().get("/me")).status_code

    with loop_context() as loop:
        assert loop.run_until_complete(use(server)) == 200
    server.stop()
    gone = weakref.ref(server)
    del server
    gc.collect()
    assert gone() is None


@linux_only
async def test_a_loop_that_goes_on_keeps_neither_a_stopped_server_nor_its_connections():
    """A session-scoped loop, or one ``asyncio.run`` around many servers: each server's async
    clients close their connections when it stops, not when the loop ends, and let it go."""
    for _ in range(3):
        server = MockDrive(default_state("loop-token")).start()
        assert (await server.clients.async_httpx_client().get("/me")).status_code == 200
        port = server.port
        # stopped on a thread joined here: an executor's worker (``asyncio.to_thread``) can
        # still hold the call, and with it the server, for a moment after handing the result
        stopping = threading.Thread(target=server.stop)
        stopping.start()
        await asyncio.to_thread(stopping.join)
        for _ in range(100):  # the closing task's turn on this loop
            if not any(task.get_name() == CLOSER_NAME for task in asyncio.all_tasks()):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)  # and its done callbacks'
        gone = weakref.ref(server)
        del server
        gc.collect()
        kept = gone()  # what still holds it, if anything (a flaky failure names it)
        assert kept is None, [type(holder).__name__ for holder in gc.get_referrers(kept)]
        assert client_connections(port) == set()


@linux_only
def test_a_server_stopped_just_before_its_loop_shuts_down_closes_its_connections_once():
    """A stop between a loop's last run and its shutdown (a session-scoped loop outliving the
    server's fixture, ``asyncio.Runner`` around a stop) leaves the connections' closing queued
    on the loop, which its shutdown then runs beside the finalization of its async generators:
    both close the connections, and neither fails (the loop's exception handler hears nothing)."""
    server = MockDrive(default_state("loop-token")).start()
    port = server.port
    heard: list[dict] = []

    async def use() -> int:
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: heard.append(context)
        )
        return (await server.clients.async_httpx_client().get("/me")).status_code

    with asyncio.Runner() as runner:
        assert runner.run(use()) == 200
        server.stop()
    assert [context["message"] for context in heard] == []
    assert client_connections(port) == set()


@linux_only
def test_a_server_stopped_on_its_clients_loop_closes_their_connections_as_the_loop_ends():
    """A stop from inside the loop's own thread, its last step: the closing it queues on the
    loop is a task that the loop's shutdown cancels before it finalizes its async generators,
    which close the connections all the same."""
    server = MockDrive(default_state("loop-token")).start()
    port = server.port

    async def use_then_stop() -> int:
        status = (await server.clients.async_httpx_client().get("/me")).status_code
        server.stop()
        return status

    assert asyncio.run(use_then_stop()) == 200
    assert client_connections(port) == set()


@linux_only
async def test_a_start_async_servers_stop_closes_its_ready_clients():
    """As ``stop`` does for a server on its own thread: the sessions and clients it handed out
    hold no connection to it once ``stop_async`` returns."""
    server = MockDrive(default_state("loop-token"))
    await server.start_async()
    port = server.port

    def use() -> list[int]:  # the sync clients block: off the loop that serves them
        return [
            server.clients.session().get("/me").status_code,
            server.clients.httpx_client().get("/me").status_code,
        ]

    assert await asyncio.to_thread(use) == [200, 200]
    assert (await server.clients.async_httpx_client().get("/me")).status_code == 200
    assert client_connections(port)
    await server.stop_async()
    for _ in range(100):  # the async pool's closing task's turn on this loop
        if not client_connections(port):
            break
        await asyncio.sleep(0.01)
    assert client_connections(port) == set()


@pytest.mark.parametrize("kind", ["session", "httpx_client", "graph_client"])
def test_threads_asking_for_a_ready_client_at_once_get_the_same_one(mock_drive, kind):
    """A client built twice by a race would be one given out and never closed (or two
    sessions holding different cookies for one caller)."""
    clients = mock_drive.server.clients
    tokens = [f"token-{n}" for n in range(4)]
    threads = 4
    start = threading.Barrier(threads)
    got: list[list[object]] = [[] for _ in range(threads)]

    def ask(index: int) -> None:
        start.wait()
        got[index].extend(getattr(clients, kind)(token) for token in tokens)

    workers = [threading.Thread(target=ask, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for position, token in enumerate(tokens):
        given = {id(answers[position]) for answers in got}
        assert len(given) == 1, f"{kind}({token!r}) gave {len(given)} different clients"
