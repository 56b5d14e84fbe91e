"""The store's words are one typed vocabulary, spelled the same in Python and SQL."""

from __future__ import annotations

import re
from pathlib import Path

from polos.store import records
from polos.store.vocabulary import (
    HistoryEvent,
    ResumedBy,
    Status,
    StepKind,
    WaitKind,
    WorkflowType,
)

STORE = Path(records.__file__).parent
WORDS = {
    str(m)
    for enum in (Status, StepKind, WaitKind, HistoryEvent, ResumedBy, WorkflowType)
    for m in enum
}
#: Quoted words in the SQL that are not stored words: keys of JSON built in SQL
#: (history details, a batch's child outcomes) and NOTIFY payload codes.
JSON_KEYS = {"by", "error", "execution_id", "owner", "previous_status", "result", "status"}
JSON_KEYS |= {"step_key", "success", "workflow_id"}
NOTIFY_CODES = {"q", "t", "e", "f", "c"}
#: Which half of a steps-and-ends batch a result row belongs to (record_steps_and_finish).
BATCH_PARTS = {"s", "f"}
#: The error polos_start_children raises for a child id committed meanwhile:
#: PostgreSQL's own error code and the table and column it names.
ERROR_PARTS = {"unique_violation", "executions", "id"}


def test_every_word_the_sql_files_spell_is_in_the_vocabulary() -> None:
    sql = "\n".join(
        line
        for path in sorted(STORE.glob("*/**/*.sql"))
        for line in path.read_text().splitlines()
        if not line.lstrip().startswith("--")
    )
    quoted = set(re.findall(r"'([a-z_]+)'", sql))
    assert quoted, "no SQL read"
    unknown = quoted - WORDS - JSON_KEYS - NOTIFY_CODES - BATCH_PARTS - ERROR_PARTS
    assert not unknown, f"words in the SQL that the vocabulary lacks (a typo?): {sorted(unknown)}"


def test_members_are_their_stored_strings() -> None:
    assert Status.QUEUED == "queued" and f"{Status.QUEUED}" == "queued"
    assert records.WAIT_SUSPEND is WaitKind.SUSPEND and records.CANCELLED is Status.CANCELLED
    assert {"queued"} == {Status.QUEUED}  # hashes as the string: rows read back match


def test_each_wait_is_recorded_as_a_step_of_its_own_kind() -> None:
    assert WaitKind.TIMER.step_kind is StepKind.WAIT
    for kind in (WaitKind.EVENT, WaitKind.SUSPEND, WaitKind.CHILDREN):
        assert kind.step_kind == kind.value
