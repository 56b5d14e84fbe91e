"""Contract: API keys of a polos server.

Methods: ``create_api_key``, ``list_api_keys``, ``find_api_key``,
``revoke_api_key``, ``has_api_keys``. Only a key's hash is stored; a revoked
key keeps its row (so a database that had keys never goes back to none).
"""

from __future__ import annotations

from polos.store import Store
from polos.store.api_keys import ApiKeyRow, hash_key, new_api_key

from .kit import T0


async def test_create_find_list_revoke(store: Store) -> None:
    assert await store.has_api_keys() is False
    assert await store.list_api_keys() == []
    key, row = new_api_key("acme", "ci", T0)
    assert key.startswith(f"polos_{row.key_id}_") and row.key_hash == hash_key(key)
    assert key not in row.key_hash
    await store.create_api_key(row)
    other_key, other = new_api_key("acme", "laptop", T0 + 1)
    await store.create_api_key(other)

    assert await store.has_api_keys() is True
    assert await store.find_api_key(hash_key(key)) == row
    assert await store.find_api_key(hash_key(key + "x")) is None
    assert [k.name for k in await store.list_api_keys()] == ["ci", "laptop"]

    assert await store.revoke_api_key(row.key_id, T0 + 5) is True
    assert await store.revoke_api_key(row.key_id, T0 + 6) is False  # once
    assert await store.revoke_api_key("no-such-key", T0 + 6) is False
    revoked = await store.find_api_key(hash_key(key))
    assert revoked == ApiKeyRow(row.key_id, "acme", "ci", row.key_hash, T0, T0 + 5)
    assert (await store.find_api_key(hash_key(other_key))) == other

    await store.revoke_api_key(other.key_id, T0 + 7)
    assert await store.has_api_keys() is True  # revoked keys still count


async def test_keys_are_unique_by_hash(store: Store, stores: list[Store]) -> None:
    _, row = new_api_key("p", "a", T0)
    await store.create_api_key(row)
    # another process sees it at once
    assert await stores[0].find_api_key(row.key_hash) == row
    assert await stores[1].has_api_keys() is True
