-- Composition, events, human-in-the-loop, state, schedules and event triggers.

-- Children: which parent step created them, in which order; a waiting parent
-- counts the children it still waits for, so each completion is O(1).
ALTER TABLE executions ADD COLUMN child_index INTEGER;
ALTER TABLE executions ADD COLUMN pending_children INTEGER NOT NULL DEFAULT 0;
-- Event and suspend waits: the topic, the last sequence id the wait has
-- already seen (it takes the first event after it), and what a suspend shows.
ALTER TABLE executions ADD COLUMN wait_topic TEXT;
ALTER TABLE executions ADD COLUMN wait_cursor INTEGER;
ALTER TABLE executions ADD COLUMN wait_data TEXT;
-- run_timeout_seconds: the deadline is set when the run first starts.
ALTER TABLE executions ADD COLUMN run_timeout_seconds REAL;
ALTER TABLE executions ADD COLUMN deadline_at REAL;
-- Workflow state (state_schema): replays start from the initial state; the
-- current one is saved at each wait and at the end, for people to read.
ALTER TABLE executions ADD COLUMN initial_state TEXT;
ALTER TABLE executions ADD COLUMN state TEXT;
-- A step's state snapshot, when the step changed the state.
ALTER TABLE steps ADD COLUMN state TEXT;

CREATE INDEX executions_children ON executions (parent_execution_id, step_key, child_index);
CREATE INDEX executions_event_waits ON executions (wait_topic) WHERE status = 'waiting' AND wait_topic IS NOT NULL;
CREATE INDEX executions_deadlines ON executions (deadline_at) WHERE deadline_at IS NOT NULL AND status IN ('queued', 'running', 'waiting');

-- Events: one durable log; seq increases with commit order (SQLite has one writer).
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    event_type TEXT,
    data TEXT NOT NULL,
    created_at REAL NOT NULL
);

CREATE INDEX events_topic ON events (topic, seq);

CREATE TABLE schedules (
    schedule_id TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    key TEXT NOT NULL,
    cron TEXT NOT NULL,
    timezone TEXT NOT NULL,
    next_fire_at REAL NOT NULL,
    last_fire_at REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);

CREATE INDEX schedules_due ON schedules (next_fire_at);

-- Event triggers: each consumes its topic from a cursor, so every event (or
-- batch) starts exactly one run, even if published while no worker ran.
CREATE TABLE triggers (
    workflow_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    batch_size INTEGER NOT NULL,
    batch_timeout_seconds REAL,
    cursor INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (workflow_id, topic)
);
