"""``SandboxManager``: which sandbox a tool call uses, and when sandboxes go away.

One manager per worker process. A sandbox tool call asks it for the sandbox of
its run tree (``scope="execution"``, the default) or of its session
(``scope="session"``); the first call creates the sandbox, later calls share it.

Ending sandboxes:

- execution scope: when the run tree's root execution ends (completed, failed
  or cancelled, on any worker), the manager tears the environment down and
  deletes the workspace folder it made. A root that is merely waiting (for an
  approval, say) keeps its sandbox: it will need its files when it resumes.
- session scope: torn down after ``idle_destroy_timeout`` without use (default
  one hour); the session's workspace folder stays for its next turn.
- a worker that crashed leaves containers and processes behind. Every manager
  sweeps them: anything labelled with a worker id that the store no longer
  knows as alive is removed (its run, requeued elsewhere, makes a new
  environment over the same workspace folder).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import signal
import time
from typing import TYPE_CHECKING, Any

from polos.execution import workspace_owners
from polos.execution.sandbox import ManagedSandbox, Sandbox
from polos.execution.types import DEFAULT_IDLE_DESTROY_TIMEOUT, SandboxToolsConfig
from polos.runtime.worker_resources import on_worker_stop

if TYPE_CHECKING:
    from polos.engine.run import ExecutionRun
    from polos.store import Store

log = logging.getLogger("polos.sandbox")

#: How often idle session sandboxes and crashed workers' leftovers are swept.
DEFAULT_SWEEP_INTERVAL_S = 10 * 60
DEFAULT_IDLE_TIMEOUT = DEFAULT_IDLE_DESTROY_TIMEOUT
#: How often the end of a watched root execution is checked when no signal
#: announces it (it ended in another process on SQLite): every second, or
#: slower with many runs watched so that checks stay under 10 queries a second.
END_POLL_SECONDS = 1.0
END_POLL_MAX_QUERIES_PER_SECOND = 10
#: A worker on another host silent for this long is taken for dead. Generous on
#: purpose: removing a live worker's sandbox is worse than reclaiming late (a
#: dead worker on this host is recognised at once, by its missing process).
STALE_WORKER_SECONDS = 600.0
#: Project folder for workspaces when ``POLOS_PROJECT_ID`` is not set.
DEFAULT_PROJECT_ID = "default"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(s: str) -> float:
    """Seconds in ``"30m"``, ``"1h"``, ``"3d"`` (also ``"90s"``)."""
    found = _DURATION.match(s)
    if found is None:
        raise ValueError(
            f"invalid duration {s!r}: write a number and a unit, e.g. '30m', '1h', '3d'"
        )
    return float(found.group(1)) * _UNIT_SECONDS[found.group(2)]


def store_label(store: Store) -> str:
    """A short stable name of a database, so sweeps never touch another deployment's sandboxes."""
    return hashlib.sha256(store.description.encode()).hexdigest()[:16]


def sandbox_id_for(config: SandboxToolsConfig, owner: str) -> str:
    """The id of the sandbox ``config`` gives run tree or session ``owner``.

    Derived, not random, so every worker that serves the owner (after a crash,
    or tool calls spread over several workers) names the same workspace.
    """
    if config.id:
        return config.id
    digest = hashlib.sha256(f"{owner}\n{config.model_dump_json()}".encode()).hexdigest()
    return f"sandbox-{digest[:16]}"


