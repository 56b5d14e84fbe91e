"""The checklist itself: every public method of ``Store`` is driven by this contract.

Adding a method to ``Store`` without a contract test fails here, so the
list a new backend works through stays complete.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from polos.store import Store

HERE = Path(__file__).parent


def test_every_store_method_is_called_by_a_contract_test() -> None:
    methods = {
        name
        for name, member in inspect.getmembers(Store)
        if getattr(member, "__isabstractmethod__", False)
    }
    assert len(methods) > 40
    code = "\n".join(p.read_text() for p in HERE.glob("test_*.py") if p.name != Path(__file__).name)
    called = set(re.findall(r"\.(\w+)\(", code))
    missing = sorted(methods - called)
    assert not missing, f"Store methods no contract test calls: {missing}"
