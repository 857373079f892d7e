"""Self-hosted GraphiQL page: its JavaScript and CSS come only from the server's
own assets path (installed by ``make install``), never from a CDN.

So the page works offline, runs exactly what ``scripts/fetch_graphiql.py`` pinned
and verified (npm ``dist.integrity``), and suits a strict CSP: scripts come from
``'self'``, the configuration is a JSON data block (never executed), and the one
inline bootstrap script is a constant, so ``script-src 'self'
<BOOTSTRAP_SCRIPT_CSP_HASH>`` is enough. GraphiQL injects ``<style>`` elements at
runtime, so ``style-src`` still needs ``'unsafe-inline'``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from pathlib import Path

# The editor's first document: the Network Overview in one request.
DEFAULT_QUERY = """\
# The Network Overview in one request. Try changing timeframe, or Ctrl+Space.
query Overview($timeframe: String = "24") {
  kpi(timeframe: $timeframe) {
    successRate { value delta }
    dailySessionCount { value delta }
    timeframeHours
  }
  pipelines(limit: 5, timeframe: $timeframe) { name sessions mins avgFps color }
  protocol { currentRound blockProgress totalBlocks totalStakedLPT }
  jobFeed(limit: 5) { streams { id pipeline status runningFor } queryFailed }
}
"""

# Put before the first document when PERSISTED_OPERATIONS=enforce-anonymous: why
# an ad-hoc query is refused without a token, and what to do about it.
ENFORCED_NOTICE = """\
# This server runs only registered operations for requests without a developer
# token (PERSISTED_OPERATIONS=enforce-anonymous): an ad-hoc query is refused with
# PERSISTED_OPERATION_REQUIRED. Add a token in the Headers tab below:
#   {"Authorization": "Bearer <token>"}
# Registered operations: /graphql/persisted-operations.json

"""

ASSET_FILES: tuple[str, ...] = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphiql.min.css",
)

# Constant on purpose: its hash never changes, so a CSP can allow it by hash.
_BOOTSTRAP_SCRIPT = """
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("graphiql-config").textContent);
  var h = React.createElement;
  // GraphiQL's name, then a link to the REST API reference when it is served.
  var logo = config.docs
    ? h(GraphiQL.Logo, null, "Graph", h("em", null, "i"), "QL ",
        h("a", { className: "graphiql-logo-link", href: config.docs },
          "\u00b7 REST API reference"))
    : null;
  var ws = (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    h(GraphiQL, {
      fetcher: GraphiQL.createFetcher({
        url: config.endpoint,
        subscriptionUrl: ws + config.endpoint
      }),
      defaultQuery: config.defaultQuery,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: "headers"
    }, logo)
  );
})();
"""

_BOOTSTRAP_DIGEST = hashlib.sha256(_BOOTSTRAP_SCRIPT.encode()).digest()
# For a Content-Security-Policy header: script-src 'self' <this>.
BOOTSTRAP_SCRIPT_CSP_HASH: str = (
    "'sha256-" + base64.b64encode(_BOOTSTRAP_DIGEST).decode() + "'"
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}graphiql.min.css">
<style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body>
<noscript>GraphiQL needs JavaScript. You can still POST GraphQL queries to
{endpoint_text} with any HTTP client.</noscript>
<div id="graphiql"></div>
<script type="application/json" id="graphiql-config">{config}</script>
<script src="{assets}react.production.min.js"></script>
<script src="{assets}react-dom.production.min.js"></script>
<script src="{assets}graphiql.min.js"></script>
<script>{bootstrap}</script>
</body>
</html>
"""


def _json_for_script(value: object) -> str:
    """JSON that is safe inside a <script> element (no </script>, no <!--)."""
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def graphiql_html(
    *,
    endpoint: str,
    assets_path: str,
    title: str = "naap-api GraphiQL",
    default_query: str,
    docs_url: str | None = None,
) -> str:
    """Return the GraphiQL page; every asset is loaded from ``assets_path``.
    With ``docs_url``, the logo links the REST API reference there."""
    if "://" in assets_path or assets_path.startswith("//"):
        msg = f"assets_path must be a local path, not a URL: {assets_path!r}"
        raise ValueError(msg)
    assets = assets_path.rstrip("/") + "/"
    return _PAGE.format(
        title=html.escape(title),
        assets=html.escape(assets, quote=True),
        endpoint_text=html.escape(endpoint),
        config=_json_for_script(
            {"endpoint": endpoint, "defaultQuery": default_query, "docs": docs_url}
        ),
        bootstrap=_BOOTSTRAP_SCRIPT,
    )


def missing_assets(directory: Path) -> list[str]:
    """Names from ``ASSET_FILES`` that are not regular files in ``directory``."""
    return [name for name in ASSET_FILES if not (directory / name).is_file()]
