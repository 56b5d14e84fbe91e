"""Polos SDK workers registering with ``polos server`` (``/api/v1/workers/...``).

An SDK worker starts by registering (``register``: we hand it a worker id),
then its deployment, each workflow it serves, its queues, and finally says it
is ``online``; from then on it heartbeats every 30 seconds. We keep it in the
store's one ``workers`` table, with its push endpoint, capacity and served
workflows (:class:`~polos.store.WorkerRow`), so the dashboard and the CLI list
it beside our own workers and the dispatcher (:mod:`.dispatch`) knows where to
push which runs. Its workflows are remembered as served workflows under its
deployment, as our own workers' are.

One push endpoint is one worker: the SDK's push server refuses a push meant
for another worker id, so a worker registering with an endpoint another
registration already names (the same process restarted on its port) replaces
that registration, and the runs it held go back to the queue.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from urllib.parse import urlparse

from pydantic import Field, field_validator
from starlette.requests import Request
from starlette.responses import Response

from ...store import ServedWorkflow, Store, WorkerRow
from ...store.records import QueueRow
from ...store.vocabulary import WorkflowType
from ..endpoint import Endpoint
from ..errors import not_found
from ..http import Text, body, json_response, path_text, query, storable_text
from ..models import _Request
from ..state import ServerState, server_state
from .dispatch import dispatcher_of, push_workers

log = logging.getLogger("polos.server.protocol")

TAG = "Worker protocol"
#: The largest count a database integer column holds.
_INT32 = 2**31 - 1


class Capabilities(_Request):
    runtime: Text | None = None
    workflow_ids: list[Text] = Field(default_factory=list)
    agent_ids: list[Text] = Field(default_factory=list)
    tool_ids: list[Text] = Field(default_factory=list)


class RegisterWorkerRequest(_Request):
    """What ``Worker._register`` sends (Polos's ``RegisterWorkerRequest``)."""

    project_id: Text | None = None
    deployment_id: Text | None = None
    mode: Text = "push"
    push_endpoint_url: str | None = Field(default=None, max_length=2000, validate_default=True)
    max_concurrent_executions: int | None = Field(default=None, gt=0, le=_INT32)
    capabilities: Capabilities | None = None

    @field_validator("mode")
    @classmethod
    def _push_only(cls, mode: str) -> str:
        if mode != "push":
            raise ValueError("only push mode is served: run the worker with mode='push'")
        return mode

    @field_validator("push_endpoint_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is None:
            raise ValueError("a push worker needs push_endpoint_url (set POLOS_WORKER_SERVER_URL)")
        if not url.startswith(("http://", "https://")) or not urlparse(url).hostname:
            raise ValueError(f"push_endpoint_url must be an http(s) URL, got {url!r}")
        return storable_text(url).rstrip("/")


class RegisterWorkerResponse(_Request):
    worker_id: str


class Accepted(_Request):
    """An empty JSON object: done (Polos's orchestrator answers these with 200 and no body)."""


class DeploymentRequest(_Request):
    deployment_id: Text = Field(min_length=1)


class DeploymentWorkflowRequest(_Request):
    """What ``Worker._register_deployment_workflow`` sends for each workflow, agent, tool."""

    workflow_id: Text = Field(min_length=1)
    workflow_type: WorkflowType = WorkflowType.WORKFLOW
    trigger_on_event: bool = False
    scheduled: bool = False


class QueueInfo(_Request):
    name: Text = Field(min_length=1)
    concurrency_limit: int | None = Field(default=None, gt=0, le=_INT32)


class QueuesRequest(_Request):
    deployment_id: Text | None = None
    queues: list[QueueInfo] = Field(default_factory=list)


class HeartbeatResponse(_Request):
    #: True when this server does not know the worker: the SDK then registers again.
    re_register: bool


class ActiveWorkersResponse(_Request):
    worker_ids: list[str]


class WorkerStatusQuery(_Request):
    deployment_id: Text = Field(min_length=1)


class WorkerStatusResponse(_Request):
    online_count: int
    has_workers: bool


# what the other protocol modules ask -----------------------------------------------------
async def push_worker(store: Store, worker_id: str) -> WorkerRow | None:
    """The SDK worker registered as ``worker_id``, or None."""
    for worker in await store.list_workers():
        if worker.worker_id == worker_id and worker.push_url:
            return worker
    return None


def _host_label(url: str) -> str:
    # Our own workers' rows say the host and pid; an SDK worker's say where it listens,
    # never this host's name (our workers must not think it a local process that died).
    parsed = urlparse(url)
    return f"sdk:{parsed.hostname}:{parsed.port or ''}"


# routes ---------------------------------------------------------------------------------------
async def register_worker(request: Request) -> Response:
    state = server_state(request)
    req = await body(request, RegisterWorkerRequest, state.settings.max_body_bytes)
    assert req.push_endpoint_url is not None  # the validator refuses none
    caps = req.capabilities or Capabilities()
    serves = [i for i in caps.workflow_ids + caps.agent_ids + caps.tool_ids if i]
    now = time.time()
    worker = WorkerRow(
        worker_id=str(uuid.uuid4()),
        hostname=_host_label(req.push_endpoint_url),
        pid=0,
        started_at=now,
        heartbeat_at=now,
        deployment_id=req.deployment_id or "default",
        push_url=req.push_endpoint_url,
        capacity=req.max_concurrent_executions,
        serves=tuple(dict.fromkeys(serves)),
        online=False,
    )
    store = state.store
    for old in await push_workers(store):
        if old.push_url == worker.push_url:
            requeued = await store.requeue_worker(old.worker_id, now)
            log.info(
                "SDK worker %s at %s replaced by a new registration %s (%d runs requeued)",
                old.worker_id,
                old.push_url,
                worker.worker_id,
                requeued,
            )
    await store.register_worker(worker)
    log.info("SDK worker %s registered (push endpoint %s)", worker.worker_id, worker.push_url)
    return json_response(RegisterWorkerResponse(worker_id=worker.worker_id))


async def register_deployment(request: Request) -> Response:
    # A deployment is a name on workers and runs here: nothing to create.
    state = server_state(request)
    await body(request, DeploymentRequest, state.settings.max_body_bytes)
    return json_response(Accepted())


async def register_deployment_workflow(request: Request) -> Response:
    state = server_state(request)
    deployment_id = path_text(request, "deployment_id")
    req = await body(request, DeploymentWorkflowRequest, state.settings.max_body_bytes)
    known = {w.workflow_id: w for w in await state.store.served_workflows()}
    old = known.get(req.workflow_id)
    # A queue one of our workers gave it stays; else Polos's default, the workflow's id.
    queue = old.queue_name if old is not None else req.workflow_id
    served = ServedWorkflow(req.workflow_id, queue, req.workflow_type, deployment_id)
    await state.store.register_workflows([served], time.time())
    return json_response(Accepted())


async def register_queues(request: Request) -> Response:
    state = server_state(request)
    req = await body(request, QueuesRequest, state.settings.max_body_bytes)
    store = state.store
    existing = {q.name: q for q in await store.list_queues()}
    now = time.time()
    for info in req.queues:
        old = existing.get(info.name)
        # Rate limits set by our own workers on the same queue are kept.
        rate, period = (old.rate_limit, old.rate_period) if old is not None else (None, None)
        await store.upsert_queue(QueueRow(info.name, info.concurrency_limit, rate, period, now))
    return json_response(Accepted())


async def _bring_online(state: ServerState, worker: WorkerRow) -> None:
    """Mark a push worker online and wake the dispatcher, which may now push it runs."""
    worker.online, worker.heartbeat_at = True, time.time()
    await state.store.register_worker(worker)
    dispatcher_of(state).wake()


async def mark_online(request: Request) -> Response:
    state = server_state(request)
    worker = await _known(state, path_text(request, "worker_id"))
    await _bring_online(state, worker)
    return json_response(Accepted())


async def heartbeat(request: Request) -> Response:
    state = server_state(request)
    worker = await push_worker(state.store, path_text(request, "worker_id"))
    if worker is None:
        # Forgotten (declared dead, or another database): the SDK registers again.
        return json_response(HeartbeatResponse(re_register=True))
    if not worker.online:
        # Its "online" call failed (the SDK only logs that): a heartbeat says it as well.
        await _bring_online(state, worker)
    await dispatcher_of(state).renew(worker)
    return json_response(HeartbeatResponse(re_register=False))


async def active_workers(request: Request) -> Response:
    workers = await push_workers(server_state(request).store)
    return json_response(
        ActiveWorkersResponse(worker_ids=[w.worker_id for w in workers if w.online])
    )


async def worker_status(request: Request) -> Response:
    q = query(request, WorkerStatusQuery)
    workers = await push_workers(server_state(request).store)
    count = sum(1 for w in workers if w.online and w.deployment_id == q.deployment_id)
    return json_response(WorkerStatusResponse(online_count=count, has_workers=count > 0))


async def _known(state: ServerState, worker_id: str) -> WorkerRow:
    worker = await push_worker(state.store, worker_id)
    if worker is None:
        raise not_found(
            "worker",
            f"no SDK worker {worker_id!r} is registered here; register it again "
            "(POST /api/v1/workers/register)",
        )
    return worker


def _endpoints() -> Sequence[Endpoint]:
    return [
        Endpoint(
            "POST",
            "/api/v1/workers/register",
            register_worker,
            "SDK worker: register (returns its worker id)",
            TAG,
            body=RegisterWorkerRequest,
            response=RegisterWorkerResponse,
            errors=(400, 413, 422),
        ),
        Endpoint(
            "POST",
            "/api/v1/workers/deployments",
            register_deployment,
            "SDK worker: register its deployment",
            TAG,
            response=Accepted,
            body=DeploymentRequest,
            errors=(400, 413, 422),
        ),
        Endpoint(
            "POST",
            "/api/v1/workers/deployments/{deployment_id}/workflows",
            register_deployment_workflow,
            "SDK worker: register a workflow, agent or tool it serves",
            TAG,
            response=Accepted,
            body=DeploymentWorkflowRequest,
            errors=(400, 413, 422),
        ),
        Endpoint(
            "POST",
            "/api/v1/workers/queues",
            register_queues,
            "SDK worker: register its queues and their concurrency limits",
            TAG,
            response=Accepted,
            body=QueuesRequest,
            errors=(400, 413, 422),
        ),
        Endpoint(
            "GET",
            "/api/v1/workers/active",
            active_workers,
            "SDK workers online",
            TAG,
            response=ActiveWorkersResponse,
        ),
        Endpoint(
            "GET",
            "/api/v1/workers/status",
            worker_status,
            "How many SDK workers of a deployment are online",
            TAG,
            query=WorkerStatusQuery,
            response=WorkerStatusResponse,
            errors=(422,),
        ),
        Endpoint(
            "POST",
            "/api/v1/workers/{worker_id}/online",
            mark_online,
            "SDK worker: ready for runs",
            TAG,
            response=Accepted,
            errors=(404,),
        ),
        Endpoint(
            "POST",
            "/api/v1/workers/{worker_id}/heartbeat",
            heartbeat,
            "SDK worker: alive (renews the leases of its runs; re_register when unknown)",
            TAG,
            response=HeartbeatResponse,
        ),
    ]


ENDPOINTS = list(_endpoints())
