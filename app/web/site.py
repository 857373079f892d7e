"""The landing page's files, served from memory: `/`, `/favicon.ico`, `/static/*`.

Files are read on the first request (never at startup), each with a strong ETag of
its bytes and, when smaller, a gzip body with its own ETag. Every answer is
`Cache-Control: no-cache`: browsers revalidate, and an unchanged file is a 304.
The page carries a strict CSP (no inline script or style). uPlot comes from the
npm assets `make install` fetched; when it is missing the page is served without
it (the fees card shows its table) and one warning says how to get it.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

log = logging.getLogger("naap.web")

STATIC = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/static/"
VENDOR_PREFIX = STATIC_PREFIX + "vendor/"
# npm asset -> where the page loads it (under VENDOR_PREFIX).
VENDOR_FILES = ("uPlot.iife.min.js",)
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".ico": "image/x-icon",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
GZIP_MIN_BYTES = 512
_VARY = (b"vary", b"Accept-Encoding")
_NO_CACHE = (b"cache-control", b"no-cache")


@dataclass(frozen=True, slots=True)
class Variant:
    """One encoding of a file: its bytes, quoted ETag and response headers."""

    body: bytes
    etag: bytes
    headers: tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True)
class WebFile:
    identity: Variant
    gzipped: Variant | None


def _etag(body: bytes, suffix: str = "") -> bytes:
    digest = hashlib.blake2b(body, digest_size=12).digest()
    return b'"' + base64.urlsafe_b64encode(digest) + suffix.encode() + b'"'


def prepare(body: bytes, content_type: str, *, csp: str | None = None) -> WebFile:
    """The file's identity and (when it pays) gzip variants, headers included."""
    common = [(b"content-type", content_type.encode()), _NO_CACHE, _VARY]
    if csp is not None:
        common.append((b"content-security-policy", csp.encode()))

    def variant(data: bytes, etag: bytes, encoding: bytes | None) -> Variant:
        headers = [*common, (b"etag", etag)]
        if encoding is not None:
            headers.append((b"content-encoding", encoding))
        return Variant(data, etag, tuple(headers))

    identity = variant(body, _etag(body), None)
    gzipped = None
    if len(body) >= GZIP_MIN_BYTES and not content_type.startswith("image/png"):
        packed = gzip.compress(body, compresslevel=9, mtime=0)
        if len(packed) < len(body):
            gzipped = variant(packed, _etag(body, "-gz"), b"gzip")
    return WebFile(identity, gzipped)


def missing_vendor_files(vendor_dir: Path) -> list[str]:
    return [name for name in VENDOR_FILES if not (vendor_dir / name).is_file()]


def page_html(text: str, missing: list[str]) -> str:
    """index.html without the lines that load a missing vendor file."""
    kept = [
        line
        for line in text.splitlines(keepends=True)
        if not any(VENDOR_PREFIX + name in line for name in missing)
    ]
    return "".join(kept)


def load_files(static_dir: Path, vendor_dir: Path) -> dict[str, WebFile]:
    """URL path -> prepared file, for everything the page may load."""
    missing = missing_vendor_files(vendor_dir)
    files: dict[str, WebFile] = {}
    for path in sorted(static_dir.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or path.suffix not in TYPES:
            continue
        relative = path.relative_to(static_dir).as_posix()
        if relative == "index.html":
            html = page_html(path.read_text(encoding="utf-8"), missing)
            files["/"] = prepare(html.encode(), TYPES[".html"], csp=PAGE_CSP)
        elif relative == "favicon.ico":
            files["/favicon.ico"] = prepare(path.read_bytes(), TYPES[".ico"])
        else:
            files[STATIC_PREFIX + relative] = prepare(
                path.read_bytes(), TYPES[path.suffix]
            )
    for name in VENDOR_FILES:
        if name not in missing:
            body = (vendor_dir / name).read_bytes()
            files[VENDOR_PREFIX + name] = prepare(body, TYPES[Path(name).suffix])
    return files


def _accepts_gzip(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            for part in value.split(b","):
                token, _, params = part.strip().partition(b";")
                if token.strip().lower() == b"gzip":
                    return params.replace(b" ", b"").lower() not in (b"q=0", b"q=0.0")
    return False


def _matches(scope: Scope, etag: bytes) -> bool:
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            if value.strip() == b"*":
                return True
            tags = (tag.strip().removeprefix(b"W/") for tag in value.split(b","))
            return etag in tags
    return False


class WebSite:
    """An ASGI app answering the page's URLs from memory (GET and HEAD)."""

    def __init__(self, static_dir: Path, vendor_dir: Path) -> None:
        self.static_dir = static_dir
        self.vendor_dir = vendor_dir
        self._files: Mapping[str, WebFile] | None = None
        missing = missing_vendor_files(vendor_dir)
        if missing:
            log.warning(
                "%s missing from %s: the landing page's fees card shows its table "
                "instead of a chart (make install fetches it)",
                ", ".join(missing),
                vendor_dir,
            )

    @property
    def files(self) -> Mapping[str, WebFile]:
        if self._files is None:
            self._files = load_files(self.static_dir, self.vendor_dir)
        return self._files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        file = self.files.get(scope["path"])
        if file is None:
            raise HTTPException(404, "Not Found")
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            raise HTTPException(405, "Method Not Allowed", {"allow": "GET, HEAD"})
        chosen = file.identity
        if file.gzipped is not None and _accepts_gzip(scope):
            chosen = file.gzipped
        if _matches(scope, chosen.etag):
            kept = (b"content-type", b"content-encoding")
            headers = [h for h in chosen.headers if h[0] not in kept]
            await send(
                {"type": "http.response.start", "status": 304, "headers": headers}
            )
            await send({"type": "http.response.body", "body": b""})
            return
        length = (b"content-length", str(len(chosen.body)).encode())
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*chosen.headers, length],
            }
        )
        body = b"" if method == "HEAD" else chosen.body
        await send({"type": "http.response.body", "body": body})
