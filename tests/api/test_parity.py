"""A REST route and a GraphQL query of the same data agree, whichever comes first.

For each of the nine dashboard routes: one surface is asked, the simulator's clock
(the upstream's data) moves on, then the other surface is asked with a query of a
different shape (other argument spellings, aliases, a subset of fields). Both
answers must carry identical values: they come from one snapshot. Each case
proves it can fail: a bypassing read afterwards sees the upstream's new data.
Here on the in-process store; tests/integration/test_parity_redis.py runs the same
cases on Redis.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from app.main import create_app
from simulator import create_simulator
from tests.support.app import Clock
from tests.support.parity import CASES, check_parity


@pytest.fixture
def parity_app(settings: Any, clock: Clock) -> tuple[Starlette, Starlette]:
    simulator = create_simulator(seed=1, clock=clock)
    return create_app(settings, simulator=simulator, clock=clock), simulator


@pytest.mark.parametrize("order", ["rest-first", "graphql-first"])
@pytest.mark.parametrize("name", list(CASES))
async def test_rest_and_graphql_agree_when_upstream_moves_between_them(
    parity_app: tuple[Starlette, Starlette], clock: Clock, name: str, order: str
) -> None:
    app, simulator = parity_app
    await check_parity(app, app, simulator, clock, name, order)
