-- Named queries of the PostgreSQL backend. Parameters are positional ($n).
--
-- Each state transition is ONE statement: data-modifying CTEs do the update
-- and append the history row, and pg_notify() (delivered at commit) tells the
-- other processes. A CTE that is a plain SELECT only runs when referenced,
-- so notifications sit in the final SELECT list.
--
-- Every write is safe to send twice (the backend retries after a dropped
-- connection without knowing whether the first try committed): inserts skip
-- duplicates, and a fenced write also reports success when its own earlier
-- try already applied (the trailing "OR EXISTS" reads the statement's
-- snapshot, which never contains this statement's own changes).

-- name: insert_executions
-- One statement for any number of executions: parallel arrays, one per
-- column. ON CONFLICT skips an idempotency key used before (the caller then
-- looks up its execution) and an id an earlier try of this call inserted.
WITH new AS (
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::float8[], $5::text[], $6::text[], $7::text[],
        $8::text[], $9::text[], $10::text[], $11::int[], $12::float8[], $13::text[],
        $14::text[], $15::text[], $16::int[], $17::text[], $18::text[], $19::text[],
        $20::text[]
    ) WITH ORDINALITY AS n(
        id, workflow_id, payload, created_at, parent_execution_id, root_execution_id,
        root_workflow_id, step_key, session_id, user_id, child_index, run_timeout_seconds,
        state, queue_name, concurrency_key, priority, idempotency_key, schedule_id,
        deployment_id, trace_context, position
    )
), created AS (
    INSERT INTO executions (
        id, workflow_id, status, payload, attempt, created_at, updated_at,
        parent_execution_id, root_execution_id, root_workflow_id, step_key, session_id, user_id,
        child_index, run_timeout_seconds, initial_state, state,
        queue_name, concurrency_key, priority, idempotency_key, schedule_id, deployment_id,
        trace_context, event_cursor
    )
    SELECT id, workflow_id, 'queued', payload, 0, created_at, created_at,
           parent_execution_id, root_execution_id, root_workflow_id, step_key, session_id,
           user_id, child_index, run_timeout_seconds, state, state,
           queue_name, concurrency_key, priority, idempotency_key, schedule_id, deployment_id,
           trace_context,
           -- the run's waits see events published from now on (docs/durability.md)
           (SELECT COALESCE(max(seq), 0) FROM events)
    FROM new ORDER BY position
    ON CONFLICT DO NOTHING
    RETURNING id, created_at
), logged AS (
    INSERT INTO history (execution_id, at, event, attempt, detail)
    SELECT id, created_at, 'created', 0, NULL FROM created
)
SELECT n.id, n.idempotency_key, EXISTS (SELECT 1 FROM created c WHERE c.id = n.id) AS inserted,
       (SELECT pg_notify($21, 'q') WHERE EXISTS (SELECT 1 FROM created)) AS notified
FROM new n
ORDER BY n.position

-- name: insert_executions_claimed
-- insert_executions, where the runs $22 marks may start at once on the
-- worker $23 (eager start, see polos.store.eager): such a run is inserted
-- running under that worker's lease, attempt 1, with a "claimed" history
-- entry after its "created" one, as claim would leave it; unless its queue
-- is unknown or limited, or a run of its workflow is already queued (all
-- seen in this statement's snapshot), when it is queued as usual. Only
-- queued runs notify: nobody else has anything to claim.
WITH new AS (
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::float8[], $5::text[], $6::text[], $7::text[],
        $8::text[], $9::text[], $10::text[], $11::int[], $12::float8[], $13::text[],
        $14::text[], $15::text[], $16::int[], $17::text[], $18::text[], $19::text[],
        $20::text[], $22::boolean[]
    ) WITH ORDINALITY AS n(
        id, workflow_id, payload, created_at, parent_execution_id, root_execution_id,
        root_workflow_id, step_key, session_id, user_id, child_index, run_timeout_seconds,
        state, queue_name, concurrency_key, priority, idempotency_key, schedule_id,
        deployment_id, trace_context, eager, position
    )
), taken AS (
    SELECT n.id AS taken_id FROM new n
    WHERE n.eager AND n.queue_name <> ''
      AND NOT EXISTS (SELECT 1 FROM queues q WHERE q.name = n.queue_name
                      AND (q.concurrency_limit IS NOT NULL OR q.rate_limit IS NOT NULL))
      AND NOT EXISTS (SELECT 1 FROM executions x
                      WHERE x.workflow_id = n.workflow_id AND x.status = 'queued')
), created AS (
    INSERT INTO executions (
        id, workflow_id, status, payload, attempt, created_at, updated_at,
        parent_execution_id, root_execution_id, root_workflow_id, step_key, session_id, user_id,
        child_index, run_timeout_seconds, initial_state, state,
        queue_name, concurrency_key, priority, idempotency_key, schedule_id, deployment_id,
        trace_context, event_cursor, owner, lease_expires_at, started_at, deadline_at
    )
    SELECT n.id, n.workflow_id, CASE WHEN t.taken_id IS NULL THEN 'queued' ELSE 'running' END,
           n.payload, CASE WHEN t.taken_id IS NULL THEN 0 ELSE 1 END, n.created_at,
           CASE WHEN t.taken_id IS NULL THEN n.created_at ELSE $25::float8 END,
           n.parent_execution_id, n.root_execution_id, n.root_workflow_id, n.step_key,
           n.session_id, n.user_id, n.child_index, n.run_timeout_seconds, n.state, n.state,
           n.queue_name, n.concurrency_key, n.priority, n.idempotency_key, n.schedule_id,
           CASE WHEN t.taken_id IS NULL THEN n.deployment_id
                ELSE COALESCE(n.deployment_id, $27::text) END,
           n.trace_context,
           -- the run's waits see events published from now on (docs/durability.md)
           (SELECT COALESCE(max(seq), 0) FROM events),
           CASE WHEN t.taken_id IS NOT NULL THEN $23::text END,
           CASE WHEN t.taken_id IS NOT NULL THEN $24::float8 END,
           CASE WHEN t.taken_id IS NOT NULL THEN GREATEST($25::float8, n.created_at) END,
           CASE WHEN t.taken_id IS NOT NULL THEN $25::float8 + n.run_timeout_seconds END
    FROM new n LEFT JOIN taken t ON t.taken_id = n.id
    ORDER BY n.position
    ON CONFLICT DO NOTHING
    RETURNING EXECUTION_COLUMNS, event_cursor
), logged AS (
    INSERT INTO history (execution_id, at, event, attempt, detail)
    SELECT id, created_at, 'created', 0, NULL FROM created
    UNION ALL
    SELECT id, $25::float8, 'claimed', 1, $26::text FROM created WHERE status = 'running'
)
SELECT c.*, n.id AS new_id, n.idempotency_key AS new_key, c.id IS NOT NULL AS inserted,
       (SELECT pg_notify($21, 'q')
        WHERE EXISTS (SELECT 1 FROM created WHERE status = 'queued')) AS notified
