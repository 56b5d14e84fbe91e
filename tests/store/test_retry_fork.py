"""Contract: retrying a failed or cancelled run, forking a run, finding failed runs.

Methods: ``retry_execution`` (failed step records removed, the rest kept, the
run queued under the same id with a ``retried`` history entry; refused for any
other status; children waited for retried with it), ``fork_execution`` (a new
run holding copies of chosen step records, ``forked`` on both), ``list_failed``
(by workflow, failure time and error text).
"""

from __future__ import annotations

import asyncio

import orjson

from polos.store import StepRow, Store

from .kit import T0, children, claim_all, events_of, new_execution, running, step


def _failed_step(key: str, attempt: int, at: float) -> StepRow:
    return StepRow(key, "run", "fn", None, '{"type": "Boom"}', attempt, at)


async def test_a_failed_run_is_queued_again_without_its_failed_steps(store: Store) -> None:
    run = await running(store, "wf")
    eid = run.execution.id
    assert await store.record_step(eid, 1, step("a", 1, at=T0 + 1))
    assert await store.record_step(eid, 1, step("b::retry1", 1, output="null", at=T0 + 2))
    assert await store.record_step(eid, 1, _failed_step("b", 1, T0 + 3))
    assert await store.fail_execution(eid, 1, '{"type": "Boom"}', T0 + 4)

    outcome = await store.retry_execution(eid, T0 + 5)
    assert outcome is not None and outcome.retried
    assert sorted(outcome.cleared_steps) == ["b", "b::retry1"] and outcome.children == []
    row = outcome.execution
    assert (row.id, row.status, row.error, row.completed_at) == (eid, "queued", None, None)
    assert [s.step_key for s in await store.list_steps(eid)] == ["a"]
    history = await store.list_history(eid)
    assert history[-1].event == "retried"
    detail = orjson.loads(history[-1].detail or "{}")
    assert detail["previous_status"] == "failed" and sorted(detail["cleared_steps"]) == [
        "b",
        "b::retry1",
    ]
    # The next claim is a later attempt, and brings the kept step back.
    [again] = await store.claim("w", ["wf"], 1, T0 + 6, 30.0)
    assert again.execution.id == eid and again.execution.attempt == 2
    assert [s.step_key for s in again.steps] == ["a"]


async def test_only_failed_or_cancelled_runs_are_retried(store: Store) -> None:
    assert await store.retry_execution("no-such-run", T0) is None
    queued = new_execution("q")
    await store.create_execution(queued)
    refused = await store.retry_execution(queued.id, T0 + 1)
    assert refused is not None and not refused.retried and refused.execution.status == "queued"

    run = await running(store, "done")
    assert await store.complete_execution(run.execution.id, 1, '"ok"', T0 + 2)
    refused = await store.retry_execution(run.execution.id, T0 + 3)
    assert refused is not None and not refused.retried
    assert refused.execution.status == "completed"

    cancelled = new_execution("c")
    await store.create_execution(cancelled)
    await store.cancel_execution(cancelled.id, T0 + 1)
    narrowed = await store.retry_execution(cancelled.id, T0 + 2, statuses=["failed"])
    assert narrowed is not None and not narrowed.retried
    outcome = await store.retry_execution(cancelled.id, T0 + 3)
    assert outcome is not None and outcome.retried and outcome.execution.status == "queued"
    assert (await events_of(store, cancelled.id))[-2:] == ["cancelled", "retried"]


async def test_failed_children_are_retried_and_waited_for_again(store: Store) -> None:
    parent = await running(store, "parent")
    pid = parent.execution.id
    kids = children(parent, "fan_out", 2)
    assert await store.start_children(pid, 1, "fan_out", kids, wait=True, output=None, now=T0 + 1)
    await claim_all(store, "kid")
    assert await store.complete_execution(kids[0].id, 1, '"zero"', T0 + 3)
    assert await store.fail_execution(kids[1].id, 1, '{"type": "Boom"}', T0 + 4)
    [again] = await store.claim("w", ["parent"], 1, T0 + 5, 30.0)
    assert await store.fail_execution(pid, again.execution.attempt, '{"type": "Child"}', T0 + 6)

    outcome = await store.retry_execution(pid, T0 + 7)
    assert outcome is not None and outcome.retried and outcome.children == [kids[1].id]
    row = outcome.execution
    assert (row.status, row.wait_kind, row.wait_step_key, row.pending_children) == (
        "waiting",
        "children",
        "fan_out",
        1,
    )
    assert await store.get_step(pid, "fan_out") is None
    kid = await store.get_execution(kids[1].id)
    assert kid is not None and kid.status == "queued"
    done = await store.get_execution(kids[0].id)
    assert done is not None and done.status == "completed"  # not run again
    [k] = await store.claim("w", ["kid"], 1, T0 + 8, 30.0)
    assert await store.complete_execution(k.execution.id, k.execution.attempt, '"one"', T0 + 9)
    row2 = await store.get_execution(pid)
    assert row2 is not None and row2.status == "queued"
    recorded = await store.get_step(pid, "fan_out")
    assert recorded is not None
    assert [o["result"] for o in orjson.loads(recorded.output or "")] == ["zero", "one"]


