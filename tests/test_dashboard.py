"""The dashboard in headless Chromium, on SQLite and PostgreSQL.

- a run appears in the run list while it runs and turns completed without a
  reload (htmx polls; a marker set on the page's window survives);
- a run's page shows every recorded step with its duration, its retry and its
  wait, and the run tree with its child;
- an agent's page (the agent driven through the real openai SDK against the
  fake OpenAI server) shows each LLM call and tool call with its tokens;
- approving from the dashboard (approvals page -> approval form) resumes the run;
- a run's trace (``/runs/{id}/trace``): the whole tree as a span waterfall, a
  child under its parent's step, gathered steps overlapping, an agent's LLM
  calls and its tool's run; the trace id OpenTelemetry uses; folding rows;
- a run no live worker serves is flagged, with its deployment, in the list and on its page.

Screenshots go to ``test-artifacts/dashboard/`` (git-ignored; ``POLOS_TEST_ARTIFACTS``
moves it), named after the test and the backend.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

import agent_defs as defs
import dashboard_workflows as dw
import server_workflows  # noqa: F401
from browser import chromium
from polos import Polos, PolosClient, WorkflowContext, schedules, workflow
from polos.server.dashboard import trace as trace_view
from polos.server.dashboard import trace_page
from polos.store.api_keys import new_api_key
from polos.testing import FakeOpenAIServer, FakeToolCall, Turn
from server_kit import serving
from toolkit.otlp import OtlpReceiver
from toolkit.waiting import until, wait_for_step

ARTIFACTS = Path(os.environ.get("POLOS_TEST_ARTIFACTS", "test-artifacts")) / "dashboard"
#: A duration as the dashboard writes it.
DURATION = re.compile(r"^\d+(\.\d+)? (ms|s)( so far)?$|^\d+ (min|h|d) \d+ (s|min|h)$")
WIDE, NARROW = {"width": 1280, "height": 900}, {"width": 800, "height": 900}


@pytest.fixture
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        defs.point_agents_at(server.base_url)
        dw.point_agent_at(server.base_url)
        yield server


async def shot(page: Any, name: str, backend: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}-{backend}.png"
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path.resolve()}")


async def no_sideways_scroll(page: Any) -> None:
    """Readable at this width: the page itself never scrolls sideways."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


