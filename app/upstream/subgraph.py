"""Client for the Livepeer protocol subgraph (GraphQL over HTTP POST, `SUBGRAPH_URL`).

One method per query the dashboard needs (spec §3.5, §3.8). The Graph answers 200
with an `errors` list for a failed query; that is an upstream failure like any other.
BigInt/BigDecimal values arrive as strings and are read with the original's
`toNumber` (non-numeric -> 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.errors import UpstreamBadPayload
from app.upstream._http import JsonTransport
from app.upstream._parse import expect_object, to_number

UPSTREAM = "subgraph"

PROTOCOL_OVERVIEW = """\
query ProtocolOverview {
  protocol(id: "0") {
    roundLength
    totalActiveStake
    currentRound { id startBlock initialized }
  }
}"""

FEES_OVERVIEW = """\
query FeesOverview($first: Int!) {
  days(first: $first, orderBy: date, orderDirection: desc) { date volumeETH volumeUSD }
  protocol(id: "0") { totalVolumeETH totalVolumeUSD }
}"""


@dataclass(frozen=True, slots=True)
class ProtocolOverview:
    current_round: int
    start_block: int
    initialized: bool
    round_length: int
    total_active_stake: float


@dataclass(frozen=True, slots=True)
class FeeDay:
    date: float
    volume_eth: float
    volume_usd: float


@dataclass(frozen=True, slots=True)
class FeesOverview:
    days: list[FeeDay]
    total_volume_eth: float | None
    total_volume_usd: float | None


class SubgraphClient:
    def __init__(self, http: JsonTransport, *, ttl: float) -> None:
        self._http = http
        self._ttl = ttl

    @property
    def simulated(self) -> bool:
        return self._http.simulated

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _query(
        self, document: str, variables: Mapping[str, Any], bypass: bool
    ) -> Mapping[str, Any]:
        payload = {"query": document, "variables": dict(variables)}
        body = expect_object(
            await self._http.post("", payload, ttl=self._ttl, bypass=bypass),
            "subgraph response",
            UPSTREAM,
        )
        errors = body.get("errors")
        if errors:
            messages = "; ".join(
                str(e.get("message")) if isinstance(e, Mapping) else str(e)
                for e in (errors if isinstance(errors, list) else [errors])
            )
            raise UpstreamBadPayload(f"subgraph errors: {messages}", upstream=UPSTREAM)
        return expect_object(body.get("data"), "subgraph data", UPSTREAM)

    async def protocol_overview(self, *, bypass: bool = False) -> ProtocolOverview:
        data = await self._query(PROTOCOL_OVERVIEW, {}, bypass)
        protocol = data.get("protocol")
        current = (
            protocol.get("currentRound") if isinstance(protocol, Mapping) else None
        )
        if not isinstance(protocol, Mapping) or not isinstance(current, Mapping):
            raise UpstreamBadPayload(
                "subgraph: protocol.currentRound is missing", upstream=UPSTREAM
            )
        return ProtocolOverview(
            current_round=int(to_number(current.get("id"))),
            start_block=int(to_number(current.get("startBlock"))),
            initialized=bool(current.get("initialized")),
            round_length=int(to_number(protocol.get("roundLength"))),
            total_active_stake=to_number(protocol.get("totalActiveStake")),
        )

    async def fees_overview(self, *, first: int, bypass: bool = False) -> FeesOverview:
        data = await self._query(FEES_OVERVIEW, {"first": first}, bypass)
        days = data.get("days")
        if not isinstance(days, list):
            raise UpstreamBadPayload("subgraph: days is not a list", upstream=UPSTREAM)
        protocol = data.get("protocol")
        protocol = protocol if isinstance(protocol, Mapping) else {}
        return FeesOverview(
            days=[
                FeeDay(
                    date=to_number(day.get("date")),
                    volume_eth=to_number(day.get("volumeETH")),
                    volume_usd=to_number(day.get("volumeUSD")),
                )
                for day in days
                if isinstance(day, Mapping) and day.get("date") is not None
            ],
            total_volume_eth=_optional_number(protocol.get("totalVolumeETH")),
            total_volume_usd=_optional_number(protocol.get("totalVolumeUSD")),
        )


def _optional_number(value: Any) -> float | None:
    return None if value is None else to_number(value)
