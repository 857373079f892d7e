"""Write the server's persisted-operation manifest: `python scripts/export_manifest.py
[FILE]` (`make manifest`; default var/persisted-operations.json).

The same Apollo-format list `GET /graphql/persisted-operations.json` serves: the REST
facade's operation files and the manifests PERSISTED_OPERATIONS_FILES names, read
from the environment like the server. A client's build can safelist from it without
a running server.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.graphql.limits import Limits, limits_extension
from app.graphql.persisted import Registry
from app.schema import build_schema
from app.settings import SettingsError, load_settings
from rest_facade.prepare import OPERATIONS_DIR

DEFAULT_TARGET = Path("var") / "persisted-operations.json"


def main(argv: list[str]) -> int:
    target = Path(argv[1]) if len(argv) > 1 else DEFAULT_TARGET
    try:
        settings = load_settings()
        registry = Registry.load(
            build_schema([limits_extension(settings)]),
            Limits.from_settings(settings),
            folders=(OPERATIONS_DIR,),
            manifests=settings.persisted_operations_files,
        )
    except SettingsError as exc:
        sys.stderr.write(f"export_manifest: {exc}\n")
        return 2
    manifest = registry.manifest()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {target} ({len(manifest['operations'])} operations)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
