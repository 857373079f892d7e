"""A deterministic stand-in for the upstreams naap-api calls, as one ASGI app.

The server imports it lazily, only when an upstream URL is unset;
`python -m simulator` serves it on a port of its own.
"""

from simulator.analytics import ANALYTICS_ENDPOINTS, parse_limit, parse_window_hours
from simulator.app import create_simulator
from simulator.cli import env_lines, main
from simulator.faults import Fault
from simulator.oauth import DEFAULT_OAUTH_CLIENTS

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
