"""The overview page's types, generated from the OpenAPI document the server serves,
and the check that the page's `// @ts-check` modules agree with them.

    python scripts/page_types.py OUT.d.ts   # write the types (make types)
    python scripts/page_types.py --check    # generate into a temp dir, run tsc

The page (app/web/static/js) imports its response types from the module
"naap-openapi" (see `Body` in api.js); openapi-typescript writes that module from
/openapi.json, and `tsc --noEmit` checks the page against it with
app/web/jsconfig.json's options, so a field the page reads that the document does
not promise (or an operation it names that the document lacks) fails the check.
Both tools are pinned in scripts/typecheck/package-lock.json and installed by
`npm ci` into var/typecheck (make test and make types do it).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOOLS = ROOT / "var" / "typecheck" / "node_modules"
OPENAPI_TYPESCRIPT = TOOLS / "openapi-typescript" / "bin" / "cli.js"
TSC = TOOLS / "typescript" / "bin" / "tsc"
PAGE_CONFIG = ROOT / "app" / "web" / "jsconfig.json"
MODULE = "naap-openapi"  # the name the page's JSDoc imports the types by
TIMEOUT = 120.0


def missing_tools() -> list[str]:
    """What is not installed (empty when the check can run)."""
    return [str(p) for p in (OPENAPI_TYPESCRIPT, TSC) if not p.is_file()]


async def served_document() -> dict[str, Any]:
    """/openapi.json as make run's server (environment settings) serves it."""
    import httpx

    from app.main import create_app
    from app.settings import load_settings

    settings = load_settings()
    app = create_app(settings.model_copy(update={"log_level": "warning"}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://page") as http:
        response = await http.get("/openapi.json")
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def _node(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=ROOT,  # tsc names files relative to it: app/web/static/js/…
    )


def generate(document: dict[str, Any], out: Path) -> None:
    """Write the TypeScript types of `document` to `out` (openapi-typescript)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    source = out.with_suffix(".openapi.json")
    source.write_text(json.dumps(document), encoding="utf-8")
    done = _node(OPENAPI_TYPESCRIPT, source, "--output", out)
    source.unlink()
    if done.returncode != 0:
        raise RuntimeError(f"openapi-typescript failed:\n{done.stdout}{done.stderr}")


def check(types: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    """tsc --noEmit over the page with app/web/jsconfig.json's options, the
    module "naap-openapi" being `types`. The result's stdout lists the errors."""
    config = workdir / "tsconfig.json"
    config.write_text(
        json.dumps(
            {
                "extends": str(PAGE_CONFIG),
                "compilerOptions": {"paths": {MODULE: [str(types)]}},
            }
        ),
        encoding="utf-8",
    )
    return _node(TSC, "--project", config, "--noEmit", "--pretty", "false")


def check_document(document: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """Generate the types of `document` and check the page against them."""
    with tempfile.TemporaryDirectory(prefix="page-types-") as tmp:
        types = Path(tmp) / "openapi.d.ts"
        generate(document, types)
        return check(types, Path(tmp))


def main(argv: list[str]) -> int:
    missing = missing_tools()
    if missing:
        sys.stderr.write(
            f"page_types: not installed: {', '.join(missing)}; run make types\n"
        )
        return 2
    document = asyncio.run(served_document())
    if argv[1:] == ["--check"]:
        done = check_document(document)
        sys.stdout.write(done.stdout + done.stderr)
        if done.returncode == 0:
            sys.stdout.write("page_types: the page agrees with /openapi.json\n")
        return done.returncode
    if len(argv) != 2 or argv[1].startswith("-"):
        sys.stderr.write(__doc__ or "")
        return 2
    out = Path(argv[1])
    generate(document, out)
    sys.stdout.write(f"wrote {out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
