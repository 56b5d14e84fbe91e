-- polos_finish_resume (0023) also returns, in taken_step, the step that the
-- ending of its last child recorded for the parent it claims: the outcome of
-- the parent's wait, as stored. The parent's worker holds it in memory and
-- reads only that step; it comes back in the same statement instead of a
-- round trip of its own (Store.complete_and_resume). A new OUT parameter
-- changes the function's type, so it is dropped and made again; its other
-- columns are as before, so a statement written for 0023 still reads them.
DROP FUNCTION polos_finish_resume(
    TEXT, INTEGER, TEXT, TEXT, TEXT, DOUBLE PRECISION, TEXT,
    TEXT[], TEXT, DOUBLE PRECISION, DOUBLE PRECISION, TEXT, TEXT);

CREATE FUNCTION polos_finish_resume(
    p_id TEXT, p_attempt INTEGER, p_status TEXT, p_value TEXT, p_state TEXT,
    p_now DOUBLE PRECISION, p_channel TEXT,
    p_eligible TEXT[], p_owner TEXT, p_claim_now DOUBLE PRECISION,
    p_lease_until DOUBLE PRECISION, p_detail TEXT, p_deployment TEXT,
    OUT outcome INTEGER, OUT taken executions, OUT taken_step steps
) LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    v_parent TEXT;
    v_key TEXT;
BEGIN
    UPDATE executions
    SET status = p_status,
        result = CASE WHEN p_status = 'completed' THEN p_value ELSE result END,
        error = CASE WHEN p_status = 'failed' THEN p_value ELSE error END,
        state = COALESCE(p_state, state), owner = NULL, lease_expires_at = NULL,
        completed_at = p_now, updated_at = p_now
    WHERE id = p_id AND attempt = p_attempt AND status = 'running'
    RETURNING parent_execution_id, step_key INTO v_parent, v_key;
    IF NOT FOUND THEN
        -- A retry after a lost connection finds its own earlier commit.
        outcome := CASE WHEN EXISTS (SELECT 1 FROM executions
                                     WHERE id = p_id AND attempt = p_attempt
                                       AND status = p_status) THEN 1 ELSE 0 END;
        RETURN;
    END IF;
    INSERT INTO history (execution_id, at, event, attempt, detail)
    VALUES (p_id, p_now, p_status, p_attempt, NULL);
    PERFORM pg_notify(p_channel, 'f:' || p_id);
    IF NOT polos_child_ended(p_id, p_now) THEN
        outcome := 1;
        RETURN;
    END IF;
    outcome := 2;
    IF v_parent = ANY(p_eligible) THEN
        UPDATE executions e
        SET status = 'running', owner = p_owner, attempt = e.attempt + 1,
            lease_expires_at = p_lease_until,
            started_at = COALESCE(e.started_at, GREATEST(p_claim_now, e.created_at)),
            updated_at = p_claim_now,
            deadline_at = COALESCE(e.deadline_at, p_claim_now + e.run_timeout_seconds),
            deployment_id = COALESCE(e.deployment_id, p_deployment),
            event_cursor = COALESCE(e.event_cursor, (SELECT COALESCE(max(seq), 0) FROM events))
        WHERE e.id = v_parent AND e.status = 'queued' AND e.queue_name <> ''
          AND NOT EXISTS (SELECT 1 FROM queues q WHERE q.name = e.queue_name
                          AND (q.concurrency_limit IS NOT NULL OR q.rate_limit IS NOT NULL))
        RETURNING e.* INTO taken;
        IF FOUND THEN
            INSERT INTO history (execution_id, at, event, attempt, detail)
            VALUES (v_parent, p_claim_now, 'claimed', taken.attempt, p_detail);
            -- The outcome polos_child_ended just recorded: the parent's worker
            -- holds it in memory and would otherwise read this row back.
            SELECT * INTO taken_step FROM steps s
            WHERE s.execution_id = v_parent AND s.step_key = v_key;
            RETURN;
        END IF;
    END IF;
    PERFORM pg_notify(p_channel, 'q');
END $$;
