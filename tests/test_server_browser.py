"""The approval page in headless Chromium, with JavaScript off: open the link the suspend
announced, fill the form, submit; the run resumes with the submitted values. A second
person who opened the same link submits afterwards and is refused."""

from __future__ import annotations

import pytest

import server_workflows  # noqa: F401
from browser import chromium
from polos import Polos, events
from server_kit import serving


async def test_approval_page_in_a_browser(
    polos: Polos, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serving(database_url) as s:
        # The worker writes approval links to this server, as `polos server` tells it to.
        monkeypatch.setenv("POLOS_APPROVAL_BASE_URL", s.url)
        handle = await polos.invoke("srv_approval", {})
        async for event in events.stream_workflow(polos, handle.root_workflow_id, handle.id):
            if event.event_type == "suspend_approve":
                url = event.data["_approval_url"]
                break
        assert url == f"{s.url}/approve/{handle.id}/approve"

        async with chromium() as browser:
            context = await browser.new_context(java_script_enabled=False)
            page = await context.new_page()
            await page.goto(url)
            late = await context.new_page()  # a second person opens the link too
            await late.goto(url)
            assert await page.title() == "Deploy api v2"
            assert await page.input_value("#field-replicas") == "3"  # defaults shown
            assert not await page.is_checked("#field-approved")
            await page.check("#field-approved")
            await page.fill("#field-approver", "Ada Lovelace")
            await page.fill("#field-replicas", "7")
            await page.select_option("#field-region", "us")
            await page.fill("#field-reason", "Looks good")
            await page.click("button[type=submit]")
            await page.wait_for_url("**/approve/**?submitted=1")
            assert "your response was sent" in await page.inner_text("main")

            result = await polos.client.wait_for_result(handle.id, timeout=30)
            assert result == {
                "approved": True,
                "approver": "Ada Lovelace",
                "replicas": 7,
                "region": "us",
                "reason": "Looks good",
            }
            # The second person's submission is refused; the run got the first one.
            await late.fill("#field-approver", "Charles Babbage")
            await late.click("button[type=submit]")
            assert "already answered" in await late.inner_text("main")
            assert await late.title() == "Already handled"
            # The link now shows the response that was accepted.
            await page.goto(url)
            assert "Ada Lovelace" in await page.inner_text("main")
            await context.close()
