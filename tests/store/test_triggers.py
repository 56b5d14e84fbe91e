"""Contract: event triggers, fired exactly once.

Methods: ``upsert_trigger``, ``list_triggers``, ``fire_trigger``. A trigger
keeps a cursor in the event sequence; ``fire_trigger`` is a compare-and-set
on it that starts the trigger's runs in the same transaction.
"""

from __future__ import annotations

import asyncio

from polos.store import Store

from .kit import T0, event, new_execution


async def test_a_new_trigger_starts_after_the_last_event_and_keeps_its_cursor(
    store: Store,
) -> None:
    rows = await store.publish_events([event("signup"), event("other")], T0)
    assert rows is not None
    await store.upsert_trigger("onboard", "signup", 1, None, T0 + 1)
    [trigger] = await store.list_triggers()
    assert (trigger.workflow_id, trigger.topic, trigger.batch_size) == ("onboard", "signup", 1)
    assert (trigger.batch_timeout_seconds, trigger.cursor, trigger.updated_at) == (
        None,
        rows[-1].seq,
        T0 + 1,
    )
    await store.publish_events([event("signup")], T0 + 2)
    await store.upsert_trigger("onboard", "signup", 10, 5.0, T0 + 3)
    [updated] = await store.list_triggers()
    assert (updated.batch_size, updated.batch_timeout_seconds) == (10, 5.0)
    assert updated.cursor == rows[-1].seq, "re-registering never skips or replays events"
    await store.upsert_trigger("audit", "signup", 1, None, T0 + 4)
    assert {(t.workflow_id, t.topic) for t in await store.list_triggers()} == {
        ("onboard", "signup"),
        ("audit", "signup"),
    }


async def test_firing_advances_the_cursor_and_starts_the_runs_only_once(
    store: Store, stores: list[Store]
) -> None:
    await store.upsert_trigger("onboard", "signup", 1, None, T0)
    rows = await store.publish_events([event("signup") for _ in range(3)], T0 + 1)
    assert rows is not None
    [trigger] = await store.list_triggers()
    assert not await store.fire_trigger(
        "onboard", "signup", trigger.cursor + 1, rows[-1].seq, [new_execution("onboard")], T0 + 2
    ), "a stale cursor starts nothing"
    assert await store.list_executions() == []

    outcomes = await asyncio.gather(
        *(
            s.fire_trigger(
                "onboard",
                "signup",
                trigger.cursor,
                rows[-1].seq,
                [new_execution("onboard", T0 + 2) for _ in rows],
                T0 + 2,
            )
            for s in stores
        )
    )
    assert outcomes.count(True) == 1
    assert len(await store.list_executions()) == 3
    [after] = await store.list_triggers()
    assert (after.cursor, after.updated_at) == (rows[-1].seq, T0 + 2)
    assert not await store.fire_trigger("nobody", "signup", 0, 1, [], T0 + 3)
