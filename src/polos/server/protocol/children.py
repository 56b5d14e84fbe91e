"""Child workflows started by a run an SDK worker serves.

The SDK's ``ctx.step.invoke*`` submit children through the public run routes
(``/api/v1/workflows/{id}/run`` and ``/batch_run``) with the parent's ids:
``parent_execution_id``, ``root_execution_id``, and, when the parent waits
(``invoke_and_wait``, ``batch_invoke_and_wait``, ``agent_invoke_and_wait``),
``step_key`` and ``wait_for_subworkflow``. The SDK then ends its task with no
further call, expecting the parent to be parked already.

So a waiting submission is our ``start_children``: the children are created
and the parent parks on the step in ONE fenced transaction, and the last child
to end records every child's outcome as the step and requeues the parent in
the transaction that ends it, whichever kind of worker runs which. A child
submitted alone (``/run``) is stored without a batch position
(``child_index`` None); that is how :mod:`.waits` knows to give the SDK the
child's result itself rather than a list. A submission that does not wait
creates children linked to the parent (so cancelling the parent cancels them)
and records nothing: the SDK records the handles as its own step.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...engine.submission import Parent, handle_of, prepare_executions
from ...types import BatchWorkflowInput, ExecutionHandle
from ..errors import bad_request, client_errors
from ..state import ServerState
from .waits import lost_run, not_recorded, running_row


async def start_children(
    state: ServerState,
    parent_id: str,
    items: Sequence[BatchWorkflowInput],
    *,
    step_key: str | None,
    wait: bool,
    single: bool,
    worker_id: str | None = None,
) -> list[ExecutionHandle]:
    """Start ``items`` as children of the running execution ``parent_id``."""
    if wait and not step_key:
        raise bad_request(
            "wait_for_subworkflow needs step_key: the parent's step that receives the "
            "children's outcome"
        )
    store, client = state.store, state.client
    what = f"child workflow submission at step {step_key!r}" if wait else "child submission"
    parent = await running_row(store, parent_id, what, worker_id)
    if wait:
        assert step_key is not None
        await not_recorded(store, parent_id, step_key, what)
    with client_errors(arguments=True):
        news = await prepare_executions(
            store,
            list(items),
            clock=client.clock,
            max_payload_bytes=client.max_payload_bytes,
            parent=Parent(parent, step_key or ""),
        )
    for new in news:
        if single:
            new.child_index = None
        if not wait:
            new.step_key = None  # not tied to a step: nothing waits on it
    now = client.clock.now()
    if wait:
        assert step_key is not None
        started = await store.start_children(
            parent_id, parent.attempt, step_key, news, wait=True, output=None, now=now
        )
        if not started:
            raise lost_run(parent_id, step_key)
        state.dispatcher.ended(parent_id)  # the parent parked: its worker's slot is free
        return [handle_of(new) for new in news]
    ids = await store.create_executions(news)
    return [handle_of(new, i) for new, i in zip(news, ids, strict=True)]
