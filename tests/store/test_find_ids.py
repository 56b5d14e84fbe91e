"""Contract: ``find_execution_ids``, what a short id a person typed may mean.

Ids whose id starts with the prefix, in id order, at most ``limit``; the prefix
is typed text (``%`` and ``_`` match only themselves); an empty prefix matches
nothing.
"""

from __future__ import annotations

from polos.store import Store

from .kit import T0, new_execution


async def test_ids_starting_with_a_prefix(store: Store) -> None:
    ids = ["abc-1", "abc-2", "abd-1", "ab%_x", "zzz"]
    for n, execution_id in enumerate(ids):
        new = new_execution("wf", T0 + n)
        new.id = execution_id
        await store.create_execution(new)

    assert await store.find_execution_ids("abc-") == ["abc-1", "abc-2"]
    assert await store.find_execution_ids("abc-2") == ["abc-2"]  # a whole id is its own prefix
    assert await store.find_execution_ids("ab", limit=2) == ["ab%_x", "abc-1"]
    assert await store.find_execution_ids("ab") == ["ab%_x", "abc-1", "abc-2", "abd-1"]
    # Typed text, not a pattern.
    assert await store.find_execution_ids("ab%") == ["ab%_x"]
    assert await store.find_execution_ids("a_c") == []
    assert await store.find_execution_ids("abe") == []
    assert await store.find_execution_ids("zzzz") == []
    assert await store.find_execution_ids("") == []
