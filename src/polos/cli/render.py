"""What ``polos show`` and ``polos watch`` print about one execution.

Step durations: a step ends when it was recorded; a run step also records
when its call began (``started_at``). Other steps (waits, children) and rows
older than ``started_at`` start at the run's last recorded moment before
them: the wait they parked on (a ``waiting`` history entry naming it), else
the latest claim or resume, else the step recorded before. The dashboard's
timeline uses the same rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..durations import describe_seconds
from ..runtime.models import ExecutionInfo, HistoryEntry, StepInfo

FINAL = frozenset({"completed", "failed", "cancelled"})
_STYLE = {"completed": "green", "failed": "red", "cancelled": "yellow", "waiting": "cyan"}


@dataclass
class TimedStep:
    step: StepInfo
    started_at: datetime
    seconds: float


def timed_steps(info: ExecutionInfo) -> list[TimedStep]:
    """Each recorded step with when it started and how long it took (see the module doc)."""
    anchors = sorted(h.at for h in info.history if h.event in ("claimed", "resumed"))
    parked: dict[str, datetime] = {}
    for h in info.history:
        key = (h.detail or {}).get("step_key")
        if h.event == "waiting" and isinstance(key, str):
            parked[key] = h.at
    previous = info.started_at or info.created_at
    timed = []
    for step in sorted(info.steps, key=lambda s: s.created_at):
        start = step.started_at or parked.get(step.step_key)
        if start is None:
            start = max([previous, *(a for a in anchors if a <= step.created_at)])
        start = min(start, step.created_at)
        timed.append(TimedStep(step, start, (step.created_at - start).total_seconds()))
        previous = step.created_at
    return timed


def human_duration(seconds: float | None) -> str:
    """A duration as ``describe_seconds`` writes it; ``-`` when unknown."""
    return "-" if seconds is None else describe_seconds(seconds)


def human_time(at: datetime | None, now: datetime) -> str:
    """``2026-11-30 09:40:12.345 UTC (3 min ago)`` (or ``in 5 min`` for a time ahead)."""
    if at is None:
        return "-"
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    stamp = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
    delta = (now - at).total_seconds()
    if abs(delta) < 1:
        return f"{stamp} (now)"
    ago = human_duration(abs(delta))
    return f"{stamp} ({ago} ago)" if delta > 0 else f"{stamp} (in {ago})"


def run_seconds(info: ExecutionInfo, now: datetime) -> float | None:
    """From the first claim to the end (or to now, while it is not over)."""
    if info.started_at is None:
        return None
    end = info.completed_at or (now if info.status not in FINAL else info.updated_at)
    return max((end - info.started_at).total_seconds(), 0.0)


def execution_json(info: ExecutionInfo, now: datetime) -> dict[str, Any]:
    """``polos show --json``: the execution as JSON values, each step with its
    ``started_at`` and ``duration_seconds``, and the run's ``duration_seconds``."""
    data = info.model_dump(mode="json")
    timing = {t.step.step_key: t for t in timed_steps(info)}
    for step in data["steps"]:
        timed = timing.get(step["step_key"])
        if timed is not None:
            step["started_at"] = timed.started_at.isoformat()
            step["duration_seconds"] = round(timed.seconds, 6)
    seconds = run_seconds(info, now)
    data["duration_seconds"] = None if seconds is None else round(seconds, 6)
    return data


def _value(value: Any, indent: int | None = None) -> Text:
    """A whole value as JSON (never cut: the terminal wraps it)."""
    if value is None:
        return Text("")
    return Text(json.dumps(value, indent=indent, default=str, ensure_ascii=False))


def _times_in(detail: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A history detail with its epoch times (``wake_at``...) written as dates."""
    shown = dict(detail)
    for key, value in detail.items():
        if key.endswith("_at") and isinstance(value, int | float) and value > 1e9:
            shown[key] = human_time(datetime.fromtimestamp(value, UTC), now)
    return shown


def render(info: ExecutionInfo, now: datetime) -> RenderableType:
    """Everything ``polos show`` prints, as one rich renderable (``watch`` redraws it)."""
    status = Text(info.status, style=f"bold {_STYLE.get(info.status, '')}".strip())
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    head.add_row("execution", f"{info.workflow_id} {info.id}")
    head.add_row("status", Text.assemble(status, f"  (attempt {info.attempt})"))
    head.add_row("created", human_time(info.created_at, now))
    head.add_row("started", human_time(info.started_at, now))
    if info.completed_at is not None:
        head.add_row("finished", human_time(info.completed_at, now))
    head.add_row("duration", human_duration(run_seconds(info, now)))
    if info.parent_execution_id:
        head.add_row("parent", info.parent_execution_id)
    if info.session_id:
        head.add_row("session", info.session_id)
    if info.deployment_id:
        unserved = info.deployment_served is False
        head.add_row(
            "deployment",
            Text(f"{info.deployment_id}  (no live worker serves it: the run waits for one)")
            if unserved
            else info.deployment_id,
            style="bold yellow" if unserved else "",
        )
    if info.status == "waiting" and info.waiting_on:
        wake = f", wakes {human_time(info.wake_at, now)}" if info.wake_at else ""
        head.add_row("waiting on", f"{info.waiting_on} ({info.wait_kind}){wake}")
    parts: list[RenderableType] = [head]
    if info.result is not None:
        parts += [Text("result", style="bold"), _value(info.result, indent=2)]
    if info.error is not None:
        parts += [Text("error", style="bold red"), _value(info.error, indent=2)]
    steps = Table(title="steps", title_justify="left", expand=True)
    for name, options in (
        ("step", {"overflow": "fold"}),
        ("kind", {}),
        ("duration", {"justify": "right", "no_wrap": True}),
        ("recorded", {"no_wrap": True}),
        ("att.", {"justify": "right"}),
        ("output / error", {"overflow": "fold", "ratio": 1}),
    ):
        steps.add_column(name, **options)
    for timed in timed_steps(info):
        s = timed.step
        steps.add_row(
            s.step_key,
            s.kind,
            human_duration(timed.seconds),
            s.created_at.astimezone(UTC).strftime("%H:%M:%S.%f")[:-3],
            str(s.attempt),
            _value(s.error) if s.error is not None else _value(s.output),
            style="red" if s.error is not None else None,
        )
    if info.status == "waiting" and info.waiting_on:
        steps.add_row(info.waiting_on, info.wait_kind or "wait", "…", "waiting", "", "")
    parts.append(steps)
    parts.append(_history(info.history, now))
    return Group(*parts)


def _history(history: list[HistoryEntry], now: datetime) -> Table:
    table = Table(title="history", title_justify="left", expand=True)
    table.add_column("at", no_wrap=True)
    table.add_column("event")
    table.add_column("att.", justify="right")
    table.add_column("detail", overflow="fold", ratio=1)
    for h in history:
        table.add_row(
            human_time(h.at, now),
            h.event,
            str(h.attempt),
            json.dumps(_times_in(h.detail, now), default=str, ensure_ascii=False)
            if h.detail
            else "",
        )
    return table
