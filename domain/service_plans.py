"""Service plans as pure policy: a tier decides a client's channels and its SLA targets.

Targets are business time in the account's calendar (VIP: around the clock); see
`domain.business_calendar` and `domain.sla_clock`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from domain.values import Channel, Priority, Tier


@dataclass(frozen=True, slots=True)
class SlaTargets:
    first_response: timedelta
    resolution: timedelta


@dataclass(frozen=True, slots=True)
class ServicePlan:
    tier: Tier
    channels: frozenset[Channel]
    targets: dict[Priority, SlaTargets]

    def allows(self, channel: Channel) -> bool:
        return channel in self.channels

    def channel_names(self) -> list[str]:
        return [c.value for c in Channel if c in self.channels]

    def refusal(self, channel: Channel) -> str:
        """What we tell a client who wrote on a channel its plan does not include."""
        return (
            f"The {self.tier.value} plan does not include {channel.value}. "
            f"Please contact us by: {', '.join(self.channel_names())}."
        )



def _targets(fr_hours: tuple[float, float, float, float], res_hours: tuple[float, ...]) -> dict[
    Priority, SlaTargets
]:
    order = (Priority.URGENT, Priority.HIGH, Priority.NORMAL, Priority.LOW)
    return {
        p: SlaTargets(timedelta(hours=fr), timedelta(hours=res))
        for p, fr, res in zip(order, fr_hours, res_hours, strict=True)
    }


_ALL = frozenset(Channel) - {Channel.ROOM}  # staff posts only: never a client channel

PLANS: dict[Tier, ServicePlan] = {
    Tier.VIP: ServicePlan(Tier.VIP, _ALL, _targets((0.5, 1, 2, 4), (4, 8, 24, 48))),
    Tier.ENTERPRISE: ServicePlan(
        Tier.ENTERPRISE,
        _ALL - {Channel.PHONE},
        _targets((1, 2, 4, 8), (8, 24, 48, 96)),
    ),
    Tier.BUSINESS: ServicePlan(
        Tier.BUSINESS,
        frozenset({Channel.EMAIL, Channel.WEB_CHAT, Channel.PORTAL, Channel.WEB_FORM, Channel.API}),
        _targets((2, 4, 8, 24), (24, 48, 96, 168)),
    ),
    Tier.STANDARD: ServicePlan(
        Tier.STANDARD,
        frozenset({Channel.EMAIL, Channel.PORTAL, Channel.WEB_FORM, Channel.API}),
        _targets((4, 8, 24, 48), (48, 96, 168, 336)),
    ),
}


def plan_for(tier: Tier) -> ServicePlan:
    return PLANS[tier]
