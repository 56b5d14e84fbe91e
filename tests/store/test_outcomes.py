"""Contract: finishing an execution (fenced).

Methods: ``complete_execution``, ``fail_execution``.
"""

from __future__ import annotations

import orjson

from polos.store import Store

from .kit import T0, events_of, running


async def test_complete_stores_the_result_and_state_and_frees_the_lease(store: Store) -> None:
    eid = (await running(store)).execution.id
    assert await store.complete_execution(eid, 1, '{"total": 3}', T0 + 5, state='{"n": 2}')
    row = await store.get_execution(eid)
    assert row is not None
    assert (row.status, row.error, row.owner, row.lease_expires_at) == (
        "completed",
        None,
        None,
        None,
    )
    assert orjson.loads(row.result or "") == {"total": 3}
    assert (row.completed_at, row.updated_at, row.state) == (T0 + 5, T0 + 5, '{"n": 2}')
    history = await store.list_history(eid)
    assert (history[-1].event, history[-1].attempt) == ("completed", 1)


async def test_fail_stores_the_error_and_keeps_the_state_when_none_is_given(store: Store) -> None:
    eid = (await running(store, state='{"n": 0}')).execution.id
    assert await store.fail_execution(eid, 1, '{"type": "KeyError"}', T0 + 5)
    row = await store.get_execution(eid)
    assert row is not None
    assert (row.status, row.result, row.owner, row.completed_at) == ("failed", None, None, T0 + 5)
    assert orjson.loads(row.error or "") == {"type": "KeyError"}
    assert row.state == '{"n": 0}'
    assert await events_of(store, eid) == ["created", "claimed", "failed"]


async def test_only_the_current_attempt_of_a_running_execution_can_finish_it(
    store: Store,
) -> None:
    eid = (await running(store)).execution.id
    assert await store.requeue_expired_leases(T0 + 100) == 1
    assert not await store.complete_execution(eid, 1, '"zombie"', T0 + 100), "queued"
    await store.claim("w2", ["wf"], 1, T0 + 100, 30.0)
    assert not await store.complete_execution(eid, 1, '"zombie"', T0 + 101)
    assert not await store.fail_execution(eid, 1, "{}", T0 + 101)
    assert await store.complete_execution(eid, 2, '"healthy"', T0 + 102)
    assert not await store.fail_execution(eid, 2, "{}", T0 + 103), "finished once"
    # A finished execution is never claimed again.
    assert await store.claim("w3", ["wf"], 1, T0 + 104, 30.0) == []
    row = await store.get_execution(eid)
    assert row is not None and (row.status, row.result, row.attempt) == (
        "completed",
        '"healthy"',
        2,
    )
    assert [h.attempt for h in await store.list_history(eid) if h.event == "completed"] == [2]
