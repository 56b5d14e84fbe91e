"""Run by tests/test_polos_sdk_client.py with the real polos-sdk (a separate virtualenv):
its PolosClient against our server. Prints one JSON object: what each call gave."""

import asyncio
import json
import sys
from typing import Any

from polos import PolosClient, events
from polos.features.events import EventData

URL, KEY = sys.argv[1], sys.argv[2]


async def wait_status(client: PolosClient, run_id: str, wanted: set[str]) -> dict[str, Any]:
    for _ in range(600):
        info = await client.get_execution(run_id)
        if info["status"] in wanted:
            return info
        await asyncio.sleep(0.05)
    raise AssertionError(f"{run_id} never reached {wanted}")


async def main() -> None:
    out: dict[str, Any] = {}
    client = PolosClient(api_url=URL, api_key=KEY, project_id="default")

    handle = await client.invoke("srv_echo", {"n": 7}, session_id="sdk")
    out["invoke"] = {"id": handle.id, "workflow_id": handle.workflow_id}
    info = await wait_status(client, handle.id, {"completed", "failed"})
    out["get_execution"] = {k: info.get(k) for k in ("status", "result", "session_id")}
    out["handle_get"] = (await handle.get(client))["status"]

    waiting = await client.invoke("srv_wait", {"topic": "sdk-orders"})
    await wait_status(client, waiting.id, {"waiting"})
    seq = await events.publish(client, "sdk-orders", EventData(event_type="paid", data={"ok": 1}))
    out["publish"] = seq
    out["published_run"] = (await wait_status(client, waiting.id, {"completed"}))["result"]

    approval = await client.invoke("srv_approval", {"form": None})
    await wait_status(client, approval.id, {"waiting"})
    await client.resume("srv_approval", approval.id, "approve", {"yes": True})
    out["resume"] = (await wait_status(client, approval.id, {"completed"}))["result"]

    stuck = await client.invoke("srv_wait", {"topic": "never"})
    out["cancel"] = await client.cancel_execution(stuck.id)
    out["cancelled_status"] = (await client.get_execution(stuck.id))["status"]

    try:
        from polos.types.types import BatchWorkflowInput

        batch = await client.batch_invoke(
            [
                BatchWorkflowInput(id="srv_echo", payload={"n": 1}),
                BatchWorkflowInput(id="srv_echo", payload={"n": 2}),
            ]
        )
        out["batch_invoke"] = [
            (await wait_status(client, h.id, {"completed"}))["result"]["doubled"] for h in batch
        ]
    except Exception as exc:  # recorded: see docs/polos-compatibility.md
        out["batch_invoke"] = f"{type(exc).__name__}: {exc}"

    try:
        seen = []
        stream = events.stream_topic(client, "sdk-orders", last_sequence_id=0)
        async for event in stream:
            seen.append(event.data)
            break
        out["stream_topic"] = seen
    except Exception as exc:
        out["stream_topic"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(out))


asyncio.run(main())
