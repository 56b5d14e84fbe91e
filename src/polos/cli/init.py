"""``polos init``: a starter project that runs at once.

Writes a workflow and an agent (``flows.py``), their tests on
:mod:`polos.testing` (a fresh embedded ``Polos`` per test, a test clock and a
fake model), the pytest settings they need and a README. The files are kept
in :mod:`polos.cli.starter` as text, so they read as the user will see them.
Existing files are never overwritten unless ``--force`` is given.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import typer

from .app import AsJson, _print_json, app, fail

#: The files written, by their name in the project.
FILES = ("flows.py", "test_flows.py", "conftest.py", "pytest.ini", "README.md")


def starter_text(name: str) -> str:
    return (resources.files("polos.cli.starter") / f"{name}.txt").read_text(encoding="utf-8")


@app.command()
def init(
    directory: Path = typer.Argument(Path("."), help="Where to write the project"),
    force: bool = typer.Option(False, "--force", help="Overwrite files that exist"),
    as_json: bool = AsJson,
) -> None:
    """Write a starter project: a workflow and an agent (flows.py) and their tests
    (test_flows.py, with a test clock and a fake model); then run pytest there."""
    existing = [name for name in FILES if (directory / name).exists()]
    if existing and not force:
        raise fail(
            f"{directory} already has {', '.join(existing)}; pick an empty directory "
            "(polos init DIR) or pass --force to overwrite them"
        )
    directory.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        (directory / name).write_text(starter_text(name), encoding="utf-8")
    if as_json:
        _print_json({"directory": str(directory.resolve()), "files": list(FILES)})
        return
    print(f"wrote {', '.join(FILES)} in {directory.resolve()}")
    print("next: pytest   (then: polos worker flows.py, and polos invoke process_order)")
