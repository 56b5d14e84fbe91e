-- Schema of the PostgreSQL backend; the same tables and meanings as SQLite's.
-- Times are Unix epoch seconds (double precision), as in the Store interface,
-- so every host and backend agrees on them without time-zone conversions.
-- JSON payloads are TEXT: the store never looks inside them, and TEXT keeps
-- them byte for byte.

-- Executions: one row per workflow run, updated in place as it moves
-- queued -> running -> (waiting -> queued -> running)* -> completed|failed|cancelled.
CREATE TABLE executions (
    id TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    status TEXT NOT NULL,
    payload TEXT NOT NULL,
    result TEXT,
    error TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    lease_expires_at DOUBLE PRECISION,
    wait_step_key TEXT,
    wait_kind TEXT,
    wake_at DOUBLE PRECISION,
    created_at DOUBLE PRECISION NOT NULL,
    started_at DOUBLE PRECISION,
    updated_at DOUBLE PRECISION NOT NULL,
    completed_at DOUBLE PRECISION,
    parent_execution_id TEXT,
    root_execution_id TEXT,
    root_workflow_id TEXT,
    step_key TEXT,
    session_id TEXT,
    user_id TEXT
);

-- Claiming walks the queue oldest first and filters by workflow in the index.
CREATE INDEX executions_queued ON executions (created_at, workflow_id) WHERE status = 'queued';
CREATE INDEX executions_timers ON executions (wake_at) WHERE status = 'waiting' AND wake_at IS NOT NULL;
CREATE INDEX executions_leases ON executions (lease_expires_at) WHERE status = 'running';
CREATE INDEX executions_owner ON executions (owner) WHERE status = 'running';
CREATE INDEX executions_parent ON executions (parent_execution_id) WHERE parent_execution_id IS NOT NULL;
CREATE INDEX executions_created ON executions (created_at);
CREATE INDEX executions_workflow ON executions (workflow_id, created_at);

-- Steps: append-only; (execution_id, step_key) identifies a step for replay.
CREATE TABLE steps (
    execution_id TEXT NOT NULL,
    step_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    output TEXT,
    error TEXT,
    attempt INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (execution_id, step_key)
);

-- History: append-only log of everything that happened to an execution
-- except step records, which live (append-only too) in steps.
CREATE TABLE history (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    event TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    detail TEXT
);

CREATE INDEX history_execution ON history (execution_id, seq);

CREATE TABLE workers (
    worker_id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at DOUBLE PRECISION NOT NULL,
    heartbeat_at DOUBLE PRECISION NOT NULL
);
