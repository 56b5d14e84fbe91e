-- Run trees: events.stream_workflow follows every run under one root.
CREATE INDEX executions_root ON executions (root_execution_id, created_at) WHERE root_execution_id IS NOT NULL;
