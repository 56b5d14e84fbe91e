"""``polos resume``'s check: a resume that could only leave the run suspended is refused.

The client keeps a resume addressed to a step the run has not reached yet
(it is delivered when the run gets there), which is right for a script
racing a worker but wrong for a person who mistyped the key: the run stays
suspended and the command said it was resumed. So the CLI refuses a key that
cannot be meant: the run is suspended at another step, or that step already
took its resume. ``--early`` keeps a resume for a later step all the same.
"""

from __future__ import annotations

from ..errors import PolosError
from ..runtime.models import ExecutionInfo


def check_resume(info: ExecutionInfo, step_key: str, *, early: bool) -> bool:
    """Whether the resume reaches the run now (it is suspended at ``step_key``);
    raises ``PolosError`` naming the step when it would only be kept by mistake."""
    if info.status in ("completed", "failed", "cancelled"):
        raise PolosError(
            f"execution {info.id} is already {info.status}; there is nothing to resume"
        )
    recorded = {s.step_key for s in info.steps}
    if step_key in recorded:
        raise PolosError(
            f"step {step_key!r} of execution {info.id} has already been resumed (it is "
            "recorded); there is nothing left to resume there"
        )
    suspended_at = info.waiting_on if info.wait_kind == "suspend" else None
    if suspended_at == step_key:
        return True
    if suspended_at is not None and not early:
        raise PolosError(
            f"execution {info.id} is suspended at step {suspended_at!r}, not {step_key!r}; "
            f"resume it at {suspended_at!r} (or pass --early to keep this resume for a "
            f"step {step_key!r} the run has not reached yet)"
        )
    return False
