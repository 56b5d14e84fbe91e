"""The operations pages: approvals waiting for a person, events by topic, schedules,
queues, workers."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ..state import server_state
from .common import clock_now, page, text
from .values import plain

PAGE_SIZE = 25


async def approvals_page(request: Request) -> Response:
    state = server_state(request)
    waiting = await state.client.list_suspended()
    items = []
    for s in waiting:
        data = s.data if isinstance(s.data, dict) else {}
        form = data.get("_form") if isinstance(data.get("_form"), dict) else {}
        assert isinstance(form, dict)
        items.append(
            {
                "info": s,
                "title": form.get("title") or s.step_key,
                "description": form.get("description"),
                "path": f"/approve/{quote(s.execution_id, safe='')}/{quote(s.step_key, safe='')}",
            }
        )
    return page(request, "approvals.html", title="Approvals", items=items, now=clock_now(state))


async def events_page(request: Request) -> Response:
    state = server_state(request)
    topic = text(request, "topic", 512)
    try:
        after = max(int(request.query_params.get("after") or 0), 0)
    except ValueError:
        after = 0
    events = []
    more = False
    if topic:
        rows = await state.store.read_events(topic, after, PAGE_SIZE + 1)
        more = len(rows) > PAGE_SIZE
        events = [(e, plain(e.data)) for e in rows[:PAGE_SIZE]]
    return page(
        request,
        "events.html",
        title=f"Events on {topic}" if topic else "Events",
        topics=await state.store.list_topics(limit=200),
        topic=topic,
        events=events,
        after=after,
        next_after=events[-1][0].seq if more and events else None,
        quote=quote,
    )


async def schedules_page(request: Request) -> Response:
    state = server_state(request)
    rows = sorted(await state.store.list_schedules(), key=lambda s: s.next_fire_at)
    return page(request, "schedules.html", title="Schedules", schedules=rows, now=clock_now(state))


#: Concurrency keys listed per queue on the Queues page: the busiest ones (a
#: queue keyed per user may have a million).
QUEUE_PAGE_KEYS = 20


async def queues_page(request: Request) -> Response:
    state = server_state(request)
    queues = await state.client.queue_stats(max_keys=QUEUE_PAGE_KEYS)
    return page(request, "queues.html", title="Queues", queues=queues)


async def workers_page(request: Request) -> Response:
    state = server_state(request)
    workers = sorted(await state.store.list_workers(), key=lambda w: -w.heartbeat_at)
    return page(request, "workers.html", title="Workers", workers=workers, now=clock_now(state))
