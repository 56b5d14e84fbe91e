-- Named queries of the SQLite backend. Parameters are positional (?).

-- name: insert_execution
INSERT INTO executions (
    id, workflow_id, status, payload, attempt, created_at, updated_at,
    parent_execution_id, root_execution_id, root_workflow_id, step_key, session_id, user_id,
    child_index, run_timeout_seconds, initial_state, state,
    queue_name, concurrency_key, priority, idempotency_key, schedule_id, deployment_id,
    trace_context, event_cursor
) VALUES (?, ?, 'queued', ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
          -- the run's waits see events published from now on (docs/durability.md)
          (SELECT COALESCE(MAX(seq), 0) FROM events))
ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING

-- name: insert_claimed_execution
-- A new run taken at once (eager start): inserted running, as claim_ids would
-- leave it, without passing through 'queued' (one write of the row and its indexes).
INSERT INTO executions (
    id, workflow_id, status, payload, attempt, created_at, updated_at,
    parent_execution_id, root_execution_id, root_workflow_id, step_key, session_id, user_id,
    child_index, run_timeout_seconds, initial_state, state,
    queue_name, concurrency_key, priority, idempotency_key, schedule_id, deployment_id,
    trace_context, event_cursor, owner, lease_expires_at, started_at, deadline_at
) VALUES (?, ?, 'running', ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
          (SELECT COALESCE(MAX(seq), 0) FROM events), ?, ?, ?, ?)
ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING EXECUTION_COLUMNS, event_cursor

-- name: eager_blockers
-- Whether a run of workflow ?1 is queued (eager start then leaves new ones
-- queued too) and, if ?2, the names of the queues with limits (a JSON array),
-- in one statement.
SELECT EXISTS (SELECT 1 FROM executions WHERE workflow_id = ?1 AND status = 'queued'),
       CASE WHEN ?2 THEN (SELECT json_group_array(name) FROM queues
                          WHERE concurrency_limit IS NOT NULL OR rate_limit IS NOT NULL) END

-- name: insert_history
INSERT INTO history (execution_id, at, event, attempt, detail) VALUES (?, ?, ?, ?, ?)

-- name: claim
UPDATE executions
SET status = 'running', owner = ?, attempt = attempt + 1, lease_expires_at = ?,
    started_at = COALESCE(started_at, MAX(?, created_at)), updated_at = ?,
    deadline_at = COALESCE(deadline_at, ? + run_timeout_seconds),
    deployment_id = COALESCE(deployment_id, ?),
    event_cursor = COALESCE(event_cursor, (SELECT COALESCE(MAX(seq), 0) FROM events))
WHERE id IN (
    -- INDEXED BY: walk the queue in claim order and stop after LIMIT rows,
    -- whatever the planner's statistics say (a sort would be O(queue depth)).
    -- A run pinned to a deployment goes only to a worker serving it (the
    -- first ? is true for a worker serving any); an unpinned one is stamped.
    SELECT id FROM executions INDEXED BY executions_admission
    WHERE status = 'queued' AND workflow_id IN (SELECT value FROM json_each(?))
      AND (? OR deployment_id IS NULL OR deployment_id IN (SELECT value FROM json_each(?)))
    ORDER BY priority DESC, created_at
    LIMIT ?
)
RETURNING EXECUTION_COLUMNS, event_cursor

-- name: claim_ids
UPDATE executions
SET status = 'running', owner = ?, attempt = attempt + 1, lease_expires_at = ?,
    started_at = COALESCE(started_at, MAX(?, created_at)), updated_at = ?,
    deadline_at = COALESCE(deadline_at, ? + run_timeout_seconds),
    deployment_id = COALESCE(deployment_id, ?),
    event_cursor = COALESCE(event_cursor, (SELECT COALESCE(MAX(seq), 0) FROM events))
WHERE id IN (SELECT value FROM json_each(?)) AND status = 'queued'
RETURNING EXECUTION_COLUMNS, event_cursor

