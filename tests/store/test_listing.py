"""Contract: ``list_executions`` with any combination of its filters.

Each combination is its own statement (so that each can use its own index,
store/listing.py); this checks every one of them against the same filters
applied by hand to the unfiltered list, newest first, with paging.
"""

from __future__ import annotations

import itertools
from typing import Any

from polos.store import ExecutionRow, Store

from .kit import T0, new_execution


def _matches(row: ExecutionRow, filters: dict[str, Any]) -> bool:
    checks = {
        "status": lambda v: row.status == v,
        "workflow_id": lambda v: row.workflow_id == v,
        "created_after": lambda v: row.created_at >= v,
        "created_before": lambda v: row.created_at < v,
        "session_id": lambda v: row.session_id == v,
        "id_contains": lambda v: v in row.id,
    }
    return all(checks[name](value) for name, value in filters.items())


async def test_every_combination_of_filters_lists_what_it_should(store: Store) -> None:
    made = []
    for i in range(12):
        new = new_execution(
            "alpha" if i % 3 else "beta", T0 + i, session_id="s-even" if i % 2 == 0 else None
        )
        await store.create_execution(new)
        made.append(new.id)
    # Some of them running (claimed), the rest queued: two statuses to filter on.
    await store.claim("w1", ["alpha"], 3, T0 + 20, 30.0)
    everything = await store.list_executions(limit=100)
    assert [r.id for r in everything] == made[::-1], "newest first"
    assert {r.status for r in everything} == {"queued", "running"}

    values: dict[str, Any] = {
        "status": "running",
        "workflow_id": "alpha",
        "created_after": T0 + 2,
        "created_before": T0 + 10,
        "session_id": "s-even",
        "id_contains": made[4][9:18],
    }
    checked = 0
    for size in range(len(values) + 1):
        for names in itertools.combinations(values, size):
            filters = {name: values[name] for name in names}
            expected = [r.id for r in everything if _matches(r, filters)]
            got = [r.id for r in await store.list_executions(**filters, limit=100)]
            assert got == expected, filters
            paged = [r.id for r in await store.list_executions(**filters, limit=2, offset=1)]
            assert paged == expected[1:3], filters
            checked += 1
    assert checked == 64
    # The filters do narrow: a few combinations that must find something.
    assert len(await store.list_executions(status="queued", workflow_id="beta")) == 4
    assert len(await store.list_executions(status="running", workflow_id="alpha")) == 3
    assert await store.list_executions(status="running", workflow_id="beta") == []
