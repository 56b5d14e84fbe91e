"""How a step's failure is stored, and raised again on every replay."""

from __future__ import annotations

import orjson

from ..errors import PolosError, StepExecutionError, WaitTimeoutError
from ..store.records import StepRow


def error_record(error: BaseException, attempts: int = 1) -> str:
    return orjson.dumps(
        {
            "type": type(error).__name__,
            "module": type(error).__module__,
            "message": str(error),
            "attempts": attempts,
        }
    ).decode()


def step_error_from_record(recorded: StepRow) -> PolosError:
    info = orjson.loads(recorded.error or "{}")
    if info.get("type") == "WaitTimeoutError":
        return WaitTimeoutError(recorded.step_key, info.get("message"))
    return StepExecutionError.for_step(
        recorded.step_key,
        info.get("type", "Error"),
        info.get("message", ""),
        info.get("attempts", 1),
    )
