"""Schemathesis as its users run it: `schemathesis run --checks all` against the
server on a loopback port, every phase (coverage, fuzzing, and stateful runs
through the document's links), a fresh random seed each run.

Every check is on (schemathesis' default, with no `--checks` to override the
configuration): the response conformance checks, and those that judge the
document itself (`positive_data_acceptance`: a request it calls valid is not
refused; `negative_data_rejection`: one it calls invalid is; `unsupported_method`
and the `Allow` header; `use_after_free`; `ignored_auth`; and, with two users,
`object_level_authorization`: neither reads the other's keys). What a document
cannot say (a row that must exist, two fields together) is allowed per operation
and reason in state_dependent.py, and checked by schemathesis_hooks.py.

The seed is printed, with the case count, in the run's summary (and at the end of
`make test`); `FUZZ_SEED=<seed>` replays a run, `FUZZ_EXAMPLES` sets the fuzzing
phase's cases per operation.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager
from schemathesis.checks import CHECKS, load_all_checks
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from rest_facade.routes import JOB_FEED_STREAM
from tests.fuzz import schemathesis_hooks
from tests.fuzz.state_dependent import config_toml
from tests.support.app import ROOT, Clock, token_for
from tests.support.loopback import serve_on_loopback

pytestmark = pytest.mark.timeout(600)

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
STATEFUL_STEPS = 12  # per scenario: enough to create a key, read, revoke it
MINIMUM_CASES = 1_000
RUN_TIMEOUT = 420  # seconds


def check_names() -> list[str]:
    """Every check the run has: schemathesis' own, and the one of its hooks."""
    load_all_checks()
    names = sorted(CHECKS.get_all_names())
    assert schemathesis_hooks.state_dependent_refusals_only.__name__ in names
    return names


@pytest.mark.slow
async def test_schemathesis_with_every_check_finds_no_failure(
    settings: Settings,
    simulator: Starlette,
    clock: Clock,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    seed = int(os.environ.get("FUZZ_SEED") or secrets.randbelow(2**32))
    users = {
        "auth": [
            {
                "name": name,
                "fixedHeaders": [
                    {
                        "name": "Authorization",
                        "value": f"Bearer {token_for(name, roles=('usage:write',))}",
                    }
                ],
            }
            for name in ("alice", "bob")
        ]
    }
    (tmp_path / "users.json").write_text(json.dumps(users), encoding="utf-8")
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        config_toml("users.json", max_steps=STATEFUL_STEPS), encoding="utf-8"
    )
    # A thousand requests a minute from one client is the point: no rate limits.
    app = create_app(
        settings.model_copy(update={"rate_limits_enabled": False}),
        simulator=simulator,
        clock=clock,
    )
    async with LifespanManager(app) as manager, serve_on_loopback(manager.app) as url:
        process = await asyncio.create_subprocess_exec(
            str(SCHEMATHESIS),
            "--config-file",
            str(config),
            "--no-color",
            "run",
            f"{url}/openapi.json",
            "--seed",
            str(seed),
            "--max-examples",
            str(EXAMPLES),
            # One worker: CPython 3.11's compiler is not safe to call from two
            # threads at once, which hypothesis does describing its strategies.
            "--workers",
            "1",
            "--generation-database",
            "none",
            # An event stream never ends, so it cannot be fuzzed as request and
            # response; tests/api/test_live_sse.py covers its parameters and refusals.
            "--exclude-path",
            JOB_FEED_STREAM,
            cwd=tmp_path,
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": "tests.fuzz.schemathesis_hooks",
                "PYTHONPATH": str(ROOT),
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    text = output.decode(errors="replace")
    generated = re.search(r"(\d+) generated", text)
    cases = int(generated.group(1)) if generated else 0
    # The run's last line: "N passed in 30s", or "1 failure, 2 errors, 1 warning in …".
    outcome = text.strip().splitlines()[-1].strip("= ") if text.strip() else "no output"
    checks = check_names()
    summary = (
        f"schemathesis {seed=}: {cases} cases, {len(checks)} checks "
        f"({', '.join(checks)}): {outcome} (replay: FUZZ_SEED={seed})"
    )
    record_property("summary", summary)
    sys.stdout.write(summary + "\n" + text[text.find("SUMMARY") :] + "\n")
    assert process.returncode == 0, f"{summary}\n\n{text[-30_000:]}"
    assert cases >= MINIMUM_CASES, summary