async def test_run_list_is_live_and_a_run_shows_every_step(
    polos: Polos, database_url: str, backend: str
) -> None:
    name = f"live-{backend}"
    async with serving(database_url) as s, chromium() as browser:
        page = await browser.new_page(viewport=WIDE)
        await page.goto(s.url + "/")
        await page.evaluate("window.__notReloaded = true")
        handle = await polos.invoke("dash_steps", {"name": name})
        row = page.locator(f'tr[data-run="{handle.id}"]')
        await row.and_(page.locator('[data-status="running"]')).wait_for(timeout=10_000)
        assert await row.locator(".status").inner_text() == "running"
        await shot(page, "runs-running", backend)

        # The run's own page, open meanwhile, follows it too; a value opened there stays open.
        live = await browser.new_page(viewport=WIDE)
        await live.goto(f"{s.url}/runs/{handle.id}")
        assert await live.locator("#run").get_attribute("data-status") == "running"
        await live.locator("#run-input summary").click()

        dw.GATES.setdefault(name, asyncio.Event()).set()
        await page.locator(f'tr[data-run="{handle.id}"][data-status="completed"]').wait_for(
            timeout=20_000
        )
        assert await page.evaluate("window.__notReloaded") is True, "the page was reloaded"
        await live.locator('#run[data-status="completed"]').wait_for(timeout=10_000)
        assert await live.locator('li[data-step="save"]').count() == 1
        assert await live.locator("#run-input").get_attribute("open") is not None
        await live.close()
        child_rows = page.locator('tr:has-text("dash_child")')
        await child_rows.first.wait_for(timeout=5_000)
        await shot(page, "runs", backend)

        # Keyboard only: Tab to the run's link (its focus ring shows), Enter opens it.
        for _ in range(40):
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement.id") == f"run-{handle.id}":
                break
        else:
            raise AssertionError("the run's link cannot be reached with Tab")
        ring = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert ring != "none", "the focused link shows no focus ring"
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"**/runs/{handle.id}")
        steps = await polos.client.store.list_steps(handle.id)
        keys = [s.step_key for s in steps]
        assert {"gate", "fetch", "call_api", "cool_down", "summarise", "save"} <= set(keys)
        for key in keys:
            item = page.locator(f'li[data-step="{key}"]')
            assert await item.count() == 1, f"step {key} is not shown"
            text = (await item.locator("[data-duration]").inner_text()).strip()
            assert DURATION.match(text), f"step {key}: {text!r} is not a duration"
        fetch = await page.locator('li[data-step="fetch"] [data-duration]').inner_text()
        assert fetch.endswith(" ms") and float(fetch.split()[0]) >= 150  # slept 0.15 s
        assert "1 retry" in await page.locator('li[data-step="call_api"]').inner_text()
        assert (
            "upstream service hung up"
            in await page.locator('li[data-step="call_api"] .retries').inner_text()
        )
        assert "waited: timer" in await page.locator('li[data-step="cool_down"]').inner_text()
        summarise = page.locator('li[data-step="summarise"]')
        assert "waited: children" in await summarise.inner_text()
        assert "dash_child" in await summarise.get_by_role("link").inner_text()
        tree = await page.locator(".tree").inner_text()
        assert "dash_steps" in tree and "dash_child" in tree
        # Values are shown whole: the 300-character text of the result, untruncated.
        result = await page.locator('details:has(summary:text-is("Result")) pre').text_content()
        assert "x" * 300 in (result or "")
        assert await page.locator(".actions button.danger").count() == 0  # finished: no cancel
        await shot(page, "run", backend)
        await page.set_viewport_size(NARROW)
        await no_sideways_scroll(page)
        await shot(page, "run-800px", backend)


async def test_an_agent_run_shows_each_llm_call_and_tool_call_with_tokens(
    polos: Polos, database_url: str, backend: str, llm: FakeOpenAIServer
) -> None:
    llm.add_turns(
        Turn.calls(
            FakeToolCall("check_inventory", {"sku": "A1", "quantity": 2}),
            FakeToolCall("calculate_shipping", {"country": "FR"}),
        ),
        Turn.reply("A1 is in stock; shipping to FR costs 12.5"),
    )
    result = await dw.dash_agent.run(polos, "Can I get 2 of A1 shipped to FR?", timeout=30)
    async with serving(database_url) as s, chromium() as browser:
        page = await browser.new_page(viewport=WIDE)
        await page.goto(f"{s.url}/runs/{result.execution_id}")
        talk = page.locator(".conversation")
        assert "Can I get 2 of A1 shipped to FR?" in await talk.locator(".msg-user").inner_text()
        calls = talk.locator("[data-llm]")
        assert [await c.get_attribute("data-llm") for c in await calls.all()] == ["llm_1", "llm_2"]
        for call in await calls.all():
            tokens = await call.locator("[data-tokens]").first.inner_text()
            assert tokens == "30 tokens (10 in, 20 out)"
            # 10 in at $1 and 20 out at $2 per million tokens
            assert await call.locator("[data-cost]").inner_text() == "$0.000050"
            guardrail = call.locator(".decision-guardrail summary")
            assert "no_bad_words" in await guardrail.inner_text()
        first = calls.nth(0)
        inventory = first.locator('[data-tool="check_inventory"]')
        assert '"sku": "A1"' in await inventory.inner_text()
        assert '"available": true' in await inventory.inner_text()
        shipping = first.locator('[data-tool="calculate_shipping"]')
        assert '"country": "FR"' in await shipping.inner_text()
        assert '"cost": 12.5' in await shipping.inner_text()
        assert "finish: tool_calls" in await first.inner_text()
        assert "shipping to FR costs 12.5" in await calls.nth(1).inner_text()
        total = await talk.locator("[data-total-tokens]").inner_text()
        assert total.startswith("60 tokens in total")
        assert await talk.locator("[data-total-cost]").inner_text() == "cost $0.000100"
        # Each tool's own run is one click away.
        await inventory.get_by_role("link", name="its run").click()
        await page.wait_for_url("**/runs/*")
        assert await page.locator("h1").inner_text() != ""
        await page.go_back()
        await shot(page, "agent", backend)

        # Its trace: the LLM calls with model and tokens, the tools' runs under tools_1.
        await page.goto(f"{s.url}/runs/{result.execution_id}/trace")
        agent_row = page.locator(f'li[data-kind="run"][data-execution="{result.execution_id}"]')
        llm_rows = agent_row.locator('li[data-kind="llm"]')
        assert await llm_rows.count() == 2
        for row in await llm_rows.all():
            detail = await row.locator("[data-detail]").inner_text()
            assert "30 tokens (10 in, 20 out)" in detail and "gpt" in detail, detail
            text = (await row.locator("[data-duration]").first.inner_text()).strip()
            assert DURATION.match(text), text
        tools = agent_row.locator('li[data-step="tools_1"]')
        tool_runs = tools.locator('li[data-kind="run"]')
        names = {
            (await r.get_attribute("data-execution"), await r.inner_text())
            for r in await tool_runs.all()
        }
        assert any("check_inventory" in t for _, t in names), names
        assert any("calculate_shipping" in t for _, t in names), names
        await shot(page, "agent-trace", backend)


