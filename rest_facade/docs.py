"""The API reference at `/docs`: Swagger UI rendering `/openapi.json`, self-hosted.

Swagger UI's two files come from npm, pinned and integrity-checked (`make install`
puts them in var/docs, served at /docs/vendor/); the page's own script and style
sit next to this module (docs_assets/, served at /docs/assets/). The markup has no
inline script or style, so the page's CSP allows scripts and styles from 'self'
only; everything else is 'none' except images (Swagger UI's CSS icons are `data:`
SVGs) and connections to 'self' (the document, and "Try it out").
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent / "docs_assets"
VENDOR_PATH = "/docs/vendor/"
ASSETS_PATH = "/docs/assets/"
VENDOR_FILES: tuple[str, ...] = ("swagger-ui-bundle.js", "swagger-ui.css")

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    )
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>naap-api API reference</title>
<meta name="description" content="Every REST route of naap-api, rendered from \
/openapi.json, with Try it out against this server.">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{vendor}swagger-ui.css">
<link rel="stylesheet" href="{assets}docs.css">
<script src="{vendor}swagger-ui-bundle.js" defer></script>
<script src="{assets}docs.js" defer></script>
</head>
<body>
<header class="docs-header">
<h1>naap-api API reference</h1>
<nav aria-label="Other references">
<a href="/openapi.json">openapi.json</a>{graphiql}
</nav>
</header>
<div id="swagger-ui" data-openapi="/openapi.json">
<noscript><p>This reference needs JavaScript. The same information is in
<a href="/openapi.json">/openapi.json</a>.</p></noscript>
</div>
</body>
</html>
"""


@cache
def page(*, graphiql: bool) -> tuple[bytes, str]:
    """The page and its ETag; it links GraphiQL when that is served."""
    body = _PAGE.format(
        vendor=VENDOR_PATH,
        assets=ASSETS_PATH,
        graphiql='\n<a href="/graphql">GraphiQL</a>' if graphiql else "",
    ).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


MISSING_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    "<title>API reference files missing</title></head><body><h1>API reference "
    "files missing</h1><p>Swagger UI's files are not installed (missing: {names})."
    ' Run <code>make install</code>; <a href="/openapi.json">/openapi.json</a> '
    "works meanwhile.</p></body></html>"
)


def missing_vendor(directory: Path) -> list[str]:
    """Names from ``VENDOR_FILES`` that are not regular files in ``directory``."""
    return [name for name in VENDOR_FILES if not (directory / name).is_file()]
