"""Client for the Ethereum L1 JSON-RPC endpoint (`L1_RPC_URL`): the current block."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.errors import UpstreamBadPayload
from app.upstream._http import UpstreamClient
from app.upstream._parse import expect_object

UPSTREAM = "l1-rpc"


class L1RpcClient(UpstreamClient):
    async def block_number(self) -> int:
        payload = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
        return await self._http.post(
            "",
            payload,
            parse=_parse_block_number,
            endpoint="rpc:eth_blockNumber",
        )


def _parse_block_number(raw: Any) -> int:
    body = expect_object(raw, "eth_blockNumber response", UPSTREAM)
    result = body.get("result")
    if isinstance(body.get("error"), Mapping) or not isinstance(result, str):
        raise UpstreamBadPayload("eth_blockNumber: no result", upstream=UPSTREAM)
    try:
        return int(result, 16)
    except ValueError as exc:
        raise UpstreamBadPayload(
            "eth_blockNumber: result is not a hex quantity", upstream=UPSTREAM
        ) from exc
