-- Fewer writes per transition: every index on executions is updated when a
-- run changes status, and AUTOINCREMENT costs an extra write per history row.

-- The admission index orders claims; this one only cost writes.
DROP INDEX executions_queued;

-- One index for children, and only for rows that have a parent.
DROP INDEX executions_parent;
DROP INDEX executions_children;
CREATE INDEX executions_children ON executions (parent_execution_id, step_key, child_index)
    WHERE parent_execution_id IS NOT NULL;

-- History rows are never deleted, so a plain rowid key still only grows.
CREATE TABLE history_new (
    seq INTEGER PRIMARY KEY,
    execution_id TEXT NOT NULL,
    at REAL NOT NULL,
    event TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    detail TEXT
);
INSERT INTO history_new (seq, execution_id, at, event, attempt, detail)
    SELECT seq, execution_id, at, event, attempt, detail FROM history;
DROP TABLE history;
ALTER TABLE history_new RENAME TO history;
CREATE INDEX history_execution ON history (execution_id, seq);
