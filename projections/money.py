"""Money in views: integer cents (exact and sortable on SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal


def to_cents(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


class ReportingRates:
    """Fixed budget rates into the one reporting currency, so FX noise is not revenue movement."""

    def __init__(self, currency: str, rates: Mapping[str, Decimal]) -> None:
        self.currency = currency
        self.rates = {**rates, currency: Decimal(1)}

    def convert_cents(self, cents: int, currency: str) -> int:
        return to_cents(Decimal(cents) / 100 * self.rates[currency])
