"""Approvals: the HTML page a person opens, and the JSON API behind it.

``GET /approve/{execution_id}/{step_key}`` shows the suspend's form;
the form posts back to the same URL. ``GET /api/v1/approvals/...`` reads where
an approval stands and ``POST .../submit`` answers it (``{"data": ...}``, as
Polos's UI sends). Either way a response is accepted once: see
:mod:`polos.server.approvals.submit`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast
from urllib.parse import parse_qs, quote

from pydantic_core import to_jsonable_python
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..approvals.forms import form_of, initial_values, read_submission, shown_values
from ..approvals.lookup import WAITING_STATUS, Approval, find_approval, refusal_message
from ..approvals.page import message_page, page
from ..approvals.submit import submit
from ..endpoint import Endpoint
from ..errors import ApiError, conflict
from ..http import body, json_response, path_text, read_body
from ..models import ApprovalResponse, ApprovalStatus, ApprovalSubmit, ApprovalSubmitted
from ..state import ServerState, server_state

_FORM_TYPE = "application/x-www-form-urlencoded"


def page_path(execution_id: str, step_key: str) -> str:
    return f"/approve/{quote(execution_id, safe='')}/{quote(step_key, safe='')}"


def approval_url(state: ServerState, execution_id: str, step_key: str) -> str:
    return state.settings.base_url + page_path(execution_id, step_key)


def _ids(request: Request) -> tuple[str, str]:
    return path_text(request, "execution_id"), path_text(request, "step_key")


# JSON ----------------------------------------------------------------------------------
def approval_response(state: ServerState, approval: Approval) -> ApprovalResponse:
    run = approval.run
    return ApprovalResponse(
        execution_id=approval.root.id,
        step_key=approval.step_key,
        status=cast(ApprovalStatus, approval.status),
        data=to_jsonable_python(approval.data, fallback=str),
        workflow_id=approval.root.workflow_id,
        suspended_execution_id=run.id if run is not None else None,
        suspended_workflow_id=run.workflow_id if run is not None else None,
        response=to_jsonable_python(approval.response, fallback=str),
        approval_url=approval_url(state, approval.root.id, approval.step_key),
        expires_at=datetime.fromtimestamp(approval.expires_at, UTC)
        if approval.expires_at is not None
        else None,
    )


async def get_approval(request: Request) -> Response:
    state = server_state(request)
    execution_id, step_key = _ids(request)
    approval = await find_approval(state, execution_id, step_key)
    return json_response(approval_response(state, approval))


async def submit_approval(request: Request) -> Response:
    state = server_state(request)
    execution_id, step_key = _ids(request)
    req = await body(request, ApprovalSubmit, state.settings.max_body_bytes)
    approval, event = await submit(state, execution_id, step_key, req.data)
    return json_response(
        ApprovalSubmitted(
            execution_id=approval.root.id,
            step_key=step_key,
            data=to_jsonable_python(event.data, fallback=str),
            event_id=event.id,
            sequence_id=event.sequence_id,
        )
    )


# HTML ----------------------------------------------------------------------------------
def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status, headers={"Cache-Control": "no-store"})


def _error_page(exc: ApiError) -> HTMLResponse:
    titles = {404: "Not found", 409: "Already handled", 413: "Too large"}
    return _html(message_page(titles.get(exc.status, "Cannot submit"), exc.message), exc.status)


async def approval_page(request: Request) -> Response:
    state = server_state(request)
    try:
        execution_id, step_key = _ids(request)
        approval = await find_approval(state, execution_id, step_key)
    except ApiError as exc:
        return _error_page(exc)
    form = form_of(approval.data) if approval.status == WAITING_STATUS else None
    notice = None
    if request.query_params.get("submitted") and approval.status != WAITING_STATUS:
        notice = ("ok", "Thank you: your response was sent, and the run has resumed.")
    return _html(
        page(
            approval,
            form,
            values=initial_values(form) if form is not None else None,
            notice=notice,
        )
    )


async def post_approval_page(request: Request) -> Response:
    state = server_state(request)
    try:
        execution_id, step_key = _ids(request)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != _FORM_TYPE:
            raise ApiError(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                f"this page takes its own form ({_FORM_TYPE}); programs should POST JSON to "
                f"/api/v1/approvals/{execution_id}/{step_key}/submit",
            )
        raw = await read_body(request, state.settings.max_body_bytes)
        posted = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        approval = await find_approval(state, execution_id, step_key)
        if approval.status != WAITING_STATUS:
            raise conflict(refusal_message(approval))
        form = form_of(approval.data)
        answer, errors = read_submission(form, posted)
        if errors:
            return _html(
                page(
                    approval,
                    form,
                    values=shown_values(form, posted),
                    errors=errors,
                    notice=("bad", "Please correct the fields below."),
                ),
                422,
            )
        await submit(state, execution_id, step_key, answer)
    except ApiError as exc:
        return _error_page(exc)
    # Relative, so that it stays under a proxy's prefix: the same page, thanking.
    return RedirectResponse("?submitted=1", 303)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/approve/{execution_id}/{step_key}",
        approval_page,
        "The approval page (HTML, works without JavaScript)",
        "Approvals",
        route_path="/approve/{execution_id}/{step_key:path}",
        media_type="text/html",
        errors=(400, 404),
    ),
    Endpoint(
        "POST",
        "/approve/{execution_id}/{step_key}",
        post_approval_page,
        "The approval page's form post; answers 303 to the page once accepted",
        "Approvals",
        route_path="/approve/{execution_id}/{step_key:path}",
        status=303,
        media_type="text/html",
        errors=(400, 404, 409, 413, 415, 422),
        raw_body=_FORM_TYPE,
    ),
    Endpoint(
        "GET",
        "/api/v1/approvals/{execution_id}/{step_key}",
        get_approval,
        "Where an approval stands, and the data its suspend shows",
        "Approvals",
        route_path="/api/v1/approvals/{execution_id}/{step_key:path}",
        response=ApprovalResponse,
        errors=(400, 404),
    ),
    Endpoint(
        "POST",
        "/api/v1/approvals/{execution_id}/{step_key}/submit",
        submit_approval,
        "Answer an approval: the run resumes with data (once; a second answer is 409)",
        "Approvals",
        route_path="/api/v1/approvals/{execution_id}/{step_key:path}/submit",
        body=ApprovalSubmit,
        response=ApprovalSubmitted,
        errors=(400, 404, 409, 413, 422),
    ),
]
