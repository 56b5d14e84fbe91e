"""Contract tests of the PostgreSQL store itself (PostgresStore, no worker).

What only PostgreSQL has to prove: claims stay exclusive under real
concurrency (SKIP LOCKED), fencing holds against a zombie racing a take-over,
migrations run once when many processes start together, schemas isolate,
NOTIFY wakes other store instances, retried writes are idempotent, a killed
connection is ridden out, and bad URLs fail clearly.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from conftest import PG_DSN, drop_schema, new_database_url, require_postgres
from polos import StoreUnavailableError
from polos.store import EagerClaim, NewExecution, StepRow, store_from_url
from polos.store.eager import Started
from polos.store.hub import Hub
from polos.store.postgres import PostgresStore
from polos.store.postgres.backend import _ChildStart
from polos.store.postgres.config import parse_url
from polos.store.postgres.database import migrations
from polos.store.postgres.group_commit import GroupCommit
from polos.store.records import NewEvent


# fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def pg_url(pg_url: str) -> str:
    """conftest's fresh schema, named in the sessions' application name (to find them)."""
    schema = pg_url.rsplit("schema=", 1)[1]
    return f"{pg_url}&application_name=polos_{schema}"


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[PostgresStore]:
    s = PostgresStore(pg_url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def other_pg_url(tmp_path: Path) -> Iterator[str]:
    url, schema = new_database_url("postgres", tmp_path)
    try:
        yield url
    finally:
        drop_schema(schema)


@pytest.fixture
def postgres_up() -> None:
    require_postgres()  # outside any event loop: it probes with asyncio.run


@pytest.fixture
async def admin(postgres_up: None) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(PG_DSN)
    try:
        yield conn
    finally:
        await conn.close()


def new_execution(workflow_id: str = "wf", at: float | None = None) -> NewExecution:
    return NewExecution(str(uuid.uuid4()), workflow_id, "{}", at or time.time())


def step(key: str, attempt: int, output: str = "1") -> StepRow:
    return StepRow(key, "run", "fn", output, None, attempt, time.time())


async def claim_one(store: PostgresStore, worker: str, lease: float = 30.0) -> Any:
    [claimed] = await store.claim(worker, ["wf"], 1, time.time(), lease)
    return claimed


# URLs -----------------------------------------------------------------------------------------
def test_unknown_url_options_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="unknown PostgreSQL URL option 'shema'"):
        store_from_url("postgresql://u@h/db?shema=x")
    with pytest.raises(ValueError, match="not a plain identifier"):
        parse_url("postgresql://u@h/db?schema=a-b")
    with pytest.raises(ValueError, match="pool_size"):
        parse_url("postgresql://u@h/db?pool_size=0")
    with pytest.raises(ValueError, match="retry_seconds"):
        parse_url("postgresql://u@h/db?retry_seconds=soon")


def test_url_options_are_split_from_the_dsn_and_passwords_stay_out_of_logs() -> None:
    cfg = parse_url("postgresql://me:secret@db.example:5433/app?schema=tenant_1&sslmode=require")
    assert cfg.schema == "tenant_1"
    assert cfg.dsn == "postgresql://me:secret@db.example:5433/app?sslmode=require"
    assert "secret" not in cfg.description and "secret" not in cfg.hub_key
    assert cfg.hub_key == "postgres:postgresql://me@db.example:5433/app:tenant_1"
    assert cfg.channel == "polos_tenant_1"
    assert parse_url("postgresql://me@h/app").schema == "public"
    long = parse_url(f"postgresql://me@h/app?schema={'s' * 63}")
    assert len(long.channel) <= 63  # identifiers stop at 63 bytes


def test_a_url_without_a_host_keeps_its_slashes() -> None:
    # A Unix socket is named in the query; the URL's host part is empty.
    cfg = parse_url("postgresql:///app?host=/run/postgresql&schema=tenant_1")
    assert cfg.dsn == "postgresql:///app?host=%2Frun%2Fpostgresql"
    assert cfg.description == "PostgreSQL database postgresql:///app (schema tenant_1)"
    assert parse_url("postgresql://me:secret@/app?host=/tmp").safe_dsn == "postgresql://me@/app"


async def test_a_store_opens_on_a_url_whose_host_is_in_the_query(pg_url: str) -> None:
    server = urlsplit(PG_DSN)
    schema = pg_url.rsplit("schema=", 1)[1].split("&", 1)[0]
    query = f"host={server.hostname}&port={server.port or 5432}&user={server.username}"
    s = PostgresStore(f"postgresql://{server.path}?{query}&schema={schema}")
    await s.open()
    try:
        assert await s.list_executions() == []
    finally:
        await s.close()


async def test_an_unreachable_database_raises_store_unavailable_after_retrying() -> None:
    s = PostgresStore("postgresql://postgres@127.0.0.1:1/test?schema=nowhere", retry_seconds=0.3)
    began = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="unreachable"):
        await s.open()
    assert time.monotonic() - began < 5


# migrations and schemas -----------------------------------------------------------------------
async def test_ten_stores_opening_at_once_migrate_once(admin: asyncpg.Connection) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"  # not created yet: the stores create it
    stores = [PostgresStore(f"{PG_DSN}?schema={schema}") for _ in range(10)]
    try:
        await asyncio.gather(*(s.open() for s in stores))
        rows = await admin.fetch(f"SELECT version FROM {schema}.polos_migrations ORDER BY 1")
        # Every migration the package holds, each applied once.
        assert [r["version"] for r in rows] == [version for version, _, _ in migrations()]
        assert len(rows) >= 3
        await stores[3].create_execution(new_execution())
        assert len(await stores[7].list_executions()) == 1
    finally:
        await asyncio.gather(*(s.close() for s in stores))
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def test_schemas_isolate_executions_and_signals(pg_url: str, other_pg_url: str) -> None:
    a, b = PostgresStore(pg_url), PostgresStore(other_pg_url)
    try:
        await a.open()
        await b.open()
        assert a.hub is not b.hub and a.channel != b.channel
        woken = b.hub.work_event()
        await a.create_execution(new_execution())
        assert await b.list_executions() == []
        assert await b.claim("w", ["wf"], 10, time.time(), 30) == []
        await asyncio.sleep(0.3)
        assert not woken.is_set(), "a NOTIFY of one schema must not wake another"
    finally:
        await a.close()
        await b.close()


# claiming and fencing ---------------------------------------------------------------------------
async def test_concurrent_claims_never_hand_one_execution_to_two_workers(pg_url: str) -> None:
    stores = [PostgresStore(pg_url) for _ in range(8)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        base = time.time()
        news = [new_execution(at=base + i * 1e-3) for i in range(400)]
        await stores[0].create_executions(news)
        claimed: list[tuple[str, list[str]]] = []

        async def claimer(s: PostgresStore, name: str) -> None:
            rng = random.Random(name)
            while True:
                batch = await s.claim(name, ["wf"], rng.randint(1, 10), time.time(), 30)
                if not batch:
                    return
                claimed.append((name, [c.execution.id for c in batch]))

        await asyncio.gather(*(claimer(s, f"w{i}") for i, s in enumerate(stores)))
        counts = Counter(eid for _, ids in claimed for eid in ids)
        assert set(counts) == {n.id for n in news}
        assert max(counts.values()) == 1, "an execution was claimed twice"
        assert len({name for name, _ in claimed}) > 1, "the claims were spread"
        order = {n.id: i for i, n in enumerate(news)}
        for _, ids in claimed:
            assert ids == sorted(ids, key=order.__getitem__), "a batch comes oldest first"
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_a_zombie_attempt_cannot_record_wait_or_finish(store: PostgresStore) -> None:
    await store.create_execution(new_execution())
    first = await claim_one(store, "zombie", lease=0.01)
    assert await store.record_step(first.execution.id, 1, step("a", 1))
    await asyncio.sleep(0.05)
    assert await store.requeue_expired_leases(time.time()) == 1
    second = await claim_one(store, "healthy")
    eid = second.execution.id
    assert second.execution.attempt == 2 and [s.step_key for s in second.steps] == ["a"]
    assert not await store.record_step(eid, 1, step("b", 1))
    assert not await store.begin_wait(eid, 1, "nap", "timer", time.time() + 5, time.time())
    assert not await store.complete_execution(eid, 1, '"zombie"', time.time())
    assert not await store.fail_execution(eid, 1, "{}", time.time())
    assert await store.heartbeat("zombie", [(eid, 1)], time.time(), 30) == {eid}
    assert await store.heartbeat("healthy", [(eid, 2)], time.time(), 30) == set()
    assert await store.record_step(eid, 2, step("b", 2))
    await store.cancel_execution(eid, time.time())
    assert not await store.record_step(eid, 2, step("c", 2)), "cancelled: refused at once"
    assert [s.step_key for s in await store.list_steps(eid)] == ["a", "b"]


async def test_concurrent_step_records_are_committed_together_and_fenced_row_by_row(
    store: PostgresStore,
) -> None:
    for _ in range(40):
        await store.create_execution(new_execution())
    claimed = await store.claim("w", ["wf"], 40, time.time(), 30)
    assert len(claimed) == 40
    # Half the records come from a stale attempt: fenced one by one inside the batch.
    outcomes = await asyncio.gather(
        *[
            store.record_step(c.execution.id, 1 if i % 2 else 7, step(f"k{i}", 1))
            for i, c in enumerate(claimed)
        ]
    )
    assert outcomes == [i % 2 == 1 for i in range(40)]
    for i, c in enumerate(claimed):
        keys = [s.step_key for s in await store.list_steps(c.execution.id)]
        assert keys == ([f"k{i}"] if i % 2 else [])


async def test_group_commit_bisects_to_the_refused_record_but_not_on_an_outage() -> None:
    flushed: list[list[str]] = []

    async def flush(rows: Sequence[tuple[Any, ...]]) -> list[bool]:
        flushed.append([row[0] for row in rows])
        await asyncio.sleep(0)  # a real flush waits for the database: others queue meanwhile
        if any(row[0] == "down" for row in rows):
            raise StoreUnavailableError("down")
        if any(row[0] == "bad" for row in rows):
            raise ValueError("refused")
        return [True] * len(rows)

    commit = GroupCommit(flush)
    names = ["first"] + [f"r{i}" for i in range(15)]
    names[9] = "bad"
    outcomes = await asyncio.gather(*(commit.submit((n,)) for n in names), return_exceptions=True)
    assert [type(o).__name__ for o in outcomes] == ["bool"] * 9 + ["ValueError"] + ["bool"] * 6
    assert flushed[0] == ["first"], "nothing in flight: the first record goes at once, alone"
    assert flushed[1] == names[1:], "the others queued meanwhile and went together"
    assert len(flushed) <= 2 + 2 * 4  # then two halves a level down to one

    flushed.clear()
    names[9] = "down"
    outcomes = await asyncio.gather(*(commit.submit((n,)) for n in names), return_exceptions=True)
    assert outcomes[0] is True
    assert all(isinstance(o, StoreUnavailableError) for o in outcomes[1:])
    assert len(flushed) == 2, "an outage is not bisected: it would retry for each half"

    flushed.clear()
    outcomes = await asyncio.gather(
        *(commit.submit((n,)) for n in ["down", "a", "b"]), return_exceptions=True
    )
    assert isinstance(outcomes[0], StoreUnavailableError)
    assert outcomes[1:] == [True, True], "records queued behind a failed lone one still go"
    assert flushed == [["down"], ["a", "b"]]


async def test_a_record_the_database_refuses_fails_only_its_own_caller(
    store: PostgresStore,
) -> None:
    # The engine checks step keys before they get here; the store must still
    # never let one refused record fail the other records of its group commit.
    for _ in range(40):
        await store.create_execution(new_execution())
    claimed = await store.claim("w", ["wf"], 40, time.time(), 30)
    bad = {7: "nul\x00key", 23: "surrogate\ud800key", 31: secrets.token_urlsafe(4000)}
    outcomes = await asyncio.gather(
        *[
            store.record_step(c.execution.id, 1, step(bad.get(i, f"k{i}"), 1))
            for i, c in enumerate(claimed)
        ],
        return_exceptions=True,
    )
    for i, outcome in enumerate(outcomes):
        if i in bad:
            assert isinstance(outcome, asyncpg.PostgresError | asyncpg.DataError), outcome
        else:
            assert outcome is True, (i, outcome)
    for i, c in enumerate(claimed):
        keys = [s.step_key for s in await store.list_steps(c.execution.id)]
        assert keys == ([] if i in bad else [f"k{i}"])


async def test_steps_loaded_at_a_take_over_include_everything_the_zombie_recorded(
    store: PostgresStore,
) -> None:
    """A zombie hammers record_step while its execution is taken over: every step it
    managed to commit must come back with the new claim (none may slip in after)."""
    await store.create_execution(new_execution())
    for round_ in range(15):
        old = await claim_one(store, f"old{round_}")
        eid, attempt = old.execution.id, old.execution.attempt
        stop = asyncio.Event()
        task = asyncio.create_task(zombie(store, eid, attempt, f"r{round_}", stop))
        await asyncio.sleep(0.01)
        assert await store.requeue_worker(f"old{round_}", time.time()) == 1
        # SKIP LOCKED passes over the row while the zombie's refused insert holds it.
        batch: list[Any] = []
        while not batch:
            batch = await store.claim(f"new{round_}", ["wf"], 1, time.time(), 30)
        new = batch[0]
        stop.set()
        await task
        loaded = {s.step_key for s in new.steps}
        recorded = {s.step_key for s in await store.list_steps(eid) if s.attempt == attempt}
        assert recorded <= loaded, f"steps recorded after the take-over: {recorded - loaded}"
        await store.requeue_worker(f"new{round_}", time.time())


async def zombie(store: PostgresStore, eid: str, attempt: int, prefix: str, stop: Any) -> None:
    """Record steps as fast as possible until told to stop (refusals included)."""
    i = 0
    while not stop.is_set():
        await store.record_step(eid, attempt, step(f"{prefix}-{i}", attempt))
        i += 1


async def test_heartbeat_renews_only_the_leases_the_worker_still_runs(
    store: PostgresStore,
) -> None:
    await store.create_executions([new_execution(), new_execution()])
    held, dropped = await store.claim("w", ["wf"], 2, time.time(), 0.2)
    assert await store.heartbeat("w", [(held.execution.id, 1)], time.time(), 30) == set()
    await asyncio.sleep(0.3)
    assert await store.requeue_expired_leases(time.time()) == 1
    rows = {r.id: r.status for r in await store.list_executions()}
    assert rows == {held.execution.id: "running", dropped.execution.id: "queued"}


# idempotent retries -----------------------------------------------------------------------------
class _LosesReplies:
    """Wraps a connection: the next statement runs (and commits), then its reply is "lost"."""

    def __init__(self, conn: Any, plan: dict[str, int]) -> None:
        self._conn = conn
        self._plan = plan

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._conn, name)
        if name not in ("fetch", "fetchrow", "fetchval", "execute") or not self._plan["left"]:
            return real

        async def lossy(*args: Any, **kwargs: Any) -> Any:
            result = await real(*args, **kwargs)
            if self._plan["left"] and not self._conn.is_in_transaction():
                self._plan["left"] -= 1
                raise asyncpg.exceptions.ConnectionDoesNotExistError("reply lost (simulated)")
            return result

        return lossy


class _LossyPool:
    def __init__(self, pool: Any, plan: dict[str, int]) -> None:
        self._pool = pool
        self._plan = plan
        self._wrapped: dict[int, Any] = {}

    async def acquire(self) -> Any:
        conn = await self._pool.acquire()
        wrapper = _LosesReplies(conn, self._plan)
        self._wrapped[id(wrapper)] = conn
        return wrapper

    async def release(self, wrapper: Any) -> None:
        await self._pool.release(self._wrapped.pop(id(wrapper)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


async def test_writes_whose_reply_was_lost_are_retried_without_doubling(
    store: PostgresStore,
) -> None:
    plan = {"left": 0}
    store.db._pool = _LossyPool(store.db._pool, plan)

    def lose_next_reply() -> None:
        plan["left"] = 1

    new = new_execution()
    lose_next_reply()
    assert await store.create_execution(new) == new.id
    lose_next_reply()
    [claimed] = await store.claim("w", ["wf"], 5, time.time(), 30)
    assert claimed.execution.id == new.id, "the lost claim is handed back, not stranded"
    lose_next_reply()
    assert await store.record_step(new.id, 1, step("a", 1))
    lose_next_reply()
    await store.add_history(new.id, 1, "step_retry", '{"n":1}', 123.0)
    lose_next_reply()
    assert await store.complete_execution(new.id, 1, '"done"', time.time())
    assert plan["left"] == 0
    events = [h.event for h in await store.list_history(new.id)]
    assert events == ["created", "claimed", "step_retry", "completed"]
    assert len(await store.list_steps(new.id)) == 1
    assert (await store.get_execution(new.id)).status == "completed"  # type: ignore[union-attr]


@pytest.mark.parametrize("lost", [False, True], ids=["answered", "reply-lost"])
async def test_one_batch_of_child_starts_gives_each_parent_its_own_outcome(
    store: PostgresStore, lost: bool
) -> None:
    # One batch (one call of polos_start_children): a parent taking its child
    # at once, a zombie, a parent refused for a child id that exists, and one
    # starting children without waiting (a deferred step with them). With the
    # reply lost, the retry finds what the first try committed.
    parents = [new_execution() for _ in range(4)]
    await store.create_executions(parents)
    assert len(await store.claim("w", ["wf"], 4, time.time(), 30)) == 4
    taker, zombie, refused, starter = (p.id for p in parents)
    now = time.time()

    def kid(
        parent: str, key: str, execution_id: str | None = None, workflow_id: str = "kid"
    ) -> NewExecution:
        return NewExecution(
            execution_id or str(uuid.uuid4()),
            workflow_id,
            "{}",
            now,
            parent_execution_id=parent,
            root_execution_id=parent,
            step_key=key,
            child_index=0,
            queue_name="kid",
        )

    taken, fenced, clash, queued = (
        kid(taker, "t"),
        kid(zombie, "t"),
        kid(refused, "t", execution_id=starter),
        kid(starter, "h", workflow_id="other"),  # a queued "kid" would keep taken's turn
    )
    starts = [
        _ChildStart(taker, 1, "t", (taken,), True, None, now, None, None,
                    EagerClaim("w", now, 30.0, {taken.id})),
        _ChildStart(zombie, 2, "t", (fenced,), True, None, now, None, None),
        _ChildStart(refused, 1, "t", (clash,), True, None, now, None, None),
        _ChildStart(starter, 1, "h", (queued,), False, '"handles"', now, None, None,
                    steps=(step("llm", 1, '"answer"'),)),
    ]  # fmt: skip
    plan = {"left": int(lost)}
    store.db._pool = _LossyPool(store.db._pool, plan)
    outcomes = await store._start_children_many(starts)
    assert plan["left"] == 0
    first, second, third, fourth = outcomes
    assert isinstance(first, Started) and first
    # The first try's child is running for w; after a lost reply its lease
    # expires and it is claimed again (the retry cannot tell it apart).
    assert [c.execution.id for c in first.claimed] == ([] if lost else [taken.id])
    assert isinstance(second, Started) and not second and second.claimed == []
    assert isinstance(third, ValueError) and starter in str(third)
    assert isinstance(fourth, Started) and fourth and fourth.claimed == []

    rows = {r.id: r for r in await store.list_executions(limit=50)}
    assert (rows[taker].status, rows[taker].pending_children) == ("waiting", 1)
    assert (rows[taken.id].status, rows[taken.id].owner, rows[taken.id].attempt) == (
        "running",
        "w",
        1,
    )
    assert rows[zombie].status == rows[refused].status == "running"
    assert fenced.id not in rows and rows[starter].workflow_id == "wf"
    assert await store.list_steps(zombie) == await store.list_steps(refused) == []
    assert rows[starter].status == "running" and rows[queued.id].status == "queued"
    assert [(s.step_key, s.output) for s in await store.list_steps(starter)] == [
        ("h", '"handles"'),
        ("llm", '"answer"'),
    ]
    history = [h.event for h in await store.list_history(taker)]
    assert history == ["created", "claimed", "waiting"], "each written once"
    assert [h.event for h in await store.list_history(taken.id)] == ["created", "claimed"]
    assert [h.event for h in await store.list_history(queued.id)] == ["created"]


async def test_an_idempotency_key_returns_the_first_execution(store: PostgresStore) -> None:
    first, again, unrelated = new_execution(), new_execution(), new_execution()
    first.idempotency_key = again.idempotency_key = "order-42"
    assert await store.create_execution(first) == first.id
    assert await store.create_executions([again, unrelated]) == [first.id, unrelated.id]
    assert len(await store.list_executions()) == 2


# a held parent claimed back by its child's completion ----------------------------------------------
async def _parent_waiting_on_a_kid(store: PostgresStore) -> tuple[str, str]:
    """A parent (attempt 1) waiting on one child, which worker w runs: their ids."""
    parent = new_execution()
    await store.create_execution(parent)
    await claim_one(store, "w")
    kid = NewExecution(
        str(uuid.uuid4()),
        "kid",
        "{}",
        time.time(),
        parent_execution_id=parent.id,
        root_execution_id=parent.id,
        root_workflow_id="wf",
        step_key="tool",
        child_index=0,
    )
    assert await store.start_children(
        parent.id, 1, "tool", [kid], wait=True, output=None, now=time.time()
    )
    [claimed] = await store.claim("w", ["kid"], 1, time.time(), 30)
    assert claimed.execution.id == kid.id
    return parent.id, kid.id


async def test_a_resume_whose_reply_was_lost_hands_back_the_parent_it_took(
    store: PostgresStore,
) -> None:
    parent_id, kid_id = await _parent_waiting_on_a_kid(store)
    plan = {"left": 1}
    store.db._pool = _LossyPool(store.db._pool, plan)
    now = time.time()
    done = await store.complete_and_resume(
        kid_id, 1, '"ok"', now, resume=EagerClaim("w", now, 30.0, {parent_id})
    )
    assert plan["left"] == 0, "the first reply was lost"
    assert done, "the retry finds the completion committed by the first try"
    [taken] = done.claimed
    assert (taken.execution.id, taken.execution.attempt) == (parent_id, 2)
    history = [(h.event, h.attempt) for h in await store.list_history(parent_id)]
    assert history[-2:] == [("resumed", 1), ("claimed", 2)], "claimed once, not twice"
    assert await store.claim("w2", ["wf"], 5, time.time(), 30) == []


async def test_resumes_share_a_group_commit_with_other_writes(store: PostgresStore) -> None:
    pairs = [await _parent_waiting_on_a_kid(store) for _ in range(3)]
    plain = new_execution("solo")
    await store.create_execution(plain)
    [solo] = await store.claim("w", ["solo"], 1, time.time(), 30)
    batches: list[int] = []
    flush = store._finish_resume_many

    async def counted(rows: Sequence[tuple[Any, ...]]) -> list[bool]:
        batches.append(len(rows))
        return await flush(rows)

    store._finish_resume_many = counted  # type: ignore[method-assign]
    now = time.time()
    done = await asyncio.gather(
        *(
            store.complete_and_resume(
                kid_id, 1, '"ok"', now, resume=EagerClaim("w", now, 30.0, {parent_id})
            )
            for parent_id, kid_id in pairs
        ),
        store.complete_execution(solo.execution.id, 1, '"solo"', now),
        store.record_step(solo.execution.id, 1, step("late", 1)),
    )
    assert max(batches) >= 2, "the ends queued behind the first went out together"
    for (parent_id, _), started in zip(pairs, done[:3], strict=True):
        assert [(c.execution.id, c.execution.attempt) for c in started.claimed] == [(parent_id, 2)]
    assert done[3] is True
    assert (await store.get_execution(solo.execution.id)).status == "completed"  # type: ignore[union-attr]
    assert await store.claim("w2", ["wf"], 5, time.time(), 30) == []


async def test_a_parent_taken_back_by_its_kid_wakes_no_other_worker(
    pg_url: str, admin: asyncpg.Connection
) -> None:
    a, b = PostgresStore(pg_url), PostgresStore(pg_url)
    b.hub = Hub()  # another process's: only NOTIFY reaches it
    await a.open()
    await b.open()
    markers = iter(range(100))

    async def caught_up() -> None:
        """Every notification committed so far has reached b (commit order)."""
        marker = f"marker-{next(markers)}"
        arrived = b.hub.finished_future(marker)
        await admin.execute("SELECT pg_notify($1, $2)", a.channel, f"f:{marker}")
        await asyncio.wait_for(arrived, 2)

    try:
        for holder in ("this worker", "nobody"):
            parent_id, kid_id = await _parent_waiting_on_a_kid(a)
            await caught_up()
            work = b.hub.work_event()
            finished = b.hub.finished_future(kid_id)
            now = time.time()
            eligible = {parent_id} if holder == "this worker" else {"someone-else"}
            done = await a.complete_and_resume(
                kid_id, 1, '"ok"', now, resume=EagerClaim("w", now, 30.0, eligible)
            )
            await asyncio.wait_for(finished, 2)  # "f:" is still sent for waiters elsewhere
            await caught_up()
            if holder == "this worker":
                assert [c.execution.id for c in done.claimed] == [parent_id]
                assert not work.is_set(), "nothing was queued: no worker is woken"
            else:
                assert done.claimed == []
                assert work.is_set(), "the requeued parent wakes the other workers"
                assert (await claim_one(b, "w2")).execution.id == parent_id
    finally:
        await a.close()
        await b.close()


# NOTIFY and connection loss ---------------------------------------------------------------------
async def test_notify_wakes_another_store_instance(pg_url: str) -> None:
    a, b = PostgresStore(pg_url), PostgresStore(pg_url)
    b.hub = Hub()  # as if b lived in another process: only NOTIFY can reach it
    await a.open()
    await b.open()
    try:
        work, timers, events = b.hub.work_event(), b.hub.timer_event(), b.hub.events_event()
        cancelled: list[str] = []
        b.hub.on_cancel(cancelled.append)

        new = new_execution()
        await a.create_execution(new)
        await asyncio.wait_for(work.wait(), 2)
        claimed = await claim_one(a, "w")
        await a.begin_wait(new.id, 1, "nap", "timer", time.time() + 60, time.time())
        await asyncio.wait_for(timers.wait(), 2)
        await a.publish_events([NewEvent(str(uuid.uuid4()), "t", None, "1", time.time())], 1.0)
        await asyncio.wait_for(events.wait(), 2)

        other = new_execution()
        await a.create_execution(other)
        await claim_one(a, "w")
        finished = b.hub.finished_future(other.id)
        await a.complete_execution(other.id, 1, "1", time.time())
        await asyncio.wait_for(finished, 2)
        await a.cancel_execution(claimed.execution.id, time.time())
        for _ in range(200):
            if cancelled:
                break
            await asyncio.sleep(0.01)
        assert cancelled == [claimed.execution.id]
    finally:
        await a.close()
        await b.close()


async def test_killed_connections_are_ridden_out(
    store: PostgresStore, admin: asyncpg.Connection, pg_url: str
) -> None:
    app = pg_url.rsplit("application_name=", 1)[1]
    await store.create_execution(new_execution())
    killed = await admin.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name LIKE $1",
        f"{app}%",
    )
    assert killed >= 2  # the pool's connection and the listener's
    assert len(await store.list_executions()) == 1  # retried on a new connection
    for _ in range(100):
        if store.listening:
            break
        await asyncio.sleep(0.05)
    assert store.listening, "the listener reconnected"
    work = store.hub.work_event()
    work.clear()
    await store.create_execution(new_execution())
    await asyncio.wait_for(work.wait(), 2)


# the connection kept for one operation at a time ----------------------------------------------
async def test_a_pool_of_one_serves_concurrent_operations(pg_url: str) -> None:
    # One operation at a time runs on a connection kept out of the pool; with a
    # pool of one that would leave nothing for a second operation at once.
    store = PostgresStore(f"{pg_url}&pool_size=1")
    await store.open()
    try:
        news = [new_execution() for _ in range(20)]
        await asyncio.gather(
            *(store.create_execution(n) for n in news), *(store.list_executions() for _ in news)
        )
        assert len(await store.list_executions()) == 20
    finally:
        await asyncio.wait_for(store.close(), 10)


async def test_a_connection_the_server_closed_while_idle_is_replaced(
    store: PostgresStore, admin: asyncpg.Connection, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = pg_url.rsplit("application_name=", 1)[1]
    await store.create_execution(new_execution())
    for _ in range(3):
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = $1",
            app,  # the pool's sessions, not the listener's
        )
        assert killed >= 1
        await asyncio.sleep(0.3)  # the client has seen the connection close
        await store.create_execution(new_execution())
    assert len(await store.list_executions()) == 4
    assert "stopped working" not in caplog.text, "a connection known closed is not an outage"


async def test_a_transaction_left_open_does_not_reach_the_next_operation(
    store: PostgresStore,
) -> None:
    async def leave_open(conn: Any, _retrying: bool) -> None:
        await conn.execute("BEGIN")
        await conn.execute("UPDATE executions SET status = 'failed'")

    await store.create_execution(new_execution())
    await store.db.run("leaving a transaction open", leave_open)
    await store.create_execution(new_execution())  # would commit the update on that connection
    statuses = [r.status for r in await store.list_executions()]
    assert statuses == ["queued", "queued"], "rolled back, not committed by a later operation"


async def test_closing_while_an_operation_runs_lets_it_finish(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    await store.open()
    await store.create_execution(new_execution())
    slow = asyncio.ensure_future(
        store.db.run("sleeping", lambda conn, _r: conn.fetchval("SELECT pg_sleep(0.3)"))
    )
    await asyncio.sleep(0.05)
    await asyncio.wait_for(store.close(), 10)
    assert slow.done() and slow.exception() is None, "the pool waited for it"
    await store.open()  # a store reopens on a new pool
    try:
        assert len(await store.list_executions()) == 1
    finally:
        await store.close()


async def test_connections_kept_for_concurrent_operations_are_reused(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Operations running at once each keep a connection out of the pool (up to
    # pool_size - 1); later operations reuse those without acquiring any.
    store = PostgresStore(f"{pg_url}&pool_size=4")
    await store.open()
    try:

        async def slow(conn: Any, _retrying: bool) -> int:
            return int(await conn.fetchval("SELECT pg_backend_pid() FROM pg_sleep(0.05)"))

        first = await asyncio.gather(*(store.db.run("sleeping", slow) for _ in range(3)))
        assert len(set(first)) == 3, "three at once ran on three connections"
        acquired = 0
        acquire = asyncpg.Pool.acquire

        def counting_acquire(pool: asyncpg.Pool, *args: Any, **kwargs: Any) -> Any:
            nonlocal acquired
            acquired += 1
            return acquire(pool, *args, **kwargs)

        monkeypatch.setattr(asyncpg.Pool, "acquire", counting_acquire)
        again = await asyncio.gather(*(store.db.run("sleeping", slow) for _ in range(3)))
        assert acquired == 0, "the kept connections served them"
        assert set(again) == set(first)
        # More at once than can be kept: the rest go through the pool, and all finish.
        more = await asyncio.gather(*(store.db.run("sleeping", slow) for _ in range(6)))
        assert len(more) == 6 and acquired >= 1
        assert len(set(more)) <= 4
    finally:
        await asyncio.wait_for(store.close(), 10)


async def test_kept_connections_go_back_to_the_pool_when_idle_or_used_long(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kept connections must not escape the pool's own limits for good: one
    # idle for a while, or used many times, is given back (the pool then
    # closes idle ones and replaces worn ones as it does for its own).
    from polos.store.postgres import database

    monkeypatch.setattr(database, "_KEPT_IDLE_S", 0.2)
    monkeypatch.setattr(database, "_KEPT_MAX_USES", 5)
    store = PostgresStore(f"{pg_url}&pool_size=4")
    await store.open()
    acquired = 0
    acquire = asyncpg.Pool.acquire

    def counting_acquire(pool: asyncpg.Pool, *args: Any, **kwargs: Any) -> Any:
        nonlocal acquired
        acquired += 1
        return acquire(pool, *args, **kwargs)

    async def slow(conn: Any, _retrying: bool) -> int:
        return int(await conn.fetchval("SELECT pg_backend_pid() FROM pg_sleep(0.05)"))

    try:
        monkeypatch.setattr(asyncpg.Pool, "acquire", counting_acquire)
        await asyncio.gather(*(store.db.run("sleeping", slow) for _ in range(3)))
        assert acquired == 3, "three at once were kept"
        pool = store.db._pool
        idle_in_pool = pool.get_idle_size()
        await asyncio.sleep(1.2)  # past the idle limit and the once-a-second check
        await store.list_executions()
        assert pool.get_idle_size() >= idle_in_pool + 2, "the idle kept ones went back"
        acquired = 0
        for _ in range(12):  # one at a time: one kept connection, worn out after 5 uses
            await store.list_executions()
        assert acquired == 2, "a worn kept connection was given back and another taken"
    finally:
        await asyncio.wait_for(store.close(), 10)


async def test_the_listeners_loss_and_return_wake_every_waiter_on_a_runs_end(
    store: PostgresStore, admin: asyncpg.Connection, pg_url: str
) -> None:
    # While the listener is up a waiter on a run's end sleeps on the signal
    # (polling only as a safety net); a NOTIFY sent while it is down is lost,
    # so its loss wakes every such waiter (to poll), and so does its return.
    app = pg_url.rsplit("application_name=", 1)[1]
    assert store.finishes_signalled
    first = store.hub.finished_future("a-run")
    other = store.hub.finished_future("another-run")
    await admin.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name LIKE $1",
        f"{app}%",
    )
    await asyncio.wait_for(asyncio.gather(first, other), 5)
    again = store.hub.finished_future("a-run")
    if not store.finishes_signalled:  # not back yet: its return wakes this one
        await asyncio.wait_for(again, 10)
    for _ in range(200):
        if store.finishes_signalled:
            break
        await asyncio.sleep(0.05)
    assert store.finishes_signalled, "the listener reconnected"


async def test_a_waiter_is_woken_by_a_run_ended_in_another_process(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polos import PolosClient
    from polos.runtime import client as client_module

    # No safety-net poll within the test: only the end's NOTIFY can wake the waiter.
    monkeypatch.setattr(client_module, "_POLL_SAFETY", 3600.0)

    elsewhere, here = PostgresStore(pg_url), PostgresStore(pg_url)
    elsewhere.hub = Hub()  # another process's: only its NOTIFY reaches this one
    await elsewhere.open()
    await here.open()
    try:
        async with PolosClient(store=here) as client:
            new = new_execution()
            await elsewhere.create_execution(new)
            await claim_one(elsewhere, "w")
            waiting = asyncio.ensure_future(client.wait_for_result(new.id, timeout=30))
            await asyncio.sleep(0.2)  # the waiter reads its run (not ended), then sleeps
            assert not waiting.done()
            await elsewhere.complete_execution(new.id, 1, '"done"', time.time())
            assert await asyncio.wait_for(waiting, 30) == "done"
    finally:
        await elsewhere.close()
        await here.close()
