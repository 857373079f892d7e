"""The cached read (app/caching) through the HTTP surfaces, in process.

Every test drives the real app (REST facade and `/graphql`) on the in-process
simulator and counts upstream calls with `simulator.state.calls`. The snapshots'
own clock (`services.snapshots.clock`, epoch seconds) is replaced by a
`CacheClock` where a test needs entries to age; the `clock` fixture moves the
simulator's data (and the app's notion of "now") instead.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
from collections.abc import Callable, Iterable

import httpx
import pytest
from starlette.applications import Starlette

from app.caching.render import GZIP_MIN_BYTES
from app.caching.snapshots import Snapshots
from app.caching.stores import MemoryStore
from app.graphql.endpoint import MAX_CACHEABLE_QUERY
from app.main import create_app
from simulator import Fault
from tests.support.app import Clock, auth, make_settings, serve

KPI = "/api/v1/dashboard/kpi"
PIPELINES = "/api/v1/dashboard/pipelines"
ORCHESTRATORS = "/api/v1/dashboard/orchestrators"
PROTOCOL = "/api/v1/dashboard/protocol"  # a body well under GZIP_MIN_BYTES

DASHBOARD_FRESH = 60.0  # Settings defaults: dashboard_fresh / dashboard_stale
DASHBOARD_STALE = 3600.0
JOB_FEED_FRESH = 5.0
SUCCESS_CACHE = "public, max-age=60, s-maxage=3600, stale-while-revalidate=7200"
FAILURE_CACHE = "public, max-age=0, s-maxage=5, stale-while-revalidate=0"
JOB_FEED_CACHE = "public, max-age=5, s-maxage=5, stale-while-revalidate=10"
IDENTITY = {"accept-encoding": "identity"}
GZIP = {"accept-encoding": "gzip"}

Build = Callable[..., tuple[Starlette, Starlette]]


class CacheClock:
    """A settable epoch clock for the response cache (it reads `time.time` by
    default)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def snapshots(app: Starlette) -> Snapshots:
    found: Snapshots = app.state.services.snapshots
    return found


def stored(app: Starlette) -> int:
    """How many snapshots the app's in-process store holds."""
    store = snapshots(app).store
    assert isinstance(store, MemoryStore)
    return len(store)


def install_clock(app: Starlette) -> CacheClock:
    """Replace the app's snapshot clock (before its first request)."""
    cache_clock = CacheClock()
    snapshots(app).clock = cache_clock
    return cache_clock


def calls(sim: Starlette, key: str = "dashboard/kpi") -> int:
    count: int = sim.state.calls[key]
    return count


