"""Case commands: opening over the plan's channels, the life cycle, ratings and versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.application import RefusedChannelError
from domain.business_calendar import default_calendar
from domain.case import Case
from domain.errors import (
    ChannelNotAllowedError,
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
    VersionConflictError,
)
from domain.interaction import Interaction
from domain.service_plans import PLANS
from domain.values import Channel, Priority, Tier
from tests.unit.helpers import CLIENT, STAFF, START, events, head, nothing_written, topics

ALLOWED = [(t.value, c.value) for t, plan in PLANS.items() for c in Channel if plan.allows(c)]
REFUSED = [(t.value, c.value) for t, plan in PLANS.items() for c in Channel
           if not plan.allows(c)]


def open_case(desk, account_id, channel="email", priority="normal", **kwargs):
    return desk.open_case(account_id=account_id, channel=channel, subject="Cannot log in",
                          text="Hello, the login page says 500.", actor=CLIENT,
                          priority=priority, **kwargs)


@pytest.fixture
def case_id(desk, account_id):
    return open_case(desk, account_id).ids["caseId"]


def case(desk, case_id):
    return desk.repository.get(case_id)


# Opening over the plan's channels ---------------------------------------------------------


def test_the_channel_tables_cover_both_sides():
    assert len(ALLOWED) + len(REFUSED) == len(PLANS) * len(Channel)
    assert REFUSED, "some tier must refuse some channel"


@pytest.mark.parametrize(("tier", "channel"), ALLOWED)
def test_a_case_opens_on_every_channel_the_tier_allows(desk, open_account, tier, channel):
    account_id = open_account(tier=tier)

    result = open_case(desk, account_id, channel=channel)

    opened = case(desk, result.ids["caseId"])
    assert (opened.status, opened.channel, opened.line) == ("open", channel, 1)
    message = desk.repository.get(result.ids["interactionId"])
    assert isinstance(message, Interaction)
    assert (message.case_id, message.channel, message.direction) == (
        opened.id, channel, "inbound")
    assert message.channel_allowed is True
    assert topics(desk, after=1) == ["carelog:Case.Opened", "carelog:Interaction.Recorded"]
    assert result.notification_id == head(desk)


@pytest.mark.parametrize(("tier", "channel"), REFUSED)
def test_a_channel_outside_the_plan_is_refused_but_the_message_is_kept(
        desk, open_account, tier, channel):
    account_id = open_account(tier=tier)
    plan = PLANS[Tier(tier)]

    with pytest.raises(RefusedChannelError) as info:
        open_case(desk, account_id, channel=channel)

    error = info.value
    assert isinstance(error, ChannelNotAllowedError)
    assert error.code == "CHANNEL_NOT_ALLOWED"
    assert error.allowed == plan.channel_names()
    assert channel not in error.allowed
    assert error.message == plan.refusal(Channel(channel))
    message = desk.repository.get(error.result.ids["interactionId"])
    assert message.channel_allowed is False
    assert message.case_id is None
    assert error.result.notification_id == head(desk)
    assert topics(desk, after=1) == ["carelog:Interaction.Recorded"]


def test_a_standard_client_writing_on_telegram_is_told_its_channels(desk, account_id):
    with pytest.raises(RefusedChannelError) as info:
        open_case(desk, account_id, channel="telegram")

    assert info.value.allowed == ["email", "portal", "web_form", "api"]
    assert str(info.value) == ("The standard plan does not include telegram. "
                               "Please contact us by: email, portal, web_form, api.")


def test_the_case_is_named_by_its_opening_message(desk, account_id):
    result = open_case(desk, account_id)

    assert result.ids["caseId"] == Case.id_for(result.ids["interactionId"])


@pytest.mark.parametrize("tier", [t.value for t in Tier])
@pytest.mark.parametrize("priority", [p.value for p in Priority])
def test_sla_due_times_on_opening_count_the_plan_targets_in_business_hours(
        desk, open_account, tier, priority):
    account_id = open_account(tier=tier)
    targets = PLANS[Tier(tier)].targets[Priority(priority)]
    calendar = default_calendar(Tier(tier))

    open_case(desk, account_id, priority=priority)

    opened = events(desk, "carelog:Case.Opened")[0]
    assert opened.priority == priority
    assert opened.first_response_due == calendar.add(START, targets.first_response)
    assert opened.resolution_due == calendar.add(START, targets.resolution)


@pytest.mark.parametrize(("tier", "priority", "first_due", "resolution_due"), [
    # VIP is 24x7: wall-clock targets.
    ("vip", "urgent", datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
     datetime(2026, 3, 2, 13, 0, tzinfo=UTC)),
    # Mon 2 March 09:00 UTC is 10:00 in Berlin; office hours 09:00-18:00 Berlin (UTC+1).
    # 2 h -> Mon 12:00 Berlin; 24 h = Mon 8 h + Tue 9 h + Wed 7 h -> Wed 16:00 Berlin.
    ("enterprise", "high", datetime(2026, 3, 2, 11, 0, tzinfo=UTC),
     datetime(2026, 3, 4, 15, 0, tzinfo=UTC)),
    # 8 h -> Mon 18:00 Berlin, the end of that day's hours.
    ("business", "normal", datetime(2026, 3, 2, 17, 0, tzinfo=UTC), None),
])
def test_sla_due_times_of_known_plans(desk, open_account, tier, priority, first_due,
                                      resolution_due):
    account_id = open_account(tier=tier)

    open_case(desk, account_id, priority=priority)

    opened = events(desk, "carelog:Case.Opened")[0]
    assert opened.first_response_due == first_due
    if resolution_due is not None:
        assert opened.resolution_due == resolution_due


def test_sla_due_times_of_imported_history_run_from_its_own_time(desk, vip_account_id):
    then = START - timedelta(days=30)

    open_case(desk, vip_account_id, priority="urgent", occurred_at=then)

    opened = events(desk, "carelog:Case.Opened")[0]
    assert opened.occurred_at == then
    assert opened.first_response_due == then + timedelta(minutes=30)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("priority", "critical", "unknown priority 'critical'"),
    ("subject", " ", "subject must not be empty"),
    ("subject", "s" * 301, "subject is longer than 300"),
    ("topic", "t" * 101, "topic is longer than 100"),
])
def test_opening_with_a_bad_field_is_refused(desk, account_id, field, value, message):
    fields = {"channel": "email", "subject": "Help", "text": "Hello", "priority": "normal",
              field: value}
    with nothing_written(desk), pytest.raises(InvalidInputError, match=message):
        desk.open_case(account_id=account_id, actor=CLIENT, **fields)


# Assign and reply ---------------------------------------------------------------------------


def test_assigning_a_case_sets_its_assignee(desk, case_id):
    result = desk.assign_case(case_id=case_id, agent="Ann Agent", actor=STAFF)

    assert case(desk, case_id).assignee == "Ann Agent"
    assert result.version == 2


def test_assigning_the_same_agent_again_is_refused(desk, case_id):
    desk.assign_case(case_id=case_id, agent="Ann Agent", actor=STAFF)

    with nothing_written(desk), pytest.raises(InvalidStateError, match="already assigned"):
        desk.assign_case(case_id=case_id, agent="Ann Agent", actor=STAFF)


def test_a_reply_saves_the_outbound_message_and_the_replied_event_together(desk, case_id):
    before = head(desk)

    result = desk.reply_to_case(case_id=case_id, text="Please clear your cache.",
                                agent="Ann Agent", actor=STAFF)

    assert sorted(topics(desk, after=before)) == ["carelog:Case.Replied",
                                                  "carelog:Interaction.Recorded"]
    assert result.notification_id == head(desk) == before + 2
    assert result.version == 2
    message = desk.repository.get(result.ids["interactionId"])
    assert (message.direction, message.channel, message.case_id) == ("outbound", "email",
                                                                     case_id)
    replied = events(desk, "carelog:Case.Replied")[0]
    assert replied.interaction_id == result.ids["interactionId"]
    assert replied.agent == "Ann Agent"


def test_a_reply_may_go_out_on_another_channel(desk, vip_account_id):
    case_id = open_case(desk, vip_account_id, channel="telegram").ids["caseId"]

    result = desk.reply_to_case(case_id=case_id, text="Answered by mail.", agent="Ann",
                                actor=STAFF, channel="email")

    assert desk.repository.get(result.ids["interactionId"]).channel == "email"
    assert events(desk, "carelog:Case.Replied")[0].channel == "email"


def test_a_reply_dated_before_the_case_opened_is_refused(desk, case_id):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="before the case"):
        desk.reply_to_case(case_id=case_id, text="Hi", agent="Ann", actor=STAFF,
                           occurred_at=START - timedelta(minutes=1))


def test_a_reply_to_a_closed_case_is_refused(desk, case_id):
    desk.close_case(case_id=case_id, actor=STAFF)

    with nothing_written(desk), pytest.raises(InvalidStateError, match="closed") as info:
        desk.reply_to_case(case_id=case_id, text="Hi", agent="Ann", actor=STAFF)
    assert info.value.code == "INVALID_STATE"


def test_a_reply_without_an_agent_is_refused(desk, case_id):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="agent"):
        desk.reply_to_case(case_id=case_id, text="Hi", agent=" ", actor=STAFF)


# Escalation ------------------------------------------------------------------------------


def test_escalating_to_line_two_moves_the_case(desk, case_id):
    desk.escalate_case(case_id=case_id, reason="Needs an admin", actor=STAFF)

    escalated = case(desk, case_id)
    assert (escalated.line, escalated.department, escalated.escalated) == (2, None, True)
    assert events(desk, "carelog:Case.Escalated")[0].reason == "Needs an admin"


def test_escalating_to_a_department_keeps_the_line_asked_for(desk, case_id):
    desk.escalate_case(case_id=case_id, reason="Invoice wrong", line=1, department="Billing",
                       actor=STAFF)

    escalated = case(desk, case_id)
    assert (escalated.line, escalated.department, escalated.escalated) == (1, "Billing", True)


def test_escalating_twice_is_refused(desk, case_id):
    desk.escalate_case(case_id=case_id, reason="Needs an admin", actor=STAFF)

    with nothing_written(desk), pytest.raises(InvalidStateError, match="already escalated"):
        desk.escalate_case(case_id=case_id, reason="Again", department="Billing", actor=STAFF)


def test_escalating_to_the_same_line_without_a_department_is_refused(desk, case_id):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="higher line") as info:
        desk.escalate_case(case_id=case_id, reason="Hmm", line=1, actor=STAFF)
    assert info.value.code == "INVALID_INPUT"


@pytest.mark.parametrize("line", [0, 3, -1])
def test_escalating_to_a_line_that_does_not_exist_is_refused(desk, case_id, line):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="line must be 1 or 2"):
        desk.escalate_case(case_id=case_id, reason="Hmm", line=line, actor=STAFF)


def test_escalating_without_a_reason_is_refused(desk, case_id):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="reason"):
        desk.escalate_case(case_id=case_id, reason="  ", actor=STAFF)


def test_a_resolved_case_cannot_be_escalated(desk, case_id):
    desk.resolve_case(case_id=case_id, actor=STAFF)

    with nothing_written(desk), pytest.raises(InvalidStateError, match="only an open case"):
        desk.escalate_case(case_id=case_id, reason="Late", actor=STAFF)


def test_resolving_the_escalation_allows_another_one(desk, case_id):
    desk.escalate_case(case_id=case_id, reason="Needs an admin", actor=STAFF)

    desk.resolve_escalation(case_id=case_id, note="Admin fixed it", actor=STAFF)
    assert case(desk, case_id).escalated is False
    assert case(desk, case_id).line == 2

    desk.escalate_case(case_id=case_id, reason="Product bug", department="Product",
                       actor=STAFF)
    assert case(desk, case_id).department == "Product"


def test_resolving_an_escalation_that_is_not_there_is_refused(desk, case_id):
    with nothing_written(desk), pytest.raises(InvalidStateError, match="no open escalation"):
        desk.resolve_escalation(case_id=case_id, actor=STAFF)


# Resolve, reopen, close --------------------------------------------------------------------


def test_resolving_a_case_marks_it_resolved(desk, case_id):
    desk.resolve_case(case_id=case_id, resolution="Cache cleared", actor=STAFF)

    assert case(desk, case_id).status == "resolved"
    assert events(desk, "carelog:Case.Resolved")[0].resolution == "Cache cleared"


def test_resolving_twice_is_refused(desk, case_id):
    desk.resolve_case(case_id=case_id, actor=STAFF)

    with nothing_written(desk), pytest.raises(InvalidStateError, match="this one is resolved"):
        desk.resolve_case(case_id=case_id, actor=STAFF)


def test_a_resolved_case_can_be_reopened(desk, case_id):
    desk.resolve_case(case_id=case_id, actor=STAFF)

    desk.reopen_case(case_id=case_id, reason="Still broken", actor=CLIENT)

    assert case(desk, case_id).status == "open"


def test_an_open_case_cannot_be_reopened(desk, case_id):
    with nothing_written(desk), pytest.raises(InvalidStateError, match="only a resolved case"):
        desk.reopen_case(case_id=case_id, actor=CLIENT)


def test_a_closed_case_cannot_be_reopened(desk, case_id):
    desk.resolve_case(case_id=case_id, actor=STAFF)
    desk.close_case(case_id=case_id, actor=STAFF)

    with nothing_written(desk), pytest.raises(InvalidStateError, match="this one is closed"):
        desk.reopen_case(case_id=case_id, actor=CLIENT)


def test_closing_a_case_files_it_away(desk, case_id):
    desk.close_case(case_id=case_id, actor=STAFF)

    assert case(desk, case_id).status == "closed"


def test_closing_twice_is_refused(desk, case_id):
    desk.close_case(case_id=case_id, actor=STAFF)

    with nothing_written(desk), pytest.raises(InvalidStateError, match="closed"):
        desk.close_case(case_id=case_id, actor=STAFF)


def test_a_closed_case_cannot_be_assigned(desk, case_id):
    desk.close_case(case_id=case_id, actor=STAFF)

    with nothing_written(desk), pytest.raises(InvalidStateError, match="closed"):
        desk.assign_case(case_id=case_id, agent="Ann", actor=STAFF)


# Rating ----------------------------------------------------------------------------------


@pytest.fixture
def resolved_case_id(desk, case_id):
    desk.resolve_case(case_id=case_id, actor=STAFF)
    return case_id


@pytest.mark.parametrize("csat", [1, 2, 3, 4, 5])
def test_a_resolved_case_takes_a_csat_of_one_to_five(desk, resolved_case_id, csat):
    desk.rate_case(case_id=resolved_case_id, csat=csat, comment=" Quick! ", actor=CLIENT)

    rated = events(desk, "carelog:Case.Rated")[0]
    assert (rated.csat, rated.comment) == (csat, "Quick!")


@pytest.mark.parametrize("csat", [0, 6, -1, 10])
def test_a_csat_outside_one_to_five_is_refused(desk, resolved_case_id, csat):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="1 to 5") as info:
        desk.rate_case(case_id=resolved_case_id, csat=csat, actor=CLIENT)
    assert info.value.code == "INVALID_INPUT"


def test_a_fractional_csat_is_refused(desk, resolved_case_id):
    with nothing_written(desk), pytest.raises(InvalidInputError):
        desk.rate_case(case_id=resolved_case_id, csat=4.5, actor=CLIENT)


def test_an_open_case_cannot_be_rated(desk, case_id):
    with nothing_written(desk), pytest.raises(InvalidStateError, match="once it is resolved"):
        desk.rate_case(case_id=case_id, csat=5, actor=CLIENT)


def test_a_case_closed_without_resolution_cannot_be_rated(desk, case_id):
    desk.close_case(case_id=case_id, actor=STAFF)

    with nothing_written(desk), pytest.raises(InvalidStateError):
        desk.rate_case(case_id=case_id, csat=1, actor=CLIENT)


def test_a_case_resolved_then_closed_can_be_rated(desk, resolved_case_id):
    desk.close_case(case_id=resolved_case_id, actor=STAFF)

    desk.rate_case(case_id=resolved_case_id, csat=5, actor=CLIENT)

    assert events(desk, "carelog:Case.Rated")[0].csat == 5


def test_a_reopened_case_cannot_be_rated_until_resolved_again(desk, resolved_case_id):
    desk.reopen_case(case_id=resolved_case_id, actor=CLIENT)

    with nothing_written(desk), pytest.raises(InvalidStateError):
        desk.rate_case(case_id=resolved_case_id, csat=5, actor=CLIENT)


def test_a_blank_rating_comment_is_stored_as_none(desk, resolved_case_id):
    desk.rate_case(case_id=resolved_case_id, csat=4, comment="   ", actor=CLIENT)

    assert events(desk, "carelog:Case.Rated")[0].comment is None


def test_a_rating_comment_of_5000_characters_is_accepted(desk, resolved_case_id):
    desk.rate_case(case_id=resolved_case_id, csat=3, comment="x" * 5000, actor=CLIENT)

    assert len(events(desk, "carelog:Case.Rated")[0].comment) == 5000


def test_a_rating_comment_over_5000_characters_is_refused(desk, resolved_case_id):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="5000"):
        desk.rate_case(case_id=resolved_case_id, csat=3, comment="x" * 5001, actor=CLIENT)


# Versions --------------------------------------------------------------------------------


def test_a_command_at_the_version_read_succeeds(desk, case_id):
    seen = case(desk, case_id).version

    result = desk.assign_case(case_id=case_id, agent="Ann", actor=STAFF,
                              expected_version=seen)

    assert result.version == seen + 1


@pytest.mark.parametrize("second", [
    lambda desk, cid, v: desk.assign_case(case_id=cid, agent="Bob", actor=STAFF,
                                          expected_version=v),
    lambda desk, cid, v: desk.resolve_case(case_id=cid, actor=STAFF, expected_version=v),
    lambda desk, cid, v: desk.escalate_case(case_id=cid, reason="x", actor=STAFF,
                                            expected_version=v),
    lambda desk, cid, v: desk.close_case(case_id=cid, actor=STAFF, expected_version=v),
    lambda desk, cid, v: desk.reply_to_case(case_id=cid, text="Hi", agent="Bob", actor=STAFF,
                                            expected_version=v),
], ids=["assign", "resolve", "escalate", "close", "reply"])
def test_a_command_at_a_stale_version_is_a_version_conflict(desk, case_id, second):
    seen = case(desk, case_id).version
    desk.assign_case(case_id=case_id, agent="Ann", actor=STAFF)  # somebody else

    with nothing_written(desk), pytest.raises(VersionConflictError, match="version") as info:
        second(desk, case_id, seen)
    assert info.value.code == "VERSION_CONFLICT"
    assert case(desk, case_id).assignee == "Ann"


def test_a_version_from_the_future_is_a_version_conflict_too(desk, case_id):
    with nothing_written(desk), pytest.raises(VersionConflictError):
        desk.resolve_case(case_id=case_id, actor=STAFF, expected_version=7)


# Unknown ids -----------------------------------------------------------------------------


def test_a_command_on_an_unknown_case_is_not_found(desk):
    with nothing_written(desk), pytest.raises(NotFoundError, match=r"case .* not found") as info:
        desk.resolve_case(case_id=uuid4(), actor=STAFF)
    assert info.value.code == "NOT_FOUND"


def test_a_case_command_on_an_account_id_answers_like_a_missing_case(desk, account_id):
    with nothing_written(desk), pytest.raises(NotFoundError) as info:
        desk.assign_case(case_id=account_id, agent="Ann", actor=STAFF)
    assert info.value.message == f"case {account_id} not found"


def test_opening_a_case_for_an_unknown_account_is_not_found(desk):
    with nothing_written(desk), pytest.raises(NotFoundError, match="account"):
        open_case(desk, uuid4())
