"""Lighthouse against the Network Overview at `/`: `make audit`.

    python scripts/audit.py [--url http://127.0.0.1:8000] [--preset mobile|desktop]
        [--path /]

Without `--url`, starts the server as `make run` does (the benchmark's launcher)
on a free port. Runs Lighthouse 12 (var/lighthouse: `npm ci` from
scripts/lighthouse/package-lock.json, every package pinned with its integrity)
on Debian's Chromium (CHROME_PATH=/usr/bin/chromium, headless), prints the four
category scores against their targets, the load metrics and every audit that
cost points, and keeps the reports in test-artifacts/. Reported, never asserted:
exit 0 whatever the scores, and when `/` is absent (it says so); 1 when
Lighthouse, Chromium or the server cannot run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.benchmark.page import CHROMIUM, page_absent
from scripts.benchmark.servers import make_run_server
from scripts.benchmark.targets import HOST, ROOT, BenchError

LIGHTHOUSE = ROOT / "var" / "lighthouse" / "node_modules" / "lighthouse"
ARTIFACTS = ROOT / "test-artifacts"
LIGHTHOUSE_TIMEOUT = 300  # seconds
# Category -> the score it should reach (reported, never asserted).
TARGETS = {
    "performance": 0.95,
    "accessibility": 1.0,
    "best-practices": 1.0,
    "seo": 0.9,
}
METRICS = (
    ("first-contentful-paint", "FCP"),
    ("largest-contentful-paint", "LCP"),
    ("total-blocking-time", "TBT"),
    ("cumulative-layout-shift", "CLS"),
    ("speed-index", "Speed Index"),
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Lighthouse against / (make audit)")
    parser.add_argument(
        "--url", help="a running server's origin (default: start make run's)"
    )
    parser.add_argument(
        "--preset",
        choices=("mobile", "desktop"),
        default="mobile",
        help="Lighthouse's default mobile run (throttled), or its desktop preset",
    )
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument(
        "--path", default="/", help="the page to audit (default /, the overview)"
    )
    return parser.parse_args(argv)


def lighthouse_command(url: str, preset: str, out: Path) -> list[str]:
    flags = ["--headless=new", "--disable-gpu", "--disable-quic"]
    if os.geteuid() == 0:  # Chromium refuses to run as root with its sandbox
        flags.append("--no-sandbox")
    command = [
        "node",
        str(LIGHTHOUSE / "cli" / "index.js"),
        url,
        "--quiet",
        "--no-enable-error-reporting",
        "--only-categories=" + ",".join(TARGETS),
        "--output=json",
        "--output=html",
        f"--output-path={out}",
        "--chrome-flags=" + " ".join(flags),
    ]
    if preset == "desktop":
        command.append("--preset=desktop")
    return command


def summary(report: dict[str, Any], preset: str) -> list[str]:
    """The scores against their targets, the metrics, the audits that cost points."""
    categories = report["categories"]
    audits = report["audits"]
    version, url = report.get("lighthouseVersion"), report.get("finalDisplayedUrl")
    lines = [f"Lighthouse {version} on {url} ({preset}):"]
    for key, target in TARGETS.items():
        score = categories[key]["score"]
        shown = "n/a" if score is None else f"{score:.2f}"
        met = score is not None and score >= target
        lines.append(
            f"  {categories[key]['title']}: {shown} (target >= {target:.2f}): "
            f"{'met' if met else 'not met'}"
        )
    lines.append(
        "  "
        + ", ".join(
            f"{label} {audits[key]['displayValue']}"
            for key, label in METRICS
            if key in audits and audits[key].get("displayValue")
        )
    )
    for key in TARGETS:
        for ref in categories[key]["auditRefs"]:
            audit = audits[ref["id"]]
            if ref["weight"] > 0 and audit["score"] is not None and audit["score"] < 1:
                lines.append(
                    f"  - {key}: {ref['id']} ({audit['score']:.2f}): {audit['title']}"
                )
                lines += [f"      {item}" for item in _items(audit)]
    return lines


def _items(audit: dict[str, Any], most: int = 3) -> list[str]:
    """A few of an audit's findings, one line each (what, where)."""
    details = audit.get("details")
    items = details.get("items", []) if isinstance(details, dict) else []
    out = []
    for item in items[:most]:
        node = item.get("node") if isinstance(item.get("node"), dict) else {}
        what = item.get("description") or node.get("snippet") or item.get("source")
        where = item.get("url") or node.get("selector") or ""
        if what or where:
            out.append(f"{str(what or '')[:160]} {where}".strip())
    return out


def audit(origin: str, preset: str, path: str = "/") -> int:
    absent = page_absent(origin, path)
    if absent is not None:
        print(f"audit: {absent} at {origin}{path}: nothing to audit")
        return 0
    ARTIFACTS.mkdir(exist_ok=True)
    name = path.strip("/").replace("/", "-") or "overview"
    out = ARTIFACTS / f"lighthouse-{name}-{preset}"
    done = subprocess.run(
        lighthouse_command(origin + path, preset, out),
        env={**os.environ, "CHROME_PATH": str(CHROMIUM)},
        capture_output=True,
        text=True,
        timeout=LIGHTHOUSE_TIMEOUT,
        check=False,
    )
    json_path = out.with_name(out.name + ".report.json")
    if done.returncode != 0 or not json_path.is_file():
        print(f"audit: Lighthouse failed ({done.returncode}):", file=sys.stderr)
        print(done.stderr[-3000:], file=sys.stderr)
        return 1
    report = json.loads(json_path.read_text())
    if report.get("runtimeError"):
        print(f"audit: Lighthouse: {report['runtimeError']}", file=sys.stderr)
        return 1
    print("\n".join(summary(report, preset)))
    html_path = out.with_name(out.name + ".report.html")
    print(f"audit: reports in {json_path.relative_to(ROOT)}, {html_path.name}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not (LIGHTHOUSE / "cli" / "index.js").is_file():
        print(
            f"audit: Lighthouse is not installed in {LIGHTHOUSE.parent}: "
            "make audit installs it (npm ci)",
            file=sys.stderr,
        )
        return 1
    if not CHROMIUM.exists():
        print(
            f"audit: {CHROMIUM} is absent (apt-get install chromium)", file=sys.stderr
        )
        return 1
    if args.url:
        return audit(args.url.rstrip("/"), args.preset, args.path)
    port = args.port or _free_port()
    origin = f"http://{HOST}:{port}"
    with (
        tempfile.TemporaryDirectory(prefix="naap-audit-") as tmp,
        contextlib.ExitStack() as running,
    ):
        try:
            running.enter_context(make_run_server(port, Path(tmp) / "server.log"))
        except BenchError as exc:
            print(f"audit: {exc}", file=sys.stderr)
            return 1
        return audit(origin, args.preset, args.path)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


if __name__ == "__main__":
    raise SystemExit(main())
