-- Retention: purging finished run trees, per-workflow retention and named leases.
-- Named queries, as in queries.sql.

-- name: purgeable_roots
-- Retention. Finished trees a purge may take, oldest first: the root finished
-- in one of :statuses before :before, and every run under it finished before it
-- too. The literal status list lets SQLite use the partial index of finished roots.
SELECT r.id, r.workflow_id FROM executions r
WHERE r.parent_execution_id IS NULL AND r.status IN ('completed', 'failed', 'cancelled')
  AND r.completed_at < :before
  AND r.status IN (SELECT value FROM json_each(:statuses))
  AND (:workflow_id IS NULL OR r.workflow_id = :workflow_id)
  AND r.workflow_id NOT IN (SELECT value FROM json_each(:excluded))
  -- Descendants only (the root is checked on r), as executions_root holds them.
  AND NOT EXISTS (
      SELECT 1 FROM executions d WHERE d.root_execution_id = r.id AND d.id <> d.root_execution_id
        AND (d.status NOT IN ('completed', 'failed', 'cancelled')
             OR d.completed_at IS NULL OR d.completed_at >= :before))
ORDER BY r.completed_at
LIMIT :limit

-- name: tree_members
-- The runs under the roots ? (the roots themselves come from purgeable_roots).
SELECT id, root_execution_id FROM executions
WHERE root_execution_id IN (SELECT value FROM json_each(?)) AND id <> root_execution_id

-- name: suspend_steps
SELECT execution_id, step_key FROM steps
WHERE execution_id IN (SELECT value FROM json_each(?)) AND kind = 'suspend'

-- name: purge_steps
DELETE FROM steps WHERE execution_id IN (SELECT value FROM json_each(?))

-- name: purge_history
DELETE FROM history WHERE execution_id IN (SELECT value FROM json_each(?))

-- name: purge_events
DELETE FROM events WHERE topic IN (SELECT value FROM json_each(?))

-- name: purge_spans
-- Spans SDK workers exported for purged trees, by trace id (the root's id without dashes).
DELETE FROM spans WHERE trace_id IN (SELECT value FROM json_each(?))

-- name: purge_executions
DELETE FROM executions WHERE id IN (SELECT value FROM json_each(?))

-- name: set_retention
UPDATE workflows SET retention_seconds = ? WHERE workflow_id = ?

-- name: list_retention
SELECT workflow_id, retention_seconds FROM workflows WHERE retention_seconds IS NOT NULL
ORDER BY workflow_id

-- name: take_lease
INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE leases.owner = excluded.owner OR leases.expires_at <= ?

-- name: drop_lease
DELETE FROM leases WHERE name = ? AND owner = ?
