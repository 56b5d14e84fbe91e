"""A run's steps as a timeline: when each began and ended, its retries and waits.

A step ends when it was recorded (its row's ``created_at``). A run step also
records when its call began (``started_at``), so steps run concurrently
(``asyncio.gather``) overlap as they did. Other steps (waits, children,
values) and rows written before ``started_at`` existed begin at the run's
last recorded moment before them: the wait they parked on (a ``waiting``
history entry), else the latest claim or resume, else the step recorded
before them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from ...store import ExecutionRow, HistoryRow, StepRow
from ...store.vocabulary import HistoryEvent, Status
from .values import error_of, plain


@dataclass
class Retry:
    number: int
    at: float
    delay: float | None
    error: str


@dataclass
class Bar:
    """One step on the timeline."""

    key: str
    kind: str
    name: str
    start: float
    #: When it was recorded; None while it is still waiting.
    end: float | None
    #: ``ok``, ``failed`` or ``waiting``.
    status: str
    #: What it waited for (``timer``, ``event``, ``suspend``, ``children``), if it waited.
    wait_kind: str | None = None
    output: Any = None
    error: Any = None
    retries: list[Retry] = field(default_factory=list)
    #: Position on the run's time axis, in percent.
    offset: float = 0.0
    width: float = 0.0

    def duration(self, now: float) -> float:
        return max((self.end if self.end is not None else now) - self.start, 0.0)


@dataclass
class Timeline:
    start: float
    end: float
    bars: list[Bar]

    @property
    def span(self) -> float:
        return max(self.end - self.start, 0.0)


def _detail(entry: HistoryRow) -> dict[str, Any]:
    if not entry.detail:
        return {}
    try:
        value = orjson.loads(entry.detail)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def timeline(
    row: ExecutionRow, steps: list[StepRow], history: list[HistoryRow], now: float
) -> Timeline:
    t0 = row.started_at if row.started_at is not None else row.created_at
    anchors = sorted(
        h.at for h in history if h.event in (HistoryEvent.CLAIMED, HistoryEvent.RESUMED)
    )
    parked: dict[str, tuple[float, str | None]] = {}
    retries: dict[str, list[Retry]] = {}
    for h in history:
        detail = _detail(h)
        key = detail.get("step_key")
        if not isinstance(key, str):
            continue
        if h.event == HistoryEvent.WAITING:
            kind = detail.get("kind")
            parked[key] = (h.at, kind if isinstance(kind, str) else None)
        elif h.event == HistoryEvent.STEP_RETRY:
            delay = detail.get("delay")
            retries.setdefault(key, []).append(
                Retry(
                    number=int(detail.get("retry") or len(retries.get(key, ())) + 1),
                    at=h.at,
                    delay=float(delay) if isinstance(delay, int | float) else None,
                    error=str(detail.get("error") or ""),
                )
            )
    bars: list[Bar] = []
    previous = t0
    for step in sorted(steps, key=lambda s: s.created_at):
        waited = parked.get(step.step_key)
        if step.started_at is not None:
            start = step.started_at
        elif waited is not None:
            start = waited[0]
        else:
            start = max([previous, *(a for a in anchors if a <= step.created_at)])
        bars.append(
            Bar(
                key=step.step_key,
                kind=step.kind,
                name=step.name,
                start=min(start, step.created_at),
                end=step.created_at,
                status="ok" if step.error is None else "failed",
                wait_kind=waited[1] if waited is not None else None,
                output=plain(step.output),
                error=error_of(step.error),
                retries=retries.get(step.step_key, []),
            )
        )
        previous = step.created_at
    recorded = {s.step_key for s in steps}
    if row.status == Status.WAITING and row.wait_step_key and row.wait_step_key not in recorded:
        since = parked.get(row.wait_step_key, (row.updated_at, row.wait_kind))
        bars.append(
            Bar(
                key=row.wait_step_key,
                kind=row.wait_kind or "wait",
                name="",
                start=since[0],
                end=None,
                status="waiting",
                wait_kind=row.wait_kind,
                output=plain(row.wait_data),
                retries=retries.get(row.wait_step_key, []),
            )
        )
    end = row.completed_at if row.completed_at is not None else now
    end = max([end, *(b.end for b in bars if b.end is not None)])
    line = Timeline(t0, end, bars)
    span = line.span or 1e-9
    for bar in bars:
        bar.offset = min(max((bar.start - t0) / span * 100, 0.0), 100.0)
        width = bar.duration(now) / span * 100
        bar.width = min(max(width, 0.4), 100.0 - bar.offset) if bar.offset < 100 else 0.4
    return line