FROM new n LEFT JOIN created c ON c.id = n.id
ORDER BY n.position

-- name: taken_earlier
-- After a dropped connection: the runs of $1 an earlier try of this very
-- eager start inserted running for worker $2.
SELECT EXECUTION_COLUMNS, event_cursor FROM executions
WHERE id = ANY($1::text[]) AND status = 'running' AND owner = $2 AND attempt = 1

-- name: executions_by_idempotency_key
SELECT idempotency_key, id FROM executions WHERE idempotency_key = ANY($1::text[])

-- name: add_history
INSERT INTO history (execution_id, at, event, attempt, detail)
SELECT $1::text, $2::float8, $3::text, $4::int, $5::text
WHERE NOT EXISTS (
    SELECT 1 FROM history
    WHERE execution_id = $1 AND at = $2 AND event = $3 AND attempt = $4
      AND detail IS NOT DISTINCT FROM $5
)

-- name: claim
-- The common case, when no queue has a limit: one statement. SKIP LOCKED:
-- concurrent claimers pass over each other's rows instead of waiting, and
-- never take the same row. When some queue is limited this claims nothing
-- and says so (limited), and the backend admits under a lock instead.
--
-- seen_attempt is the attempt in this statement's snapshot; the steps come
-- from that snapshot too, so they are complete only if the row was not
-- claimed and requeued by someone else between the snapshot and our lock
-- (then attempt != seen_attempt + 1 and the backend reloads the steps).
-- $7 holds the queue of each workflow in $2, for executions submitted
-- without one. $8: executions the worker holds in memory, whose steps it
-- already has (the same as $9 in claim_ids).
WITH limits AS (
    SELECT EXISTS (SELECT 1 FROM queues
                   WHERE concurrency_limit IS NOT NULL OR rate_limit IS NOT NULL) AS limited
), picked AS (
    SELECT id AS picked_id FROM executions
    WHERE status = 'queued' AND workflow_id = ANY($2::text[])
      AND NOT (SELECT limited FROM limits)
      -- A run pinned to a deployment goes only to a worker serving it ($10:
      -- any deployment, $11: these); an unpinned one is stamped with $9.
      AND ($10::boolean OR deployment_id IS NULL OR deployment_id = ANY($11::text[]))
    ORDER BY priority DESC, created_at
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE executions
    SET status = 'running', owner = $1, attempt = attempt + 1, lease_expires_at = $4,
        started_at = COALESCE(started_at, GREATEST($5, created_at)), updated_at = $5,
        deadline_at = COALESCE(deadline_at, $5 + run_timeout_seconds),
        deployment_id = COALESCE(deployment_id, $9::text),
        queue_name = CASE WHEN queue_name <> '' THEN queue_name ELSE COALESCE(
            (SELECT m.queue FROM unnest($2::text[], $7::text[]) AS m(workflow, queue)
             WHERE m.workflow = workflow_id), workflow_id) END,
        event_cursor = COALESCE(event_cursor, (SELECT COALESCE(max(seq), 0) FROM events))
    FROM picked
    WHERE id = picked_id
    RETURNING EXECUTION_COLUMNS, event_cursor
), logged AS (
    INSERT INTO history (execution_id, at, event, attempt, detail)
    SELECT id, $5, 'claimed', attempt, $6 FROM claimed
)
SELECT c.*,
       (SELECT x.attempt FROM executions x WHERE x.id = c.id) AS seen_attempt,
       (SELECT array_agg((s.step_key, s.kind, s.name, s.output, s.error, s.attempt,
                          s.created_at, s.state, s.started_at))
        FROM steps s WHERE s.execution_id = c.id AND NOT c.id = ANY($8::text[])) AS steps,
       l.limited
FROM limits l LEFT JOIN claimed c ON TRUE
ORDER BY c.priority DESC, c.created_at

-- name: claim_ids
-- The admitted executions (the caller holds the admission lock).
WITH picked AS (
    SELECT id AS picked_id FROM executions
    WHERE id = ANY($6::text[]) AND status = 'queued'
    FOR UPDATE
), claimed AS (
    UPDATE executions
    SET status = 'running', owner = $1, attempt = attempt + 1, lease_expires_at = $2,
        started_at = COALESCE(started_at, GREATEST($3, created_at)), updated_at = $3,
        deadline_at = COALESCE(deadline_at, $3 + run_timeout_seconds),
        deployment_id = COALESCE(deployment_id, $10::text),
        queue_name = CASE WHEN queue_name <> '' THEN queue_name ELSE COALESCE(
            (SELECT m.queue FROM unnest($7::text[], $8::text[]) AS m(workflow, queue)
             WHERE m.workflow = workflow_id), workflow_id) END,
        event_cursor = COALESCE(event_cursor, (SELECT COALESCE(max(seq), 0) FROM events))
    FROM picked
    WHERE id = picked_id
    RETURNING EXECUTION_COLUMNS, event_cursor
), logged AS (
    INSERT INTO history (execution_id, at, event, attempt, detail)
    SELECT id, $3, 'claimed', attempt, $4 FROM claimed
)
SELECT c.*,
       (SELECT x.attempt FROM executions x WHERE x.id = c.id) AS seen_attempt,
       (SELECT array_agg((s.step_key, s.kind, s.name, s.output, s.error, s.attempt,
                          s.created_at, s.state, s.started_at))
        FROM steps s WHERE s.execution_id = c.id AND NOT c.id = ANY($9::text[])) AS steps,
       $5::boolean AS limited