-- name: queue_of
SELECT queue_name FROM executions WHERE id = ?

-- name: assign_queues
UPDATE executions
SET queue_name = COALESCE((SELECT value FROM json_each(?) WHERE key = workflow_id), workflow_id)
WHERE status = 'queued' AND queue_name = ''

-- name: limited_queues
SELECT name, concurrency_limit, rate_limit, rate_period, updated_at FROM queues
WHERE concurrency_limit IS NOT NULL OR rate_limit IS NOT NULL

-- name: admission_candidates
SELECT id, queue_name, concurrency_key, attempt FROM executions INDEXED BY executions_admission
WHERE status = 'queued' AND workflow_id IN (SELECT value FROM json_each(?))
  AND (? OR deployment_id IS NULL OR deployment_id IN (SELECT value FROM json_each(?)))
ORDER BY priority DESC, created_at
LIMIT ? OFFSET ?

-- name: running_groups
SELECT queue_name, concurrency_key, COUNT(*) FROM executions
WHERE status = 'running' AND queue_name IN (SELECT value FROM json_each(?))
GROUP BY queue_name, concurrency_key

-- name: recent_starts
SELECT concurrency_key, COUNT(*) FROM queue_starts
WHERE queue_name = ? AND started_at > ?
GROUP BY concurrency_key

-- name: prune_queue_starts
DELETE FROM queue_starts WHERE queue_name = ? AND started_at <= ?

-- name: insert_queue_start
INSERT INTO queue_starts (queue_name, concurrency_key, started_at) VALUES (?, ?, ?)

