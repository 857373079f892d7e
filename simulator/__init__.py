"""A deterministic stand-in for the upstreams naap-api calls, as one ASGI app.

The server imports it lazily, only when an upstream URL is unset;
`python -m simulator` serves it on a port of its own.
"""

from simulator.app import (
    ANALYTICS_ENDPOINTS,
    DEFAULT_OAUTH_CLIENTS,
    Fault,
    create_simulator,
    env_lines,
    main,
    parse_limit,
    parse_window_hours,
)

__all__ = [
    "ANALYTICS_ENDPOINTS",
    "DEFAULT_OAUTH_CLIENTS",
    "Fault",
    "create_simulator",
    "env_lines",
    "main",
    "parse_limit",
    "parse_window_hours",
]
