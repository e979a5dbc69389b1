"""Fixtures of the unit tier: an in-memory CareDesk on a clock that stands still."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from uuid import UUID

import pytest

from domain.application import CareDesk
from integrations.clock import FakeClock
from tests.unit.helpers import STAFF, START, new_desk


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def desk(clock: FakeClock) -> Iterator[CareDesk]:
    app = new_desk(clock)
    yield app
    app.close()


@pytest.fixture
def open_account(desk: CareDesk) -> Callable[..., UUID]:
    """Opens an account (standard tier, EUR, unless told otherwise) and returns its id."""

    def make(name: str = "Acme GmbH", tier: str = "standard", currency: str = "EUR",
             manager: str = "Ann Manager", **kwargs: object) -> UUID:
        result = desk.open_account(name=name, tier=tier, manager=manager, currency=currency,
                                   actor=STAFF, **kwargs)
        return result.ids["accountId"]

    return make


@pytest.fixture
def account_id(open_account: Callable[..., UUID]) -> UUID:
    return open_account()


@pytest.fixture
def vip_account_id(open_account: Callable[..., UUID]) -> UUID:
    return open_account(name="Big Client AG", tier="vip")
