"""The Feedback aggregate through CareDesk commands: one item per request, accounts joining,
merging, and Jira's news recorded once and in order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import pytest

from domain.application import CareDesk
from domain.errors import InvalidStateError, NotFoundError, VersionConflictError
from domain.feedback import Feedback
from integrations.clock import FakeClock
from tests.unit.helpers import STAFF, START, events, nothing_written, topics

JIRA = "integration:jira"


def submit(desk: CareDesk, account_id: UUID, **extra: object) -> UUID:
    result = desk.submit_feedback(account_id=account_id, product_area="Reporting",
                                  title="Export to Excel", text="Monthly reports as .xlsx",
                                  actor=STAFF, **extra)
    return result.ids["feedbackId"]


def test_submitting_records_one_event_with_actor_and_time(desk: CareDesk, account_id: UUID):
    feedback_id = submit(desk, account_id)

    (submitted,) = events(desk, "carelog:Feedback.Submitted")
    assert submitted.originator_id == feedback_id
    assert (submitted.actor, submitted.occurred_at) == (STAFF, START)
    assert submitted.account_id == account_id
    assert desk.feedback(feedback_id).status == "submitted"


def test_feedback_from_the_same_case_twice_is_one_item(desk: CareDesk, account_id: UUID):
    case = desk.open_case(account_id=account_id, channel="email", subject="Excel?",
                          text="Can we get Excel exports?", actor=STAFF)
    first = desk.submit_feedback(account_id=account_id, product_area="Reporting",
                                 title="Excel", text="Excel exports", actor=STAFF,
                                 case_id=case.ids["caseId"])
    again = desk.submit_feedback(account_id=account_id, product_area="reporting",
                                 title="Excel", text="Excel exports", actor=STAFF,
                                 case_id=case.ids["caseId"])

    assert again.duplicate
    assert again.ids == first.ids
    assert len(events(desk, "carelog:Feedback.Submitted")) == 1


def test_a_case_of_another_account_cannot_be_the_source(
        desk: CareDesk, account_id: UUID, open_account: Callable[..., UUID]):
    other = open_account(name="Other AG")
    case = desk.open_case(account_id=other, channel="email", subject="x", text="y", actor=STAFF)
    with nothing_written(desk), pytest.raises(NotFoundError):
        submit(desk, account_id, case_id=case.ids["caseId"])


def test_another_account_joins_instead_of_a_duplicate(
        desk: CareDesk, account_id: UUID, open_account: Callable[..., UUID]):
    feedback_id = submit(desk, account_id)
    other = open_account(name="Initech")

    desk.support_feedback(feedback_id=feedback_id, account_id=other, actor=STAFF, note="+1")
    repeated = desk.support_feedback(feedback_id=feedback_id, account_id=other, actor=STAFF)

    assert repeated.duplicate
    feedback = desk.feedback(feedback_id)
    assert feedback.accounts == [account_id, other]
    assert feedback.revision == 2


def test_merging_moves_the_accounts_and_retires_the_duplicate(
        desk: CareDesk, account_id: UUID, open_account: Callable[..., UUID]):
    keep = submit(desk, account_id)
    other = open_account(name="Initech")
    duplicate = submit(desk, other)

    desk.merge_feedback(feedback_id=duplicate, into_id=keep, actor=STAFF)

    assert desk.feedback(keep).accounts == [account_id, other]
    assert desk.feedback(duplicate).merged_into == keep
    assert not desk.feedback(duplicate).needs_sync
    with pytest.raises(InvalidStateError):
        desk.support_feedback(feedback_id=duplicate, account_id=account_id, actor=STAFF)


def test_the_create_intent_is_taken_once_per_version(desk: CareDesk, account_id: UUID):
    feedback_id = submit(desk, account_id)
    version = desk.feedback(feedback_id).version

    desk.attempt_jira_create(feedback_id=feedback_id, expected_version=version, actor=JIRA)
    with pytest.raises(VersionConflictError):  # a second reactor that read the same version
        desk.attempt_jira_create(feedback_id=feedback_id, expected_version=version, actor=JIRA)


def test_a_create_stays_in_doubt_for_the_reconcile_window(
        desk: CareDesk, account_id: UUID, clock: FakeClock):
    feedback_id = submit(desk, account_id)
    desk.attempt_jira_create(feedback_id=feedback_id,
                             expected_version=desk.feedback(feedback_id).version, actor=JIRA)
    window = timedelta(seconds=120)

    assert desk.feedback(feedback_id).create_in_doubt(clock.now(), window)
    assert not desk.feedback(feedback_id).create_in_doubt(clock.now() + window, window)


def test_a_refused_create_is_no_longer_in_doubt(desk: CareDesk, account_id: UUID,
                                               clock: FakeClock):
    feedback_id = submit(desk, account_id)
    desk.attempt_jira_create(feedback_id=feedback_id,
                             expected_version=desk.feedback(feedback_id).version, actor=JIRA)
    desk.fail_jira_create(feedback_id=feedback_id, error="503", actor=JIRA)

    assert not desk.feedback(feedback_id).create_in_doubt(clock.now(), timedelta(hours=1))


def test_linking_the_same_key_twice_records_it_once(desk: CareDesk, account_id: UUID):
    feedback_id = submit(desk, account_id)
    desk.link_jira_issue(feedback_id=feedback_id, key="FEED-1", revision=1, announced=1,
                         actor=JIRA)
    again = desk.link_jira_issue(feedback_id=feedback_id, key="FEED-1", revision=0,
                                 announced=1, actor=JIRA)

    assert again.duplicate
    assert len(events(desk, "carelog:Feedback.JiraIssueLinked")) == 1
    with pytest.raises(InvalidStateError):
        desk.link_jira_issue(feedback_id=feedback_id, key="FEED-2", revision=1, announced=1,
                             actor=JIRA)


def status(desk: CareDesk, feedback_id: UUID, delivery: str, value: str, at_minutes: int,
           status_id: str = "10001") -> bool:
    result = desk.record_jira_status(
        feedback_id=feedback_id, delivery=delivery, status=value, status_id=status_id,
        name="whatever the admins call it", changed_at=START + timedelta(minutes=at_minutes),
        actor=JIRA)
    return not result.duplicate


def test_a_repeated_delivery_is_recorded_once(desk: CareDesk, account_id: UUID):
    feedback_id = submit(desk, account_id)

    assert status(desk, feedback_id, "d-1", "in_progress", 1)
    assert not status(desk, feedback_id, "d-1", "in_progress", 1)
    assert len(events(desk, "carelog:Feedback.JiraStatusChanged")) == 1


def test_an_older_status_arriving_late_is_ignored(desk: CareDesk, account_id: UUID):
    feedback_id = submit(desk, account_id)
    status(desk, feedback_id, "d-2", "shipped", 10, "10002")

    assert not status(desk, feedback_id, "d-1", "in_progress", 5)
    assert desk.feedback(feedback_id).status == "shipped"


def test_shipping_prepares_a_message_for_every_requesting_accounts_manager(
        desk: CareDesk, account_id: UUID, open_account: Callable[..., UUID]):
    feedback_id = submit(desk, account_id)
    other = open_account(name="Initech", manager="Bo Manager")
    desk.support_feedback(feedback_id=feedback_id, account_id=other, actor=STAFF)
    before = len(topics(desk))

    status(desk, feedback_id, "d-1", "shipped", 1, "10002")
    status(desk, feedback_id, "d-2", "shipped", 2, "10002")  # still shipped: no second message

    messages = events(desk, "carelog:Feedback.OutcomeMessagePrepared")
    assert [(m.account_id, m.manager, m.outcome) for m in messages] == [
        (account_id, "Ann Manager", "shipped"), (other, "Bo Manager", "shipped")]
    assert "Export to Excel" in messages[0].message
    assert topics(desk, before)[0] == "carelog:Feedback.JiraStatusChanged"


def test_in_send_mode_the_outcome_is_posted_to_each_room_once(
        desk: CareDesk, account_id: UUID, open_account: Callable[..., UUID]):
    desk.send_feedback_outcomes = True
    feedback_id = submit(desk, account_id)
    other = open_account(name="Initech", manager="Bo Manager")
    desk.support_feedback(feedback_id=feedback_id, account_id=other, actor=STAFF)

    status(desk, feedback_id, "d-1", "shipped", 1, "10002")
    status(desk, feedback_id, "d-2", "shipped", 2, "10002")

    posts = events(desk, "carelog:Interaction.Recorded")
    assert [(p.account_id, p.channel, p.direction, p.sender) for p in posts] == [
        (account_id, "room", "outbound", "Carelog"), (other, "room", "outbound", "Carelog")]
    assert "Export to Excel" in posts[0].text


def test_a_comment_is_recorded_once(desk: CareDesk, account_id: UUID):
    feedback_id = submit(desk, account_id)
    for delivery in ("d-1", "d-2"):  # Jira retried with another delivery id
        desk.record_jira_comment(feedback_id=feedback_id, delivery=delivery, comment_id="c-1",
                                 author="Pat", body="Planned for Q3", created_at=START,
                                 actor=JIRA)

    assert len(events(desk, "carelog:Feedback.JiraCommented")) == 1


def test_event_topics_are_stable():
    assert Feedback.Submitted.TOPIC == "carelog:Feedback.Submitted"
