"""A fresh embedded ``Polos`` for a test, with a test clock and step assertions.

    async with PolosTestKit() as kit:                 # a temp SQLite file, its own worker
        handle = await kit.polos.invoke(my_workflow, {...})
        await kit.wait_for_status(handle.id, "waiting")
        kit.clock.advance(days=3)                     # the durable sleep is over, now
        assert await handle.result(timeout=10) == ...
        await kit.assert_steps(handle.id, ["validate", "cool_off", "charge"])

The pytest fixtures of :mod:`polos.testing.pytest_plugin` hand one of these
(``polos_kit``) and its ``Polos`` (``polos``) to each test.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..engine.definition import WorkflowDefinition
from ..runtime.models import ExecutionInfo
from ..runtime.polos import Polos
from .clock import TestClock


class PolosTestKit:
    """An embedded ``Polos`` on a new SQLite file (deleted on exit, unless ``path`` is
    given) whose clock is ``clock`` (a new :class:`TestClock` by default). It serves
    ``workflows`` (default: every workflow, agent and tool defined so far)."""

    __test__ = False

    def __init__(
        self,
        *,
        clock: TestClock | None = None,
        workflows: Iterable[WorkflowDefinition | str] | None = None,
        path: str | Path | None = None,
        **polos_options: Any,
    ) -> None:
        self.clock = clock or TestClock()
        self._own_dir = None if path is not None else Path(tempfile.mkdtemp(prefix="polos-test-"))
        self.path = Path(path) if path is not None else self._own_dir / "polos.db"  # type: ignore[operator]
        self.polos = Polos(
            database_url=f"sqlite:///{self.path.resolve()}",
            workflows=workflows,
            clock=self.clock,
            **polos_options,
        )
        # A moved clock wakes the worker's timer loop, so what fell due fires now.
        self.clock.on_change(lambda: self.polos.client.store.hub.timer_set())

    async def __aenter__(self) -> PolosTestKit:
        await self.polos.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.polos.stop()
        finally:
            if self._own_dir is not None:
                shutil.rmtree(self._own_dir, ignore_errors=True)

    # waiting ------------------------------------------------------------------------
    async def wait_for_status(
        self, execution_id: str, *statuses: str, timeout: float = 10.0
    ) -> ExecutionInfo:
        """Poll until the run's status is one of ``statuses`` (default: it has finished);
        raises ``AssertionError`` naming the status it is stuck in."""
        wanted = set(statuses) or {"completed", "failed", "cancelled"}
        deadline = time.monotonic() + timeout
        while True:
            info = await self.polos.get_execution(execution_id)
            if info.status in wanted:
                return info
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"execution {execution_id} is {info.status} after {timeout:g}s, not "
                    f"{' or '.join(sorted(wanted))} (waiting on: {info.waiting_on})"
                )
            await asyncio.sleep(0.01)

    # what ran -----------------------------------------------------------------------
    async def step_keys(self, execution_id: str) -> list[str]:
        """The keys of the steps the run recorded, in the order they were recorded."""
        return await step_keys(self.polos, execution_id)

    async def assert_steps(
        self, execution_id: str, expected: Sequence[str], *, exactly: bool = True
    ) -> None:
        """Assert the run recorded ``expected`` steps in that order (``exactly=False``:
        those among others, still in that order)."""
        await assert_steps(self.polos, execution_id, expected, exactly=exactly)

    async def assert_step_not_run(self, execution_id: str, step_key: str) -> None:
        """Assert the run recorded no step ``step_key``."""
        keys = await self.step_keys(execution_id)
        if step_key in keys:
            raise AssertionError(f"step {step_key!r} ran in {execution_id}; its steps: {keys}")


async def step_keys(client: Any, execution_id: str) -> list[str]:
    """The keys of the steps ``execution_id`` recorded, oldest first (any ``Polos`` or
    ``PolosClient``)."""
    info: ExecutionInfo = await client.get_execution(execution_id)
    return [s.step_key for s in sorted(info.steps, key=lambda s: s.created_at)]


async def assert_steps(
    client: Any, execution_id: str, expected: Sequence[str], *, exactly: bool = True
) -> None:
    """Assert ``execution_id`` recorded the steps ``expected``, in that order; with
    ``exactly=False`` other steps may come between them. The message shows both lists."""
    keys = await step_keys(client, execution_id)
    wanted = list(expected)
    if exactly:
        ok = keys == wanted
    else:
        remaining = iter(keys)
        ok = all(any(k == w for k in remaining) for w in wanted)
    if not ok:
        how = "exactly" if exactly else "in this order"
        raise AssertionError(
            f"execution {execution_id} recorded steps {keys}, expected {how} {wanted}"
        )
