"""Approvals over HTTP on both backends: the JSON API, the server-rendered page and its
form post (no JavaScript), and exactly one accepted response, however many are sent
at once, through however many servers."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlencode

import server_workflows  # noqa: F401
from polos import Polos
from server_kit import Served, serving, until


async def _suspended(s: Served, payload: dict[str, Any], workflow: str = "srv_approval") -> str:
    run = await s.http.post(f"/api/v1/workflows/{workflow}/run", json={"payload": payload})
    run_id: str = run.json()["execution_id"]

    async def waiting() -> bool:
        body = (await s.http.get(f"/api/v1/approvals/{run_id}/approve")).json()
        return body["status"] == "waiting"

    await until(waiting)
    return run_id


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_json_approval_resumes_once(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        run_id = await _suspended(s, {})
        shown = (await s.http.get(f"/api/v1/approvals/{run_id}/approve")).json()
        assert shown["status"] == "waiting" and shown["workflow_id"] == "srv_approval"
        assert shown["data"]["_form"]["title"] == "Deploy api v2"
        assert shown["suspended_execution_id"] == run_id
        assert shown["approval_url"] == f"{s.url}/approve/{run_id}/approve"
        assert shown["expires_at"] is not None  # the suspend's timeout

        answer = {"approved": True, "approver": "ann", "replicas": 2}
        ok = await s.http.post(f"/api/v1/approvals/{run_id}/approve/submit", json={"data": answer})
        assert ok.status_code == 200, ok.text
        assert ok.json()["status"] == "resumed" and ok.json()["data"] == answer
        again = await s.http.post(
            f"/api/v1/approvals/{run_id}/approve/submit", json={"data": {"approved": False}}
        )
        assert again.status_code == 409
        assert "already answered" in again.json()["error"]
        assert await polos.client.wait_for_result(run_id, timeout=20) == answer

        after = (await s.http.get(f"/api/v1/approvals/{run_id}/approve")).json()
        assert after["status"] == "answered" and after["response"] == answer
        late = await s.http.post(f"/api/v1/approvals/{run_id}/approve/submit", json={"data": 1})
        assert late.status_code == 409


async def test_concurrent_submits_through_two_servers_accept_exactly_one(
    polos: Polos, database_url: str
) -> None:
    async with serving(database_url) as a, serving(database_url) as b:
        for _round in range(3):
            run_id = await _suspended(a, {})
            url = f"/api/v1/approvals/{run_id}/approve/submit"
            responses = await asyncio.gather(
                *(
                    (a if n % 2 else b).http.post(url, json={"data": {"approver": f"p{n}"}})
                    for n in range(8)
                )
            )
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [200] + [409] * 7, [r.text for r in responses]
            [winner] = [r.json()["data"] for r in responses if r.status_code == 200]
            assert await polos.client.wait_for_result(run_id, timeout=20) == winner
            for r in responses:
                if r.status_code == 409:
                    assert "answered" in r.json()["error"] or "accepted first" in r.json()["error"]


async def test_page_renders_the_form_and_its_post_resumes_the_run(
    polos: Polos, database_url: str
) -> None:
    async with serving(database_url) as s:
        run_id = await _suspended(s, {})
        page = await s.http.get(f"/approve/{run_id}/approve")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        assert "<title>Deploy api v2</title>" in html
        assert "Approve the deployment to production." in html
        assert "<dt>service</dt><dd>api</dd>" in html  # the context, read-only
        assert 'name="approved" value="true">' in html  # a checkbox, unticked by default
        assert re.search(r'name="approver" value=""\s*required', html)
        assert 'name="replicas" value="3"' in html
        assert '<option value="eu" selected>Europe</option>' in html
        assert "<textarea" in html and "<script" not in html
        assert '<form method="post">' in html  # posts back to the page's own URL

        # A required field left empty: the page comes back with the error and the values.
        refused = await s.http.post(
            f"/approve/{run_id}/approve",
            content=urlencode({"approved": "true", "approver": "", "replicas": "5"}),
            headers=FORM,
        )
        assert refused.status_code == 422
        assert "Your name is required" in refused.text
        assert 'name="replicas" value="5"' in refused.text and "checked" in refused.text
        bad_number = await s.http.post(
            f"/approve/{run_id}/approve",
            content=urlencode({"approver": "bo", "replicas": "many"}),
            headers=FORM,
        )
        assert bad_number.status_code == 422 and "must be a number" in bad_number.text

        form = {"approved": "true", "approver": "Zoë <admin>", "replicas": "5", "region": "us"}
        form["reason"] = "ship it"
        sent = await s.http.post(
            f"/approve/{run_id}/approve", content=urlencode(form), headers=FORM
        )
        assert sent.status_code == 303
        assert sent.headers["location"] == "?submitted=1"  # the same page, thanking
        expected = {
            "approved": True,
            "approver": "Zoë <admin>",
            "replicas": 5,
            "region": "us",
            "reason": "ship it",
        }
        assert await polos.client.wait_for_result(run_id, timeout=20) == expected
        thanks = await s.http.get(f"/approve/{run_id}/approve?submitted=1")
        assert "your response was sent" in thanks.text
        assert "Zoë &lt;admin&gt;" in thanks.text and "Zoë <admin>" not in thanks.text

        twice = await s.http.post(
            f"/approve/{run_id}/approve", content=urlencode(form), headers=FORM
        )
        assert twice.status_code == 409 and "already answered" in twice.text


async def test_suspend_in_a_child_without_a_form(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        root_id = await _suspended(s, {}, workflow="srv_parent")
        shown = (await s.http.get(f"/api/v1/approvals/{root_id}/approve")).json()
        assert shown["execution_id"] == root_id
        assert shown["suspended_workflow_id"] == "srv_approval"
        assert shown["suspended_execution_id"] != root_id
        page = (await s.http.get(f"/approve/{root_id}/approve")).text
        assert 'value="approve">Approve</button>' in page and 'value="reject">Reject' in page
        assert "<dt>amount</dt><dd>12</dd>" in page
        sent = await s.http.post(
            f"/approve/{root_id}/approve", content="_decision=reject", headers=FORM
        )
        assert sent.status_code == 303
        assert await polos.client.wait_for_result(root_id, timeout=20) == {"approved": False}


async def test_approval_states_and_bad_input(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        missing = await s.http.get("/api/v1/approvals/no-such-run/approve")
        assert missing.status_code == 404 and missing.json()["error_type"] == "EXECUTION_NOT_FOUND"
        page = await s.http.get("/approve/no-such-run/approve")
        assert page.status_code == 404 and "check the approval link" in page.text
        r = await s.http.post("/api/v1/approvals/no-such-run/approve/submit", json={"data": 1})
        assert r.status_code == 404

        run_id = await _suspended(s, {})
        pending = (await s.http.get(f"/api/v1/approvals/{run_id}/other_step")).json()
        assert pending["status"] == "pending"
        r = await s.http.post(f"/api/v1/approvals/{run_id}/other_step/submit", json={"data": 1})
        assert r.status_code == 409 and "not waiting" in r.json()["error"]
        for body in (b"{", b"[1]"):
            r = await s.http.post(f"/api/v1/approvals/{run_id}/approve/submit", content=body)
            assert r.status_code in (400, 422), r.text
        r = await s.http.post(
            f"/approve/{run_id}/approve", json={"approved": True}
        )  # JSON to the page: the page takes its form
        assert r.status_code == 415
        r = await s.http.post(
            f"/approve/{run_id}/approve", content="region=mars&approver=x", headers=FORM
        )
        assert r.status_code == 422 and "not one of the choices" in r.text
        # Still waiting after all of that; cancelled, it can no longer be answered.
        assert (await s.http.get(f"/api/v1/approvals/{run_id}/approve")).json()["status"] == (
            "waiting"
        )
        await s.http.post(f"/api/v1/executions/{run_id}/cancel")
        closed = (await s.http.get(f"/api/v1/approvals/{run_id}/approve")).json()
        assert closed["status"] == "cancelled"
        r = await s.http.post(f"/api/v1/approvals/{run_id}/approve/submit", json={"data": 1})
        assert r.status_code == 409 and "cancelled" in r.json()["error"]
        assert "nothing to approve" in (await s.http.get(f"/approve/{run_id}/approve")).text


async def test_a_resume_from_another_client_wins_over_a_later_submit(
    polos: Polos, database_url: str
) -> None:
    async with serving(database_url) as s:
        run_id = await _suspended(s, {})
        await polos.client.resume("srv_approval", run_id, "approve", {"by": "cli"})
        r = await s.http.post(f"/api/v1/approvals/{run_id}/approve/submit", json={"data": 2})
        assert r.status_code == 409
        assert await polos.client.wait_for_result(run_id, timeout=20) == {"by": "cli"}
