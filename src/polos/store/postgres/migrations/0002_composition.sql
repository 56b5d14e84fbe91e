-- Composition, events, human-in-the-loop, state, schedules and event triggers.
-- This file runs as one script (not split on ";"), because the functions
-- below have bodies. search_path is the Polos schema while it runs, and
-- "SET search_path FROM CURRENT" pins it inside each function.

-- Children: which parent step created them, in which order; a waiting parent
-- counts the children it still waits for, so each completion is O(1).
-- Event and suspend waits: the topic, the last sequence id the wait has
-- already seen (it takes the first event after it), and what a suspend shows.
-- run_timeout_seconds: the deadline is set when the run first starts.
-- Workflow state: replays start from the initial state; the current one is
-- saved at each wait and at the end, for people to read.
ALTER TABLE executions
    ADD COLUMN child_index INTEGER,
    ADD COLUMN pending_children INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN wait_topic TEXT,
    ADD COLUMN wait_cursor BIGINT,
    ADD COLUMN wait_data TEXT,
    ADD COLUMN run_timeout_seconds DOUBLE PRECISION,
    ADD COLUMN deadline_at DOUBLE PRECISION,
    ADD COLUMN initial_state TEXT,
    ADD COLUMN state TEXT;

-- A step's state snapshot, when the step changed the state.
ALTER TABLE steps ADD COLUMN state TEXT;

CREATE INDEX executions_children ON executions (parent_execution_id, step_key, child_index);
CREATE INDEX executions_event_waits ON executions (wait_topic)
    WHERE status = 'waiting' AND wait_topic IS NOT NULL;
CREATE INDEX executions_deadlines ON executions (deadline_at)
    WHERE deadline_at IS NOT NULL AND status IN ('queued', 'running', 'waiting');

-- Events: one durable log. Publishers hold a per-schema advisory lock from
-- before they take a sequence id until they commit, so seq order is commit
-- order: a reader that has seen seq N has seen every event below N.
CREATE TABLE events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    event_type TEXT,
    data TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE INDEX events_topic ON events (topic, seq);

CREATE TABLE schedules (
    schedule_id TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    key TEXT NOT NULL,
    cron TEXT NOT NULL,
    timezone TEXT NOT NULL,
    next_fire_at DOUBLE PRECISION NOT NULL,
    last_fire_at DOUBLE PRECISION,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);

CREATE INDEX schedules_due ON schedules (next_fire_at);

-- Event triggers: each consumes its topic from a cursor, so every event (or
-- batch) starts exactly one run, even if published while no worker ran.
CREATE TABLE triggers (
    workflow_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    batch_size INTEGER NOT NULL,
    batch_timeout_seconds DOUBLE PRECISION,
    cursor BIGINT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (workflow_id, topic)
);

-- Transitions that touch several executions run as functions, so each is
-- one round trip and one transaction. In READ COMMITTED every statement in
-- a (volatile) function takes a fresh snapshot, so a statement that follows
-- a row lock sees whatever the previous lock holder committed.

-- Resolve a wait: requeue the execution and record the waiting step's
-- outcome, only if it still waits on that very step (a late or duplicate
-- resolver changes nothing). Returns whether it resolved.
CREATE FUNCTION polos_resolve_wait(
    p_id TEXT, p_key TEXT, p_kind TEXT, p_attempt INTEGER, p_now DOUBLE PRECISION,
    p_output TEXT, p_error TEXT, p_by TEXT
) RETURNS BOOLEAN LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE executions
    SET status = 'queued', wait_step_key = NULL, wait_kind = NULL, wake_at = NULL,
        wait_topic = NULL, wait_cursor = NULL, wait_data = NULL, pending_children = 0,
        updated_at = p_now
    WHERE id = p_id AND status = 'waiting' AND wait_step_key = p_key AND attempt = p_attempt;
    IF NOT FOUND THEN
        RETURN FALSE;
    END IF;
    INSERT INTO steps (execution_id, step_key, kind, name, output, error, attempt, created_at)
    VALUES (p_id, p_key, p_kind, '', p_output, p_error, p_attempt, p_now)
    ON CONFLICT DO NOTHING;
    INSERT INTO history (execution_id, at, event, attempt, detail)
    VALUES (p_id, p_now, 'resumed', p_attempt,
            jsonb_build_object('step_key', p_key, 'by', p_by)::text);
    RETURN TRUE;
END $$;

-- An execution just ended: if its parent waits on its batch, count it down;
-- the last child records every child's outcome (in order) as the parent's
-- step output and requeues the parent. Returns whether a parent was requeued.
CREATE FUNCTION polos_child_ended(p_id TEXT, p_now DOUBLE PRECISION)
RETURNS BOOLEAN LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    v_parent TEXT;
    v_key TEXT;
    v_left INTEGER;
    v_attempt INTEGER;
    v_children TEXT;
