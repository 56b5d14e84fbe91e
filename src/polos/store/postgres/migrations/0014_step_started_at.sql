-- When a step began (a run step's call, before its retries): with created_at,
-- when it was recorded, it gives the step's real span on a timeline. NULL for
-- steps recorded before this column and for waits resolved by the store.
ALTER TABLE steps ADD COLUMN started_at DOUBLE PRECISION;