class SandboxManager:
    """Creates, shares and ends the sandboxes of one worker."""

    def __init__(
        self,
        worker_id: str,
        project_id: str,
        orchestrator_client: Any = None,
        *,
        store: Store | None = None,
    ) -> None:
        self._worker_id = worker_id
        self._project_id = project_id
        self._orchestrator_client = orchestrator_client
        if store is None and orchestrator_client is not None:
            store = getattr(orchestrator_client, "store", None)
        self._store = store
        self._sandboxes: dict[str, ManagedSandbox] = {}
        self._session_sandboxes: dict[str, ManagedSandbox] = {}
        self._by_owner: dict[str, ManagedSandbox] = {}
        self._creating = asyncio.Lock()
        self._sweep_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._watched: set[str] = set()
        # Sandboxes of ended runs being torn down; shutdown waits for them, so a
        # worker stopped just as a run ends still deletes that run's workspace.
        self._ending: set[asyncio.Task[None]] = set()
        self._swept_once = False

    @property
    def worker_id(self) -> str:
        return self._worker_id

    @property
    def project_id(self) -> str:
        return self._project_id

    def set_worker_id(self, worker_id: str) -> None:
        self._worker_id = worker_id
        for sandbox in self._sandboxes.values():
            sandbox.set_worker_id(worker_id)

    # finding and creating ------------------------------------------------------------
    async def get_or_create_sandbox(
        self,
        config: SandboxToolsConfig,
        execution_id: str,
        session_id: str | None = None,
    ) -> Sandbox:
        """The sandbox of ``execution_id`` (a root execution) or, with
        ``scope="session"``, of ``session_id``; made on first request."""
        scope = config.scope or "execution"
        if scope == "session":
            if not session_id:
                raise ValueError(
                    "scope='session' keeps one sandbox per session, but this run has no "
                    "session id: invoke the agent with session_id=..., or use scope='execution'"
                )
            owner = f"session:{session_id}"
        elif scope == "execution":
            owner = f"execution:{execution_id}"
        else:
            raise ValueError(f"unknown sandbox scope {scope!r}: use 'execution' or 'session'")
        key = f"{owner}\n{sandbox_id_for(config, owner)}"
        sandbox = self._by_owner.get(key)
        if sandbox is None or sandbox.destroyed:
            sandbox = await self._create(key, config, owner, scope, session_id)
        sandbox.attach_execution(execution_id)
        if scope == "execution":
            self._watch(execution_id)
        return sandbox

    async def _create(
        self,
        key: str,
        config: SandboxToolsConfig,
        owner: str,
        scope: str,
        session_id: str | None,
    ) -> ManagedSandbox:
        """Make the sandbox of ``key`` (once, however many tool calls ask at the same time)."""
        async with self._creating:
            sandbox = self._by_owner.get(key)
            if sandbox is None or sandbox.destroyed:
                # Clear what crashed workers left first: above all a dead worker's
                # container of this very sandbox, which must not be taken over
                # (its labels still name the dead worker, so a sweep would
                # remove it under us); the workspace it mounted is reused.
                docker = (config.env or "docker") == "docker"
                if docker or not self._swept_once:
                    self._swept_once = True
                    await self.reclaim_orphans(containers=docker)
                config = config.model_copy(update={"id": sandbox_id_for(config, owner)})
                sandbox = ManagedSandbox(
                    config,
                    self._worker_id,
                    self._project_id,
                    session_id if scope == "session" else None,
                )
                if self._store is not None:
                    sandbox.extra_labels["polos.store"] = store_label(self._store)
                    if scope == "execution" and sandbox.workspace_is_managed:
                        # So that any worker can remove the folder once the run
                        # ends, should this one die before it does.
                        await asyncio.to_thread(
                            workspace_owners.remember,
                            sandbox.workspace_dir,
                            owner.removeprefix("execution:"),
                            store_label(self._store),
                        )
                self._by_owner[key] = sandbox
                self._sandboxes[sandbox.id] = sandbox
                if session_id and scope == "session":
                    self._session_sandboxes[session_id] = sandbox
                self._ensure_sweeping()
            return sandbox

    def get_sandbox(self, sandbox_id: str) -> Sandbox | None:
        return self._sandboxes.get(sandbox_id)

    def get_session_sandbox(self, session_id: str) -> Sandbox | None:
        return self._session_sandboxes.get(session_id)

    @property
    def sandboxes(self) -> list[ManagedSandbox]:
        """The live sandboxes of this manager."""
        return list(self._sandboxes.values())

    # ending ------------------------------------------------------------------------
    async def on_execution_complete(self, execution_id: str) -> None:
        """``execution_id`` ended: end the execution-scoped sandboxes it used."""
        self._watched.discard(execution_id)
        for sandbox in list(self._sandboxes.values()):
            if execution_id not in sandbox.active_execution_ids:
                continue
            sandbox.detach_execution(execution_id)
            if sandbox.scope == "execution":
                ending = asyncio.get_running_loop().create_task(
                    self._end(sandbox, remove_workspace=True), name="polos-sandbox-end"
                )
                self._ending.add(ending)
                ending.add_done_callback(self._ending.discard)
                # Shielded: the watcher being cancelled (worker shutdown) must not
                # stop the workspace's removal half way; close() waits for it.
                await asyncio.shield(ending)

    async def destroy_sandbox(self, sandbox_id: str) -> None:
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is not None:
            await self._end(sandbox, remove_workspace=False)

    async def close(self) -> None:
        """At worker shutdown: end the sandboxes of runs that have ended (workspace
        included), then tear every other environment down, keeping its workspace
        for the run's resumption on another worker."""
        watched = set(self._watched)
        self.stop_sweep()
        self._watched.update(watched)
        try:
            await self._reap_ended()
        except Exception as exc:
            log.warning("sandbox cleanup at shutdown: checking runs failed: %s", exc)
        if self._ending:
            await asyncio.gather(*self._ending, return_exceptions=True)
        await self.destroy_all()

    async def destroy_all(self) -> None:
        """Tear every environment down (worker shutdown); workspaces stay for the resume."""
        self.stop_sweep()
        for sandbox in list(self._sandboxes.values()):
            await self._end(sandbox, remove_workspace=False)

    async def _end(self, sandbox: ManagedSandbox, *, remove_workspace: bool) -> None:
        # Forgotten last: a sandbox no longer listed has finished going away.
        try:
            await sandbox.destroy()
            if remove_workspace:
                await asyncio.shield(asyncio.to_thread(sandbox.remove_workspace))
                if sandbox.session_id is None and sandbox.workspace_is_managed:
                    await asyncio.to_thread(workspace_owners.forget, sandbox.workspace_dir)
        finally:
            self._forget(sandbox)

    def _forget(self, sandbox: ManagedSandbox) -> None:
        self._sandboxes.pop(sandbox.id, None)
        for key, known in list(self._by_owner.items()):
            if known is sandbox:
                del self._by_owner[key]
        if sandbox.session_id and self._session_sandboxes.get(sandbox.session_id) is sandbox:
            del self._session_sandboxes[sandbox.session_id]

    # watching root executions end -------------------------------------------------------
    def _watch(self, execution_id: str) -> None:
        if self._store is None or execution_id in self._watched:
            return
        self._watched.add(execution_id)
        if self._watch_task is None or self._watch_task.done():
            self._watch_task = asyncio.get_running_loop().create_task(
                self._watch_loop(), name="polos-sandbox-ends"
            )

    async def _reap_ended(self) -> None:
        """End the sandboxes of watched root executions that have ended."""
        from polos.store.vocabulary import FINAL_STATUSES

        if self._store is None:
            return
        for execution_id in list(self._watched):
            row = await self._store.get_execution(execution_id)
            if row is None or row.status in FINAL_STATUSES:
                await self.on_execution_complete(execution_id)

    async def _watch_loop(self) -> None:
        store = self._store
        assert store is not None
        while self._watched:
            waits = [(e, store.hub.finished_future(e)) for e in list(self._watched)]
            try:
                pause = max(END_POLL_SECONDS, len(waits) / END_POLL_MAX_QUERIES_PER_SECOND)
                await asyncio.wait([fut for _, fut in waits], timeout=pause)
                await self._reap_ended()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store is closing or unreachable: look again later
                log.debug("sandbox cleanup: checking runs failed: %s", exc)
                await asyncio.sleep(END_POLL_SECONDS)
            finally:
                for execution_id, fut in waits:
                    store.hub.discard_future(execution_id, fut)
                    fut.cancel()

    # sweeping ------------------------------------------------------------------------
    def _ensure_sweeping(self) -> None:
        if self._sweep_task is None or self._sweep_task.done():
            self.start_sweep()

    def start_sweep(self, interval_s: float = DEFAULT_SWEEP_INTERVAL_S) -> None:
        """Sweep every ``interval_s``: idle sandboxes, then crashed workers' leftovers."""
        self.stop_sweep()
        self._sweep_task = asyncio.get_running_loop().create_task(
            self._sweep_loop(interval_s), name="polos-sandbox-sweep"
        )

    def stop_sweep(self) -> None:
        for task in (self._sweep_task, self._watch_task):
            if task is not None:
                task.cancel()
        self._sweep_task = None
        self._watch_task = None
        self._watched.clear()

    async def _sweep_loop(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.sweep()
            except Exception as exc:
                log.warning("sandbox sweep failed: %s", exc)

    async def sweep(self) -> None:
        await self.sweep_idle()
        await self.reclaim_orphans()
        await self.reclaim_workspaces()

    async def reclaim_workspaces(self) -> int:
        """Remove the workspace folders Polos made for run trees of this database
        that have ended (or are gone), which a worker that died left behind;
        returns how many."""
        from polos.execution.sandbox import workspaces_dir
        from polos.store.vocabulary import FINAL_STATUSES

        store = self._store
        if store is None:
            return 0
        project_dir = os.path.join(workspaces_dir(), self._project_id)
        owners = await asyncio.to_thread(
            lambda: list(workspace_owners.recorded(project_dir, store_label(store)))
        )
        removed = 0
        for owner in owners:
            if owner.sandbox_id in self._sandboxes:
                continue  # in use here
            row = await store.get_execution(owner.execution_id)
            if row is None or row.status in FINAL_STATUSES:
                await asyncio.to_thread(workspace_owners.forget, owner.workspace)
                removed += 1
        if removed:
            log.info("sandbox sweep: removed %d workspace(s) of ended runs", removed)
        return removed

    async def sweep_idle(self) -> None:
        """Tear down sandboxes unused for longer than their ``idle_destroy_timeout``.

        The workspace folder stays: a run still waiting resumes on the same files.
        """
        now = time.monotonic()
        for sandbox in list(self._sandboxes.values()):
            limit = parse_duration(sandbox.config.idle_destroy_timeout or DEFAULT_IDLE_TIMEOUT)
            if now - sandbox.last_activity_at > limit:
                log.info("sandbox %s idle for %ds: tearing it down", sandbox.id, limit)
                await self._end(sandbox, remove_workspace=False)

    async def alive_worker_ids(self) -> set[str] | None:
        """Workers the store knows as alive (fresh heartbeat, process not provably dead)."""
        if self._store is None:
            return None
        from polos.runtime.liveness import provably_dead

        now = time.time()
        alive: set[str] = set()
        for worker in await self._store.list_workers():
            stale = now - worker.heartbeat_at > STALE_WORKER_SECONDS
            if not stale and not provably_dead(worker.hostname, worker.pid):
                alive.add(worker.worker_id)
        alive.add(self._worker_id)
        return alive

    async def reclaim_orphans(self, *, containers: bool = True) -> None:
        """Kill processes and (with ``containers``) remove containers that dead
        workers of this database left behind."""
        if self._store is None:
            return
        try:
            alive = await self.alive_worker_ids()
        except Exception as exc:
            log.warning("sandbox sweep: cannot list workers (%s); skipping", exc)
            return
        if alive is None:
            return
        mine = store_label(self._store)
        await asyncio.to_thread(_kill_orphan_processes, mine, alive)
        if containers:
            await _remove_orphan_containers(mine, alive, in_use=set(self._sandboxes))


# --- leftovers of crashed workers ------------------------------------------------------------


def _kill_orphan_processes(store: str, alive: set[str]) -> None:
    """Kill local sandbox commands whose worker died (found by their environment labels)."""
    if not os.path.isdir("/proc"):
        return
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except OSError:
            continue
        labels = dict(item.split(b"=", 1) for item in environ if b"=" in item)
        if labels.get(b"POLOS_SANDBOX_STORE", b"").decode() != store:
            continue
        worker = labels.get(b"POLOS_SANDBOX_WORKER_ID", b"").decode()
        if worker and worker not in alive:
            log.info("killing process %s left by dead worker %s", entry, worker)
            with contextlib.suppress(OSError):
                os.kill(int(entry), signal.SIGKILL)


async def _remove_orphan_containers(store: str, alive: set[str], in_use: set[str]) -> None:
    cli = os.environ.get("POLOS_DOCKER_CLI") or "docker"
    listing = await _run(
        cli,
        "ps",
        "-a",
        "--filter",
        "label=polos.managed=true",
        "--filter",
        f"label=polos.store={store}",
        "--format",
        '{{.Names}}\t{{.Label "polos.worker-id"}}\t{{.Label "polos.sandbox-id"}}',
    )
    if listing is None:
        return
    for line in listing.splitlines():
        name, worker, sandbox = [*line.split("\t"), "", ""][:3]
        if name and worker and worker not in alive and sandbox not in in_use:
            log.info("removing container %s left by dead worker %s", name, worker)
            await _run(cli, "rm", "-f", name)


async def _run(*argv: str) -> str | None:
    """stdout of a short CLI call, or None when the CLI is missing or fails."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            stdin=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return None
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    except TimeoutError:
        proc.kill()
        return None
    return out.decode(errors="replace") if proc.returncode == 0 else None


# --- one manager per worker -------------------------------------------------------------------

_managers: dict[tuple[str, int], SandboxManager] = {}


def manager_for(run: ExecutionRun) -> SandboxManager:
    """The sandbox manager of the worker running ``run`` (made on first use)."""
    key = (run.worker_id, id(run.store))
    manager = _managers.get(key)
    if manager is None:
        project = os.environ.get("POLOS_PROJECT_ID") or DEFAULT_PROJECT_ID
        manager = _managers[key] = SandboxManager(run.worker_id, project, store=run.store)

        async def close() -> None:
            _managers.pop(key, None)
            await manager.close()

        on_worker_stop(run.worker_id, close)
    return manager


def managers() -> list[SandboxManager]:
    """Every sandbox manager of this process (for tests and shutdown)."""
    return list(_managers.values())
