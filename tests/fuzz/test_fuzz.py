"""Schemathesis against the live app, in process, with a fixed seed.

REST: every operation of `/openapi.json` gets positive and negative cases (valid
and invalid parameters and bodies, with a bearer token so authenticated routes get
past 401); no answer may be a 5xx, and each must match the document: status code,
content type, headers and body schema. `FUZZ_EXAMPLES` (default 40) cases per
operation, over 1,000 in all, counted so the test cannot silently fuzz nothing.

GraphQL: queries and mutations generated from the introspected schema
(`FUZZ_GRAPHQL_EXAMPLES`, default 15 per root field); no 5xx, no error the server
did not mean (masked: `INTERNAL_ERROR`), no exception text or traceback.

Both run in one test function each, on one app (the cases share its database), in
about a minute under coverage. A failure lists every failing operation with a
curl command that reproduces it.
"""

from __future__ import annotations

import builtins
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette

from app.errors import AppError
from app.main import create_app
from app.settings import Settings
from rest_facade.routes import JOB_FEED_STREAM, ROUTES
from tests.support.app import Clock, token_for

# A thousand cases in one test: a minute under coverage on a loaded machine, more
# with FUZZ_EXAMPLES raised; the default timeout (pyproject.toml) suits the rest.
pytestmark = pytest.mark.timeout(600)

# Cases per operation. The default gives 26 x 40 + 2 (two routes without input)
# = 1,042 REST cases and 24 x 15 = 360 GraphQL cases; the floors scale with them.
REST_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
REST_MINIMUM = 25 * REST_EXAMPLES  # >= 1,000 by default
GRAPHQL_EXAMPLES = int(os.environ.get("FUZZ_GRAPHQL_EXAMPLES", "15"))
GRAPHQL_MINIMUM = 20 * GRAPHQL_EXAMPLES
REST_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# What a Python exception leaks as: a traceback, a frame, an exception class's
# name (the builtins' and the database drivers'), or the masked message.
_EXCEPTIONS = sorted(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
)
EXCEPTION_TEXT = re.compile(
    r'Traceback \(most recent call last\)|File "[^"]*", line \d+|Unexpected error'
    r"|\b(?:IntegrityError|OperationalError|DataError|ProgrammingError|"
    + "|".join(_EXCEPTIONS)
    + r")\b"
)
# Codes the server means to send (AppError subclasses), bar 500 and 503: with the
# simulator, an upstream failure would itself be a bug.
CLIENT_CODES = frozenset(
    error.code for error in AppError.__subclasses__() if 400 <= error.status < 500
)
BEARER = {"authorization": f"Bearer {token_for('fuzz-user', roles=('usage:write',))}"}
# Responses that never end (an event stream) cannot be fuzzed as request and
# response; tests/api/test_live_sse.py covers their parameters and refusals.
ENDLESS = frozenset({JOB_FEED_STREAM})
FUZZ_SETTINGS = settings(
    derandomize=True,  # a fixed seed: the same cases on every run
    database=None,  # nothing written to .hypothesis/
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: failures are listed
    # Schemathesis' strategies filter and build large values by design; the health
    # checks would stop a run over generation speed, which is not what is tested.
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def fuzz_app(
    settings: Settings, simulator: Starlette, clock: Clock
) -> Iterator[Starlette]:
    """The app on the simulator, with a per-test database and without rate limits
    (a thousand requests a minute from one client is the point here)."""
    app = create_app(
        settings.model_copy(update={"rate_limits_enabled": False}),
        simulator=simulator,
        clock=clock,
    )
    yield app
    # Schemathesis runs the app's lifespan in its own event loop thread: end it.
    asgi.shutdown_lifespans()


def run_cases(
    operation: Any,
    strategy: st.SearchStrategy[Any],
    examples: int,
    check: Callable[[Any], None],
) -> None:
    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(case=strategy)
    def run(case: Any) -> None:
        check(case)

    run()


def loaded(schema: Any) -> list[Any]:
    """Every operation of the schema; one it cannot load fails the test."""
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    return operations


def modes(operation: Any, *, negative: bool) -> st.SearchStrategy[Any]:
    """Valid cases, and invalid ones where there is input to get wrong."""
    strategies = [operation.as_strategy(generation_mode=GenerationMode.POSITIVE)]
    if negative:
        strategies.append(
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
        )
    return st.one_of(strategies)


@pytest.mark.slow
def test_rest_facade_keeps_to_its_openapi_document(fuzz_app: Starlette) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    calls: Counter[str] = Counter()
    failures: dict[str, str] = {}

    def check(case: Any) -> None:
        label = case.operation.label
        calls[label] += 1
        try:
            response = case.call(headers=BEARER)
        except Exception as exc:  # the app raised: a 500 that escaped
            failures.setdefault(f"{label}: {exc!r}", case.as_curl_command())
            return
        try:
            case.validate_response(response, checks=REST_CHECKS, headers=BEARER)
        except FailureGroup as group:
            for failure in group.exceptions:
                failures.setdefault(f"{label}: {failure.title}", str(group)[:2000])

    operations = [op for op in loaded(schema) if op.path not in ENDLESS]
    for operation in operations:
        has_input = operation.path_parameters or operation.query or operation.body
        strategy = modes(operation, negative=bool(has_input))
        run_cases(operation, strategy, REST_EXAMPLES, check)

    assert not failures, "\n\n".join(failures.values())
    assert sum(calls.values()) >= REST_MINIMUM, calls
    assert set(calls) == {op.label for op in operations}
    assert {f"{m} {row.path}" for row in ROUTES for m in row.methods} <= set(calls)


def leaks(text: str) -> bool:
    return EXCEPTION_TEXT.search(text) is not None


@pytest.mark.slow
def test_graphql_never_fails_unmasked(fuzz_app: Starlette) -> None:
    schema = schemathesis.graphql.from_asgi("/graphql", fuzz_app)
    calls: Counter[str] = Counter()
    failures: dict[str, str] = {}

    def check(case: Any) -> None:
        label = case.operation.label
        calls[label] += 1
        try:
            response = case.call(headers=BEARER)
        except Exception as exc:  # the app raised: a 500 that escaped
            failures.setdefault(f"{label}: {exc!r}", str(case.body)[:500])
            return
        problem = None
        if response.status_code >= 500:
            problem = f"status {response.status_code}"
        elif leaks(response.text):
            problem = "exception text"
        elif response.status_code == 200:
            for error in response.json().get("errors") or ():
                code = (error.get("extensions") or {}).get("code")
                if "path" in error and code not in CLIENT_CODES:
                    problem = f"unexpected error {code}: {error['message']}"
        if problem is not None:
            failures.setdefault(
                f"{label}: {problem}",
                f"{label}: {problem}\n{case.body}\n-> {response.text[:500]}",
            )

    operations = loaded(schema)
    for operation in operations:
        strategy = modes(operation, negative=bool(operation.definition.raw.args))
        run_cases(operation, strategy, GRAPHQL_EXAMPLES, check)

    assert not failures, "\n\n".join(failures.values())
    assert sum(calls.values()) >= GRAPHQL_MINIMUM, calls
    assert set(calls) == {op.label for op in operations}
