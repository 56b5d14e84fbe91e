"""Polos's example 17 (order processing: an agent with structured output, a fraud
review that waits for a person, approved from a second process) runs unchanged.

The model is a local fake that plays the agent's turns; the person is Polos's
own ``approve_order.py``, started as a separate process while ``main.py``
waits, exactly as the example's README says.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import drop_schema
from polos.testing import FakeOpenAIServer, RecordedRequest, Turn
from polos_examples import copy_example, example_env, run_example

pytestmark = pytest.mark.slow


def _order_turns(amount: float) -> list[Turn]:
    charged = {
        "action": "charge",
        "action_details": {"charge_id": "ch_cust_abc123_001", "amount": amount},
        "action_requested": "fraud_review" if amount > 1000 else None,
        "status_message": "Charged the customer",
    }
    emailed = {
        "action": "email",
        "action_details": {"email_sent_to": "customer@example.com", "message_id": "msg_1"},
        "action_requested": None,
        "status_message": "Confirmation sent",
    }
    charge = Turn.call("charge_stripe", {"customer_id": "cust_abc123", "amount": amount})
    email = Turn.call(
        "send_confirmation_email",
        {"email": "customer@example.com", "order_id": "ORD-12345", "amount": amount},
    )
    if amount > 1000:  # first agent run charges; after the review a second one emails
        return [charge, Turn.reply(json.dumps(charged)), email, Turn.reply(json.dumps(emailed))]
    return [
        charge,
        email,
        Turn.reply(json.dumps(emailed | {"action_details": charged["action_details"]})),
    ]


@pytest.mark.parametrize(
    ("amount", "decision"), [(500.0, None), (1500.0, "approve"), (1500.0, "reject")]
)
def test_17_order_processing(
    examples: Path, tmp_path: Path, database_url: str, amount: float, decision: str | None
) -> None:
    folder = copy_example(examples, "17-order-processing", tmp_path)
    try:
        with FakeOpenAIServer(_order_turns(amount)) as llm:
            env = example_env(
                database_url,
                # approve_order.py insists on a project id: both processes share it
                {"OPENAI_BASE_URL": llm.base_url, "POLOS_PROJECT_ID": "shop"},
            )
            output = _drive(folder, env, amount, decision)
            expected_calls = (
                4 if amount > 1000 and decision == "approve" else 2 if amount > 1000 else 3
            )
            assert len(llm.requests) == expected_calls, output
    finally:
        if "schema=" in database_url:
            drop_schema(database_url.rsplit("schema=", 1)[1] + "_shop")
    lines = output.splitlines()
    assert "*** CHARGING CUSTOMER VIA STRIPE ***" in lines
    assert lines.count("*** CHARGING CUSTOMER VIA STRIPE ***") == 1  # charged once, never again
    assert "Status: completed" in lines
    assert "Charge ID: ch_cust_abc123_001" in lines
    if amount <= 1000:
        assert "Fraud Review Required: False" in lines
        assert "Email Sent: True" in lines
        assert "*** FRAUD REVIEW REQUIRED ***" not in lines
    elif decision == "approve":
        assert "Order ID: ORD-12345" in lines and "Amount: $1500.00" in lines
        assert "Fraud Approved: True" in lines
        assert "Agent action: email" in lines
        assert "*** SENDING CONFIRMATION EMAIL ***" in lines
    else:
        assert "--- Order rejected by fraud review ---" in lines
        assert "Fraud Approved: False" in lines
        assert "Email Sent: False" in lines
        assert "*** SENDING CONFIRMATION EMAIL ***" not in lines


def _drive(folder: Path, env: dict[str, str], amount: float, decision: str | None) -> str:
    """Run main.py; when it waits for the fraud review, run approve_order.py."""
    main = subprocess.Popen(
        [sys.executable, "main.py"],
        cwd=folder,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert main.stdin is not None and main.stdout is not None and main.stderr is not None
    main.stdin.write(f"{amount:g}\n")
    main.stdin.close()
    seen: list[str] = []
    execution_id = None
    deadline = time.monotonic() + 120
    try:
        for line in main.stdout:
            seen.append(line.rstrip("\n"))
            found = re.search(r"To approve: python approve_order.py (\S+)", line)
            if found:
                execution_id = found.group(1)
            if execution_id and line.startswith("Waiting..."):
                args = [sys.executable, "approve_order.py", execution_id]
                if decision == "reject":
                    args.append("--reject")
                person = subprocess.run(
                    args, cwd=folder, env=env, capture_output=True, text=True, timeout=60
                )
                assert person.returncode == 0, person.stdout + person.stderr
                verb = "approved" if decision == "approve" else "rejected"
                assert f"Done! Order {verb}." in person.stdout
            assert time.monotonic() < deadline, "\n".join(seen)
        assert main.wait(timeout=60) == 0, "\n".join(seen) + main.stderr.read()
    finally:
        if main.poll() is None:
            main.kill()
    stderr = main.stderr.read()
    assert "Traceback" not in stderr, stderr
    if amount > 1000:
        assert execution_id is not None, "\n".join(seen)
    return "\n".join(seen)


#: The model's answer to each of example 14's agents, told apart by their system prompts.
_BLOG_AGENTS = [
    ("final editor", "FINAL TEXT"),
    ("blog writer", "DRAFT BLOG"),
    ("grammar review specialist", "GRAMMAR NOTES"),
    ("tone and style", "TONE NOTES"),
    ("factual accuracy", "FACT NOTES"),
]


def _blog_answer(request: RecordedRequest) -> Turn:
    messages = request.body.get("input")
    system = json.dumps(messages[0] if isinstance(messages, list) and messages else "").lower()
    for hint, text in _BLOG_AGENTS:
        if hint in system:
            return Turn.reply(text)
    raise AssertionError(f"no agent matches {system[:200]}")


def test_14_router_coordinator(examples: Path, tmp_path: Path, database_url: str) -> None:
    """Agents in parallel and in sequence under workflows, followed as one event stream."""
    with FakeOpenAIServer([_blog_answer] * 9) as llm:
        done = run_example(
            examples,
            "14-router-coordinator",
            tmp_path,
            database_url=database_url,
            env={"OPENAI_BASE_URL": llm.base_url},
        )
        assert llm.remaining_turns == 0  # 5 agents, then 4 more: nothing asked twice
    lines = done.stdout.splitlines()
    generate, review_only = done.stdout.split("Blog Review Only Demo")
    for agent in ("grammar_reviewer", "tone_reviewer", "correctness_reviewer", "final_editor"):
        assert f"[AGENT FINISH] {agent}" in generate and f"[AGENT FINISH] {agent}" in review_only
    assert "[AGENT FINISH] blog_generator" in generate
    # the child workflow's finish comes before its parent's, in the parent's stream
    assert generate.index("[WORKFLOW FINISH] blog_review") < generate.index(
        "[WORKFLOW FINISH] generate_blog"
    )
    assert '  "final_blog": "FINAL TEXT"' in lines
    assert '  "draft_blog": "DRAFT BLOG",' in lines
    assert '  "grammar_review": "GRAMMAR NOTES",' in lines
    assert '  "final_text": "FINAL TEXT"' in lines
    assert "All demos completed!" in lines
