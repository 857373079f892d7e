"""graphql-transport-ws as Strawberry speaks it, keeping `payload.extensions`.

Strawberry's handler reads `query`, `variables` and `operationName` from a
`subscribe` message and drops `extensions`, so a WebSocket client could not name
a persisted operation (`extensions.persistedQuery.sha256Hash`) or register one
(APQ), and `PERSISTED_OPERATIONS=enforce-anonymous` would refuse it. This handler
keeps each operation's extensions until its task starts and runs it through
`schema.stream(..., operation_extensions=...)`, the call Strawberry's GraphQL
over SSE already makes, so the policy (app/graphql/policy.py) judges all three
transports alike. A `subscribe` naming an operation by hash may leave out
`query`, as Apollo's clients do over HTTP.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,  # Strawberry's own signal that it closed the socket
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    CompleteMessage,
    SubscribeMessage,
)
from strawberry.utils.aio import aclosing

from app.context import Context

BAD_EXTENSIONS = "The subscribe message's `extensions` must be an object or null."


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Each waiting operation's extensions, by id, until its task reads them.
        self._extensions: dict[str, dict[str, object]] = {}

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload = message["payload"]  # KeyError: Strawberry closes with 4400
        extensions = payload.get("extensions")
        if extensions is not None and not isinstance(extensions, dict):
            await self.websocket.close(code=4400, reason=BAD_EXTENSIONS)
            return
        op_id = message["id"]
        if extensions and op_id not in self.operations:
            if "query" not in payload:  # by hash alone: the policy fills it in
                message = {**message, "payload": {**payload, "query": ""}}
            self._extensions[op_id] = extensions
        await super().handle_subscribe(message)
        if op_id not in self.operations:  # refused (limit, duplicate, no ack)
            self._extensions.pop(op_id, None)

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        # Strawberry's run_operation (0.341), with the operation's extensions.
        extensions = self._extensions.pop(operation.id, None)
        try:
            result_source = await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=self.context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
                operation_extensions=extensions,
            )
            async with aclosing(result_source):
                await self._send_result_stream(operation, result_source)
            await operation.send_operation_message(
                CompleteMessage(id=operation.id, type="complete")
            )
        except _OperationStreamClosed:
            return
        except Exception as error:
            await self.handle_task_exception(error)
            with suppress(Exception):
                await operation.send_operation_message(
                    {"id": operation.id, "type": "complete"}
                )
            self.operations.pop(operation.id, None)
            raise
