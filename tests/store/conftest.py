"""Fixtures of the store contract: an opened store per backend.

The repository's ``tests/conftest.py`` gives ``database_url`` (a fresh SQLite
file, or a fresh PostgreSQL schema) once per backend; every test here goes
through ``store_from_url`` and ``open()`` only, as a third backend would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from polos.store import Store, store_from_url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    s = store_from_url(database_url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[list[Store]]:
    """Four more store objects on the same database, like four processes."""
    opened = [store_from_url(database_url) for _ in range(4)]
    try:
        for s in opened:
            await s.open()
        yield opened
    finally:
        for s in opened:
            await s.close()
