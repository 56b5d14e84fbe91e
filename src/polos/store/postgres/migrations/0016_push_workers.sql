-- Workers that are sent their runs over HTTP (Polos SDK workers registered with
-- `polos server`): where to push, how many runs at once, the workflows they
-- serve and whether they said they are ready. NULL / empty for our own
-- workers, which claim from the database themselves.
ALTER TABLE workers ADD COLUMN push_url TEXT;
ALTER TABLE workers ADD COLUMN capacity INTEGER;
ALTER TABLE workers ADD COLUMN serves TEXT[];
ALTER TABLE workers ADD COLUMN online BOOLEAN NOT NULL DEFAULT TRUE;
-- The class an SDK worker names for a run's result (its pydantic model,
-- "module.Class"), so a parent SDK workflow rebuilds the model it returned.
ALTER TABLE executions ADD COLUMN output_schema_name TEXT;
