"""The API's routes, one module per area; each exports ``ENDPOINTS``."""

from __future__ import annotations

from ..endpoint import Endpoint
from ..protocol import callbacks, definitions, registry, spans, waits
from ..protocol import sessions as agent_sessions
from ..protocol import state as agent_state
from . import (
    approvals,
    catalog,
    events,
    executions,
    health,
    operations,
    runs,
    schedules,
    slack,
    stream,
    webhooks,
    workflows,
)


def all_endpoints() -> list[Endpoint]:
    # Order matters where paths overlap: /api/v1/workflows/runs before /{workflow_id}.
    return [
        *health.ENDPOINTS,
        *runs.ENDPOINTS,
        *operations.ENDPOINTS,
        *executions.ENDPOINTS,
        *workflows.ENDPOINTS,
        *catalog.ENDPOINTS,
        *events.ENDPOINTS,
        *stream.ENDPOINTS,
        *schedules.ENDPOINTS,
        *approvals.ENDPOINTS,
        *webhooks.ENDPOINTS,
        *slack.ENDPOINTS,
        *definitions.ENDPOINTS,
        *spans.ENDPOINTS,
        *agent_state.ENDPOINTS,
        *agent_sessions.ENDPOINTS,
        *waits.ENDPOINTS,
        *registry.ENDPOINTS,
        *callbacks.ENDPOINTS,
    ]
