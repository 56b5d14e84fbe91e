"""``polos.features.wait``: the exception that parks a run at a wait.

Polos code that catches broadly sometimes re-raises ``WaitException`` by name;
here it is the engine's own signal, a ``BaseException`` that ``except
Exception`` cannot swallow.
"""

from ..engine.signals import Suspended as WaitException

__all__ = ["WaitException"]
