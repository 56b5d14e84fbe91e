-- Where a run's event waits start reading: the last event sequence id committed
-- when the run was submitted. Stored once, so a worker crash between a claim and
-- a wait cannot move it past an event the run should get (a per-claim position
-- would). Runs that already exist start from the events committed now; claim
-- fills it for any row that still has none.
ALTER TABLE executions ADD COLUMN event_cursor INTEGER;
UPDATE executions SET event_cursor = (SELECT COALESCE(MAX(seq), 0) FROM events)
WHERE status NOT IN ('completed', 'failed', 'cancelled');