async def get_raw(
    http: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (httpx would decode gzip)."""
    async with http.stream("GET", path, headers=headers) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, raw


async def get_all(
    http: httpx.AsyncClient, paths: Iterable[str], *, batch: int = 50
) -> list[httpx.Response]:
    """GET every path, `batch` at a time concurrently."""
    pending = list(paths)
    answers: list[httpx.Response] = []
    for start in range(0, len(pending), batch):
        chunk = pending[start : start + batch]
        answers += await asyncio.gather(*(http.get(path) for path in chunk))
    return answers


async def graphql(
    http: httpx.AsyncClient, query: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await http.post("/graphql", json={"query": query}, headers=headers)


def closed_port_url() -> str:
    """A loopback base URL nothing listens on (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert response.headers["cache-control"] == FAILURE_CACHE


# --- single flight ------------------------------------------------------------------


async def test_cold_key_is_fetched_once_when_100_requests_arrive_together(
    faulty_app: Build,
) -> None:
    app, sim = faulty_app({"dashboard/kpi": Fault(latency=3)})
    async with serve(app) as http:
        answers = await asyncio.gather(*(http.get(KPI) for _ in range(100)))
    assert calls(sim) == 1
    assert {r.status_code for r in answers} == {200}
    assert len({r.content for r in answers}) == 1
    assert answers[0].json()["timeframeHours"] == 24
    assert {r.headers["x-cache"] for r in answers} == {"MISS"}
    flight = snapshots(app).flight.stats
    assert (flight.started, flight.joined) == (1, 99)


# --- failures -------------------------------------------------------------------------


async def test_stale_entry_is_served_when_upstream_is_down(
    app: Starlette, client: httpx.AsyncClient, simulator: Starlette
) -> None:
    cache_clock = install_clock(app)
    first = await client.get(KPI)
    assert first.headers["x-cache"] == "MISS"
    simulator.state.faults["dashboard/kpi"] = Fault(status=500)
    cache_clock.advance(DASHBOARD_FRESH + 1)

    stale = await client.get(KPI)
    await snapshots(app).drain()  # its background refresh fails
    again = await client.get(KPI)
    await snapshots(app).drain()

    for response in (stale, again):
        assert response.status_code == 200
        assert response.headers["x-cache"] == "STALE"
        assert response.content == first.content
        assert response.headers["etag"] == first.headers["etag"]
    assert calls(simulator) == 3  # the first fetch, then two failed refreshes


async def test_stored_entry_is_served_when_a_refresh_request_fails(
    app: Starlette, client: httpx.AsyncClient, simulator: Starlette
) -> None:
    first = await client.get(KPI)
    simulator.state.faults["dashboard/kpi"] = Fault(status=500)
    refreshed = await client.get(f"{KPI}?refresh=1")
    assert calls(simulator) == 2
    assert refreshed.status_code == 200
    assert refreshed.content == first.content
    assert refreshed.headers["x-cache"] == "STALE"
    assert refreshed.headers["cache-control"] == "no-store"


async def test_cold_key_answers_503_quickly_when_upstream_refuses_connections() -> None:
    settings = make_settings(
        naap_api_server_url=f"{closed_port_url()}/v1", upstream_connect_timeout=0.5
    )
    app = create_app(settings)
    async with serve(app) as http:
        started = time.monotonic()
        first = await http.get(KPI)
        elapsed = time.monotonic() - started
        second = await http.get(KPI)
    assert elapsed < 1.0
    assert_unavailable(first)
    assert_unavailable(second)
    assert second.headers.get("x-cache") != "HIT"
    assert stored(app) == 0


async def test_failure_is_not_cached_when_upstream_recovers(
    faulty_app: Build,
) -> None:
    app, sim = faulty_app({"dashboard/kpi": Fault(status=500)})
    async with serve(app) as http:
        failed = await http.get(KPI)
        sim.state.faults.clear()
        recovered = await http.get(KPI)
        hit = await http.get(KPI)
    assert_unavailable(failed)
    assert recovered.status_code == 200
    assert recovered.headers["x-cache"] == "MISS"
    assert recovered.json()["timeframeHours"] == 24
    assert hit.headers["x-cache"] == "HIT"
    assert calls(sim) == 2


async def test_degraded_answer_is_not_stored(faulty_app: Build) -> None:
    app, sim = faulty_app({"streaming/orchestrators": Fault(status=500)})
    async with serve(app) as http:
        first = await http.get(ORCHESTRATORS)
        second = await http.get(ORCHESTRATORS)
    for response in (first, second):
        assert response.status_code == 200
        assert response.headers["x-cache"] == "MISS"
        assert response.headers["cache-control"] == FAILURE_CACHE
    assert calls(sim, "dashboard/orchestrators") == 2
    assert stored(app) == 0


# --- freshness ------------------------------------------------------------------------


async def test_fresh_entry_is_served_without_upstream_call(
    client: httpx.AsyncClient, simulator: Starlette
) -> None:
    first = await client.get(KPI)
    second = await client.get(KPI)
    assert calls(simulator) == 1
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["cache-control"] == SUCCESS_CACHE


async def test_expired_entry_is_refreshed_once_when_50_requests_arrive(
    app: Starlette, client: httpx.AsyncClient, simulator: Starlette, clock: Clock
) -> None:
    cache_clock = install_clock(app)
    old = await client.get(KPI)
    cache_clock.advance(DASHBOARD_FRESH + 30)  # past fresh, well within stale
    clock.advance(hours=3)  # the upstream's data moves on
    # The refresh takes a while, so every request of the burst finds it running.
    simulator.state.faults["dashboard/kpi"] = Fault(latency=0.3)

    burst = await asyncio.gather(*(client.get(KPI) for _ in range(50)))
    assert {r.status_code for r in burst} == {200}
    assert {r.headers["x-cache"] for r in burst} == {"STALE"}
    assert {r.content for r in burst} == {old.content}
    assert {r.headers["x-data-age"] for r in burst} == {"90"}

    await snapshots(app).drain()
    assert calls(simulator) == 2
    assert snapshots(app).stats.refreshes == 1
    assert snapshots(app).flight.stats.started == 2  # the first fetch, one refresh
    simulator.state.faults.clear()
    after = await client.get(KPI)
    assert after.headers["x-cache"] == "HIT"
    assert after.headers["x-data-age"] == "0"
    assert after.content != old.content
    assert after.headers["x-data-source"] == "simulator"
    assert calls(simulator) == 2


async def test_entry_is_fetched_again_when_past_its_stale_window(
    app: Starlette, client: httpx.AsyncClient, simulator: Starlette
) -> None:
    cache_clock = install_clock(app)
    await client.get(KPI)
    cache_clock.advance(DASHBOARD_FRESH + DASHBOARD_STALE + 1)
    late = await client.get(KPI)
    assert late.headers["x-cache"] == "MISS"
    assert calls(simulator) == 2


async def test_data_age_grows_with_the_cache_clock(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    cache_clock = install_clock(app)
    miss = await client.get(KPI)
    cache_clock.advance(30)
    hit = await client.get(KPI)
    assert (miss.headers["x-cache"], miss.headers["x-data-age"]) == ("MISS", "0")
    assert (hit.headers["x-cache"], hit.headers["x-data-age"]) == ("HIT", "30")
    assert "age" not in miss.headers
    assert "age" not in hit.headers


async def test_data_source_header_survives_on_hit(client: httpx.AsyncClient) -> None:
    miss = await client.get(KPI)
    hit = await client.get(KPI)
    assert hit.headers["x-cache"] == "HIT"
    assert miss.headers["x-data-source"] == "simulator"
    assert hit.headers["x-data-source"] == "simulator"


# --- keys -----------------------------------------------------------------------------


async def test_equivalent_query_strings_share_one_entry(
    client: httpx.AsyncClient, simulator: Starlette
) -> None:
    same = [
        await client.get(f"{KPI}?{query}")
        for query in ("timeframe=24", "timeframe=24.0", "timeframe=24&foo=1")
    ]
    assert [r.headers["x-cache"] for r in same] == ["MISS", "HIT", "HIT"]
    assert len({r.headers["etag"] for r in same}) == 1
    assert calls(simulator) == 1

    other = await client.get(f"{KPI}?timeframe=12")
    assert other.headers["x-cache"] == "MISS"
    assert other.json()["timeframeHours"] == 12
    assert calls(simulator) == 2


async def test_etag_differs_when_variables_differ(client: httpx.AsyncClient) -> None:
    twelve = await client.get(f"{KPI}?timeframe=12", headers=IDENTITY)
    day = await client.get(f"{KPI}?timeframe=24", headers=IDENTITY)
    assert twelve.headers["etag"] != day.headers["etag"]


# --- validators and encodings ---------------------------------------------------------


@pytest.mark.parametrize(
    "if_none_match",
    [
        pytest.param(lambda etag: etag, id="strong"),
        pytest.param(lambda etag: f"W/{etag}", id="weak"),
        pytest.param(lambda etag: "*", id="star"),
        pytest.param(lambda etag: f'"nope", {etag}', id="list"),
    ],
)
async def test_if_none_match_answers_304_with_empty_body(
    client: httpx.AsyncClient, if_none_match: Callable[[str], str]
) -> None:
    first = await client.get(KPI, headers=IDENTITY)
    etag = first.headers["etag"]
    response = await client.get(
        KPI, headers={**IDENTITY, "if-none-match": if_none_match(etag)}
    )
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert response.headers["x-cache"] == "HIT"
    assert response.headers["cache-control"] == SUCCESS_CACHE


async def test_if_none_match_answers_200_when_etag_differs(
    client: httpx.AsyncClient,
) -> None:
    first = await client.get(KPI, headers=IDENTITY)
    response = await client.get(
        KPI, headers={**IDENTITY, "if-none-match": '"something-else"'}
    )
    assert response.status_code == 200
    assert response.content == first.content


async def test_gzip_and_identity_bodies_have_their_own_etags(
    client: httpx.AsyncClient,
) -> None:
    plain, plain_raw = await get_raw(client, KPI, IDENTITY)
    zipped, zipped_raw = await get_raw(client, KPI, GZIP)
    assert len(plain_raw) >= GZIP_MIN_BYTES
    assert plain.headers["etag"] != zipped.headers["etag"]
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped_raw) == plain_raw
    assert int(zipped.headers["content-length"]) == len(zipped_raw)
    assert int(plain.headers["content-length"]) == len(plain_raw)

    # Each ETag validates its own representation only.
    gz_etag, id_etag = zipped.headers["etag"], plain.headers["etag"]
    revalidated = await client.get(KPI, headers={**GZIP, "if-none-match": gz_etag})
    mismatched = await client.get(KPI, headers={**GZIP, "if-none-match": id_etag})
    assert revalidated.status_code == 304
    assert revalidated.headers["etag"] == gz_etag
    assert mismatched.status_code == 200


async def test_gzip_is_not_sent_when_the_client_refuses_it(
    client: httpx.AsyncClient,
) -> None:
    # RFC 9110 12.5.3: a qvalue of 0 means "not acceptable".
    plain, plain_raw = await get_raw(client, KPI, IDENTITY)
    refused, refused_raw = await get_raw(
        client, KPI, {"accept-encoding": "gzip;q=0, identity"}
    )
    assert "content-encoding" not in refused.headers
    assert refused_raw == plain_raw
    assert refused.headers["etag"] == plain.headers["etag"]


async def test_small_body_is_not_gzipped(client: httpx.AsyncClient) -> None:
    plain, plain_raw = await get_raw(client, PROTOCOL, IDENTITY)
    asked, asked_raw = await get_raw(client, PROTOCOL, GZIP)
    assert len(plain_raw) < GZIP_MIN_BYTES
    assert "content-encoding" not in asked.headers
    assert "vary" not in asked.headers
    assert asked_raw == plain_raw
    assert asked.headers["etag"] == plain.headers["etag"]


# --- bounds and privacy ---------------------------------------------------------------


async def test_memory_stays_bounded_when_150_distinct_keys_are_requested(
    faulty_app: Build,
) -> None:
    app, sim = faulty_app({}, cache_max_entries=20)
    paths = (
        [f"{KPI}?timeframe={hours}" for hours in range(1, 61)]
        + [f"{PIPELINES}?limit={limit}" for limit in range(1, 51)]
        + [f"{ORCHESTRATORS}?period={hours}h" for hours in range(1, 41)]
    )
    assert len(paths) == 150
    async with serve(app) as http:
        answers = await get_all(http, paths)
        assert {r.status_code for r in answers} == {200}
        assert stored(app) <= 20
        assert calls(sim) + calls(sim, "dashboard/pipelines") == 110
        # The most recent keys are the ones kept.
        last = await http.get(paths[-1])
        assert last.headers["x-cache"] == "HIT"
        evicted = await http.get(paths[0])
        assert evicted.headers["x-cache"] == "MISS"
        assert stored(app) <= 20


async def test_graphql_mixing_public_and_private_fields_is_never_shared(
    app: Starlette, client: httpx.AsyncClient, simulator: Starlette
) -> None:
    query = "{ kpi { timeframeHours } apiKeys { keys { id } } }"
    answers = [await graphql(client, query, auth()) for _ in range(2)]
    for response in answers:
        assert response.status_code == 200
        body = response.json()
        assert "errors" not in body, body
        assert body["data"]["kpi"]["timeframeHours"] == 24
        assert "x-cache" not in response.headers
        assert response.headers["cache-control"] == "private, no-store"
    # The answer is private; the public data in it is the shared snapshot.
    assert calls(simulator) == 1
    assert stored(app) == 1


# --- GraphQL --------------------------------------------------------------------------


async def test_graphql_public_query_is_served_from_cache_when_repeated(
    client: httpx.AsyncClient, simulator: Starlette
) -> None:
    query = '{ kpi(timeframe: "12") { timeframeHours successRate { value } } }'
    first = await graphql(client, query)
    second = await graphql(client, query)
    assert first.status_code == second.status_code == 200
    assert first.json()["data"]["kpi"]["timeframeHours"] == 12
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert second.content == first.content
    assert second.headers["cache-control"] == SUCCESS_CACHE
    assert second.headers["x-data-source"] == "simulator"
    assert calls(simulator) == 1


async def test_graphql_equivalent_documents_share_one_entry(
    client: httpx.AsyncClient, simulator: Starlette
) -> None:
    query = "query K($t: String) { kpi(timeframe: $t) { timeframeHours } }"
    spaced = "query K( $t : String )\n{\n  kpi(timeframe: $t) {\n timeframeHours } }"
    first = await client.post(
        "/graphql", json={"query": query, "variables": {"t": "6"}}
    )
    second = await client.post(
        "/graphql", json={"query": spaced, "variables": {"t": "6"}}
    )
    other = await client.post(
        "/graphql", json={"query": query, "variables": {"t": "7"}}
    )
    assert [r.headers["x-cache"] for r in (first, second, other)] == [
        "MISS",
        "HIT",
        "MISS",
    ]
    assert second.content == first.content
    assert other.json()["data"]["kpi"]["timeframeHours"] == 7
    assert calls(simulator) == 2


async def test_graphql_cache_follows_job_feed_when_query_includes_it(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    cache_clock = install_clock(app)
    query = "{ kpi { timeframeHours } jobFeed(limit: 3) { queryFailed } }"
    first = await graphql(client, query)
    second = await graphql(client, query)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert first.headers["cache-control"] == JOB_FEED_CACHE
    assert second.headers["cache-control"] == JOB_FEED_CACHE

    cache_clock.advance(JOB_FEED_FRESH + 1)  # still fresh as a dashboard entry
    later = await graphql(client, query)
    await snapshots(app).drain()
    assert later.headers["x-cache"] == "STALE"


async def test_graphql_query_with_error_is_not_cached(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    query = "{ fees(days: 3) { totalEth } }"
    answers = [await graphql(client, query) for _ in range(2)]
    for response in answers:
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        assert response.headers.get("x-cache") != "HIT"
        assert response.headers["cache-control"] != SUCCESS_CACHE
    assert stored(app) == 0


# --- refresh=1 ------------------------------------------------------------------------


@pytest.mark.parametrize("param", ["refresh", "nocache"])
async def test_refresh_fetches_and_stores_even_when_entry_is_fresh(
    client: httpx.AsyncClient, simulator: Starlette, clock: Clock, param: str
) -> None:
    old = await client.get(KPI)
    clock.advance(hours=3)
    refreshed = await client.get(f"{KPI}?{param}=1")
    assert calls(simulator) == 2
    assert refreshed.status_code == 200
    assert refreshed.headers["cache-control"] == "no-store"
    assert refreshed.headers["x-cache"] == "MISS"
    assert refreshed.content != old.content

    after = await client.get(KPI)
    assert after.headers["x-cache"] == "HIT"
    assert after.content == refreshed.content
    assert calls(simulator) == 2


async def test_refresh_shares_the_inflight_fetch_with_plain_requests(
    faulty_app: Build,
) -> None:
    app, sim = faulty_app({"dashboard/kpi": Fault(latency=0.5)})
    async with serve(app) as http:
        refresh, *plain = await asyncio.gather(
            http.get(f"{KPI}?refresh=1"), *(http.get(KPI) for _ in range(10))
        )
    assert calls(sim) == 1
    flight = snapshots(app).flight.stats
    assert (flight.started, flight.joined) == (1, 10)
    assert {r.status_code for r in (refresh, *plain)} == {200}
    assert {r.content for r in plain} == {refresh.content}
    assert refresh.headers["cache-control"] == "no-store"
    assert {r.headers["cache-control"] for r in plain} == {SUCCESS_CACHE}


async def test_very_long_public_query_is_answered_but_not_planned_or_shared(
    client: httpx.AsyncClient,
) -> None:
    padding = "#" + "x" * MAX_CACHEABLE_QUERY + "\n"
    query = padding + "{ protocol { currentRound } }"
    first = await client.post("/graphql", json={"query": query})
    second = await client.post("/graphql", json={"query": query})
    assert first.status_code == second.status_code == 200
    assert first.json()["data"]["protocol"]["currentRound"] > 0
    assert "x-cache" not in second.headers
    assert second.headers["cache-control"] == "private, no-store"
