"""Chaos suite: many workflows under random faults; nothing may be lost or run twice.

    .venv/bin/python bench/chaos.py [--backend sqlite|postgres|both] [--workflows N]
        [--steps M] [--duration SECONDS] [--workers W] [--seed S] [--short]

N workflows of M sequential steps (``crash_many_steps`` in tests/apps, served
by W worker processes started from tests/apps/worker_app.py) are submitted in
waves over most of the chaos window, while the suite, at random moments:

- SIGKILLs a worker (preferably one that is running something) and starts a
  replacement;
- SIGSTOPs a worker past its lease and later SIGCONTs it: a zombie that wakes
  up mid-step believing it still owns its runs, and must be fenced off;
- on PostgreSQL, restarts the server: a crash (``pg_ctl stop -m immediate``)
  or a fast shutdown, down for a moment each time. The server is a throwaway
  cluster this script creates with ``initdb`` in a temporary directory and
  runs on a free port, never the machine's shared server.

Every step appends ``start|end <execution> <step> <pid> <time>`` to one
ledger file opened with O_APPEND (see tests/apps/crash_workflows.py), so when
the faults stop and the runs settle the suite can tell, against what the
store recorded:

- lost runs: submitted (an id came back) but missing from the store;
- steps re-run after their result was recorded (a start later than the
  record; a step interrupted before its record may run again, and is only
  counted as information);
- late zombie writes: a step record accepted from an attempt after that
  attempt's lease had been taken over (with a margin of one lease);
- failed runs, stuck runs (still active when the settle timeout ends), and
  wrong results (a completed run without exactly its M step records).

It exits 1 unless all of these are 0, and 3 if a kind of fault that was asked
for never happened. ``--short`` is the small form run by tests/test_chaos.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "src")]

from polos import BatchWorkflowInput, PolosClient  # noqa: E402
from polos.store import ACTIVE_STATUSES, Store, store_from_url  # noqa: E402
from toolkit.processes import WorkerProcess  # noqa: E402
from toolkit.steplog import StepLog  # noqa: E402

WORKFLOW = "crash_many_steps"
TAKEOVER_EVENTS = ("lease_expired", "owner_died")


# configuration ---------------------------------------------------------------------------
@dataclass
class Config:
    backend: str = "sqlite"
    workflows: int = 300
    steps: int = 10
    duration: float = 60.0
    workers: int = 4
    slots: int = 20
    lease: float = 3.0
    step_seconds: float = 0.05
    kill_every: tuple[float, float] = (1.5, 5.0)
    restart_every: tuple[float, float] = (6.0, 15.0)
    zombie_every: tuple[float, float] = (6.0, 14.0)
    seed: int = 1
    settle_timeout: float = 180.0
    keep: bool = False
    pg_bin: str | None = None


SHORT = {
    "workflows": 40,
    "steps": 5,
    "duration": 10.0,
    "workers": 3,
    "slots": 10,
    "lease": 2.0,
    "step_seconds": 0.3,
    "kill_every": (1.5, 3.0),
    "restart_every": (3.0, 5.0),
    "zombie_every": (1.0, 3.0),
}


@dataclass
class Report:
    backend: str
    workflows: int
    steps: int
    workers: int
    chaos_seconds: float = 0.0
    total_seconds: float = 0.0
    submitted: int = 0
    kills: int = 0
    pg_crashes: int = 0
    pg_fast_restarts: int = 0
    zombies: int = 0
    takeovers: int = 0
    steps_recorded: int = 0
    interrupted_steps_run_again: int = 0
    zombie_steps_fenced: int = 0
    # must all be 0
    lost_runs: int = 0
    steps_rerun_after_record: int = 0
    late_zombie_writes: int = 0
    failed_runs: int = 0
    stuck_runs: int = 0
    wrong_results: int = 0
    examples: list[str] = field(default_factory=list)

    MUST_BE_ZERO = (
        "lost_runs",
        "steps_rerun_after_record",
        "late_zombie_writes",
        "failed_runs",
        "stuck_runs",
        "wrong_results",
    )

    @property
    def ok(self) -> bool:
        return all(getattr(self, name) == 0 for name in self.MUST_BE_ZERO)

    def note(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)


def say(text: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {text}", flush=True)


# a throwaway PostgreSQL cluster -------------------------------------------------------------
def find_pg_bin(explicit: str | None) -> Path | None:
    candidates = [Path(explicit)] if explicit else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    if shutil.which("pg_ctl"):
        candidates.append(Path(shutil.which("pg_ctl") or "").parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayPostgres:
    """A PostgreSQL cluster of our own: initdb in a temp dir, a free port, trust auth.

    PostgreSQL refuses to run as root; then the cluster runs as the
    ``postgres`` system user, which owns the directory.
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="polos-chaos-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            check=True,
            user=self.user,
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nmax_connections = 300\n"
            )

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "120", "start")

    def stop(self, mode: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "120", "stop")

    def destroy(self, keep: bool) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)


