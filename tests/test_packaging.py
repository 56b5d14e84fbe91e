"""The dependency floors in pyproject.toml cover the features the code uses."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

import asyncpg

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _floor(package: str) -> tuple[int, ...]:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    for spec in deps:
        match = re.match(rf"{re.escape(package)}\s*>=\s*([\d.]+)", spec)
        if match:
            return tuple(int(part) for part in match.group(1).split("."))
    raise AssertionError(f"{package} has no >= floor in pyproject.toml")


def test_asyncpg_floor_has_create_pool_reset() -> None:
    # The PostgreSQL backend passes reset= to create_pool (skips the reset
    # query on release), which asyncpg added in 0.30.0.
    assert "reset" in inspect.signature(asyncpg.create_pool).parameters
    assert _floor("asyncpg") >= (0, 30)
