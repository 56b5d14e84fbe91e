-- Flow control: queues, concurrency keys, rate limits, priority, deduplication.

-- Every execution belongs to a queue (the workflow's, or the workflow id) and a
-- concurrency key ('' when none); limits count running executions per pair.
ALTER TABLE executions
    ADD COLUMN queue_name TEXT NOT NULL DEFAULT '',
    ADD COLUMN concurrency_key TEXT NOT NULL DEFAULT '',
    ADD COLUMN priority INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN idempotency_key TEXT,
    ADD COLUMN schedule_id TEXT;

CREATE UNIQUE INDEX executions_idempotency ON executions (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX executions_admission ON executions (priority DESC, created_at)
    WHERE status = 'queued';
CREATE INDEX executions_running_groups ON executions (queue_name, concurrency_key)
    WHERE status = 'running';
CREATE INDEX executions_unassigned ON executions (workflow_id)
    WHERE status = 'queued' AND queue_name = '';
CREATE INDEX executions_schedule ON executions (schedule_id) WHERE schedule_id IS NOT NULL;

-- The claim walks the admission index now (priority first).
DROP INDEX executions_queued;

CREATE TABLE queues (
    name TEXT PRIMARY KEY,
    concurrency_limit INTEGER,
    rate_limit INTEGER,
    rate_period DOUBLE PRECISION,
    updated_at DOUBLE PRECISION NOT NULL
);

-- First starts in rate-limited queues, for a sliding window; pruned as it slides.
CREATE TABLE queue_starts (
    queue_name TEXT NOT NULL,
    concurrency_key TEXT NOT NULL,
    started_at DOUBLE PRECISION NOT NULL
);

CREATE INDEX queue_starts_window ON queue_starts (queue_name, concurrency_key, started_at);
