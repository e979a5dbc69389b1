"""Service plans: which channels a tier includes and its SLA targets per priority."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import pytest

from domain.service_plans import PLANS, plan_for
from domain.values import Channel, Priority, Tier

OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Highest tier first; each plan must be at least as generous as the one after it.
TIERS_BY_RANK = [Tier.VIP, Tier.ENTERPRISE, Tier.BUSINESS, Tier.STANDARD]
NEIGHBOURS = list(pairwise(TIERS_BY_RANK))
PRIORITIES_BY_URGENCY = [Priority.URGENT, Priority.HIGH, Priority.NORMAL, Priority.LOW]


def test_every_tier_has_a_plan_with_targets_for_every_priority():
    assert set(PLANS) == set(Tier)
    for tier in Tier:
        plan = plan_for(tier)
        assert plan.tier is tier
        assert set(plan.targets) == set(Priority)


@pytest.mark.parametrize("tier", list(Tier))
def test_every_tier_allows_email(tier):
    assert plan_for(tier).allows(Channel.EMAIL)


def test_vip_allows_every_client_channel():
    plan = plan_for(Tier.VIP)
    client_channels = [c for c in Channel if c is not Channel.ROOM]

    assert all(plan.allows(c) for c in client_channels)
    assert plan.channel_names() == [c.value for c in client_channels]


def test_no_plan_lets_a_client_write_as_the_room():
    assert not any(plan_for(tier).allows(Channel.ROOM) for tier in Tier)


def test_enterprise_lacks_only_the_phone():
    assert [c for c in Channel if not plan_for(Tier.ENTERPRISE).allows(c)] == [
        Channel.PHONE, Channel.ROOM]


def test_standard_offers_email_portal_web_form_and_api():
    assert plan_for(Tier.STANDARD).channel_names() == ["email", "portal", "web_form", "api"]


@pytest.mark.parametrize(("higher", "lower"), NEIGHBOURS)
def test_a_higher_tier_offers_every_channel_of_a_lower_one(higher, lower):
    assert plan_for(lower).channels <= plan_for(higher).channels


@pytest.mark.parametrize(("higher", "lower"), NEIGHBOURS)
@pytest.mark.parametrize("priority", list(Priority))
def test_a_higher_tier_is_answered_no_slower(higher, lower, priority):
    fast, slow = plan_for(higher).targets[priority], plan_for(lower).targets[priority]

    assert fast.first_response <= slow.first_response
    assert fast.resolution <= slow.resolution


@pytest.mark.parametrize("tier", list(Tier))
def test_within_a_plan_more_urgent_means_sooner_and_response_comes_before_resolution(tier):
    targets = [plan_for(tier).targets[p] for p in PRIORITIES_BY_URGENCY]

    assert [t.first_response for t in targets] == sorted(t.first_response for t in targets)
    assert [t.resolution for t in targets] == sorted(t.resolution for t in targets)
    assert all(t.first_response < t.resolution for t in targets)


def test_channel_names_follow_the_order_of_the_channel_enumeration():
    names = plan_for(Tier.BUSINESS).channel_names()

    assert names == ["email", "web_chat", "portal", "web_form", "api"]


@pytest.mark.parametrize(("tier", "channel"), [(Tier.STANDARD, Channel.TELEGRAM),
                                               (Tier.BUSINESS, Channel.PHONE),
                                               (Tier.ENTERPRISE, Channel.PHONE)])
def test_the_refusal_names_the_plan_the_channel_and_every_allowed_channel(tier, channel):
    plan = plan_for(tier)

    text = plan.refusal(channel)

    assert text.startswith(f"The {tier.value} plan does not include {channel.value}.")
    assert text.endswith(f"Please contact us by: {', '.join(plan.channel_names())}.")
    for allowed in plan.channel_names():
        assert allowed in text


def test_refusal_text_of_the_business_plan():
    assert plan_for(Tier.BUSINESS).refusal(Channel.TELEGRAM) == (
        "The business plan does not include telegram. "
        "Please contact us by: email, web_chat, portal, web_form, api.")
