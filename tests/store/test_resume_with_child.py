"""Contract: a held parent claimed back by the completion that ends its wait.

Method: ``complete_and_resume`` (see ``Store.complete_and_resume``). It is
``complete_execution``; a store may also claim, in that transaction, the
parent whose wait it ended, for the worker that holds the parent in memory,
as a claim would (same lease, attempt, history), except on a queue with
limits; the parent comes with the outcome of that wait, as stored. Both stores do (SQLite in its transaction, PostgreSQL in
polos_finish_resume); a parent they leave requeues for an ordinary claim.
"""

from __future__ import annotations

import orjson

from polos.store import EagerClaim, Store
from polos.store.records import QueueRow

from .kit import T0, children, running


def resume(*ids: str, worker: str = "w1", at: float = T0 + 5) -> EagerClaim:
    return EagerClaim(worker, at, 30.0, set(ids))


async def test_the_last_childs_completion_takes_the_held_parent(store: Store) -> None:
    parent = await running(store, "parent")
    pid = parent.execution.id
    kids = children(parent, "fan_out", 2)
    assert await store.start_children(pid, 1, "fan_out", kids, wait=True, output=None, now=T0 + 1)
    claimed = await store.claim("w1", ["kid"], 10, T0 + 2, 30.0)
    assert len(claimed) == 2
    first = await store.complete_and_resume(kids[0].id, 1, '"a"', T0 + 3, resume=resume(pid))
    assert first and first.claimed == [], "the parent still waits on the other child"
    row = await store.get_execution(pid)
    assert row is not None and row.status == "waiting"

    last = await store.complete_and_resume(kids[1].id, 1, '"b"', T0 + 4, resume=resume(pid))
    assert last
    row = await store.get_execution(kids[1].id)
    assert row is not None and (row.status, row.result) == ("completed", '"b"')
    recorded = await store.get_step(pid, "fan_out")
    assert recorded is not None and recorded.output is not None
    assert [o["result"] for o in orjson.loads(recorded.output)] == ["a", "b"]
    history = await store.list_history(pid)
    [taken] = last.claimed
    # Its worker holds it: of its steps only the outcome of the wait this ended
    # comes with it, exactly as stored, so the worker need not read it back.
    assert taken.steps == [recorded]
    parent_row = await store.get_execution(pid)
    assert taken.execution == parent_row
    assert taken.event_cursor == parent.event_cursor
    assert parent_row is not None
    assert (parent_row.status, parent_row.owner, parent_row.attempt) == ("running", "w1", 2)
    assert parent_row.lease_expires_at == T0 + 35
    assert [(h.event, h.attempt) for h in history][-2:] == [("resumed", 1), ("claimed", 2)]
    assert history[-1].at == T0 + 5
    assert orjson.loads(history[-1].detail or "{}") == {"owner": "w1", "eager": True}
    assert await store.claim("w2", ["parent"], 10, T0 + 6, 30.0) == []
    # The resumed parent is fenced like any claimed run: its new attempt only.
    assert not await store.complete_execution(pid, 1, '"stale"', T0 + 7)
    assert await store.complete_execution(pid, 2, '"done"', T0 + 7)


async def test_a_parent_not_in_the_claim_is_requeued(store: Store) -> None:
    parent = await running(store, "parent")
    pid = parent.execution.id
    [kid] = children(parent, "one", 1)
    assert await store.start_children(pid, 1, "one", [kid], wait=True, output=None, now=T0 + 1)
    await store.claim("w1", ["kid"], 10, T0 + 2, 30.0)
    done = await store.complete_and_resume(kid.id, 1, '"a"', T0 + 3, resume=resume("someone"))
    assert done and done.claimed == []
    row = await store.get_execution(pid)
    assert row is not None and row.status == "queued"
    [again] = await store.claim("w2", ["parent"], 10, T0 + 4, 30.0)
    assert again.execution.id == pid


async def test_a_parent_on_a_limited_queue_is_left_to_admission(store: Store) -> None:
    await store.upsert_queue(QueueRow("capped", 1, None, None, T0))
    parent = await running(store, "parent", queue_name="capped")
    pid = parent.execution.id
    [kid] = children(parent, "one", 1)
    assert await store.start_children(pid, 1, "one", [kid], wait=True, output=None, now=T0 + 1)
    await store.claim("w1", ["kid"], 10, T0 + 2, 30.0)
    done = await store.complete_and_resume(kid.id, 1, '"a"', T0 + 3, resume=resume(pid))
    assert done and done.claimed == []
    row = await store.get_execution(pid)
    assert row is not None and row.status == "queued"
    [again] = await store.claim("w1", {"parent": "capped"}, 10, T0 + 4, 30.0)
    assert again.execution.id == pid


async def test_a_fenced_completion_takes_nothing(store: Store) -> None:
    parent = await running(store, "parent")
    pid = parent.execution.id
    [kid] = children(parent, "one", 1)
    assert await store.start_children(pid, 1, "one", [kid], wait=True, output=None, now=T0 + 1)
    await store.claim("w1", ["kid"], 10, T0 + 2, 30.0)
    done = await store.complete_and_resume(kid.id, 7, '"a"', T0 + 3, resume=resume(pid))
    assert not done and done.claimed == []
    row = await store.get_execution(pid)
    assert row is not None and row.status == "waiting"


async def test_a_parent_cancelled_meanwhile_is_not_taken(store: Store) -> None:
    parent = await running(store, "parent")
    pid = parent.execution.id
    [kid] = children(parent, "one", 1)
    assert await store.start_children(pid, 1, "one", [kid], wait=True, output=None, now=T0 + 1)
    await store.claim("w1", ["kid"], 10, T0 + 2, 30.0)
    await store.cancel_execution(pid, T0 + 3)
    done = await store.complete_and_resume(kid.id, 1, '"a"', T0 + 4, resume=resume(pid))
    assert not done and done.claimed == [], "the cancel ended the child too"
    row = await store.get_execution(pid)
    assert row is not None and (row.status, row.owner, row.attempt) == ("cancelled", None, 1)
