"""Decoded step outputs a worker keeps between attempts of the same run.

A run that is not held in memory replays from the top on every resume, and
each replayed step decodes its stored JSON again. For an agent that is every
recorded LLM response, turned back into pydantic models on each of the N
resumes of an N-turn run: O(N^2) decoding per run. A worker that replays the
same run again can reuse what it decoded last time.

Safety rests on one check, not on invalidation: an entry is used only when
the recorded output text is the very text it was decoded from (and, for a
caller that shapes the decoded value, by the same shaping function). Decoding
is a pure function of that text, so an equal text gives an equal value; a step
that was reset and recorded again with another output (a retry, a fork, a
replay from a step) simply misses. The key's execution id keeps runs apart.

The values are shared, not copied: only callers that never mutate what they
get back (and never hand it to code that might) may ask for them. The agent
loop does, for its LLM responses. Memory is bounded by the stored text's
size, whole runs evicted least recently used first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .. import serialization
from ..store.records import StepRow

#: Stored JSON kept decoded, in characters of text. Memory is 4 to 7 times that
#: (the text is kept for the comparison; an agent's decoded response measured 3
#: to 6 times its text), so at most about 64 to 112 MB per worker.
DEFAULT_MAX_CHARS = 16 * 1024 * 1024


class _RunOutputs:
    __slots__ = ("chars", "entries")

    def __init__(self) -> None:
        #: step key -> (output text, shaping function or None, value)
        self.entries: dict[str, tuple[str, Any, Any]] = {}
        self.chars = 0


class DecodedOutputs:
    """Per worker: ``(execution id, step key) -> (output text, decoded value)``, bounded."""

    def __init__(self, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        self.max_chars = max_chars
        self.chars = 0
        self._runs: OrderedDict[str, _RunOutputs] = OrderedDict()

    def decode(
        self, execution_id: str, row: StepRow, shape: Callable[[Any], Any] | None = None
    ) -> Any:
        """``serialization.loads(row.output)`` (passed through ``shape`` if given: a
        pure function, such as pydantic models made of the decoded JSON), reused
        when this exact text was decoded, and shaped by the same function, before."""
        text = row.output
        if text is None or len(text) > self.max_chars:
            value = serialization.loads(text)
            return value if shape is None else shape(value)
        outputs = self._runs.get(execution_id)
        if outputs is not None:
            self._runs.move_to_end(execution_id)
            hit = outputs.entries.get(row.step_key)
            # ``is`` first: the same row object replays on a held run; ``==`` is a memcmp.
            if hit is not None and hit[1] is shape and (hit[0] is text or hit[0] == text):
                return hit[2]
        value = serialization.loads(text)  # raises before anything is kept
        if shape is not None:
            value = shape(value)
        if outputs is None:
            outputs = self._runs[execution_id] = _RunOutputs()
        old = outputs.entries.get(row.step_key)
        if old is not None:
            self._resize(outputs, -len(old[0]))
        outputs.entries[row.step_key] = (text, shape, value)
        self._resize(outputs, len(text))
        self._evict(keep=execution_id)
        return value

    def forget(self, execution_id: str) -> None:
        """Drop a run's entries (it ended: nothing will replay it on this worker)."""
        outputs = self._runs.pop(execution_id, None)
        if outputs is not None:
            self.chars -= outputs.chars

    def __len__(self) -> int:
        return sum(len(o.entries) for o in self._runs.values())

    def _resize(self, outputs: _RunOutputs, delta: int) -> None:
        outputs.chars += delta
        self.chars += delta

    def _evict(self, keep: str) -> None:
        while self.chars > self.max_chars and self._runs:
            oldest = next(iter(self._runs))
            if oldest == keep and len(self._runs) == 1:
                # One run alone over the budget: drop its entries, keep none.
                self.forget(oldest)
                return
            if oldest == keep:
                self._runs.move_to_end(oldest)
                continue
            self.forget(oldest)
