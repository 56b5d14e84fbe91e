"""SQLite backend: one file, zero set-up, the embedded default.

The connection lives on the event loop's thread. Every transition is one
short transaction (WAL mode, ``synchronous=NORMAL``: a commit does not wait
for the disk), so it holds the loop for tens of microseconds, which is far
cheaper than hopping to a thread. When another process holds the write lock,
SQLite's own busy wait is kept to a few milliseconds and the rest of the wait
is an ``asyncio.sleep`` with backoff, so the loop never blocks for long.
SQLite has one writer at a time, so every transaction here is serializable:
an event published and a wait parked can never miss each other.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

import orjson

from ...errors import SchemaConflictError, StoreError, StoreUnavailableError
from .. import payloads, resolutions, retries
from ..admission import Admission, admission_time, queues_served, rate_windows
from ..api_keys import ApiKeyRow
from ..base import Store
from ..deployments import deployment_filter
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
from ..sql import load_migrations, load_queries
from ..vocabulary import HistoryEvent, ResumedBy, Status, StepKind, WaitKind
from .checkpoint import Checkpointer
from .faults import Faults
from .turn_batch import Pending, TurnBatch
from .wake import Wake

log = logging.getLogger("polos.store.sqlite")
T = TypeVar("T")

_Q = load_queries(__package__ or "polos.store.sqlite")
#: Retention's queries (purges, per-workflow retention, leases), kept apart.
_R = load_queries(__package__ or "polos.store.sqlite", file="retention.sql")
_S = span_queries(__package__ or "polos.store.sqlite")
# A vocabulary word is a str subclass: bound as it is, sqlite3 looks for an
# adapter and a __conform__ method on every execute, about 0.4 us a parameter
# on the path of every step. Registered, it binds as fast as a plain str.
for _word in (HistoryEvent, ResumedBy, Status, StepKind, WaitKind):
    sqlite3.register_adapter(_word, str)
_BUSY_TIMEOUT_S = 0.005


#: A write transaction's body: runs inside BEGIN ... COMMIT, returns the caller's value.
Body = Callable[["_Tx"], Any]


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class _Tx:
    """What one transaction changed, so the right signals fire after COMMIT."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.queued = False
        self.finished: list[str] = []
        #: Results of the executions this transaction completed, by id.
        self.completed: dict[str, str] = {}
        self.cancelled: list[str] = []
        self.events = False
        self.timers = False
        #: Runs whose wait this transaction resolved (requeued), in order.
        self.requeued: list[str] = []
        #: Who takes a waiting run of ``take.eligible`` whose wait ends here
        #: (complete_and_resume), and the runs so taken, in order.
        self.take: EagerClaim | None = None
        self.taken: list[Claimed] = []

    def q(self, name: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(_Q[name], params)

    def history(
        self, execution_id: str, now: float, event: HistoryEvent, attempt: int, detail: Any = None
    ) -> None:
        self.q(
            "insert_history",
            (execution_id, now, event, attempt, None if detail is None else _json(detail)),
        )

    def fenced(self, execution_id: str, attempt: int) -> bool:
        return self.q("is_running", (execution_id, attempt)).fetchone() is not None

    def insert_step(
        self,
        execution_id: str,
        key: str,
        kind: str,
        output: str | None,
        error: str | None,
        attempt: int,
        now: float,
    ) -> bool:
        """Insert the step; False when its key was recorded already (nothing written)."""
        cursor = self.q("insert_step", (execution_id, key, kind, output, error, attempt, now))
        return cursor.rowcount > 0

    def resolve_wait(
        self, execution_id: str, key: str, attempt: int, now: float, how: resolutions.Resolution
    ) -> None:
        """Record the waiting step's outcome and requeue the execution."""
        written = self.insert_step(
            execution_id, key, how.step_kind, how.output, how.error, attempt, now
        )
        resumed = _json({"step_key": key, "by": how.by})
        take = self.take
        if take is not None and execution_id in take.eligible:
            # Requeued and claimed in one write of the row: it never shows as
            # queued, so no claim loop is woken for it.
            t = take.now
            lease = (take.worker_id, t + take.lease_seconds, t, t, t, take.deployment_id)
            rows = self.q("resume_claim", (*lease, execution_id)).fetchall()
            if rows:
                row = rows[0]
                claimed = _json({"owner": take.worker_id, "eager": True})
                self.conn.executemany(
                    _Q["insert_history"],
                    (
                        (execution_id, now, HistoryEvent.RESUMED, attempt, resumed),
                        (execution_id, t, HistoryEvent.CLAIMED, row[6], claimed),
                    ),
                )
                taken = Claimed(ExecutionRow(*row[:-1]), event_cursor=row[-1])
                if execution_id in take.replays:
                    # Not held by its worker: it replays, so it comes with every
                    # step recorded, read in this transaction (the one just above too).
                    # (As a claim reads them: unordered, the run indexes them by key.)
                    read = self.q("steps_of_many", (_json([execution_id]),))
                    taken.steps.extend(StepRow(*r) for r in read)
                elif written:
                    # Held in memory: it reads only this outcome, and here it is as
                    # stored, so its coroutine carries on without reading it back.
                    taken.steps.append(
                        StepRow(
                            key,
                            how.step_kind,
                            "",
                            how.output,
                            how.error,
                            attempt,
                            now,
                            execution_id,
                        )
                    )
                self.taken.append(taken)
                return
        self.q("insert_history", (execution_id, now, HistoryEvent.RESUMED, attempt, resumed))
        self.q("resolve_wait", (now, execution_id))
        self.queued = True
        self.requeued.append(execution_id)

    def insert_executions(
        self, news: Sequence[NewExecution], inserted_ids: set[str] | None = None
    ) -> list[str]:
        """Insert, returning each one's id: an existing execution's when its
        idempotency key was used before (nothing is inserted for it then).
        The ids really inserted are added to ``inserted_ids``."""
        ids = []
        for n in news:
            params = _new_params(n, n.created_at, n.deployment_id)
            inserted = self.q("insert_execution", params).rowcount
            if inserted:
                self.history(n.id, n.created_at, HistoryEvent.CREATED, 0)
                self.queued = True
                ids.append(n.id)
                if inserted_ids is not None:
                    inserted_ids.add(n.id)
            else:
                ids.append(
                    self.q("execution_by_idempotency_key", (n.idempotency_key,)).fetchone()[0]
                )
        return ids

    def insert_claimed(self, n: NewExecution, claim: EagerClaim) -> Claimed | None:
        """Insert ``n`` running for ``claim.worker_id``, as a claim would leave
        it; None when its idempotency key was used before (nothing inserted)."""
        now = claim.now
        deployment_id = n.deployment_id if n.deployment_id is not None else claim.deployment_id
        timeout = n.run_timeout_seconds
        rows = self.q(
            "insert_claimed_execution",
            (
                *_new_params(n, now, deployment_id),
                claim.worker_id,
                now + claim.lease_seconds,
                max(now, n.created_at),
                None if timeout is None else now + timeout,
            ),
        ).fetchall()
        if not rows:
            return None
        row = rows[0]
        detail = _json({"owner": claim.worker_id, "eager": True})
        self.conn.executemany(
            _Q["insert_history"],
            (
                (n.id, n.created_at, HistoryEvent.CREATED, 0, None),
                (n.id, now, HistoryEvent.CLAIMED, row[6], detail),
            ),
        )
        return Claimed(ExecutionRow(*row[:-1]), event_cursor=row[-1])

    def ended(
        self, execution_id: str, now: float, link: tuple[str | None, str | None] | None = None
    ) -> None:
        """An execution just finished: if its parent waits on its batch, count it down.

        ``link`` is the run's (parent, step key) when the caller has it; a run
        without a parent then costs no statement here.
        """
        self.finished.append(execution_id)
        if link is None:
            row = self.q("count_down_parent_of", (execution_id,)).fetchone()
        elif link[0] is None:
            return
        else:
            row = self.q("count_down_parent", link).fetchone()
        if row is None or row[2] > 0:
            return
        parent, key, _, attempt = row
        children = self.q("children_of_step", (parent, key)).fetchall()
        self.resolve_wait(parent, key, attempt, now, resolutions.by_children(children))

    def end_tree(
        self, root_id: str, status: Status, error: str | None, now: float, event: HistoryEvent
    ) -> bool:
        """End ``root_id`` with ``status`` and cancel its active descendants."""
        tree = self.q("active_tree", (root_id,)).fetchall()
        if not tree:
            return False
        for execution_id, previous, attempt in tree:
            is_root = execution_id == root_id
            self.q(
                "end_execution",
                (
                    status if is_root else Status.CANCELLED,
                    error if is_root else payloads.CANCELLED_ERROR,
                    now,
                    now,
                    execution_id,
                ),
            )
            self.history(
                execution_id,
                now,
                event if is_root else HistoryEvent.CANCELLED,
                attempt,
                {"previous_status": previous} if is_root else {"by": root_id},
            )
            self.cancelled.append(execution_id)
        if any(execution_id == root_id for execution_id, _, _ in tree):
            # Only a root that was itself still active counts down a waiting parent.
            self.ended(root_id, now)
        return True

    def publish(self, events: Sequence[NewEvent], now: float) -> list[EventRow]:
        rows = []
        for new in events:
            row = EventRow(
                *self.q(
                    "insert_event", (new.id, new.topic, new.event_type, new.data, new.created_at)
                ).fetchone()
            )
            rows.append(row)
            for execution_id, key, kind, attempt in self.q(
                "waiters_of_topic", (row.topic, row.seq)
            ).fetchall():
                self.resolve_wait(execution_id, key, attempt, now, resolutions.by_event(kind, row))
        self.events = self.events or bool(rows)
        return rows


def _payloads(tx: _Tx) -> list[str]:
    """What other processes are told of ``tx`` (see :func:`..hub.dispatch`)."""
    told = [f"c:{execution_id}" for execution_id in tx.cancelled]
    told.extend(f"f:{execution_id}" for execution_id in tx.finished)
    if tx.queued:
        told.append("q")
    if tx.events:
        told.append("e")
    if tx.timers:
        told.append("t")
    return told


def _in_transaction(conn: sqlite3.Connection, work: Callable[[], T]) -> T:
    """``work()`` between ``BEGIN IMMEDIATE`` and ``COMMIT``, rolled back if it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        out = work()
        conn.execute("COMMIT")
    except BaseException:
        # A failed COMMIT (disk full) may or may not have ended the
        # transaction; one left open would make every later BEGIN fail,
        # and the store would never recover once space was freed.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return out


def _settle_all(batch: list[Pending[Body]], exc: BaseException) -> None:
    for _, fut in batch:
        if fut.done():
            continue
        if isinstance(exc, asyncio.CancelledError):
            fut.cancel()
        else:
            fut.set_exception(exc)


def _r(tx: _Tx, name: str, params: Sequence[Any] | Mapping[str, Any]) -> sqlite3.Cursor:
    """Run one of retention's queries in ``tx``."""
    return tx.conn.execute(_R[name], params)


class SQLiteStore(Store):
    resumes_with_steps = True

    def __init__(self, path: str, *, synchronous: str = "NORMAL") -> None:
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        self.path = path
        self.synchronous = synchronous.upper()
        key = path if path == ":memory:" else os.path.realpath(path)
        self.hub = Hub.for_database(f"sqlite:{key}")
        self.description = f"SQLite database {path}"
        self._conn: sqlite3.Connection | None = None
        self._faults = Faults(self.description)
        self._checkpointer: Checkpointer | None = None
        #: Tells other processes on this file of our transitions (see :mod:`.wake`).
        self._wake: Wake | None = None
        self._batch: TurnBatch[Body] = TurnBatch(self._commit_together)

    # lifecycle ---------------------------------------------------------------
    async def open(self) -> None:
        if self._conn is not None:
            return
        if self.path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,
            timeout=_BUSY_TIMEOUT_S,
            cached_statements=256,
        )
        self._conn = conn
        await self._retry(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone())
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        await self._retry(self._migrate)
        if self.path != ":memory:":
            conn.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = Checkpointer(self.path)
            self._checkpointer.start()
            self._wake = Wake.open(self.path, self.hub)

    async def close(self) -> None:
        await self._batch.drain()
        if self._wake is not None:
            self._wake.close()
            self._wake = None
        if self._checkpointer is not None:
            await self._checkpointer.stop()
            self._checkpointer = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _migrate(self) -> None:
        conn = self._db
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS polos_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM polos_migrations")}
            for version, name, statements in load_migrations(f"{__package__}"):
                if version in done:
                    continue
                for statement in statements:
                    try:
                        conn.execute(statement)
                    except sqlite3.OperationalError as exc:
                        if "already exists" not in str(exc):
                            raise
                        raise SchemaConflictError(
                            f"{self.description} already has a table or index by a name Polos "
                            f"uses ({exc}), which Polos did not create; point Polos at a "
                            "database file of its own"
                        ) from None
                conn.execute(
                    "INSERT INTO polos_migrations VALUES (?, ?, ?)", (version, name, time.time())
                )
                log.info("applied migration %s", name)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # plumbing ----------------------------------------------------------------
    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailableError(
                f"{self.description} is not open; use 'async with Polos()' or await client.start()"
            )
        return self._conn

    async def _retry(self, fn: Callable[[], T]) -> T:
        """Run ``fn``, waiting out locks and curable faults (see :mod:`.faults`)."""
        return await self._faults.run(fn)

    async def _tx(self, body: Callable[[_Tx], T]) -> T:
        """Run ``body`` in one write transaction, then fire the signals it earned.

        While other runs are moving in the same loop turn, the transaction
        goes out with theirs (see :mod:`.turn_batch`)."""
        if self._batch.wanted():
            out: T = await self._batch.submit(body)
            return out
        return await self._tx_alone(body)

    async def _tx_alone(self, body: Callable[[_Tx], T]) -> T:
        conn = self._db

        def run() -> tuple[T, _Tx]:
            tx = _Tx(conn)
            return _in_transaction(conn, lambda: body(tx)), tx

        out, tx = await self._retry(run)
        self._signal(tx)
        return out

    async def _commit_together(self, batch: list[Pending[Body]]) -> None:
        """One transaction for the bodies of a turn (see :mod:`.turn_batch`)."""

        def run() -> list[tuple[asyncio.Future[Any], Any, _Tx]]:
            conn = self._db

            def bodies() -> list[tuple[asyncio.Future[Any], Any, _Tx]]:
                done = []
                for body, fut in batch:
                    if not fut.done():  # a caller cancelled while it waited is skipped
                        tx = _Tx(conn)
                        done.append((fut, body(tx), tx))
                return done

            return _in_transaction(conn, bodies)

        try:
            done = await self._retry(run)
        except StoreError as exc:  # the database itself, after retrying: everyone's
            _settle_all(batch, exc)
            return
        except Exception as exc:
            # One body refused (a constraint, a bad value) and nothing was
            # written: each body again in its own transaction, so that only its
            # caller gets the error.
            if len(batch) == 1:
                _settle_all(batch, exc)
                return
            for body, fut in batch:
                if fut.done():
                    continue
                try:
                    out = await self._tx_alone(body)
                except Exception as alone:
                    if not fut.done():
                        fut.set_exception(alone)
                else:
                    if not fut.done():
                        fut.set_result(out)
            return
        except BaseException as exc:  # cancelled: no caller may wait for ever
            _settle_all(batch, exc)
            raise
        told: list[str] = []
        for fut, out, tx in done:
            self._signal_here(tx)
            told.extend(_payloads(tx))
            if not fut.done():
                fut.set_result(out)
        if self._wake is not None:
            self._wake.send(told)

    def _signal(self, tx: _Tx) -> None:
        self._signal_here(tx)
        if self._wake is not None:
            self._wake.send(_payloads(tx))

    def _signal_here(self, tx: _Tx) -> None:
        """Wake this process's waiters for what ``tx`` committed."""
        hub = self.hub
        for execution_id in tx.cancelled:
            hub.execution_cancelled(execution_id)
        for execution_id in tx.finished:
            result = tx.completed.get(execution_id)
            if result is not None:
                hub.execution_completed(execution_id, result)
            else:
                hub.execution_finished(execution_id)
        if tx.queued:
            hub.work_queued()
        if tx.events:
            hub.events_published()
        if tx.timers:
            hub.timer_set()

    async def _one(self, query: str, params: Sequence[Any]) -> int:
        """One autocommit write statement; returns the number of rows it changed."""
        conn = self._db
        try:  # the hot path (recording a step): no closure, no retry loop
            rowcount: int = conn.execute(query, params).rowcount
            if self._faults.outages.down:
                self._faults.outages.succeeded()
            return rowcount
        except sqlite3.OperationalError:
            return await self._retry(lambda: conn.execute(query, params).rowcount)

    async def _fetch(self, query: str, params: Sequence[Any]) -> list[Any]:
        conn = self._db
        return await self._retry(lambda: conn.execute(query, params).fetchall())

    # submitting ----------------------------------------------------------------
    async def create_execution(self, new: NewExecution) -> str:
        [execution_id] = await self.create_executions([new])
        return execution_id

    async def create_executions(self, news: Sequence[NewExecution]) -> list[str]:
        return await self._tx(lambda tx: tx.insert_executions(news))

    async def create_and_claim(self, news: Sequence[NewExecution], claim: EagerClaim) -> Created:
        return await self._tx(lambda tx: self._insert_taking(tx, news, claim))

    def _insert_taking(
        self, tx: _Tx, news: Sequence[NewExecution], claim: EagerClaim | None
    ) -> Created:
        """Insert ``news``, taking for ``claim`` those that may start at once."""
        if claim is None or not claim.eligible:
            return Created(tx.insert_executions(news))
        # A run of the same workflow queued before this call was there first;
        # the queues with limits come with the first workflow's answer.
        waiting: set[str] = set()
        limited: set[str] = set()
        for i, wf in enumerate(sorted({n.workflow_id for n in news if n.id in claim.eligible})):
            queued, limited_names = tx.q("eager_blockers", (wf, i == 0)).fetchone()
            if queued:
                waiting.add(wf)
            if limited_names is not None:
                limited.update(orjson.loads(limited_names))
        take = {
            n.id
            for n in news
            if n.id in claim.eligible
            and n.queue_name
            and n.queue_name not in limited
            and n.workflow_id not in waiting
        }
        if not take:
            return Created(tx.insert_executions(news))
        # Each one taken is inserted running (never queued: nothing for a claim
        # loop); the others are inserted queued, as without a claim.
        ids: list[str] = []
        taken: list[Claimed] = []
        for n in news:
            if n.id not in take:
                ids.extend(tx.insert_executions((n,)))
                continue
            claimed = tx.insert_claimed(n, claim)
            if claimed is not None:
                ids.append(n.id)
                taken.append(claimed)
            else:
                ids.append(tx.q("execution_by_idempotency_key", (n.idempotency_key,)).fetchone()[0])
        return Created(ids, taken)

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
        wf_json = _json(list(queue_of))
        served = deployment_filter(deployment_id, serve_deployments)
        versions = (served.any, _json(served.served))
        began = time.monotonic()

        def body(tx: _Tx) -> list[Claimed]:
            lease = (worker_id, now + lease_seconds, now, now, now, served.stamp)
            tx.q("assign_queues", (_json(queue_of),))
            queues = {row[0]: QueueRow(*row) for row in tx.q("limited_queues")}
            if not queues:  # the common case: one statement
                rows = tx.q("claim", (*lease, wf_json, *versions, limit)).fetchall()
            else:
                when = admission_time(now, began)
                picked = self._admit(tx, queues, (wf_json, *versions), limit, when)
                rows = tx.q("claim_ids", (*lease, _json(picked))).fetchall() if picked else []
            if not rows:
                return []
            # Each row ends with the run's event cursor (fixed when it was submitted).
            claimed = {
                row[0]: Claimed(ExecutionRow(*row[:-1]), event_cursor=row[-1]) for row in rows
            }
            detail = _json({"owner": worker_id})
            tx.conn.executemany(
                _Q["insert_history"],
                [
                    (c.execution.id, now, HistoryEvent.CLAIMED, c.execution.attempt, detail)
                    for c in claimed.values()
                ],
            )
            resumed = [
                c.execution.id
                for c in claimed.values()
                if c.execution.attempt > 1 and c.execution.id not in skip_steps_for
            ]
            if resumed:
                for step in tx.q("steps_of_many", (_json(resumed),)):
                    claimed[step[7]].steps.append(StepRow(*step))
            return list(claimed.values())

        return await self._tx(body)

    def _admit(
        self,
        tx: _Tx,
        queues: dict[str, QueueRow],
        served: tuple[str, bool, str],
        limit: int,
        now: float,
    ) -> list[str]:
        """Pick what may start under the queue limits (SQLite has one writer: counts are current)."""
        admission = Admission(queues, tx.q("running_groups", (_json(list(queues)),)))
        for name, window_start in rate_windows(queues, now):
            tx.q("prune_queue_starts", (name, window_start))
            admission.count_starts(name, tx.q("recent_starts", (name, window_start)))
        scan = admission.scan(limit)
        for offset, size in scan:
            # served: the workflows and the deployments this claim serves
            scan.take(tx.q("admission_candidates", (*served, size, offset)).fetchall())
        for queue_name, key in admission.first_starts:
            tx.q("insert_queue_start", (queue_name, key, now))
        return scan.picked

    async def heartbeat(
        self,
        worker_id: str,
        leases: Sequence[tuple[str, int]],
        now: float,
        lease_seconds: float,
    ) -> set[str]:
        def body(tx: _Tx) -> set[str]:
            tx.q("heartbeat_worker", (now, worker_id))
            ids = _json([lease[0] for lease in leases])
            tx.q("renew_leases", (now + lease_seconds, worker_id, ids))
            if not leases:
                return set()
            current = {row[0]: row for row in tx.q("lease_states", (ids,))}
            lost = set()
            for execution_id, attempt in leases:
                row = current.get(execution_id)
                if (
                    row is None
                    or row[1] != attempt
                    or row[2] != Status.RUNNING
                    or row[3] != worker_id
                ):
                    lost.add(execution_id)
            return lost

        return await self._tx(body)

    async def release_execution(self, execution_id: str, attempt: int, now: float) -> bool:
        def body(tx: _Tx) -> bool:
            if not tx.q("release_execution", (now, execution_id, attempt)).rowcount:
                return False
            tx.history(execution_id, now, HistoryEvent.RELEASED, attempt)
            tx.queued = True
            return True

        return await self._tx(body)

    async def requeue_expired_leases(self, now: float) -> int:
        def body(tx: _Tx) -> int:
            tx.q("history_for_expired", (now, now))
            count: int = tx.q("requeue_expired", (now, now)).rowcount
            tx.queued = count > 0
            return count

        return await self._tx(body)

    async def requeue_worker(self, worker_id: str, now: float) -> int:
        def body(tx: _Tx) -> int:
            tx.q("history_for_dead_worker", (now, worker_id))
            count: int = tx.q("requeue_owned", (now, worker_id)).rowcount
            tx.q("delete_worker", (worker_id,))
            tx.queued = count > 0
            return count

        return await self._tx(body)

    async def runs_held_by(self, owners: Collection[str]) -> list[HeldRun]:
        if not owners:
            return []
        rows = await self._fetch(_Q["runs_held_by"], (_json(list(owners)),))
        return [HeldRun(row[0], row[1], row[2]) for row in rows]

    # steps, waits and outcomes ---------------------------------------------------
    async def record_step(self, execution_id: str, attempt: int, step: StepRow) -> bool:
        changed = await self._one(_Q["record_step"], _step_params(execution_id, attempt, step))
        return changed == 1

    def _park(
        self,
        tx: _Tx,
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
        changed = tx.q(
            "begin_wait",
            (
                step_key,
                kind,
                wake_at,
                topic,
                cursor,
                data,
                pending,
                state,
                now,
                execution_id,
                attempt,
            ),
        ).rowcount
        if changed:
            tx.history(
                execution_id,
                now,
                HistoryEvent.WAITING,
                attempt,
                {"step_key": step_key, "kind": kind, "wake_at": wake_at, "topic": topic},
            )
            tx.timers = tx.timers or wake_at is not None
        return bool(changed)

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
        return await self._tx(
            lambda tx: self._park(
                tx, execution_id, attempt, step_key, kind, wake_at, now, state=state
            )
        )

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
        def body(tx: _Tx) -> WaitResult:
            if not tx.fenced(execution_id, attempt):
                return WaitResult(False)
            first = tx.q("first_event_after", (topic, cursor)).fetchone()
            if first is not None:
                output = payloads.event_json(EventRow(*first))
                tx.insert_step(
                    execution_id, step_key, WaitKind(kind).step_kind, output, None, attempt, now
                )
                return WaitResult(True, output)
            self._park(
                tx,
                execution_id,
                attempt,
                step_key,
                kind,
                wake_at,
                now,
                topic=topic,
                cursor=cursor,
                data=data,
                state=state,
            )
            return WaitResult(True)

        return await self._tx(body)

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
        def body(tx: _Tx) -> Started:
            # The fence: a park only takes the parent's current attempt while it
            # runs (so a wait needs no separate check); a start without one checks.
            if wait:
                if not self._park(
                    tx,
                    parent_id,
                    attempt,
                    step_key,
                    WaitKind.CHILDREN,
                    wake_at,
                    now,
                    pending=len(children),
                    state=state,
                ):
                    return Started(False)
            elif not tx.fenced(parent_id, attempt):
                return Started(False)
            for step in steps:  # fenced above
                tx.q("insert_fenced_step", _step_params(parent_id, attempt, step)[:-2])
            taken = self._insert_taking(tx, children, claim).claimed
            if not wait:
                tx.insert_step(parent_id, step_key, StepKind.INVOKE, output, None, attempt, now)
            return Started(True, taken)

        return await self._tx(body)

    async def complete_execution(
        self, execution_id: str, attempt: int, result: str, now: float, *, state: str | None = None
    ) -> bool:
        return await self._finish(
            "complete_execution", HistoryEvent.COMPLETED, execution_id, attempt, result, now, state
        )

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
        taken: list[Claimed] = []
        accepted = await self._finish(
            "complete_execution",
            HistoryEvent.COMPLETED,
            execution_id,
            attempt,
            result,
            now,
            state,
            resume,
            taken,
        )
        return Started(accepted, taken)

    async def fail_execution(
        self, execution_id: str, attempt: int, error: str, now: float, *, state: str | None = None
    ) -> bool:
        return await self._finish(
            "fail_execution", HistoryEvent.FAILED, execution_id, attempt, error, now, state
        )

    async def _finish(
        self,
        query: str,
        event: HistoryEvent,
        execution_id: str,
        attempt: int,
        value: str,
        now: float,
        state: str | None,
        resume: EagerClaim | None = None,
        taken: list[Claimed] | None = None,
    ) -> bool:
        def body(tx: _Tx) -> bool:
            link = tx.q(query, (value, state, now, now, execution_id, attempt)).fetchone()
            if link is None:
                return False
            tx.history(execution_id, now, event, attempt)
            if event == HistoryEvent.COMPLETED:
                tx.completed[execution_id] = value
            # The parent whose wait this ends is claimed for ``resume`` as it
            # is requeued (_Tx.resolve_wait), unless its queue has limits.
            tx.take = resume
            # Fire-and-forget children outlive their parent; only a wait ties them.
            tx.ended(execution_id, now, link)
            if taken is not None:
                taken[:] = tx.taken
            return True

        return await self._tx(body)

    async def add_history(
        self, execution_id: str, attempt: int, event: HistoryEvent, detail: str | None, now: float
    ) -> None:
        await self._one(_Q["insert_history"], (execution_id, now, event, attempt, detail))

    # events ------------------------------------------------------------------------
    async def publish_events(
        self,
        events: Sequence[NewEvent],
        now: float,
        *,
        step: tuple[str, int, StepRow] | None = None,
    ) -> list[EventRow] | None:
        def body(tx: _Tx) -> list[EventRow] | None:
            if step is not None:
                execution_id, attempt, row = step
                if not tx.fenced(execution_id, attempt):
                    return None
                tx.insert_step(execution_id, row.step_key, row.kind, row.output, None, attempt, now)
            return tx.publish(events, now)

        return await self._tx(body)

    async def read_events(self, topic: str, after_seq: int, limit: int = 100) -> list[EventRow]:
        return [
            EventRow(*r) for r in await self._fetch(_Q["read_events"], (topic, after_seq, limit))
        ]

    async def topic_position(self, topic: str, published_by: float | None = None) -> int:
        rows = await self._fetch(_Q["topic_position"], (topic, published_by))
        return int(rows[0][0])

    async def list_topics(self, limit: int = 100) -> list[TopicRow]:
        return [TopicRow(*r) for r in await self._fetch(_Q["list_topics"], (limit,))]

    async def fire_due_timers(self, now: float) -> int:
        def body(tx: _Tx) -> int:
            due = tx.q("due_waits", (now,)).fetchall()
            for execution_id, key, kind, attempt in due:
                tx.resolve_wait(execution_id, key, attempt, now, resolutions.due(key, kind))
            return len(due)

        return await self._tx(body)

    async def expire_deadlines(self, now: float) -> int:
        def body(tx: _Tx) -> int:
            due = tx.q("due_deadlines", (now,)).fetchall()
            for execution_id, timeout, _attempt in due:
                error = payloads.deadline_error_json(timeout)
                tx.end_tree(execution_id, Status.FAILED, error, now, HistoryEvent.TIMED_OUT)
            return len(due)

        return await self._tx(body)

    async def next_timer_at(self) -> float | None:
        rows = await self._fetch(_Q["next_timer_at"], ())
        return rows[0][0] if rows else None

    # cancellation ------------------------------------------------------------------
    async def cancel_execution(self, execution_id: str, now: float) -> ExecutionRow | None:
        def body(tx: _Tx) -> ExecutionRow | None:
            if tx.q("get_execution", (execution_id,)).fetchone() is None:
                return None
            tx.end_tree(
                execution_id,
                Status.CANCELLED,
                payloads.CANCELLED_ERROR,
                now,
                HistoryEvent.CANCELLED,
            )
            return ExecutionRow(*tx.q("get_execution", (execution_id,)).fetchone())

        return await self._tx(body)

    async def list_waits(
        self, kind: WaitKind, workflow_id: str | None = None
    ) -> list[ExecutionRow]:
        rows = await self._fetch(_Q["list_waits"], (kind, workflow_id, workflow_id))
        return [ExecutionRow(*row) for row in rows]

    # retry and fork ------------------------------------------------------------------
    async def retry_execution(
        self, execution_id: str, now: float, *, statuses: Sequence[str] | None = None
    ) -> RetryOutcome | None:
        allowed = tuple(statuses) if statuses is not None else retries.RETRYABLE

        def body(tx: _Tx) -> RetryOutcome | None:
            found = tx.q("get_execution", (execution_id,)).fetchone()
            if found is None:
                return None
            row = ExecutionRow(*found)
            if row.status not in allowed or row.status not in retries.RETRYABLE:
                return RetryOutcome(row, False)
            outcome = RetryOutcome(row, True)
            self._retry_one(tx, row, now, outcome, by=None)
            if row.parent_execution_id is not None and row.step_key is not None:
                # A parent still waiting on this run's batch must count it again.
                tx.q("count_again_in_parent", (row.parent_execution_id, row.step_key))
            outcome.execution = ExecutionRow(*tx.q("get_execution", (execution_id,)).fetchone())
            return outcome

        return await self._tx(body)

    def _retry_one(
        self, tx: _Tx, row: ExecutionRow, now: float, outcome: RetryOutcome, by: str | None
    ) -> None:
        """Retry one failed or cancelled run, and the children it waited for (recursively)."""
        steps = [StepRow(*r) for r in tx.q("list_steps", (row.id,))]
        cleared = retries.steps_to_clear(steps)
        for key in cleared:
            tx.q("delete_step", (row.id, key))
        links = [retries.ChildLink(*r) for r in tx.q("children_of", (row.id,))]
        redo = retries.children_to_redo(steps, links)
        retried_children: list[str] = []
        status, wait_key, wait_kind, pending = Status.QUEUED, None, None, 0
        if redo is not None:
            for child_id in redo.retry:
                child = ExecutionRow(*tx.q("get_execution", (child_id,)).fetchone())
                self._retry_one(tx, child, now, outcome, by=row.id)
                retried_children.append(child_id)
            tx.q("delete_step", (row.id, redo.step_key))
            children = tx.q("children_of_step", (row.id, redo.step_key)).fetchall()
            pending = sum(1 for c in children if c[2] != Status.COMPLETED)
            if pending:
                status, wait_key, wait_kind = Status.WAITING, redo.step_key, WaitKind.CHILDREN
            else:  # every child is done: the step's outcome can be written now
                how = resolutions.by_children(children)
                tx.insert_step(
                    row.id, redo.step_key, how.step_kind, how.output, None, row.attempt, now
                )
        tx.q("retry_execution", (status, wait_key, wait_kind, pending, now, row.id))
        detail = retries.retry_detail(row.status, cleared, retried_children, by)
        tx.q("insert_history", (row.id, now, HistoryEvent.RETRIED, row.attempt, detail))
        tx.queued = tx.queued or status == Status.QUEUED
        if by is None:
            outcome.cleared_steps = cleared
        outcome.children.extend(retried_children)

    async def fork_execution(
        self, source_id: str, new: NewExecution, from_step: str, copy_steps: Sequence[str]
    ) -> bool:
        def body(tx: _Tx) -> bool:
            if tx.q("get_execution", (source_id,)).fetchone() is None:
                return False
            tx.insert_executions([new])
            tx.q("mark_forked", (new.id,))
            tx.q("copy_steps", (new.id, source_id, _json(list(copy_steps))))
            now = new.created_at
            tx.history(
                new.id,
                now,
                HistoryEvent.FORKED,
                0,
                {"forked_from": source_id, "from_step": from_step, "copied_steps": len(copy_steps)},
            )
            tx.history(
                source_id, now, HistoryEvent.FORKED, 0, {"fork": new.id, "from_step": from_step}
            )
            return True

        return await self._tx(body)

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
            _Q["list_failed"],
            (workflow_id, failed_after, failed_before, error_contains or None, limit),
        )
        return [ExecutionRow(*row) for row in rows]

    # schedules --------------------------------------------------------------------------
    async def upsert_schedule(self, schedule: ScheduleRow) -> ScheduleRow:
        def body(tx: _Tx) -> ScheduleRow:
            s = schedule
            tx.q(
                "upsert_schedule",
                (
                    s.schedule_id,
                    s.workflow_id,
                    s.key,
                    s.cron,
                    s.timezone,
                    s.next_fire_at,
                    s.created_at,
                    s.updated_at,
                ),
            )
            tx.timers = True
            return ScheduleRow(*tx.q("get_schedule", (s.schedule_id,)).fetchone())

        return await self._tx(body)

    async def list_schedules(self, workflow_id: str | None = None) -> list[ScheduleRow]:
        return [
            ScheduleRow(*r)
            for r in await self._fetch(_Q["list_schedules"], (workflow_id, workflow_id))
        ]

    async def delete_schedule(self, schedule_id: str) -> bool:
        return await self._one(_Q["delete_schedule"], (schedule_id,)) == 1

    async def due_schedules(self, now: float) -> list[ScheduleRow]:
        return [ScheduleRow(*r) for r in await self._fetch(_Q["due_schedules"], (now,))]

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
        def body(tx: _Tx) -> bool:
            won = tx.q(
                "advance_schedule",
                (next_fire_at, fired_at, now, schedule_id, expected_next_fire_at),
            ).rowcount
            if not won or execution is None:
                return bool(won)
            if skip_if_active and tx.q("active_run_of_schedule", (schedule_id,)).fetchone():
                log.info("schedule %s: tick skipped, its previous run is still active", schedule_id)
            else:
                tx.insert_executions([execution])
            return True

        return await self._tx(body)

    # queues ------------------------------------------------------------------------
    async def upsert_queue(self, queue: QueueRow) -> None:
        await self._one(
            _Q["upsert_queue"],
            (
                queue.name,
                queue.concurrency_limit,
                queue.rate_limit,
                queue.rate_period,
                queue.updated_at,
            ),
        )

    async def list_queues(self) -> list[QueueRow]:
        return [QueueRow(*r) for r in await self._fetch(_Q["list_queues"], ())]

    async def queue_counts(self, max_keys: int | None = None) -> list[QueueCount]:
        limit = ALL_KEYS if max_keys is None else max_keys
        return [QueueCount(*r) for r in await self._fetch(_Q["queue_counts"], (limit,))]

    # event triggers ------------------------------------------------------------------------
    async def upsert_trigger(
        self,
        workflow_id: str,
        topic: str,
        batch_size: int,
        batch_timeout_seconds: float | None,
        now: float,
    ) -> None:
        await self._tx(
            lambda tx: tx.q(
                "upsert_trigger", (workflow_id, topic, batch_size, batch_timeout_seconds, now)
            )
        )

    async def list_triggers(self) -> list[TriggerRow]:
        return [TriggerRow(*r) for r in await self._fetch(_Q["list_triggers"], ())]

    async def fire_trigger(
        self,
        workflow_id: str,
        topic: str,
        expected_cursor: int,
        new_cursor: int,
        executions: Sequence[NewExecution],
        now: float,
    ) -> bool:
        def body(tx: _Tx) -> bool:
            won = tx.q(
                "advance_trigger", (new_cursor, now, workflow_id, topic, expected_cursor)
            ).rowcount
            if won:
                tx.insert_executions(executions)
            return bool(won)

        return await self._tx(body)

    # workflows served ---------------------------------------------------------------
    async def register_workflows(self, served: Sequence[ServedWorkflow], now: float) -> None:
        rows = [
            (w.workflow_id, w.queue_name, w.workflow_type, w.deployment_id, w.definition, now)
            for w in served
        ]

        def body(tx: _Tx) -> None:
            tx.conn.executemany(_Q["upsert_workflow"], rows)

        await self._tx(body)

    async def known_workflows(self, workflow_ids: Sequence[str]) -> set[str]:
        rows = await self._fetch(_Q["known_workflows"], (_json(list(workflow_ids)),))
        return {row[0] for row in rows}

    async def all_workflows(self) -> list[str]:
        return [row[0] for row in await self._fetch(_Q["all_workflows"], ())]

    async def served_workflows(self) -> list[ServedWorkflow]:
        return [ServedWorkflow(*row) for row in await self._fetch(_Q["served_workflows"], ())]

    # workers ---------------------------------------------------------------------------
    async def register_worker(self, worker: WorkerRow) -> None:
        await self._one(
            _Q["upsert_worker"],
            (
                worker.worker_id,
                worker.hostname,
                worker.pid,
                worker.started_at,
                worker.heartbeat_at,
                worker.deployment_id,
                _json(list(worker.serve_deployments)) if worker.serve_deployments else None,
                worker.push_url,
                worker.capacity,
                _json(list(worker.serves)) if worker.serves else None,
                1 if worker.online else 0,
            ),
        )

    async def unregister_worker(self, worker_id: str) -> None:
        await self._one(_Q["delete_worker"], (worker_id,))

    async def set_result_schema(self, execution_id: str, attempt: int, name: str) -> bool:
        return await self._one(_Q["set_result_schema"], (name, execution_id, attempt)) == 1

    async def list_workers(self) -> list[WorkerRow]:
        return [
            WorkerRow(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                tuple(orjson.loads(row[6] or "[]")),
                row[7],
                row[8],
                tuple(orjson.loads(row[9] or "[]")),
                bool(row[10]),
            )
            for row in await self._fetch(_Q["list_workers"], ())
        ]

    # reading ---------------------------------------------------------------------------
    async def get_execution(self, execution_id: str) -> ExecutionRow | None:
        rows = await self._fetch(_Q["get_execution"], (execution_id,))
        return ExecutionRow(*rows[0]) if rows else None

    async def ended_among(self, execution_ids: Sequence[str]) -> list[str]:
        rows = await self._fetch(_Q["ended_among"], (_json(list(execution_ids)),))
        return [row[0] for row in rows]

    async def find_execution_ids(self, prefix: str, limit: int = 10) -> list[str]:
        if not prefix:
            return []
        rows = await self._fetch(_Q["find_execution_ids"], (prefix, prefix + "\U0010ffff", limit))
        return [row[0] for row in rows]

    async def list_steps(self, execution_id: str) -> list[StepRow]:
        return [StepRow(*row) for row in await self._fetch(_Q["list_steps"], (execution_id,))]

    async def get_step(self, execution_id: str, step_key: str) -> StepRow | None:
        rows = await self._fetch(_Q["get_step"], (execution_id, step_key))
        return StepRow(*rows[0]) if rows else None

    async def list_history(self, execution_id: str) -> list[HistoryRow]:
        return [HistoryRow(*row) for row in await self._fetch(_Q["list_history"], (execution_id,))]

    async def list_run_tree(self, root_execution_id: str) -> list[ExecutionRow]:
        rows = await self._fetch(_Q["list_run_tree"], (root_execution_id, root_execution_id))
        return [ExecutionRow(*row) for row in rows]

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
            lambda _n: "?",
            "instr(id, {}) > 0",
        )
        rows = await self._fetch(sql, args)
        return [ExecutionRow(*row) for row in rows]

    # retention -------------------------------------------------------------------
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
        params = {
            "before": finished_before,
            "statuses": _json(check_statuses(statuses)),
            "workflow_id": workflow_id,
            "excluded": _json(sorted(exclude_workflow_ids)),
            "limit": -1 if dry_run else max(1, limit),
        }

        def body(tx: _Tx) -> PurgeCount:
            roots = _r(tx, "purgeable_roots", params).fetchall()
            if not roots:
                return PurgeCount()
            root_ids = _json([root_id for root_id, _ in roots])
            root_of = {root_id: root_id for root_id, _ in roots}
            root_of.update(_r(tx, "tree_members", (root_ids,)).fetchall())
            if dry_run:
                return PurgeCount(len(roots), len(root_of), None, None, None)
            ids = _json(list(root_of))
            topics = [f"workflow/{wf}/{root_id}" for root_id, wf in roots]
            for execution_id, key in _r(tx, "suspend_steps", (ids,)):
                topics.append(f"polos.resume/{root_of[execution_id]}/{key}")
            topic_list = _json(topics)
            _r(tx, "purge_spans", (_json([r.replace("-", "") for r, _ in roots]),))
            return PurgeCount(
                len(roots),
                _r(tx, "purge_executions", (ids,)).rowcount,
                _r(tx, "purge_steps", (ids,)).rowcount,
                _r(tx, "purge_history", (ids,)).rowcount,
                _r(tx, "purge_events", (topic_list,)).rowcount,
            )

        if dry_run:  # reads only: no write lock held while counting
            conn = self._db
            return await self._retry(lambda: body(_Tx(conn)))
        return await self._tx(body)

    async def set_retention(self, retention: Mapping[str, float | None]) -> None:
        rows = [(seconds, workflow_id) for workflow_id, seconds in retention.items()]

        def body(tx: _Tx) -> None:
            tx.conn.executemany(_R["set_retention"], rows)

        await self._tx(body)

    async def list_retention(self) -> dict[str, float]:
        return {wf: float(s) for wf, s in await self._fetch(_R["list_retention"], ())}

    async def take_lease(self, name: str, owner: str, now: float, seconds: float) -> bool:
        return await self._one(_R["take_lease"], (name, owner, now + seconds, now)) == 1

    async def drop_lease(self, name: str, owner: str) -> None:
        await self._one(_R["drop_lease"], (name, owner))

    # API keys ------------------------------------------------------------------
    async def create_api_key(self, key: ApiKeyRow) -> None:
        k = key
        await self._one(
            _Q["insert_api_key"],
            (k.key_id, k.project_id, k.name, k.key_hash, k.created_at, k.revoked_at),
        )

    async def list_api_keys(self) -> list[ApiKeyRow]:
        return [ApiKeyRow(*r) for r in await self._fetch(_Q["list_api_keys"], ())]

    async def find_api_key(self, key_hash: str) -> ApiKeyRow | None:
        rows = await self._fetch(_Q["find_api_key"], (key_hash,))
        return ApiKeyRow(*rows[0]) if rows else None

    async def revoke_api_key(self, key_id: str, now: float) -> bool:
        return await self._one(_Q["revoke_api_key"], (now, key_id)) == 1

    async def has_api_keys(self) -> bool:
        [(found,)] = await self._fetch(_Q["any_api_key"], ())
        return bool(found)

    # spans exported by SDK workers ------------------------------------------------------------
    async def record_spans(self, spans: Sequence[SpanRow]) -> None:
        rows = [astuple_span(s) for s in spans]
        if rows:
            await self._tx(lambda tx: tx.conn.executemany(_S["upsert_span"], rows))

    async def trace_spans(self, trace_id: str) -> list[SpanRow]:
        return [SpanRow(*r) for r in await self._fetch(_S["trace_spans"], (trace_id,))]

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
        params = (
            started_after,
            ended_before,
            root_span_type,
            root_span_name,
            has_error,
            limit,
            offset,
        )
        return [TraceSummary(*r) for r in await self._fetch(_S["list_traces"], params)]


def _step_params(execution_id: str, attempt: int, step: StepRow) -> tuple[Any, ...]:
    """``record_step``'s parameters: the row, then the fence (id, attempt)."""
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
        execution_id,
        attempt,
    )


def _new_params(n: NewExecution, updated_at: float, deployment_id: str | None) -> tuple[Any, ...]:
    """``insert_execution``'s parameters (the first ones of ``insert_claimed_execution``)."""
    return (
        n.id,
        n.workflow_id,
        n.payload,
        n.created_at,
        updated_at,
        n.parent_execution_id,
        n.root_execution_id,
        n.root_workflow_id,
        n.step_key,
        n.session_id,
        n.user_id,
        n.child_index,
        n.run_timeout_seconds,
        n.state,  # the initial state...
        n.state,  # ...is also the current one until the run saves another
        n.queue_name,
        n.concurrency_key,
        n.priority,
        n.idempotency_key,
        n.schedule_id,
        deployment_id,
        n.trace_context,
    )
