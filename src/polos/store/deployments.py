"""Which deployments (code versions) a claim serves, the same for every backend.

A run is pinned to the deployment it started on: its submitter's, when the
submitter was told one, else the deployment of the first worker that claims
it (the claim stamps it). From then on only a worker of that deployment, or
one told to serve it too, claims the run again, so a run that waits for days
never resumes on code it was not written for unless someone said it may.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

#: In ``serve_deployments``: serve runs of every deployment.
ANY_DEPLOYMENT = "*"


@dataclass(frozen=True, slots=True)
class DeploymentFilter:
    """What a claim binds: the deployment stamped on unpinned runs it claims,
    whether it takes runs of any deployment, and the deployments it takes."""

    stamp: str | None
    any: bool
    served: list[str]


def deployment_filter(
    deployment_id: str | None, serve_deployments: Collection[str] = ()
) -> DeploymentFilter:
    """The filter of a claim by a worker of ``deployment_id`` that also serves
    ``serve_deployments``; ``None`` (a caller that does not say) serves all."""
    if deployment_id is None:
        return DeploymentFilter(None, True, [])
    served = [deployment_id, *(d for d in serve_deployments if d != deployment_id)]
    return DeploymentFilter(deployment_id, ANY_DEPLOYMENT in serve_deployments, served)
