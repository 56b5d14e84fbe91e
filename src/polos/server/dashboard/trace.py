"""A run tree as a trace: one span waterfall on the root run's time axis.

The dashboard's stand-in for a trace viewer, read from the store alone (spans
are exported over OTLP only, never stored): one row per run, under the step of
its parent that started it; one row per step of each run, placed as the run's
timeline places it (:mod:`.timeline`); an agent's LLM calls with their model
and tokens (:mod:`.conversation`); waits as waits. The rows mirror the spans
the tracer emits (:mod:`polos.observability.tracing`), and the trace id is the
one it uses (:mod:`polos.observability.ids`).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass, field

from ...engine import definition as registry
from ...observability.ids import parse_traceparent, run_trace_id
from ...store import ExecutionRow, HistoryRow, StepRow
from ...store.base import Store
from .conversation import LlmCall, conversation, is_agent_run
from .timeline import Bar, timeline

#: Runs shown at most: a tree of thousands of runs would make a page nobody can read.
MAX_RUNS = 200

_TOOLS_STEP = re.compile(r"^tools_\d+$")


@dataclass
class Span:
    """One row of the waterfall."""

    #: ``run``, ``step``, ``llm`` or ``wait``.
    kind: str
    depth: int
    name: str
    #: What kind of run or step, the model and tokens of an LLM call, etc.
    detail: str
    start: float
    #: None while it is still going.
    end: float | None
    #: A run's status, or a step's ``ok`` / ``failed`` / ``waiting``.
    status: str
    execution_id: str
    step_key: str | None = None
    #: The span a run's own span hangs under (its stored traceparent), if any.
    parent_span_id: str | None = None
    current: bool = False
    children: list[Span] = field(default_factory=list)
    #: Position on the root's time axis, in percent.
    offset: float = 0.0
    width: float = 0.0
    #: Seconds from the root's start.
    at: float = 0.0

    def duration(self, now: float) -> float:
        return max((self.end if self.end is not None else now) - self.start, 0.0)

    @property
    def dom_id(self) -> str:
        """An id for the row's element that stays the same from one refresh to the next."""
        key = f"{self.execution_id}\0{self.step_key or ''}".encode()
        return "span-" + hashlib.sha1(key, usedforsecurity=False).hexdigest()[:12]


@dataclass
class Trace:
    trace_id: str | None
    #: Whether the trace id comes from a stored traceparent (else from the root's id).
    joined: bool
    root: Span
    start: float
    end: float
    runs_total: int
    runs_shown: int
    #: The most runs a trace shows (:data:`MAX_RUNS` when it was read).
    limit: int

    @property
    def span(self) -> float:
        return max(self.end - self.start, 0.0)

    def rows(self) -> list[Span]:
        """Every row, depth first (the order they are drawn in)."""
        out: list[Span] = []
        stack = [self.root]
        while stack:
            span = stack.pop()
            out.append(span)
            stack.extend(reversed(span.children))
        return out


@dataclass
class _RunData:
    row: ExecutionRow
    steps: list[StepRow]
    history: list[HistoryRow]
    #: What the worker that serves it registered it as (an SDK worker's agents, say).
    served_kind: str | None = None


def _kind_of(data: _RunData, parent: ExecutionRow | None) -> str:
    definition = registry.lookup(data.row.workflow_id)
    if definition is not None:
        return str(definition.kind)
    if data.served_kind is not None:
        return data.served_kind
    if is_agent_run(data.steps):
        return "agent"
    if parent is not None and _TOOLS_STEP.match(data.row.step_key or ""):
        return "tool"
    return "workflow"


def _llm_detail(call: LlmCall) -> str:
    parts = [call.model or "model", f"{call.total_tokens} tokens ({call.input_tokens} in, "]
    parts[-1] += f"{call.output_tokens} out)"
    if call.finish_reason:
        parts.append(f"finish: {call.finish_reason}")
    if call.refused:
        parts.append("sent back by a guardrail")
    return " · ".join(parts)


def _step_span(bar: Bar, run: ExecutionRow, depth: int, calls: dict[str, LlmCall]) -> Span:
    call = calls.get(bar.key)
    if call is not None:
        kind, name, detail = "llm", f"LLM call {call.number}", _llm_detail(call)
        if call.retry:
            name += f" (asked again: {call.retry})"
    elif bar.wait_kind is not None or bar.status == "waiting":
        kind, name = "wait", bar.key
        detail = (
            f"{'waiting' if bar.status == 'waiting' else 'waited'}: {bar.wait_kind or bar.kind}"
        )
    else:
        kind, name = "step", bar.key
        detail = bar.kind + (f" · {bar.name}" if bar.name else "")
    if bar.retries:
        detail += f" · {len(bar.retries)} {'retry' if len(bar.retries) == 1 else 'retries'}"
    return Span(
        kind=kind,
        depth=depth,
        name=name,
        detail=detail,
        start=bar.start,
        end=bar.end,
        status=bar.status,
        execution_id=run.id,
        step_key=bar.key,
    )


def _run_span(
    data: _RunData,
    parent: ExecutionRow | None,
    depth: int,
    kids: dict[str, list[_RunData]],
    current: str,
    now: float,
) -> Span:
    row = data.row
    traced = parse_traceparent(row.trace_context)
    span = Span(
        kind="run",
        depth=depth,
        name=row.workflow_id,
        detail=_kind_of(data, parent),
        start=row.started_at if row.started_at is not None else row.created_at,
        end=row.completed_at,
        status=row.status,
        execution_id=row.id,
        parent_span_id=traced.parent_span_id if traced is not None else None,
        current=row.id == current,
    )
    line = timeline(row, data.steps, data.history, now)
    calls: dict[str, LlmCall] = {}
    children = kids.get(row.id, [])
    if is_agent_run(data.steps):
        talk = conversation(
            row, data.steps, {b.key: b for b in line.bars}, {c.row.id: c.row for c in children}, now
        )
        calls = {c.key: c for c in talk.calls}
    placed: set[str] = set()
    for bar in sorted(line.bars, key=lambda b: b.start):  # as a waterfall: by start
        step = _step_span(bar, row, depth + 1, calls)
        for child in children:
            if child.row.step_key == bar.key:
                placed.add(child.row.id)
                step.children.append(_run_span(child, row, depth + 2, kids, current, now))
        span.children.append(step)
    # Children of a step not recorded yet (a batch being started) hang under the run.
    for child in children:
        if child.row.id not in placed:
            span.children.append(_run_span(child, row, depth + 1, kids, current, now))
    return span


def _place(span: Span, t0: float, total: float, now: float) -> None:
    span.at = span.start - t0
    span.offset = min(max(span.at / total * 100, 0.0), 100.0)
    width = span.duration(now) / total * 100
    span.width = min(max(width, 0.4), 100.0 - span.offset) if span.offset < 100 else 0.4
    for child in span.children:
        _place(child, t0, total, now)


async def load_trace(store: Store, root: ExecutionRow, current: str, now: float) -> Trace:
    """The trace of ``root``'s tree; ``current`` is the run whose page asked for it."""
    rows = await store.list_run_tree(root.id) or [root]
    shown: list[ExecutionRow] = []
    kept: set[str] = set()
    for row in rows:  # oldest first: a parent comes before its children
        if len(shown) >= MAX_RUNS:
            break
        if row.id == root.id or (row.parent_execution_id or "") in kept:
            shown.append(row)
            kept.add(row.id)
    loaded = await asyncio.gather(
        *(asyncio.gather(store.list_steps(r.id), store.list_history(r.id)) for r in shown)
    )
    kinds = {w.workflow_id: w.workflow_type for w in await store.served_workflows()}
    data = {
        r.id: _RunData(r, steps, history, kinds.get(r.workflow_id))
        for r, (steps, history) in zip(shown, loaded, strict=True)
    }
    kids: dict[str, list[_RunData]] = {}
    for r in shown:
        if r.id != root.id and r.parent_execution_id is not None:
            kids.setdefault(r.parent_execution_id, []).append(data[r.id])
    top = data.get(root.id) or _RunData(root, [], [])
    tree = _run_span(top, None, 0, kids, current, now)
    spans = [tree]
    ends: list[float] = []
    while spans:
        span = spans.pop()
        ends.append(span.end if span.end is not None else now)
        spans.extend(span.children)
    t0 = tree.start
    end = max([t0, *ends])
    _place(tree, t0, max(end - t0, 1e-9), now)
    return Trace(
        trace_id=run_trace_id(root.id, root.trace_context),
        joined=parse_traceparent(root.trace_context) is not None,
        root=tree,
        start=t0,
        end=end,
        runs_total=len(rows),
        runs_shown=len(shown),
        limit=MAX_RUNS,
    )
