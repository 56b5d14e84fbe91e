-- Complete or fail a running execution as polos_finish does (same fence,
-- history, notifications, outcome 0/1/2), for a worker that holds the
-- execution's parent in memory (p_eligible): when this ending requeues that
-- parent (its last child ended), the parent is claimed for p_owner in this
-- same transaction, as a claim would leave it (attempt + 1, lease, owner,
-- a "claimed" history entry with detail p_detail), and comes back in
-- "taken"; no 'q' notification then, since nobody else has anything to
-- claim. Not on a queue with limits (admission decides those) nor on one not
-- assigned yet: such a parent is requeued and notified as by polos_finish.
-- A parent cancelled meanwhile is not waiting, so polos_child_ended leaves it.
CREATE FUNCTION polos_finish_resume(
    p_id TEXT, p_attempt INTEGER, p_status TEXT, p_value TEXT, p_state TEXT,
    p_now DOUBLE PRECISION, p_channel TEXT,
    p_eligible TEXT[], p_owner TEXT, p_claim_now DOUBLE PRECISION,
    p_lease_until DOUBLE PRECISION, p_detail TEXT, p_deployment TEXT,
    OUT outcome INTEGER, OUT taken executions
) LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    v_parent TEXT;
BEGIN
    UPDATE executions
    SET status = p_status,
        result = CASE WHEN p_status = 'completed' THEN p_value ELSE result END,
        error = CASE WHEN p_status = 'failed' THEN p_value ELSE error END,
        state = COALESCE(p_state, state), owner = NULL, lease_expires_at = NULL,
        completed_at = p_now, updated_at = p_now
    WHERE id = p_id AND attempt = p_attempt AND status = 'running'
    RETURNING parent_execution_id INTO v_parent;
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
            RETURN;
        END IF;
    END IF;
    PERFORM pg_notify(p_channel, 'q');
END $$;
