-- executions_root held every top-level run under its own id, a leaf page of
-- the index written with each run's start at a random place (ids are UUIDs).
-- Its queries look for descendants only (list_run_tree excludes the root; the
-- purge takes roots from their own rows), so it now holds descendants only,
-- with the predicate those queries state: about 10% fewer bytes of WAL per
-- run started (docs/benchmarks.md). PostgreSQL's migration 0027 does the same.
DROP INDEX executions_root;
CREATE INDEX executions_root ON executions (root_execution_id, created_at)
    WHERE id <> root_execution_id;
