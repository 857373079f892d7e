"""What an OpenAPI document cannot say, and what the schemathesis run allows for it.

A schema says which requests are well formed, not which rows exist or how two
fields relate. Each `Allowance` lets one operation answer a schema-valid request
with one status, only for the reasons listed (a substring of the answer): any
other refusal of valid data still fails the run (schemathesis_hooks.py checks
it). `NOT_DELETED`: operations whose resource a DELETE leaves readable. `config_toml`
writes all of it as the run's schemathesis.toml.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL_STATUSES = ("2xx", "3xx", "401", "403", "404", "409", "429", "5xx")


@dataclass(frozen=True, slots=True)
class Allowance:
    operation: str  # schemathesis' label: "METHOD /path/{template}"
    status: int
    reasons: tuple[str, ...]
    why: str


UNKNOWN_OPERATION = ("Unknown operation named", "Can't get GraphQL operation type")
STATE_DEPENDENT: tuple[Allowance, ...] = (
    Allowance(
        "GET /api/v1/auth/providers/{slug}/callback",
        400,
        ("Session Expired",),
        "`state` is what the provider hands back from a login this server started",
    ),
    Allowance(
        "GET /api/v1/auth/providers/{slug}/redirect",
        400,
        ("Invalid or already-redeemed login session", "Login session expired"),
        "the id must name a pending login of that provider (the reference's 400)",
    ),
    Allowance(
        "POST /api/v1/developer/keys",
        400,
        ("Invalid or disabled billing provider", "Invalid projectId"),
        "billingProviderId and projectId name rows of the catalog and the user's",
    ),
    Allowance(
        "POST /api/v1/developer/projects",
        400,
        ("A project with this name already exists",),
        "a user's project names are unique (the reference's 400)",
    ),
    Allowance(
        "GET /api/v1/developer/usage",
        400,
        ("from must not be after to",),
        "two parameters together",
    ),
    Allowance(
        "GET /graphql",
        400,
        UNKNOWN_OPERATION,
        "operationName must name an operation of the document",
    ),
    Allowance(
        "POST /graphql",
        400,
        UNKNOWN_OPERATION,
        "operationName must name an operation of the document",
    ),
)
BY_OPERATION = {allowance.operation: allowance for allowance in STATE_DEPENDENT}
# DELETE revokes a key, which stays readable with `status: REVOKED` (the
# reference's API): schemathesis' use-after-free check assumes a DELETE deletes.
NOT_DELETED = ("GET /api/v1/developer/keys/{id}",)


def config_toml(auth_file: str, *, max_steps: int) -> str:
    """The run's schemathesis configuration: two users (`auth_file`, Web Fuzzing
    Commons format) who must not see each other's objects, the stateful phase's
    scenario length, and these exceptions."""
    lines: list[str] = [
        "[auth.wfc]",
        f'path = "{auth_file}"',
        'user = "alice"',
        'peers = ["alice", "bob"]',
        "",
        "[phases.stateful]",
        f"max-steps = {max_steps}",
        "",
    ]
    for allowance in STATE_DEPENDENT:
        statuses = sorted({*ALL_STATUSES, str(allowance.status)})
        lines += [
            "[[operations]]",
            f'include-name = "{allowance.operation}"',
            "checks.positive_data_acceptance.expected-statuses = ["
            + ", ".join(f'"{s}"' for s in statuses)
            + "]",
            "",
        ]
    for operation in NOT_DELETED:
        lines += [
            "[[operations]]",
            f'include-name = "{operation}"',
            "checks.use_after_free.enabled = false",
            "",
        ]
    return "\n".join(lines)
