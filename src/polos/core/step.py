"""``polos.core.step``: ``ctx.step``'s class."""

from ..engine.steps import Step

__all__ = ["Step"]
