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

-- name: insert_execution
WITH created AS (
    INSERT INTO executions (
        id, workflow_id, status, payload, attempt, created_at, updated_at,
        parent_execution_id, root_execution_id, root_workflow_id, step_key, session_id, user_id
    ) VALUES ($1, $2, 'queued', $3, 0, $4, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), logged AS (
    INSERT INTO history (execution_id, at, event, attempt, detail)
    SELECT id, $4, 'created', 0, NULL FROM created
)
SELECT EXISTS (SELECT 1 FROM created) AS created,
       (SELECT pg_notify($11, 'q') WHERE EXISTS (SELECT 1 FROM created)) AS notified

-- name: add_history
INSERT INTO history (execution_id, at, event, attempt, detail)
SELECT $1::text, $2::float8, $3::text, $4::int, $5::text
WHERE NOT EXISTS (
    SELECT 1 FROM history
    WHERE execution_id = $1 AND at = $2 AND event = $3 AND attempt = $4
      AND detail IS NOT DISTINCT FROM $5
)

-- name: claim
-- SKIP LOCKED: concurrent claimers pass over each other's rows instead of
-- waiting, and never take the same row. seen_attempt is the attempt in this
-- statement's snapshot; the steps come from that snapshot too, so they are
-- complete only if the row was not claimed and requeued by someone else
-- between the snapshot and our lock (then attempt != seen_attempt + 1 and
-- the backend reloads the steps).
WITH picked AS (
    SELECT id AS picked_id FROM executions
    WHERE status = 'queued' AND workflow_id = ANY($2::text[])
    ORDER BY created_at
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE executions
    SET status = 'running', owner = $1, attempt = attempt + 1, lease_expires_at = $4,
        started_at = COALESCE(started_at, $5), updated_at = $5
    FROM picked
    WHERE id = picked_id
    RETURNING EXECUTION_COLUMNS
), logged AS (
    INSERT INTO history (execution_id, at, event, attempt, detail)
    SELECT id, $5, 'claimed', attempt, $6 FROM claimed
)
SELECT c.*,
       (SELECT x.attempt FROM executions x WHERE x.id = c.id) AS seen_attempt,
       (SELECT array_agg((s.step_key, s.kind, s.name, s.output, s.error, s.attempt, s.created_at))
        FROM steps s WHERE s.execution_id = c.id) AS steps
FROM claimed c
ORDER BY c.created_at

-- name: claimed_earlier
-- After a dropped connection: the executions an earlier try of this very
-- claim (same worker, same "now") moved to running.
SELECT EXECUTION_COLUMNS FROM executions
WHERE status = 'running' AND owner = $1 AND updated_at = $2
ORDER BY created_at

-- name: steps_of_many
SELECT step_key, kind, name, output, error, attempt, created_at, execution_id
FROM steps WHERE execution_id = ANY($1::text[])

-- name: heartbeat
-- Renews only the leases the worker still runs, so an execution whose task
-- died inside a live worker is recovered when its lease runs out.
WITH alive AS (
    UPDATE workers SET heartbeat_at = $2 WHERE worker_id = $1
), renewed AS (
    UPDATE executions e SET lease_expires_at = $3
    FROM unnest($4::text[], $5::int[]) AS held(id, attempt)
    WHERE e.id = held.id AND e.attempt = held.attempt AND e.status = 'running' AND e.owner = $1
    RETURNING e.id
)
SELECT held.id FROM unnest($4::text[]) AS held(id)
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

-- name: record_step
-- FOR SHARE holds the execution row until commit: a concurrent requeue,
-- cancel or take-over waits for this insert, or this insert sees the new
-- owner and records nothing. A plain EXISTS would read a snapshot and let a
-- zombie record a step just after its lease was taken over.
WITH recorded AS (
    INSERT INTO steps (execution_id, step_key, kind, name, output, error, attempt, created_at)
    SELECT e.id, $2, $3, $4, $5, $6, e.attempt, $8
    FROM executions e
    WHERE e.id = $1 AND e.attempt = $7 AND e.status = 'running'
    FOR SHARE
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM recorded)
       OR EXISTS (SELECT 1 FROM steps WHERE execution_id = $1 AND step_key = $2 AND attempt = $7)

-- name: begin_wait
WITH parked AS (
    UPDATE executions
    SET status = 'waiting', owner = NULL, lease_expires_at = NULL,
        wait_step_key = $3, wait_kind = $4, wake_at = $5, updated_at = $6
    WHERE id = $1 AND attempt = $2 AND status = 'running'
    RETURNING id
), logged AS (
    INSERT INTO history (execution_id, at, event, attempt, detail)
    SELECT id, $6, 'waiting', $2, $7 FROM parked
)
SELECT EXISTS (SELECT 1 FROM parked)
       OR EXISTS (SELECT 1 FROM executions
                  WHERE id = $1 AND attempt = $2 AND status = 'waiting' AND wait_step_key = $3)
       AS parked,
       (SELECT pg_notify($8, 't')
        WHERE $5::float8 IS NOT NULL AND EXISTS (SELECT 1 FROM parked)) AS notified

-- name: complete_execution
WITH finished AS (
    UPDATE executions
    SET status = 'completed', result = $3, owner = NULL, lease_expires_at = NULL,
        completed_at = $4, updated_at = $4
    WHERE id = $1 AND attempt = $2 AND status = 'running'
    RETURNING id
), logged AS (
    INSERT INTO history (execution_id, at, event, attempt, detail)
    SELECT id, $4, 'completed', $2, NULL FROM finished
)
SELECT EXISTS (SELECT 1 FROM finished)
       OR EXISTS (SELECT 1 FROM executions
                  WHERE id = $1 AND attempt = $2 AND status = 'completed') AS finished,
       (SELECT pg_notify($5, 'f:' || $1) WHERE EXISTS (SELECT 1 FROM finished)) AS notified

-- name: fail_execution
WITH finished AS (
    UPDATE executions
    SET status = 'failed', error = $3, owner = NULL, lease_expires_at = NULL,
        completed_at = $4, updated_at = $4
    WHERE id = $1 AND attempt = $2 AND status = 'running'
    RETURNING id
), logged AS (
    INSERT INTO history (execution_id, at, event, attempt, detail)
    SELECT id, $4, 'failed', $2, NULL FROM finished
)
SELECT EXISTS (SELECT 1 FROM finished)
       OR EXISTS (SELECT 1 FROM executions
                  WHERE id = $1 AND attempt = $2 AND status = 'failed') AS finished,
       (SELECT pg_notify($5, 'f:' || $1) WHERE EXISTS (SELECT 1 FROM finished)) AS notified

-- name: fire_due_timers
-- SKIP LOCKED: the timer loops of many workers fire each timer once.
WITH due AS (
    SELECT id AS due_id, attempt AS due_attempt, wait_step_key AS due_key FROM executions
    WHERE status = 'waiting' AND wait_kind = 'timer' AND wake_at <= $1
    FOR UPDATE SKIP LOCKED
), resumed AS (
    UPDATE executions
    SET status = 'queued', wait_step_key = NULL, wait_kind = NULL, wake_at = NULL, updated_at = $1
    FROM due
    WHERE id = due_id
    RETURNING id, due_attempt, due_key
), recorded AS (
    INSERT INTO steps (execution_id, step_key, kind, name, output, error, attempt, created_at)
    SELECT id, due_key, 'wait', '', 'null', NULL, due_attempt, $1 FROM resumed
    ON CONFLICT DO NOTHING
), logged AS (
    INSERT INTO history (execution_id, at, event, attempt, detail)
    SELECT id, $1, 'resumed', due_attempt,
           jsonb_build_object('step_key', due_key, 'by', 'timer')::text
    FROM resumed
)
SELECT (SELECT count(*) FROM resumed) AS resumed,
       (SELECT pg_notify($2, 'q') WHERE EXISTS (SELECT 1 FROM resumed)) AS notified

-- name: next_timer_at
SELECT min(wake_at) FROM executions WHERE status = 'waiting' AND wake_at IS NOT NULL

-- name: cancel_execution
-- previous locks the newest version of the row and reads its status, so a
-- run that finished a moment ago is not cancelled after the fact.
WITH previous AS (
    SELECT id AS previous_id, status AS previous_status FROM executions
    WHERE id = $1
    FOR UPDATE
), cancelled AS (
    UPDATE executions
    SET status = 'cancelled', owner = NULL, lease_expires_at = NULL, wait_step_key = NULL,
        wait_kind = NULL, wake_at = NULL, completed_at = $2, updated_at = $2
    FROM previous
    WHERE id = previous_id AND previous_status IN ('queued', 'running', 'waiting')
      AND status IN ('queued', 'running', 'waiting')
    RETURNING EXECUTION_COLUMNS, previous_status
), logged AS (
    INSERT INTO history (execution_id, at, event, attempt, detail)
    SELECT id, $2, 'cancelled', attempt,
           jsonb_build_object('previous_status', previous_status)::text
    FROM cancelled
)
SELECT c.*, (SELECT pg_notify($3, 'c:' || $1)) AS notified FROM cancelled c

-- name: upsert_worker
INSERT INTO workers (worker_id, hostname, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at

-- name: delete_worker
DELETE FROM workers WHERE worker_id = $1

-- name: list_workers
SELECT worker_id, hostname, pid, started_at, heartbeat_at FROM workers ORDER BY started_at

-- name: get_execution
SELECT EXECUTION_COLUMNS FROM executions WHERE id = $1

-- name: get_executions
SELECT EXECUTION_COLUMNS FROM executions WHERE id = ANY($1::text[])

-- name: list_steps
SELECT step_key, kind, name, output, error, attempt, created_at, execution_id
FROM steps WHERE execution_id = $1 ORDER BY created_at, step_key

-- name: list_history
SELECT execution_id, seq, at, event, attempt, detail
FROM history WHERE execution_id = $1 ORDER BY seq

-- name: list_executions
SELECT EXECUTION_COLUMNS FROM executions
WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR workflow_id = $2)
ORDER BY created_at DESC
LIMIT $3
