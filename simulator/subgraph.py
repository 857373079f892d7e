"""The protocol subgraph (`POST /subgraph`): real GraphQL execution over a small
Livepeer-subgraph-like schema (the protocol and its daily fee volume).

Like The Graph, an invalid query is still HTTP 200 with `errors`, and BigInt and
BigDecimal values travel as strings.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, Final

from graphql import GraphQLError, GraphQLSchema, build_schema, graphql_sync
from starlette.responses import Response

from simulator.encoding import json_response
from simulator.units import JSON
from simulator.world import SimWorld

SUBGRAPH_MAX_FIRST: Final = 1000  # The Graph's cap on `first`

SUBGRAPH_SDL: Final = """
scalar BigInt
scalar BigDecimal

enum Day_orderBy { id date }
enum OrderDirection { asc desc }

type Round { id: ID! startBlock: BigInt! initialized: Boolean! }

type Protocol {
  id: ID!
  roundLength: BigInt!
  totalActiveStake: BigDecimal!
  currentRound: Round
  totalVolumeETH: BigDecimal!
  totalVolumeUSD: BigDecimal!
}

type Day { id: ID! date: Int! volumeETH: BigDecimal! volumeUSD: BigDecimal! }

type Query {
  protocol(id: ID!): Protocol
  days(first: Int = 100, skip: Int = 0, orderBy: Day_orderBy,
       orderDirection: OrderDirection): [Day!]!
}
"""


@cache
def subgraph_schema() -> GraphQLSchema:
    """Built on the first query, not at import: a server on the simulator starts
    without it. BigInt/BigDecimal values are already strings, as The Graph
    serialises them."""
    return build_schema(SUBGRAPH_SDL)


def _subgraph_root(world: SimWorld, now: datetime) -> dict[str, object]:
    def protocol(_info: object, **args: Any) -> JSON | None:
        return world.protocol(now) if str(args["id"]) == "0" else None

    def days(_info: object, **args: Any) -> list[JSON]:
        first = 100 if args.get("first") is None else int(args["first"])
        skip = 0 if args.get("skip") is None else int(args["skip"])
        if first < 0 or skip < 0:
            raise GraphQLError("`first` and `skip` must not be negative")
        rows = world.fee_days(now)  # ascending by date, which is also id order
        if args.get("orderDirection") == "desc":
            rows.reverse()
        return rows[skip : skip + min(first, SUBGRAPH_MAX_FIRST)]

    return {"protocol": protocol, "days": days}


def graphql_errors(message: str, status: int = 400) -> Response:
    """A GraphQL-over-HTTP error body with one message."""
    return json_response({"errors": [{"message": message}]}, status)


def subgraph_answer(world: SimWorld, now: datetime, payload: object) -> Response:
    """The response to a decoded GraphQL request body, executed at `now`."""
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return graphql_errors("the body must be a JSON object with a string `query`")
    variables = payload.get("variables")
    if variables is not None and not isinstance(variables, dict):
        return graphql_errors("`variables` must be a JSON object")
    operation = payload.get("operationName")
    result = graphql_sync(
        subgraph_schema(),
        payload["query"],
        root_value=_subgraph_root(world, now),
        variable_values=variables,
        operation_name=operation if isinstance(operation, str) else None,
    )
    if not result.errors:
        return json_response({"data": result.data})
    # Like The Graph: invalid queries are still HTTP 200, with `errors`.
    body: JSON = {"errors": [error.formatted for error in result.errors]}
    if result.data is not None:
        body["data"] = result.data
    return json_response(body)