-- name: upsert_queue
INSERT INTO queues (name, concurrency_limit, rate_limit, rate_period, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET concurrency_limit = excluded.concurrency_limit,
    rate_limit = excluded.rate_limit, rate_period = excluded.rate_period, updated_at = excluded.updated_at

-- name: list_queues
SELECT name, concurrency_limit, rate_limit, rate_period, updated_at FROM queues ORDER BY name

-- name: queue_counts
-- One pass over the active runs, grouped per queue and key; from that, each
-- queue's totals with its number of keys (key NULL), then the first
-- parameter's number of keys of each queue, those with the most active runs
-- (none, and no sort, when it is 0).
WITH per_key AS MATERIALIZED (
    SELECT queue_name, concurrency_key,
        count(*) FILTER (WHERE status = 'queued') AS queued,
        count(*) FILTER (WHERE status = 'running') AS running,
        count(*) FILTER (WHERE status = 'waiting') AS waiting
    FROM executions WHERE status IN ('queued', 'running', 'waiting')
    GROUP BY queue_name, concurrency_key
)
SELECT queue_name, NULL, sum(queued), sum(running), sum(waiting), count(*)
FROM per_key GROUP BY queue_name
UNION ALL
SELECT queue_name, concurrency_key, queued, running, waiting, NULL FROM (
    SELECT per_key.*, row_number() OVER (
        PARTITION BY queue_name
        ORDER BY queued + running + waiting DESC, concurrency_key
    ) AS place
    FROM per_key WHERE ?1 > 0
) ranked WHERE place <= ?1

-- name: execution_by_idempotency_key
SELECT id FROM executions WHERE idempotency_key = ?

-- name: active_run_of_schedule
SELECT 1 FROM executions WHERE schedule_id = ? AND status IN ('queued', 'running', 'waiting') LIMIT 1

-- name: steps_of_many
SELECT STEP_COLUMNS
FROM steps WHERE execution_id IN (SELECT value FROM json_each(?))

-- name: is_running
SELECT 1 FROM executions WHERE id = ? AND attempt = ? AND status = 'running'

-- name: record_step
INSERT INTO steps (
    execution_id, step_key, kind, name, output, error, attempt, created_at, state, started_at
)
SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
WHERE EXISTS (SELECT 1 FROM executions WHERE id = ? AND attempt = ? AND status = 'running')

-- name: begin_wait
UPDATE executions
SET status = 'waiting', owner = NULL, lease_expires_at = NULL,
    wait_step_key = ?, wait_kind = ?, wake_at = ?, wait_topic = ?, wait_cursor = ?,
    wait_data = ?, pending_children = ?, state = COALESCE(?, state), updated_at = ?
WHERE id = ? AND attempt = ? AND status = 'running'

-- name: complete_execution
-- Returns the run's link to its parent, so that a top-level run's end need
-- not look for a parent to count down.
UPDATE executions
SET status = 'completed', result = ?, state = COALESCE(?, state), owner = NULL,
    lease_expires_at = NULL, completed_at = ?, updated_at = ?
WHERE id = ? AND attempt = ? AND status = 'running'
RETURNING parent_execution_id, step_key

-- name: fail_execution
UPDATE executions
SET status = 'failed', error = ?, state = COALESCE(?, state), owner = NULL,
    lease_expires_at = NULL, completed_at = ?, updated_at = ?
WHERE id = ? AND attempt = ? AND status = 'running'
RETURNING parent_execution_id, step_key

-- name: release_execution
UPDATE executions
SET status = 'queued', owner = NULL, lease_expires_at = NULL, updated_at = ?
WHERE id = ? AND attempt = ? AND status = 'running'

-- name: heartbeat_worker
UPDATE workers SET heartbeat_at = ? WHERE worker_id = ?

-- name: renew_leases
-- Only the leases the worker still runs: an execution whose task died inside a
-- live worker must see its lease expire.
UPDATE executions SET lease_expires_at = ?
WHERE owner = ? AND status = 'running' AND id IN (SELECT value FROM json_each(?))

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

-- name: runs_held_by
-- On the partial index executions_owner (owner WHERE status = 'running'): named,
-- because the planner prefers executions_by_status, which reads every running run.
SELECT id, owner, attempt FROM executions INDEXED BY executions_owner
WHERE status = 'running' AND owner IN (SELECT value FROM json_each(?))

-- name: due_waits
SELECT id, wait_step_key, wait_kind, attempt FROM executions
WHERE status = 'waiting' AND wake_at <= ?

-- name: resolve_wait
UPDATE executions
SET status = 'queued', wait_step_key = NULL, wait_kind = NULL, wake_at = NULL, wait_topic = NULL,
    wait_cursor = NULL, wait_data = NULL, pending_children = 0, updated_at = ?
WHERE id = ? AND status = 'waiting'

-- name: resume_claim
-- A waiting run whose wait just ended, claimed at once for the worker holding
-- it (complete_and_resume): resolve_wait and claim_ids in one write of the row;
-- not on a queue with limits (admission decides those) nor an unassigned one.
UPDATE executions
SET status = 'running', wait_step_key = NULL, wait_kind = NULL, wake_at = NULL, wait_topic = NULL,
    wait_cursor = NULL, wait_data = NULL, pending_children = 0,
    owner = ?, attempt = attempt + 1, lease_expires_at = ?,
    started_at = COALESCE(started_at, MAX(?, created_at)), updated_at = ?,
    deadline_at = COALESCE(deadline_at, ? + run_timeout_seconds),
    deployment_id = COALESCE(deployment_id, ?),
    event_cursor = COALESCE(event_cursor, (SELECT COALESCE(MAX(seq), 0) FROM events))
WHERE id = ? AND status = 'waiting' AND queue_name <> ''
  AND queue_name NOT IN (SELECT name FROM queues
                         WHERE concurrency_limit IS NOT NULL OR rate_limit IS NOT NULL)
RETURNING EXECUTION_COLUMNS, event_cursor

-- name: insert_step
INSERT INTO steps (execution_id, step_key, kind, name, output, error, attempt, created_at)
VALUES (?, ?, ?, '', ?, ?, ?, ?)
ON CONFLICT DO NOTHING

-- name: next_timer_at
SELECT MIN(t) FROM (
    SELECT MIN(wake_at) AS t FROM executions WHERE status = 'waiting' AND wake_at IS NOT NULL
    UNION ALL
    SELECT MIN(deadline_at) FROM executions
    WHERE deadline_at IS NOT NULL AND status IN ('queued', 'running', 'waiting')
    UNION ALL
    SELECT MIN(next_fire_at) FROM schedules
)

-- name: active_tree
WITH RECURSIVE tree(id) AS (
    SELECT ?
    UNION ALL
    SELECT e.id FROM executions e JOIN tree ON e.parent_execution_id = tree.id
)
SELECT e.id, e.status, e.attempt FROM executions e JOIN tree ON e.id = tree.id
WHERE e.status IN ('queued', 'running', 'waiting')

-- name: end_execution
UPDATE executions
SET status = ?, error = COALESCE(?, error), owner = NULL, lease_expires_at = NULL,
    wait_step_key = NULL, wait_kind = NULL, wake_at = NULL, wait_topic = NULL, wait_cursor = NULL,
    wait_data = NULL, pending_children = 0, completed_at = ?, updated_at = ?
WHERE id = ? AND status IN ('queued', 'running', 'waiting')

-- name: count_down_parent_of
-- The parent of the run ?1, if it waits on that run's batch, counts one child
-- fewer (one statement: the link is read in it).
UPDATE executions SET pending_children = pending_children - 1
WHERE id = (SELECT parent_execution_id FROM executions WHERE id = ?1)
  AND status = 'waiting' AND wait_kind = 'children'
  AND wait_step_key = (SELECT step_key FROM executions WHERE id = ?1)
RETURNING id, wait_step_key, pending_children, attempt

-- name: count_down_parent
-- The same, for a run whose link (?1 the parent, ?2 the step that started
-- it) its end returned already.
UPDATE executions SET pending_children = pending_children - 1
WHERE id = ?1 AND status = 'waiting' AND wait_kind = 'children' AND wait_step_key = ?2
RETURNING id, wait_step_key, pending_children, attempt

-- name: insert_fenced_step
-- record_step for a transaction that checked the fence already.
INSERT INTO steps (
    execution_id, step_key, kind, name, output, error, attempt, created_at, state, started_at
)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: children_of_step
SELECT id, workflow_id, status, result, error FROM executions
WHERE parent_execution_id = ? AND step_key = ?
ORDER BY child_index

-- name: due_deadlines
SELECT id, run_timeout_seconds, attempt FROM executions
WHERE deadline_at <= ? AND status IN ('queued', 'running', 'waiting')

-- name: insert_event
INSERT INTO events (id, topic, event_type, data, created_at) VALUES (?, ?, ?, ?, ?)
RETURNING seq, id, topic, event_type, data, created_at

-- name: waiters_of_topic
SELECT id, wait_step_key, wait_kind, attempt FROM executions
WHERE status = 'waiting' AND wait_topic = ? AND wait_cursor < ?

-- name: first_event_after
SELECT seq, id, topic, event_type, data, created_at FROM events
WHERE topic = ? AND seq > ? ORDER BY seq LIMIT 1

-- name: read_events
SELECT seq, id, topic, event_type, data, created_at FROM events
WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?

-- name: topic_position
SELECT COALESCE(max(seq), 0) FROM events
WHERE topic = ?1 AND (?2 IS NULL OR seq < COALESCE(
    (SELECT min(seq) FROM events WHERE topic = ?1 AND created_at > ?2), 9223372036854775807))

-- name: list_topics
SELECT topic, count(*), max(seq), max(created_at) FROM events
GROUP BY topic ORDER BY max(seq) DESC LIMIT ?

-- name: list_waits
SELECT EXECUTION_COLUMNS FROM executions
WHERE status = 'waiting' AND wait_kind = ? AND (? IS NULL OR workflow_id = ?)
ORDER BY updated_at

-- name: upsert_schedule
INSERT INTO schedules (schedule_id, workflow_id, key, cron, timezone, next_fire_at, last_fire_at, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)
ON CONFLICT (schedule_id) DO UPDATE SET
    cron = excluded.cron, timezone = excluded.timezone, updated_at = excluded.updated_at,
    next_fire_at = CASE
        WHEN schedules.cron = excluded.cron AND schedules.timezone = excluded.timezone
        THEN schedules.next_fire_at ELSE excluded.next_fire_at END

-- name: get_schedule
SELECT schedule_id, workflow_id, key, cron, timezone, next_fire_at, last_fire_at, created_at, updated_at
FROM schedules WHERE schedule_id = ?

-- name: list_schedules
SELECT schedule_id, workflow_id, key, cron, timezone, next_fire_at, last_fire_at, created_at, updated_at
FROM schedules WHERE (? IS NULL OR workflow_id = ?) ORDER BY workflow_id, key

-- name: delete_schedule
DELETE FROM schedules WHERE schedule_id = ?

-- name: due_schedules
SELECT schedule_id, workflow_id, key, cron, timezone, next_fire_at, last_fire_at, created_at, updated_at
FROM schedules WHERE next_fire_at <= ? ORDER BY next_fire_at

-- name: advance_schedule
UPDATE schedules SET next_fire_at = ?, last_fire_at = ?, updated_at = ?
WHERE schedule_id = ? AND next_fire_at = ?

-- name: upsert_trigger
INSERT INTO triggers (workflow_id, topic, batch_size, batch_timeout_seconds, cursor, updated_at)
VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) FROM events), ?)
ON CONFLICT (workflow_id, topic) DO UPDATE SET
    batch_size = excluded.batch_size, batch_timeout_seconds = excluded.batch_timeout_seconds,
    updated_at = excluded.updated_at

