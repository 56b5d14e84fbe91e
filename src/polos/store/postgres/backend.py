"""PostgreSQL backend: many workers on many hosts share one database.

asyncpg with a connection pool (see :mod:`.database`). The hot transitions
(claim, record a step, park, finish) are one statement or one function call
each, so they cost one network round trip; see ``queries.sql`` and the
functions in ``migrations/``. Claims use ``FOR UPDATE SKIP LOCKED`` so
concurrent workers never take the same execution; fenced writes check the
attempt and ``status = 'running'`` in the statement that writes.

Other processes learn of transitions through LISTEN/NOTIFY on a channel per
schema (see :mod:`.listener`); this process learns of its own at once,
because each method fires the hub right after its commit, as SQLite does.
A lost connection is retried with backoff (see :mod:`.resilience`); every
write is written so that sending it twice is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson

from .. import payloads, resolutions, retries
from ..admission import Admission, admission_time, queues_served, rate_windows
from ..api_keys import ApiKeyRow
from ..base import Store
from ..deployments import DeploymentFilter, deployment_filter
from ..eager import Created, EagerClaim, Started
from ..hub import Hub
from ..listing import list_query
from ..records import (
    ALL_KEYS,
    Claimed,
    EventRow,
    ExecutionRow,
    HeldRun,
    HistoryRow,
    NewEvent,
    NewExecution,
    QueueCount,
    QueueRow,
    RetryOutcome,
    ScheduleRow,
    ServedWorkflow,
    StepRow,
    TopicRow,
    TriggerRow,
    WaitResult,
    WorkerRow,
)
from ..retention import PurgeCount, check_statuses
from ..spans import SpanRow, TraceSummary, astuple_span, span_queries
from ..sql import load_queries
from ..vocabulary import HistoryEvent, Status, WaitKind
from .config import parse_url
from .database import Conn, Database, Record
from .group_commit import GroupCommit
from .listener import Listener

log = logging.getLogger("polos.store.postgres")

#: Pauses before each pass of a heartbeat over leases that were locked (see
#: ``heartbeat``): at once, then twice more before waiting for the locks.
_HEARTBEAT_RETRY_PAUSES = (0.0, 0.01, 0.05)

_Q = load_queries(__package__ or "polos.store.postgres")
#: Retention's queries (purges, per-workflow retention, leases), kept apart.
_R = load_queries(__package__ or "polos.store.postgres", file="retention.sql")
_S = span_queries(__package__ or "polos.store.postgres")
#: Seconds a dry run's count of purgeable runs may take.
_COUNT_TIMEOUT = 600.0
_EXECUTION_WIDTH = len(ExecutionRow.__dataclass_fields__)
_SCHEDULE_WIDTH = len(ScheduleRow.__dataclass_fields__)
#: The fields of a run's end in the group commit of writes (finish's
#: parameters); complete_and_resume adds its claim and the list to fill.
_END_WIDTH = 6
#: polos_start_children's outcome for a parent refused by a child id that exists.
_REFUSED = 2


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class PostgresStore(Store):
    def __init__(self, url: str, *, retry_seconds: float | None = None) -> None:
        self.config = parse_url(url)
        self.hub = Hub.for_database(self.config.hub_key)
        self.description = self.config.description
        self.channel = self.config.channel
        self.db = Database(
            self.config, self.config.retry_seconds if retry_seconds is None else retry_seconds
        )
        self._events_lock = self.config.lock_key("events")
        self._admission_lock = self.config.lock_key("admission")
        self._listener: Listener | None = None
        # Step records and run ends share one queue: a batch holding both goes
        # out as one statement (record_steps_and_finish), one commit.
        self._writes = GroupCommit(self._write_many, flush_one=self._write_one)
        self._parks = GroupCommit(self._park_many)
        self._creations = GroupCommit(self._create_many)
        self._eager_creations = GroupCommit(self._create_claimed_many)
        self._child_starts = GroupCommit(self._start_children_many)
        self._event_waits = GroupCommit(self._wait_for_events)
        self._publishes = GroupCommit(self._publish_many)
        # Reads of single runs asked for while one is in flight share the next
        # statement (nothing to commit: just one round trip instead of many).
        self._reads: GroupCommit[str, ExecutionRow | None] = GroupCommit(self._get_many)
        self._step_reads: GroupCommit[tuple[str, str], StepRow | None] = GroupCommit(
            self._get_steps_many
        )

    # lifecycle ---------------------------------------------------------------
    async def open(self) -> None:
        if self.db.is_open:
            return
        await self.db.open()
        listener = Listener(self.db.connect_listener, self.channel, self.hub, self.db.outages.log)
        await listener.start()
        self._listener = listener

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.stop()
            self._listener = None
        await self.db.close()

    @property
    def listening(self) -> bool:
        """Whether the NOTIFY listener is connected right now (for tests and operators)."""
        return self._listener is not None and self._listener.listening

    @property
    def finishes_signalled(self) -> bool:
        # Every end of a run (polos_finish, polos_finish_resume, polos_end_tree)
        # sends 'f:<id>' or 'c:<id>' in its transaction; while the listener is
        # connected each one reaches the hub. Its loss and return wake every
        # waiter (listener.py), so none sleeps through a NOTIFY it missed.
        return self.listening

    async def warm(self, connections: int) -> None:
        await self.db.warm(connections)

    # plumbing ----------------------------------------------------------------
    async def _fetchval(self, what: str, query: str, *args: Any) -> Any:
        return await self.db.run(what, lambda conn, _r: conn.fetchval(_Q[query], *args))

    async def _fetchrow(self, what: str, query: str, *args: Any) -> Record | None:
        return await self.db.run(what, lambda conn, _r: conn.fetchrow(_Q[query], *args))

    async def _fetch(self, what: str, query: str, *args: Any) -> list[Record]:
        return list(await self.db.run(what, lambda conn, _r: conn.fetch(_Q[query], *args)))

    async def _execute(self, what: str, query: str, *args: Any) -> str:
        status: str = await self.db.run(what, lambda conn, _r: conn.execute(_Q[query], *args))
        return status

    async def _insert_executions(
        self, conn: Conn, news: Sequence[NewExecution], retrying: bool
    ) -> list[str]:
        """Insert, returning each one's id: an existing execution's when its
        idempotency key was used before (nothing is inserted for it then)."""
        ids: list[str] = []
        for outcome in await self._insert_executions_each(conn, news, retrying):
            if isinstance(outcome, Exception):
                raise outcome
            ids.append(outcome)
        return ids

    async def _insert_executions_each(
        self, conn: Conn, news: Sequence[NewExecution], retrying: bool
    ) -> list[str | Exception]:
        """Insert in one statement; each one's id, or in its place the error
        refusing it alone (its id exists, without an idempotency key)."""
        if not news:
            return []
        rows = await conn.fetch(_Q["insert_executions"], *_execution_arrays(news), self.channel)
        return await _ids_inserted(
            conn, [(r["id"], r["idempotency_key"], r["inserted"]) for r in rows], retrying
        )

    async def _park(
        self,
        conn: Conn,
        execution_id: str,
        attempt: int,
        step_key: str,
        kind: WaitKind,
        wake_at: float | None,
        now: float,
        *,
        topic: str | None = None,
        cursor: int | None = None,
        data: str | None = None,
        pending: int = 0,
        state: str | None = None,
    ) -> bool:
        detail = _json({"step_key": step_key, "kind": kind, "wake_at": wake_at, "topic": topic})
        row = await conn.fetchrow(
            _Q["begin_wait"],
            execution_id,
            attempt,
            step_key,
            kind,
            wake_at,
            topic,
            cursor,
            data,
            pending,
            state,
            now,
            detail,
            self.channel,
        )
        return bool(row["parked"])

    async def _resolve(self, conn: Conn, waits: list[_Wait], now: float) -> int:
        """Resolve waits in one statement."""
        if not waits:
            return 0
        columns = [
            [w.execution_id for w in waits],
            [w.step_key for w in waits],
            [w.how.step_kind for w in waits],
            [w.attempt for w in waits],
            [w.how.output for w in waits],
            [w.how.error for w in waits],
            [w.how.by for w in waits],
        ]
        row = await conn.fetchrow(_Q["resolve_waits"], *columns, now, self.channel)
        return int(row["resolved"])

    # submitting ----------------------------------------------------------------
    async def create_execution(self, new: NewExecution) -> str:
        [execution_id] = await self.create_executions([new])
        return execution_id

    async def create_executions(self, news: Sequence[NewExecution]) -> list[str]:
        if not news:
            return []
        # Group commit: invocations arriving at the same moment share one
        # statement and one commit. One call's runs stay together (all or none
        # when the database refuses a value); a refused call fails only itself.
        return await self._creations.submit(tuple(news))

    async def _create_many(
        self, calls: Sequence[tuple[NewExecution, ...]]
    ) -> list[list[str] | Exception]:
        news = [new for call in calls for new in call]
        if len(calls) > 1 and len({new.id for new in news}) != len(news):
            # The same id twice in one statement would pass as inserted for both.
            return [(await self._create_many([call]))[0] for call in calls]
        outcomes = await self.db.run(
            "creating executions",
            lambda conn, retrying: self._insert_executions_each(conn, news, retrying),
        )
        if any(not isinstance(outcome, Exception) for outcome in outcomes):
            self.hub.work_queued()
        results: list[list[str] | Exception] = []
        for call in calls:
            mine, outcomes = outcomes[: len(call)], outcomes[len(call) :]
            refused = next((o for o in mine if isinstance(o, Exception)), None)
            results.append(refused or [o for o in mine if isinstance(o, str)])
        return results

    async def create_and_claim(self, news: Sequence[NewExecution], claim: EagerClaim) -> Created:
        if not news:
            return Created([])
        # Group commit as for create_executions: eager starts of one moment
        # share a statement (and invocations of a busy client rarely wait).
        return await self._eager_creations.submit((tuple(news), claim))

    async def _create_claimed_many(
        self, calls: Sequence[tuple[tuple[NewExecution, ...], EagerClaim]]
    ) -> list[Created | Exception]:
        news = [new for call, _ in calls for new in call]
        first = calls[0][1]
        same_worker = all(
            (c.worker_id, c.lease_seconds, c.deployment_id)
            == (first.worker_id, first.lease_seconds, first.deployment_id)
            for _, c in calls
        )
        if len(calls) > 1 and (len({new.id for new in news}) != len(news) or not same_worker):
            # One statement binds one worker, and the same id twice would pass as
            # inserted for both: such a batch goes call by call.
            return [(await self._create_claimed_many([call]))[0] for call in calls]
        # The latest "now" of the batch: no run is started before it was created.
        latest = max((c for _, c in calls), key=lambda c: c.now)
        claim = EagerClaim(
            latest.worker_id,
            latest.now,
            latest.lease_seconds,
            {i for _, c in calls for i in c.eligible},
            latest.deployment_id,
        )
        outcomes, taken = await self.db.run(
            "creating executions",
            lambda conn, retrying: self._insert_claimed_each(conn, news, claim, retrying),
        )
        if len(taken) < sum(1 for o in outcomes if not isinstance(o, Exception)):
            self.hub.work_queued()
        taken_by_id = {item.execution.id: item for item in taken}
        results: list[Created | Exception] = []
        for call, _ in calls:
            mine, outcomes = outcomes[: len(call)], outcomes[len(call) :]
            refused = next((o for o in mine if isinstance(o, Exception)), None)
            if refused is not None:
                results.append(refused)
                continue
            ids = [o for o in mine if isinstance(o, str)]
            claimed = [taken_by_id[new.id] for new in call if new.id in taken_by_id]
            results.append(Created(ids, claimed))
        return results

    async def _insert_claimed_each(
        self, conn: Conn, news: Sequence[NewExecution], claim: EagerClaim, retrying: bool
    ) -> tuple[list[str | Exception], list[Claimed]]:
        """``_insert_executions_each``, taking for ``claim`` the runs that may
        start at once (one statement); also returns the runs taken."""
        rows = await conn.fetch(
            _Q["insert_executions_claimed"],
            *_execution_arrays(news),
            self.channel,
            [new.id in claim.eligible for new in news],
            claim.worker_id,
            claim.now + claim.lease_seconds,
            claim.now,
            _json({"owner": claim.worker_id, "eager": True}),
            claim.deployment_id,
        )
        ids = await _ids_inserted(
            conn, [(r["new_id"], r["new_key"], r["inserted"]) for r in rows], retrying
        )
        taken = [
            Claimed(_execution(r), event_cursor=r["event_cursor"])
            for r in rows
            if r["inserted"] and r["status"] == Status.RUNNING
        ]
        if retrying and not taken:
            # The first try may have committed before the connection dropped:
            # start what it took rather than leave it to its lease's expiry.
            earlier = await conn.fetch(
                _Q["taken_earlier"], [i for i in ids if isinstance(i, str)], claim.worker_id
            )
            taken = [Claimed(_execution(r), event_cursor=r["event_cursor"]) for r in earlier]
        return ids, taken

    # claiming and leases -------------------------------------------------------
    async def claim(
        self,
        worker_id: str,
        workflow_ids: Sequence[str] | Mapping[str, str],
        limit: int,
        now: float,
        lease_seconds: float,
        *,
        skip_steps_for: Collection[str] = (),
        deployment_id: str | None = None,
        serve_deployments: Collection[str] = (),
    ) -> list[Claimed]:
        if limit <= 0 or not workflow_ids:
            return []
        queue_of = queues_served(workflow_ids)
        held = list(skip_steps_for)
        lease = _Lease(
            worker_id,
            now,
            now + lease_seconds,
            _json({"owner": worker_id}),
            time.monotonic(),
            deployment_filter(deployment_id, serve_deployments),
        )

        async def body(conn: Conn, retrying: bool) -> list[Claimed]:
            if retrying:
                # The first try may have committed before the connection dropped:
                # hand back what it claimed rather than leaving it to lease expiry.
                earlier = await conn.fetch(_Q["claimed_earlier"], worker_id, now)
                if earlier:
                    claimed = [
                        Claimed(_execution(r), event_cursor=r["event_cursor"]) for r in earlier
                    ]
                    return await _with_steps(conn, claimed)
            rows = await conn.fetch(
                _Q["claim"],
                worker_id,
                list(queue_of),
                limit,
                lease.expires_at,
                now,
                lease.detail,
                list(queue_of.values()),
                held,
                lease.served.stamp,
                lease.served.any,
                lease.served.served,
            )
            if rows and rows[0]["limited"]:
                return await self._claim_admitted(conn, queue_of, limit, lease, held)
            return await _claimed(conn, [row for row in rows if row["id"] is not None], held)

        claimed = await self.db.run("claiming executions", body)
        for item in claimed:  # the retry path may have loaded them: drop them
            if item.execution.id in skip_steps_for:
                # Held in memory by the worker, which has them; the claim
                # statement still reads them (cheap to skip later in SQL).
                item.steps = []
        return claimed

    async def _claim_admitted(
        self, conn: Conn, queue_of: dict[str, str], limit: int, lease: _Lease, held: list[str]
    ) -> list[Claimed]:
        """Claim under queue limits: admission runs under a lock, so its counts are current."""
        async with conn.transaction():
            await conn.execute(_Q["lock_admission"], self._admission_lock)
            # Waiting for the lock (and the pool) makes the caller's "now" stale;
            # rate-limit windows must count starts when they really happen.
            now = admission_time(lease.now, lease.began)
            await conn.execute(_Q["assign_queues"], list(queue_of), list(queue_of.values()))
            queues = {row[0]: QueueRow(*row) for row in await conn.fetch(_Q["limited_queues"])}
            admission = await _admission(conn, queues, now)
            scan = admission.scan(limit)
            for offset, size in scan:
                scan.take(
                    await conn.fetch(
                        _Q["admission_candidates"],
                        list(queue_of),
                        size,
                        offset,
                        list(queue_of.values()),
                        lease.served.any,
                        lease.served.served,
                    )
                )
            picked = scan.picked
            if not picked:
                return []
            rows = await conn.fetch(
                _Q["claim_ids"],
                lease.worker_id,
                lease.expires_at,
                lease.now,
                lease.detail,
                True,
                picked,
                list(queue_of),
                list(queue_of.values()),
                held,
                lease.served.stamp,
            )
            if admission.first_starts:
                queue_names, keys = zip(*admission.first_starts, strict=True)
                await conn.execute(_Q["insert_queue_starts"], list(queue_names), list(keys), now)
            return await _claimed(conn, rows, held)

    async def heartbeat(
        self,
        worker_id: str,
        leases: Sequence[tuple[str, int]],
        now: float,
        lease_seconds: float,
    ) -> set[str]:
        until = now + lease_seconds
        attempt_of = dict(leases)
        ids, lost = list(attempt_of), set[str]()
        # Leases locked by a transaction in flight are skipped and asked again a
        # little later (those transactions last milliseconds), and only what is
        # still busy after that is waited for, a few rows in id order: see the
        # heartbeat query for the convoy and the deadlocks this avoids.
        for pause in _HEARTBEAT_RETRY_PAUSES:
            if pause:
                await asyncio.sleep(pause)
            rows = await self._fetch(
                "sending a heartbeat",
                "heartbeat",
                worker_id,
                now,
                until,
                ids,
                [attempt_of[execution_id] for execution_id in ids],
            )
            lost.update(row["id"] for row in rows if row["lost"])
            ids = [row["id"] for row in rows if not row["lost"]]
            if not ids:
                return lost
        rows = await self._fetch(
            "sending a heartbeat",
            "heartbeat_waiting",
            worker_id,
            ids,
            [attempt_of[execution_id] for execution_id in ids],
            until,
        )
        return lost | {row["id"] for row in rows}

    async def release_execution(self, execution_id: str, attempt: int, now: float) -> bool:
        row = await self._fetchrow(
            "releasing an execution", "release_execution", execution_id, attempt, now, self.channel
        )
        released = bool(row and row["released"])
        if released:
            self.hub.work_queued()
        return released

    async def requeue_expired_leases(self, now: float) -> int:
        row = await self._fetchrow(
            "requeueing expired leases", "requeue_expired", now, self.channel
        )
        return self._queued(int(row["requeued"]) if row else 0)

    async def requeue_worker(self, worker_id: str, now: float) -> int:
        row = await self._fetchrow(
            "requeueing a dead worker's executions",
            "requeue_worker",
            now,
            worker_id,
            _json({"owner": worker_id}),
            self.channel,
        )
        return self._queued(int(row["requeued"]) if row else 0)

    async def runs_held_by(self, owners: Collection[str]) -> list[HeldRun]:
        if not owners:
            return []
        rows = await self._fetch("reading the runs workers hold", "runs_held_by", list(owners))
        return [HeldRun(row["id"], row["owner"], row["attempt"]) for row in rows]

    def _queued(self, count: int) -> int:
        if count:
            self.hub.work_queued()
        return count

    # steps, waits and outcomes ---------------------------------------------------
    def record_step(
        self, execution_id: str, attempt: int, step: StepRow
    ) -> Coroutine[Any, Any, bool]:
        # The queue's coroutine itself, not one awaiting it: every frame of a
        # step's await chain is resumed again when its statement's reply comes.
        return self._writes.submit((True, _step_params(execution_id, attempt, step)))

    async def _record_steps(self, rows: Sequence[tuple[Any, ...]]) -> list[bool]:
        if len(rows) == 1:
            return [await self.db.run("recording a step", partial(_record_one, rows[0]))]
        columns = [list(column) for column in zip(*rows, strict=True)]
        records = await self._fetch("recording steps", "record_steps", *columns)
        return [bool(r["ok"]) for r in records]

    async def begin_wait(
        self,
        execution_id: str,
        attempt: int,
        step_key: str,
        kind: WaitKind,
        wake_at: float | None,
        now: float,
        *,
        state: str | None = None,
    ) -> bool:
        # Group commit: runs parking at the same moment share one statement.
        return await self._parks.submit(
            (execution_id, attempt, step_key, str(kind), wake_at, state, now)
        )

    async def _park_many(self, rows: Sequence[tuple[Any, ...]]) -> list[bool]:
        ids = [row[0] for row in rows]
        if len(rows) == 1 or len(set(ids)) != len(ids):
            # One run parking twice at once (gathered waits): one by one, so the
            # first to ask wins, as it always has.
            outcomes = [await self._park_one(*row) for row in rows]
        else:
            columns = [list(column) for column in zip(*rows, strict=True)]
            details = [
                _json({"step_key": key, "kind": kind, "wake_at": wake_at, "topic": None})
                for _id, _attempt, key, kind, wake_at, *_ in rows
            ]
            records = await self._fetch(
                "parking executions", "begin_waits", *columns, details, self.channel
            )
            outcomes = [False] * len(rows)
            for record in records:
                outcomes[record["n"] - 1] = bool(record["parked"])
        if any(ok and row[4] is not None for row, ok in zip(rows, outcomes, strict=True)):
            self.hub.timer_set()
        return outcomes

    async def _park_one(
        self,
        execution_id: str,
        attempt: int,
        step_key: str,
        kind: str,
        wake_at: float | None,
        state: str | None,
        now: float,
    ) -> bool:
        async def body(conn: Conn, _retrying: bool) -> bool:
            return await self._park(
                conn, execution_id, attempt, step_key, WaitKind(kind), wake_at, now, state=state
            )

        return await self.db.run("parking an execution", body)

    async def wait_for_event(
        self,
        execution_id: str,
        attempt: int,
        step_key: str,
        kind: WaitKind,
        topic: str,
        cursor: int,
        wake_at: float | None,
        data: str | None,
        now: float,
        *,
        state: str | None = None,
    ) -> WaitResult:
        # Group commit: runs starting an event wait at the same moment share one
        # transaction (and the events lock); each is fenced by its own attempt.
        return await self._event_waits.submit(
            _EventWait(
                execution_id, attempt, step_key, kind, topic, cursor, wake_at, data, now, state
            )
        )

    async def _wait_for_events(self, waits: Sequence[_EventWait]) -> list[WaitResult]:
        async def body(conn: Conn, retrying: bool) -> list[WaitResult]:
            async with conn.transaction():
                # Shared with other waiters, exclusive with publishers: no event
                # can commit between each check below and its parking.
                await conn.execute(_Q["lock_events_shared"], self._events_lock)
                results = [WaitResult(False)] * len(waits)
                for i in _lock_order([w.execution_id for w in waits]):
                    results[i] = await self._wait_for_event_in(conn, waits[i], retrying)
                return results

        results = await self.db.run("waiting for events", body)
        if any(r.parked and w.wake_at is not None for w, r in zip(waits, results, strict=True)):
            self.hub.timer_set()
        return results

    async def _wait_for_event_in(self, conn: Conn, w: _EventWait, retrying: bool) -> WaitResult:
        """One event wait inside the batch's transaction: take the first event
        after the cursor at once, or park."""
        if retrying:
            earlier = await _earlier_wait(conn, w.execution_id, w.attempt, w.step_key)
            if earlier is not None:
                return earlier
        if await conn.fetchval(_Q["fence"], w.execution_id, w.attempt) is None:
            return WaitResult(False)
        first = await conn.fetchrow(_Q["first_event_after"], w.topic, w.cursor)
        if first is not None:
            output = payloads.event_json(EventRow(*first))
            await conn.execute(
                _Q["insert_step"],
                w.execution_id,
                w.step_key,
                WaitKind(w.kind).step_kind,
                output,
                None,
                w.attempt,
                w.now,
            )
            return WaitResult(True, output)
        await self._park(
            conn,
            w.execution_id,
            w.attempt,
            w.step_key,
            w.kind,
            w.wake_at,
            w.now,
            topic=w.topic,
            cursor=w.cursor,
            data=w.data,
            state=w.state,
        )
        return WaitResult(True)

    async def start_children(
        self,
        parent_id: str,
        attempt: int,
        step_key: str,
        children: Sequence[NewExecution],
        *,
        wait: bool,
        output: str | None,
        now: float,
        state: str | None = None,
        wake_at: float | None = None,
        claim: EagerClaim | None = None,
        steps: Sequence[StepRow] = (),
    ) -> Started:
        # Group commit: runs starting children at the same moment share one
        # transaction; each is fenced by its own attempt, and one refused (a
        # child id that exists) fails only its own caller.
        return await self._child_starts.submit(
            _ChildStart(
                parent_id,
                attempt,
                step_key,
                tuple(children),
                wait,
                output,
                now,
                state,
                wake_at,
                claim,
                tuple(steps),
            )
        )

    async def _start_children_many(
        self, starts: Sequence[_ChildStart]
    ) -> list[Started | Exception]:
        # One statement for the whole batch (polos_start_children), one round
        # trip and one commit: each parent fenced by its own attempt, in id
        # order (a lock order shared by batches), then its deferred steps, its
        # children and its park or invoke step; a parent refused for a child
        # id that exists gets the error alone, nothing of it written.
        if len({start.parent_id for start in starts}) != len(starts):
            # One run starting children twice at once (gathered calls): one by
            # one, so the first to ask wins, as it always has.
            return [(await self._start_children_many([start]))[0] for start in starts]
        order = _lock_order([start.parent_id for start in starts])
        params = _child_start_params([starts[i] for i in order])

        async def body(conn: Conn, retrying: bool) -> list[Started | Exception]:
            try:
                rows = await conn.fetch(_Q["start_children"], *params, self.channel, retrying)
            except asyncpg.exceptions.UniqueViolationError as exc:
                if (exc.table_name, exc.column_name) != ("executions", "id") or not exc.detail:
                    raise
                # A child id inserted meanwhile by another transaction: the
                # call wrote nothing (the group commit splits the batch then).
                raise _exists(exc.detail) from None
            outcomes: list[Started | Exception] = [Started(False) for _ in starts]
            taken: list[list[Claimed]] = [[] for _ in starts]
            for row in rows:
                i = order[row["n"] - 1]
                if row["id"] is not None:  # a child the parent's worker took at once
                    taken[i].append(Claimed(_execution(row), event_cursor=row["event_cursor"]))
                elif row["outcome"] == _REFUSED:  # nothing of that parent written
                    outcomes[i] = _exists(row["refused"])
                else:
                    outcomes[i] = Started(bool(row["outcome"]), taken[i])
            return outcomes

        outcomes = await self.db.run("starting child executions", body)
        if any(
            isinstance(ok, Started) and ok and len(start.children) > len(ok.claimed)
            for start, ok in zip(starts, outcomes, strict=True)
        ):
            self.hub.work_queued()
        return outcomes

    async def complete_execution(
        self, execution_id: str, attempt: int, result: str, now: float, *, state: str | None = None
    ) -> bool:
        return await self._finish(Status.COMPLETED, execution_id, attempt, result, now, state)

    async def fail_execution(
        self, execution_id: str, attempt: int, error: str, now: float, *, state: str | None = None
    ) -> bool:
        return await self._finish(Status.FAILED, execution_id, attempt, error, now, state)

    async def complete_and_resume(
        self,
        execution_id: str,
        attempt: int,
        result: str,
        now: float,
        *,
        state: str | None = None,
        resume: EagerClaim,
    ) -> Started:
        # In the group commit of run ends, with the claim for the worker that
        # holds the parent: polos_finish_resume finishes the run and claims the
        # parent it requeues, in one transaction; "taken" receives the parent.
        taken: list[Claimed] = []
        accepted = await self._writes.submit(
            (
                False,
                (execution_id, attempt, str(Status.COMPLETED), result, state, now, resume, taken),
            )
        )
        return Started(accepted, taken)

    async def _finish(
        self,
        status: Status,
        execution_id: str,
        attempt: int,
        value: str,
        now: float,
        state: str | None,
    ) -> bool:
        # Group commit: runs ending at the same moment share one statement and
        # one commit; each is still fenced by its own attempt (polos_finish).
        return await self._writes.submit(
            (False, (execution_id, attempt, str(status), value, state, now))
        )

    def _write_one(self, write: tuple[bool, tuple[Any, ...]]) -> Coroutine[Any, Any, bool]:
        """``_write_many`` of a lone write (a step's record, most often)."""
        is_step, row = write
        if is_step:
            return self.db.run("recording a step", partial(_record_one, row))
        return self._finish_one(row)

    async def _finish_one(self, row: tuple[Any, ...]) -> bool:
        [ended] = await self._finish_many([row])
        return ended

    async def _write_many(self, writes: Sequence[tuple[bool, tuple[Any, ...]]]) -> list[bool]:
        """Step records (``True``, record_step's parameters) and run ends
        (``False``, finish's), in one statement when the batch holds both."""
        steps = [row for is_step, row in writes if is_step]
        ends = [row for is_step, row in writes if not is_step]
        if not ends:
            return await self._record_steps(steps)
        if not steps:
            return await self._finish_many(ends)
        if {row[0] for row in steps} & {row[0] for row in ends} or any(
            len(row) > _END_WIDTH for row in ends
        ):
            # A run's step (a stray task's) and its own end: two statements, steps
            # first; so too with an end that claims a parent (finish_resume_many).
            recorded = await self._record_steps(steps)
            ended = await self._finish_many(ends)
        else:
            recorded, ended = await self._record_steps_and_finish(steps, ends)
        outcomes = iter(recorded), iter(ended)
        return [next(outcomes[0] if is_step else outcomes[1]) for is_step, _ in writes]

    async def _record_steps_and_finish(
        self, steps: list[tuple[Any, ...]], ends: list[tuple[Any, ...]]
    ) -> tuple[list[bool], list[bool]]:
        # Ends in id order, as in _finish_many (a lock order shared by batches).
        order = sorted(range(len(ends)), key=lambda i: ends[i][0])
        step_columns = [list(column) for column in zip(*steps, strict=True)]
        end_columns = [list(column) for column in zip(*(ends[i] for i in order), strict=True)]
        records = await self._fetch(
            "recording steps and finishing executions",
            "record_steps_and_finish",
            *step_columns,
            *end_columns,
            self.channel,
        )
        recorded = [False] * len(steps)
        finished = [0] * len(ends)
        for record in records:
            if record["part"] == "s":
                recorded[record["n"] - 1] = bool(record["outcome"])
            else:
                finished[order[record["n"] - 1]] = record["outcome"]
        return recorded, self._finished(ends, finished)

    async def _finish_many(self, rows: Sequence[tuple[Any, ...]]) -> list[bool]:
        if any(len(row) > _END_WIDTH for row in rows):
            return await self._finish_resume_many(rows)
        if len(rows) == 1:
            outcomes = [
                await self._fetchval("finishing an execution", "finish", *rows[0], self.channel)
            ]
        else:
            # In id order, so that two batches (or a batch and a heartbeat) lock
            # rows in one order and cannot deadlock each other.
            order = sorted(range(len(rows)), key=lambda i: rows[i][0])
            columns = [list(column) for column in zip(*(rows[i] for i in order), strict=True)]
            records = await self._fetch(
                "finishing executions", "finish_many", *columns, self.channel
            )
            outcomes = [0] * len(rows)
            for record in records:
                outcomes[order[record["n"] - 1]] = record["outcome"]
        return self._finished(rows, outcomes)

    async def _finish_resume_many(self, rows: Sequence[tuple[Any, ...]]) -> list[bool]:
        """``_finish_many`` where some rows also carry an ``EagerClaim`` for the
        run's parent and a list to receive the parent if it is taken (see
        ``complete_and_resume``); one statement for all, in id order."""
        order = sorted(range(len(rows)), key=lambda i: rows[i][0])
        claims: list[EagerClaim | None] = [
            row[_END_WIDTH] if len(row) > _END_WIDTH else None for row in rows
        ]
        details = [
            None if c is None else _json({"owner": c.worker_id, "eager": True}) for c in claims
        ]
        columns: list[list[Any]] = [[] for _ in range(12)]
        for i in order:
            row, claim = rows[i], claims[i]
            values = (
                *row[:_END_WIDTH],
                _json(sorted(claim.eligible)) if claim is not None else "[]",
                None if claim is None else claim.worker_id,
                None if claim is None else claim.now,
                None if claim is None else claim.now + claim.lease_seconds,
                details[i],
                None if claim is None else claim.deployment_id,
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)

        async def body(conn: Conn, retrying: bool) -> tuple[list[int], dict[int, list[Claimed]]]:
            records = await conn.fetch(_Q["finish_resume_many"], *columns, self.channel)
            outcomes = [0] * len(rows)
            taken: dict[int, list[Claimed]] = {}
            for record in records:
                i = order[record["n"] - 1]
                outcomes[i] = record["outcome"]
                if record["id"] is not None:
                    parent = Claimed(_execution(record), event_cursor=record["event_cursor"])
                    if record["ts_key"] is not None:  # its wait's outcome, as stored
                        parent.steps.append(_taken_step(record))
                    taken[i] = [parent]
            if retrying:
                # The first try may have committed before the connection dropped:
                # start what it took rather than leave it to its lease's expiry.
                for i, claim in enumerate(claims):
                    if claim is None or outcomes[i] != 1 or i in taken:
                        continue
                    earlier = await conn.fetch(
                        _Q["resumed_earlier"],
                        list(claim.eligible),
                        claim.worker_id,
                        claim.now,
                        details[i],
                    )
                    taken[i] = [
                        Claimed(_execution(r), event_cursor=r["event_cursor"]) for r in earlier
                    ]
            return outcomes, taken

        outcomes, taken = await self.db.run("finishing executions", body)
        for i, row in enumerate(rows):
            if len(row) > _END_WIDTH:
                row[_END_WIDTH + 1][:] = taken.get(i, [])
        return self._finished(rows, outcomes)

    def _finished(self, rows: Sequence[tuple[Any, ...]], outcomes: list[int]) -> list[bool]:
        """Tell the hub what polos_finish did for each of ``rows``."""
        for row, outcome in zip(rows, outcomes, strict=True):
            execution_id, _attempt, status, value = row[:4]
            if outcome and status == Status.COMPLETED:
                self.hub.execution_completed(execution_id, value)
            elif outcome:
                self.hub.execution_finished(execution_id)
            # The last child of a batch: its parent is queued again, unless this
            # very statement claimed it for the worker holding it.
            if outcome == 2 and not (len(row) > _END_WIDTH and row[_END_WIDTH + 1]):
                self.hub.work_queued()
        return [bool(outcome) for outcome in outcomes]

    async def add_history(
        self, execution_id: str, attempt: int, event: HistoryEvent, detail: str | None, now: float
    ) -> None:
        await self._execute(
            "adding to the history", "add_history", execution_id, now, event, attempt, detail
        )

    # events ------------------------------------------------------------------------
    async def publish_events(
        self,
        events: Sequence[NewEvent],
        now: float,
        *,
        step: tuple[str, int, StepRow] | None = None,
    ) -> list[EventRow] | None:
        # Group commit: publishes at the same moment share one transaction under
        # the events lock, in the order they came; a publish refused by the
        # database fails only its own caller.
        return await self._publishes.submit(_Publish(tuple(events), now, step))

    async def _publish_many(self, publishes: Sequence[_Publish]) -> list[list[EventRow] | None]:
        async def body(conn: Conn, _retrying: bool) -> tuple[list[list[EventRow] | None], int]:
            async with conn.transaction():
                await conn.execute(_Q["lock_events"], self._events_lock)
                outcomes: list[list[EventRow] | None] = []
                for p in publishes:
                    if p.step is not None and not await self._record_publish_step(
                        conn, p.step, p.now
                    ):
                        outcomes.append(None)  # fenced off: its events are not published
                        continue
                    outcomes.append([await _insert_event(conn, new) for new in p.events])
                rows = [row for outcome in outcomes for row in outcome or ()]
                # Together, in publish order: a waiter gets the first new event
                # after its cursor, as if the publishes had committed one by one.
                resolved = await self._resolve_event_waits(
                    conn, rows, max(p.now for p in publishes)
                )
                if rows:
                    await conn.execute(_Q["notify"], self.channel, "e")
                return outcomes, resolved

        outcomes, resolved = await self.db.run("publishing events", body)
        if any(outcome for outcome in outcomes):
            self.hub.events_published()
        if resolved:
            self.hub.work_queued()
        return outcomes

    async def _record_publish_step(
        self, conn: Conn, step: tuple[str, int, StepRow], now: float
    ) -> bool:
        execution_id, attempt, row = step
        recorded = await conn.fetchval(
            _Q["record_step"],
            execution_id,
            row.step_key,
            row.kind,
            row.name,
            row.output,
            None,
            attempt,
            now,
            None,
            row.started_at,
        )
        return bool(recorded)

    async def _resolve_event_waits(self, conn: Conn, rows: list[EventRow], now: float) -> int:
        """Hand each waiter on these topics the first new event after its cursor."""
        if not rows:
            return 0
        waiters = await conn.fetch(_Q["event_waiters"], sorted({r.topic for r in rows}))
        waits: list[_Wait] = []
        for w in waiters:
            first = next(
                (r for r in rows if r.topic == w["wait_topic"] and r.seq > w["wait_cursor"]), None
            )
            if first is not None:
                how = resolutions.by_event(w["wait_kind"], first)
                waits.append(_Wait(w["id"], w["wait_step_key"], w["attempt"], how))
        return await self._resolve(conn, waits, now)

    async def read_events(self, topic: str, after_seq: int, limit: int = 100) -> list[EventRow]:
        rows = await self._fetch("reading events", "read_events", topic, after_seq, limit)
        return [EventRow(*r) for r in rows]

    async def topic_position(self, topic: str, published_by: float | None = None) -> int:
        return int(
            await self._fetchval(
                "finding a topic's position", "topic_position", topic, published_by
            )
        )

    async def list_topics(self, limit: int = 100) -> list[TopicRow]:
        rows = await self._fetch("listing topics", "list_topics", limit)
        return [TopicRow(*r) for r in rows]

    async def fire_due_timers(self, now: float) -> int:
        async def body(conn: Conn, _retrying: bool) -> int:
            waits = [
                _Wait(execution_id, key, attempt, resolutions.due(key, kind))
                for execution_id, key, kind, attempt in await conn.fetch(_Q["due_waits"], now)
            ]
            # Each wait resolves only if it is still the same wait: two workers'
            # timer loops firing at once resolve it once.
            return await self._resolve(conn, waits, now)

        return self._queued(await self.db.run("firing due timers", body))

    async def expire_deadlines(self, now: float) -> int:
        due = await self._fetch("reading due deadlines", "due_deadlines", now)
        expired = 0
        for execution_id, timeout in due:
            error = payloads.deadline_error_json(timeout)
            ended = await self._end_tree(
                execution_id, Status.FAILED, error, HistoryEvent.TIMED_OUT, now
            )
            expired += execution_id in ended
        return expired

    async def _end_tree(
        self, root_id: str, status: Status, error: str, event: HistoryEvent, now: float
    ) -> list[str]:
        ended: list[str] = await self._fetchval(
            "ending an execution and its children",
            "end_tree",
            root_id,
            status,
            error,
            event,
            now,
            payloads.CANCELLED_ERROR,
            self.channel,
        )
        for execution_id in ended:
            self.hub.execution_cancelled(execution_id)
        if ended:
            self.hub.work_queued()  # a parent waiting on the root may be queued again
        return ended

    async def next_timer_at(self) -> float | None:
        due = await self._fetchval("reading the next timer", "next_timer_at")
        return None if due is None else float(due)

    # cancellation ------------------------------------------------------------------
    async def cancel_execution(self, execution_id: str, now: float) -> ExecutionRow | None:
        await self._end_tree(
            execution_id,
            Status.CANCELLED,
            payloads.CANCELLED_ERROR,
            HistoryEvent.CANCELLED,
            now,
        )
        return await self.get_execution(execution_id)

    async def list_waits(
        self, kind: WaitKind, workflow_id: str | None = None
    ) -> list[ExecutionRow]:
        rows = await self._fetch("listing waits", "list_waits", kind, workflow_id)
        return [_execution(row) for row in rows]

    # retry and fork ------------------------------------------------------------------
    async def retry_execution(
        self, execution_id: str, now: float, *, statuses: Sequence[str] | None = None
    ) -> RetryOutcome | None:
        allowed = tuple(statuses) if statuses is not None else retries.RETRYABLE

        async def body(conn: Conn, retrying: bool) -> RetryOutcome | None:
            async with conn.transaction():
                await conn.execute(_Q["pg_retry_lock_root"], execution_id)
                found = await conn.fetchrow(_Q["pg_retry_begin"], execution_id)
                if found is None:
                    return None
                row = _execution(found)
                if retrying and await conn.fetchval(_Q["retry_done_at"], execution_id, now):
                    return RetryOutcome(row, True)  # the first try committed
                if row.status not in allowed or row.status not in retries.RETRYABLE:
                    return RetryOutcome(row, False)
                outcome = RetryOutcome(row, True)
                await _pg_retry_one(conn, row, now, outcome, None)
                if row.parent_execution_id is not None and row.step_key is not None:
                    # A parent still waiting on this run's batch must count it again.
                    await conn.execute(
                        _Q["retry_count_again_in_parent"], row.parent_execution_id, row.step_key
                    )
                await conn.execute(_Q["notify"], self.channel, "q")
                after = await conn.fetchrow(_Q["get_execution"], execution_id)
                outcome.execution = _execution(after)
                return outcome

        outcome = await self.db.run("retrying an execution", body)
        if outcome is not None and outcome.retried:
            self.hub.work_queued()
        return outcome

    async def fork_execution(
        self, source_id: str, new: NewExecution, from_step: str, copy_steps: Sequence[str]
    ) -> bool:
        now = new.created_at
        forked = _json(
            {"forked_from": source_id, "from_step": from_step, "copied_steps": len(copy_steps)}
        )
        source_detail = _json({"fork": new.id, "from_step": from_step})

        async def body(conn: Conn, retrying: bool) -> bool:
            async with conn.transaction():
                if await conn.fetchrow(_Q["pg_retry_begin"], source_id) is None:
                    return False
                if retrying and await conn.fetchrow(_Q["get_execution"], new.id) is not None:
                    return True  # the first try committed
                await self._insert_executions(conn, [new], retrying)
                await conn.execute(_Q["fork_mark"], new.id)
                await conn.execute(_Q["fork_copy_steps"], new.id, source_id, list(copy_steps))
                for execution_id, detail in ((new.id, forked), (source_id, source_detail)):
                    await conn.execute(
                        _Q["add_history"], execution_id, now, HistoryEvent.FORKED, 0, detail
                    )
                return True

        done: bool = await self.db.run("forking an execution", body)
        if done:
            self.hub.work_queued()
        return done

    async def list_failed(
        self,
        *,
        workflow_id: str | None = None,
        failed_after: float | None = None,
        failed_before: float | None = None,
        error_contains: str | None = None,
        limit: int = 1000,
    ) -> list[ExecutionRow]:
        rows = await self._fetch(
            "listing failed executions",
            "list_failed",
            *(workflow_id, failed_after, failed_before, error_contains or None, limit),
        )
        return [_execution(row) for row in rows]

    # schedules --------------------------------------------------------------------------
    async def upsert_schedule(self, schedule: ScheduleRow) -> ScheduleRow:
        s = schedule
        row = await self._fetchrow(
            "saving a schedule",
            "upsert_schedule",
            s.schedule_id,
            s.workflow_id,
            s.key,
            s.cron,
            s.timezone,
            s.next_fire_at,
            s.created_at,
            s.updated_at,
            self.channel,
        )
        self.hub.timer_set()
        assert row is not None  # an upsert always returns its row
        return ScheduleRow(*tuple(row)[:_SCHEDULE_WIDTH])

    async def list_schedules(self, workflow_id: str | None = None) -> list[ScheduleRow]:
        rows = await self._fetch("listing schedules", "list_schedules", workflow_id)
        return [ScheduleRow(*r) for r in rows]

    async def delete_schedule(self, schedule_id: str) -> bool:
        status = await self._execute("deleting a schedule", "delete_schedule", schedule_id)
        return _count(status) == 1

    async def due_schedules(self, now: float) -> list[ScheduleRow]:
        rows = await self._fetch("reading due schedules", "due_schedules", now)
        return [ScheduleRow(*r) for r in rows]

    async def fire_schedule(
        self,
        schedule_id: str,
        expected_next_fire_at: float,
        next_fire_at: float,
        fired_at: float | None,
        execution: NewExecution | None,
        now: float,
        *,
        skip_if_active: bool = True,
    ) -> bool:
        async def body(conn: Conn, retrying: bool) -> bool:
            async with conn.transaction():
                status = await conn.execute(
                    _Q["advance_schedule"],
                    next_fire_at,
                    fired_at,
                    now,
                    schedule_id,
                    expected_next_fire_at,
                )
                if _count(status) != 1 or execution is None:
                    return _count(status) == 1
                if skip_if_active and await conn.fetchval(
                    _Q["active_run_of_schedule"], schedule_id
                ):
                    log.info(
                        "schedule %s: tick skipped, its previous run is still active", schedule_id
                    )
                else:
                    await self._insert_executions(conn, [execution], retrying)
                return True

        won = await self.db.run("firing a schedule", body)
        if won and execution is not None:
            self.hub.work_queued()
        return won

    # queues ------------------------------------------------------------------------
    async def upsert_queue(self, queue: QueueRow) -> None:
        await self._execute(
            "saving a queue",
            "upsert_queue",
            queue.name,
            queue.concurrency_limit,
            queue.rate_limit,
            queue.rate_period,
            queue.updated_at,
        )

    async def list_queues(self) -> list[QueueRow]:
        return [QueueRow(*r) for r in await self._fetch("listing queues", "list_queues")]

    async def queue_counts(self, max_keys: int | None = None) -> list[QueueCount]:
        limit = ALL_KEYS if max_keys is None else max_keys
        rows = await self._fetch("counting queues", "queue_counts", limit)
        return [QueueCount(*r) for r in rows]

    # event triggers ------------------------------------------------------------------------
    async def upsert_trigger(
        self,
        workflow_id: str,
        topic: str,
        batch_size: int,
        batch_timeout_seconds: float | None,
        now: float,
    ) -> None:
        await self._execute(
            "saving an event trigger",
            "upsert_trigger",
            workflow_id,
            topic,
            batch_size,
            batch_timeout_seconds,
            now,
        )

    async def list_triggers(self) -> list[TriggerRow]:
        return [TriggerRow(*r) for r in await self._fetch("listing triggers", "list_triggers")]

    async def fire_trigger(
        self,
        workflow_id: str,
        topic: str,
        expected_cursor: int,
        new_cursor: int,
        executions: Sequence[NewExecution],
        now: float,
    ) -> bool:
        async def body(conn: Conn, retrying: bool) -> bool:
            async with conn.transaction():
                status = await conn.execute(
                    _Q["advance_trigger"], new_cursor, now, workflow_id, topic, expected_cursor
                )
                won = _count(status) == 1
                if won:
                    await self._insert_executions(conn, executions, retrying)
                return won

        won = await self.db.run("firing an event trigger", body)
        if won and executions:
            self.hub.work_queued()
        return won

    # workflows served ---------------------------------------------------------------
    async def register_workflows(self, served: Sequence[ServedWorkflow], now: float) -> None:
        await self._execute(
            "registering workflows",
            "upsert_workflows",
            [w.workflow_id for w in served],
            [w.queue_name for w in served],
            [w.workflow_type for w in served],
            [w.deployment_id for w in served],
            [w.definition for w in served],
            now,
        )

    async def known_workflows(self, workflow_ids: Sequence[str]) -> set[str]:
        rows = await self._fetch("looking up workflows", "known_workflows", list(workflow_ids))
        return {row[0] for row in rows}

    async def all_workflows(self) -> list[str]:
        return [row[0] for row in await self._fetch("listing workflows", "all_workflows")]

    async def served_workflows(self) -> list[ServedWorkflow]:
        rows = await self._fetch("listing served workflows", "served_workflows")
        return [ServedWorkflow(*row.values()) for row in rows]

    # workers ---------------------------------------------------------------------------
    async def register_worker(self, worker: WorkerRow) -> None:
        await self._execute(
            "registering a worker",
            "upsert_worker",
            worker.worker_id,
            worker.hostname,
            worker.pid,
            worker.started_at,
            worker.heartbeat_at,
            worker.deployment_id,
            list(worker.serve_deployments) or None,
            worker.push_url,
            worker.capacity,
            list(worker.serves) or None,
            worker.online,
        )

    async def unregister_worker(self, worker_id: str) -> None:
        await self._execute("unregistering a worker", "delete_worker", worker_id)

    async def set_result_schema(self, execution_id: str, attempt: int, name: str) -> bool:
        done = await self._execute(
            "naming a result's class", "set_result_schema", name, execution_id, attempt
        )
        return str(done).endswith(" 1")

    async def list_workers(self) -> list[WorkerRow]:
        return [
            WorkerRow(
                row["worker_id"],
                row["hostname"],
                row["pid"],
                row["started_at"],
                row["heartbeat_at"],
                row["deployment_id"],
                tuple(row["serve_deployments"] or ()),
                row["push_url"],
                row["capacity"],
                tuple(row["serves"] or ()),
                row["online"],
            )
            for row in await self._fetch("listing workers", "list_workers")
        ]

    # reading ---------------------------------------------------------------------------
    async def get_execution(self, execution_id: str) -> ExecutionRow | None:
        return await self._reads.submit(execution_id)

    async def _get_many(self, ids: Sequence[str]) -> list[ExecutionRow | None]:
        if len(ids) == 1:
            row = await self._fetchrow("reading an execution", "get_execution", ids[0])
            return [_execution(row) if row else None]
        rows = await self._fetch("reading executions", "get_executions", list(set(ids)))
        found = {row["id"]: _execution(row) for row in rows}
        return [found.get(execution_id) for execution_id in ids]

    async def ended_among(self, execution_ids: Sequence[str]) -> list[str]:
        rows = await self._fetch("polling for ended runs", "ended_among", list(execution_ids))
        return [row[0] for row in rows]

    async def find_execution_ids(self, prefix: str, limit: int = 10) -> list[str]:
        if not prefix:
            return []
        rows = await self._fetch(
            "finding executions by id prefix", "find_execution_ids", prefix, limit
        )
        return [row[0] for row in rows]

    async def list_steps(self, execution_id: str) -> list[StepRow]:
        rows = await self._fetch("listing steps", "list_steps", execution_id)
        return [StepRow(*row) for row in rows]

    async def get_step(self, execution_id: str, step_key: str) -> StepRow | None:
        return await self._step_reads.submit((execution_id, step_key))

    async def _get_steps_many(self, keys: Sequence[tuple[str, str]]) -> list[StepRow | None]:
        if len(keys) == 1:
            rows = await self._fetch("reading a step", "get_step", *keys[0])
            return [StepRow(*rows[0]) if rows else None]
        wanted = list(set(keys))
        rows = await self._fetch(
            "reading steps",
            "get_steps",
            [execution_id for execution_id, _ in wanted],
            [step_key for _, step_key in wanted],
        )
        found = {(row["execution_id"], row["step_key"]): StepRow(*row) for row in rows}
        return [found.get(key) for key in keys]

    async def list_history(self, execution_id: str) -> list[HistoryRow]:
        rows = await self._fetch("reading the history", "list_history", execution_id)
        return [HistoryRow(*row) for row in rows]

    async def list_run_tree(self, root_execution_id: str) -> list[ExecutionRow]:
        rows = await self._fetch("listing a run tree", "list_run_tree", root_execution_id)
        return [_execution(row) for row in rows]

    async def list_executions(
        self,
        *,
        status: str | None = None,
        workflow_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
        created_after: float | None = None,
        created_before: float | None = None,
        session_id: str | None = None,
        id_contains: str | None = None,
    ) -> list[ExecutionRow]:
        sql, args = list_query(
            _Q["list_executions"],
            {
                "status": status,
                "workflow_id": workflow_id,
                "created_after": created_after,
                "created_before": created_before,
                "session_id": session_id,
                "id_contains": id_contains,
                "limit": limit,
                "offset": offset,
            },
            lambda n: f"${n}",
            "strpos(id, {}) > 0",
        )
        rows = await self.db.run("listing executions", lambda conn, _r: conn.fetch(sql, *args))
        return [_execution(row) for row in rows]

    # retention -------------------------------------------------------------------
    async def _retention(
        self, what: str, query: str, *args: Any, timeout: float | None = None
    ) -> list[Record]:
        return list(
            await self.db.run(what, lambda conn, _r: conn.fetch(_R[query], *args, timeout=timeout))
        )

    async def purge_finished(
        self,
        finished_before: float,
        *,
        statuses: Collection[str],
        workflow_id: str | None = None,
        exclude_workflow_ids: Collection[str] = (),
        limit: int = 1000,
        dry_run: bool = False,
    ) -> PurgeCount:
        args: list[Any] = [
            finished_before,
            check_statuses(statuses),
            workflow_id,
            sorted(exclude_workflow_ids),
        ]
        if dry_run:
            # One read of every matching tree: seconds per million runs, past
            # the pool's usual command timeout on a large database.
            [row] = await self._retention(
                "counting runs to purge", "count_purgeable", *args, timeout=_COUNT_TIMEOUT
            )
            return PurgeCount(int(row[0]), int(row[1]), None, None, None)
        [row] = await self._retention(
            "purging finished runs", "purge_finished", *args, max(1, limit)
        )
        return PurgeCount(*(int(n) for n in row.values()))

    async def set_retention(self, retention: Mapping[str, float | None]) -> None:
        await self._retention(
            "recording retention", "set_retention", list(retention), list(retention.values())
        )

    async def list_retention(self) -> dict[str, float]:
        rows = await self._retention("reading retention", "list_retention")
        return {row[0]: float(row[1]) for row in rows}

    async def take_lease(self, name: str, owner: str, now: float, seconds: float) -> bool:
        rows = await self._retention(
            "taking a lease", "take_lease", name, owner, now + seconds, now
        )
        return bool(rows)

    async def drop_lease(self, name: str, owner: str) -> None:
        await self._retention("dropping a lease", "drop_lease", name, owner)

    # API keys ----------------------------------------------------------------------------
    async def create_api_key(self, key: ApiKeyRow) -> None:
        k = key
        await self._execute(
            "saving an API key",
            "insert_api_key",
            *(k.key_id, k.project_id, k.name, k.key_hash, k.created_at, k.revoked_at),
        )

    async def list_api_keys(self) -> list[ApiKeyRow]:
        return [ApiKeyRow(*r) for r in await self._fetch("listing API keys", "list_api_keys")]

    async def find_api_key(self, key_hash: str) -> ApiKeyRow | None:
        row = await self._fetchrow("checking an API key", "find_api_key", key_hash)
        return ApiKeyRow(*row) if row is not None else None

    async def revoke_api_key(self, key_id: str, now: float) -> bool:
        status = await self._execute("revoking an API key", "revoke_api_key", now, key_id)
        return _count(status) == 1

    async def has_api_keys(self) -> bool:
        return bool(await self._fetchval("checking for API keys", "any_api_key"))

    # spans exported by SDK workers ------------------------------------------------------------
    async def record_spans(self, spans: Sequence[SpanRow]) -> None:
        rows = [astuple_span(s) for s in spans]
        if rows:
            await self.db.run(
                "storing spans", lambda conn, _r: conn.executemany(_S["upsert_span"], rows)
            )

    async def trace_spans(self, trace_id: str) -> list[SpanRow]:
        rows = await self.db.run(
            "reading a trace", lambda conn, _r: conn.fetch(_S["trace_spans"], trace_id)
        )
        return [SpanRow(*r) for r in rows]

    async def list_traces(
        self,
        *,
        started_after: float | None = None,
        ended_before: float | None = None,
        root_span_type: str | None = None,
        root_span_name: str | None = None,
        has_error: bool | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[TraceSummary]:
        args = (started_after, ended_before, root_span_type, root_span_name, has_error)
        rows = await self.db.run(
            "listing traces",
            lambda conn, _r: conn.fetch(_S["list_traces"], *args, limit, offset),
        )
        return [TraceSummary(*r) for r in rows]


async def _pg_retry_one(
    conn: Conn, row: ExecutionRow, now: float, outcome: RetryOutcome, by: str | None
) -> None:
    """Retry one failed or cancelled run (held FOR UPDATE), and the children it waited for."""
    steps = [StepRow(*r) for r in await conn.fetch(_Q["list_steps"], row.id)]
    cleared = retries.steps_to_clear(steps)
    if cleared:
        await conn.execute(_Q["retry_delete_steps"], row.id, cleared)
    links = [retries.ChildLink(*r) for r in await conn.fetch(_Q["retry_children_of"], row.id)]
    redo = retries.children_to_redo(steps, links)
    retried_children: list[str] = []
    status, wait_key, wait_kind, pending = Status.QUEUED, None, None, 0
    if redo is not None:
        for child_id in redo.retry:
            child = _execution(await conn.fetchrow(_Q["pg_retry_begin"], child_id))
            await _pg_retry_one(conn, child, now, outcome, row.id)
            retried_children.append(child_id)
        await conn.execute(_Q["retry_delete_steps"], row.id, [redo.step_key])
        children = [
            tuple(c) for c in await conn.fetch(_Q["retry_children_of_step"], row.id, redo.step_key)
        ]
        pending = sum(1 for c in children if c[2] != Status.COMPLETED)
        if pending:
            status, wait_key, wait_kind = Status.WAITING, redo.step_key, WaitKind.CHILDREN
        else:  # every child is done: the step's outcome can be written now
            how = resolutions.by_children(children)
            await conn.execute(
                _Q["insert_step"],
                *(row.id, redo.step_key, how.step_kind, how.output, None, row.attempt, now),
            )
    await conn.execute(_Q["retry_execution"], row.id, status, wait_key, wait_kind, pending, now)
    detail = retries.retry_detail(row.status, cleared, retried_children, by)
    await conn.execute(_Q["add_history"], row.id, now, HistoryEvent.RETRIED, row.attempt, detail)
    if by is None:
        outcome.cleared_steps = cleared
    outcome.children.extend(retried_children)


# helpers ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Lease:
    worker_id: str
    now: float
    expires_at: float
    detail: str  # the "claimed" history entry
    began: float  # time.monotonic() when the claim was asked for
    served: DeploymentFilter  # the deployments the claiming worker serves


@dataclass(frozen=True, slots=True)
class _EventWait:
    """One ``wait_for_event`` call, queued for its group commit."""

    execution_id: str
    attempt: int
    step_key: str
    kind: WaitKind
    topic: str
    cursor: int
    wake_at: float | None
    data: str | None
    now: float
    state: str | None


@dataclass(frozen=True, slots=True)
class _ChildStart:
    """One ``start_children`` call, queued for its group commit."""

    parent_id: str
    attempt: int
    step_key: str
    children: tuple[NewExecution, ...]
    wait: bool
    output: str | None
    now: float
    state: str | None
    wake_at: float | None
    #: The parent's worker, when it may start some of the children at once.
    claim: EagerClaim | None = None
    #: Earlier steps of the parent recorded in the same transaction.
    steps: tuple[StepRow, ...] = ()


@dataclass(frozen=True, slots=True)
class _Publish:
    """One ``publish_events`` call, queued for its group commit."""

    events: tuple[NewEvent, ...]
    now: float
    step: tuple[str, int, StepRow] | None


def _lock_order(execution_ids: Sequence[str]) -> list[int]:
    """Indexes in id order (stable: one run's calls keep the order they came in),
    so that batches lock execution rows in one order and cannot deadlock."""
    return sorted(range(len(execution_ids)), key=execution_ids.__getitem__)


@dataclass(frozen=True, slots=True)
class _Wait:
    """A wait to resolve, and how."""

    execution_id: str
    step_key: str
    attempt: int
    how: resolutions.Resolution


async def _admission(conn: Conn, queues: dict[str, QueueRow], now: float) -> Admission:
    """Current counts for the limited queues (the caller holds the admission lock)."""
    admission = Admission(queues, await conn.fetch(_Q["running_groups"], list(queues)))
    for name, window_start in rate_windows(queues, now):
        await conn.execute(_Q["prune_queue_starts"], name, window_start)
        admission.count_starts(name, await conn.fetch(_Q["recent_starts"], name, window_start))
    return admission


def _execution(row: Record) -> ExecutionRow:
    # Queries select EXECUTION_COLUMNS first, in ExecutionRow's field order.
    return ExecutionRow(*tuple(row)[:_EXECUTION_WIDTH])


async def _record_one(params: tuple[Any, ...], conn: Conn, retrying: bool) -> bool:
    """One step record: the plain insert, else record_step's full answer
    (already recorded by this attempt, or fenced off), as one statement would."""
    if not retrying:
        try:
            if await conn.fetchval(_Q["record_step_insert"], *params) is not None:
                return True
        except asyncpg.exceptions.UniqueViolationError:
            pass  # nothing written; record_step says whether it is this attempt's
    return bool(await conn.fetchval(_Q["record_step"], *params))


def _step(fields: Sequence[Any], execution_id: str) -> StepRow:
    """A step from the claim's aggregated (step_key, ..., created_at, state, started_at) tuples."""
    step_key, kind, name, output, error, attempt, created_at, state, started_at = fields
    return StepRow(
        step_key, kind, name, output, error, attempt, created_at, execution_id, state, started_at
    )


def _taken_step(record: Any) -> StepRow:
    """The wait outcome ``finish_resume_many`` returns with a parent it took (ts_*)."""
    return StepRow(
        record["ts_key"],
        record["ts_kind"],
        record["ts_name"],
        record["ts_output"],
        record["ts_error"],
        record["ts_attempt"],
        record["ts_at"],
        record["id"],
        record["ts_state"],
        record["ts_started"],
    )


def _count(status: str) -> int:
    """Rows a command changed, from asyncpg's status string (``UPDATE 1``)."""
    return int(status.rsplit(" ", 1)[-1])


async def _ids_inserted(
    conn: Conn, rows: Sequence[tuple[str, str | None, bool]], retrying: bool
) -> list[str | Exception]:
    """Each new run's id, from the (id, idempotency key, inserted) of an insert:
    the execution's that already held its key, or in its place the error
    refusing it alone (its id exists, without an idempotency key)."""
    keys = [key for _id, key, inserted in rows if not inserted]
    found: dict[str, str] = {}
    if any(key is not None for key in keys):
        # A fresh statement: the execution holding the key may have committed
        # after this call's insert took its snapshot.
        found = dict(await conn.fetch(_Q["executions_by_idempotency_key"], keys))
    outcomes: list[str | Exception] = []
    for execution_id, key, inserted in rows:
        if inserted or retrying:  # on a retry the first try may have committed
            outcomes.append(found.get(key, execution_id) if key is not None else execution_id)
        elif key is not None:
            outcomes.append(found.get(key, execution_id))
        else:
            outcomes.append(_exists(execution_id))
    return outcomes


def _exists(execution_id: str) -> ValueError:
    """The error refusing a new run whose id exists (without an idempotency key)."""
    return ValueError(
        f"an execution with id {execution_id!r} already exists: "
        "leave the id out to get a fresh one, or pass an idempotency key"
    )


def _child_start_params(starts: Sequence[_ChildStart]) -> list[list[Any]]:
    """``start_children``'s arrays but the last two parameters: one entry per
    parent, then their deferred steps (each with its parent's 1-based
    position) and their children, parent after parent."""
    parents: list[tuple[Any, ...]] = []
    steps: list[tuple[Any, ...]] = []
    news: list[NewExecution] = []
    eager: list[bool] = []
    for position, c in enumerate(starts, 1):
        claim = c.claim if c.claim is not None and c.claim.eligible else None
        wait_detail = _json(
            {"step_key": c.step_key, "kind": WaitKind.CHILDREN, "wake_at": c.wake_at, "topic": None}
        )
        parents.append(
            (
                c.parent_id,
                c.attempt,
                c.step_key,
                c.wait,
                c.output,
                c.now,
                c.state,
                c.wake_at,
                wait_detail if c.wait else None,
                claim.worker_id if claim else None,
                claim.now if claim else None,
                claim.now + claim.lease_seconds if claim else None,
                _json({"owner": claim.worker_id, "eager": True}) if claim else None,
                claim.deployment_id if claim else None,
                len(c.children),
            )
        )
        steps.extend(
            (
                position,
                s.step_key,
                s.kind,
                s.name,
                s.output,
                s.error,
                s.created_at,
                s.state,
                s.started_at,
            )
            for s in c.steps
        )
        news.extend(c.children)
        eager.extend(claim is not None and new.id in claim.eligible for new in c.children)
    return [
        *_columns(parents, 15),
        *_columns(steps, 9),
        *_execution_arrays(news),
        eager,
    ]


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """``rows`` as ``width`` parallel lists (empty ones when there is no row)."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]


def _execution_arrays(news: Sequence[NewExecution]) -> list[list[Any]]:
    """One array per column of ``insert_executions``."""
    return [
        [n.id for n in news],
        [n.workflow_id for n in news],
        [n.payload for n in news],
        [n.created_at for n in news],
        [n.parent_execution_id for n in news],
        [n.root_execution_id for n in news],
        [n.root_workflow_id for n in news],
        [n.step_key for n in news],
        [n.session_id for n in news],
        [n.user_id for n in news],
        [n.child_index for n in news],
        [n.run_timeout_seconds for n in news],
        [n.state for n in news],
        [n.queue_name for n in news],
        [n.concurrency_key for n in news],
        [n.priority for n in news],
        [n.idempotency_key for n in news],
        [n.schedule_id for n in news],
        [n.deployment_id for n in news],
        [n.trace_context for n in news],
    ]


async def _insert_event(conn: Conn, new: NewEvent) -> EventRow:
    row = await conn.fetchrow(
        _Q["insert_event"], new.id, new.topic, new.event_type, new.data, new.created_at
    )
    if row is None:  # published by an earlier try whose commit we did not hear of
        row = await conn.fetchrow(_Q["event_by_id"], new.id)
    return EventRow(*row)


async def _earlier_wait(
    conn: Conn, execution_id: str, attempt: int, step_key: str
) -> WaitResult | None:
    """What an earlier try of a wait did, if it committed: resolved or parked."""
    output = await conn.fetchrow(_Q["step_of_attempt"], execution_id, step_key, attempt)
    if output is not None:
        return WaitResult(True, output[0])
    if await conn.fetchval(_Q["waits_on"], execution_id, attempt, step_key):
        return WaitResult(True)
    return None


async def _claimed(conn: Conn, rows: Sequence[Record], held: list[str]) -> list[Claimed]:
    """Claimed executions with their steps (none for ``held`` ones, which the worker
    has in memory), reloading them where the snapshot was stale."""
    claimed: list[Claimed] = []
    stale: list[Claimed] = []
    for row in rows:
        item = Claimed(_execution(row), event_cursor=row["event_cursor"])
        if item.execution.id in held:
            pass
        elif row["seen_attempt"] + 1 != item.execution.attempt:
            stale.append(item)  # claimed and requeued by others since our snapshot
        else:
            execution_id = item.execution.id
            item.steps = [_step(fields, execution_id) for fields in row["steps"] or ()]
        claimed.append(item)
    if stale:
        await _with_steps(conn, stale)
    return claimed


async def _with_steps(conn: Conn, claimed: list[Claimed]) -> list[Claimed]:
    """Load the recorded steps of ``claimed`` (one query for all)."""
    by_id = {item.execution.id: item for item in claimed}
    for item in claimed:
        item.steps = []
    for step in await conn.fetch(_Q["steps_of_many"], list(by_id)):
        by_id[step["execution_id"]].steps.append(StepRow(*step))
    return claimed


def _step_params(execution_id: str, attempt: int, step: StepRow) -> tuple[Any, ...]:
    """``record_step``'s parameters, in order."""
    return (
        execution_id,
        step.step_key,
        step.kind,
        step.name,
        step.output,
        step.error,
        attempt,
        step.created_at,
        step.state,
        step.started_at,
    )
