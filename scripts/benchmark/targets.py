"""What the benchmark measures: the routes and the whole-overview GraphQL query.

Also where it lives (ROOT, HOST), a target and its result row, and BenchError:
no numbers to report.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
KPI_PATH = "/api/v1/dashboard/kpi"
ORCHESTRATORS_PATH = "/api/v1/dashboard/orchestrators"
GRAPHQL_PATH = "/graphql"

# Every dashboard root field with its full selection: built from the REST
# operations themselves (rest_facade/operations/Dashboard*.graphql and
# NetworkModels.graphql), so the benchmark follows them when they change.
OVERVIEW_OPERATIONS = (
    "DashboardKPI",
    "DashboardProtocol",
    "DashboardFees",
    "DashboardPipelines",
    "DashboardPipelineCatalog",
    "DashboardGPUCapacity",
    "DashboardPricing",
    "DashboardOrchestrators",
    "DashboardJobFeed",
    "NetworkModels",
)


def overview_query() -> str:
    """One query: the operations' variables, root selections and fragments merged
    (the variables are all optional and of one type per name)."""
    from graphql import OperationDefinitionNode, parse, print_ast

    variables: dict[str, str] = {}
    selections: list[str] = []
    fragments: dict[str, str] = {}
    for name in OVERVIEW_OPERATIONS:
        source = (ROOT / "rest_facade" / "operations" / f"{name}.graphql").read_text()
        for definition in parse(source).definitions:
            if isinstance(definition, OperationDefinitionNode):
                for var in definition.variable_definitions or ():
                    variables[var.variable.name.value] = print_ast(var.type)
                selections.extend(
                    print_ast(s) for s in definition.selection_set.selections
                )
            else:
                fragments[definition.name.value] = print_ast(definition)  # type: ignore[attr-defined]
    # The SDK's `pipelines` field has no REST operation of its own.
    selections.append(
        "pipelines(limit: $limit, timeframe: $timeframe) "
        "{ name mins sessions avgFps color modelMins { model mins sessions avgFps } }"
    )
    signature = ", ".join(f"${k}: {t}" for k, t in variables.items())
    body = "\n  ".join(selections)
    return f"query BenchOverview({signature}) {{\n  {body}\n}}\n" + "\n".join(
        fragments.values()
    )


OVERVIEW_QUERY = overview_query()


class BenchError(Exception):
    """A server did not start or did not answer: no numbers to report."""


@dataclasses.dataclass(frozen=True)
class Target:
    key: str
    label: str
    method: str
    url: str
    body: bytes | None = None
    content_type: str | None = None
    # The key of the baseline target serving this target's bytes (None: a baseline).
    baseline: str | None = None


@dataclasses.dataclass
class Result:
    target: Target
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int = 0
    non_2xx: int = 0
    rss_mib: float | None = None
    body_bytes: int = 0
    x_cache: str | None = None
    graphql_errors: int = 0
