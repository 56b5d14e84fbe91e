"""The worker's side of eager start, as a run sees it (see :mod:`polos.store.eager`).

A run that starts children asks its worker, if it has one, which of them it
may take at once (``reserve``: a workflow it serves, a free slot each, held
until the insert commits) and hands back what the store took (``started``:
the worker runs those at once and frees the rest of the reservation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..store.eager import EagerClaim
from ..store.records import Claimed, NewExecution


class EagerStarts(Protocol):
    def reserve(self, news: Sequence[NewExecution]) -> EagerClaim | None:
        """The claim for the runs of ``news`` this worker may take (None: none);
        their slots stay reserved until ``started`` is called with it."""

    def started(self, claim: EagerClaim, claimed: Sequence[Claimed]) -> None:
        """Free ``claim``'s slots and run ``claimed`` (what the store took) here."""

    def resume_claim(self, parent_execution_id: str | None) -> EagerClaim | None:
        """The claim for a parent this worker holds in memory, for the completion
        of its child to take it at once if that ends the parent's wait (None: the
        parent is not held here, so it is requeued and claimed as usual)."""

    def resumed(self, claim: EagerClaim, claimed: Sequence[Claimed]) -> None:
        """Hand what the store took for ``claim`` (``resume_claim``) to its held run."""
