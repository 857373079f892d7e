"""Response bodies: the bare dashboard family (spec §1.2).

Dashboard success bodies are the picked GraphQL data itself; errors are
`{"error": {"code", "message"}}`. (The developer API's `{success, data}` envelope
joins this module with its routes.)
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson
from starlette.responses import Response


class Envelope(Protocol):
    def success(self, data: Any) -> Any: ...

    def error(self, code: str, message: str) -> Any: ...


class Bare:
    def success(self, data: Any) -> Any:
        return data

    def error(self, code: str, message: str) -> Any:
        return {"error": {"code": code, "message": message}}


BARE = Bare()


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )
