"""Root mutation fields: one per CareDesk command, each answering with a `CommandResult`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import strawberry

from api.auth import Action, authorize
from api.graphql.context import Info
from api.graphql.types import Channel, CommandResult, ContactRole, Direction, Priority, Tier
from domain import application
from domain.errors import NotFoundError
from domain.values import Money


async def _run(info: Info, action: Action, scope: UUID | None,
               command: Callable[..., application.CommandResult], **kwargs: Any) -> CommandResult:
    """Authorize `action` on the account `scope`, then run the command as the viewer."""
    viewer = info.context.viewer
    authorize(viewer, action, scope)
    if viewer.account_id is not None and scope is None:
        # A client's write always names its own account; nothing unscoped is theirs to change.
        raise NotFoundError("not found")
    result = await info.context.services.command(command, actor=viewer.actor, **kwargs)
    ids = result.ids
    return CommandResult(
        notification_id=result.notification_id, version=result.version,
        duplicate=result.duplicate, account_id=ids.get("accountId"), case_id=ids.get("caseId"),
        interaction_id=ids.get("interactionId"), contact_id=ids.get("contactId"),
        invoice_id=ids.get("invoiceId"), alert_id=ids.get("alertId"), goal_id=ids.get("goalId"),
        survey_response_id=ids.get("surveyResponseId"), feedback_id=ids.get("feedbackId"),
        model_version=result.extra.get("modelVersion"),
        article_id=ids.get("articleId"), announcement_id=ids.get("announcementId"),
        answered=result.extra.get("answered"))


async def _case_account(info: Info, case_id: UUID) -> UUID | None:
    """The account a case belongs to, for authorization (None when the view lacks the case).

    For a client, another company's case loads as missing: `_run` then answers NOT_FOUND."""
    row = await info.context.cases.load(str(case_id))
    return UUID(row["account_id"]) if row else None


def _v(enum_value: Any) -> str | None:
    return None if enum_value is None else str(enum_value.value)


@strawberry.input
class OpenAccountInput:
    name: str
    tier: Tier
    manager: str
    currency: str = "EUR"
    external_ref: str | None = strawberry.field(
        default=None, description="A key in another system; reopening with it is idempotent.")
    occurred_at: datetime | None = None


@strawberry.input
class OpenCaseInput:
    account_id: UUID
    channel: Channel
    subject: str
    text: str
    priority: Priority = Priority.NORMAL
    topic: str | None = None
    contact_id: UUID | None = None
    sender: str | None = None
    external_message_id: str | None = strawberry.field(
        default=None, description="The channel's own message id; a redelivery is a duplicate.")
    occurred_at: datetime | None = None


@strawberry.input
class RecordInteractionInput:
    account_id: UUID
    channel: Channel
    direction: Direction
    text: str
    case_id: UUID | None = None
    contact_id: UUID | None = None
    sender: str | None = None
    external_message_id: str | None = None
    occurred_at: datetime | None = None


