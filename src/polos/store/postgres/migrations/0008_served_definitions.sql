-- What each served workflow is (a workflow, an agent or a tool) and how it is
-- defined (an agent's model and tools, a tool's parameters), so that the server
-- can list agents and tools without importing the workers' code.
ALTER TABLE workflows ADD COLUMN workflow_type TEXT NOT NULL DEFAULT 'workflow';
ALTER TABLE workflows ADD COLUMN deployment_id TEXT;
ALTER TABLE workflows ADD COLUMN definition TEXT;
-- When a worker first served it (rows from before this migration read updated_at).
ALTER TABLE workflows ADD COLUMN created_at DOUBLE PRECISION;
