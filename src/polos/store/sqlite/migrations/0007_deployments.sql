-- Polos's deployment_id: which deployment started a run, and which one a worker runs.
ALTER TABLE executions ADD COLUMN deployment_id TEXT;
ALTER TABLE workers ADD COLUMN deployment_id TEXT;