FROM claimed c
ORDER BY c.priority DESC, c.created_at

-- name: lock_admission
SELECT pg_advisory_xact_lock($1)

-- name: assign_queues
UPDATE executions e SET queue_name = COALESCE(m.queue, e.workflow_id)
FROM unnest($1::text[], $2::text[]) AS m(workflow, queue)
WHERE e.status = 'queued' AND e.queue_name = '' AND e.workflow_id = m.workflow

-- name: limited_queues
SELECT name, concurrency_limit, rate_limit, rate_period, updated_at FROM queues
WHERE concurrency_limit IS NOT NULL OR rate_limit IS NOT NULL

-- name: admission_candidates
-- An execution submitted after assign_queues ran may still have no queue:
-- it is judged by the queue it is about to get ($4: each workflow's queue).
SELECT id,
       CASE WHEN queue_name <> '' THEN queue_name ELSE COALESCE(
           (SELECT m.queue FROM unnest($1::text[], $4::text[]) AS m(workflow, queue)
            WHERE m.workflow = workflow_id), workflow_id) END,
       concurrency_key, attempt
FROM executions
WHERE status = 'queued' AND workflow_id = ANY($1::text[])
  AND ($5::boolean OR deployment_id IS NULL OR deployment_id = ANY($6::text[]))
ORDER BY priority DESC, created_at
LIMIT $2 OFFSET $3

-- name: running_groups
SELECT queue_name, concurrency_key, count(*) FROM executions
WHERE status = 'running' AND queue_name = ANY($1::text[])
GROUP BY queue_name, concurrency_key

-- name: recent_starts
SELECT concurrency_key, count(*) FROM queue_starts
WHERE queue_name = $1 AND started_at > $2
GROUP BY concurrency_key

-- name: prune_queue_starts
DELETE FROM queue_starts WHERE queue_name = $1 AND started_at <= $2

-- name: insert_queue_starts
INSERT INTO queue_starts (queue_name, concurrency_key, started_at)
SELECT q, k, $3 FROM unnest($1::text[], $2::text[]) AS s(q, k)

-- name: claimed_earlier
-- After a dropped connection: the executions an earlier try of this very
-- claim (same worker, same "now") moved to running.
SELECT EXECUTION_COLUMNS, event_cursor
FROM executions
WHERE status = 'running' AND owner = $1 AND updated_at = $2
ORDER BY created_at

-- name: steps_of_many
SELECT STEP_COLUMNS FROM steps WHERE execution_id = ANY($1::text[])

-- name: heartbeat
-- Renews only the leases the worker still runs, so an execution whose task
-- died inside a live worker is recovered when its lease runs out. A row
-- another transaction holds locked right now (a step being recorded for that
-- run, a batch finishing it) is skipped, not waited for: a heartbeat renewing
-- a thousand leases that waited on each lock kept every lease it had renewed
-- so far locked meanwhile, so each transaction touching one of those runs
-- queued behind it, and where lock orders differed they deadlocked until the
-- detector broke the tie a second later. Every lease not renewed comes back,
-- with whether it is lost (no longer this worker's running attempt, as last
-- committed) or only busy (the caller renews it again: heartbeat_waiting).
WITH alive AS (
    UPDATE workers SET heartbeat_at = $2 WHERE worker_id = $1
), free AS (
    SELECT e.id FROM executions e
    JOIN unnest($4::text[], $5::int[]) AS held(id, attempt)
      ON e.id = held.id AND e.attempt = held.attempt
    WHERE e.status = 'running' AND e.owner = $1
    FOR UPDATE OF e SKIP LOCKED
), renewed AS (
    UPDATE executions e SET lease_expires_at = $3
    FROM free WHERE e.id = free.id
    RETURNING e.id
)
SELECT held.id, NOT EXISTS (
    SELECT 1 FROM executions e
    WHERE e.id = held.id AND e.attempt = held.attempt AND e.status = 'running' AND e.owner = $1
) AS lost
FROM unnest($4::text[], $5::int[]) AS held(id, attempt)
WHERE held.id NOT IN (SELECT id FROM renewed)

-- name: heartbeat_waiting
-- The leases heartbeat found busy: waits for their locks, taken in id order
-- (as batches of finishes take theirs) so it cannot deadlock with them.
-- Returns the ids lost meanwhile.
WITH locked AS (
    SELECT e.id FROM executions e
    JOIN unnest($2::text[], $3::int[]) AS held(id, attempt)
      ON e.id = held.id AND e.attempt = held.attempt
    WHERE e.status = 'running' AND e.owner = $1
    ORDER BY e.id
    FOR UPDATE OF e
), renewed AS (
    UPDATE executions e SET lease_expires_at = $4
    FROM locked WHERE e.id = locked.id
    RETURNING e.id
)
SELECT held.id FROM unnest($2::text[]) AS held(id)
WHERE held.id NOT IN (SELECT id FROM renewed)

-- name: release_execution
WITH released AS (
    UPDATE executions
    SET status = 'queued', owner = NULL, lease_expires_at = NULL, updated_at = $3
    WHERE id = $1 AND attempt = $2 AND status = 'running'
    RETURNING id
), logged AS (
    INSERT INTO history (execution_id, at, event, attempt, detail)
    SELECT id, $3, 'released', $2, NULL FROM released
)
SELECT EXISTS (SELECT 1 FROM released)
       OR EXISTS (SELECT 1 FROM history
                  WHERE execution_id = $1 AND event = 'released' AND attempt = $2) AS released,
       (SELECT pg_notify($4, 'q') WHERE EXISTS (SELECT 1 FROM released)) AS notified

-- name: requeue_expired
WITH expired AS (
    SELECT id AS expired_id, owner AS old_owner FROM executions
    WHERE status = 'running' AND lease_expires_at < $1
    FOR UPDATE SKIP LOCKED
), requeued AS (
    UPDATE executions
    SET status = 'queued', owner = NULL, lease_expires_at = NULL, updated_at = $1
    FROM expired
    WHERE id = expired_id
    RETURNING id, attempt, old_owner
), logged AS (
    INSERT INTO history (execution_id, at, event, attempt, detail)
    SELECT id, $1, 'lease_expired', attempt, jsonb_build_object('owner', old_owner)::text
    FROM requeued
)
SELECT (SELECT count(*) FROM requeued) AS requeued,
       (SELECT pg_notify($2, 'q') WHERE EXISTS (SELECT 1 FROM requeued)) AS notified

-- name: requeue_worker
WITH requeued AS (
    UPDATE executions
    SET status = 'queued', owner = NULL, lease_expires_at = NULL, updated_at = $1
    WHERE status = 'running' AND owner = $2
    RETURNING id, attempt
), logged AS (
    INSERT INTO history (execution_id, at, event, attempt, detail)
    SELECT id, $1, 'owner_died', attempt, $3 FROM requeued
), forgotten AS (
    DELETE FROM workers WHERE worker_id = $2
)
SELECT (SELECT count(*) FROM requeued) AS requeued,
       (SELECT pg_notify($4, 'q') WHERE EXISTS (SELECT 1 FROM requeued)) AS notified

-- name: runs_held_by
-- On the partial index executions_owner (owner WHERE status = 'running').
SELECT id, owner, attempt FROM executions
WHERE status = 'running' AND owner = ANY($1::text[])

-- name: record_step
-- FOR SHARE holds the execution row until commit: a concurrent requeue,
-- cancel or take-over waits for this insert, or this insert sees the new
-- owner and records nothing. A plain EXISTS would read a snapshot and let a
-- zombie record a step just after its lease was taken over.
WITH recorded AS (
    INSERT INTO steps (
        execution_id, step_key, kind, name, output, error, attempt, created_at, state, started_at
    )
    SELECT e.id, $2, $3, $4, $5, $6, e.attempt, $8, $9, $10
    FROM executions e
    WHERE e.id = $1 AND e.attempt = $7 AND e.status = 'running'
    FOR SHARE
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM recorded)
       OR EXISTS (SELECT 1 FROM steps WHERE execution_id = $1 AND step_key = $2 AND attempt = $7)

-- name: record_step_insert
-- record_step's common case, cheaper for the server: a plain INSERT (no
-- ON CONFLICT, no CTE), same FOR SHARE fencing. One row if recorded, none
-- if fenced off; a step already recorded raises unique_violation (nothing
-- written). In either of those cases the caller sends record_step, which
-- tells whether this attempt's step is already there.
INSERT INTO steps (
    execution_id, step_key, kind, name, output, error, attempt, created_at, state, started_at
)
SELECT e.id, $2, $3, $4, $5, $6, e.attempt, $8, $9, $10
FROM executions e
WHERE e.id = $1 AND e.attempt = $7 AND e.status = 'running'
FOR SHARE
RETURNING 1

