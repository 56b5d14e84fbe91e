"""Polos's own workflow examples (08 to 13, 15, 16) run unchanged, on SQLite and PostgreSQL.

Each test starts one example as a user would (``python main.py``, answering
its prompts on stdin) and checks the lines it prints, which are the lines it
prints against Polos's orchestrator (ids, times and random draws aside).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from polos_examples import run_example

pytestmark = pytest.mark.slow


def test_08_workflow_basics(examples: Path, tmp_path: Path, database_url: str) -> None:
    run = run_example(examples, "08-workflow-basics", tmp_path, database_url=database_url)
    run.assert_lines(
        "Result: message='Hello, Alice!'",
        "Result: result=AggregatedData(count=3, items=['HELLO', 'WORLD', 'WORKFLOW'])",
        "Total items: 3",
        "Valid items: 3",
        "Preparation: status=prepared, count=3",
        "  Item 1: valid=True, enriched=True",
        "  Item 3: valid=True, enriched=True",
        "Status: completed",
        "Enrichment valid: True",
        "Processing applied: ['normalize', 'dedupe']",
        "Demo complete!",
    )
    assert not any(line.startswith("Error:") for line in run.lines()), run.stdout
    # the coin flip is drawn once and stored: heads or tails, and matching its value
    flip = re.search(r"random_value=([0-9.]+) .* coin_flip='(heads|tails)'", run.stdout)
    assert flip is not None
    assert (float(flip.group(1)) > 0.5) == (flip.group(2) == "heads")


# Menu 1 (approve), 2 (three-step form), 3 (two reviewers), 4 (exit); empty lines take defaults.
_SUSPEND_ANSWERS = (
    "1\n\n\n\n\ny\n\n\n" + "2\n\n\n\n\n\n\n\ny\nn\n" + "3\n\n\n\ny\n\n\nn\nneeds work\n2\n" + "4\n"
)


def test_09_suspend_resume(examples: Path, tmp_path: Path, database_url: str) -> None:
    run = run_example(
        examples, "09-suspend-resume", tmp_path, database_url=database_url, stdin=_SUSPEND_ANSWERS
    )
    run.assert_lines(
        "Received suspend event!",
        "  Requester: alice@example.com",
        "  Amount: $1500.00",
        # the approval reaches the workflow: approved, not the "rejected" branch
        "  Status: approved",
        "  Approved: True",
        "  Approver: manager@example.com",
        # each form step is announced once, in order
        "  Step 1 of 3",
        "  Step 2 of 3",
        "  Step 3 of 3",
        "  Fields collected: 8",
        "    Name: John Doe",
        "    123 Main St, San Francisco, USA",
        "    Newsletter: True",
        "    Notifications: False",
        "  Reviewer 1 of 2",
        "  Reviewer 2 of 2",
        "  Status: needs_revision",
        "  All Approved: False",
        "Goodbye!",
    )
    assert "Did not receive suspend event" not in run.stdout


def test_10_state_persistence(examples: Path, tmp_path: Path, database_url: str) -> None:
    run = run_example(examples, "10-state-persistence", tmp_path, database_url=database_url)
    run.assert_lines(
        "  Count after +5: 5",
        "  Count after -2: -2",
        "  Count after reset: 0",
        "  Original count: 100",
        "  New count: 105",
        "  Original count: 50",
        "  New count: 75",
        "All demos completed!",
    )


def test_11_error_handling(examples: Path, tmp_path: Path, database_url: str) -> None:
    run = run_example(examples, "11-error-handling", tmp_path, database_url=database_url)
    run.assert_lines(
        "  Processed: 3 items",
        "  Failed: 2 items",
        "  Method used: primary",
        "  Method used: fallback",
        "  (Running in degraded mode)",
        "  Circuit open: True",
        "    - Item 6: skipped (circuit_open)",
        "  Status: success",
        "  Completed steps: ['reserve_inventory', 'charge_payment', 'send_confirmation']",
        "  Status: rolled_back",
        "  Compensated steps: ['charge_payment', 'reserve_inventory']",
        "All demos completed!",
    )


def test_12_shared_queues(examples: Path, tmp_path: Path, database_url: str) -> None:
    run = run_example(examples, "12-shared-queues", tmp_path, database_url=database_url)
    run.assert_lines("  (Sequential: workflows ran one after another)", "All demos completed!")
    times = [
        float(t) for t in re.findall(r"All workflows completed in ([0-9.]+) seconds", run.stdout)
    ]
    assert len(times) == 2, run.stdout
    sequential, parallel = times
    assert sequential >= 5.5, run.stdout  # limit 1: three 2 s runs one after another
    assert parallel < 5.0, run.stdout  # limit 3: together
    # with limit 1 no run starts before the previous one completed
    order = re.findall(r"\[Workflow ([123])\] (Started|Completed)!", run.stdout)
    assert order[:6] == [(str(i), what) for i in (1, 2, 3) for what in ("Started", "Completed")]


def test_13_parallel_review(examples: Path, tmp_path: Path, database_url: str) -> None:
    run = run_example(examples, "13-parallel-review", tmp_path, database_url=database_url)
    run.assert_lines(
        "  Approved: True",
        "  Total Reviews: 4",
        "  Approved Count: 4/4",
        "  Average Score: 8.0/10",
        "    [OK] diana: score=8",
        "  Chunks processed: 3",
        "  Items processed: 25",
        "    - ITEM_4",
        "All demos completed!",
    )


def test_15_event_triggered(examples: Path, tmp_path: Path, database_url: str) -> None:
    run = run_example(examples, "15-event-triggered", tmp_path, database_url=database_url)
    run.assert_lines(
        "  Published: True",
        "  Topic: orders/created",
        "  Status: completed",
        "All demos completed!",
    )
    # the event-triggered workflows ran: the order handler twice (published from
    # main.py and from the event_publisher workflow), the signup handler once
    assert run.stdout.count("Order processing completed") == 2, run.stdout
    assert "User onboarded" in run.stdout
    assert "Event received: demo/notifications {'message': 'Hello from main.py!'" in run.stdout


def test_16_scheduled_workflow(examples: Path, tmp_path: Path, database_url: str) -> None:
    run = run_example(examples, "16-scheduled-workflow", tmp_path, database_url=database_url)
    run.assert_lines(
        "  Schedule created!",
        "  Schedule ID: schedulable_reminder:demo-user-123",
        "  Schedule ID: manual-test-schedule",
        "  Records cleaned: 150",
        "  Files cleaned: 25",
        "All demos completed!",
    )
