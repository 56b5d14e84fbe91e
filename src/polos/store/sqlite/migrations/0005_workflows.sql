-- Which workflows some worker has served on this database, so a client that
-- does not define a workflow itself can still tell an unknown id from a
-- workflow that simply has no worker running right now.
CREATE TABLE workflows (
    workflow_id TEXT PRIMARY KEY,
    queue_name TEXT NOT NULL,
    updated_at REAL NOT NULL
);