-- name: begin_wait
-- Parks on a timer, an event (topic, cursor), a suspend (data) or children
-- (pending count); state, when given, is the workflow state to show.
WITH parked AS (
    UPDATE executions
    SET status = 'waiting', owner = NULL, lease_expires_at = NULL,
        wait_step_key = $3, wait_kind = $4, wake_at = $5, wait_topic = $6, wait_cursor = $7,
        wait_data = $8, pending_children = $9, state = COALESCE($10, state), updated_at = $11
    WHERE id = $1 AND attempt = $2 AND status = 'running'
    RETURNING id
), logged AS (
    INSERT INTO history (execution_id, at, event, attempt, detail)
    SELECT id, $11, 'waiting', $2, $12 FROM parked
)
SELECT EXISTS (SELECT 1 FROM parked)
       OR EXISTS (SELECT 1 FROM executions
                  WHERE id = $1 AND attempt = $2 AND status = 'waiting' AND wait_step_key = $3)
       AS parked,
       (SELECT pg_notify($13, 't')
        WHERE $5::float8 IS NOT NULL AND EXISTS (SELECT 1 FROM parked)) AS notified

-- name: begin_waits
-- begin_wait for many executions in one statement (group commit): parallel
-- arrays, one park per position, n its (1-based) position, each fenced by its
-- own attempt. Timers and suspends only (an event wait or a children wait
-- parks inside a transaction of its own). The caller never sends one
-- execution twice. pg_notify sends identical notifications once per commit.
WITH w AS (
    SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::float8[],
                         $6::text[], $7::float8[], $8::text[])
         WITH ORDINALITY AS w(id, attempt, step_key, kind, wake_at, state, now, detail, n)
), parked AS (
    UPDATE executions e
    SET status = 'waiting', owner = NULL, lease_expires_at = NULL,
        wait_step_key = w.step_key, wait_kind = w.kind, wake_at = w.wake_at,
        wait_topic = NULL, wait_cursor = NULL, wait_data = NULL, pending_children = 0,
        state = COALESCE(w.state, e.state), updated_at = w.now
    FROM w
    WHERE e.id = w.id AND e.attempt = w.attempt AND e.status = 'running'
    RETURNING w.n
), logged AS (
    INSERT INTO history (execution_id, at, event, attempt, detail)
    SELECT w.id, w.now, 'waiting', w.attempt, w.detail FROM w JOIN parked p ON p.n = w.n
)
SELECT w.n,
       EXISTS (SELECT 1 FROM parked p WHERE p.n = w.n)
       OR EXISTS (SELECT 1 FROM executions x
                  WHERE x.id = w.id AND x.attempt = w.attempt AND x.status = 'waiting'
                    AND x.wait_step_key = w.step_key) AS parked,
       (SELECT pg_notify($9, 't')
        WHERE w.wake_at IS NOT NULL AND EXISTS (SELECT 1 FROM parked p WHERE p.n = w.n))
       AS notified
