"""Client for the Livepeer protocol subgraph (GraphQL over HTTP POST, `SUBGRAPH_URL`).

One method per query the dashboard needs (protocol and fees). The Graph answers 200
with an `errors` list for a failed query; that is an upstream failure like any other.
BigInt/BigDecimal values arrive as strings and are read with the original's
`toNumber` (non-numeric -> 0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from app.errors import UpstreamBadPayload
from app.upstream._http import UpstreamClient
from app.upstream._parse import expect_object, strict_number, to_number

UPSTREAM = "subgraph"
T = TypeVar("T")

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


class SubgraphClient(UpstreamClient):
    async def _query(
        self,
        document: str,
        variables: Mapping[str, Any],
        parse: Callable[[Mapping[str, Any]], T],
    ) -> T:
        payload = {"query": document, "variables": dict(variables)}
        return await self._http.post(
            "",
            payload,
            parse=lambda body: parse(_data(body)),
        )

    async def protocol_overview(self) -> ProtocolOverview:
        return await self._query(PROTOCOL_OVERVIEW, {}, _parse_protocol)

    async def fees_overview(self, *, first: int) -> FeesOverview:
        return await self._query(FEES_OVERVIEW, {"first": first}, _parse_fees)


def _data(raw: Any) -> Mapping[str, Any]:
    """The `data` of a GraphQL response; The Graph reports failures as 200 + errors."""
    body = expect_object(raw, "subgraph response", UPSTREAM)
    errors = body.get("errors")
    if errors:
        messages = "; ".join(
            str(e.get("message")) if isinstance(e, Mapping) else str(e)
            for e in (errors if isinstance(errors, list) else [errors])
        )
        raise UpstreamBadPayload(f"subgraph errors: {messages}", upstream=UPSTREAM)
    return expect_object(body.get("data"), "subgraph data", UPSTREAM)


def _parse_protocol(data: Mapping[str, Any]) -> ProtocolOverview:
    protocol = data.get("protocol")
    current = protocol.get("currentRound") if isinstance(protocol, Mapping) else None
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


def _parse_fees(data: Mapping[str, Any]) -> FeesOverview:
    days = data.get("days")
    if not isinstance(days, list):
        raise UpstreamBadPayload("subgraph: days is not a list", upstream=UPSTREAM)
    protocol = data.get("protocol")
    protocol = protocol if isinstance(protocol, Mapping) else {}
    parsed: list[FeeDay] = []
    for day in days:
        # A day whose date is not a number is dropped, never read as 1970.
        date = strict_number(day.get("date")) if isinstance(day, Mapping) else None
        if date is None or not isinstance(day, Mapping):
            continue
        parsed.append(
            FeeDay(
                date=date,
                volume_eth=to_number(day.get("volumeETH")),
                volume_usd=to_number(day.get("volumeUSD")),
            )
        )
    return FeesOverview(
        days=parsed,
        total_volume_eth=_optional_number(protocol.get("totalVolumeETH")),
        total_volume_usd=_optional_number(protocol.get("totalVolumeUSD")),
    )


def _optional_number(value: Any) -> float | None:
    return None if value is None else to_number(value)
