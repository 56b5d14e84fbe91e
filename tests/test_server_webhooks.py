"""Webhooks on both backends: a JSON body starts a run; with a secret set, only a request
signed with HMAC-SHA256 of its raw body does; Idempotency-Key makes redeliveries safe."""

from __future__ import annotations

import json

import server_workflows  # noqa: F401
from polos import Polos
from polos.server.signatures import sign
from server_kit import serving


async def test_unsigned_webhook_starts_a_run(polos: Polos, database_url: str) -> None:
    async with serving(database_url) as s:
        r = await s.http.post("/api/v1/webhooks/srv_echo", json={"n": 4, "source": "github"})
        assert r.status_code == 202, r.text
        run_id = r.json()["execution_id"]
        result = await polos.client.wait_for_result(run_id, timeout=20)
        assert result == {"input": {"n": 4, "source": "github"}, "doubled": 8}

        for body, status in [(b"{oops", 400), (b"[1, 2]", 422)]:  # 422: srv_echo takes a dict
            r = await s.http.post("/api/v1/webhooks/srv_echo", content=body)
            assert r.status_code == status, r.text
        r = await s.http.post("/api/v1/webhooks/srv_nope", json={})
        assert r.status_code == 404 and r.json()["error_type"] == "WORKFLOW_NOT_FOUND"


async def test_signed_webhooks(polos: Polos, database_url: str) -> None:
    secrets = {"srv_echo": "s3cret", "*": "fallback"}
    async with serving(database_url, webhook_secrets=secrets) as s:
        raw = json.dumps({"n": 1}).encode()
        good = {"X-Polos-Signature-256": sign("s3cret", raw)}
        r = await s.http.post("/api/v1/webhooks/srv_echo", content=raw, headers=good)
        assert r.status_code == 202, r.text
        assert (await polos.client.wait_for_result(r.json()["execution_id"], timeout=20))[
            "doubled"
        ] == 2
        # GitHub's header name works too
        github = {"X-Hub-Signature-256": sign("s3cret", raw)}
        assert (
            await s.http.post("/api/v1/webhooks/srv_echo", content=raw, headers=github)
        ).status_code == 202

        refused = [
            ({}, "must be signed"),
            ({"X-Polos-Signature-256": sign("wrong", raw)}, "does not match"),
            ({"X-Polos-Signature-256": sign("s3cret", raw + b" ")}, "does not match"),
            ({"X-Polos-Signature-256": "md5=abc"}, "sha256="),
        ]
        before = len(
            (await s.http.get("/api/v1/executions?workflow_id=srv_echo")).json()["executions"]
        )
        for headers, message in refused:
            r = await s.http.post("/api/v1/webhooks/srv_echo", content=raw, headers=headers)
            assert r.status_code == 401, r.text
            assert r.json()["error_type"] == "BAD_SIGNATURE" and message in r.json()["error"]
        after = len(
            (await s.http.get("/api/v1/executions?workflow_id=srv_echo")).json()["executions"]
        )
        assert after == before  # refused deliveries start nothing

        # "*" covers the workflows without a secret of their own
        other = json.dumps({"id": "o1", "amount": 3}).encode()
        assert (await s.http.post("/api/v1/webhooks/srv_order", content=other)).status_code == 401
        signed = {"X-Polos-Signature-256": sign("fallback", other), "Idempotency-Key": "d1"}
        first = await s.http.post("/api/v1/webhooks/srv_order", content=other, headers=signed)
        again = await s.http.post("/api/v1/webhooks/srv_order", content=other, headers=signed)
        assert first.status_code == again.status_code == 202
        assert first.json()["execution_id"] == again.json()["execution_id"]  # one run