BEGIN
    SELECT parent_execution_id, step_key INTO v_parent, v_key FROM executions WHERE id = p_id;
    IF v_parent IS NULL OR v_key IS NULL THEN
        RETURN FALSE;
    END IF;
    -- The row lock orders siblings ending at once: exactly one sees zero.
    UPDATE executions SET pending_children = pending_children - 1
    WHERE id = v_parent AND status = 'waiting' AND wait_kind = 'children' AND wait_step_key = v_key
    RETURNING pending_children, attempt INTO v_left, v_attempt;
    IF NOT FOUND OR v_left > 0 THEN
        RETURN FALSE;
    END IF;
    SELECT json_agg(json_build_object(
               'execution_id', id, 'workflow_id', workflow_id, 'status', status,
               'success', status = 'completed', 'result', result::json, 'error', error::json)
           ORDER BY child_index)::text
    INTO v_children
    FROM executions WHERE parent_execution_id = v_parent AND step_key = v_key;
    RETURN polos_resolve_wait(v_parent, v_key, 'children', v_attempt, p_now, v_children, NULL,
                              'children');
END $$;

-- Complete or fail a running execution (fenced by attempt). Returns 0 when
-- refused, 1 when done, 2 when done and a waiting parent was requeued. A
-- retry after a lost connection finds its own earlier commit and returns 1.
CREATE FUNCTION polos_finish(
    p_id TEXT, p_attempt INTEGER, p_status TEXT, p_value TEXT, p_state TEXT,
    p_now DOUBLE PRECISION, p_channel TEXT
) RETURNS INTEGER LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE executions
    SET status = p_status,
        result = CASE WHEN p_status = 'completed' THEN p_value ELSE result END,
        error = CASE WHEN p_status = 'failed' THEN p_value ELSE error END,
        state = COALESCE(p_state, state), owner = NULL, lease_expires_at = NULL,
        completed_at = p_now, updated_at = p_now
    WHERE id = p_id AND attempt = p_attempt AND status = 'running';
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM executions
                   WHERE id = p_id AND attempt = p_attempt AND status = p_status) THEN
            RETURN 1;
        END IF;
        RETURN 0;
    END IF;
    INSERT INTO history (execution_id, at, event, attempt, detail)
    VALUES (p_id, p_now, p_status, p_attempt, NULL);
    PERFORM pg_notify(p_channel, 'f:' || p_id);
    -- Fire-and-forget children outlive their parent; only a wait ties them.
    IF polos_child_ended(p_id, p_now) THEN
        PERFORM pg_notify(p_channel, 'q');
        RETURN 2;
    END IF;
    RETURN 1;
END $$;

-- End p_root with p_status (cancelled, or failed at its deadline) and cancel
-- its active descendants. Returns the ids it ended; empty if none was active.
CREATE FUNCTION polos_end_tree(
    p_root TEXT, p_status TEXT, p_error TEXT, p_event TEXT, p_now DOUBLE PRECISION,
    p_cancelled_error TEXT, p_channel TEXT
) RETURNS TEXT[] LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    v_row RECORD;
    v_ended TEXT[] := '{}';
    v_root_ended BOOLEAN := FALSE;
BEGIN
    FOR v_row IN
        WITH RECURSIVE tree(id) AS (
            SELECT p_root
            UNION ALL
            SELECT e.id FROM executions e JOIN tree ON e.parent_execution_id = tree.id
        )
        SELECT e.id, e.status, e.attempt FROM executions e
        WHERE e.id IN (SELECT tree.id FROM tree) AND e.status IN ('queued', 'running', 'waiting')
        ORDER BY e.id  -- one lock order for everyone: no deadlocks between two cancels
        FOR UPDATE OF e
    LOOP
        UPDATE executions
        SET status = CASE WHEN id = p_root THEN p_status ELSE 'cancelled' END,
            error = COALESCE(CASE WHEN id = p_root THEN p_error ELSE p_cancelled_error END, error),
            owner = NULL, lease_expires_at = NULL, wait_step_key = NULL, wait_kind = NULL,
            wake_at = NULL, wait_topic = NULL, wait_cursor = NULL, wait_data = NULL,
            pending_children = 0, completed_at = p_now, updated_at = p_now
        WHERE id = v_row.id;
        INSERT INTO history (execution_id, at, event, attempt, detail)
        VALUES (
            v_row.id, p_now,
            CASE WHEN v_row.id = p_root THEN p_event ELSE 'cancelled' END,
            v_row.attempt,
            CASE WHEN v_row.id = p_root
                 THEN jsonb_build_object('previous_status', v_row.status)::text
                 ELSE jsonb_build_object('by', p_root)::text END
        );
        PERFORM pg_notify(p_channel, 'c:' || v_row.id);
        v_ended := v_ended || v_row.id;
        v_root_ended := v_root_ended OR v_row.id = p_root;
    END LOOP;
    -- Only the root's own ending counts for its parent (it counted once already
    -- if it had ended before and only descendants were left).
    IF v_root_ended AND polos_child_ended(p_root, p_now) THEN
        PERFORM pg_notify(p_channel, 'q');
    END IF;
    RETURN v_ended;
END $$;
