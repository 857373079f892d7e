"""The L1 JSON-RPC (`POST /rpc`): `eth_blockNumber` and `eth_chainId`, single or
batched, with JSON-RPC 2.0 error objects for everything else."""

from __future__ import annotations

import json
from datetime import datetime

from starlette.responses import Response

from simulator.encoding import json_response
from simulator.units import JSON
from simulator.world import SimWorld


def rpc_error(request_id: object, code: int, message: str) -> JSON:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": code, "message": message},
    }


def _rpc_reply(world: SimWorld, now: datetime, message: object) -> JSON:
    if not isinstance(message, dict) or not isinstance(message.get("method"), str):
        request_id = message.get("id") if isinstance(message, dict) else None
        return rpc_error(request_id, -32600, "Invalid Request")
    request_id = message.get("id")
    method = message["method"]
    if method == "eth_blockNumber":
        result = hex(world.block_number(now))
    elif method == "eth_chainId":
        result = "0x1"
    else:
        return rpc_error(request_id, -32601, "Method not found")
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def rpc_answer(world: SimWorld, now: datetime, raw: bytes) -> Response:
    """The response to a raw JSON-RPC body (one call or a batch), at `now`."""
    try:
        payload = json.loads(raw)
    except ValueError:
        return json_response(rpc_error(None, -32700, "Parse error"))
    if isinstance(payload, list):
        if not payload:
            return json_response(rpc_error(None, -32600, "Invalid Request"))
        return json_response([_rpc_reply(world, now, item) for item in payload])
    return json_response(_rpc_reply(world, now, payload))