# worker processes -----------------------------------------------------------------------
@dataclass
class Pause:
    pid: int
    stopped_at: float
    continued_at: float | None = None


class Fleet:
    """The worker processes: started through tests/toolkit's WorkerProcess."""

    def __init__(self, url: str, ledger: Path, workdir: Path, config: Config) -> None:
        self.url, self.ledger, self.workdir, self.config = url, ledger, workdir, config
        self.live: list[WorkerProcess] = []
        self.paused: set[int] = set()
        self.killed: dict[int, float] = {}
        self.pauses: list[Pause] = []
        self.started = 0

    def start_one(self) -> WorkerProcess:
        self.started += 1
        worker = WorkerProcess(
            self.url,
            self.ledger,
            output=self.workdir / f"worker-{self.started}.out",
            ready_timeout=180,
            POLOS_TEST_LEASE=str(self.config.lease),
            POLOS_TEST_SLOTS=str(self.config.slots),
            POLOS_TEST_GRACE="2",
        )
        self.live.append(worker)
        return worker

    async def fill(self) -> None:
        """Start workers until W are alive (in parallel)."""
        missing = self.config.workers - len(self.live)
        await asyncio.gather(*(asyncio.to_thread(self.start_one) for _ in range(missing)))

    def kill(self, worker: WorkerProcess) -> None:
        worker.kill()
        self.killed[worker.pid] = time.time()
        self.live.remove(worker)

    def pause(self, worker: WorkerProcess) -> Pause:
        os.kill(worker.pid, signal.SIGSTOP)
        self.paused.add(worker.pid)
        pause = Pause(worker.pid, time.time())
        self.pauses.append(pause)
        return pause

    def resume(self, pause: Pause) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pause.pid, signal.SIGCONT)
        pause.continued_at = time.time()
        self.paused.discard(pause.pid)

    def describe(self, pid: int) -> str:
        """How a pid fared: paused (when), killed (when)."""
        notes = [
            f"paused {p.stopped_at:.3f}-{p.continued_at or 0:.3f}"
            for p in self.pauses
            if p.pid == pid
        ]
        if pid in self.killed:
            notes.append(f"killed {self.killed[pid]:.3f}")
        return f" ({', '.join(notes)})" if notes else ""

    def runnable(self) -> list[WorkerProcess]:
        return [w for w in self.live if w.pid not in self.paused and w.proc.poll() is None]

    def stop_all(self) -> None:
        for pid in list(self.paused):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        for worker in self.live:
            if worker.proc.poll() is None:
                worker.proc.send_signal(signal.SIGTERM)
        for worker in self.live:
            try:
                worker.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()

    def tails(self, lines: int = 15) -> str:
        out = []
        for path in sorted(self.workdir.glob("worker-*.out")):
            text = path.read_text(errors="replace").splitlines()
            out.append(f"--- {path.name} ---\n" + "\n".join(text[-lines:]))
        return "\n".join(out)


