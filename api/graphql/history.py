"""`history(entityId)`: what happened to one aggregate, event by event, and who caused it.

For managers and administrators. Only the envelope is shown (topic, version, business time,
actor): payloads stay out, so a user's history never shows a password hash.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry
from eventsourcing.utils import get_topic

from api.auth import Action, authorize
from api.graphql.context import Info
from domain.errors import NotFoundError

MAX_PAGE = 100


@strawberry.type(description="One event of an entity's history.")
class HistoryEntry:
    version: int
    topic: str
    occurred_at: datetime
    actor: str = strawberry.field(description="`staff:…`, `contact:…`, `system:<rule>` or "
                                              "`integration:<name>`.")


@strawberry.type
class HistoryQuery:
    @strawberry.field(description="The events of one entity (account, case, feedback, user...) "
                                  "in order, after version `after`, with their actors.")
    async def history(self, info: Info, entity_id: UUID, first: int = MAX_PAGE,
                      after: int = 0) -> list[HistoryEntry]:
        authorize(info.context.viewer, Action.READ_HISTORY)
        first = max(1, min(first, MAX_PAGE))
        # Read from the log, not a view: no view version tells the answer cache it is stale.
        info.context.uses_clock = True
        desk = info.context.services.desk

        def read() -> list[Any]:
            return list(desk.events.get(entity_id, gt=after or None, limit=first))

        events = await asyncio.to_thread(read)
        if not events and after == 0:
            raise NotFoundError(f"entity {entity_id} not found")
        return [HistoryEntry(version=e.originator_version, topic=get_topic(type(e)),
                             occurred_at=e.occurred_at, actor=e.actor) for e in events]
