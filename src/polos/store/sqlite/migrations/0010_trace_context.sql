-- The W3C traceparent a run was started under, so its spans join that trace.
ALTER TABLE executions ADD COLUMN trace_context TEXT;
