"""Contract: which workflows are served here, and which workers run.

Methods: ``register_workflows``, ``known_workflows``, ``all_workflows``, ``served_workflows``,
``register_worker``, ``unregister_worker``, ``list_workers``.
"""

from __future__ import annotations

from polos.store import ServedWorkflow, Store, WorkerRow

from .kit import T0


async def test_served_workflows_are_remembered(store: Store) -> None:
    assert await store.all_workflows() == []
    await store.register_workflows(
        [ServedWorkflow("orders", "orders"), ServedWorkflow("emails", "mail")], T0
    )
    await store.register_workflows(
        [ServedWorkflow("orders", "priority"), ServedWorkflow("agents", "agents")], T0 + 1
    )
    await store.register_workflows([], T0 + 2)
    assert await store.all_workflows() == ["agents", "emails", "orders"]
    assert await store.known_workflows(["orders", "nope", "agents"]) == {"orders", "agents"}
    assert await store.known_workflows([]) == set()


async def test_served_workflows_keep_the_latest_description(store: Store) -> None:
    assert await store.served_workflows() == []
    agent = ServedWorkflow("helper", "helper", "agent", "d1", '{"model": "gpt-4o"}')
    await store.register_workflows([agent, ServedWorkflow("add", "add", "tool")], T0)
    # A newer deployment re-describes the agent; the tool keeps its description.
    await store.register_workflows(
        [ServedWorkflow("helper", "fast", "agent", "d2", '{"model": "gpt-4o-mini"}')], T0 + 1
    )
    assert await store.served_workflows() == [
        ServedWorkflow("add", "add", "tool", None, None, T0, T0),
        ServedWorkflow("helper", "fast", "agent", "d2", '{"model": "gpt-4o-mini"}', T0 + 1, T0),
    ]


async def test_workers_register_renew_and_leave(store: Store) -> None:
    assert await store.list_workers() == []
    await store.register_worker(WorkerRow("w2", "host-b", 22, T0 + 1, T0 + 1))
    await store.register_worker(WorkerRow("w1", "host-a", 11, T0, T0))
    # Registering again renews the heartbeat only.
    await store.register_worker(WorkerRow("w1", "host-z", 99, T0 + 5, T0 + 6))
    assert await store.list_workers() == [
        WorkerRow("w1", "host-a", 11, T0, T0 + 6),
        WorkerRow("w2", "host-b", 22, T0 + 1, T0 + 1),
    ]
    await store.unregister_worker("w1")
    await store.unregister_worker("never-registered")
    assert [w.worker_id for w in await store.list_workers()] == ["w2"]


async def test_a_registration_without_description_keeps_the_one_known(store: Store) -> None:
    # An SDK worker registers an agent's definition, then the same id again with none
    # (its deployment-workflow call): the definition stays.
    agent = ServedWorkflow("sdk_agent", "sdk_agent", "agent", "d1", '{"model": "gpt-4o"}')
    await store.register_workflows([agent], T0)
    await store.register_workflows(
        [ServedWorkflow("sdk_agent", "sdk_agent", "agent", "d1")], T0 + 1
    )
    assert await store.served_workflows() == [
        ServedWorkflow("sdk_agent", "sdk_agent", "agent", "d1", '{"model": "gpt-4o"}', T0 + 1, T0)
    ]
