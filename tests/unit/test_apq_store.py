"""The APQ store is bounded: the in-process LRU keeps at most APQ_MAX_ENTRIES
documents however many are registered, and nothing past the size cap."""

from __future__ import annotations

import hashlib

from app.caching.stores import MemoryStore
from app.graphql.apq import MAX_DOCUMENT, AutomaticPersistedQueries

BOUND = 2_000


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def test_the_store_stays_at_its_bound_under_100000_registrations() -> None:
    store = AutomaticPersistedQueries(MemoryStore(BOUND), ttl=60)
    documents = [f"{{ a{n}: __typename }}" for n in range(100_000)]
    most = 0
    for document in documents:
        await store.put(sha256(document), document)
        most = max(most, len(store))
    assert most == len(store) == BOUND
    assert await store.get(sha256(documents[0])) is None
    assert await store.get(sha256(documents[-BOUND - 1])) is None
    for document in documents[-BOUND:]:
        assert await store.get(sha256(document)) == document


async def test_a_document_past_the_size_cap_is_not_kept() -> None:
    store = AutomaticPersistedQueries(MemoryStore(10), ttl=60)
    large = "{ __typename }" + " " * MAX_DOCUMENT
    assert not await store.put(sha256(large), large)
    assert len(store) == 0


async def test_a_failing_store_reads_as_a_miss() -> None:
    class Broken(MemoryStore):
        async def get_many(self, keys):  # type: ignore[no-untyped-def]
            raise ConnectionError

        async def set(self, key, value, ttl):  # type: ignore[no-untyped-def]
            raise ConnectionError

    store = AutomaticPersistedQueries(Broken(10), ttl=60)
    assert await store.get("a" * 64) is None
    assert not await store.put("a" * 64, "{ __typename }")
