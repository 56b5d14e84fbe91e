"""``WorkflowState``: a base class for a workflow's durable state (``state_schema=``)."""

from pydantic import BaseModel, ConfigDict


class WorkflowState(BaseModel):
    """Subclass it with defaults and pass it as ``@workflow(state_schema=...)``;
    ``ctx.state`` is then an instance, saved with each wait and at the end.
    Assignments are validated, so a wrong type fails where it is written."""

    model_config = ConfigDict(validate_assignment=True)