-- name: list_triggers
SELECT workflow_id, topic, batch_size, batch_timeout_seconds, cursor, updated_at FROM triggers

-- name: advance_trigger
UPDATE triggers SET cursor = ?, updated_at = ?
WHERE workflow_id = ? AND topic = ? AND cursor = ?


-- name: upsert_worker
INSERT INTO workers (worker_id, hostname, pid, started_at, heartbeat_at, deployment_id, serve_deployments,
    push_url, capacity, serves, online)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,
    push_url = excluded.push_url, capacity = excluded.capacity, serves = excluded.serves,
    online = excluded.online

-- name: delete_worker
DELETE FROM workers WHERE worker_id = ?

-- name: set_result_schema
UPDATE executions SET output_schema_name = ?
WHERE id = ? AND attempt = ? AND status = 'running'

-- name: list_workers
SELECT worker_id, hostname, pid, started_at, heartbeat_at, deployment_id, serve_deployments,
    push_url, capacity, serves, online
FROM workers ORDER BY started_at

-- name: get_execution
SELECT EXECUTION_COLUMNS FROM executions WHERE id = ?

-- name: ended_among
-- Which of the runs ?1 (a JSON array) have ended (one poll for many waiters).
SELECT id FROM executions
WHERE id IN (SELECT value FROM json_each(?1)) AND status IN ('completed', 'failed', 'cancelled')

