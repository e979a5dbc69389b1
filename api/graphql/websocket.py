"""The graphql-transport-ws handler of /graphql, stricter than strawberry's defaults (D6).

- A socket may carry `MAX_SUBSCRIPTIONS` operations at once; one more closes the socket (4429),
  where strawberry would answer each extra `subscribe` with an error and keep reading.
- A socket that sends no `connection_init` within `INIT_TIMEOUT` is closed (4408).
- When a subscription ends because its session did (revoked, expired, user disabled; see
  `CarelogSchema.stream`), the socket is closed (4401): nothing else runs on a dead session.

The legacy graphql-ws protocol is not offered at all (`api.app`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from api.graphql.context import CareContext

MAX_SUBSCRIPTIONS = 10
INIT_TIMEOUT = timedelta(seconds=5)
TOO_MANY = 4429
SESSION_ENDED = 4401


class CarelogTransportWs(BaseGraphQLTransportWSHandler[Any, Any]):
    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limit = self.max_subscriptions_per_connection
        if limit is not None and len(self.operations) >= limit:
            await self.websocket.close(code=TOO_MANY,
                                       reason=f"more than {limit} operations on one socket")
            return
        await super().handle_subscribe(message)

    async def run_operation(self, operation: Any) -> None:
        await super().run_operation(operation)
        if isinstance(self.context, CareContext) and self.context.session_ended:
            await self.websocket.close(code=SESSION_ENDED,
                                       reason="the session has ended; sign in again")
