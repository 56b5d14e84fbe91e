"""The listing query: only the filters given, so each combination gets its own plan.

A catch-all ``(? IS NULL OR status = ?) AND ...`` statement cannot use an
index per filter: the planner (and PostgreSQL's generic plan for a prepared
statement) walks the newest-first index and tests every row, which reads
the whole table when the filter matches few of a million rows. Here the
backend's ``list_executions`` query carries ``LIST_FILTERS`` and the
conditions of the filters actually given replace it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Filter -> condition; ``{}`` is where the backend's placeholder goes.
CONDITIONS: dict[str, str] = {
    "status": "status = {}",
    "workflow_id": "workflow_id = {}",
    "created_after": "created_at >= {}",
    "created_before": "created_at < {}",
    "session_id": "session_id = {}",
}


def list_query(
    template: str,
    filters: dict[str, Any],
    placeholder: Callable[[int], str],
    id_contains: str,
) -> tuple[str, list[Any]]:
    """``template`` with ``LIST_FILTERS``, ``LIST_LIMIT`` and ``LIST_OFFSET`` filled in.

    ``filters`` holds the CONDITIONS keys plus ``id_contains``, ``limit`` and
    ``offset``; ``placeholder(n)`` is the backend's n-th parameter (1-based)
    and ``id_contains`` its substring test, with ``{}`` for the parameter.
    """
    conditions: list[str] = []
    args: list[Any] = []

    def param(value: Any) -> str:
        args.append(value)
        return placeholder(len(args))

    for name, condition in CONDITIONS.items():
        value = filters.get(name)
        if value is not None:
            conditions.append(condition.format(param(value)))
    if filters.get("id_contains"):
        conditions.append(id_contains.format(param(filters["id_contains"])))
    sql = template.replace("LIST_FILTERS", " AND ".join(conditions) or "TRUE")
    sql = sql.replace("LIST_LIMIT", param(filters["limit"]))
    sql = sql.replace("LIST_OFFSET", param(filters["offset"]))
    return sql, args