-- name: find_execution_ids
-- The ids from ?1 up to ?2 (?1 followed by the highest code point) on the primary
-- key: a range, so only the matches are read; substr keeps the test exact.
SELECT id FROM executions
WHERE id >= ?1 AND id < ?2 AND substr(id, 1, length(?1)) = ?1
ORDER BY id LIMIT ?3

-- name: list_steps
SELECT STEP_COLUMNS
FROM steps WHERE execution_id = ? ORDER BY created_at, step_key

-- name: list_history
SELECT execution_id, seq, at, event, attempt, detail
FROM history WHERE execution_id = ? ORDER BY seq

-- name: list_executions
-- LIST_FILTERS: the conditions of the filters given, ANDed (store/listing.py),
-- so that each combination is planned for its own index.
SELECT EXECUTION_COLUMNS FROM executions
WHERE LIST_FILTERS
ORDER BY created_at DESC, id DESC
LIMIT LIST_LIMIT OFFSET LIST_OFFSET

-- name: list_run_tree
SELECT EXECUTION_COLUMNS FROM executions WHERE id = ?
UNION ALL
SELECT EXECUTION_COLUMNS FROM executions WHERE root_execution_id = ? AND id <> root_execution_id
ORDER BY created_at

-- name: get_step
SELECT STEP_COLUMNS FROM steps WHERE execution_id = ? AND step_key = ?

