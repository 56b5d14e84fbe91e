"""A durable order workflow that crashes itself mid-run and resumes on restart.

    ./run demo            (or: python examples/crash_demo.py)

The first process validates and charges an order, sleeps durably, then is
killed with SIGKILL in the middle of sending the confirmation email. A second
process, started on the same embedded SQLite file, resumes the run: validate
and charge are NOT called again (their outputs are replayed from the
database), the email is sent, and the result is printed.

Then, run from a terminal, it serves the dashboard over the same database
(``polos server``) and prints the run's address; Ctrl-C stops it. Elsewhere
(a pipe, CI) or with ``--no-dashboard`` it prints the command that would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pydantic import BaseModel

from polos import Polos, WorkflowContext, workflow

DB = Path(".polos/demo.db")
STATE = Path(".polos/demo-execution-id")


class OrderInput(BaseModel):
    id: str
    amount: float
    email: str


class Order(BaseModel):
    id: str
    amount: float
    email: str


class OrderOutput(BaseModel):
    order_id: str
    charge_id: str
    status: str


def say(text: str) -> None:
    print(f"  [pid {os.getpid()}] {text}", flush=True)


def validate_order(order: OrderInput) -> Order:
    say(f"validate: checking order {order.id}")
    return Order(id=order.id, amount=order.amount, email=order.email)


async def charge_card(order: Order, idempotency_key: str) -> str:
    say(f"charge: charging ${order.amount:.2f} (idempotency key {idempotency_key[:13]}...)")
    await asyncio.sleep(0.2)
    return f"ch_{order.id}"


async def send_confirmation(order: Order) -> bool:
    say(f"send_email: sending confirmation to {order.email}")
    if os.environ.get("DEMO_CRASH") == "1":
        say("send_email: *** the process is killed (SIGKILL) right now ***")
        os.kill(os.getpid(), signal.SIGKILL)
    await asyncio.sleep(0.2)
    say("send_email: sent")
    return True


@workflow
async def process_order(ctx: WorkflowContext, input: OrderInput) -> OrderOutput:
    order = await ctx.step.run("validate", validate_order, input)
    charge_id = await ctx.step.run("charge", charge_card, order, ctx.step.idempotency_key("charge"))
    # Plain workflow code (not a step) runs again on every replay; steps don't.
    say("workflow code: at cool_off, a durable 1 s sleep that frees the worker slot")
    await ctx.step.wait_for("cool_off", seconds=1)
    await ctx.step.run("send_email", send_confirmation, order)
    return OrderOutput(order_id=order.id, charge_id=charge_id, status="completed")


async def child() -> None:
    async with Polos(database_url=f"sqlite:///{DB}") as polos:
        if STATE.exists():
            execution_id = STATE.read_text()
            say(f"resuming: the interrupted run {execution_id[:8]} is picked up by this process")
        else:
            handle = await process_order.invoke(
                polos, OrderInput(id="A-1001", amount=42.5, email="ada@example.com")
            )
            execution_id = handle.id
            STATE.write_text(execution_id)
            say(f"started run {execution_id[:8]}")
        result = await polos.wait_for_result(execution_id, timeout=60)
        say(f"result: {result!r}")
        info = await polos.get_execution(execution_id)
        print("\n  history:", " -> ".join(e.event for e in info.history))
        print("  steps:  ", ", ".join(f"{s.step_key} (attempt {s.attempt})" for s in info.steps))


def main() -> None:
    if "--child" in sys.argv:
        logging.basicConfig(level=logging.WARNING, format="  [polos] %(message)s")
        asyncio.run(child())
        return
    for path in (DB, STATE, Path(f"{DB}-wal"), Path(f"{DB}-shm")):
        path.unlink(missing_ok=True)
    DB.parent.mkdir(exist_ok=True)
    cmd = [sys.executable, __file__, "--child"]
    print("== first process: runs the workflow and crashes mid-step ==", flush=True)
    first = subprocess.run(cmd, env={**os.environ, "DEMO_CRASH": "1"})
    print(f"== first process died with signal {-first.returncode} ==\n", flush=True)
    time.sleep(0.2)
    print("== second process: same database, resumes where the first stopped ==", flush=True)
    second = subprocess.run(cmd, env={**os.environ, "DEMO_CRASH": "0"})
    if second.returncode != 0:
        sys.exit(second.returncode)
    print("\nvalidate and charge ran once; send_email, interrupted, ran again. Nothing was lost.")
    show_dashboard(STATE.read_text().strip(), "--no-dashboard" not in sys.argv)


def show_dashboard(execution_id: str, serve: bool) -> None:
    """Serve the dashboard over the demo's database, or say how to."""
    port = 8080 if _port_is_free(8080) else _any_free_port()
    polos_cli = Path(sys.executable).with_name("polos")
    command = [str(polos_cli), "server", "--database-url", f"sqlite:///{DB}", "--port", str(port)]
    url = f"http://127.0.0.1:{port}/runs/{execution_id}"
    if not (serve and sys.stdout.isatty()):
        print(f"\nSee the run in the dashboard: {' '.join(command)}\n  then open {url}")
        return
    print(f"\nDashboard: {url}  (Ctrl-C stops it)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        subprocess.run([*command, "--log-level", "warning"], check=False)


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _any_free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    main()
