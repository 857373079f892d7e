"""The server's lifespan: what happens once it is up (readiness, the heap frozen,
SIGTERM chained to end push streams, the REST operations validated a second
later) and, in order, what closes when it stops."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import strawberry
from starlette.applications import Starlette

from app.context import Services
from app.graphql.policy import Policy
from app.live.signals import chain_stop_signals
from app.metrics import READINESS
from rest_facade.prepare import OperationError, check_operations

log = logging.getLogger("naap")

# Validating the REST operations (~30 ms) waits this long after startup, so it
# stays off the first requests' path.
OPERATIONS_CHECK_DELAY = 1.0  # seconds
# Whether a lifespan froze the heap in this process (gc.get_freeze_count() would
# walk the whole frozen list to say so: ~17 ms after scripts/serve.py froze it).
_heap_frozen = False


def server_lifespan(
    services: Services, schema: strawberry.Schema, policy: Policy
) -> Callable[[Starlette], Any]:
    settings = services.settings

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log.info(
            "naap-api ready (env=%s, simulated upstreams: %s)",
            settings.app_env,
            ", ".join(settings.simulated_upstreams) or "none",
        )
        # Everything built so far (schema, simulator world, clients) lives as long
        # as the process: keep it out of the collector's way, so the hot path's
        # young garbage is collected without walking a large old heap. Frozen
        # without a collection first, as scripts/serve.py does (startup leaves
        # little garbage). Once per process: a second app (tests build many) must
        # not pin the first's garbage.
        global _heap_frozen
        if not _heap_frozen:
            _heap_frozen = True
            gc.freeze()
        services.ready = True
        READINESS.labels("started").set(1)
        # SIGTERM ends the streams at once, not after uvicorn's grace period.
        unchain = chain_stop_signals(services.live.begin_shutdown)
        check = asyncio.get_running_loop().call_later(
            OPERATIONS_CHECK_DELAY, _check_operations, schema, services
        )
        try:
            yield
        finally:
            check.cancel()
            unchain()
            services.ready = False
            READINESS.labels("started").set(0)
            # Streams end, pollers stop and leases are released first: nothing
            # else waits on them.
            await services.live.aclose()
            # Background refreshes use the clients: let them finish, within the
            # same SHUTDOWN_TIMEOUT that uvicorn gave in-flight requests.
            try:
                async with asyncio.timeout(settings.shutdown_timeout):
                    await services.snapshots.drain()
            except TimeoutError:  # cancelling drain's gather cancels the refreshes
                log.warning("shutdown: background cache refreshes cancelled")
            for client in (
                services.analytics,
                services.subgraph,
                services.l1,
                services.verifier,
                services.oauth,
                services.db,
                services.snapshots,
                services.limiter,
                *((policy.apq,) if policy.apq is not None else ()),
            ):
                await client.aclose()

    return lifespan


def _check_operations(schema: strawberry.Schema, services: Services) -> None:
    """The REST operations against the schema, once the server is up (create_app
    only parsed them). A failure is a broken build: logged as critical, and the
    server stops reporting itself ready."""
    try:
        check_operations(schema)
    except OperationError as exc:
        log.critical("a REST operation does not validate: %s", exc)
        services.ready = False
        READINESS.labels("started").set(0)