-- name: upsert_workflow
INSERT INTO workflows (workflow_id, queue_name, workflow_type, deployment_id, definition, updated_at, created_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
ON CONFLICT (workflow_id) DO UPDATE SET queue_name = excluded.queue_name,
    workflow_type = excluded.workflow_type, deployment_id = excluded.deployment_id,
    -- A registration that says nothing of the definition (an SDK worker's
    -- deployment-workflow call after its agents/register) keeps the one known.
    definition = COALESCE(excluded.definition, workflows.definition),
    updated_at = excluded.updated_at

-- name: known_workflows
SELECT workflow_id FROM workflows WHERE workflow_id IN (SELECT value FROM json_each(?))

-- name: all_workflows
SELECT workflow_id FROM workflows ORDER BY workflow_id

-- name: served_workflows
SELECT workflow_id, queue_name, workflow_type, deployment_id, definition, updated_at,
    COALESCE(created_at, updated_at)
FROM workflows ORDER BY workflow_id

-- name: insert_api_key
INSERT INTO api_keys (key_id, project_id, name, key_hash, created_at, revoked_at)
VALUES (?, ?, ?, ?, ?, ?)

-- name: list_api_keys
SELECT key_id, project_id, name, key_hash, created_at, revoked_at FROM api_keys
ORDER BY created_at, key_id

-- name: find_api_key
SELECT key_id, project_id, name, key_hash, created_at, revoked_at FROM api_keys
WHERE key_hash = ?

-- name: revoke_api_key
UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL

-- name: any_api_key
SELECT EXISTS (SELECT 1 FROM api_keys)

-- name: delete_step
DELETE FROM steps WHERE execution_id = ? AND step_key = ?

-- name: children_of
SELECT id, step_key, status FROM executions
WHERE parent_execution_id = ? AND step_key IS NOT NULL
ORDER BY created_at, child_index, id

-- name: retry_execution
UPDATE executions
SET status = ?, wait_step_key = ?, wait_kind = ?, pending_children = ?, error = NULL,
    result = NULL, owner = NULL, lease_expires_at = NULL, wake_at = NULL, wait_topic = NULL,
    wait_cursor = NULL, wait_data = NULL, deadline_at = NULL, completed_at = NULL, updated_at = ?
WHERE id = ? AND status IN ('failed', 'cancelled')

-- name: count_again_in_parent
UPDATE executions SET pending_children = pending_children + 1
WHERE id = ? AND status = 'waiting' AND wait_kind = 'children' AND wait_step_key = ?

-- name: mark_forked
-- A fork starts at attempt 1: its copied steps are an earlier attempt's work,
-- so its first claim loads them (a fresh run's first claim skips that read).
UPDATE executions SET attempt = 1 WHERE id = ?

-- name: copy_steps
INSERT INTO steps (
    execution_id, step_key, kind, name, output, error, attempt, created_at, state, started_at
)
SELECT ?, step_key, kind, name, output, error, attempt, created_at, state, started_at
FROM steps WHERE execution_id = ? AND step_key IN (SELECT value FROM json_each(?))

-- name: list_failed
SELECT EXECUTION_COLUMNS FROM executions
WHERE status = 'failed' AND (?1 IS NULL OR workflow_id = ?1)
  AND (?2 IS NULL OR completed_at >= ?2) AND (?3 IS NULL OR completed_at < ?3)
  AND (?4 IS NULL OR instr(error, ?4) > 0)
ORDER BY completed_at, id
LIMIT ?5
