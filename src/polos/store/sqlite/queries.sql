-- Named queries of the SQLite backend. Parameters are positional (?).

-- name: insert_execution
INSERT INTO executions (
    id, workflow_id, status, payload, attempt, created_at, updated_at,
    parent_execution_id, root_execution_id, root_workflow_id, step_key, session_id, user_id
) VALUES (?, ?, 'queued', ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: insert_history
INSERT INTO history (execution_id, at, event, attempt, detail) VALUES (?, ?, ?, ?, ?)

-- name: claim
UPDATE executions
SET status = 'running', owner = ?, attempt = attempt + 1, lease_expires_at = ?,
    started_at = COALESCE(started_at, ?), updated_at = ?
WHERE id IN (
    SELECT id FROM executions
    WHERE status = 'queued' AND workflow_id IN (SELECT value FROM json_each(?))
    ORDER BY created_at
    LIMIT ?
)
RETURNING EXECUTION_COLUMNS

-- name: steps_of_many
SELECT step_key, kind, name, output, error, attempt, created_at, execution_id
FROM steps WHERE execution_id IN (SELECT value FROM json_each(?))

-- name: record_step
INSERT INTO steps (execution_id, step_key, kind, name, output, error, attempt, created_at)
SELECT ?, ?, ?, ?, ?, ?, ?, ?
WHERE EXISTS (SELECT 1 FROM executions WHERE id = ? AND attempt = ? AND status = 'running')

-- name: begin_wait
UPDATE executions
SET status = 'waiting', owner = NULL, lease_expires_at = NULL,
    wait_step_key = ?, wait_kind = ?, wake_at = ?, updated_at = ?
WHERE id = ? AND attempt = ? AND status = 'running'

-- name: complete_execution
UPDATE executions
SET status = 'completed', result = ?, owner = NULL, lease_expires_at = NULL,
    completed_at = ?, updated_at = ?
WHERE id = ? AND attempt = ? AND status = 'running'

-- name: fail_execution
UPDATE executions
SET status = 'failed', error = ?, owner = NULL, lease_expires_at = NULL,
    completed_at = ?, updated_at = ?
WHERE id = ? AND attempt = ? AND status = 'running'

-- name: release_execution
UPDATE executions
SET status = 'queued', owner = NULL, lease_expires_at = NULL, updated_at = ?
WHERE id = ? AND attempt = ? AND status = 'running'

-- name: heartbeat_worker
UPDATE workers SET heartbeat_at = ? WHERE worker_id = ?

-- name: renew_leases
UPDATE executions SET lease_expires_at = ?
WHERE owner = ? AND status = 'running'

-- name: lease_states
SELECT id, attempt, status, owner FROM executions
WHERE id IN (SELECT value FROM json_each(?))

-- name: history_for_expired
INSERT INTO history (execution_id, at, event, attempt, detail)
SELECT id, ?, 'lease_expired', attempt, json_object('owner', owner)
FROM executions WHERE status = 'running' AND lease_expires_at < ?

-- name: requeue_expired
UPDATE executions
SET status = 'queued', owner = NULL, lease_expires_at = NULL, updated_at = ?
WHERE status = 'running' AND lease_expires_at < ?

-- name: history_for_dead_worker
INSERT INTO history (execution_id, at, event, attempt, detail)
SELECT id, ?, 'owner_died', attempt, json_object('owner', owner)
FROM executions WHERE status = 'running' AND owner = ?

-- name: requeue_owned
UPDATE executions
SET status = 'queued', owner = NULL, lease_expires_at = NULL, updated_at = ?
WHERE status = 'running' AND owner = ?

-- name: record_due_timers
INSERT INTO steps (execution_id, step_key, kind, name, output, error, attempt, created_at)
SELECT id, wait_step_key, 'wait', '', 'null', NULL, attempt, ?
FROM executions
WHERE status = 'waiting' AND wait_kind = 'timer' AND wake_at <= ?
ON CONFLICT DO NOTHING

-- name: history_for_due_timers
INSERT INTO history (execution_id, at, event, attempt, detail)
SELECT id, ?, 'resumed', attempt, json_object('step_key', wait_step_key, 'by', 'timer')
FROM executions WHERE status = 'waiting' AND wait_kind = 'timer' AND wake_at <= ?

-- name: requeue_due_timers
UPDATE executions
SET status = 'queued', wait_step_key = NULL, wait_kind = NULL, wake_at = NULL, updated_at = ?
WHERE status = 'waiting' AND wait_kind = 'timer' AND wake_at <= ?

-- name: next_timer_at
SELECT MIN(wake_at) FROM executions WHERE status = 'waiting' AND wake_at IS NOT NULL

-- name: cancel_execution
UPDATE executions
SET status = 'cancelled', owner = NULL, lease_expires_at = NULL, wait_step_key = NULL,
    wait_kind = NULL, wake_at = NULL, completed_at = ?, updated_at = ?
WHERE id = ? AND status IN ('queued', 'running', 'waiting')

-- name: upsert_worker
INSERT INTO workers (worker_id, hostname, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at

-- name: delete_worker
DELETE FROM workers WHERE worker_id = ?

-- name: list_workers
SELECT worker_id, hostname, pid, started_at, heartbeat_at FROM workers ORDER BY started_at

-- name: get_execution
SELECT EXECUTION_COLUMNS FROM executions WHERE id = ?

-- name: get_executions
SELECT EXECUTION_COLUMNS FROM executions WHERE id IN (SELECT value FROM json_each(?))

-- name: list_steps
SELECT step_key, kind, name, output, error, attempt, created_at, execution_id
FROM steps WHERE execution_id = ? ORDER BY created_at, step_key

-- name: list_history
SELECT execution_id, seq, at, event, attempt, detail
FROM history WHERE execution_id = ? ORDER BY seq

-- name: list_executions
SELECT EXECUTION_COLUMNS FROM executions
WHERE (? IS NULL OR status = ?) AND (? IS NULL OR workflow_id = ?)
ORDER BY created_at DESC
LIMIT ?