# the faults ------------------------------------------------------------------------------
class Chaos:
    def __init__(
        self, config: Config, fleet: Fleet, store: Store, pg: ThrowawayPostgres | None
    ) -> None:
        self.config, self.fleet, self.store, self.pg = config, fleet, store, pg
        self.rng = random.Random(config.seed)
        self.stop = asyncio.Event()
        self.report = Report(config.backend, config.workflows, config.steps, config.workers)
        self.pg_down = False

    async def sleep(self, bounds: tuple[float, float]) -> bool:
        """Sleep a random while; False if the chaos window closed meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), self.rng.uniform(*bounds))
        return not self.stop.is_set()

    async def busy_worker(self) -> WorkerProcess | None:
        candidates = self.fleet.runnable()
        if len(candidates) < 2:
            return None  # keep one worker running whatever else happens
        owners: set[str] = set()
        if not self.pg_down:
            with contextlib.suppress(Exception):
                rows = await asyncio.wait_for(
                    self.store.list_executions(status="running", limit=500), 5
                )
                owners = {r.owner or "" for r in rows}
        busy = [w for w in candidates if any(f"-{w.pid}-" in o for o in owners)]
        return self.rng.choice(busy or candidates)

    async def victim(self) -> WorkerProcess | None:
        """A worker to hit, as soon as there is one to spare (None: the window closed)."""
        while not self.stop.is_set():
            victim = await self.busy_worker()
            if victim is not None:
                return victim
            await self.sleep((0.2, 0.2))
        return None

    async def killer(self) -> None:
        while await self.sleep(self.config.kill_every):
            victim = await self.victim()
            if victim is None:
                break
            self.fleet.kill(victim)
            self.report.kills += 1
            say(f"SIGKILL worker {victim.pid} (kill {self.report.kills})")
            if len(self.fleet.live) < self.config.workers:  # stand-ins for zombies count
                await asyncio.to_thread(self.fleet.start_one)

    async def zombies(self) -> None:
        while await self.sleep(self.config.zombie_every):
            victim = await self.victim()
            if victim is None:
                break
            pause = self.fleet.pause(victim)
            self.report.zombies += 1
            seconds = self.config.lease * 3 + self.rng.uniform(0.5, 2.0)
            say(f"SIGSTOP worker {victim.pid} for {seconds:.1f}s (zombie {self.report.zombies})")
            # A stand-in keeps the capacity while the zombie sleeps.
            stand_in = asyncio.create_task(asyncio.to_thread(self.fleet.start_one))
            await asyncio.sleep(seconds)  # not cut short: a zombie always outlives its lease
            self.fleet.resume(pause)
            say(f"SIGCONT worker {victim.pid}")
            await stand_in

    async def restarter(self) -> None:
        assert self.pg is not None
        while await self.sleep(self.config.restart_every):
            crash = self.rng.random() < 0.6
            down = self.rng.uniform(0.5, 3.0)
            self.pg_down = True
            await asyncio.to_thread(self.pg.stop, "immediate" if crash else "fast")
            say(f"PostgreSQL {'crashed' if crash else 'stopped'}; down for {down:.1f}s")
            await asyncio.sleep(down)
            await asyncio.to_thread(self.pg.start)
            self.pg_down = False
            if crash:
                self.report.pg_crashes += 1
            else:
                self.report.pg_fast_restarts += 1
            say("PostgreSQL is back")

    async def submitter(self, client: PolosClient, ids: dict[str, str]) -> None:
        """Submit the N runs in waves over 80% of the window; idempotency keys make a
        wave that failed mid-outage safe to send again."""
        config = self.config
        window = config.duration * 0.8
        waves = max(1, int(window / 0.5))
        per_wave = -(-config.workflows // waves)
        began = time.monotonic()
        for wave, start in enumerate(range(0, config.workflows, per_wave)):
            await asyncio.sleep(max(0.0, began + wave * 0.5 - time.monotonic()))
            items = [
                BatchWorkflowInput(
                    id=WORKFLOW,
                    payload={
                        "steps": config.steps,
                        "step_seconds": round(self.rng.uniform(0, config.step_seconds), 4),
                    },
                    idempotency_key=f"chaos-{i}",
                )
                for i in range(start, min(config.workflows, start + per_wave))
            ]
            while True:
                try:
                    handles = await client.batch_invoke(items)
                    break
                except Exception as exc:
                    say(f"submitting a wave failed ({exc!r:.120}); sending it again")
                    await asyncio.sleep(1.0)
            for item, handle in zip(items, handles, strict=True):
                ids[str(item.idempotency_key)] = handle.id
        self.report.submitted = len(ids)

    async def reporter(self, total: int) -> None:
        while await self.sleep((5.0, 5.0)):
            await self.progress(total)

    async def progress(self, total: int) -> int | None:
        """Print and return how many runs are still active (None while unreachable)."""
        if self.pg_down:
            return None
        try:
            counts = await asyncio.wait_for(self.store.queue_counts(max_keys=0), 10)
        except Exception:
            return None
        active = Counter()
        for c in counts:  # each queue's totals (no key is asked for)
            active.update(queued=c.queued, running=c.running, waiting=c.waiting)
        r = self.report
        say(
            f"active {sum(active.values())} ({dict(active)}) of {total} submitted; "
            f"kills {r.kills}, zombies {r.zombies}, pg restarts {r.pg_crashes + r.pg_fast_restarts}"
        )
        return sum(active.values())


# one run of the suite ------------------------------------------------------------------------
async def run_backend(config: Config) -> Report:
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=f"polos-chaos-{config.backend}-"))
    ledger = workdir / "ledger.log"
    pg: ThrowawayPostgres | None = None
    if config.backend == "postgres":
        bin_dir = find_pg_bin(config.pg_bin)
        if bin_dir is None:
            raise SystemExit("no initdb/pg_ctl found (looked in /usr/lib/postgresql/*/bin)")
        pg = ThrowawayPostgres(bin_dir)
        say(f"throwaway PostgreSQL ({bin_dir}) on port {pg.port} in {pg.root}")
        await asyncio.to_thread(pg.init)
        await asyncio.to_thread(pg.start)
        url = pg.url
    else:
        url = f"sqlite:///{workdir / 'chaos.db'}"
    say(
        f"{config.backend}: {config.workflows} workflows x {config.steps} steps, "
        f"{config.workers} workers, {config.duration:.0f}s of chaos; ledger {ledger}"
    )

    fleet = Fleet(url, ledger, workdir, config)
    client = PolosClient(database_url=url)
    store = store_from_url(url)
    ids: dict[str, str] = {}
    chaos: Chaos | None = None
    try:
        await store.open()  # migrates before the workers start
        await fleet.fill()
        chaos = Chaos(config, fleet, store, pg)
        tasks = [
            asyncio.create_task(chaos.killer()),
            asyncio.create_task(chaos.zombies()),
            asyncio.create_task(chaos.reporter(config.workflows)),
        ]
        if pg is not None:
            tasks.append(asyncio.create_task(chaos.restarter()))
        submitting = asyncio.create_task(chaos.submitter(client, ids))
        chaos_began = time.monotonic()
        await asyncio.sleep(config.duration)
        chaos.stop.set()
        await asyncio.gather(*tasks)
        await submitting
        chaos.report.chaos_seconds = round(time.monotonic() - chaos_began, 1)
        say("faults stopped; letting the runs settle")
        await fleet.fill()
        await settle(chaos, config)
        await verify(store, ids, ledger, fleet, config, chaos.report)
    finally:
        await client.close()
        await store.close()
        await asyncio.to_thread(fleet.stop_all)
        if chaos is not None and not chaos.report.ok:
            print(fleet.tails(), flush=True)
        if pg is not None:
            await asyncio.to_thread(pg.destroy, config.keep)
        if config.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    chaos.report.total_seconds = round(time.monotonic() - began, 1)
    return chaos.report


async def settle(chaos: Chaos, config: Config) -> None:
    """Until no run is active, or nothing moved for ``settle_timeout`` seconds."""
    last_change = time.monotonic()
    last: int | None = None
    while True:
        active = await chaos.progress(config.workflows)
        if active == 0:
            return
        if active != last:
            last, last_change = active, time.monotonic()
        if time.monotonic() - last_change > config.settle_timeout:
            say(f"{active} runs made no progress for {config.settle_timeout:.0f}s: stuck")
            return
        await asyncio.sleep(1.0)


async def verify(
    store: Store, ids: dict[str, str], ledger: Path, fleet: Fleet, config: Config, report: Report
) -> None:
    log = StepLog.read(ledger)
    expected_keys = {f"s{i}" for i in range(config.steps)}
    for execution_id in ids.values():
        row = await store.get_execution(execution_id)
        if row is None:
            report.lost_runs += 1
            report.note(f"lost: {execution_id}")
            continue
        if row.status in ("failed", "cancelled"):
            report.failed_runs += 1
            report.note(f"{row.status}: {execution_id}: {row.error}")
            continue
        if row.status in ACTIVE_STATUSES:
            report.stuck_runs += 1
            report.note(f"stuck {row.status}: {execution_id} (owner {row.owner})")
            continue
        steps = await store.list_steps(execution_id)
        history = await store.list_history(execution_id)
        report.takeovers += sum(h.event in TAKEOVER_EVENTS for h in history)
        keys = {s.step_key for s in steps}
        result = orjson.loads(row.result or "null")
        if keys != expected_keys or result != config.steps or any(s.error for s in steps):
            report.wrong_results += 1
            report.note(f"wrong: {execution_id}: result {result!r}, steps {sorted(keys)}")
        # When each attempt lost its lease (taken over), from the history.
        ended: dict[int, float] = {}
        for h in history:
            if h.event in TAKEOVER_EVENTS:
                ended.setdefault(h.attempt, h.at)
        for s in steps:
            report.steps_recorded += 1
            starts = log.starts[(execution_id, s.step_key)]
            report.interrupted_steps_run_again += max(0, len(starts) - 1)
            again = [(pid, at) for pid, at in starts if at > s.created_at]
            if again:
                report.steps_rerun_after_record += 1
                report.note(
                    f"re-run: {execution_id}/{s.step_key} recorded at {s.created_at:.6f} "
                    f"(attempt {s.attempt}) started again by "
                    + ", ".join(f"pid {pid} at {at:.6f}{fleet.describe(pid)}" for pid, at in again)
                )
            if s.attempt in ended and s.created_at > ended[s.attempt] + config.lease:
                report.late_zombie_writes += 1
                report.note(
                    f"late write: {execution_id}/{s.step_key} by attempt {s.attempt} at "
                    f"{s.created_at:.6f}, {s.created_at - ended[s.attempt]:.1f}s after it lost "
                    "its lease"
                )
    report.zombie_steps_fenced = zombie_steps_fenced(log, fleet)


def zombie_steps_fenced(log: StepLog, fleet: Fleet) -> int:
    """Steps a zombie had in flight when it was stopped and finished after it woke up
    (their records were refused: the runs had been taken over meanwhile)."""
    count = 0
    for pause in fleet.pauses:
        if pause.continued_at is None:
            continue
        for key, starts in log.starts.items():
            began = [at for pid, at in starts if pid == pause.pid and at < pause.stopped_at]
            ended = [
                at for pid, at in log.ends[key] if pid == pause.pid and at > pause.continued_at
            ]
            if began and ended:
                count += 1
    return count


# command line -----------------------------------------------------------------------------------
def parse(argv: list[str]) -> tuple[list[Config], Path | None]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--short", action="store_true", help="the small form run by the test suite")
    p.add_argument("--workflows", "-n", type=int)
    p.add_argument("--steps", "-m", type=int)
    p.add_argument("--duration", type=float, help="seconds of faults (per backend)")
    p.add_argument("--workers", type=int)
    p.add_argument("--slots", type=int, help="concurrent runs per worker")
    p.add_argument("--lease", type=float, help="lease seconds of the workers")
    p.add_argument("--step-seconds", type=float, help="longest step (each run draws its own)")
    for fault in ("kill", "zombie", "restart"):
        p.add_argument(
            f"--{fault}-every",
            type=_bounds,
            metavar="MIN,MAX",
            help=f"seconds between {fault}s, drawn uniformly",
        )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--settle-timeout", type=float, help="stuck after this long without progress")
    p.add_argument("--pg-bin", help="directory holding initdb and pg_ctl")
    p.add_argument("--keep", action="store_true", help="keep the temporary directories")
    p.add_argument("--json", type=Path, help="write the reports to this file")
    args = p.parse_args(argv)
    base: dict[str, Any] = dict(SHORT) if args.short else {}
    for name in ("workflows", "steps", "duration", "workers", "slots", "lease", "step_seconds"):
        if getattr(args, name) is not None:
            base[name] = getattr(args, name)
    for name in ("kill_every", "zombie_every", "restart_every"):
        if getattr(args, name) is not None:
            base[name] = getattr(args, name)
    if args.settle_timeout is not None:
        base["settle_timeout"] = args.settle_timeout
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    configs = [
        Config(backend=b, seed=args.seed, keep=args.keep, pg_bin=args.pg_bin, **base)
        for b in backends
    ]
    return configs, args.json


def _bounds(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    return float(low), float(high or low)


def faults_missing(report: Report) -> list[str]:
    missing = []
    if report.kills == 0:
        missing.append("no worker was killed")
    if report.zombies == 0:
        missing.append("no worker was paused")
    if report.backend == "postgres" and report.pg_crashes + report.pg_fast_restarts == 0:
        missing.append("PostgreSQL was never restarted")
    return missing


def main(argv: list[str] | None = None) -> int:
    configs, json_path = parse(sys.argv[1:] if argv is None else argv)
    reports = [asyncio.run(run_backend(config)) for config in configs]
    code = 0
    for report in reports:
        print(f"\n== chaos on {report.backend} ==")
        for name, value in asdict(report).items():
            if name != "examples":
                flag = "  <-- must be 0" if name in Report.MUST_BE_ZERO and value else ""
                print(f"  {name:30} {value}{flag}")
        for example in report.examples:
            print(f"  e.g. {example}")
        missing = faults_missing(report)
        for text in missing:
            print(f"  fault missing: {text}")
        if not report.ok:
            code = 1
        elif missing and code == 0:
            code = 3
    summary = [
        {**asdict(r), "must_be_zero": list(Report.MUST_BE_ZERO), "ok": r.ok} for r in reports
    ]
    print("CHAOS " + json.dumps(summary), flush=True)
    if json_path is not None:
        json_path.write_text(json.dumps(summary, indent=2))
    print("\nPASS" if code == 0 else f"\nFAIL (exit {code})", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
