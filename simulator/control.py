"""Fault control over HTTP: `GET|PUT|DELETE /faults` on the simulator.

A server started as a process (`make run`, the browser tests) serves its in-process
simulator under `/_sim`, so `PUT /_sim/faults` makes an endpoint misbehave in a
running development server. Body: endpoint key (`dashboard/fees`, `subgraph`,
`rpc`, `*`) -> {"status", "latency", "body", "content_type"}. PUT replaces every
fault; DELETE clears them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from simulator.faults import Fault

_FIELDS = {"status": int, "latency": float, "body": str, "content_type": str}


def _fault(spec: Any) -> Fault:
    if not isinstance(spec, dict) or set(spec) - set(_FIELDS):
        raise ValueError(f"a fault is an object with some of {sorted(_FIELDS)}")
    kwargs: dict[str, Any] = {}
    for name, kind in _FIELDS.items():
        if name in spec:
            value = spec[name]
            if not isinstance(value, int | float | str) or isinstance(value, bool):
                raise ValueError(f"{name}: expected a {kind.__name__}")
            kwargs[name] = kind(value)
    if "body" in kwargs:
        kwargs["body"] = kwargs["body"].encode()
    return Fault(**kwargs)


def _describe(fault: Fault) -> dict[str, Any]:
    out: dict[str, Any] = {"latency": fault.latency, "status": fault.status}
    if fault.body is not None:
        out["body"] = fault.body.decode(errors="replace")
    return out


def faults_endpoint(
    faults: MutableMapping[str, Fault],
) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        if request.method == "PUT":
            try:
                payload = json.loads(await request.body())
                if not isinstance(payload, dict):
                    raise ValueError("the body is an object: endpoint key -> fault")
                parsed = {str(key): _fault(spec) for key, spec in payload.items()}
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            faults.clear()
            faults.update(parsed)
        elif request.method == "DELETE":
            faults.clear()
        return JSONResponse({key: _describe(f) for key, f in faults.items()})

    return endpoint
