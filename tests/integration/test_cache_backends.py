"""Where snapshots are kept and how one load is shared (app/caching/stores.py,
flight.py and redis_backend.py)."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis

from app.caching.flight import FlightFailed, SingleFlight
from app.caching.redis_backend import RedisFlight, RedisStore
from app.caching.stores import MemoryStore, build_store
from tests.support.live import eventually

ROOT = Path(__file__).resolve().parents[2]
GZIPPED = gzip.compress(b'{"data": {"hello": "world"}}' * 50, mtime=0)
ODD_BYTES = [b"", b"\x00\xff\xfe\x80", "ünïcödé".encode(), GZIPPED]


@dataclass
class Fetcher:
    """A fetch that counts its calls, takes `delay` seconds (or until `gate` opens,
    when given), and may fail."""

    value: bytes = b"fetched"
    delay: float = 0.0
    error: Exception | None = None
    gate: asyncio.Event | None = None
    calls: int = 0
    finished: int = 0
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self) -> bytes:
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(self.delay)
        self.finished += 1
        if self.error is not None:
            raise self.error
        return self.value


# --- MemoryStore ---------------------------------------------------------------------


async def test_memory_store_keeps_the_objects_it_is_given() -> None:
    store = MemoryStore(max_entries=10)
    value = object()
    assert await store.get_many(["k"]) == [None]
    await store.set("k", value, ttl=60)
    [got] = await store.get_many(["k"])
    assert got is value
    await store.delete("k")
    assert await store.get_many(["k"]) == [None]
    assert await store.ping()


async def test_memory_store_evicts_the_least_recently_used_past_its_bound() -> None:
    store = MemoryStore(max_entries=2)
    await store.set("a", 1, ttl=60)
    await store.set("b", 2, ttl=60)
    await store.get_many(["a"])  # a is now the most recently used
    await store.set("c", 3, ttl=60)  # evicts b
    assert await store.get_many(["a", "b", "c"]) == [1, None, 3]
    assert len(store) == 2


async def test_memory_store_stays_bounded_under_100k_cache_busting_keys() -> None:
    store = MemoryStore(max_entries=1000)
    for i in range(100_000):
        await store.set(f"k{i}", i, ttl=60)
    assert len(store) == 1000
    assert await store.get_many(["k99999", "k0"]) == [99999, None]
    await store.clear()
    assert len(store) == 0


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryStore(max_entries=0)


# --- build_store ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "memcached://127.0.0.1:11211",
        "http://user:secret@example.com",
        "127.0.0.1:6379",
        "redis://127.0.0.1:notaport/0",
        "redis://127.0.0.1:6379/zero",
        "redis://127.0.0.1:6379/0?socket_timeout=1",
    ],
)
def test_build_store_rejects_other_urls_naming_cache_url(url: str) -> None:
    with pytest.raises(ValueError, match="CACHE_URL") as excinfo:
        build_store(url, max_entries=10)
    assert "secret" not in str(excinfo.value)


def test_build_store_blank_is_the_memory_store() -> None:
    store = build_store("  ", max_entries=5)
    assert isinstance(store, MemoryStore)
    assert store.max_entries == 5


async def test_build_store_reads_the_redis_url() -> None:
    store = build_store("rediss://reader:p%40ss@cache.internal:6380/2", max_entries=1)
    assert isinstance(store, RedisStore)
    try:
        pool = store._redis.connection_pool
        kwargs = pool.connection_kwargs
        assert (kwargs["host"], kwargs["port"], kwargs["db"]) == (
            "cache.internal",
            6380,
            2,
        )
        assert (kwargs["username"], kwargs["password"]) == ("reader", "p@ss")
        assert pool.connection_class is redis.SSLConnection
    finally:
        await store.aclose()  # never connected


async def test_redis_store_keeps_raw_bytes_under_its_namespace(
    redis_test_url: str,
) -> None:
    store = RedisStore(redis_test_url)
    client = redis.Redis.from_url(redis_test_url)
    try:
        for i, value in enumerate(ODD_BYTES):
            await store.set(f"k{i}", value, ttl=30.0)
            assert await client.get(f"naap:snap:k{i}") == value
        assert await store.get_many(["k3", "nope"]) == [GZIPPED, None]
        assert 0 < await client.pttl("naap:snap:k3") <= 30_000

        await store.set("short", b"s", ttl=0.2)  # at least a second, in Redis
        assert 900 < await client.pttl("naap:snap:short") <= 1000

        for i in range(1200):
            await store.set(f"many{i}", b"x", ttl=30)
        await client.set("someone-else", b"keep")
        await store.clear()  # this namespace only, never FLUSHDB
        assert await client.keys("naap:snap:*") == []
        assert await client.get("someone-else") == b"keep"
        assert await store.ping()
    finally:
        await client.aclose()
        await store.aclose()


async def test_redis_store_ping_is_false_when_redis_is_down() -> None:
    store = RedisStore("redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        assert await store.ping() is False
    finally:
        await store.aclose()


# --- SingleFlight --------------------------------------------------------------------


async def test_single_flight_runs_one_fetch_for_concurrent_callers() -> None:
    flight: SingleFlight[bytes] = SingleFlight()
    fetch = Fetcher(value=GZIPPED, delay=0.2)
    results = await asyncio.gather(*(flight.run("k", fetch) for _ in range(100)))
    assert fetch.calls == 1
    assert all(result is GZIPPED for result in results)
    assert (flight.stats.started, flight.stats.joined) == (1, 99)
    assert not flight.in_flight("k")  # nothing remembered
    await flight.run("k", fetch)
    assert fetch.calls == 2
    await flight.aclose()


async def test_single_flight_keys_are_independent() -> None:
    flight: SingleFlight[bytes] = SingleFlight()
    a, b = Fetcher(value=b"a", delay=0.05), Fetcher(value=b"b", delay=0.05)
    assert list(await asyncio.gather(flight.run("a", a), flight.run("b", b))) == [
        b"a",
        b"b",
    ]
    assert (a.calls, b.calls) == (1, 1)


async def test_single_flight_failure_reaches_every_waiter_and_is_not_kept() -> None:
    flight: SingleFlight[bytes] = SingleFlight()
    failing = Fetcher(delay=0.05, error=RuntimeError("upstream down"))
    results = await asyncio.gather(
        *(flight.run("k", failing) for _ in range(5)), return_exceptions=True
    )
    assert failing.calls == 1
    assert all(isinstance(r, RuntimeError) for r in results)
    ok = Fetcher(value=b"ok")
    assert await flight.run("k", ok) == b"ok"
    assert ok.calls == 1


async def test_single_flight_cancelled_callers_do_not_cancel_the_fetch() -> None:
    flight: SingleFlight[bytes] = SingleFlight()
    fetch = Fetcher(value=b"v", delay=0.1)
    owner = asyncio.create_task(flight.run("k", fetch))
    await fetch.started.wait()
    waiter = asyncio.create_task(flight.run("k", fetch))
    survivor = asyncio.create_task(flight.run("k", fetch))
    await asyncio.sleep(0)
    waiter.cancel()
    owner.cancel()  # even the caller that started it
    assert await survivor == b"v"
    assert fetch.finished == 1
    assert waiter.cancelled()
    assert owner.cancelled()


async def test_single_flight_abandoned_run_is_cancelled_when_asked() -> None:
    flight: SingleFlight[bytes] = SingleFlight(cancel_when_abandoned=True)
    fetch = Fetcher(value=b"v", delay=10)
    caller = asyncio.create_task(flight.run("k", fetch))
    await fetch.started.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await asyncio.sleep(0)
    assert fetch.finished == 0
    assert not flight.in_flight("k")


async def test_single_flight_aclose_cancels_fetches_in_flight() -> None:
    flight: SingleFlight[bytes] = SingleFlight()
    fetch = Fetcher(delay=10)
    caller = asyncio.create_task(flight.run("k", fetch))
    await fetch.started.wait()
    await flight.aclose()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert fetch.finished == 0


# --- RedisFlight -------------------------------------------------------------------

Flights = Callable[..., RedisFlight]


@pytest.fixture
async def flights(redis_test_url: str) -> AsyncIterator[Flights]:
    """A factory of RedisFlights on the test database, each its own pool (as two
    processes would have), all closed afterwards."""
    made: list[RedisFlight] = []

    def make(**kwargs: Any) -> RedisFlight:
        flight = RedisFlight(redis_test_url, **kwargs)
        made.append(flight)
        return flight

    yield make
    for flight in made:
        await flight.aclose()


@pytest.fixture
async def client(redis_test_url: str) -> AsyncIterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_test_url)
    yield connection
    await connection.aclose()


def test_redis_flight_refuses_other_urls_naming_cache_url() -> None:
    with pytest.raises(ValueError, match="CACHE_URL"):
        RedisFlight("memcached://127.0.0.1")


async def test_redis_flight_one_fetch_for_concurrent_callers(
    flights: Flights, client: redis.Redis
) -> None:
    flight = flights()
    fetch = Fetcher(value=GZIPPED, delay=0.3)
    results = await asyncio.gather(*(flight.run("k", fetch) for _ in range(50)))
    assert fetch.calls == 1
    assert all(result == GZIPPED for result in results)
    assert (flight.stats.started, flight.stats.joined) == (1, 49)
    assert await client.get(flight.lease_key("k")) is None  # released
    assert not flight.in_flight("k")  # nothing remembered


async def test_redis_flight_one_fetch_across_two_pools(
    flights: Flights, client: redis.Redis
) -> None:
    first, second = flights(), flights()
    gate = asyncio.Event()  # the winner works until all 20 callers are waiting
    fetch_a = Fetcher(value=b"from a", gate=gate)
    fetch_b = Fetcher(value=b"from b", gate=gate)
    calls = [
        *(asyncio.create_task(first.run("k", fetch_a)) for _ in range(10)),
        *(asyncio.create_task(second.run("k", fetch_b)) for _ in range(10)),
    ]
    await eventually(lambda: first.stats.joined + second.stats.joined == 19)
    gate.set()
    results = await asyncio.gather(*calls)
    assert fetch_a.calls + fetch_b.calls == 1
    winner = b"from a" if fetch_a.calls else b"from b"
    assert results == [winner] * 20
    assert first.stats.started + second.stats.started == 1
    assert first.stats.joined + second.stats.joined == 19
    assert await client.get(first.lease_key("k")) is None


async def test_redis_flight_renews_the_lease_through_a_slow_fetch(
    flights: Flights, client: redis.Redis
) -> None:
    owner, other = flights(lease_ms=300), flights(lease_ms=300)
    slow = Fetcher(value=b"slow", gate=asyncio.Event())
    never = Fetcher(value=b"second fetch!")
    first = asyncio.create_task(owner.run("k", slow))
    await slow.started.wait()
    second = asyncio.create_task(other.run("k", never))
    await asyncio.sleep(1.0)  # more than three leases
    token = await client.get(owner.lease_key("k"))
    assert token is not None
    assert 0 < await client.pttl(owner.lease_key("k")) <= 300
    assert slow.gate is not None
    slow.gate.set()
    assert list(await asyncio.gather(first, second)) == [b"slow", b"slow"]
    assert (slow.calls, never.calls) == (1, 0)
    assert (owner.stats.started, other.stats.joined) == (1, 1)


async def test_redis_flight_waiter_takes_over_from_a_dead_owner(
    flights: Flights, client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    flight = flights(lease_ms=300, max_wait=5)
    # A "process" that took the lease and died: never renewed, never released.
    await client.set(flight.lease_key("k"), b"dead-owner-token", nx=True, px=300)
    fetch = Fetcher(value=b"mine")
    start = time.monotonic()
    with caplog.at_level(logging.INFO, logger="naap.caching.flight"):
        assert await flight.run("k", fetch) == b"mine"
    elapsed = time.monotonic() - start
    assert fetch.calls == 1
    assert 0.2 < elapsed < 2.0
    assert (flight.stats.started, flight.stats.joined) == (1, 1)
    assert "taken over" in caplog.text
    assert "mine" not in caplog.text  # values are never logged


async def test_redis_flight_exactly_one_waiter_takes_over(
    flights: Flights, client: redis.Redis
) -> None:
    waiters = [flights(lease_ms=300, max_wait=5) for _ in range(3)]
    await client.set(waiters[0].lease_key("k"), b"dead-owner-token", px=300)
    gate = asyncio.Event()
    fetches = [Fetcher(value=b"v%d" % i, gate=gate) for i in range(3)]
    calls = [
        asyncio.create_task(f.run("k", fetch))
        for f, fetch in zip(waiters, fetches, strict=True)
    ]
    await eventually(lambda: sum(w.stats.started for w in waiters) == 1)
    await asyncio.sleep(0.2)  # ten polls: the others follow the new owner's token
    gate.set()
    results = await asyncio.gather(*calls)
    assert sum(fetch.calls for fetch in fetches) == 1
    assert len(set(results)) == 1


async def test_redis_flight_lease_is_released_only_by_its_owner(
    flights: Flights, client: redis.Redis
) -> None:
    flight = flights(lease_ms=2000)
    fetch = Fetcher(value=b"v", gate=asyncio.Event())
    running = asyncio.create_task(flight.run("k", fetch))
    await fetch.started.wait()
    lease_key = flight.lease_key("k")
    token = await client.get(lease_key)
    assert token is not None
    # Someone else's token neither releases nor renews the lease.
    assert await flight._release(keys=[lease_key], args=[b"foreign"]) == 0
    assert await flight._renew(keys=[lease_key], args=[b"foreign", 60_000]) == 0
    assert await client.get(lease_key) == token
    assert await client.pttl(lease_key) <= 2000
    assert fetch.gate is not None
    fetch.gate.set()
    assert await running == b"v"
    assert await client.get(lease_key) is None


@pytest.mark.parametrize("error", [None, RuntimeError("boom")])
async def test_redis_flight_stores_the_outcome_before_releasing(
    redis_test_url: str, error: Exception | None
) -> None:
    seen: list[int] = []

    class Checking(RedisFlight):
        async def _release_lease(self, key: str, token: bytes) -> None:
            seen.append(await self._redis.exists(self.result_key(key, token)))
            await super()._release_lease(key, token)

    flight = Checking(redis_test_url)
    try:
        with pytest.raises(RuntimeError) if error else contextlib.nullcontext():
            await flight.run("k", Fetcher(error=error))
    finally:
        await flight.aclose()
    assert seen == [1]


async def test_redis_flight_owner_does_not_release_a_lease_it_lost(
    flights: Flights, client: redis.Redis
) -> None:
    flight = flights(lease_ms=300)
    fetch = Fetcher(value=b"v", gate=asyncio.Event())
    running = asyncio.create_task(flight.run("k", fetch))
    await fetch.started.wait()
    # The lease changed hands (say it expired during a pause and another took it).
    await client.set(flight.lease_key("k"), b"new-owner", px=5000)
    assert fetch.gate is not None
    fetch.gate.set()
    assert await running == b"v"
    assert await client.get(flight.lease_key("k")) == b"new-owner"


async def test_redis_flight_failure_marker_fails_waiters_fast(
    flights: Flights, client: redis.Redis
) -> None:
    owner, other = flights(lease_ms=3000), flights(lease_ms=3000)
    failing = Fetcher(delay=0.2, error=RuntimeError("upstream down"))
    never = Fetcher(value=b"refetched!")
    first = asyncio.create_task(owner.run("k", failing))
    await failing.started.wait()
    start = time.monotonic()
    with pytest.raises(FlightFailed, match="RuntimeError"):
        await other.run("k", never)
    assert time.monotonic() - start < 1.0  # not a lease expiry later
    with pytest.raises(RuntimeError, match="upstream down"):
        await first
    assert never.calls == 0
    assert await client.get(owner.lease_key("k")) is None
    # Nothing is remembered: the next call fetches.
    assert await other.run("k", Fetcher(value=b"ok")) == b"ok"


async def test_redis_flight_cancelled_owner_releases_and_a_waiter_takes_over(
    flights: Flights, client: redis.Redis
) -> None:
    owner, other = flights(lease_ms=5000), flights(lease_ms=5000)
    slow = Fetcher(value=b"never", delay=10)
    fallback = Fetcher(value=b"fallback")
    first = asyncio.create_task(owner.run("k", slow))
    await slow.started.wait()
    second = asyncio.create_task(other.run("k", fallback))
    await asyncio.sleep(0.1)
    first.cancel()
    start = time.monotonic()
    assert await second == b"fallback"
    assert time.monotonic() - start < 1.0  # released, not expired after 5 s
    assert first.cancelled()
    assert (slow.finished, fallback.calls) == (0, 1)


async def test_redis_flight_cancelled_caller_does_not_cancel_a_shared_fetch(
    flights: Flights,
) -> None:
    flight = flights()
    fetch = Fetcher(value=b"v", delay=0.2)
    first = asyncio.create_task(flight.run("k", fetch))
    await fetch.started.wait()
    second = asyncio.create_task(flight.run("k", fetch))
    await asyncio.sleep(0)
    first.cancel()
    assert await second == b"v"
    assert fetch.calls == 1


async def test_redis_flight_waiters_give_up_after_max_wait(
    flights: Flights, client: redis.Redis
) -> None:
    flight = flights(max_wait=0.2)
    await client.set(flight.lease_key("k"), b"stuck-owner", px=10_000)
    fetch = Fetcher()
    with pytest.raises(FlightFailed, match="gave up"):
        await flight.run("k", fetch)
    assert fetch.calls == 0


async def test_redis_flight_callers_in_one_process_share_one_poller(
    flights: Flights, client: redis.Redis
) -> None:
    owner, other = flights(), flights()
    # The owner works until the test opens the gate (not for a fixed time: on a
    # loaded machine the waiters could arrive after the owner was done).
    fetch = Fetcher(value=b"v", gate=asyncio.Event())
    first = asyncio.create_task(owner.run("k", fetch))
    await fetch.started.wait()
    await client.config_resetstat()
    waiting = [asyncio.create_task(other.run("k", fetch)) for _ in range(50)]
    await asyncio.sleep(0.4)
    assert fetch.gate is not None
    fetch.gate.set()
    results = await asyncio.gather(*waiting)
    assert results == [b"v"] * 50
    gets = (await client.info("commandstats")).get("cmdstat_get", {}).get("calls", 0)
    # One poller: two GETs per 20 ms poll for 0.4 s is ~40; 50 pollers, ~2,000.
    assert gets < 200
    assert await first == b"v"
    assert (other.stats.started, other.stats.joined) == (0, 50)


async def test_redis_flight_waiter_finds_the_result_when_the_owner_releases_at_once(
    flights: Flights, client: redis.Redis
) -> None:
    """The owner stores its result and releases between a waiter's failed claim and
    its first look at the lease: the waiter still returns that result instead of
    doing the work again (it learnt the owner's token from the claim itself)."""
    waiter = flights()
    await client.set(waiter.lease_key("k"), b"owner-token", px=10_000)
    await client.set(waiter.result_key("k", b"owner-token"), b"+done", px=10_000)
    real_get = waiter._get

    async def get_after_the_owner_released(name: str) -> bytes | None:
        await client.delete(waiter.lease_key("k"))
        return await real_get(name)

    waiter._get = get_after_the_owner_released  # type: ignore[method-assign]
    fetch = Fetcher()
    assert await waiter.run("k", fetch) == b"done"
    assert fetch.calls == 0
    assert (waiter.stats.started, waiter.stats.joined) == (0, 1)


async def test_redis_flight_without_redis_fetches_locally(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flight = RedisFlight("redis://127.0.0.1:1/0")  # nothing listens on port 1
    fetch = Fetcher(value=b"v", delay=0.05)
    try:
        with caplog.at_level(logging.WARNING, logger="naap.caching.flight"):
            results = await asyncio.gather(*(flight.run("k", fetch) for _ in range(3)))
    finally:
        await flight.aclose()
    assert list(results) == [b"v"] * 3
    assert fetch.calls == 1  # still shared within the process
    assert (flight.stats.started, flight.stats.joined) == (1, 2)
    assert "Redis unavailable for single flight" in caplog.text


async def test_redis_flight_does_not_refetch_when_the_fetch_itself_fails_on_redis(
    redis_test_url: str,
) -> None:
    flight = RedisFlight(redis_test_url)
    failing = Fetcher(error=redis.ConnectionError("the fetch's own Redis"))
    try:
        with pytest.raises(redis.ConnectionError):
            await flight.run("k", failing)
    finally:
        await flight.aclose()
    assert failing.calls == 1


@pytest.mark.parametrize(
    "kwargs",
    [{"lease_ms": 10}, {"poll_interval": 0}, {"result_ttl": 0}, {"max_wait": -1}],
)
def test_redis_flight_rejects_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RedisFlight("redis://127.0.0.1:1/0", **kwargs)


async def test_redis_flight_survives_redis_errors_around_its_own_fetch(
    flights: Flights, caplog: pytest.LogCaptureFixture
) -> None:
    flight = flights(lease_ms=60)

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise redis.ConnectionError("connection reset")

    async def fetch() -> bytes:
        # Once this owns the lease, Redis "fails" for renewal, result and release.
        flight._renew = broken  # type: ignore[assignment]
        flight._release = broken  # type: ignore[assignment]
        flight._redis.set = broken  # type: ignore[method-assign]
        await asyncio.sleep(0.1)
        return b"still served"

    with caplog.at_level(logging.WARNING, logger="naap.caching.flight"):
        assert await flight.run("k", fetch) == b"still served"
    assert "could not renew the lease" in caplog.text
    assert "could not store the flight result" in caplog.text
    assert "could not release the lease" in caplog.text


async def test_redis_flight_falls_back_when_redis_fails_while_waiting(
    flights: Flights, client: redis.Redis
) -> None:
    flight = flights()
    await client.set(flight.lease_key("k"), b"other-owner", px=10_000)
    calls = 0
    real_get = flight._redis.get

    async def flaky_get(name: str) -> Any:
        nonlocal calls
        calls += 1
        if calls > 2:
            raise redis.ConnectionError("connection reset")
        return await real_get(name)

    flight._redis.get = flaky_get  # type: ignore[method-assign, assignment]
    fetch = Fetcher(value=b"local")
    assert await flight.run("k", fetch) == b"local"
    assert fetch.calls == 1
    assert (flight.stats.started, flight.stats.joined) == (1, 1)


async def test_redis_flight_aclose_cancels_and_releases(
    redis_test_url: str, client: redis.Redis
) -> None:
    flight = RedisFlight(redis_test_url)
    fetch = Fetcher(delay=10)
    caller = asyncio.create_task(flight.run("k", fetch))
    await fetch.started.wait()
    assert await client.get(flight.lease_key("k")) is not None
    await flight.aclose()
    assert await client.get(flight.lease_key("k")) is None
    with pytest.raises(asyncio.CancelledError):
        await caller


async def test_redis_flight_fetch_must_return_bytes(flights: Flights) -> None:
    flight = flights()

    async def text() -> bytes:
        return "text"  # type: ignore[return-value]

    with pytest.raises(TypeError, match="bytes"):
        await flight.run("k", text)


_PROCESS = """
import asyncio, os, sys
import redis.asyncio as redis
from app.caching.redis_backend import RedisFlight

async def main() -> None:
    url = sys.argv[1]
    client = redis.Redis.from_url(url)
    flight = RedisFlight(url, lease_ms=500)

    async def fetch() -> bytes:
        await client.incr("test:fetches")
        await asyncio.sleep(1.0)
        return b"fetched by pid %d" % os.getpid()

    await client.incr("test:ready")  # start together: both are up and imported
    while int(await client.get("test:ready")) < 2:
        await asyncio.sleep(0.005)
    try:
        value = await flight.run("shared-key", fetch)
    finally:
        await flight.aclose()
        await client.aclose()
    stats = flight.stats
    sys.stdout.write(f"{value.hex()} {stats.started} {stats.joined}\\n")

asyncio.run(main())
"""


async def test_redis_flight_two_processes_fetch_once(
    redis_test_url: str, client: redis.Redis
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _PROCESS,
            redis_test_url,
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    try:
        outputs = await asyncio.wait_for(
            asyncio.gather(*(p.communicate() for p in processes)), timeout=20
        )
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr.decode()
    lines = [stdout.decode().split() for stdout, _ in outputs]
    values = {bytes.fromhex(value) for value, _, _ in lines}
    assert len(values) == 1  # both print the owner's bytes
    assert values.pop().startswith(b"fetched by pid ")
    assert sorted((started, joined) for _, started, joined in lines) == [
        ("0", "1"),  # one waited for the other
        ("1", "0"),  # one fetched
    ]
    assert await client.get("test:fetches") == b"1"
