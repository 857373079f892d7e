"""The parity cases of tests/api/test_parity.py with snapshots in Redis: one app
instance answers the first surface, another (a second worker) the other one."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from app.main import create_app
from simulator import create_simulator
from tests.support.app import Clock
from tests.support.parity import CASES, check_parity


@pytest.fixture
def workers(
    settings: Any, clock: Clock, redis_test_url: str
) -> tuple[Starlette, Starlette, Starlette]:
    """Two app instances sharing one Redis (two workers), and their upstream."""
    simulator = create_simulator(seed=1, clock=clock)
    shared = settings.model_copy(update={"cache_url": redis_test_url})
    first = create_app(shared, simulator=simulator, clock=clock)
    second = create_app(shared, simulator=simulator, clock=clock)
    return first, second, simulator


@pytest.mark.parametrize("order", ["rest-first", "graphql-first"])
@pytest.mark.parametrize("name", list(CASES))
async def test_rest_and_graphql_agree_on_redis_when_upstream_moves_between_them(
    workers: tuple[Starlette, Starlette, Starlette],
    clock: Clock,
    name: str,
    order: str,
) -> None:
    first, second, simulator = workers
    await check_parity(first, second, simulator, clock, name, order)
