-- Retention: purging finished run trees, per-workflow retention and named leases.
-- Named queries, as in queries.sql.

-- name: purge_finished
-- Retention: delete up to $5 finished trees, oldest first, in one statement.
-- A root qualifies when it finished in one of $2 before $1 (of workflow $3
-- when given, never of one in $4) and every run under it finished before $1.
-- The literal status list lets the planner prove the partial index of
-- finished roots. Roots another transaction holds (a retry, another purge)
-- are skipped; every CTE reads the statement's one snapshot, so the steps
-- deleted here still name the suspends whose resume topics go too.
WITH roots AS (
    SELECT r.id, r.workflow_id FROM executions r
    WHERE r.parent_execution_id IS NULL AND r.status IN ('completed', 'failed', 'cancelled')
      AND r.completed_at < $1 AND r.status = ANY($2::text[])
      AND ($3::text IS NULL OR r.workflow_id = $3) AND NOT (r.workflow_id = ANY($4::text[]))
      -- Descendants only (the root is checked on r), as executions_root holds them.
      AND NOT EXISTS (
          SELECT 1 FROM executions d WHERE d.root_execution_id = r.id AND d.id <> d.root_execution_id
            AND (d.status NOT IN ('completed', 'failed', 'cancelled')
                 OR d.completed_at IS NULL OR d.completed_at >= $1))
    ORDER BY r.completed_at
    LIMIT $5
    FOR UPDATE OF r SKIP LOCKED
), tree AS (
    -- A root names itself as its root: it comes from roots, once.
    SELECT id, id AS root FROM roots
    UNION ALL
    SELECT d.id, d.root_execution_id FROM executions d
    WHERE d.root_execution_id IN (SELECT id FROM roots) AND d.id <> d.root_execution_id
), topics AS (
    SELECT 'workflow/' || workflow_id || '/' || id AS topic FROM roots
    UNION ALL
    SELECT 'polos.resume/' || tree.root || '/' || s.step_key FROM steps s
    JOIN tree ON s.execution_id = tree.id WHERE s.kind = 'suspend'
), gone_steps AS (
    DELETE FROM steps WHERE execution_id IN (SELECT id FROM tree) RETURNING 1
), gone_history AS (
    DELETE FROM history WHERE execution_id IN (SELECT id FROM tree) RETURNING 1
), gone_events AS (
    DELETE FROM events WHERE topic IN (SELECT topic FROM topics) RETURNING 1
), gone_spans AS (
    -- Spans SDK workers exported for the tree, by its trace id (the root's id
    -- without dashes); not counted. A data-modifying CTE runs unreferenced.
    DELETE FROM spans WHERE trace_id IN (SELECT replace(id, '-', '') FROM roots)
), gone AS (
    DELETE FROM executions WHERE id IN (SELECT id FROM tree) RETURNING 1
)
SELECT (SELECT count(*) FROM roots), (SELECT count(*) FROM gone),
    (SELECT count(*) FROM gone_steps), (SELECT count(*) FROM gone_history),
    (SELECT count(*) FROM gone_events)

-- name: count_purgeable
-- What purge_finished would take, every batch at once, deleting nothing: the
-- trees and their runs (counting their steps, history and events too would
-- cost more than a minute per million runs).
WITH roots AS (
    SELECT r.id FROM executions r
    WHERE r.parent_execution_id IS NULL AND r.status IN ('completed', 'failed', 'cancelled')
      AND r.completed_at < $1 AND r.status = ANY($2::text[])
      AND ($3::text IS NULL OR r.workflow_id = $3) AND NOT (r.workflow_id = ANY($4::text[]))
      -- Descendants only (the root is checked on r), as executions_root holds them.
      AND NOT EXISTS (
          SELECT 1 FROM executions d WHERE d.root_execution_id = r.id AND d.id <> d.root_execution_id
            AND (d.status NOT IN ('completed', 'failed', 'cancelled')
                 OR d.completed_at IS NULL OR d.completed_at >= $1))
)
SELECT (SELECT count(*) FROM roots),
    (SELECT count(*) FROM roots)
    + (SELECT count(*) FROM executions d
       WHERE d.root_execution_id IN (SELECT id FROM roots) AND d.id <> d.root_execution_id)

-- name: set_retention
UPDATE workflows w SET retention_seconds = v.seconds
FROM unnest($1::text[], $2::float8[]) AS v(workflow_id, seconds)
WHERE w.workflow_id = v.workflow_id

-- name: list_retention
SELECT workflow_id, retention_seconds FROM workflows WHERE retention_seconds IS NOT NULL
ORDER BY workflow_id

-- name: take_lease
INSERT INTO leases (name, owner, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE leases.owner = excluded.owner OR leases.expires_at <= $4
RETURNING 1

-- name: drop_lease
DELETE FROM leases WHERE name = $1 AND owner = $2
