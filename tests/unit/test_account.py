"""Account commands: opening, revenue, tier, manager, contacts and churn.

Every refusal must raise the right `DomainError` subclass with its stable `code` and append
nothing to the log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from domain.account import Account
from domain.errors import InvalidInputError, InvalidStateError, NotFoundError
from domain.values import Money
from tests.unit.helpers import CLIENT, STAFF, START, events, head, nothing_written, topics

# Opening ---------------------------------------------------------------------------------


def test_opening_an_account_records_one_opened_event_with_its_actor_and_time(desk):
    result = desk.open_account(name="  Acme   GmbH ", tier="business", manager="Ann",
                               currency="EUR", actor=STAFF)

    assert result.duplicate is False
    assert result.notification_id == head(desk) == 1
    assert topics(desk) == ["carelog:Account.Opened"]
    opened = events(desk, "carelog:Account.Opened")[0]
    assert opened.originator_id == result.ids["accountId"]
    assert (opened.name, opened.tier, opened.currency) == ("Acme GmbH", "business", "EUR")
    assert opened.actor == STAFF
    assert opened.occurred_at == START


def test_an_external_ref_gives_the_account_a_stable_id(desk):
    result = desk.open_account(name="Acme", tier="standard", manager="Ann", currency="EUR",
                               actor=STAFF, external_ref="crm-42")

    assert result.ids["accountId"] == Account.id_for("crm-42")
    assert Account.id_for("crm-42") != Account.id_for("crm-43")


def test_opening_twice_with_the_same_external_ref_is_a_duplicate_and_writes_nothing(desk):
    first = desk.open_account(name="Acme", tier="standard", manager="Ann", currency="EUR",
                              actor=STAFF, external_ref="crm-42")

    with nothing_written(desk):
        again = desk.open_account(name="Acme renamed", tier="vip", manager="Bob",
                                  currency="EUR", actor=STAFF, external_ref="crm-42")

    assert again.duplicate is True
    assert again.ids == first.ids
    assert desk.repository.get(first.ids["accountId"]).name == "Acme"


def test_opening_without_external_ref_twice_makes_two_accounts(desk):
    a = desk.open_account(name="Acme", tier="standard", manager="Ann", currency="EUR",
                          actor=STAFF)
    b = desk.open_account(name="Acme", tier="standard", manager="Ann", currency="EUR",
                          actor=STAFF)

    assert a.ids["accountId"] != b.ids["accountId"]
    assert head(desk) == 2


def test_opening_in_a_currency_without_a_configured_rate_is_refused(desk):
    with nothing_written(desk), pytest.raises(InvalidInputError, match=r"'CHF'.*EUR, USD") as info:
        desk.open_account(name="Acme", tier="standard", manager="Ann", currency="CHF",
                          actor=STAFF)
    assert info.value.code == "INVALID_INPUT"


def test_opening_with_an_unknown_tier_is_refused(desk):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="unknown tier 'gold'"):
        desk.open_account(name="Acme", tier="gold", manager="Ann", currency="EUR", actor=STAFF)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "   ", "name must not be empty"),
    ("name", "x" * 201, "name is longer than 200"),
    ("manager", "", "manager must not be empty"),
    ("external_ref", " ", "external reference must not be empty"),
])
def test_opening_with_a_blank_or_oversized_text_is_refused(desk, field, value, message):
    fields = {"name": "Acme", "tier": "standard", "manager": "Ann", "currency": "EUR",
              field: value}
    with nothing_written(desk), pytest.raises(InvalidInputError, match=message):
        desk.open_account(actor=STAFF, **fields)


# Business time ---------------------------------------------------------------------------


def test_a_past_occurred_at_is_kept_as_the_business_time(desk):
    past = START - timedelta(days=400)
    result = desk.open_account(name="Acme", tier="standard", manager="Ann", currency="EUR",
                               actor=STAFF, occurred_at=past)

    assert desk.repository.get(result.ids["accountId"]).version == 1
    assert events(desk, "carelog:Account.Opened")[0].occurred_at == past


def test_a_naive_occurred_at_is_refused(desk):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="timezone"):
        desk.open_account(name="Acme", tier="standard", manager="Ann", currency="EUR",
                          actor=STAFF, occurred_at=datetime(2026, 3, 1, 9, 0))


def test_an_occurred_at_in_the_future_is_refused(desk):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="future"):
        desk.open_account(name="Acme", tier="standard", manager="Ann", currency="EUR",
                          actor=STAFF, occurred_at=START + timedelta(hours=1))


def test_a_few_minutes_of_clock_skew_is_tolerated(desk):
    desk.open_account(name="Acme", tier="standard", manager="Ann", currency="EUR",
                      actor=STAFF, occurred_at=START + timedelta(minutes=4))

    assert head(desk) == 1


# Revenue ---------------------------------------------------------------------------------


def test_recorded_revenue_is_kept_per_period(desk, account_id):
    desk.record_revenue(account_id=account_id, period="2026-01",
                        mrr=Money(Decimal("1000.50"), "EUR"), actor=STAFF)
    desk.record_revenue(account_id=account_id, period="2026-02",
                        mrr=Money(Decimal("0"), "EUR"), actor=STAFF)

    account = desk.repository.get(account_id)
    assert account.revenue == {"2026-01": Decimal("1000.50"), "2026-02": Decimal("0")}
    recorded = events(desk, "carelog:Account.RevenueRecorded")
    assert [(e.period, e.mrr, e.currency) for e in recorded] == [
        ("2026-01", Decimal("1000.50"), "EUR"), ("2026-02", Decimal("0"), "EUR")]


@pytest.mark.parametrize("period", ["2026-1", "2026-13", "2026-00", "26-01", "2026/01",
                                    "2026-01-01", "", "January 2026"])
def test_revenue_for_a_period_not_in_yyyy_mm_form_is_refused(desk, account_id, period):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="YYYY-MM") as info:
        desk.record_revenue(account_id=account_id, period=period,
                            mrr=Money(Decimal("10"), "EUR"), actor=STAFF)
    assert info.value.code == "INVALID_INPUT"


def test_negative_revenue_is_refused(desk, account_id):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="negative"):
        desk.record_revenue(account_id=account_id, period="2026-01",
                            mrr=Money(Decimal("-0.01"), "EUR"), actor=STAFF)


def test_revenue_in_another_currency_than_the_account_is_refused(desk, account_id):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="billed in EUR"):
        desk.record_revenue(account_id=account_id, period="2026-01",
                            mrr=Money(Decimal("10"), "USD"), actor=STAFF)


def test_revenue_of_an_unknown_account_is_not_found(desk):
    with nothing_written(desk), pytest.raises(NotFoundError) as info:
        desk.record_revenue(account_id=uuid4(), period="2026-01",
                            mrr=Money(Decimal("10"), "EUR"), actor=STAFF)
    assert info.value.code == "NOT_FOUND"


# Tier and manager ------------------------------------------------------------------------


def test_changing_the_tier_records_the_new_tier(desk, account_id):
    result = desk.change_tier(account_id=account_id, tier="vip", actor=STAFF)

    assert result.version == 2
    assert desk.repository.get(account_id).tier == "vip"
    assert events(desk, "carelog:Account.TierChanged")[0].tier == "vip"


def test_changing_to_the_same_tier_is_refused(desk, account_id):
    with nothing_written(desk), pytest.raises(InvalidStateError, match="already") as info:
        desk.change_tier(account_id=account_id, tier="standard", actor=STAFF)
    assert info.value.code == "INVALID_STATE"


def test_changing_to_an_unknown_tier_names_the_allowed_tiers(desk, account_id):
    with nothing_written(desk), pytest.raises(InvalidInputError) as info:
        desk.change_tier(account_id=account_id, tier="platinum", actor=STAFF)
    assert info.value.message == (
        "unknown tier 'platinum'; expected one of: vip, enterprise, business, standard")


def test_assigning_a_manager_records_the_new_manager(desk, account_id):
    desk.assign_manager(account_id=account_id, manager="  Carla  Smith ", actor=STAFF)

    assert desk.repository.get(account_id).manager == "Carla Smith"
    assert events(desk, "carelog:Account.ManagerAssigned")[0].manager == "Carla Smith"


def test_assigning_the_current_manager_again_is_refused(desk, open_account):
    account_id = open_account(manager="Ann Manager")
    with nothing_written(desk), pytest.raises(InvalidStateError, match="already manages"):
        desk.assign_manager(account_id=account_id, manager="Ann Manager", actor=STAFF)


def test_assigning_a_blank_manager_is_refused(desk, account_id):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="manager must not be"):
        desk.assign_manager(account_id=account_id, manager="  ", actor=STAFF)


# Contacts --------------------------------------------------------------------------------


def add_contact(desk, account_id, email="Bob@Client.example", role="user"):
    return desk.add_contact(account_id=account_id, name="Bob Client", email=email, role=role,
                            actor=STAFF).ids["contactId"]


def test_adding_a_contact_stores_it_under_an_id_derived_from_the_lowercased_email(
        desk, account_id):
    contact_id = add_contact(desk, account_id, email="  Bob@Client.example ")

    assert contact_id == Account.contact_id(account_id, "bob@client.example")
    contact = desk.repository.get(account_id).contacts[str(contact_id)]
    assert contact == {"name": "Bob Client", "email": "bob@client.example", "phone": None,
                       "role": "user", "active": True}


def test_adding_the_same_email_twice_is_refused_whatever_its_case(desk, account_id):
    add_contact(desk, account_id, email="bob@client.example")
    with nothing_written(desk), pytest.raises(InvalidStateError, match="already a contact"):
        add_contact(desk, account_id, email="BOB@client.EXAMPLE")


@pytest.mark.parametrize("email", ["", "bob", "bob@", "@client.example", "bob@client",
                                   "bob smith@client.example", "bob@@client.example",
                                   "b@" + "x" * 250 + ".com"])
def test_adding_a_contact_with_a_malformed_email_is_refused(desk, account_id, email):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="not an email") as info:
        add_contact(desk, account_id, email=email)
    assert info.value.code == "INVALID_INPUT"


def test_adding_a_contact_with_an_unknown_role_is_refused(desk, account_id):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="unknown contact role"):
        add_contact(desk, account_id, role="ceo")


def test_changing_a_contacts_role_records_it(desk, account_id):
    contact_id = add_contact(desk, account_id)

    desk.change_contact_role(account_id=account_id, contact_id=contact_id, role="champion",
                             actor=STAFF)

    assert desk.repository.get(account_id).contacts[str(contact_id)]["role"] == "champion"


def test_changing_a_contact_to_the_role_it_has_is_refused(desk, account_id):
    contact_id = add_contact(desk, account_id, role="billing")
    with nothing_written(desk), pytest.raises(InvalidStateError, match="already has the role"):
        desk.change_contact_role(account_id=account_id, contact_id=contact_id, role="billing",
                                 actor=STAFF)


def test_a_contact_who_left_is_inactive_but_kept(desk, account_id):
    contact_id = add_contact(desk, account_id)

    desk.remove_contact(account_id=account_id, contact_id=contact_id, actor=STAFF)

    assert desk.repository.get(account_id).contacts[str(contact_id)]["active"] is False
    assert topics(desk)[-1] == "carelog:Account.ContactLeft"


def test_changing_the_role_of_a_contact_who_left_is_not_found(desk, account_id):
    contact_id = add_contact(desk, account_id)
    desk.remove_contact(account_id=account_id, contact_id=contact_id, actor=STAFF)

    with nothing_written(desk), pytest.raises(NotFoundError) as info:
        desk.change_contact_role(account_id=account_id, contact_id=contact_id,
                                 role="champion", actor=STAFF)
    assert info.value.code == "NOT_FOUND"


def test_a_contact_cannot_leave_twice(desk, account_id):
    contact_id = add_contact(desk, account_id)
    desk.remove_contact(account_id=account_id, contact_id=contact_id, actor=STAFF)

    with nothing_written(desk), pytest.raises(NotFoundError):
        desk.remove_contact(account_id=account_id, contact_id=contact_id, actor=STAFF)


def test_a_contact_of_another_account_is_not_found(desk, account_id, open_account):
    other_contact = add_contact(desk, open_account(name="Other Ltd"))

    with nothing_written(desk), pytest.raises(NotFoundError):
        desk.change_contact_role(account_id=account_id, contact_id=other_contact,
                                 role="champion", actor=STAFF)


def test_a_contact_who_left_can_be_added_again(desk, account_id):
    contact_id = add_contact(desk, account_id)
    desk.remove_contact(account_id=account_id, contact_id=contact_id, actor=STAFF)

    assert add_contact(desk, account_id) == contact_id
    assert desk.repository.get(account_id).contacts[str(contact_id)]["active"] is True


# Churn -----------------------------------------------------------------------------------


def test_churning_marks_the_account_churned(desk, account_id):
    desk.churn_account(account_id=account_id, reason="Moved to a competitor", actor=STAFF)

    assert desk.repository.get(account_id).churned is True
    assert events(desk, "carelog:Account.Churned")[0].reason == "Moved to a competitor"


def test_churning_twice_is_refused(desk, account_id):
    desk.churn_account(account_id=account_id, reason="Budget cut", actor=STAFF)

    with nothing_written(desk), pytest.raises(InvalidStateError, match="already churned") as info:
        desk.churn_account(account_id=account_id, reason="Budget cut", actor=STAFF)
    assert info.value.code == "INVALID_STATE"


def test_churning_without_a_reason_is_refused(desk, account_id):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="churn reason"):
        desk.churn_account(account_id=account_id, reason=" ", actor=STAFF)


def test_a_churned_account_cannot_open_cases(desk, account_id):
    desk.churn_account(account_id=account_id, reason="Budget cut", actor=STAFF)

    with nothing_written(desk), pytest.raises(InvalidStateError, match="has churned") as info:
        desk.open_case(account_id=account_id, channel="email", subject="Help", text="Hello",
                       actor=CLIENT)
    assert info.value.code == "INVALID_STATE"


def test_account_commands_on_a_case_id_answer_not_found(desk, account_id):
    case_id = desk.open_case(account_id=account_id, channel="email", subject="Help",
                             text="Hello", actor=CLIENT).ids["caseId"]

    with nothing_written(desk), pytest.raises(NotFoundError, match=f"account {case_id}"):
        desk.change_tier(account_id=case_id, tier="vip", actor=STAFF)


def test_every_account_event_records_business_time_and_actor(desk, clock, account_id):
    clock.advance(timedelta(hours=2))
    desk.change_tier(account_id=account_id, tier="vip", actor="system:renewal-rule")

    changed = events(desk, "carelog:Account.TierChanged")[0]
    assert changed.occurred_at == START + timedelta(hours=2)
    assert changed.occurred_at.tzinfo is UTC
    assert changed.actor == "system:renewal-rule"


# Portal access -----------------------------------------------------------------------------

ALL_TIERS = frozenset({"vip", "enterprise", "business", "standard"})


def test_portal_access_follows_the_plan_until_granted_or_revoked_for_the_account(desk):
    account_id = desk.open_account(name="Acme", tier="standard", manager="Ann", currency="EUR",
                                   actor=STAFF).ids["accountId"]
    account = desk.account(account_id)
    assert account.has_portal(ALL_TIERS)
    assert not account.has_portal(frozenset({"vip"}))
    assert not account.may_self_register(ALL_TIERS)

    desk.grant_portal_access(account_id=account_id, self_registration=True, actor=STAFF)
    account = desk.account(account_id)
    assert account.has_portal(frozenset({"vip"}))
    assert account.may_self_register(ALL_TIERS)
    with nothing_written(desk), pytest.raises(InvalidStateError):
        desk.grant_portal_access(account_id=account_id, self_registration=True, actor=STAFF)

    desk.revoke_portal_access(account_id=account_id, reason="unpaid", actor=STAFF)
    account = desk.account(account_id)
    assert not account.has_portal(ALL_TIERS)
    assert not account.may_self_register(ALL_TIERS)
    assert topics(desk)[-2:] == ["carelog:Account.PortalAccessGranted",
                                 "carelog:Account.PortalAccessRevoked"]
    assert events(desk, "carelog:Account.PortalAccessRevoked")[0].actor == STAFF