FROM w

-- name: finish
SELECT polos_finish($1, $2, $3, $4, $5, $6, $7)

-- name: finish_many
-- finish for many executions in one statement (group commit); parallel arrays,
-- one execution per position, n its (1-based) position. Each polos_finish
-- runs its own queries with a fresh snapshot, so siblings ending in one batch
-- count their parent down one after the other, as separate statements would.
SELECT f.n, polos_finish(f.id, f.attempt, f.status, f.value, f.state, f.now, $7) AS outcome
FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::float8[])
     WITH ORDINALITY AS f(id, attempt, status, value, state, now, n)

-- name: finish_resume_many
-- finish_many, where a run ending may come with the claim of a worker that
-- holds its parent in memory ($7: a JSON array of such parents, [] for
-- none): the parent whose wait that ending resolves is then claimed for the
-- worker in the same transaction (polos_finish_resume; see
-- Store.complete_and_resume). Each call runs in input order with fresh
-- snapshots, as in finish_many. The taken parent's columns come from the
-- function's result, not from a fresh read: this statement's snapshot
-- predates the function's writes; all NULL when nothing was taken. So do
-- the taken parent's wait outcome (ts_*, see migration 0026).
SELECT EXECUTION_COLUMNS, event_cursor, r.outcome, f.f_n AS n,
       (r.taken_step).step_key AS ts_key, (r.taken_step).kind AS ts_kind,
       (r.taken_step).name AS ts_name, (r.taken_step).output AS ts_output,
       (r.taken_step).error AS ts_error, (r.taken_step).attempt AS ts_attempt,
       (r.taken_step).created_at AS ts_at, (r.taken_step).state AS ts_state,
       (r.taken_step).started_at AS ts_started
FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::float8[],
            $7::text[], $8::text[], $9::float8[], $10::float8[], $11::text[], $12::text[])
     WITH ORDINALITY AS f(f_id, f_attempt, f_status, f_value, f_state, f_now, f_parents,
                          f_owner, f_claim_now, f_lease_until, f_detail, f_deployment, f_n),
     LATERAL polos_finish_resume(
         f.f_id, f.f_attempt, f.f_status, f.f_value, f.f_state, f.f_now, $13,
         ARRAY(SELECT json_array_elements_text(f.f_parents::json)), f.f_owner, f.f_claim_now,
         f.f_lease_until, f.f_detail, f.f_deployment) AS r,
     LATERAL (SELECT (r.taken).*) AS t
ORDER BY f.f_n

-- name: start_children
-- start_children for many parents in one call (group commit): see
-- polos_start_children. One row per parent (n, outcome, refused; the
-- execution columns all NULL), then one per child it took at once.
SELECT EXECUTION_COLUMNS, event_cursor, r.o_n AS n, r.o_outcome AS outcome,
       r.o_refused AS refused
FROM polos_start_children(
         $1::text[], $2::int[], $3::text[], $4::boolean[], $5::text[], $6::float8[],
         $7::text[], $8::float8[], $9::text[], $10::text[], $11::float8[], $12::float8[],
         $13::text[], $14::text[], $15::int[], $16::int[],
         $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::float8[],
         $23::text[], $24::float8[],
         $25::text[], $26::text[], $27::text[], $28::float8[], $29::text[], $30::text[],
         $31::text[], $32::text[], $33::text[], $34::text[], $35::int[], $36::float8[],
         $37::text[], $38::text[], $39::text[], $40::int[], $41::text[], $42::text[],
         $43::text[], $44::text[], $45::boolean[], $46::text, $47::boolean)
     WITH ORDINALITY AS r(o_n, o_outcome, o_refused, o_taken, k),
     LATERAL (SELECT (r.o_taken).*) AS t
ORDER BY r.k

-- name: resumed_earlier
-- After a dropped connection: the parent of $1 an earlier try of this very
-- finish_resume_many claimed for worker $2 (its "claimed" entry at $3, detail $4).
SELECT EXECUTION_COLUMNS, event_cursor FROM executions e
WHERE e.id = ANY($1::text[]) AND e.status = 'running' AND e.owner = $2
  AND EXISTS (SELECT 1 FROM history h
              WHERE h.execution_id = e.id AND h.event = 'claimed' AND h.attempt = e.attempt
                AND h.at = $3 AND h.detail = $4)

-- name: fence
-- Inside a multi-statement transaction: hold the running execution still.
SELECT 1 FROM executions WHERE id = $1 AND attempt = $2 AND status = 'running' FOR UPDATE

-- name: waits_on
-- Whether an earlier try already parked this attempt on this step.
SELECT EXISTS (SELECT 1 FROM executions
               WHERE id = $1 AND attempt = $2 AND status = 'waiting' AND wait_step_key = $3)

-- name: step_of_attempt
SELECT output FROM steps WHERE execution_id = $1 AND step_key = $2 AND attempt = $3

-- name: insert_step
INSERT INTO steps (execution_id, step_key, kind, name, output, error, attempt, created_at)
VALUES ($1, $2, $3, '', $4, $5, $6, $7)
ON CONFLICT DO NOTHING

-- name: lock_events
-- Publishers exclusive, event waiters shared: a wait's check-then-park and a
-- publish's insert-then-resolve never interleave, and seq order is commit order.
SELECT pg_advisory_xact_lock($1)

-- name: lock_events_shared
SELECT pg_advisory_xact_lock_shared($1)

