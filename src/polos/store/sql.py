"""Load SQL kept in ``.sql`` files beside each backend.

``queries.sql`` holds named queries, each introduced by ``-- name: <name>``;
``migrations/NNNN_*.sql`` hold the versioned schema, applied in order.
"""

from __future__ import annotations

import re
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def load_queries(
    package: str, *, columns: str | None = None, file: str = "queries.sql"
) -> dict[str, str]:
    """Named queries of ``file``; ``EXECUTION_COLUMNS`` and ``STEP_COLUMNS`` in them are
    expanded to the columns of :class:`ExecutionRow` and :class:`StepRow`, in field order."""
    from .records import EXECUTION_COLUMNS, STEP_COLUMNS

    text = resources.files(package).joinpath(file).read_text()
    text = text.replace("EXECUTION_COLUMNS", columns or EXECUTION_COLUMNS)
    text = text.replace("STEP_COLUMNS", STEP_COLUMNS)
    parts = _NAME.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def load_migrations(package: str) -> list[tuple[int, str, list[str]]]:
    """``(version, name, statements)`` sorted by version."""
    folder = resources.files(package).joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, split_statements(entry.read_text())))
    return sorted(found)


def split_statements(script: str) -> list[str]:
    """Split a migration on ``;`` at line ends (our migrations hold no bodies with ``;``)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [
        s.strip() for s in re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE) if s.strip()
    ]
