-- polos_finish_resume (0023), two changes:
-- * it also returns, in taken_step, the step that the ending of its last child
--   recorded for the parent it claims: the outcome of the parent's wait, as
--   stored. The parent's worker holds it in memory and reads only that step;
--   it comes back in the same statement instead of a round trip of its own
--   (Store.complete_and_resume);
-- * that parent goes from waiting to running in one write of its row, not
--   two (requeued, then claimed), as SQLite's complete_and_resume does.
-- A new OUT parameter changes the function's type, so it is dropped and made
-- again; its other columns are as before, so a statement written for 0023
-- still reads them.
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
    v_left INTEGER;
    v_attempt INTEGER;
    v_children TEXT;
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
    IF v_parent IS NULL OR v_key IS NULL OR NOT v_parent = ANY(p_eligible) THEN
        -- As polos_finish: the parent is counted down, requeued after its last child.
        IF polos_child_ended(p_id, p_now) THEN
            outcome := 2;
            PERFORM pg_notify(p_channel, 'q');
        ELSE
            outcome := 1;
        END IF;
        RETURN;
    END IF;
    -- The parent is held by p_owner's worker. It is counted down as
    -- polos_child_ended does (the row lock orders siblings ending at once);
    -- after its last child, its wait ends and it is claimed in one write of its
    -- row (waiting to running), where requeueing it and then claiming it wrote
    -- the row twice, each a new version with an entry in every index.
    UPDATE executions SET pending_children = pending_children - 1
    WHERE id = v_parent AND status = 'waiting' AND wait_kind = 'children' AND wait_step_key = v_key
    RETURNING pending_children, attempt INTO v_left, v_attempt;
    IF NOT FOUND OR v_left > 0 THEN
        outcome := 1;
        RETURN;
    END IF;
    outcome := 2;
    SELECT json_agg(json_build_object(
               'execution_id', id, 'workflow_id', workflow_id, 'status', status,
               'success', status = 'completed', 'result', result::json, 'error', error::json)
           ORDER BY child_index)::text
    INTO v_children
    FROM executions WHERE parent_execution_id = v_parent AND step_key = v_key;
    UPDATE executions e
    SET status = 'running', wait_step_key = NULL, wait_kind = NULL, wake_at = NULL,
        wait_topic = NULL, wait_cursor = NULL, wait_data = NULL, pending_children = 0,
        owner = p_owner, attempt = e.attempt + 1, lease_expires_at = p_lease_until,
        started_at = COALESCE(e.started_at, GREATEST(p_claim_now, e.created_at)),
        updated_at = p_claim_now,
        deadline_at = COALESCE(e.deadline_at, p_claim_now + e.run_timeout_seconds),
        deployment_id = COALESCE(e.deployment_id, p_deployment),
        event_cursor = COALESCE(e.event_cursor, (SELECT COALESCE(max(seq), 0) FROM events))
    WHERE e.id = v_parent AND e.queue_name <> ''
      AND NOT EXISTS (SELECT 1 FROM queues q WHERE q.name = e.queue_name
                      AND (q.concurrency_limit IS NOT NULL OR q.rate_limit IS NOT NULL))
    RETURNING e.* INTO taken;
    IF NOT FOUND THEN
        -- On a queue with limits (admission decides) or none assigned yet:
        -- requeued, as polos_finish leaves it.
        PERFORM polos_resolve_wait(v_parent, v_key, 'children', v_attempt, p_now, v_children,
                                   NULL, 'children');
        PERFORM pg_notify(p_channel, 'q');
        RETURN;
    END IF;
    -- What polos_resolve_wait records, then the claim, as a claim records it.
    INSERT INTO steps (execution_id, step_key, kind, name, output, error, attempt, created_at)
    VALUES (v_parent, v_key, 'children', '', v_children, NULL, v_attempt, p_now)
    ON CONFLICT DO NOTHING;
    INSERT INTO history (execution_id, at, event, attempt, detail)
    VALUES (v_parent, p_now, 'resumed', v_attempt,
            jsonb_build_object('step_key', v_key, 'by', 'children')::text),
           (v_parent, p_claim_now, 'claimed', taken.attempt, p_detail);
    -- The outcome just recorded: the parent's worker holds it in memory and
    -- would otherwise read this row back.
    SELECT * INTO taken_step FROM steps s WHERE s.execution_id = v_parent AND s.step_key = v_key;
END $$;