-- name: insert_event
INSERT INTO events (id, topic, event_type, data, created_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO NOTHING
RETURNING seq, id, topic, event_type, data, created_at

-- name: event_by_id
SELECT seq, id, topic, event_type, data, created_at FROM events WHERE id = $1

-- name: event_waiters
SELECT id, wait_step_key, wait_kind, attempt, wait_topic, wait_cursor FROM executions
WHERE status = 'waiting' AND wait_topic = ANY($1::text[])
ORDER BY id
FOR UPDATE

-- name: resolve_waits
-- Parallel arrays, one wait per position; returns how many were resolved.
WITH resolved AS (
    SELECT count(*) AS n
    FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[])
         AS w(id, step_key, kind, attempt, output, error, by_what)
    WHERE polos_resolve_wait(w.id, w.step_key, w.kind, w.attempt, $8, w.output, w.error, w.by_what)
)
SELECT n AS resolved, (SELECT pg_notify($9, 'q') WHERE n > 0) AS notified FROM resolved

-- name: first_event_after
SELECT seq, id, topic, event_type, data, created_at FROM events
WHERE topic = $1 AND seq > $2 ORDER BY seq LIMIT 1

-- name: read_events
SELECT seq, id, topic, event_type, data, created_at FROM events
WHERE topic = $1 AND seq > $2 ORDER BY seq LIMIT $3

-- name: topic_position
SELECT COALESCE(max(seq), 0) FROM events
WHERE topic = $1 AND ($2::double precision IS NULL OR seq < COALESCE(
    (SELECT min(seq) FROM events WHERE topic = $1 AND created_at > $2::double precision),
    9223372036854775807))

-- name: list_topics
SELECT topic, count(*), max(seq), max(created_at) FROM events
GROUP BY topic ORDER BY max(seq) DESC LIMIT $1

-- name: notify
SELECT pg_notify($1, $2)

-- name: due_waits
SELECT id, wait_step_key, wait_kind, attempt FROM executions
WHERE status = 'waiting' AND wake_at <= $1

-- name: next_timer_at
SELECT least(
    (SELECT min(wake_at) FROM executions WHERE status = 'waiting' AND wake_at IS NOT NULL),
    (SELECT min(deadline_at) FROM executions
     WHERE deadline_at IS NOT NULL AND status IN ('queued', 'running', 'waiting')),
    (SELECT min(next_fire_at) FROM schedules)
)

-- name: due_deadlines
SELECT id, run_timeout_seconds FROM executions
WHERE deadline_at <= $1 AND status IN ('queued', 'running', 'waiting')

-- name: end_tree
SELECT polos_end_tree($1, $2, $3, $4, $5, $6, $7)

-- name: list_waits
SELECT EXECUTION_COLUMNS FROM executions
WHERE status = 'waiting' AND wait_kind = $1 AND ($2::text IS NULL OR workflow_id = $2)
ORDER BY updated_at

-- name: upsert_schedule
-- An unchanged cron (and time zone) keeps its next tick.
WITH saved AS (
    INSERT INTO schedules AS s (
        schedule_id, workflow_id, key, cron, timezone, next_fire_at, last_fire_at,
        created_at, updated_at
    ) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8)
    ON CONFLICT (schedule_id) DO UPDATE SET
        cron = excluded.cron, timezone = excluded.timezone, updated_at = excluded.updated_at,
        next_fire_at = CASE
            WHEN s.cron = excluded.cron AND s.timezone = excluded.timezone
            THEN s.next_fire_at ELSE excluded.next_fire_at END
    RETURNING schedule_id, workflow_id, key, cron, timezone, next_fire_at, last_fire_at,
              created_at, updated_at
)
SELECT saved.*, (SELECT pg_notify($9, 't')) AS notified FROM saved

-- name: list_schedules
SELECT schedule_id, workflow_id, key, cron, timezone, next_fire_at, last_fire_at, created_at,
       updated_at
FROM schedules WHERE ($1::text IS NULL OR workflow_id = $1) ORDER BY workflow_id, key

-- name: delete_schedule
DELETE FROM schedules WHERE schedule_id = $1

-- name: due_schedules
SELECT schedule_id, workflow_id, key, cron, timezone, next_fire_at, last_fire_at, created_at,
       updated_at
FROM schedules WHERE next_fire_at <= $1 ORDER BY next_fire_at

-- name: advance_schedule
UPDATE schedules SET next_fire_at = $1, last_fire_at = $2, updated_at = $3
WHERE schedule_id = $4 AND next_fire_at = $5

-- name: upsert_trigger
-- A new trigger starts after the last event published so far.
INSERT INTO triggers (workflow_id, topic, batch_size, batch_timeout_seconds, cursor, updated_at)
VALUES ($1, $2, $3, $4, (SELECT COALESCE(max(seq), 0) FROM events), $5)
ON CONFLICT (workflow_id, topic) DO UPDATE SET
    batch_size = excluded.batch_size, batch_timeout_seconds = excluded.batch_timeout_seconds,
    updated_at = excluded.updated_at

-- name: active_run_of_schedule
SELECT EXISTS (SELECT 1 FROM executions
               WHERE schedule_id = $1 AND status IN ('queued', 'running', 'waiting'))

