-- Retention: purging finished run trees, a per-workflow retention, and leases.

-- Finished roots by finish time: what a purge walks, oldest first (the whole
-- index or one workflow's part of it).
CREATE INDEX executions_finished_roots ON executions (completed_at)
    WHERE parent_execution_id IS NULL AND status IN ('completed', 'failed', 'cancelled');
CREATE INDEX executions_finished_roots_by_workflow ON executions (workflow_id, completed_at)
    WHERE parent_execution_id IS NULL AND status IN ('completed', 'failed', 'cancelled');

-- How long a workflow's finished runs are kept (seconds; NULL: the default).
ALTER TABLE workflows ADD COLUMN retention_seconds REAL;

-- Named leases: at most one holder per name until it expires (the retention sweep).
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL
);
