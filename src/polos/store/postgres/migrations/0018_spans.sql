-- Spans that Polos's SDK workers export (POST /internal/spans/batch), in the
-- orchestrator's shape: our own workers export theirs over OTLP and keep none
-- here. JSON columns hold JSON text; times are epoch seconds. A span sent again
-- (the SDK exports an updated span under the same id) replaces the first.
CREATE TABLE IF NOT EXISTS spans (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    name TEXT NOT NULL,
    span_type TEXT NOT NULL,
    attributes TEXT,
    events TEXT,
    input TEXT,
    output TEXT,
    error TEXT,
    initial_state TEXT,
    final_state TEXT,
    started_at DOUBLE PRECISION NOT NULL,
    ended_at DOUBLE PRECISION,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (trace_id, span_id)
);

-- The trace list reads the root spans only, newest first.
CREATE INDEX IF NOT EXISTS spans_roots ON spans (trace_id, started_at) WHERE parent_span_id IS NULL;
