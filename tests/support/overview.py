"""The landing page in a browser: the routes it asks for, opening it and waiting
for its widgets, reading them, and the page's number formats (en-US, UTC) for
expected values computed from REST bodies.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlsplit

from tests.support.browser import ServerProcess

WIDGETS = ("kpi", "protocol", "fees", "feed", "pipelines", "orchestrators")
API = "/api/v1/dashboard/"
# What a cold load at the default timeframe (24 h) asks for, once each.
ROUTES = {
    "kpi": API + "kpi?timeframe=24",
    "pipelines": API + "pipelines?timeframe=24&limit=200",
    "pipeline-catalog": API + "pipeline-catalog",
    "orchestrators": API + "orchestrators?period=24h",
    "protocol": API + "protocol",
    "gpu-capacity": API + "gpu-capacity?timeframe=24",
    "pricing": API + "pricing",
    "fees": API + "fees?days=180",
    "job-feed": API + "job-feed/stream",  # pushed (?feed=poll: job-feed?pollMs=15000)
}
# The job feed's REST route, to read what the stream showed.
JOB_FEED_REST = API + "job-feed?pollMs=15000"
# Every widget has left its skeleton and none is refetching.
SETTLED = """() => [...document.querySelectorAll("main > section.card")].every(
  (s) => s.dataset.state !== "loading" && s.getAttribute("aria-busy") === "false")"""
ENVELOPE_503 = {"error": {"code": "SERVICE_UNAVAILABLE", "message": ""}}


def open_overview(page: Any, server: ServerProcess, query: str = "") -> None:
    page.goto(server.base_url + "/" + query)
    wait_settled(page)


def wait_settled(page: Any) -> None:
    page.wait_for_function(SETTLED)


def states(page: Any) -> dict[str, str]:
    found: dict[str, str] = page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('main > section.card')]"
        ".map((s) => [s.id, s.dataset.state]))"
    )
    return found


def route_of(url: str) -> str:
    """The route name of a dashboard URL (`fees` for .../fees?days=180)."""
    return urlsplit(url).path.removeprefix(API)


def unavailable(message: str) -> dict[str, Any]:
    """A 503 body as the dashboard routes send it."""
    return {"error": {"code": "SERVICE_UNAVAILABLE", "message": message}}


def set_hidden(page: Any, hidden: bool) -> None:
    """Make the document report hidden (or visible) and tell it, as a
    background tab would."""
    page.evaluate(
        """(hidden) => {
          const state = hidden ? "hidden" : "visible";
          const define = (name, value) => Object.defineProperty(
            document, name, {configurable: true, get: () => value});
          define("hidden", hidden);
          define("visibilityState", state);
          document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


# --- the page's formats (format.js), for expected text ----------------------------
def _rounded(value: float, places: int) -> Decimal:
    # Intl.NumberFormat rounds the exact value half away from zero.
    return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def fmt_int(value: float) -> str:
    return f"{_rounded(value, 0):,.0f}"


def fmt_one(value: float) -> str:
    return f"{_rounded(value, 1):,.1f}"


def fmt_percent(value: float) -> str:
    return fmt_one(value) + "%"


def fmt_usd(value: float) -> str:
    return "$" + fmt_int(value)


def fmt_wei(digits: str) -> str:
    return f"{int(digits):,}"
