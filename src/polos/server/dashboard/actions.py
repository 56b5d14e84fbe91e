"""What a person can do to a run from its page: cancel, retry, fork.

Each is a form post answered with a redirect (303) to a run's page. A post
coming from another site's page is refused (``Sec-Fetch-Site: cross-site``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...errors import ExecutionNotRetryableError, PolosError
from ..http import read_body
from ..state import server_state
from .common import find_run, missing, page, path_id


def _cross_site(request: Request) -> bool:
    """A form posted from another site (a page the person visited): refused."""
    return request.headers.get("sec-fetch-site") == "cross-site"


def _cross_site_refusal(request: Request) -> Response:
    return page(
        request,
        "message.html",
        403,
        title="Refused",
        message="Actions on a run are only accepted from the dashboard's own pages.",
    )


async def _refusal(request: Request, execution_id: str) -> Response | None:
    """Why an action on ``execution_id`` is refused (another site's page, no such
    run), or None when it may go ahead."""
    if _cross_site(request):
        return _cross_site_refusal(request)
    if await find_run(server_state(request), execution_id) is None:
        return missing(request, execution_id)
    return None


async def cancel_run(request: Request) -> Response:
    state = server_state(request)
    execution_id = path_id(request)
    if (refused := await _refusal(request, execution_id)) is not None:
        return refused
    await state.client.cancel_execution(execution_id)
    return RedirectResponse(f"../{quote(execution_id, safe='')}", 303)


async def _form_fields(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return {}
    raw = await read_body(request, server_state(request).settings.max_body_bytes)
    return {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}


def _refused(request: Request, title: str, exc: Exception, status: int) -> Response:
    return page(request, "message.html", status, title=title, message=str(exc))


async def retry_run(request: Request) -> Response:
    """Start a failed or cancelled run again, under its id, from its first unfinished step."""
    state = server_state(request)
    execution_id = path_id(request)
    if (refused := await _refusal(request, execution_id)) is not None:
        return refused
    try:
        await state.client.retry_execution(execution_id)
    except ExecutionNotRetryableError as exc:
        return _refused(request, "Cannot retry", exc, 409)
    return RedirectResponse(f"../{quote(execution_id, safe='')}", 303)


async def fork_run(request: Request) -> Response:
    """A new run reusing the steps recorded before the chosen one (optionally a new input)."""
    state = server_state(request)
    execution_id = path_id(request)
    if (refused := await _refusal(request, execution_id)) is not None:
        return refused
    fields = await _form_fields(request)
    payload: Any = None
    if (fields.get("payload") or "").strip():
        try:
            payload = orjson.loads(fields["payload"])
        except orjson.JSONDecodeError as exc:
            return _refused(
                request, "Cannot fork", ValueError(f"the new input is not JSON: {exc}"), 422
            )
    try:
        handle = await state.client.fork_execution(
            execution_id, fields.get("from_step", ""), payload
        )
    except (PolosError, TypeError) as exc:
        return _refused(request, "Cannot fork", exc, 422)
    return RedirectResponse(f"../{quote(handle.id, safe='')}", 303)
