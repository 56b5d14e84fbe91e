"""A worker on PostgreSQL opens the connections its first runs need when it
starts, so that its first run does not wait for connects and logins."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from conftest import PG_DSN
from polos import Polos, WorkflowContext, workflow


@workflow(id="warm_connections_echo")
async def echo(ctx: WorkflowContext, payload: dict) -> dict:
    return payload


async def _connections(app: str) -> int:
    """The pool's connections of ``app`` (the listener's is ``<app>-listen``)."""
    admin = await asyncpg.connect(PG_DSN)
    try:
        return int(
            await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app
            )
        )
    finally:
        await admin.close()


# At least four, or as many as may be kept out of the pool (one always stays
# in it, which the worker's loops may open too); never more than the pool.
@pytest.mark.parametrize(("pool_size", "opened"), [(10, 4), (3, 2)])
async def test_a_starting_worker_opens_its_connections_up_to_the_pool(
    pg_url: str, pool_size: int, opened: int
) -> None:
    app = f"warm-{uuid.uuid4().hex[:8]}"
    url = f"{pg_url}&application_name={app}&pool_size={pool_size}"
    async with Polos(database_url=url, workflows=[echo]) as polos:
        assert opened <= await _connections(app) <= pool_size
        assert await echo.run(polos, {"n": 1}) == {"n": 1}


async def test_a_client_alone_opens_one_connection(pg_url: str) -> None:
    app = f"warm-{uuid.uuid4().hex[:8]}"
    async with Polos(database_url=f"{pg_url}&application_name={app}", worker=False):
        assert await _connections(app) == 1
