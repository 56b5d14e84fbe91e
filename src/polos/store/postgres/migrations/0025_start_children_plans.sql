-- The statements of polos_start_children run once per parent of a batch: each
-- is planned once per session, not also at each of its first five runs.
ALTER FUNCTION polos_start_children SET plan_cache_mode = force_generic_plan;
