"""The admission logic both backends share (pure: no database)."""

from __future__ import annotations

from polos.store import resolutions
from polos.store.admission import MAX_SCANNED, PAGE, RATE_MARGIN, Admission, rate_windows
from polos.store.records import WAIT_EVENT, WAIT_TIMER, QueueRow


def _rows(offset: int, size: int, key: str) -> list[tuple[str, str, str, int]]:
    return [(f"e{offset + i}", "q", key, 0) for i in range(size)]


def test_a_scan_gives_up_after_max_scanned_candidates() -> None:
    admission = Admission({"q": QueueRow("q", 1, None, None, 0.0)}, [("q", "a", 1)])
    scan = admission.scan(5)
    offsets = []
    for offset, size in scan:
        offsets.append(offset)
        scan.take(_rows(offset, size, "a"))  # all blocked: key "a" is at its limit
    assert offsets == list(range(0, MAX_SCANNED, PAGE))
    assert scan.picked == []


def test_a_scan_stops_at_a_short_page_or_once_enough_are_picked() -> None:
    scan = Admission({}, []).scan(3)
    pages = []
    for offset, _size in scan:
        pages.append(offset)
        scan.take(_rows(offset, 2, "a"))
    assert pages == [0] and scan.picked == ["e0", "e1"]  # a short page is the queue's end
    scan = Admission({}, []).scan(3)
    for offset, size in scan:
        pages.append(offset)
        scan.take(_rows(offset, size, "a"))
    assert scan.picked == ["e0", "e1", "e2"]


def test_rate_windows_reach_back_a_period_and_the_margin() -> None:
    queues = {
        "rated": QueueRow("rated", None, 5, 10.0, 0.0),
        "capped": QueueRow("capped", 2, None, None, 0.0),
    }
    assert rate_windows(queues, 100.0) == [("rated", 100.0 - 10.0 - RATE_MARGIN)]


def test_a_due_timer_ends_a_sleep_and_times_out_any_other_wait() -> None:
    assert resolutions.due("nap", WAIT_TIMER) == resolutions.Resolution(
        "wait", "null", None, "timer"
    )
    timeout = resolutions.due("ev", WAIT_EVENT)
    assert (timeout.step_kind, timeout.output, timeout.by) == (WAIT_EVENT, None, "timeout")
    assert timeout.error is not None and "WaitTimeoutError" in timeout.error