async def test_a_child_retried_alone_is_counted_again_by_its_waiting_parent(store: Store) -> None:
    parent = await running(store, "parent")
    pid = parent.execution.id
    kids = children(parent, "fan_out", 2)
    assert await store.start_children(pid, 1, "fan_out", kids, wait=True, output=None, now=T0 + 1)
    await claim_all(store, "kid")
    assert await store.fail_execution(kids[0].id, 1, '{"type": "Boom"}', T0 + 3)
    row = await store.get_execution(pid)
    assert row is not None and row.pending_children == 1
    outcome = await store.retry_execution(kids[0].id, T0 + 4)
    assert outcome is not None and outcome.retried
    row = await store.get_execution(pid)
    assert row is not None and (row.status, row.pending_children) == ("waiting", 2)


async def test_a_fork_copies_the_chosen_steps_into_a_new_run(store: Store) -> None:
    run = await running(store, "wf")
    eid = run.execution.id
    for i, key in enumerate(["a", "b", "c"]):
        assert await store.record_step(eid, 1, step(key, 1, output=f'"{key}"', at=T0 + 1 + i))
    assert await store.complete_execution(eid, 1, '"done"', T0 + 5)

    new = new_execution("wf", T0 + 6)
    assert await store.fork_execution(eid, new, "c", ["a", "b"])
    assert not await store.fork_execution("no-such-run", new_execution("wf"), "c", ["a"])
    row = await store.get_execution(new.id)
    assert row is not None and row.status == "queued"
    copied = await store.list_steps(new.id)
    assert [(s.step_key, s.output) for s in copied] == [("a", '"a"'), ("b", '"b"')]
    assert [s.step_key for s in await store.list_steps(eid)] == ["a", "b", "c"]  # untouched
    history = await store.list_history(new.id)
    assert [h.event for h in history] == ["created", "forked"]
    assert orjson.loads(history[-1].detail or "{}") == {
        "forked_from": eid,
        "from_step": "c",
        "copied_steps": 2,
    }
    assert (await events_of(store, eid))[-1] == "forked"
    # Its first claim brings the copied steps.
    [claimed] = await store.claim("w", ["wf"], 1, T0 + 7, 30.0)
    assert claimed.execution.id == new.id
    assert sorted(s.step_key for s in claimed.steps) == ["a", "b"]


async def test_failed_runs_are_found_by_workflow_time_and_error(store: Store) -> None:
    failures = []
    for i, (wf, error) in enumerate(
        [("a", "ConnectionError: down"), ("a", "ValueError: bad"), ("b", "ConnectionError: x")]
    ):
        run = await running(store, wf, at=T0 + i)
        error_json = orjson.dumps({"type": error.split(":")[0], "message": error}).decode()
        assert await store.fail_execution(run.execution.id, 1, error_json, T0 + 10 + i)
        failures.append(run.execution.id)
    ok = await running(store, "a", at=T0 + 5)
    assert await store.complete_execution(ok.execution.id, 1, '"ok"', T0 + 20)

    assert [r.id for r in await store.list_failed()] == failures
    assert [r.id for r in await store.list_failed(workflow_id="a")] == failures[:2]
    found = await store.list_failed(failed_after=T0 + 11, failed_before=T0 + 12)
    assert [r.id for r in found] == failures[1:2]
    found = await store.list_failed(error_contains="ConnectionError")
    assert [r.id for r in found] == [failures[0], failures[2]]
    assert [r.id for r in await store.list_failed(limit=1)] == failures[:1]
    assert await store.list_failed(error_contains="%") == []  # typed text, no wildcards


async def test_two_processes_retrying_at_once_retry_once(store: Store, stores: list[Store]) -> None:
    run = await running(store, "wf")
    eid = run.execution.id
    assert await store.record_step(eid, 1, _failed_step("b", 1, T0 + 1))
    assert await store.fail_execution(eid, 1, '{"type": "Boom"}', T0 + 2)

    outcomes = await asyncio.gather(
        *(s.retry_execution(eid, T0 + 3 + i) for i, s in enumerate(stores))
    )
    assert sum(1 for o in outcomes if o is not None and o.retried) == 1
    assert (await events_of(store, eid)).count("retried") == 1
    row = await store.get_execution(eid)
    assert row is not None and row.status == "queued"
