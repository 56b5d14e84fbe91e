-- Start the children of many parents in one call: the group commit of
-- start_children, which sent several statements per parent (a round trip
-- each). Parents come in the caller's lock order (by id, so that batches lock
-- parent rows in one order), never one twice. Each parent, one after the
-- other, with a fresh snapshot per statement as those statements had (a
-- parent sees the children queued by the parents before it):
--   * on a retry after a lost connection (p_retrying), a step or a wait of
--     its attempt on its step key already there is the first try's: 1;
--   * its fence: the parent running on its attempt, else 0; held by its
--     park on the children (p_waits[i], as begin_wait), else locked FOR
--     UPDATE; the children are inserted after the park, in this transaction;
--   * a child without an idempotency key whose id exists refuses the parent:
--     2 and that id, nothing of the parent written. On a retry too: a parent
--     whose first try committed stopped at the first point, so that id is
--     not this call's (and a refusal committed with the others holds);
--   * its children, as insert_executions_claimed (the eager ones taken for
--     the parent's worker p_owners[i], if any): 1.
-- Then, for every parent accepted so, in one statement each: its deferred
-- steps (as record_step; s_parents[j] is step j's parent), and the invoke
-- steps of those that do not wait.
-- Children follow one another in the c_ arrays, p_child_counts[i] of them
-- for parent i. Rows: one per child taken at once (o_n its parent's 1-based
-- position, o_taken; a parent's in its children's order), then one per parent
-- (o_n, o_outcome, o_refused). A child id that appeared after the check
-- (a concurrent insert that committed meanwhile) raises unique_violation on
-- executions.id, the id in DETAIL: nothing of the call is written.
CREATE FUNCTION polos_start_children(
    p_ids TEXT[], p_attempts INTEGER[], p_step_keys TEXT[], p_waits BOOLEAN[],
    p_outputs TEXT[], p_nows DOUBLE PRECISION[], p_states TEXT[],
    p_wake_ats DOUBLE PRECISION[], p_wait_details TEXT[],
    p_owners TEXT[], p_claim_nows DOUBLE PRECISION[], p_lease_untils DOUBLE PRECISION[],
    p_claim_details TEXT[], p_deployments TEXT[],
    p_child_counts INTEGER[], s_parents INTEGER[],
    s_keys TEXT[], s_kinds TEXT[], s_names TEXT[], s_outputs TEXT[], s_errors TEXT[],
    s_created_ats DOUBLE PRECISION[], s_states TEXT[], s_started_ats DOUBLE PRECISION[],
    c_ids TEXT[], c_workflow_ids TEXT[], c_payloads TEXT[], c_created_ats DOUBLE PRECISION[],
    c_parent_ids TEXT[], c_root_ids TEXT[], c_root_workflow_ids TEXT[], c_step_keys TEXT[],
    c_session_ids TEXT[], c_user_ids TEXT[], c_child_indexes INTEGER[],
    c_run_timeouts DOUBLE PRECISION[], c_states TEXT[], c_queue_names TEXT[],
    c_concurrency_keys TEXT[], c_priorities INTEGER[], c_idempotency_keys TEXT[],
    c_schedule_ids TEXT[], c_deployment_ids TEXT[], c_trace_contexts TEXT[],
    c_eager BOOLEAN[],
    p_channel TEXT, p_retrying BOOLEAN
) RETURNS TABLE (o_n INTEGER, o_outcome INTEGER, o_refused TEXT, o_taken executions)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    v_count INTEGER := COALESCE(array_length(p_ids, 1), 0);
    v_id TEXT;
    v_attempt INTEGER;
    v_key TEXT;
    v_owner TEXT;
    v_lo INTEGER;
    v_hi INTEGER := 0;
    v_created TEXT[];
    v_queued BOOLEAN;
    v_taken executions[];
    v_refused TEXT;
    v_outcomes INTEGER[] := array_fill(0, ARRAY[v_count]);
    v_refusals TEXT[] := array_fill(NULL::TEXT, ARRAY[v_count]);
    v_accepted INTEGER[] := '{}';
    v_parked INTEGER;
    v_tries INTEGER;
    v_timer BOOLEAN := FALSE;
BEGIN
    FOR i IN 1 .. v_count LOOP
        v_id := p_ids[i];
        v_attempt := p_attempts[i];
        v_key := p_step_keys[i];
        v_owner := p_owners[i];
        v_lo := v_hi + 1;
        v_hi := v_hi + p_child_counts[i];
        IF p_retrying AND (
            EXISTS (SELECT 1 FROM steps
                    WHERE execution_id = v_id AND step_key = v_key AND attempt = v_attempt)
            OR EXISTS (SELECT 1 FROM executions
                       WHERE id = v_id AND attempt = v_attempt AND status = 'waiting'
                         AND wait_step_key = v_key)) THEN
            -- Its children (if any) were taken by the first try: their leases
            -- expire and they are claimed again.
            v_outcomes[i] := 1;
            CONTINUE;
        END IF;
        v_parked := 0;
        v_refused := NULL;
        v_tries := 0;
        LOOP
            v_tries := v_tries + 1;
            IF p_waits[i] THEN
                -- Its fence and its park on the children at once (its children
                -- are inserted next, in this transaction), unless one of them
                -- has an id that exists.
                WITH parked AS (
                    UPDATE executions
                    SET status = 'waiting', owner = NULL, lease_expires_at = NULL,
                        wait_step_key = v_key, wait_kind = 'children',
                        wake_at = p_wake_ats[i], wait_topic = NULL, wait_cursor = NULL,
                        wait_data = NULL, pending_children = p_child_counts[i],
                        state = COALESCE(p_states[i], state), updated_at = p_nows[i]
                    WHERE id = v_id AND attempt = v_attempt AND status = 'running'
                      AND NOT EXISTS (
                          SELECT 1
                          FROM unnest(c_ids[v_lo:v_hi], c_idempotency_keys[v_lo:v_hi])
                               AS n(id, idempotency_key)
                          WHERE n.idempotency_key IS NULL
                            AND EXISTS (SELECT 1 FROM executions x WHERE x.id = n.id))
                    RETURNING id
                ), logged AS (
                    INSERT INTO history (execution_id, at, event, attempt, detail)
                    SELECT id, p_nows[i], 'waiting', v_attempt, p_wait_details[i] FROM parked
                )
                SELECT count(*) INTO v_parked FROM parked;
                EXIT WHEN v_parked > 0;
            END IF;
            -- Its fence (or why it did not park): running on its attempt,
            -- locked FOR UPDATE, and the first child id that exists.
            SELECT (SELECT n.id
                    FROM unnest(c_ids[v_lo:v_hi], c_idempotency_keys[v_lo:v_hi])
                         WITH ORDINALITY AS n(id, idempotency_key, position)
                    WHERE n.idempotency_key IS NULL
                      AND EXISTS (SELECT 1 FROM executions x WHERE x.id = n.id)
                    ORDER BY n.position LIMIT 1)
            INTO v_refused
            FROM executions
            WHERE id = v_id AND attempt = v_attempt AND status = 'running' FOR UPDATE;
            IF NOT FOUND THEN
                v_tries := 0;  -- fenced off: 0
                EXIT;
            END IF;
            EXIT WHEN v_refused IS NOT NULL OR NOT p_waits[i];
            -- The child id that stopped its park is gone: park again (twice
            -- at most; then the park is refused, as begin_wait may be).
            IF v_tries > 2 THEN
                v_tries := 0;
                EXIT;
            END IF;
        END LOOP;
        IF v_tries = 0 THEN
            CONTINUE;
        ELSIF v_refused IS NOT NULL THEN
            v_outcomes[i] := 2;
            v_refusals[i] := v_refused;
            CONTINUE;
        ELSIF v_parked > 0 AND p_wake_ats[i] IS NOT NULL THEN
            v_timer := TRUE;
        END IF;
        v_outcomes[i] := 1;
        v_accepted := v_accepted || i;
        IF v_hi >= v_lo THEN
            WITH new AS (
                SELECT * FROM unnest(
                    c_ids[v_lo:v_hi], c_workflow_ids[v_lo:v_hi], c_payloads[v_lo:v_hi],
                    c_created_ats[v_lo:v_hi], c_parent_ids[v_lo:v_hi], c_root_ids[v_lo:v_hi],
                    c_root_workflow_ids[v_lo:v_hi], c_step_keys[v_lo:v_hi],
                    c_session_ids[v_lo:v_hi], c_user_ids[v_lo:v_hi], c_child_indexes[v_lo:v_hi],
                    c_run_timeouts[v_lo:v_hi], c_states[v_lo:v_hi], c_queue_names[v_lo:v_hi],
                    c_concurrency_keys[v_lo:v_hi], c_priorities[v_lo:v_hi],
                    c_idempotency_keys[v_lo:v_hi], c_schedule_ids[v_lo:v_hi],
                    c_deployment_ids[v_lo:v_hi], c_trace_contexts[v_lo:v_hi], c_eager[v_lo:v_hi]
                ) WITH ORDINALITY AS n(
                    id, workflow_id, payload, created_at, parent_execution_id, root_execution_id,
                    root_workflow_id, step_key, session_id, user_id, child_index,
                    run_timeout_seconds, state, queue_name, concurrency_key, priority,
                    idempotency_key, schedule_id, deployment_id, trace_context, eager, position
                )
            ), taken AS (
                SELECT n.id AS taken_id FROM new n
                WHERE v_owner IS NOT NULL AND n.eager AND n.queue_name <> ''
                  AND NOT EXISTS (SELECT 1 FROM queues q WHERE q.name = n.queue_name
                                  AND (q.concurrency_limit IS NOT NULL
                                       OR q.rate_limit IS NOT NULL))
                  AND NOT EXISTS (SELECT 1 FROM executions x
                                  WHERE x.workflow_id = n.workflow_id AND x.status = 'queued')
            ), created AS (
                INSERT INTO executions (
                    id, workflow_id, status, payload, attempt, created_at, updated_at,
                    parent_execution_id, root_execution_id, root_workflow_id, step_key,
                    session_id, user_id, child_index, run_timeout_seconds, initial_state, state,
                    queue_name, concurrency_key, priority, idempotency_key, schedule_id,
                    deployment_id, trace_context, event_cursor, owner, lease_expires_at,
                    started_at, deadline_at
                )
                SELECT n.id, n.workflow_id,
                       CASE WHEN t.taken_id IS NULL THEN 'queued' ELSE 'running' END,
                       n.payload, CASE WHEN t.taken_id IS NULL THEN 0 ELSE 1 END, n.created_at,
                       CASE WHEN t.taken_id IS NULL THEN n.created_at ELSE p_claim_nows[i] END,
                       n.parent_execution_id, n.root_execution_id, n.root_workflow_id,
                       n.step_key, n.session_id, n.user_id, n.child_index,
                       n.run_timeout_seconds, n.state, n.state, n.queue_name,
                       n.concurrency_key, n.priority, n.idempotency_key, n.schedule_id,
                       CASE WHEN t.taken_id IS NULL THEN n.deployment_id
                            ELSE COALESCE(n.deployment_id, p_deployments[i]) END,
                       n.trace_context,
                       -- the run's waits see events published from now on (docs/durability.md)
                       (SELECT COALESCE(max(seq), 0) FROM events),
                       CASE WHEN t.taken_id IS NOT NULL THEN v_owner END,
                       CASE WHEN t.taken_id IS NOT NULL THEN p_lease_untils[i] END,
                       CASE WHEN t.taken_id IS NOT NULL
                            THEN GREATEST(p_claim_nows[i], n.created_at) END,
                       CASE WHEN t.taken_id IS NOT NULL
                            THEN p_claim_nows[i] + n.run_timeout_seconds END
                FROM new n LEFT JOIN taken t ON t.taken_id = n.id
                ORDER BY n.position
                ON CONFLICT DO NOTHING
                RETURNING executions AS r, id, status
            ), logged AS (
                INSERT INTO history (execution_id, at, event, attempt, detail)
                SELECT c.id, (c.r).created_at, 'created', 0, NULL FROM created c
                UNION ALL
                SELECT c.id, p_claim_nows[i], 'claimed', 1, p_claim_details[i]
                FROM created c WHERE c.status = 'running'
            )
            SELECT COALESCE((SELECT array_agg(c.id) FROM created c), '{}'),
                   EXISTS (SELECT 1 FROM created c WHERE c.status = 'queued'),
                   COALESCE((SELECT array_agg(c.r ORDER BY n.position)
                             FROM new n JOIN created c ON c.id = n.id
                             WHERE c.status = 'running'), '{}'),
                   (SELECT n.id FROM new n
                    WHERE n.idempotency_key IS NULL
                      AND NOT EXISTS (SELECT 1 FROM created c WHERE c.id = n.id)
                    ORDER BY n.position LIMIT 1)
            INTO v_created, v_queued, v_taken, v_refused;
            IF v_refused IS NOT NULL THEN
                -- Inserted by a transaction that committed after the check above,
                -- when some of this parent was written: nothing of the call stays.
                RAISE EXCEPTION 'an execution with id % already exists', v_refused
                    USING ERRCODE = 'unique_violation', TABLE = 'executions', COLUMN = 'id',
                          DETAIL = v_refused;
            END IF;
            IF v_queued THEN
                PERFORM pg_notify(p_channel, 'q');
            END IF;
            IF p_retrying AND v_owner IS NOT NULL AND cardinality(v_taken) = 0 THEN
                -- The first try may have committed before the connection dropped:
                -- start what it took rather than leave it to its lease.
                SELECT COALESCE(array_agg(e ORDER BY n.position), '{}') INTO v_taken
                FROM unnest(c_ids[v_lo:v_hi], c_idempotency_keys[v_lo:v_hi])
                     WITH ORDINALITY AS n(id, idempotency_key, position)
                JOIN executions e ON e.id = CASE
                    WHEN n.idempotency_key IS NOT NULL AND NOT (n.id = ANY(v_created))
                    THEN COALESCE((SELECT x.id FROM executions x
                                   WHERE x.idempotency_key = n.idempotency_key), n.id)
                    ELSE n.id END
                WHERE e.status = 'running' AND e.owner = v_owner AND e.attempt = 1;
            END IF;
            o_n := i;
            FOREACH o_taken IN ARRAY v_taken LOOP
                RETURN NEXT;
            END LOOP;
        END IF;
    END LOOP;
    IF v_timer THEN
        PERFORM pg_notify(p_channel, 't');
    END IF;
    IF cardinality(v_accepted) > 0 THEN
        -- The accepted parents' deferred steps: they commit with the children.
        INSERT INTO steps (
            execution_id, step_key, kind, name, output, error, attempt, created_at, state,
            started_at
        )
        SELECT p_ids[s.parent], s.step_key, s.kind, s.name, s.output, s.error,
               p_attempts[s.parent], s.created_at, s.state, s.started_at
        FROM unnest(s_parents, s_keys, s_kinds, s_names, s_outputs, s_errors, s_created_ats,
                    s_states, s_started_ats)
             WITH ORDINALITY AS s(parent, step_key, kind, name, output, error, created_at,
                                  state, started_at, position)
        WHERE s.parent = ANY(v_accepted)
        ORDER BY s.position
        ON CONFLICT DO NOTHING;
        -- Their invoke steps (the handles), when they do not wait.
        INSERT INTO steps (execution_id, step_key, kind, name, output, error, attempt,
                           created_at)
        SELECT p_ids[a], p_step_keys[a], 'invoke', '', p_outputs[a], NULL, p_attempts[a],
               p_nows[a]
        FROM unnest(v_accepted) AS a WHERE NOT p_waits[a]
        ON CONFLICT DO NOTHING;
    END IF;
    FOR i IN 1 .. v_count LOOP
        o_n := i;
        o_outcome := v_outcomes[i];
        o_refused := v_refusals[i];
        o_taken := NULL;
        RETURN NEXT;
    END LOOP;
END $$;
