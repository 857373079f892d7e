"""What `/graphql` does not take, answered as GraphQL-style errors (not text): the
one `refusal` and its messages, shared by the front (endpoint.py) and Strawberry's
app (strawberry_app.py)."""

from __future__ import annotations

from starlette.responses import JSONResponse

ERROR_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    415: "UNSUPPORTED_MEDIA_TYPE",
    503: "SERVICE_UNAVAILABLE",
}
NOT_JSON = (
    "POST /graphql takes application/json only (form and multipart posts are "
    "refused: browsers send them cross-site without a CORS preflight)."
)
BATCH = "Batching is not supported: send one operation per request."
NOT_AN_OBJECT = "The body must be one JSON object: {query, variables, operationName}."
BAD_JSON = "The body is not valid JSON."


def refusal(status: int, message: str, retry_after: int | None = None) -> JSONResponse:
    """A request `/graphql` does not take, as a GraphQL-style error."""
    headers = {"cache-control": "no-store"}
    if status == 405:
        headers["allow"] = "POST"
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": ERROR_CODES[status]}}]},
        status_code=status,
        headers=headers,
    )
