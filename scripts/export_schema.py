"""Write the GraphQL SDL printed from the code: `python scripts/export_schema.py FILE`.

`schema.graphql` is generated, committed, and checked for drift by
tests/unit/test_schema_sdl.py (Saleor's habit): review its diff to catch contract
changes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.schema import schema


def sdl() -> str:
    return schema.as_str() + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[1] if len(argv) > 1 else "schema.graphql")
    target.write_text(sdl(), encoding="utf-8")
    sys.stdout.write(f"wrote {target}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
