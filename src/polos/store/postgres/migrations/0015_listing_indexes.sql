-- Listing stays a short index walk however many runs are parked or finished.
-- A page filtered by status (newest first) walks that status's part of the
-- index instead of every execution; with a workflow too, that workflow's.
-- (Unfiltered pages and workflow-only pages already have executions_created
-- and executions_workflow.) IF NOT EXISTS: on a big live database, build them
-- first by hand with CREATE INDEX CONCURRENTLY (same names), as a plain CREATE
-- INDEX blocks writes to executions while it runs.
CREATE INDEX IF NOT EXISTS executions_by_status ON executions (status, created_at);
CREATE INDEX IF NOT EXISTS executions_by_workflow_status ON executions (workflow_id, status, created_at);

-- Suspended runs (and other waits of one kind) among a million timers and
-- event waits: list_waits reads only the waits of the kind asked for.
CREATE INDEX IF NOT EXISTS executions_waits_by_kind ON executions (wait_kind, updated_at)
    WHERE status = 'waiting';
