"""Every error a user of Polos can meet, in one place.

Each message says what went wrong and what to do about it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any


class PolosError(Exception):
    """Base class of every error raised by Polos itself."""


class FatalError(Exception):
    """Raise inside a step to fail it at once: it is never retried."""


class RetryableError(Exception):
    """Raise inside a step to ask for a retry, optionally after a given delay.

    ``retry_after`` may be seconds, a ``timedelta`` or a duration string
    such as ``"30s"``.
    """

    def __init__(self, message: str = "", retry_after: float | str | timedelta | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class StepExecutionError(PolosError):
    """A step failed for good (retries exhausted, or a ``FatalError``).

    Raised inside the workflow at the failing step, on the first run and,
    identically, on every replay, because the failure is recorded.
    """

    def __init__(self, reason: str | None = None):
        # Polos's shape: user code may raise StepExecutionError("why") itself.
        self.reason = reason
        self.step_key: str | None = None
        self.error_type = "StepExecutionError"
        self.error_message = reason or ""
        self.attempts = 1
        super().__init__(reason)

    @classmethod
    def for_step(
        cls, step_key: str, error_type: str, message: str, attempts: int = 1
    ) -> StepExecutionError:
        """The error of a recorded step failure."""
        error = cls(
            f"step {step_key!r} failed after {attempts} attempt(s): {error_type}: {message}"
        )
        error.step_key, error.error_type = step_key, error_type
        error.error_message, error.attempts = message, attempts
        return error


class WorkflowTimeoutError(PolosError):
    """Waiting for a workflow's result took longer than the given timeout.

    The execution itself goes on; only the wait gave up.
    """

    def __init__(self, execution_id: str | None = None, timeout_seconds: float | None = None):
        self.execution_id = execution_id
        self.timeout_seconds = timeout_seconds
        self.timeout = timeout_seconds
        super().__init__(
            f"execution {execution_id} did not finish within {timeout_seconds or 0:g}s; it is "
            "still running: call get_execution() later or wait again with a larger timeout"
        )


class WorkflowFailedError(PolosError):
    """The workflow ended in ``failed``; ``error`` holds what it raised."""

    def __init__(self, execution_id: str, error: dict[str, Any] | None):
        self.execution_id = execution_id
        self.error = error or {}
        kind = self.error.get("type", "Error")
        message = self.error.get("message", "")
        super().__init__(f"execution {execution_id} failed: {kind}: {message}")


class ExecutionCancelledError(PolosError):
    """The execution was cancelled before it produced a result."""

    def __init__(self, execution_id: str):
        self.execution_id = execution_id
        super().__init__(f"execution {execution_id} was cancelled")


class ExecutionNotFoundError(PolosError):
    def __init__(self, execution_id: str):
        self.execution_id = execution_id
        super().__init__(
            f"no execution with id {execution_id!r} in this database; check the id and that "
            "the client points at the same database as the worker (POLOS_DATABASE_URL)"
        )


class WorkflowNotFoundError(PolosError):
    def __init__(self, workflow_id: str, known: list[str] | None = None):
        self.workflow_id = workflow_id
        shown = sorted(known or [])
        more = f" (and {len(shown) - 20} more)" if len(shown) > 20 else ""
        hint = f" Known workflows: {', '.join(shown[:20])}{more}." if shown else ""
        super().__init__(
            f"no workflow with id {workflow_id!r} is defined in this process, and no worker "
            f"has served one on this database.{hint} Check the id, or start a worker that "
            "imports the module defining it (once is enough: it is remembered)."
        )


class InvalidPayloadError(PolosError):
    """The payload given to a workflow does not match its input type."""


class SerializationError(PolosError):
    """A value cannot be stored as JSON and restored to its type."""


class PayloadTooLargeError(PolosError):
    def __init__(self, what: str, size: int, limit: int):
        self.size = size
        self.limit = limit
        super().__init__(
            f"{what} is {size} bytes once serialized, above the limit of {limit} bytes "
            "(max_payload_bytes); store large data elsewhere and pass a reference"
        )


class DuplicateStepKeyError(PolosError):
    def __init__(self, step_key: str):
        self.step_key = step_key
        super().__init__(
            f"step key {step_key!r} is used twice in one execution; every ctx.step call "
            "needs a unique key (in loops, add the index: f'process_{i}')"
        )


class InvalidStepKeyError(PolosError, ValueError):
    """A step key that could not be stored on every backend (too long, NUL, bad Unicode)."""

    def __init__(self, step_key: str, problem: str):
        self.step_key = step_key
        shown = step_key if len(step_key) <= 60 else f"{step_key[:60]}..."
        super().__init__(f"step key {shown!a} {problem}")


class NonDeterminismError(PolosError):
    """A recorded step key now belongs to another kind of step or function."""

    def __init__(self, step_key: str, recorded: str, now: str):
        self.step_key = step_key
        super().__init__(
            f"step {step_key!r} was recorded as {recorded} but the code now calls {now} "
            "with this key; the workflow code changed under a running execution. Use a new "
            "step key for new code, or let old executions finish before deploying"
        )


class PatchRemovedError(NonDeterminismError):
    """``ctx.deprecate_patch`` met an execution that took the old branch of that patch."""

    def __init__(self, name: str):
        self.step_key = f"patched:{name}"
        self.patch = name
        PolosError.__init__(
            self,
            f"patch {name!r} is deprecated in this code, but this execution started before "
            "the patch and took the old branch, which the code no longer has. Let such "
            "executions finish on code that still calls ctx.patched(...) (a worker of that "
            "deployment, or one given serve_deployments=) before removing the old branch",
        )


class WorkflowDefinitionError(PolosError):
    """A workflow, step or option is defined in a way that cannot work."""


class InsideWorkflowError(PolosError):
    """A client call was made from inside a running workflow."""


class ConfigurationError(PolosError, ValueError):
    """An argument or ``POLOS_*`` variable (a database URL, say) cannot be used as given."""


class StoreError(PolosError):
    """The database refused an operation for a reason that is not a passing outage.

    Disk full, a read-only or damaged database file, a permission refused:
    retrying at once will not help, something must be fixed. Like an outage,
    it is never blamed on the workflow: the run is not failed, and the work
    resumes once the cause is fixed.
    """


class SchemaConflictError(StoreError):
    """The database holds tables by Polos's names that Polos did not create."""


