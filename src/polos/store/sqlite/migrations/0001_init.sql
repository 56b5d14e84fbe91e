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
    lease_expires_at REAL,
    wait_step_key TEXT,
    wait_kind TEXT,
    wake_at REAL,
    created_at REAL NOT NULL,
    started_at REAL,
    updated_at REAL NOT NULL,
    completed_at REAL,
    parent_execution_id TEXT,
    root_execution_id TEXT,
    root_workflow_id TEXT,
    step_key TEXT,
    session_id TEXT,
    user_id TEXT
);

CREATE INDEX executions_queued ON executions (workflow_id, created_at) WHERE status = 'queued';
CREATE INDEX executions_timers ON executions (wake_at) WHERE status = 'waiting' AND wake_at IS NOT NULL;
CREATE INDEX executions_leases ON executions (lease_expires_at) WHERE status = 'running';
CREATE INDEX executions_owner ON executions (owner) WHERE status = 'running';
CREATE INDEX executions_parent ON executions (parent_execution_id) WHERE parent_execution_id IS NOT NULL;
CREATE INDEX executions_created ON executions (created_at);

-- Steps: append-only; (execution_id, step_key) identifies a step for replay.
CREATE TABLE steps (
    execution_id TEXT NOT NULL,
    step_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    output TEXT,
    error TEXT,
    attempt INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (execution_id, step_key)
) WITHOUT ROWID;

-- History: append-only log of everything that happened to an execution
-- except step records, which live (append-only too) in steps.
CREATE TABLE history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT NOT NULL,
    at REAL NOT NULL,
    event TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    detail TEXT
);

CREATE INDEX history_execution ON history (execution_id, seq);

CREATE TABLE workers (
    worker_id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL
);
