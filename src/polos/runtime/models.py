"""What clients hand back: execution handles and execution views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict
from pydantic_core import to_jsonable_python

from .. import serialization
from ..durations import utc_datetime
from ..store.records import ExecutionRow, HistoryRow, StepRow
from .deployments import ServedDeployments, deployment_served


def _dt(epoch: float | None) -> datetime | None:
    return utc_datetime(epoch) if epoch is not None else None


def _at(epoch: float) -> datetime:
    return utc_datetime(epoch)


class StepInfo(BaseModel):
    step_key: str
    kind: str
    name: str
    output: Any = None
    error: dict[str, Any] | None = None
    attempt: int
    #: When it was recorded.
    created_at: datetime
    #: When it began (a run step's call), or None when not recorded (waits, older rows).
    started_at: datetime | None = None


class HistoryEntry(BaseModel):
    seq: int
    at: datetime
    event: str
    attempt: int
    detail: dict[str, Any] | None = None


class ExecutionInfo(BaseModel):
    """A snapshot of one execution, as ``get_execution`` returns it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: str
    workflow_id: str
    status: str
    result: Any = None
    error: dict[str, Any] | None = None
    attempt: int
    created_at: datetime
    started_at: datetime | None = None
    updated_at: datetime
    completed_at: datetime | None = None
    parent_execution_id: str | None = None
    root_execution_id: str | None = None
    root_workflow_id: str | None = None
    step_key: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    deployment_id: str | None = None
    #: False when the run is queued or waiting on a deployment (``deployment_id``)
    #: that no live worker serves: it will not move until one starts. True when
    #: one does; None when it does not matter (running, finished, not pinned yet).
    deployment_served: bool | None = None
    waiting_on: str | None = None
    wait_kind: str | None = None
    wake_at: datetime | None = None
    #: The workflow state (``state_schema``): initial, then as of the last wait, then final.
    state: Any = None
    steps: list[StepInfo] = []
    history: list[HistoryEntry] = []

    @property
    def execution_id(self) -> str:
        return self.id

    # Polos's get_execution returns a JSON dict; these let such code read this view
    # the same way (``info.get("status")``, ``info["result"]``, ``"error" in info``)
    # and get what it would get there: JSON values (a model result as a dict,
    # times as ISO 8601 text). Attributes keep the typed values.
    def __getitem__(self, key: str) -> Any:
        if key in _DICT_KEYS:
            return to_jsonable_python(getattr(self, key), fallback=str)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in _DICT_KEYS else default

    def __contains__(self, key: object) -> bool:
        return key in _DICT_KEYS

    def keys(self) -> list[str]:
        return list(_DICT_KEYS)

    def to_dict(self) -> dict[str, Any]:
        """The view as plain JSON values."""
        return self.model_dump(mode="json")


_DICT_KEYS = frozenset(ExecutionInfo.model_fields) | {"execution_id"}


def execution_info(
    row: ExecutionRow,
    steps: list[StepRow] | None = None,
    history: list[HistoryRow] | None = None,
    served: ServedDeployments | None = None,
) -> ExecutionInfo:
    return ExecutionInfo(
        id=row.id,
        workflow_id=row.workflow_id,
        status=row.status,
        result=serialization.loads(row.result, strict=False),
        error=orjson.loads(row.error) if row.error else None,
        attempt=row.attempt,
        created_at=_at(row.created_at),
        started_at=_dt(row.started_at),
        updated_at=_at(row.updated_at),
        completed_at=_dt(row.completed_at),
        parent_execution_id=row.parent_execution_id,
        root_execution_id=row.root_execution_id or row.id,
        root_workflow_id=row.root_workflow_id or row.workflow_id,
        step_key=row.step_key,
        session_id=row.session_id,
        user_id=row.user_id,
        deployment_id=row.deployment_id,
        deployment_served=deployment_served(row, served),
        waiting_on=row.wait_step_key,
        wait_kind=row.wait_kind,
        wake_at=_dt(row.wake_at),
        state=serialization.loads(row.state, strict=False),
        steps=[
            StepInfo(
                step_key=s.step_key,
                kind=s.kind,
                name=s.name,
                output=serialization.loads(s.output, strict=False),
                error=orjson.loads(s.error) if s.error else None,
                attempt=s.attempt,
                created_at=_at(s.created_at),
                started_at=_dt(s.started_at),
            )
            for s in steps or ()
        ],
        history=[
            HistoryEntry(
                seq=h.seq,
                at=_at(h.at),
                event=h.event,
                attempt=h.attempt,
                detail=orjson.loads(h.detail) if h.detail else None,
            )
            for h in history or ()
        ],
    )
