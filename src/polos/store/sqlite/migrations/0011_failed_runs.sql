-- retry_failed finds failed runs by when they failed (list_failed): the scan
-- covers failed runs only, however many others the table holds.
CREATE INDEX executions_failed ON executions (completed_at) WHERE status = 'failed';