-- name: upsert_queue
INSERT INTO queues (name, concurrency_limit, rate_limit, rate_period, updated_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (name) DO UPDATE SET
    concurrency_limit = excluded.concurrency_limit, rate_limit = excluded.rate_limit,
    rate_period = excluded.rate_period, updated_at = excluded.updated_at

-- name: list_queues
SELECT name, concurrency_limit, rate_limit, rate_period, updated_at FROM queues ORDER BY name

-- name: queue_counts
-- One pass over the active runs, grouped per queue and key; from that, each
-- queue's totals with its number of keys (key NULL), then the first
-- parameter's number of keys of each queue, those with the most active runs
-- (none, and no sort, when it is 0). The keys sort bytewise ("C"): a
-- locale's collation made the sort of a hundred thousand keys twice as slow.
WITH per_key AS MATERIALIZED (
    SELECT queue_name, concurrency_key,
        count(*) FILTER (WHERE status = 'queued') AS queued,
        count(*) FILTER (WHERE status = 'running') AS running,
        count(*) FILTER (WHERE status = 'waiting') AS waiting
    FROM executions WHERE status IN ('queued', 'running', 'waiting')
    GROUP BY queue_name, concurrency_key
)
SELECT queue_name, NULL, sum(queued)::bigint, sum(running)::bigint, sum(waiting)::bigint, count(*)
FROM per_key GROUP BY queue_name
UNION ALL
SELECT queue_name, concurrency_key, queued, running, waiting, NULL FROM (
    SELECT per_key.*, row_number() OVER (
        PARTITION BY queue_name COLLATE "C"
        ORDER BY queued + running + waiting DESC, concurrency_key COLLATE "C"
    ) AS place
    FROM per_key WHERE $1::bigint > 0
) ranked WHERE place <= $1::bigint

-- name: list_triggers
SELECT workflow_id, topic, batch_size, batch_timeout_seconds, cursor, updated_at FROM triggers

-- name: advance_trigger
UPDATE triggers SET cursor = $1, updated_at = $2
WHERE workflow_id = $3 AND topic = $4 AND cursor = $5

-- name: upsert_worker
INSERT INTO workers (worker_id, hostname, pid, started_at, heartbeat_at, deployment_id, serve_deployments,
    push_url, capacity, serves, online)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,
    push_url = excluded.push_url, capacity = excluded.capacity, serves = excluded.serves,
    online = excluded.online

-- name: delete_worker
DELETE FROM workers WHERE worker_id = $1

-- name: set_result_schema
UPDATE executions SET output_schema_name = $1
WHERE id = $2 AND attempt = $3 AND status = 'running'

-- name: list_workers
SELECT worker_id, hostname, pid, started_at, heartbeat_at, deployment_id, serve_deployments,
    push_url, capacity, serves, online
FROM workers ORDER BY started_at

-- name: get_execution
SELECT EXECUTION_COLUMNS FROM executions WHERE id = $1

-- name: get_executions
-- get_execution for many ids at once (reads asked for in the same moment,
-- e.g. many callers waiting for their runs' results): one round trip.
SELECT EXECUTION_COLUMNS FROM executions WHERE id = ANY($1::text[])

-- name: ended_among
-- Which of the runs $1 have ended (one poll for many waiters).
SELECT id FROM executions
WHERE id = ANY($1::text[]) AND status IN ('completed', 'failed', 'cancelled')

-- name: find_execution_ids
-- In any collation a string sorts at or after its own prefix, so the primary key
-- is read from $1 on; starts_with keeps the test exact (no LIKE wildcards).
SELECT id FROM executions
WHERE id >= $1 AND starts_with(id, $1)
ORDER BY id LIMIT $2

-- name: list_steps
SELECT STEP_COLUMNS FROM steps WHERE execution_id = $1 ORDER BY created_at, step_key

-- name: list_history
SELECT execution_id, seq, at, event, attempt, detail
FROM history WHERE execution_id = $1 ORDER BY seq

-- name: list_executions
-- LIST_FILTERS: the conditions of the filters given, ANDed (store/listing.py),
-- so that each combination is planned for its own index.
SELECT EXECUTION_COLUMNS FROM executions
WHERE LIST_FILTERS
ORDER BY created_at DESC, id DESC
LIMIT LIST_LIMIT OFFSET LIST_OFFSET

-- name: list_run_tree
SELECT EXECUTION_COLUMNS FROM executions WHERE id = $1
UNION ALL
SELECT EXECUTION_COLUMNS FROM executions WHERE root_execution_id = $1 AND id <> root_execution_id
ORDER BY created_at

-- name: get_step
SELECT STEP_COLUMNS FROM steps WHERE execution_id = $1 AND step_key = $2

-- name: get_steps
-- get_step for many (run, key) pairs at once (held runs taken back together
-- each read the step that ended their wait): one round trip.
SELECT STEP_COLUMNS FROM steps
WHERE (execution_id, step_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))

-- name: upsert_workflows
INSERT INTO workflows (workflow_id, queue_name, workflow_type, deployment_id, definition, updated_at, created_at)
SELECT w, q, k, d, f, $6, $6
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t(w, q, k, d, f)
ON CONFLICT (workflow_id) DO UPDATE SET queue_name = excluded.queue_name,
    workflow_type = excluded.workflow_type, deployment_id = excluded.deployment_id,
    -- A registration that says nothing of the definition (an SDK worker's
    -- deployment-workflow call after its agents/register) keeps the one known.
    definition = COALESCE(excluded.definition, workflows.definition),
    updated_at = excluded.updated_at

-- name: known_workflows
SELECT workflow_id FROM workflows WHERE workflow_id = ANY($1::text[])

-- name: all_workflows
SELECT workflow_id FROM workflows ORDER BY workflow_id

-- name: served_workflows
SELECT workflow_id, queue_name, workflow_type, deployment_id, definition, updated_at,
    COALESCE(created_at, updated_at)
FROM workflows ORDER BY workflow_id

-- name: record_steps
-- record_step for many executions at once (group commit: one round trip and
-- one WAL flush for every step recorded in the same moment). Same fencing:
-- FOR SHARE on each execution row; ok tells each row's fate.
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::int[], $8::float8[], $9::text[], $10::float8[]) WITH ORDINALITY
        AS t(execution_id, step_key, kind, name, output, error, attempt, created_at, state,
             started_at, n)
), fenced AS (
    SELECT i.* FROM input i
    JOIN executions e ON e.id = i.execution_id AND e.attempt = i.attempt AND e.status = 'running'
    FOR SHARE OF e
), recorded AS (
    INSERT INTO steps (
        execution_id, step_key, kind, name, output, error, attempt, created_at, state, started_at
    )
    SELECT execution_id, step_key, kind, name, output, error, attempt, created_at, state,
        started_at
    FROM fenced
    ON CONFLICT DO NOTHING
    RETURNING execution_id, step_key
)
SELECT i.execution_id, i.step_key,
       EXISTS (SELECT 1 FROM recorded r
               WHERE r.execution_id = i.execution_id AND r.step_key = i.step_key)
       OR EXISTS (SELECT 1 FROM steps s WHERE s.execution_id = i.execution_id
                  AND s.step_key = i.step_key AND s.attempt = i.attempt) AS ok
