"""One more check for the schemathesis CLI that test_schemathesis.py runs (loaded
through SCHEMATHESIS_HOOKS), so the per-operation allowances of
state_dependent.py let through only the refusals they name."""

from __future__ import annotations

from typing import Any

import schemathesis

from tests.fuzz.state_dependent import BY_OPERATION


@schemathesis.check
def state_dependent_refusals_only(ctx: Any, response: Any, case: Any) -> bool | None:
    """A schema-valid request that an allowance lets be refused must be refused for
    one of the allowance's reasons."""
    allowance = BY_OPERATION.get(case.operation.label)
    meta = case.meta
    if allowance is None or response.status_code != allowance.status:
        return None
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if not any(reason in response.text for reason in allowance.reasons):
        raise AssertionError(
            f"Schema-valid request refused with {response.status_code}, and not "
            f"because {allowance.why}: {response.text[:300]}"
        )
    return None
