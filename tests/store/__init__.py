"""The store contract: what every ``Store`` backend must do, on every backend.

Each test gets a store built by ``polos.store.store_from_url`` and opened,
once on SQLite and once on a fresh PostgreSQL schema; a third backend joins
by being reachable from ``store_from_url`` and added to the ``backend``
fixture. One module per area, each naming the methods it covers:

- ``test_submit``: open, close, create_execution(s), get/list executions
- ``test_claims``: claim, heartbeat, release_execution,
  requeue_expired_leases, requeue_worker
- ``test_steps``: record_step (fenced), get_step, list_steps, add_history,
  list_history
- ``test_outcomes``: complete_execution, fail_execution (fenced)
- ``test_waits``: begin_wait, wait_for_event, fire_due_timers,
  expire_deadlines, next_timer_at, list_waits
- ``test_children``: start_children, the parent woken by its last child,
  list_run_tree
- ``test_events``: publish_events, read_events
- ``test_cancel``: cancel_execution (trees)
- ``test_schedules``: upsert/list/delete/due/fire_schedule (exactly once)
- ``test_queues``: upsert_queue, list_queues, queue_counts, admission limits
- ``test_triggers``: upsert/list/fire_trigger (exactly once)
- ``test_registry``: workflows served, workers
- ``test_push_workers``: push (SDK) workers, the result class of a run, the
  runs held by a set of workers (runs_held_by)
- ``test_signals``: the hub woken after every commit
- ``test_checklist``: every abstract method of ``Store`` is exercised here
"""