class StoreUnavailableError(StoreError):
    """The database could not be reached after retrying."""


class WaitTimeoutError(PolosError):
    """A ``wait_for_event`` or ``suspend`` timed out before anything arrived.

    Raised inside the workflow at that step (on this run and every replay);
    the workflow may catch it and carry on.
    """

    def __init__(self, step_key: str, message: str | None = None):
        self.step_key = step_key
        super().__init__(message or f"step {step_key!r} timed out")


class ChildWorkflowError(StepExecutionError):
    """A child workflow started with ``invoke_and_wait`` failed or was cancelled."""

    def __init__(
        self, step_key: str, child_execution_id: str, workflow_id: str, error: dict[str, Any] | None
    ):
        self.child_execution_id = child_execution_id
        self.workflow_id = workflow_id
        self.error = error or {}
        error_type = str(self.error.get("type", "Error"))
        message = (
            f"child {workflow_id} ({child_execution_id}) failed: {self.error.get('message', '')}"
        )
        super().__init__(f"step {step_key!r} failed after 1 attempt(s): {error_type}: {message}")
        self.step_key, self.error_type, self.error_message = step_key, error_type, message


class ExecutionNotRetryableError(PolosError):
    """``retry_execution`` on a run that is not failed or cancelled."""

    def __init__(self, execution_id: str, status: str):
        self.execution_id = execution_id
        self.status = status
        super().__init__(
            f"execution {execution_id} is {status}; only a failed or cancelled run can be "
            "retried (fork_execution starts a new run from any run's steps)"
        )


class UnknownStepKeyError(PolosError, ValueError):
    """A step key that the execution did not record (``fork_execution``'s ``from_step``)."""

    def __init__(self, execution_id: str, step_key: str, known: list[str]):
        self.execution_id = execution_id
        self.step_key = step_key
        self.known = known
        listed = ", ".join(repr(k) for k in known) if known else "none: it recorded no step"
        super().__init__(
            f"execution {execution_id} recorded no step {step_key!r}; its recorded steps, "
            f"in order: {listed}"
        )