@strawberry.input
class SubmitFeedbackInput:
    account_id: UUID
    product_area: str
    title: str
    text: str
    case_id: UUID | None = strawberry.field(
        default=None, description="The case it came from; submitting it again is a duplicate.")
    interaction_id: UUID | None = strawberry.field(
        default=None, description="The message it came from, when not a case.")
    occurred_at: datetime | None = None


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def open_account(self, info: Info, input: OpenAccountInput) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, None, desk.open_account,
                          name=input.name, tier=_v(input.tier), manager=input.manager,
                          currency=input.currency, external_ref=input.external_ref,
                          occurred_at=input.occurred_at)

    @strawberry.mutation
    async def record_revenue(self, info: Info, account_id: UUID, period: str, mrr: Decimal,
                             currency: str, occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.record_revenue,
                          account_id=account_id, period=period, mrr=Money(mrr, currency),
                          occurred_at=occurred_at)

    @strawberry.mutation
    async def change_tier(self, info: Info, account_id: UUID, tier: Tier,
                          occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.change_tier,
                          account_id=account_id, tier=_v(tier), occurred_at=occurred_at)

    @strawberry.mutation
    async def assign_manager(self, info: Info, account_id: UUID, manager: str,
                             occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.assign_manager,
                          account_id=account_id, manager=manager, occurred_at=occurred_at)

    @strawberry.mutation
    async def add_contact(self, info: Info, account_id: UUID, name: str, email: str,
                          role: ContactRole = ContactRole.USER, phone: str | None = None,
                          occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.add_contact,
                          account_id=account_id, name=name, email=email, role=_v(role),
                          phone=phone, occurred_at=occurred_at)

    @strawberry.mutation
    async def change_contact_role(self, info: Info, account_id: UUID, contact_id: UUID,
                                  role: ContactRole,
                                  occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.change_contact_role,
                          account_id=account_id, contact_id=contact_id, role=_v(role),
                          occurred_at=occurred_at)

    @strawberry.mutation
    async def remove_contact(self, info: Info, account_id: UUID, contact_id: UUID,
                             occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.remove_contact,
                          account_id=account_id, contact_id=contact_id, occurred_at=occurred_at)

    @strawberry.mutation
    async def churn_account(self, info: Info, account_id: UUID, reason: str,
                            occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.churn_account,
                          account_id=account_id, reason=reason, occurred_at=occurred_at)

    @strawberry.mutation(description="Open a case from a client's first message on a channel.")
    async def open_case(self, info: Info, input: OpenCaseInput) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.SUBMIT_REQUESTS, input.account_id, desk.open_case,
                          account_id=input.account_id, channel=_v(input.channel),
                          subject=input.subject, text=input.text, priority=_v(input.priority),
                          topic=input.topic, contact_id=input.contact_id, sender=input.sender,
                          external_message_id=input.external_message_id,
                          occurred_at=input.occurred_at)

    @strawberry.mutation
    async def record_interaction(self, info: Info,
                                 input: RecordInteractionInput) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.SUBMIT_REQUESTS, input.account_id,
                          desk.record_interaction, account_id=input.account_id,
                          channel=_v(input.channel), direction=_v(input.direction),
                          text=input.text, case_id=input.case_id, contact_id=input.contact_id,
                          sender=input.sender, external_message_id=input.external_message_id,
                          occurred_at=input.occurred_at)

    @strawberry.mutation(description="Answer the client, by default on the case's own channel.")
    async def reply_to_case(self, info: Info, case_id: UUID, text: str,
                            channel: Channel | None = None,
                            external_message_id: str | None = None,
                            expected_version: int | None = None,
                            occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_CASES, await _case_account(info, case_id),
                          desk.reply_to_case, case_id=case_id, text=text,
                          agent=info.context.viewer.subject, channel=_v(channel),
                          external_message_id=external_message_id,
                          expected_version=expected_version, occurred_at=occurred_at)

    @strawberry.mutation
    async def assign_case(self, info: Info, case_id: UUID, agent: str,
                          expected_version: int | None = None,
                          occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_CASES, await _case_account(info, case_id),
                          desk.assign_case, case_id=case_id, agent=agent,
                          expected_version=expected_version, occurred_at=occurred_at)

    @strawberry.mutation(description="Hand the case to line 2 or to a department, with a reason.")
    async def escalate_case(self, info: Info, case_id: UUID, reason: str, line: int = 2,
                            department: str | None = None, expected_version: int | None = None,
                            occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_CASES, await _case_account(info, case_id),
                          desk.escalate_case, case_id=case_id, reason=reason, line=line,
                          department=department, expected_version=expected_version,
                          occurred_at=occurred_at)

    @strawberry.mutation
    async def resolve_escalation(self, info: Info, case_id: UUID, note: str = "",
                                 expected_version: int | None = None,
                                 occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_CASES, await _case_account(info, case_id),
                          desk.resolve_escalation, case_id=case_id, note=note,
                          expected_version=expected_version, occurred_at=occurred_at)

    @strawberry.mutation(description="The client's question is answered.")
    async def resolve_case(self, info: Info, case_id: UUID, resolution: str = "",
                           expected_version: int | None = None,
                           occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_CASES, await _case_account(info, case_id),
                          desk.resolve_case, case_id=case_id, resolution=resolution,
                          expected_version=expected_version, occurred_at=occurred_at)

    @strawberry.mutation
    async def reopen_case(self, info: Info, case_id: UUID, reason: str = "",
                          expected_version: int | None = None,
                          occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.SUBMIT_REQUESTS, await _case_account(info, case_id),
                          desk.reopen_case, case_id=case_id, reason=reason,
                          expected_version=expected_version, occurred_at=occurred_at)

    @strawberry.mutation
    async def close_case(self, info: Info, case_id: UUID, expected_version: int | None = None,
                         occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_CASES, await _case_account(info, case_id),
                          desk.close_case, case_id=case_id, expected_version=expected_version,
                          occurred_at=occurred_at)

    @strawberry.mutation(description="The client's satisfaction, 1 (very unhappy) to 5.")
    async def rate_case(self, info: Info, case_id: UUID, csat: int, comment: str | None = None,
                        expected_version: int | None = None,
                        occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.SUBMIT_REQUESTS, await _case_account(info, case_id),
                          desk.rate_case, case_id=case_id, csat=csat, comment=comment,
                          expected_version=expected_version, occurred_at=occurred_at)

    @strawberry.mutation(description="A contact's answer to an NPS survey: 0 (not at all likely "
                                      "to recommend us) to 10. Answering the same survey again "
                                      "is a duplicate.")
    async def record_nps(self, info: Info, account_id: UUID, contact_id: UUID, score: int,
                         survey: str, comment: str | None = None,
                         occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.SUBMIT_REQUESTS, account_id, desk.record_nps,
                          account_id=account_id, contact_id=contact_id, score=score,
                          survey=survey, comment=comment, occurred_at=occurred_at)
    @strawberry.mutation(description="Turn a case or a message into product feedback.")
    async def submit_feedback(self, info: Info, input: SubmitFeedbackInput) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_FEEDBACK, input.account_id, desk.submit_feedback,
                          account_id=input.account_id, product_area=input.product_area,
                          title=input.title, text=input.text, case_id=input.case_id,
                          interaction_id=input.interaction_id, occurred_at=input.occurred_at)

    @strawberry.mutation(description="Add an account to existing feedback instead of a "
                                     "duplicate; its Jira issue is updated.")
    async def support_feedback(self, info: Info, feedback_id: UUID, account_id: UUID,
                               case_id: UUID | None = None, interaction_id: UUID | None = None,
                               note: str = "",
                               occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_FEEDBACK, account_id, desk.support_feedback,
                          feedback_id=feedback_id, account_id=account_id, case_id=case_id,
                          interaction_id=interaction_id, note=note, occurred_at=occurred_at)

    @strawberry.mutation(description="Fold a duplicate into other feedback; its accounts join.")
    async def merge_feedback(self, info: Info, feedback_id: UUID, into_id: UUID,
                             occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_FEEDBACK, None, desk.merge_feedback,
                          feedback_id=feedback_id, into_id=into_id, occurred_at=occurred_at)

    @strawberry.mutation(description="Write the Jira issue again from Carelog's record.")
    async def resync_feedback(self, info: Info, feedback_id: UUID,
                              occurred_at: datetime | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_FEEDBACK, None, desk.resync_feedback,
                          feedback_id=feedback_id, occurred_at=occurred_at)
