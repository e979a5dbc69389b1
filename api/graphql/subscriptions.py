"""Root subscription fields: each listens to the view-change feed and re-reads its view.

The feed says which events a projector folded (in this process or, on NATS, in any other);
a subscriber re-reads the committed view, so what it sees is always what a query would see.
Each subscription answers first with the current state, then with every change: a client
needs no separate query and cannot miss a change between the two.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from uuid import UUID

import strawberry

from api.auth import Action, authorize
from api.graphql.context import Info
from api.graphql.feedback import FeedbackItem
from api.graphql.objects import Account, Case
from api.graphql.rooms import RoomMessage
from api.graphql.types import QueueSummary
from domain.errors import InvalidInputError, NotFoundError
from projections.portfolio import PortfolioView


@strawberry.type(description="The portfolio's views have folded the log up to `position`: "
                             "ask `portfolio(waitFor: position)` again.")
class PortfolioChange:
    position: int


@strawberry.type
class Subscription:
    @strawberry.subscription(description="The case each time it changes.")
    async def case_updated(self, info: Info, case_id: UUID) -> AsyncGenerator[Case, None]:
        services = info.context.services
        key = str(case_id)
        async with services.feed.listen(["case_queues"]) as changes:
            # Through the context's loader: for a client, another company's case is missing.
            row = await info.context.cases.load(key)
            if row is None:
                raise NotFoundError(f"case {case_id} not found")
            authorize(info.context.viewer, Action.READ_CASES, row["account_id"])
            yield Case.from_row(row)
            async for change in changes:
                if any(c.case_id == key for c in change.changes):
                    row = (await services.read(services.cases.get_many, [key])).get(key)
                    if row is not None:
                        yield Case.from_row(row)

    @strawberry.subscription(description="The account each time its view changes.")
    async def account_updated(self, info: Info,
                              account_id: UUID) -> AsyncGenerator[Account, None]:
        services = info.context.services
        key = str(account_id)
        authorize(info.context.viewer, Action.READ_ACCOUNTS, account_id)
        currency = services.settings.currency
        async with services.feed.listen(["accounts"]) as changes:
            row = (await services.read(services.accounts.get_many, [key])).get(key)
            if row is None:
                raise NotFoundError(f"account {account_id} not found")
            yield Account.from_row(row, currency)
            async for change in changes:
                if any(c.account_id == key for c in change.changes):
                    row = (await services.read(services.accounts.get_many, [key])).get(key)
                    if row is not None:
                        yield Account.from_row(row, currency)

    @strawberry.subscription(description="News for a live dashboard: the position of the views "
                                          "behind `portfolio` now, then after each change, at "
                                          "most once every `seconds` (changes in between are "
                                          "folded into one).")
    async def portfolio_changed(self, info: Info, seconds: float = 2.0
                                ) -> AsyncGenerator[PortfolioChange, None]:
        authorize(info.context.viewer, Action.READ_PORTFOLIO)
        if not 0.1 <= seconds <= 3600:
            raise InvalidInputError("seconds must be between 0.1 and 3600")
        services = info.context.services
        async with services.feed.listen(PortfolioView.projections) as changes:
            positions = await asyncio.to_thread(services.store.positions)
            latest = min(positions.get(n, 0) for n in PortfolioView.projections)
            yield PortfolioChange(position=latest)
            news = aiter(changes)
            pending = asyncio.ensure_future(anext(news))
            try:
                while True:
                    latest = max(latest, (await pending).position)
                    pending = asyncio.ensure_future(anext(news))
                    quiet_until = time.monotonic() + seconds
                    while (left := quiet_until - time.monotonic()) > 0:
                        done, _ = await asyncio.wait({pending}, timeout=left)
                        if not done:
                            break
                        latest = max(latest, pending.result().position)
                        pending = asyncio.ensure_future(anext(news))
                    yield PortfolioChange(position=latest)
            finally:
                pending.cancel()

    @strawberry.subscription(description="A support line's queue each time a case moves.")
    async def queue_changed(self, info: Info, line: int) -> AsyncGenerator[QueueSummary, None]:
        services = info.context.services
        authorize(info.context.viewer, Action.WORK_CASES)
        async with services.feed.listen(["case_queues"]) as changes:
            yield await _queue(info, line)
            async for change in changes:
                if any(c.topic.startswith("carelog:Case.") for c in change.changes):
                    yield await _queue(info, line)

    @strawberry.subscription(description="Feedback items as they change on the board (one item "
                                          "with `feedbackId`, starting with its current state).")
    async def feedback_changed(self, info: Info, feedback_id: UUID | None = None
                               ) -> AsyncGenerator[FeedbackItem, None]:
        services = info.context.services
        authorize(info.context.viewer, Action.READ_FEEDBACK)
        currency = services.settings.currency
        async with services.feed.listen(["feedback_board"]) as changes:
            if feedback_id is not None:
                key = str(feedback_id)
                row = (await services.read(services.feedback.get_many, [key])).get(key)
                if row is None:
                    raise NotFoundError(f"feedback {feedback_id} not found")
                yield FeedbackItem.from_row(row, currency)
            async for change in changes:
                ids = sorted({c.aggregate_id for c in change.changes
                              if c.topic.startswith("carelog:Feedback.")
                              and (feedback_id is None or c.aggregate_id == str(feedback_id))})
                rows = await services.read(services.feedback.get_many, ids)
                for ident in ids:
                    if ident in rows:
                        yield FeedbackItem.from_row(rows[ident], currency)

    @strawberry.subscription(description="A room's messages as they arrive or change (edits, "
                                          "delivery); with `after` (a notificationId) it first "
                                          "sends what came after it, so nothing is missed.")
    async def room_events(self, info: Info, account_id: UUID,
                          after: int | None = None) -> AsyncGenerator[RoomMessage, None]:
        services = info.context.services
        key = str(account_id)
        authorize(info.context.viewer, Action.READ_CASES, account_id)
        staff = info.context.viewer.account_id is None
        async with services.feed.listen(["rooms"]) as changes:
            if await services.read(services.accounts.get_many, [key]) == {}:
                raise NotFoundError(f"account {account_id} not found")
            if after is None:
                room = await services.read(services.rooms.room, key, "")
                after = room["last_position"] if room else 0
            seen = after
            for row in await services.read(services.rooms.messages_after, key, seen, 500,
                                           staff):
                seen = max(seen, row["position"])
                yield RoomMessage.from_row(row)
            async for change in changes:
                mine = [c for c in change.changes if c.account_id == key]
                if not mine:
                    continue
                fresh = await services.read(services.rooms.messages_after, key, seen, 500,
                                            staff)
                changed = await services.read(services.rooms.get_many, sorted(
                    {c.aggregate_id for c in mine if c.topic.startswith("carelog:Interaction.")
                     and c.topic != "carelog:Interaction.Recorded"}))
                for row in fresh:
                    seen = max(seen, row["position"])
                    changed.pop(row["id"], None)
                    yield RoomMessage.from_row(row)
                for row in changed.values():
                    if staff or row["kind"] == "message":
                        yield RoomMessage.from_row(row)


async def _queue(info: Info, line: int) -> QueueSummary:
    services = info.context.services
    summaries = await services.read(services.cases.queue_summary)
    return next((QueueSummary.from_row(r) for r in summaries if r["line"] == line),
                QueueSummary(line=line, open_count=0, unassigned=0, escalated=0,
                             oldest_opened_at=None))
