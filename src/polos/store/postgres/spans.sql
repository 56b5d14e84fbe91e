-- Spans of Polos's SDK workers (see polos/store/spans.py); SPAN_COLUMNS is expanded.

-- name: upsert_span
INSERT INTO spans (SPAN_COLUMNS)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT (trace_id, span_id) DO UPDATE SET parent_span_id = excluded.parent_span_id,
    name = excluded.name, span_type = excluded.span_type, attributes = excluded.attributes,
    events = excluded.events, input = excluded.input, output = excluded.output,
    error = excluded.error, initial_state = excluded.initial_state,
    final_state = excluded.final_state, started_at = excluded.started_at,
    ended_at = excluded.ended_at, updated_at = excluded.updated_at

-- name: trace_spans
SELECT SPAN_COLUMNS FROM spans WHERE trace_id = $1 ORDER BY started_at, span_id

-- name: list_traces
-- One row per trace: its first root span (start, input) and its last (end, output, error).
WITH roots AS (
    SELECT trace_id, span_type, name, input, output, error, started_at, ended_at,
        ROW_NUMBER() OVER (PARTITION BY trace_id ORDER BY started_at, span_id) AS first_n,
        ROW_NUMBER() OVER (PARTITION BY trace_id ORDER BY started_at DESC, span_id DESC) AS last_n
    FROM spans WHERE parent_span_id IS NULL
)
SELECT f.trace_id, f.span_type, f.name, f.input, l.output, l.error, f.started_at, l.ended_at
FROM roots f JOIN roots l ON l.trace_id = f.trace_id AND l.last_n = 1
WHERE f.first_n = 1
    AND ($1::float8 IS NULL OR f.started_at >= $1::float8)
    AND ($2::float8 IS NULL OR l.ended_at <= $2::float8)
    AND ($3::text IS NULL OR f.span_type = $3::text)
    AND ($4::text IS NULL OR strpos(f.name, $4::text) > 0)
    AND ($5::boolean IS NULL OR $5::boolean = (l.error IS NOT NULL))
ORDER BY COALESCE(l.ended_at, f.started_at) DESC, f.trace_id
LIMIT $6 OFFSET $7