FROM input i
ORDER BY i.n

-- name: record_steps_and_finish
-- record_steps ($1-$10) and finish_many ($11-$16, channel $17) in one
-- statement and one commit: a group commit batch holding step records of
-- some runs and the ends of others (never one run in both halves, so the
-- two never touch the same execution row). Each step is fenced by FOR SHARE
-- and each end by its own attempt, as in the two statements. One row per
-- input: part 's' or 'f', n its 1-based position in that half, outcome 1
-- for a step recorded (0 fenced off) or polos_finish's result.
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::int[], $8::float8[], $9::text[], $10::float8[]) WITH ORDINALITY
        AS t(execution_id, step_key, kind, name, output, error, attempt, created_at, state,
             started_at, n)
), fenced AS (
    SELECT i.* FROM input i
    JOIN executions e ON e.id = i.execution_id AND e.attempt = i.attempt AND e.status = 'running'
    FOR SHARE OF e
), recorded AS (
    INSERT INTO steps (
        execution_id, step_key, kind, name, output, error, attempt, created_at, state, started_at
    )
    SELECT execution_id, step_key, kind, name, output, error, attempt, created_at, state,
        started_at
    FROM fenced
    ON CONFLICT DO NOTHING
    RETURNING execution_id, step_key
)
SELECT 's' AS part, i.n,
       (EXISTS (SELECT 1 FROM recorded r
                WHERE r.execution_id = i.execution_id AND r.step_key = i.step_key)
        OR EXISTS (SELECT 1 FROM steps s WHERE s.execution_id = i.execution_id
                   AND s.step_key = i.step_key AND s.attempt = i.attempt))::int AS outcome
FROM input i
UNION ALL
SELECT 'f', f.n, polos_finish(f.id, f.attempt, f.status, f.value, f.state, f.now, $17)
FROM unnest($11::text[], $12::int[], $13::text[], $14::text[], $15::text[], $16::float8[])
     WITH ORDINALITY AS f(id, attempt, status, value, state, now, n)

-- name: insert_api_key
INSERT INTO api_keys (key_id, project_id, name, key_hash, created_at, revoked_at)
VALUES ($1, $2, $3, $4, $5, $6)

-- name: list_api_keys
SELECT key_id, project_id, name, key_hash, created_at, revoked_at FROM api_keys
ORDER BY created_at, key_id

-- name: find_api_key
SELECT key_id, project_id, name, key_hash, created_at, revoked_at FROM api_keys
WHERE key_hash = $1

-- name: revoke_api_key
UPDATE api_keys SET revoked_at = $1 WHERE key_id = $2 AND revoked_at IS NULL

-- name: any_api_key
SELECT EXISTS (SELECT 1 FROM api_keys)

-- name: pg_retry_lock_root
-- Retry holds the run's root first: a purge takes roots FOR UPDATE SKIP LOCKED,
-- so it leaves alone a tree one of whose runs is being retried (it would
-- otherwise delete a child re-queued after the purge's snapshot was taken).
SELECT 1 FROM executions
WHERE id = (SELECT COALESCE(root_execution_id, id) FROM executions WHERE id = $1)
FOR UPDATE

-- name: pg_retry_begin
-- Retry and fork (see polos/store/retries.py): the run, held still.
SELECT EXECUTION_COLUMNS FROM executions WHERE id = $1 FOR UPDATE

-- name: retry_delete_steps
DELETE FROM steps WHERE execution_id = $1 AND step_key = ANY($2::text[])

-- name: retry_children_of
SELECT id, step_key, status FROM executions
WHERE parent_execution_id = $1 AND step_key IS NOT NULL
ORDER BY created_at, child_index, id

-- name: retry_children_of_step
SELECT id, workflow_id, status, result, error FROM executions
WHERE parent_execution_id = $1 AND step_key = $2
ORDER BY child_index

-- name: retry_execution
UPDATE executions
SET status = $2, wait_step_key = $3, wait_kind = $4, pending_children = $5, error = NULL,
    result = NULL, owner = NULL, lease_expires_at = NULL, wake_at = NULL, wait_topic = NULL,
    wait_cursor = NULL, wait_data = NULL, deadline_at = NULL, completed_at = NULL, updated_at = $6
WHERE id = $1 AND status IN ('failed', 'cancelled')

-- name: retry_count_again_in_parent
UPDATE executions SET pending_children = pending_children + 1
WHERE id = $1 AND status = 'waiting' AND wait_kind = 'children' AND wait_step_key = $2

-- name: retry_done_at
-- Whether an earlier try of this retry committed (the connection was lost after).
SELECT EXISTS (SELECT 1 FROM history WHERE execution_id = $1 AND event = 'retried' AND at = $2)

-- name: fork_mark
-- A fork starts at attempt 1: its copied steps are an earlier attempt's work.
UPDATE executions SET attempt = 1 WHERE id = $1 AND attempt = 0

-- name: fork_copy_steps
INSERT INTO steps (
    execution_id, step_key, kind, name, output, error, attempt, created_at, state, started_at
)
SELECT $1, step_key, kind, name, output, error, attempt, created_at, state, started_at
FROM steps WHERE execution_id = $2 AND step_key = ANY($3::text[])
ON CONFLICT DO NOTHING

-- name: list_failed
SELECT EXECUTION_COLUMNS FROM executions
WHERE status = 'failed' AND ($1::text IS NULL OR workflow_id = $1)
  AND ($2::float8 IS NULL OR completed_at >= $2) AND ($3::float8 IS NULL OR completed_at < $3)
  AND ($4::text IS NULL OR strpos(error, $4) > 0)
ORDER BY completed_at, id
LIMIT $5
-- END retry
