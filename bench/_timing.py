"""Shared timing helpers of the benchmark cases."""

from __future__ import annotations

import statistics
from typing import Any


def inner_runs(params: dict[str, Any]) -> int:
    """How many timed runs a steps case makes in its process (their median is reported)."""
    return max(1, int(params.get("inner", 1)))


def per_item(totals: list[float], n: int, key: str) -> dict[str, Any]:
    """``key``: the median of ``totals`` (seconds for ``n`` items) in microseconds per item."""
    return {
        key: statistics.median(totals) / n * 1e6,
        "runs_us": [round(t / n * 1e6, 3) for t in totals],
        "total_s": statistics.median(totals),
    }
