"""The dashboard's routes.

Pages are rendered on the server; each live part follows a ``/ui/live/...``
event stream (see ``live.py``) and, when told it changed, htmx fetches the
part again with the version the page shows. When nothing visible changed the
answer is ``204 No Content``, which htmx does not swap, so an expanded value
or a focused link stays as the person left it.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .actions import cancel_run, fork_run, retry_run
from .live import run_live, runs_live, trace_live
from .operations import approvals_page, events_page, queues_page, schedules_page, workers_page
from .run import run_fragment, run_page
from .runs import runs_fragment, runs_page
from .signin import login, login_page, logout
from .trace_page import trace_fragment, trace_page


def dashboard_routes() -> list[BaseRoute]:
    """The dashboard's routes, to add to the server's app (none is in the OpenAPI document)."""
    return [
        Route("/", runs_page, methods=["GET"]),
        Route("/ui/runs", runs_fragment, methods=["GET"]),
        Route("/ui/live/runs", runs_live, methods=["GET"]),
        Route("/ui/live/runs/{execution_id}", run_live, methods=["GET"]),
        Route("/ui/live/runs/{execution_id}/trace", trace_live, methods=["GET"]),
        Route("/runs/{execution_id}", run_page, methods=["GET"]),
        Route("/ui/runs/{execution_id}", run_fragment, methods=["GET"]),
        Route("/runs/{execution_id}/trace", trace_page, methods=["GET"]),
        Route("/ui/runs/{execution_id}/trace", trace_fragment, methods=["GET"]),
        Route("/runs/{execution_id}/cancel", cancel_run, methods=["POST"]),
        Route("/runs/{execution_id}/retry", retry_run, methods=["POST"]),
        Route("/runs/{execution_id}/fork", fork_run, methods=["POST"]),
        Route("/approvals", approvals_page, methods=["GET"]),
        Route("/events", events_page, methods=["GET"]),
        Route("/schedules", schedules_page, methods=["GET"]),
        Route("/queues", queues_page, methods=["GET"]),
        Route("/workers", workers_page, methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount(
            "/ui/static",
            StaticFiles(packages=[("polos.server.dashboard", "static")]),
            name="dashboard-static",
        ),
    ]
