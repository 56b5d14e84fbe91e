"""Waiting for something to happen, never longer than a timeout that says what."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Block until ``predicate()`` is true (for code off the event loop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def until(
    check: Callable[[], Awaitable[Any]], timeout: float, what: str, poll: float = 0.01
) -> Any:
    """Await ``check()`` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(poll)


async def wait_for_status(
    client: Any, execution_id: str, status: str, timeout: float = 10.0
) -> Any:
    """Poll ``client.get_execution`` (a ``PolosClient`` or a ``Polos``) until the
    execution is ``status``; returns its ``ExecutionInfo``."""
    seen: list[str] = []

    async def reached() -> Any:
        info = await client.get_execution(execution_id)
        seen[:] = [info.status]
        return info if info.status == status else None

    try:
        return await until(reached, timeout, f"{execution_id} to be {status!r}")
    except AssertionError:
        raise AssertionError(
            f"execution {execution_id} stayed {seen[0]!r}, expected {status!r} within {timeout}s"
        ) from None


async def wait_for_step(
    client: Any, execution_id: str, step_key: str, timeout: float = 10.0
) -> Any:
    """Poll until the execution waits on ``step_key``; returns its ``ExecutionInfo``."""

    async def reached() -> Any:
        info = await client.get_execution(execution_id)
        return info if info.waiting_on == step_key else None

    return await until(reached, timeout, f"{execution_id} to wait on {step_key!r}")
