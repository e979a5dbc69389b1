"""Value objects: money, actors and enumeration parsing."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from domain.errors import DomainError, InvalidInputError
from domain.values import Actor, ActorKind, Channel, Money, Tier, enum_value

# Money ------------------------------------------------------------------------------------


def test_money_holds_a_decimal_amount_in_an_iso_currency():
    money = Money(Decimal("1234.56"), "EUR")

    assert (money.amount, money.currency) == (Decimal("1234.56"), "EUR")
    assert money == Money(Decimal("1234.560"), "EUR")


def test_money_is_immutable():
    money = Money(Decimal("1"), "EUR")

    with pytest.raises(dataclasses.FrozenInstanceError):
        money.amount = Decimal("2")  # type: ignore[misc]


@pytest.mark.parametrize("amount", [1.5, 1, "1.50", None])
def test_money_refuses_amounts_that_are_not_decimals(amount):
    with pytest.raises(InvalidInputError, match="must be decimals") as info:
        Money(amount, "EUR")
    assert info.value.code == "INVALID_INPUT"


@pytest.mark.parametrize("amount", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_money_refuses_amounts_that_are_not_finite(amount):
    with pytest.raises(InvalidInputError, match="finite"):
        Money(Decimal(amount), "EUR")


@pytest.mark.parametrize("currency", ["eur", "EURO", "EU", "E1R", "", " EUR", "€"])
def test_money_refuses_a_currency_that_is_not_three_capital_letters(currency):
    with pytest.raises(InvalidInputError, match="ISO 4217"):
        Money(Decimal("1"), currency)


# Actor ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["staff:ann", "contact:0b7c-42", "system:sla-clock",
                                  "integration:jira"])
def test_an_actor_parses_and_prints_back_to_the_same_text(text):
    actor = Actor.parse(text)

    assert str(actor) == text
    assert Actor.parse(str(actor)) == actor


def test_an_actor_id_may_contain_colons():
    actor = Actor.parse("integration:jira:PROJ-1")

    assert (actor.kind, actor.id) == (ActorKind.INTEGRATION, "jira:PROJ-1")


def test_actor_helpers_make_staff_and_system_actors():
    assert str(Actor.staff("ann")) == "staff:ann"
    assert str(Actor.system("sla-clock")) == "system:sla-clock"
    assert Actor.parse("staff:ann") == Actor(ActorKind.STAFF, "ann")


@pytest.mark.parametrize("text", ["robot:r2", "Staff:ann", "", ":ann", "ann"])
def test_an_actor_of_an_unknown_kind_is_refused(text):
    with pytest.raises(InvalidInputError, match="unknown actor") as info:
        Actor.parse(text)
    assert repr(text) in info.value.message


# enum_value -------------------------------------------------------------------------------


def test_enum_value_answers_the_canonical_value():
    assert enum_value(Tier, "vip", "tier") == "vip"
    assert enum_value(Channel, Channel.WEB_CHAT, "channel") == "web_chat"


def test_enum_value_names_what_was_wrong_and_every_allowed_value():
    with pytest.raises(InvalidInputError) as info:
        enum_value(Tier, "gold", "tier")

    assert info.value.message == (
        "unknown tier 'gold'; expected one of: vip, enterprise, business, standard")
    assert str(info.value) == info.value.message


def test_enum_value_is_case_sensitive():
    with pytest.raises(InvalidInputError, match="unknown channel 'EMAIL'"):
        enum_value(Channel, "EMAIL", "channel")


def test_domain_errors_carry_distinct_stable_codes():
    from domain import errors

    classes = [c for c in vars(errors).values()
               if isinstance(c, type) and issubclass(c, DomainError)]
    codes = [c.code for c in classes]

    assert len(codes) == len(set(codes))
    assert {"INVALID_INPUT", "NOT_FOUND", "VERSION_CONFLICT", "CHANNEL_NOT_ALLOWED",
            "INVALID_STATE"} <= set(codes)
