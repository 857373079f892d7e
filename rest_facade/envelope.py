"""Response bodies: the two families the REST routes answer in.

- `BARE` (dashboard routes, network models): success is the picked data itself;
  errors are `{"error": {"code", "message"}}`.
- `STANDARD` (the Developer API): `{"success": true, "data": …[, "meta": {…,
  "timestamp"}]}`; errors `{"success": false, "error": {"code", "message"[,
  "details"]}, "meta": {"timestamp"}}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from starlette.exceptions import HTTPException
from starlette.responses import Response


def _timestamp() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class Envelope(Protocol):
    def success(self, data: Any, meta: Mapping[str, Any] | None = None) -> Any: ...

    def error(
        self, code: str, message: str, details: Mapping[str, Any] | None = None
    ) -> Any: ...


class Bare:
    def success(self, data: Any, meta: Mapping[str, Any] | None = None) -> Any:
        return data

    def error(
        self, code: str, message: str, details: Mapping[str, Any] | None = None
    ) -> Any:
        return {"error": {"code": code, "message": message}}


class Standard:
    def success(self, data: Any, meta: Mapping[str, Any] | None = None) -> Any:
        body: dict[str, Any] = {"success": True, "data": data}
        if meta is not None:
            body["meta"] = {**meta, "timestamp": _timestamp()}
        return body

    def error(
        self, code: str, message: str, details: Mapping[str, Any] | None = None
    ) -> Any:
        error: dict[str, Any] = {"code": code, "message": message}
        if details:
            error["details"] = dict(details)
        return {"success": False, "error": error, "meta": {"timestamp": _timestamp()}}


BARE = Bare()
STANDARD = Standard()


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        headers=dict(headers or {}),
        media_type="application/json",
    )


HTTP_ERROR_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def http_error_response(exc: HTTPException) -> Response:
    """Starlette's 404/405 (and other HTTPExceptions) in the bare error shape."""
    code = HTTP_ERROR_CODES.get(exc.status_code, "BAD_REQUEST")
    return json_response(
        {"error": {"code": code, "message": str(exc.detail)}},
        exc.status_code,
        dict(exc.headers or {}),
    )
