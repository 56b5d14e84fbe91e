"""Queues: where executions wait to start, with optional limits.

``queue("llm", concurrency_limit=5, rate_limit=60, rate_period="1m")``.
Limits are enforced by the store when workers claim, so they hold across
every worker and process:

- ``concurrency_limit``: at most this many *running* executions per
  concurrency key of the queue (executions without a key share one). Waiting
  executions (timers, events, children, suspends) hold no slot.
- ``rate_limit`` per ``rate_period``: at most this many *first starts* per
  concurrency key in any window of that length.

A workflow without a queue runs on a queue named after its id, with no limits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..durations import parse_duration
from ..errors import WorkflowDefinitionError
from ..store.records import QueueRow

_registry: dict[str, Queue] = {}


@dataclass(frozen=True, slots=True)
class Queue:
    name: str
    concurrency_limit: int | None = None
    rate_limit: int | None = None
    rate_period: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise WorkflowDefinitionError(
                f"a queue name must be a non-empty string, got {self.name!r}"
            )
        for field, value in (
            ("concurrency_limit", self.concurrency_limit),
            ("rate_limit", self.rate_limit),
        ):
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 1
            ):
                raise WorkflowDefinitionError(
                    f"queue {self.name!r}: {field} must be a positive integer or None, got {value!r}"
                )
        if self.rate_limit is not None and (self.rate_period is None or self.rate_period <= 0):
            raise WorkflowDefinitionError(
                f"queue {self.name!r}: a rate_limit needs a positive rate_period"
            )

    @property
    def limited(self) -> bool:
        return self.concurrency_limit is not None or self.rate_limit is not None

    def row(self) -> QueueRow:
        return QueueRow(
            self.name, self.concurrency_limit, self.rate_limit, self.rate_period, time.time()
        )


def queue(
    name: str,
    concurrency_limit: int | None = None,
    *,
    rate_limit: int | None = None,
    rate_period: float | str = "1s",
) -> Queue:
    """Define (or fetch) a queue. Redefining a name with other limits is an error."""
    defined = Queue(
        name,
        concurrency_limit,
        rate_limit,
        parse_duration(rate_period) if rate_limit is not None else None,
    )
    existing = _registry.get(name)
    if existing is not None and existing != defined:
        raise WorkflowDefinitionError(
            f"queue {name!r} is already defined as {_describe(existing)}; it cannot also be "
            f"{_describe(defined)}. Define each queue once and share the object"
        )
    _registry[name] = defined
    return defined


def resolve(value: Any, default_name: str) -> Queue:
    """A queue from what users may pass: ``None``, a name, a ``Queue`` or a dict."""
    if value is None:
        return _registry.get(default_name) or Queue(default_name)
    if isinstance(value, Queue):
        return value
    if isinstance(value, str):
        return _registry.get(value) or Queue(value)
    if isinstance(value, dict):
        unknown = set(value) - {"name", "concurrency_limit", "rate_limit", "rate_period"}
        if unknown:
            raise WorkflowDefinitionError(
                f"a queue dict takes 'name', 'concurrency_limit', 'rate_limit' and "
                f"'rate_period'; got {value!r}"
            )
        # Without a name the queue is the workflow's own (as in Polos).
        return queue(**{"name": default_name, **value})
    raise WorkflowDefinitionError(f"queue must be a name, a Queue or a dict, not {value!r}")


def defined_queues() -> list[Queue]:
    return list(_registry.values())


def _describe(q: Queue) -> str:
    rate = f", rate_limit={q.rate_limit} per {q.rate_period:g}s" if q.rate_limit is not None else ""
    return f"concurrency_limit={q.concurrency_limit}{rate}"


_synced: dict[int, set[Queue]] = {}


async def ensure_in_store(store: Any, queues: list[Queue]) -> None:
    """Write limited queues' definitions to the store once per store object,
    so that limits hold before (and whether or not) a worker defining them starts."""
    seen = _synced.setdefault(id(store), set())
    for q in queues:
        if q.limited and q not in seen:
            await store.upsert_queue(q.row())
            seen.add(q)
