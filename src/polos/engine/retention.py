"""Retention: how long finished runs are kept, purging them in bounded batches,
and the sweep workers run now and then to apply the retention settings.

A purge takes whole run trees (a root and every run under it) once every run
of the tree has finished before the cutoff; queued, running and waiting runs
are never touched (see ``Store.purge_finished``). Each batch is one short
transaction, and the loop yields between batches, so workers sharing the
database wait at most one batch for it.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Awaitable, Callable, Collection
from datetime import timedelta

from ..durations import parse_duration
from ..store import Store
from ..store.retention import PURGEABLE, PurgeCount

#: Roots per transaction: large enough to purge a million runs in minutes,
#: small enough that no transaction holds the database for long.
DEFAULT_BATCH = 1000
#: The lease that lets one worker per database sweep at a time.
SWEEP_LEASE = "polos.retention"
#: The words that keep a workflow's runs for ever (whatever the default says).
FOREVER_WORDS = frozenset({"forever", "never", "none", "off"})
ENV = "POLOS_RETENTION"

RetentionValue = float | int | str | timedelta | None


def retention_seconds(value: RetentionValue, what: str = "retention") -> float | None:
    """Seconds a finished run is kept: ``None`` when unset, ``inf`` for ever.

    Takes what ``durations`` does (``"30d"``, ``"12h"``, seconds, a
    timedelta) or ``"forever"``; zero and negative values are refused, since
    they would purge runs the moment they finish.
    """
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in FOREVER_WORDS:
        return math.inf
    if isinstance(value, float) and math.isinf(value) and value > 0:
        return math.inf
    try:
        seconds = parse_duration(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: {exc}; or 'forever' to keep runs for ever") from None
    if seconds <= 0:
        raise ValueError(f"{what} must be positive (like '30d'), got {value!r}")
    return seconds


def default_retention(value: RetentionValue = None) -> float | None:
    """The global default: ``value`` if given, else ``POLOS_RETENTION``, else none."""
    if value is not None:
        return retention_seconds(value, "retention")
    raw = os.environ.get(ENV, "").strip()
    return retention_seconds(raw, ENV) if raw else None


async def purge(
    store: Store,
    finished_before: float,
    *,
    statuses: Collection[str] = PURGEABLE,
    workflow_id: str | None = None,
    exclude_workflow_ids: Collection[str] = (),
    batch: int = DEFAULT_BATCH,
    dry_run: bool = False,
    pause: float = 0.0,
    keep_going: Callable[[], Awaitable[bool]] | None = None,
) -> PurgeCount:
    """Purge every matching finished tree, ``batch`` roots per transaction.

    ``pause`` seconds pass between batches (a background sweep gives way to
    the work it shares the database with); ``keep_going`` is asked before each
    batch and stops the purge when it says no. A dry run counts and deletes
    nothing.
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")

    async def one(limit: int, dry: bool) -> PurgeCount:
        return await store.purge_finished(
            finished_before,
            statuses=statuses,
            workflow_id=workflow_id,
            exclude_workflow_ids=exclude_workflow_ids,
            limit=limit,
            dry_run=dry,
        )

    if dry_run:
        return await one(batch, True)
    total = PurgeCount()
    while keep_going is None or await keep_going():
        done = await one(batch, False)
        total += done
        # Fewer than a batch can mean trees held by other transactions were
        # skipped; only an empty batch says nothing is left.
        if done.trees == 0:
            break
        await asyncio.sleep(pause)
    return total


async def sweep(
    store: Store,
    now: float,
    default_seconds: float | None,
    *,
    batch: int = DEFAULT_BATCH,
    pause: float = 0.0,
    keep_going: Callable[[], Awaitable[bool]] | None = None,
) -> PurgeCount:
    """Apply retention once: each workflow's own (recorded in the store by the
    workers that serve it), then the default for every other workflow."""
    own = await store.list_retention()
    total = PurgeCount()
    for workflow_id, seconds in sorted(own.items()):
        if not math.isinf(seconds):
            total += await purge(
                store,
                now - seconds,
                workflow_id=workflow_id,
                batch=batch,
                pause=pause,
                keep_going=keep_going,
            )
    if default_seconds is not None and not math.isinf(default_seconds):
        total += await purge(
            store,
            now - default_seconds,
            exclude_workflow_ids=list(own),
            batch=batch,
            pause=pause,
            keep_going=keep_going,
        )
    return total
