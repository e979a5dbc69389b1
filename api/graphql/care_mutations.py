"""Mutations that feed key-account health and revenue KPIs: relationship, usage, billing,
renewal, the health model, alerts and goals. Merged with `Mutation` into one root type."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from api.auth import Action
from api.graphql.context import Info
from api.graphql.mutations import _case_account, _run, _v
from api.graphql.types import (
    CommandResult,
    Priority,
    RenewalLikelihood,
    RenewalRisk,
    Sentiment,
    TouchpointKind,
)
from domain.errors import InvalidInputError
from domain.goal import GoalMetric
from domain.values import Money

strawberry.enum(GoalMetric)


@strawberry.type
class CareMutation:
    @strawberry.mutation(description="The case waits on the client: its resolution clock "
                                     "stands still until the client answers or it resumes.")
    async def wait_on_client(self, info: Info, case_id: UUID, reason: str = "",
                             expected_version: int | None = None,
                             occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_CASES, await _case_account(info, case_id),
                          desk.wait_on_client, case_id=case_id, reason=reason,
                          expected_version=expected_version, occurred_at=occurred_at)

    @strawberry.mutation
    async def resume_case(self, info: Info, case_id: UUID, reason: str = "",
                          expected_version: int | None = None,
                          occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_CASES, await _case_account(info, case_id),
                          desk.resume_case, case_id=case_id, reason=reason,
                          expected_version=expected_version, occurred_at=occurred_at)

    @strawberry.mutation(description="New SLA targets from the plan, counted from the opening.")
    async def change_priority(self, info: Info, case_id: UUID, priority: Priority,
                              expected_version: int | None = None,
                              occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_CASES, await _case_account(info, case_id),
                          desk.change_priority, case_id=case_id, priority=_v(priority),
                          expected_version=expected_version, occurred_at=occurred_at)

    @strawberry.mutation(description="Business hours SLA targets count in: {zone, hours: "
                                     "{mon: [\"09:00-18:00\"], ...}, holidays: [dates]}.")
    async def set_calendar(self, info: Info, account_id: UUID, calendar: JSON,
                           occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.set_calendar,
                          account_id=account_id, document=_object(calendar, "calendar"),
                          occurred_at=occurred_at)

    @strawberry.mutation(description="A meeting, call or exchange; attendees' roles are kept.")
    async def log_touchpoint(self, info: Info, account_id: UUID, kind: TouchpointKind,
                             two_way: bool, contact_ids: list[UUID] | None = None,
                             summary: str = "",
                             occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_CASES, account_id, desk.log_touchpoint,
                          account_id=account_id, kind=_v(kind), two_way=two_way,
                          contact_ids=contact_ids, summary=summary, occurred_at=occurred_at)

    @strawberry.mutation
    async def report_usage(self, info: Info, account_id: UUID, active_users: int | None = None,
                           licensed_seats: int | None = None,
                           occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.report_usage,
                          account_id=account_id, active_users=active_users,
                          licensed_seats=licensed_seats, occurred_at=occurred_at)

    @strawberry.mutation
    async def issue_invoice(self, info: Info, account_id: UUID, number: str, amount: Decimal,
                            currency: str, due_on: date,
                            occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.issue_invoice,
                          account_id=account_id, number=number, amount=Money(amount, currency),
                          due_on=due_on, occurred_at=occurred_at)

    @strawberry.mutation
    async def mark_invoice_paid(self, info: Info, account_id: UUID, invoice_id: UUID,
                                occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.mark_invoice_paid,
                          account_id=account_id, invoice_id=invoice_id, occurred_at=occurred_at)

    @strawberry.mutation
    async def mark_invoice_overdue(self, info: Info, account_id: UUID, invoice_id: UUID,
                                   occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.mark_invoice_overdue,
                          account_id=account_id, invoice_id=invoice_id, occurred_at=occurred_at)

    @strawberry.mutation
    async def record_payment_failure(self, info: Info, account_id: UUID, reason: str,
                                     invoice_id: UUID | None = None,
                                     occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.record_payment_failure,
                          account_id=account_id, reason=reason, invoice_id=invoice_id,
                          occurred_at=occurred_at)

    @strawberry.mutation
    async def request_contraction(self, info: Info, account_id: UUID, reason: str,
                                  new_mrr: Decimal | None = None, currency: str | None = None,
                                  occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        requested = None if new_mrr is None else Money(new_mrr, currency or "")
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.request_contraction,
                          account_id=account_id, reason=reason, new_mrr=requested,
                          occurred_at=occurred_at)

    @strawberry.mutation
    async def set_renewal(self, info: Info, account_id: UUID, renews_on: date,
                          likelihood: RenewalLikelihood | None = None,
                          occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.set_renewal,
                          account_id=account_id, renews_on=renews_on,
                          likelihood=_v(likelihood), occurred_at=occurred_at)

    @strawberry.mutation(description="at_risk and churn_notice cap the account's health at red.")
    async def set_renewal_risk(self, info: Info, account_id: UUID, level: RenewalRisk,
                               note: str = "",
                               occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.set_renewal_risk,
                          account_id=account_id, level=_v(level), note=note,
                          occurred_at=occurred_at)

    @strawberry.mutation(description="The manager's own reading, shown beside the score.")
    async def set_sentiment(self, info: Info, account_id: UUID, level: Sentiment,
                            note: str = "",
                            occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.set_sentiment,
                          account_id=account_id, level=_v(level), note=note,
                          occurred_at=occurred_at)

    @strawberry.mutation(description="Publish the next health model version (weights, "
                                     "thresholds, gates, bands); history is recomputed under it.")
    async def publish_health_model(self, info: Info, document: JSON, note: str = "",
                                   occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_HEALTH_MODEL, None, desk.publish_health_model,
                          document=_object(document, "health model document"), note=note,
                          occurred_at=occurred_at)

    @strawberry.mutation
    async def acknowledge_alert(self, info: Info, alert_id: UUID, note: str = "",
                                occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.HANDLE_ALERTS, None, desk.acknowledge_alert,
                          alert_id=alert_id, note=note, occurred_at=occurred_at)

    @strawberry.mutation
    async def resolve_alert(self, info: Info, alert_id: UUID, note: str = "",
                            occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.HANDLE_ALERTS, None, desk.resolve_alert,
                          alert_id=alert_id, note=note, occurred_at=occurred_at)

    @strawberry.mutation(description="Ratios as fractions (0.95), health as points, money in "
                                     "the reporting currency.")
    async def set_goal(self, info: Info, title: str, metric: GoalMetric, target: Decimal,
                       deadline: date, owner: str | None = None,
                       occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_GOALS, None, desk.set_goal, title=title,
                          metric=_v(metric), target=target, deadline=deadline,
                          owner=owner or info.context.viewer.subject, occurred_at=occurred_at)

    @strawberry.mutation
    async def revise_goal(self, info: Info, goal_id: UUID, target: Decimal, deadline: date,
                          occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_GOALS, None, desk.revise_goal, goal_id=goal_id,
                          target=target, deadline=deadline, occurred_at=occurred_at)

    @strawberry.mutation
    async def cancel_goal(self, info: Info, goal_id: UUID, reason: str,
                          occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_GOALS, None, desk.cancel_goal, goal_id=goal_id,
                          reason=reason, occurred_at=occurred_at)


def _object(document: object, what: str) -> dict[str, object]:
    if not isinstance(document, dict):
        raise InvalidInputError(f"the {what} must be a JSON object")
    return document
