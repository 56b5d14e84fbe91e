"""A pydantic model an SDK child workflow returns (tests/data/sdk_models_worker.py):
in a module of its own, as a Polos user keeps their models, so its name as the SDK
reports it is ``sdk_models.Receipt``."""

from pydantic import BaseModel


class Receipt(BaseModel):
    order: str
    total: float
    items: list[str]
