"""pytest fixtures for testing your own workflows and agents.

Turn them on in your ``conftest.py``::

    pytest_plugins = ["polos.testing.pytest_plugin"]

and write async tests (pytest-asyncio, ``asyncio_mode = auto``):

- ``polos_clock``: a :class:`~polos.testing.TestClock`; ``advance(days=3)``
  makes durable sleeps and schedule ticks due at once;
- ``polos_kit``: a :class:`~polos.testing.PolosTestKit`, a fresh embedded
  ``Polos`` on a temporary SQLite file with that clock, started, and stopped
  after the test, with ``wait_for_status`` and step assertions;
- ``polos``: that kit's ``Polos`` (``await polos.run(my_workflow, payload)``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ..runtime.polos import Polos
from .clock import TestClock
from .kit import PolosTestKit


@pytest.fixture
def polos_clock() -> TestClock:
    return TestClock()


@pytest_asyncio.fixture
async def polos_kit(polos_clock: TestClock, tmp_path: Path) -> AsyncIterator[PolosTestKit]:
    async with PolosTestKit(clock=polos_clock, path=tmp_path / "polos.db") as kit:
        yield kit


@pytest_asyncio.fixture
async def polos(polos_kit: PolosTestKit) -> Polos:
    return polos_kit.polos
