"""Snapshot values survive the trip through Redis's encoding (app/caching/codec.py),
for every public root field, with the values the simulator gives."""

from __future__ import annotations

from starlette.applications import Starlette

from app.caching import codec
from app.caching.snapshots import Need
from app.schema import PUBLIC_FIELDS
from tests.support.app import serve


async def test_every_public_value_survives_the_trip_through_redis_bytes(
    app: Starlette,
) -> None:
    async with serve(app):
        snapshots = app.state.services.snapshots
        for name, public in PUBLIC_FIELDS.items():
            need = Need.of(public.spec, public.args())
            value = (await snapshots.load(need)).value
            assert codec.decode(public.spec.kind, codec.encode(value)) == value, name
