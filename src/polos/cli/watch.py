"""``polos watch``: one execution, redrawn live until it ends."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.live import Live

from .render import FINAL, execution_json, render


async def follow(client: Any, execution_id: str, interval: float, console: Console) -> str:
    """Redraw ``execution_id`` every ``interval`` seconds until it is over; its final status.

    Polls ``get_execution`` (the same call ``show`` makes, directly or through
    a server), so it works wherever ``show`` does. On a terminal the view is
    redrawn in place; piped, only the final view is printed.
    """
    info = await client.get_execution(execution_id)
    with Live(
        render(info, datetime.now(UTC)),
        console=console,
        refresh_per_second=max(1.0, min(10.0, 1 / interval)),
        transient=False,
        auto_refresh=False,
    ) as live:
        while info.status not in FINAL:
            await asyncio.sleep(interval)
            info = await client.get_execution(execution_id)
            live.update(render(info, datetime.now(UTC)), refresh=True)
    return str(info.status)


async def follow_json(client: Any, execution_id: str, interval: float) -> str:
    """``--json``: the execution as one JSON line (as ``show --json`` writes it) each
    time it changes (status, steps or history), the last once it is over; its final status."""
    shown: tuple[Any, ...] | None = None
    while True:
        info = await client.get_execution(execution_id)
        now = datetime.now(UTC)
        seen = (info.status, len(info.steps), len(info.history))
        if seen != shown:
            shown = seen
            print(
                json.dumps(execution_json(info, now), default=str, ensure_ascii=False), flush=True
            )
        if info.status in FINAL:
            return str(info.status)
        await asyncio.sleep(interval)
