-- Fewer index entries per run on PostgreSQL. A change of status cannot be a
-- HOT update (status is indexed), so each one adds an entry to every index
-- whose predicate the row meets. Three of those entries served no query:
--
-- * executions_parent (parent_execution_id) duplicates the leading column of
--   executions_children: dropped.
-- * executions_children indexed every top-level run under a NULL parent,
--   which no query looks for (each asks for a given parent): now partial.
-- * executions_root indexed every top-level run under its own id; the two
--   queries that read it look for descendants only (list_run_tree excludes
--   the root, the retention sweep checks the root itself on its own row), so
--   it now holds descendants only, with the predicate those queries state.
--
-- bench/bench_pg_index_writes.py times a status change of a top-level run
-- with the indexes before and after this (docs/benchmarks.md).
DROP INDEX executions_parent;
DROP INDEX executions_children;
CREATE INDEX executions_children ON executions (parent_execution_id, step_key, child_index)
    WHERE parent_execution_id IS NOT NULL;
DROP INDEX executions_root;
CREATE INDEX executions_root ON executions (root_execution_id, created_at)
    WHERE id <> root_execution_id;
