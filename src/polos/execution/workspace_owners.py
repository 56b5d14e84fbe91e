"""Which run owns each workspace folder Polos made, so none outlives its run.

A worker removes an execution-scoped workspace when the run tree it served
ends. If that worker dies first and no worker makes the sandbox again, the
folder would stay on disk for ever; so when Polos makes such a folder it also
writes a small record (``<workspaces>/.owners/<project>/<id>.json``, outside
every workspace, where the agent's tools cannot reach) naming the root
run and the database. Any worker's sweep removes the folders whose run has
ended (or is gone) on its own database, with their records.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

OWNERS_DIR = ".owners"


@dataclass(frozen=True)
class WorkspaceOwner:
    sandbox_id: str
    workspace: str
    execution_id: str
    store: str
    record: str


def _owners_of(project_dir: str) -> str:
    root, project = os.path.split(os.path.normpath(project_dir))
    return os.path.join(root, OWNERS_DIR, project)


def _record_path(workspace: str) -> str:
    project_dir, name = os.path.split(os.path.normpath(workspace))
    return os.path.join(_owners_of(project_dir), f"{name}.json")


def remember(workspace: str, execution_id: str, store: str) -> None:
    """Record that ``workspace`` (a folder Polos makes) belongs to run ``execution_id``."""
    path = _record_path(workspace)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        json.dump({"execution_id": execution_id, "store": store}, out)


def forget(workspace: str) -> None:
    """Remove ``workspace`` and its record (either may be gone already)."""
    shutil.rmtree(workspace, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_record_path(workspace))


def recorded(project_dir: str, store: str) -> Iterator[WorkspaceOwner]:
    """The recorded workspaces under ``project_dir`` that belong to database ``store``."""
    folder = _owners_of(project_dir)
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return
    for name in names:
        if not name.endswith(".json"):
            continue
        path = os.path.join(folder, name)
        try:
            with open(path, encoding="utf-8") as record:
                data = json.load(record)
        except (OSError, ValueError):
            continue  # half written by a worker that died: its sweep will do
        if not isinstance(data, dict) or data.get("store") != store:
            continue
        sandbox_id = name[: -len(".json")]
        yield WorkspaceOwner(
            sandbox_id,
            os.path.join(project_dir, sandbox_id),
            str(data.get("execution_id")),
            store,
            path,
        )
