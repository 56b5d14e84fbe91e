"""SQLite wake-ups cross processes (``polos.store.sqlite.wake``).

The worker subprocesses here poll only every 30 s (``POLOS_TEST_POLL``) and
renew leases rarely, so anything they do within the tests' 10 s timeouts was
set off by a datagram from this process, not by a poll. The waits are
generous: these are not latency measurements.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from polos import EventData, PolosClient, events
from polos.store.hub import Hub
from polos.store.sqlite.wake import PATH_LIMIT, wake_folder
from toolkit.processes import WorkerProcess
from toolkit.waiting import wait_for_status

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="Unix datagram sockets")

PROMPT = 10.0  # far below the workers' 30 s poll
#: Workers that learn of new work only by a wake-up (or a 30 s poll).
SLEEPY = {"POLOS_TEST_POLL": "30", "POLOS_TEST_LEASE": "300"}


def url_of(db: Path) -> str:
    return f"sqlite:///{db}"


def sockets_in(folder: str) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(".sock"))


async def test_the_wake_folder_stays_while_a_store_is_open_and_goes_with_the_last(
    short_dir: Path,
) -> None:
    db = short_dir / "polos.db"
    folder = f"{db.resolve()}-wake"
    async with PolosClient(database_url=url_of(db)):
        async with PolosClient(database_url=url_of(db)):
            assert len(sockets_in(folder)) == 2
        assert len(sockets_in(folder)) == 1  # still there for the store left open
    assert not os.path.exists(folder)
    async with PolosClient(database_url=url_of(db)):  # and made again when needed
        assert len(sockets_in(folder)) == 1


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder with a short path, so that the wake folder goes beside the
    database (pytest's own folders can be too long for a socket path, as on CI)."""
    folder = Path(tempfile.mkdtemp(prefix="pw", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


async def test_a_client_process_wakes_a_sleepy_worker(tmp_path: Path, short_dir: Path) -> None:
    db = short_dir / "polos.db"
    async with PolosClient(database_url=url_of(db)) as client:
        worker = WorkerProcess(url_of(db), tmp_path / "steps.log", **SLEEPY)
        try:
            folder = wake_folder(str(db))
            assert folder == f"{db.resolve()}-wake"
            assert len(sockets_in(folder)) == 2  # this process's and the worker's
            handle = await client.invoke("crash_order", {})
            result = await handle.result(client, timeout=PROMPT)
            assert result["status"] == "completed"
        finally:
            worker.stop()
        # The worker removed its socket on its way out; ours goes on close,
        # and the last one out takes the folder with it.
        assert len(sockets_in(folder)) == 1
    assert not os.path.exists(folder)
    assert sorted(os.listdir(short_dir)) == sorted(
        name for name in os.listdir(short_dir) if name.startswith("polos.db")
    )


async def test_an_event_from_another_process_resumes_a_waiting_run(tmp_path: Path) -> None:
    db = tmp_path / "polos.db"
    async with PolosClient(database_url=url_of(db)) as client:
        worker = WorkerProcess(url_of(db), tmp_path / "steps.log", **SLEEPY)
        try:
            handle = await client.invoke("crash_event_waiter", {"topic": "wake.go"})
            await wait_for_status(client, handle.id, "waiting", timeout=PROMPT)
            # Resolved only by a signal, never by a poll: the worker's "finished"
            # must reach this process's hub.
            hub = Hub.for_database(f"sqlite:{os.path.realpath(db)}")
            finished = hub.finished_future(handle.id)
            await events.publish(client, "wake.go", EventData(data={"go": 1}))
            await asyncio.wait_for(finished, PROMPT)
            assert await handle.result(client, timeout=PROMPT) == {"go": 1}
        finally:
            worker.stop()


async def test_a_cancellation_from_another_process_reaches_the_cancel_listeners(
    tmp_path: Path,
) -> None:
    """What a worker's cancel listener (stopping the run, giving up a held one)
    is told: a signal only, so without a wake-up it never comes."""
    db = tmp_path / "polos.db"
    async with PolosClient(database_url=url_of(db)) as client:
        worker = WorkerProcess(url_of(db), tmp_path / "steps.log")  # polls: starts the run
        handle = await client.invoke("crash_event_waiter", {"topic": "wake.never"})
        await wait_for_status(client, handle.id, "waiting", timeout=PROMPT)
        hub = Hub.for_database(f"sqlite:{os.path.realpath(db)}")
        told: asyncio.Queue[str] = asyncio.Queue()
        unsubscribe = hub.on_cancel(told.put_nowait)
        finished = hub.finished_future(handle.id)
        try:
            cancel = (
                "import asyncio, sys\n"
                "from polos import PolosClient\n"
                "async def main():\n"
                "    async with PolosClient(database_url=sys.argv[1]) as client:\n"
                "        assert await client.cancel_execution(sys.argv[2])\n"
                "asyncio.run(main())\n"
            )
            done = await asyncio.create_subprocess_exec(
                sys.executable, "-c", cancel, url_of(db), handle.id, env=_with_src()
            )
            assert await asyncio.wait_for(done.wait(), PROMPT) == 0
            assert await asyncio.wait_for(told.get(), PROMPT) == handle.id
            await asyncio.wait_for(finished, PROMPT)
        finally:
            unsubscribe()
            worker.stop()
        assert (await client.get_execution(handle.id)).status == "cancelled"


def _with_src() -> dict[str, str]:
    src = str(Path(__file__).resolve().parent.parent / "src")
    return {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


async def test_a_dead_process_socket_is_removed_and_harmless(tmp_path: Path) -> None:
    db = tmp_path / "polos.db"
    folder = wake_folder(str(db))
    assert folder is not None
    # A process that bound its socket and was killed before it could remove it.
    bind_and_die = (
        "import os, socket, sys\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
        "s.bind(os.path.join(sys.argv[1], f'{os.getpid()}-deadbeef.sock'))\n"
        "os.kill(os.getpid(), 9)\n"
    )
    done = subprocess.run([sys.executable, "-c", bind_and_die, folder], check=False)
    assert done.returncode == -signal.SIGKILL
    [stale] = sockets_in(folder)
    async with PolosClient(database_url=url_of(db)) as client:
        worker = WorkerProcess(url_of(db), tmp_path / "steps.log", **SLEEPY)
        try:
            handle = await client.invoke("crash_order", {})
            assert (await handle.result(client, timeout=PROMPT))["status"] == "completed"
            assert stale not in sockets_in(folder)
            again = await client.invoke("crash_order", {})
            assert (await again.result(client, timeout=PROMPT))["status"] == "completed"
        finally:
            worker.stop()


async def test_a_path_too_long_for_a_socket_uses_the_temporary_directory(
    tmp_path: Path,
) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    db = deep / "polos.db"
    assert len(os.fsencode(f"{db}-wake")) > PATH_LIMIT
    folder = wake_folder(str(db))
    assert folder is not None and folder.startswith(tempfile.gettempdir())
    async with PolosClient(database_url=url_of(db)) as client:
        worker = WorkerProcess(url_of(db), tmp_path / "steps.log", **SLEEPY)
        try:
            assert len(sockets_in(folder)) == 2
            handle = await client.invoke("crash_order", {})
            assert (await handle.result(client, timeout=PROMPT))["status"] == "completed"
        finally:
            worker.stop()
    assert not os.path.exists(folder)
    assert not os.path.exists(f"{db}-wake")
