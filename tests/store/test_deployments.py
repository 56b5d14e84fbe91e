"""Contract: claims serve the deployments (code versions) a worker was told to.

Methods: ``claim`` (``deployment_id``, ``serve_deployments``), ``register_worker`` /
``list_workers`` (``serve_deployments``).
"""

from __future__ import annotations

from polos.store import Store, WorkerRow
from polos.store.records import QueueRow

from .kit import T0, new_execution


async def test_a_claim_takes_its_own_deployment_and_pins_runs_that_have_none(
    store: Store,
) -> None:
    v1 = new_execution("wf", T0, deployment_id="v1")
    v2 = new_execution("wf", T0 + 1, deployment_id="v2")
    loose = new_execution("wf", T0 + 2)
    await store.create_executions([v1, v2, loose])
    claimed = await store.claim("w2", ["wf"], 10, T0 + 3, 30.0, deployment_id="v2")
    assert {c.execution.id: c.execution.deployment_id for c in claimed} == {
        v2.id: "v2",
        loose.id: "v2",  # pinned to the version it started on
    }
    row = await store.get_execution(loose.id)
    assert row is not None and row.deployment_id == "v2"
    assert await store.claim("w2", ["wf"], 10, T0 + 4, 30.0, deployment_id="v2") == []
    # A worker told to serve v1 too takes the old run.
    [old] = await store.claim(
        "w3", ["wf"], 10, T0 + 5, 30.0, deployment_id="v3", serve_deployments=["v1"]
    )
    assert (old.execution.id, old.execution.deployment_id) == (v1.id, "v1")


async def test_serving_any_deployment_and_claims_that_do_not_say(store: Store) -> None:
    runs = [new_execution("wf", T0 + i, deployment_id=f"v{i}") for i in range(3)]
    await store.create_executions(runs)
    assert await store.claim("w", ["wf"], 10, T0 + 5, 30.0, deployment_id="v9") == []
    [first] = await store.claim(
        "w", ["wf"], 1, T0 + 5, 30.0, deployment_id="v9", serve_deployments=["*"]
    )
    assert (first.execution.id, first.execution.deployment_id) == (runs[0].id, "v0")
    # A caller that names no deployment serves them all and pins nothing.
    rest = await store.claim("w", ["wf"], 10, T0 + 6, 30.0)
    assert [c.execution.deployment_id for c in rest] == ["v1", "v2"]
    loose = new_execution("wf", T0 + 7)
    await store.create_execution(loose)
    [c] = await store.claim("w", ["wf"], 10, T0 + 8, 30.0)
    assert c.execution.deployment_id is None


async def test_admission_under_queue_limits_serves_deployments_too(store: Store) -> None:
    await store.upsert_queue(QueueRow("limited", 5, None, None, T0))
    v1 = new_execution("wf", T0, deployment_id="v1", queue_name="limited")
    loose = new_execution("wf", T0 + 1, queue_name="limited")
    v2 = new_execution("wf", T0 + 2, deployment_id="v2", queue_name="limited")
    await store.create_executions([v1, loose, v2])
    claimed = await store.claim("w", {"wf": "limited"}, 10, T0 + 3, 30.0, deployment_id="v2")
    assert {c.execution.id: c.execution.deployment_id for c in claimed} == {
        loose.id: "v2",
        v2.id: "v2",
    }
    row = await store.get_execution(v1.id)
    assert row is not None and row.status == "queued", "nobody here serves v1"


async def test_workers_say_which_older_deployments_they_serve(store: Store) -> None:
    await store.register_worker(WorkerRow("a", "h", 1, T0, T0, "v2", ("v1", "*")))
    await store.register_worker(WorkerRow("b", "h", 2, T0 + 1, T0 + 1, "v2"))
    assert await store.list_workers() == [
        WorkerRow("a", "h", 1, T0, T0, "v2", ("v1", "*")),
        WorkerRow("b", "h", 2, T0 + 1, T0 + 1, "v2", ()),
    ]
