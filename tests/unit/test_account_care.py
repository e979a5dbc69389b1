"""Commands that feed health and revenue KPIs: touchpoints, usage, invoices, renewal, sentiment,
health model publications, alerts and goals. Refusals raise a `DomainError` and write nothing."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from domain.errors import InvalidInputError, InvalidStateError, NotFoundError
from domain.values import Money
from tests.unit.helpers import STAFF, START, events, nothing_written


@pytest.fixture
def account(desk):
    return desk.open_account(name="Acme", tier="enterprise", manager="Ann", currency="EUR",
                             actor=STAFF).ids["accountId"]


def _contact(desk, account, email, role):
    return desk.add_contact(account_id=account, name=email.split("@")[0], email=email,
                            role=role, actor=STAFF).ids["contactId"]


def test_a_touchpoint_keeps_the_roles_of_its_attendees_at_that_moment(desk, account):
    sponsor = _contact(desk, account, "ceo@acme.example", "executive_sponsor")
    user = _contact(desk, account, "dev@acme.example", "user")

    desk.log_touchpoint(account_id=account, kind="meeting", two_way=True,
                        contact_ids=[sponsor, user, sponsor], summary="QBR", actor=STAFF)

    logged = events(desk, "carelog:Account.TouchpointLogged")[0]
    assert logged.roles == ["executive_sponsor", "user"]
    assert logged.contact_ids == [sponsor, user]
    assert logged.two_way is True
    assert logged.kind == "meeting"


def test_a_touchpoint_with_a_stranger_or_an_unknown_kind_is_refused(desk, account):
    with nothing_written(desk), pytest.raises(NotFoundError):
        desk.log_touchpoint(account_id=account, kind="call", two_way=True,
                            contact_ids=[uuid4()], actor=STAFF)
    with nothing_written(desk), pytest.raises(InvalidInputError, match="touchpoint kind"):
        desk.log_touchpoint(account_id=account, kind="telepathy", two_way=True, actor=STAFF)


@pytest.mark.parametrize(("active", "seats", "message"), [
    (None, None, "active users, licensed seats or both"),
    (-1, 10, "active users"),
    (5, 0, "licensed seats"),
    (2.5, 10, "active users"),
])
def test_usage_reports_are_whole_non_negative_numbers(desk, account, active, seats, message):
    with nothing_written(desk), pytest.raises(InvalidInputError, match=message):
        desk.report_usage(account_id=account, active_users=active, licensed_seats=seats,
                          actor=STAFF)


def test_an_invoice_goes_from_issued_to_overdue_to_paid(desk, clock, account):
    issued = desk.issue_invoice(account_id=account, number="INV-1",
                                amount=Money(Decimal("1200.00"), "EUR"),
                                due_on=START.date() + timedelta(days=30), actor=STAFF)
    invoice = issued.ids["invoiceId"]

    with nothing_written(desk), pytest.raises(InvalidStateError, match="not due until"):
        desk.mark_invoice_overdue(account_id=account, invoice_id=invoice, actor=STAFF)
    clock.advance(timedelta(days=31))
    desk.mark_invoice_overdue(account_id=account, invoice_id=invoice, actor=STAFF)
    desk.mark_invoice_paid(account_id=account, invoice_id=invoice, actor=STAFF)

    with nothing_written(desk), pytest.raises(InvalidStateError, match="already paid"):
        desk.mark_invoice_paid(account_id=account, invoice_id=invoice, actor=STAFF)
    with nothing_written(desk), pytest.raises(InvalidStateError, match="already paid"):
        desk.record_payment_failure(account_id=account, invoice_id=invoice, reason="card",
                                    actor=STAFF)
    assert events(desk, "carelog:Account.InvoiceIssued")[0].due_on == date(2026, 4, 1)


@pytest.mark.parametrize(("number", "amount", "due_days", "message"), [
    ("INV-2", Money(Decimal("0"), "EUR"), 30, "positive"),
    ("INV-2", Money(Decimal("10"), "USD"), 30, "billed in EUR"),
    ("INV-2", Money(Decimal("10"), "EUR"), -1, "before it is issued"),
    ("  ", Money(Decimal("10"), "EUR"), 30, "invoice number"),
])
def test_bad_invoices_are_refused(desk, account, number, amount, due_days, message):
    with nothing_written(desk), pytest.raises(InvalidInputError, match=message):
        desk.issue_invoice(account_id=account, number=number, amount=amount,
                           due_on=START.date() + timedelta(days=due_days), actor=STAFF)


def test_an_invoice_number_is_issued_once(desk, account):
    kwargs = {"account_id": account, "number": "INV-7", "amount": Money(Decimal("5"), "EUR"),
              "due_on": START.date(), "actor": STAFF}
    first = desk.issue_invoice(**kwargs)
    with nothing_written(desk), pytest.raises(InvalidStateError, match="already been issued"):
        desk.issue_invoice(**kwargs)
    assert first.ids["invoiceId"] != uuid4()


def test_renewal_risk_must_change_and_be_known(desk, account):
    desk.set_renewal_risk(account_id=account, level="at_risk", note="budget cut", actor=STAFF)
    with nothing_written(desk), pytest.raises(InvalidStateError, match="already at_risk"):
        desk.set_renewal_risk(account_id=account, level="at_risk", actor=STAFF)
    with nothing_written(desk), pytest.raises(InvalidInputError, match="renewal risk"):
        desk.set_renewal_risk(account_id=account, level="doomed", actor=STAFF)
    with nothing_written(desk), pytest.raises(InvalidInputError, match="sentiment"):
        desk.set_sentiment(account_id=account, level="meh", actor=STAFF)
    with nothing_written(desk), pytest.raises(InvalidInputError, match="renewal likelihood"):
        desk.set_renewal(account_id=account, renews_on=date(2027, 1, 1), likelihood="sure",
                         actor=STAFF)


def test_a_contraction_request_names_an_amount_in_the_account_currency(desk, account):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="in EUR"):
        desk.request_contraction(account_id=account, reason="fewer seats",
                                 new_mrr=Money(Decimal("10"), "USD"), actor=STAFF)
    desk.request_contraction(account_id=account, reason="fewer seats",
                             new_mrr=Money(Decimal("800"), "EUR"), actor=STAFF)
    assert events(desk, "carelog:Account.ContractionRequested")[0].new_mrr == Decimal("800")


def test_alerts_are_raised_once_per_account_kind_and_day_then_acknowledged_and_resolved(
        desk, account):
    kwargs = {"account_id": account, "kind": "band_dropped", "day": START.date(),
              "score_before": 80, "score_after": 60, "band_before": "green",
              "band_after": "yellow", "drivers": [{"component": "C3", "pointsLost": 7.5}],
              "model_version": 1, "actor": "system:health-alerts"}
    raised = desk.raise_alert(**kwargs)
    again = desk.raise_alert(**kwargs)
    alert = raised.ids["alertId"]

    assert again.duplicate is True
    assert again.ids["alertId"] == alert
    assert events(desk, "carelog:Alert.Raised")[0].manager == "Ann"
    desk.acknowledge_alert(alert_id=alert, note="calling them", actor=STAFF)
    with nothing_written(desk), pytest.raises(InvalidStateError, match="acknowledged"):
        desk.acknowledge_alert(alert_id=alert, actor=STAFF)
    desk.resolve_alert(alert_id=alert, actor=STAFF)
    with nothing_written(desk), pytest.raises(InvalidStateError, match="already resolved"):
        desk.resolve_alert(alert_id=alert, actor=STAFF)


def test_goals_are_checked_revised_and_cancelled(desk):
    deadline = START.date() + timedelta(days=90)
    with nothing_written(desk), pytest.raises(InvalidInputError, match=r"0\.95, not 95"):
        desk.set_goal(title="Keep revenue", metric="grr", target=Decimal("95"),
                      deadline=deadline, owner="Ann", actor=STAFF)
    with nothing_written(desk), pytest.raises(InvalidInputError, match="in the future"):
        desk.set_goal(title="Keep revenue", metric="grr", target=Decimal("0.95"),
                      deadline=START.date(), owner="Ann", actor=STAFF)
    with nothing_written(desk), pytest.raises(InvalidInputError, match="goal metric"):
        desk.set_goal(title="Happy", metric="vibes", target=Decimal("1"), deadline=deadline,
                      owner="Ann", actor=STAFF)
    goal = desk.set_goal(title="Keep revenue", metric="grr", target=Decimal("0.95"),
                         deadline=deadline, owner="Ann", actor=STAFF).ids["goalId"]
    desk.revise_goal(goal_id=goal, target=Decimal("0.97"), deadline=deadline, actor=STAFF)
    desk.cancel_goal(goal_id=goal, reason="reorganised", actor=STAFF)
    with nothing_written(desk), pytest.raises(InvalidStateError, match="cancelled"):
        desk.revise_goal(goal_id=goal, target=Decimal("0.9"), deadline=deadline, actor=STAFF)
