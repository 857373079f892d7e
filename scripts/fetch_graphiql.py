"""Fetch pinned browser bundles from the npm registry, for the server to serve
itself: ``python scripts/fetch_graphiql.py var/graphiql`` (GraphiQL's, run by
``make install``); ``--set docs var/docs`` (the API reference's, also by ``make
install``); ``--set axe var/axe`` (axe-core, for the browser tests only).

Per pin: ``npm pack <name>@<version>``, check the tarball against the pinned npm
``dist.integrity`` (sha512), extract the browser bundles the page needs under flat
names, write ``manifest.json``. Idempotent: with the pinned manifest and intact
files in place, npm is not called. To upgrade a pin, edit its Pin with the output of
``npm view <name>@<version> dist.integrity``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("fetch_graphiql")

MANIFEST_NAME = "manifest.json"
NPM_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    integrity: str  # npm dist.integrity (SRI, sha512)
    files: Mapping[str, str]  # member path in the tarball -> flat file name


PINS: tuple[Pin, ...] = (
    Pin(
        name="react",
        version="18.3.1",
        integrity=(
            "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/"
            "oWgHgm4WIcV+i7F2pTVj+2iQ=="
        ),
        files={"package/umd/react.production.min.js": "react.production.min.js"},
    ),
    Pin(
        name="react-dom",
        version="18.3.1",
        integrity=(
            "sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNq"
            "lI23tRnTWT0snUIw=="
        ),
        files={
            "package/umd/react-dom.production.min.js": "react-dom.production.min.js"
        },
    ),
    Pin(
        name="graphiql",
        version="3.8.3",
        integrity=(
            "sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zU"
            "bzq0P3U49//H0Ugw=="
        ),
        files={
            "package/graphiql.min.js": "graphiql.min.js",
            "package/graphiql.min.css": "graphiql.min.css",
        },
    ),
    # The landing page's fees chart (app/web serves it under /static/vendor/).
    Pin(
        name="uplot",
        version="1.6.32",
        integrity=(
            "sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNu"
            "GGzQm/ep3tOkyTxpiQIw=="
        ),
        files={"package/dist/uPlot.iife.min.js": "uPlot.iife.min.js"},
    ),
)

# The API reference at /docs (Swagger UI: React, no runtime <style> elements, so
# its page needs no 'unsafe-inline' in its CSP).
DOCS_PINS: tuple[Pin, ...] = (
    Pin(
        name="swagger-ui-dist",
        version="5.35.0",
        integrity=(
            "sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNs"
            "XdGarTNNHC3sU8yVUQ=="
        ),
        files={
            "package/swagger-ui-bundle.js": "swagger-ui-bundle.js",
            "package/swagger-ui.css": "swagger-ui.css",
        },
    ),
)

# Test-only: the accessibility checker the browser tests inject into pages.
AXE_PINS: tuple[Pin, ...] = (
    Pin(
        name="axe-core",
        version="4.14.1",
        integrity=(
            "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNt"
            "uFooJpZe37OgudVGtQ=="
        ),
        files={"package/axe.min.js": "axe.min.js"},
    ),
)

# Which pins `--set NAME` installs; without the option, GraphiQL's.
PIN_SETS: Mapping[str, tuple[Pin, ...]] = {
    "graphiql": PINS,
    "docs": DOCS_PINS,
    "axe": AXE_PINS,
}


class FetchError(RuntimeError):
    """A step failed; the message says what to do."""


class IntegrityError(FetchError):
    """A tarball does not match its pinned npm integrity."""


def verify_integrity(path: Path, integrity: str) -> None:
    """Raise IntegrityError unless ``path`` matches the SRI string ``integrity``.

    Only sha512 is accepted (what npm publishes as ``dist.integrity``).
    """
    algorithm, _, expected = integrity.strip().partition("-")
    if algorithm != "sha512" or not expected:
        msg = f"unsupported integrity {integrity!r}: expected 'sha512-<base64>'"
        raise IntegrityError(msg)
    digest = hashlib.sha512()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    actual = "sha512-" + base64.b64encode(digest.digest()).decode()
    if actual != integrity.strip():
        msg = (
            f"INTEGRITY MISMATCH for {path.name}:\n"
            f"  expected {integrity.strip()}\n"
            f"  got      {actual}\n"
            "The downloaded package is not the pinned one. Do not use it; check the "
            "npm registry/mirror configuration (npm config get registry), clear the "
            "npm cache (npm cache clean --force) and retry."
        )
        raise IntegrityError(msg)


def extract(tarball: Path, members: Mapping[str, str], dest: Path) -> list[Path]:
    """Extract ``members`` (tar path -> flat file name) from ``tarball`` into ``dest``.

    Only the named regular files are extracted, through ``filter="data"``, into a
    staging directory, then moved into place under their flat names.
    """
    for flat in members.values():
        if not flat or Path(flat).name != flat or flat in {".", ".."}:
            msg = f"refusing unsafe destination file name {flat!r}"
            raise FetchError(msg)
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with (
        tempfile.TemporaryDirectory(dir=dest, prefix=".extract-") as staging,
        tarfile.open(tarball, "r:*") as tar,
    ):
        for member_name, flat in members.items():
            try:
                member = tar.getmember(member_name)
            except KeyError:
                msg = f"{tarball.name} has no {member_name!r}"
                raise FetchError(msg) from None
            if not member.isfile():
                msg = f"{tarball.name}: {member_name!r} is not a regular file"
                raise FetchError(msg)
            try:
                tar.extract(member, path=staging, filter="data")
            except tarfile.FilterError as exc:
                msg = f"{tarball.name}: refusing unsafe member {member_name!r}: {exc}"
                raise FetchError(msg) from exc
            extracted = Path(staging, member_name).resolve()
            if not extracted.is_relative_to(Path(staging).resolve()):
                msg = f"{tarball.name}: {member_name!r} escapes the destination"
                raise FetchError(msg)
            target = dest / flat
            os.replace(extracted, target)
            os.utime(target)  # npm stores 1985 mtimes; HTTP caching wants real ones
            written.append(target)
    return written


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pinned_packages(pins: tuple[Pin, ...] = PINS) -> dict[str, dict[str, str]]:
    return {p.name: {"version": p.version, "integrity": p.integrity} for p in pins}


def is_up_to_date(dest: Path, pins: tuple[Pin, ...] = PINS) -> bool:
    """True if ``dest`` holds the pinned manifest and every file it lists, intact."""
    try:
        manifest = json.loads((dest / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict):
        return False
    if manifest.get("packages") != pinned_packages(pins):
        return False
    files = manifest.get("files")
    expected_names = {flat for p in pins for flat in p.files.values()}
    if not isinstance(files, dict) or set(files) != expected_names:
        return False
    try:
        return all(file_sha256(dest / n) == files[n] for n in expected_names)
    except OSError:
        return False


# Things in a CSS file that make the browser fetch from another host.
_CSS_REMOTE_LOAD = re.compile(
    r"""(@import\s+(url\()?\s*["']?|url\(\s*["']?)\s*(https?:)?//""", re.IGNORECASE
)
# Things in a JS bundle that would load a remote script/image/style/font at page
# time. Only explicit http(s) URLs ("//" alone is everywhere in JS comments), and
# not `href` (an <a href> doc link is a click target, not a load).
_JS_REMOTE_LOAD = re.compile(
    r"""(\bsrc\s*[=:]\s*|\b(importScripts|import)\s*\(\s*)["'`]https?://"""
    r"""|(@import\s+|url\(\s*)["']?https?://""",
    re.IGNORECASE,
)
_ANY_URL = re.compile(r"https?://", re.IGNORECASE)


def check_no_remote_loads(path: Path) -> None:
    """Fail on page-time remote loads; only note plain URL strings (doc links)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    pattern = _CSS_REMOTE_LOAD if path.suffix == ".css" else _JS_REMOTE_LOAD
    match = pattern.search(text)
    if match:
        snippet = text[max(0, match.start() - 60) : match.end() + 60]
        msg = (
            f"{path.name} would load a remote resource at page time near: "
            f"{snippet!r}. Pick a version whose bundle is self-contained."
        )
        raise FetchError(msg)
    urls = len(_ANY_URL.findall(text))
    if urls:
        log.warning(
            "%s contains %d URL strings (links in messages/docs); no script, style "
            "or font loads from them were found",
            path.name,
            urls,
        )


def npm_pack(pin: Pin, workdir: Path) -> Path:
    """Download ``pin`` with ``npm pack`` into ``workdir``; return the tarball."""
    npm = os.environ.get("NPM") or shutil.which("npm")
    if not npm:
        msg = (
            "npm was not found on PATH. Install Node.js (which ships npm), or set "
            "NPM=/path/to/npm, then re-run `make install`."
        )
        raise FetchError(msg)
    out = workdir / pin.name
    out.mkdir()
    spec = f"{pin.name}@{pin.version}"
    cmd = [npm, "pack", spec, "--pack-destination", str(out), "--ignore-scripts"]
    log.info("npm pack %s", spec)
    try:
        result = subprocess.run(
            cmd,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        msg = f"running npm failed ({exc}). Check Node.js/npm and network access."
        raise FetchError(msg) from exc
    if result.returncode != 0:
        msg = (
            f"`npm pack {spec}` failed (exit {result.returncode}):\n"
            f"{result.stderr.strip()}\n"
            "Check access to the npm registry (npm config get registry; proxy/mirror "
            "settings in ~/.npmrc), then re-run `make install`."
        )
        raise FetchError(msg)
    tarballs = sorted(out.glob("*.tgz"))
    if len(tarballs) != 1:
        msg = f"`npm pack {spec}` did not produce exactly one .tgz in {out}"
        raise FetchError(msg)
    return tarballs[0]


def fetch(dest: Path, pins: tuple[Pin, ...] = PINS) -> bool:
    """Install ``pins``' assets into ``dest``; False if already up to date."""
    if is_up_to_date(dest, pins):
        return False
    dest.mkdir(parents=True, exist_ok=True)
    # A stale manifest must not vouch for half-replaced files if we fail midway.
    (dest / MANIFEST_NAME).unlink(missing_ok=True)
    files: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="fetch-graphiql-") as tmp:
        for pin in pins:
            tarball = npm_pack(pin, Path(tmp))
            verify_integrity(tarball, pin.integrity)
            for path in extract(tarball, pin.files, dest):
                check_no_remote_loads(path)
                files[path.name] = file_sha256(path)
    manifest = {
        "source": "npm registry (npm pack), verified against dist.integrity",
        "packages": pinned_packages(pins),
        "files": dict(sorted(files.items())),
    }
    tmp_manifest = dest / (MANIFEST_NAME + ".tmp")
    tmp_manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_manifest, dest / MANIFEST_NAME)
    return True


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="fetch_graphiql: %(message)s")
    args = sys.argv[1:] if argv is None else argv
    pin_set = "graphiql"
    if len(args) == 3 and args[0] == "--set" and args[1] in PIN_SETS:
        pin_set, args = args[1], args[2:]
    if len(args) != 1 or args[0].startswith("-"):
        names = "|".join(PIN_SETS)
        sys.stderr.write(f"usage: fetch_graphiql.py [--set {names}] DEST_DIR\n")
        return 2
    dest = Path(args[0])
    try:
        changed = fetch(dest, PIN_SETS[pin_set])
    except FetchError as exc:
        log.error("%s", exc)
        return 1
    pins = ", ".join(f"{p.name}@{p.version}" for p in PIN_SETS[pin_set])
    if changed:
        sys.stdout.write(f"fetch_graphiql: installed {pins} into {dest}\n")
    else:
        sys.stdout.write(f"fetch_graphiql: {dest} already has {pins}; nothing to do\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