async def test_approving_from_the_dashboard_resumes_the_run(
    polos: Polos, database_url: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serving(database_url) as s, chromium() as browser:
        monkeypatch.setenv("POLOS_APPROVAL_BASE_URL", s.url)
        handle = await polos.invoke("srv_approval", {})
        await wait_for_step(polos, handle.id, "approve")
        page = await browser.new_page(viewport=WIDE)
        await page.goto(s.url + "/")
        await page.get_by_role("link", name="Approvals").click()
        card = page.locator(".card", has_text="Deploy api v2")
        await card.wait_for()
        await shot(page, "approvals", backend)
        await card.get_by_role("link", name="See the run").click()
        await page.wait_for_url(f"**/runs/{handle.id}")
        assert "waiting" in await page.locator("h1 .status").inner_text()
        assert "waiting" in await page.locator('li[data-step="approve"]').inner_text()
        await page.get_by_role("link", name=re.compile("Answer the approval")).click()
        await page.wait_for_url(f"**/approve/{handle.id}/approve")
        await page.check("#field-approved")
        await page.fill("#field-approver", "Grace Hopper")
        await page.click("button[type=submit]")
        await page.wait_for_url("**?submitted=1")
        result = await polos.client.wait_for_result(handle.id, timeout=30)
        assert result["approved"] is True and result["approver"] == "Grace Hopper"

        await page.goto(f"{s.url}/runs/{handle.id}")
        assert await page.locator("#run").get_attribute("data-status") == "completed"
        approve = await page.locator('li[data-step="approve"]').text_content() or ""
        assert "Grace Hopper" in approve and "waited: suspend" in approve
        await page.goto(s.url + "/approvals")
        assert "No run is waiting for a person" in await page.locator("main").inner_text()

        # Fork the finished run from its last step: a new run replays the answer.
        await page.goto(f"{s.url}/runs/{handle.id}")
        await page.locator("#fork-form summary").click()
        await page.get_by_label("From step").select_option("after")
        await page.get_by_role("button", name="Fork").click()
        await page.wait_for_url(re.compile(r".*/runs/(?!" + handle.id + ")[^/]+$"))
        await page.locator('#run[data-status="completed"]').wait_for(timeout=10_000)
        forked_id = page.url.rsplit("/", 1)[1]
        forked = await polos.client.wait_for_result(forked_id, timeout=10)
        assert forked == result


async def test_filters_cancel_and_what_the_pages_refuse(polos: Polos, database_url: str) -> None:
    """Over plain HTTP (no browser): the run list's filters, cancelling a run from its
    page, an unknown run, a cross-site post, and the pages kept out of the OpenAPI document."""
    a = await polos.invoke("srv_approval", {}, session_id="sess-a")
    b = await polos.invoke("srv_approval", {}, session_id="sess-b")
    await wait_for_step(polos, b.id, "approve")
    async with serving(database_url) as s:

        async def listed(query: str) -> set[str]:
            page = (await s.http.get("/ui/runs?" + query)).text
            return set(re.findall(r'data-run="([^"]+)"', page))

        assert await listed("") == {a.id, b.id}
        assert await listed("session=sess-a") == {a.id}
        assert await listed(f"q={b.id[9:18]}") == {b.id}
        assert await listed("status=completed") == set()
        assert await listed("workflow=srv_echo") == set()
        # Unchanged since the version the page holds: 204, htmx keeps the page as it is.
        first = await s.http.get("/ui/runs?session=sess-a")
        version = re.search(r"v=([0-9a-f]+)", first.text)
        assert version is not None
        again = await s.http.get(
            f"/ui/runs?session=sess-a&offset=0&v={version[1]}", headers={"HX-Request": "true"}
        )
        assert again.status_code == 204

        refused = await s.http.post(
            f"/runs/{b.id}/cancel", headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert refused.status_code == 403
        assert (await polos.client.get_execution(b.id)).status == "waiting"
        cancelled = await s.http.post(
            f"/runs/{b.id}/cancel", headers={"Sec-Fetch-Site": "same-origin"}
        )
        assert cancelled.status_code == 303 and cancelled.headers["location"] == f"../{b.id}"
        assert (await polos.client.get_execution(b.id)).status == "cancelled"
        page = await s.http.get(f"/runs/{b.id}")
        assert 'data-status="cancelled"' in page.text and "Cancel this run" not in page.text
        assert "Retry from the first unfinished step" in page.text
        retried = await s.http.post(f"/runs/{b.id}/retry")
        assert retried.status_code == 303 and retried.headers["location"] == f"../{b.id}"
        await wait_for_step(polos, b.id, "approve")  # the same run, waiting again
        again_refused = await s.http.post(f"/runs/{b.id}/retry")
        assert again_refused.status_code == 409 and "waiting" in again_refused.text
        unknown = await s.http.post(f"/runs/{b.id}/fork", data={"from_step": "nope"})
        assert unknown.status_code == 422 and "nope" in unknown.text
        not_json = await s.http.post(
            f"/runs/{b.id}/fork", data={"from_step": "approve", "payload": "{oops"}
        )
        assert not_json.status_code == 422 and "not JSON" in not_json.text

        missing = await s.http.get("/runs/no-such-run")
        assert missing.status_code == 404 and "There is no run with id" in missing.text
        assert (await s.http.get("/runs/bad%00id")).status_code == 404
        paths = (await s.http.get("/openapi.json")).json()["paths"]
        pages = ("/", "/approvals", "/events", "/schedules", "/queues", "/workers")
        assert not [p for p in paths if p in pages or p.startswith(("/runs", "/ui/"))]
        assert "/api/v1/executions" in paths


async def test_with_api_keys_a_person_signs_in_with_one(
    polos: Polos, database_url: str, backend: str
) -> None:
    key, row = new_api_key("default", "dashboard", time.time())
    await polos.client.store.create_api_key(row)
    handle = await polos.invoke("srv_echo", {"n": 2})
    await polos.client.wait_for_result(handle.id, timeout=30)
    async with serving(database_url) as s, chromium() as browser:
        # A program gets the API's 401; a browser asking for a page is sent to sign in.
        assert (await s.http.get("/")).status_code == 401
        page_request = await s.http.get("/runs/x?a=1", headers={"Accept": "text/html"})
        assert page_request.status_code == 303
        assert page_request.headers["location"] == "/login?next=%2Fruns%2Fx%3Fa%3D1"

        page = await browser.new_page(viewport=WIDE)
        await page.goto(f"{s.url}/runs/{handle.id}")
        await page.wait_for_url("**/login?next=*")
        await page.get_by_label("API key").fill("polos_wrong_key")
        await page.get_by_role("button", name="Sign in").click()
        assert "not valid" in await page.get_by_role("alert").inner_text()
        await page.get_by_label("API key").fill(key)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"**/runs/{handle.id}")  # back where the person was going
        assert await page.locator("#run").get_attribute("data-status") == "completed"
        await page.goto(s.url + "/")
        await page.locator(f'tr[data-run="{handle.id}"]').wait_for()
        cookies = await page.context.cookies()
        [cookie] = [c for c in cookies if c["name"] == "polos_api_key"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

        revoked = await polos.client.store.revoke_api_key(row.key_id, time.time())
        assert revoked
        await page.goto(s.url + "/")
        await page.wait_for_url("**/login?next=*")  # a revoked key signs the person out
        await page.get_by_label("API key").fill(key)
        await page.get_by_role("button", name="Sign in").click()
        assert "revoked" in await page.get_by_role("alert").inner_text()
        # Signing in never leads off this server.
        elsewhere = await s.http.post(
            "/login", data={"key": key, "next": "//evil.example/"}, follow_redirects=False
        )
        assert elsewhere.status_code == 401
        key2, row2 = new_api_key("default", "second", time.time())
        await polos.client.store.create_api_key(row2)
        signed = await s.http.post("/login", data={"key": key2, "next": "//evil.example/"})
        assert signed.status_code == 303 and signed.headers["location"] == "/"
        out = await s.http.post("/logout", headers={"Cookie": f"polos_api_key={key2}"})
        assert out.status_code == 303 and 'polos_api_key=""' in out.headers["set-cookie"]


@workflow(id="dash_unserved")
async def dash_unserved(ctx: WorkflowContext) -> None:
    return None


async def test_queues_page_lists_the_busiest_keys_and_counts_the_rest(database_url: str) -> None:
    # A queue keyed per user: 23 keys with queued runs nobody serves ("u00" has two).
    async with PolosClient(database_url=database_url) as client:
        for i in range(23):
            for _ in range(2 if i == 0 else 1):
                await client.invoke(dash_unserved, queue="per_user", concurrency_key=f"u{i:02}")
    async with serving(database_url) as s:
        queues = (await s.http.get("/queues")).text
    row = re.search(r"<tr><td>per_user</td>(.*?)</tr>", queues, re.DOTALL)
    assert row is not None, queues
    cells = re.findall(r"<td>(.*?)</td>", row[1], re.DOTALL)
    assert cells[0].strip() == "24"  # queued: every key counted
    listed = re.findall(r"\bu\d\d: ", cells[5])
    assert len(listed) == 20 and "u00: 2 queued" in cells[5]
    assert "and 3 more (the busiest 20 shown)" in cells[5]


async def test_queues_schedules_events_and_workers_pages(polos: Polos, database_url: str) -> None:
    name = f"queued-{database_url[:6]}"
    gate = dw.GATES.setdefault(name, asyncio.Event())
    handles = [await polos.invoke("dash_limited", {"name": name}) for _ in range(3)]
    await schedules.create(polos, "srv_echo", "0 9 * * *", key="daily")
    await polos.client.publish("orders", {"order_id": "o-7"}, "created")
    await polos.client.publish("orders", {"order_id": "o-8"}, "created")

    async def two_running() -> bool:
        stats = {q.name: q for q in await polos.queue_stats()}
        q = stats.get("dash_limited")
        return q is not None and (q.running, q.queued) == (2, 1)

    await until(two_running, 10, "two runs of dash_limited running, one queued")
    async with serving(database_url) as s:
        queues = (await s.http.get("/queues")).text
        row = re.search(r"<tr><td>dash_limited</td>(.*?)</tr>", queues, re.DOTALL)
        assert row is not None, queues
        cells = re.findall(r"<td>(.*?)</td>", row[1], re.DOTALL)
        assert [c.strip() for c in cells[:4]] == [
            "1",
            "2",
            "0",
            "2",
        ]  # queued, running, waiting, limit

        page = (await s.http.get("/schedules")).text
        assert "srv_echo" in page and "0 9 * * *" in page and "daily" in page
        assert re.search(r"\d{4}-\d\d-\d\d 09:00:00 UTC</time> \(in ", page), page

        page = (await s.http.get("/events")).text
        assert re.search(r'href="/events\?topic=orders">orders</a></td><td>2</td>', page)
        page = (await s.http.get("/events?topic=orders")).text
        assert page.count("created") == 2 and "o-7" in page and "o-8" in page

        page = (await s.http.get("/workers")).text
        assert str(os.getpid()) in page and " ago)" in page

    gate.set()
    for h in handles:
        assert await polos.client.wait_for_result(h.id, timeout=20) == "opened"


async def test_an_answer_a_guardrail_sent_back_shows_with_its_verdict(
    polos: Polos, database_url: str, llm: FakeOpenAIServer
) -> None:
    llm.add_turns(Turn.reply("a bad answer"), Turn.reply("a fine answer"))
    result = await dw.dash_agent.run(polos, "answer", timeout=30)
    assert result.text == "a fine answer"
    async with serving(database_url) as s:
        page = (await s.http.get(f"/runs/{result.execution_id}")).text
    calls = re.split(r'(?=<li class="msg msg-assistant llm-call")', page)[1:]
    assert [re.findall(r'data-llm="([^"]+)"', c) for c in calls] == [["llm_1"], ["llm_1_retry1"]]
    first, second = calls
    assert "a bad answer" in first and "sent back by a guardrail" in first
    assert "1.guardrail.no_bad_words.0: fail" in first and "do not say bad" in first
    assert "a fine answer" in second and "sent back" not in second
    assert "(asked again: 1)" in second and "1.guardrail.retry1.no_bad_words.0: continue" in second


async def test_the_trace_shows_the_run_tree_as_a_waterfall(
    polos: Polos, database_url: str, backend: str
) -> None:
    result = await dw.dash_trace.run(polos, {"name": f"trace-{backend}"}, timeout=30)
    assert result["slept"] == pytest.approx(0.35)
    [root] = [
        r for r in await polos.client.store.list_executions() if r.workflow_id == "dash_trace"
    ]
    tree = await polos.client.store.list_run_tree(root.id)
    [kid] = [r for r in tree if r.parent_execution_id == root.id]
    async with serving(database_url) as s, chromium() as browser:
        page = await browser.new_page(viewport=WIDE)
        await page.goto(f"{s.url}/runs/{root.id}")
        await (
            page.get_by_role("navigation", name="Views of this run")
            .get_by_role("link", name="Trace")
            .click()
        )
        await page.wait_for_url(f"**/runs/{root.id}/trace")
        # The id OpenTelemetry gives a tree started outside any trace: the root id's 128 bits.
        assert await page.locator("[data-trace-id]").inner_text() == root.id.replace("-", "")

        top = page.locator(f'li[data-kind="run"][data-execution="{root.id}"]')
        spans: dict[str, tuple[float, float]] = {}
        for key in ("left", "right", "kid"):
            row = top.locator(f'li[data-execution="{root.id}"][data-step="{key}"]')
            start = float(await row.get_attribute("data-start-ms") or "nan")
            end = float(await row.get_attribute("data-end-ms") or "nan")
            spans[key] = (start, end)
            text = (await row.locator("[data-duration]").first.inner_text()).strip()
            assert DURATION.match(text), f"{key}: {text!r}"
        # Gathered: each began before the other ended; each lasted its sleep.
        (l0, l1), (r0, r1) = spans["left"], spans["right"]
        assert l0 < r1 and r0 < l1, spans
        assert l1 - l0 >= 195 and r1 - r0 >= 145, spans
        # The child run sits under the step that started it, its own step under it.
        kid_step = top.locator(f'li[data-execution="{root.id}"][data-step="kid"]')
        assert "waited: children" in await kid_step.locator("[data-detail]").first.inner_text()
        child = kid_step.locator(f'li[data-kind="run"][data-execution="{kid.id}"]')
        assert "dash_child" in await child.locator(".span-name").first.inner_text()
        work = child.locator('li[data-step="child_work"]')
        assert int(await work.get_attribute("data-depth") or 0) == 3
        assert float(await work.get_attribute("data-start-ms") or 0) >= spans["kid"][0]
        await shot(page, "trace", backend)
        await page.locator(".waterfall").screenshot(
            path=str(ARTIFACTS / f"waterfall-{backend}.png")
        )

        # Folding with the keyboard: Tab to the kid step's row, Enter folds it, Enter unfolds.
        summary = kid_step.locator("summary").first
        await summary.focus()
        await page.keyboard.press("Enter")
        assert not await work.is_visible()
        await page.keyboard.press("Enter")
        assert await work.is_visible()

        await page.set_viewport_size(NARROW)
        await no_sideways_scroll(page)
        await shot(page, "trace-800px", backend)
        # The child's trace is its root's, with the child marked as the page's run.
        await page.goto(f"{s.url}/runs/{kid.id}/trace")
        assert await page.locator("[data-trace-id]").inner_text() == root.id.replace("-", "")
        current = page.locator('.span-run [aria-current="true"]')
        assert await current.inner_text() == "dash_child"


async def test_unserved_deployments_and_a_stored_traceparent_show(
    polos: Polos, database_url: str
) -> None:
    """Over plain HTTP: a queued run of a deployment no live worker serves is flagged
    in the run list and on its page; a run started inside a trace shows that trace's id."""
    async with PolosClient(database_url=database_url, deployment_id="blue") as client:
        stuck = await client.invoke("srv_echo", {"n": 1})
    served = await polos.invoke("srv_approval", {})
    await wait_for_step(polos, served.id, "approve")
    trace_id, span_id = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331
    outer = NonRecordingSpan(
        SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(1))
    )
    with otel_trace.use_span(outer):
        joined = await polos.invoke("srv_echo", {"n": 2})
    await polos.client.wait_for_result(joined.id, timeout=20)
    async with serving(database_url) as s:
        listing = (await s.http.get("/ui/runs")).text
        stuck_row = re.search(rf'<tr data-run="{stuck.id}".*?</tr>', listing, re.DOTALL)
        served_row = re.search(rf'<tr data-run="{served.id}".*?</tr>', listing, re.DOTALL)
        assert stuck_row is not None and served_row is not None, listing
        assert "no worker serves deployment blue" in stuck_row[0]
        assert ">blue<" in stuck_row[0]
        assert "data-unserved" not in served_row[0]  # waiting, but its deployment is served
        page = (await s.http.get(f"/runs/{stuck.id}")).text
        assert "no worker serves deployment blue" in page
        assert "no live worker serves it" in page and "data-deployment>blue<" in page
        page = (await s.http.get(f"/runs/{served.id}")).text
        assert "data-unserved" not in page and "data-deployment>" in page
        page = (await s.http.get(f"/runs/{joined.id}/trace")).text
        assert "data-trace-id>0af7651916cd43dd8448eb211c80319c<" in page
        assert "from the traceparent stored with the root run" in page
        assert 'under span <span class="mono">b7ad6b7169203331</span>' in page


@pytest.fixture
def otlp(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    """Listed before ``polos``: the worker reads the variable when it starts."""
    with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.endpoint)
        yield receiver


async def test_the_trace_shows_the_ids_the_exported_spans_carry(
    otlp: OtlpReceiver, polos: Polos, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With tracing on: the trace id the page shows is the exported spans', and the
    span a child run hangs under is the exported span of its parent's step. A tree
    larger than the cap shows its first runs and says so."""
    result = await dw.dash_trace.run(polos, {"name": "ids"}, timeout=30)
    assert result["child"]["child_of"] == "ids"
    await polos.stop()  # flushes the exporter
    root = otlp.named("workflow.dash_trace")[0]
    kid_step = otlp.one("children.kid")
    child_id = otlp.one("workflow.dash_child").attributes["polos.execution_id"]
    async with serving(database_url) as s:
        page = (await s.http.get(f"/runs/{child_id}/trace")).text
        assert f"data-trace-id>{root.trace_id}<" in page
        assert f'under span <span class="mono">{kid_step.span_id}</span>' in page
        assert "data-capped" not in page

        monkeypatch.setattr(trace_view, "MAX_RUNS", 1)
        page = (await s.http.get(f"/runs/{child_id}/trace")).text
        assert "This tree has 2 runs: the trace shows the first 1 (the oldest, at most 1)" in page
        assert f'data-execution="{child_id}"' not in page
        assert 'data-step="kid"' in page  # the root's steps are all there


async def test_a_run_ending_while_its_trace_is_read_leaves_the_part_live(
    polos: Polos, database_url: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trace part reads the run, then its tree. A run ending in between was
    rendered with the older status and as final (no longer live): the page
    said "running" for good."""
    name = f"trace-race-{backend}"
    handle = await polos.invoke("dash_gated_tree", {"name": name})

    async def first_recorded() -> bool:
        return await polos.client.store.get_step(handle.id, "first") is not None

    await until(first_recorded, 10, "the step before the gate recorded")
    real_load = trace_page.load_trace
    ended: list[bool] = []

    async def the_run_ends_first(*args: Any) -> Any:
        if not ended:
            ended.append(True)
            dw.GATES.setdefault(name, asyncio.Event()).set()
            await handle.result(timeout=30)
        return await real_load(*args)

    monkeypatch.setattr(trace_page, "load_trace", the_run_ends_first)
    async with serving(database_url) as s:
        part = (await s.http.get(f"/ui/runs/{handle.id}/trace")).text
        assert ended and 'data-status="running"' in part, "read before the run ended"
        assert f'data-live="/ui/live/runs/{handle.id}/trace"' in part, "stays live"
        version = re.search(r"trace\?v=([^\"]+)\"", part)
        assert version is not None
        later = await s.http.get(f"/ui/runs/{handle.id}/trace?v={version.group(1)}")
        assert later.status_code == 200, "the end is news: the part is sent again"
        assert 'data-status="completed"' in later.text and "data-live" not in later.text


async def test_a_running_trees_trace_grows_and_a_folded_row_stays_folded(
    polos: Polos, database_url: str, backend: str
) -> None:
    name = f"trace-live-{backend}"
    handle = await polos.invoke("dash_gated_tree", {"name": name})

    async def first_recorded() -> bool:
        return await polos.client.store.get_step(handle.id, "first") is not None

    await until(first_recorded, 10, "the step before the gate recorded")
    async with serving(database_url) as s, chromium() as browser:
        page = await browser.new_page(viewport=WIDE)
        await page.goto(f"{s.url}/runs/{handle.id}/trace")
        await page.evaluate("window.__notReloaded = true")
        assert await page.locator('li[data-kind="run"]').count() == 1  # no child yet
        root = page.locator(f'li[data-kind="run"][data-execution="{handle.id}"] > details')
        await root.locator("summary").first.focus()
        await page.keyboard.press("Space")  # fold the whole run
        assert await root.get_attribute("open") is None
        dw.GATES.setdefault(name, asyncio.Event()).set()
        await page.locator('#trace-view[data-status="completed"]').wait_for(timeout=20_000)
        assert await page.evaluate("window.__notReloaded") is True, "the page was reloaded"
        assert await root.get_attribute("open") is None, "the folded row unfolded on refresh"
        await root.locator("summary").first.click()
        child = page.locator('li[data-step="kid"] li[data-kind="run"]')
        assert "dash_child" in await child.inner_text()
        assert await page.locator('li[data-step="kid"][data-kind="wait"]').count() == 1
