"""`reading` (a daily close's numbers) equals what `evaluate` gives, on many random histories."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.health_model import (
    DEFAULT_MODEL,
    ContractionRequest,
    CsatResponse,
    FactsBuilder,
    Invoice,
    NpsResponse,
    PaymentFailure,
    RenewalRiskSet,
    SlaTarget,
    Ticket,
    Touchpoint,
    UsageReport,
    confirm,
    evaluate,
    reading,
)

START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN_DAYS = 400
PRIORITIES = ("urgent", "high", "normal", "low")


def _at(rng: random.Random) -> datetime:
    return START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86400))


def history(seed: int) -> FactsBuilder:
    """An account with a bit of everything KAH-1 reads, at random times."""
    rng = random.Random(seed)
    b = FactsBuilder("acct", contract_start=START if rng.random() < 0.8 else None,
                     arr=rng.choice([0.0, 50_000.0, 1_200_000.0]))
    for n in range(rng.randrange(0, 60)):
        opened = _at(rng)
        priority = rng.choice(PRIORITIES)
        t = Ticket(f"t{n}", f"ev-t{n}", opened, priority)
        if rng.random() < 0.3:
            t = t.escalated(f"esc-{n}", opened + timedelta(hours=rng.randrange(1, 72)))
            if rng.random() < 0.5:
                t = t.deescalated(f"desc-{n}", opened + timedelta(days=rng.randrange(1, 20)))
        if rng.random() < 0.2:
            t = t.with_priority(opened + timedelta(hours=5), rng.choice(PRIORITIES))
        if rng.random() < 0.7:
            t = t.resolved(f"res-{n}", opened + timedelta(days=rng.randrange(0, 30)))
            if rng.random() < 0.2:
                t = t.reopened(f"reo-{n}", opened + timedelta(days=rng.randrange(30, 40)))
        b.put(t)
        for kind, hours in (("first_response", 8), ("resolution", 96)):
            due = opened + timedelta(hours=rng.randrange(1, hours))
            met = (opened + timedelta(hours=rng.randrange(0, 2 * hours))
                   if rng.random() < 0.8 else None)
            b.put(SlaTarget(f"t{n}", kind, priority, f"sla-{n}-{kind}", due, met,
                            f"brk-{n}-{kind}" if rng.random() < 0.2 else None))
    for n in range(rng.randrange(0, 40)):
        b.add(CsatResponse(f"csat-{n}", _at(rng), rng.randrange(1, 6)))
    for n in range(rng.randrange(0, 20)):
        b.add(NpsResponse(f"nps-{n}", f"c{rng.randrange(5)}", _at(rng), rng.randrange(11),
                          executive=rng.random() < 0.3))
    roles = ("executive_sponsor", "champion", "user")
    for n in range(rng.randrange(0, 30)):
        b.add(Touchpoint(f"tp-{n}", _at(rng), rng.random() < 0.7,
                         frozenset(rng.sample(roles, rng.randrange(0, 3)))))
    for n in range(rng.randrange(0, 3)):
        named = _at(rng)
        b.name_champion(f"c{n}", f"champ-{n}", named)
        if rng.random() < 0.6:
            b.end_champion(f"c{n}", f"champ-end-{n}", named + timedelta(days=rng.randrange(60)),
                           left=rng.random() < 0.7)
    for n in range(rng.randrange(0, 30)):
        b.add(UsageReport(f"u-{n}", _at(rng),
                          rng.randrange(0, 120) if rng.random() < 0.8 else None,
                          rng.choice([None, 0, 100, 150])))
    for n in range(rng.randrange(0, 14)):
        issued = _at(rng)
        paid = issued + timedelta(days=rng.randrange(0, 120)) if rng.random() < 0.7 else None
        b.put(Invoice(f"inv-{n}", f"inv-ev-{n}", issued, issued + timedelta(days=30),
                      float(rng.randrange(1, 10) * 1000), paid, f"pay-{n}" if paid else None))
        if rng.random() < 0.2:
            b.add(PaymentFailure(f"fail-{n}", issued + timedelta(days=31),
                                 f"inv-{n}" if rng.random() < 0.8 else None))
    for n in range(rng.randrange(0, 3)):
        b.add(ContractionRequest(f"contr-{n}", _at(rng)))
    for n in range(rng.randrange(0, 4)):
        b.add(RenewalRiskSet(f"risk-{n}", _at(rng),
                             rng.choice(("none", "early_warning", "at_risk", "churn_notice")),
                             "staff:ann"))
    return b


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([None, 0.5, 2.0]))
def test_reading_gives_the_numbers_of_evaluate(seed: int, segment: float | None) -> None:
    facts = history(seed).build()
    rng = random.Random(seed)
    days = sorted(rng.sample(range(-5, SPAN_DAYS + 60), 40))
    previous_full = previous_lean = None
    for d in days:
        at = START + timedelta(days=d, seconds=rng.choice([0, 43_200, 86_399]))
        full = evaluate(DEFAULT_MODEL, facts, at, segment)
        lean = reading(DEFAULT_MODEL, facts, at, segment)
        assert (lean.score, lean.value, lean.h0, lean.coverage, lean.band, lean.gated) == (
            full.score, full.value, full.h0, full.coverage, full.band, full.gated)
        day = at.date()
        if previous_full is not None and previous_full.day >= day:
            continue
        previous_full = confirm(previous_full, full, day)
        previous_lean = confirm(previous_lean, lean, day)
        assert previous_lean == previous_full


def test_the_histories_reach_gates_grey_and_every_band() -> None:
    """The random histories are varied enough to mean something."""
    bands, gates = set(), set()
    for seed in range(150):
        facts = history(seed).build()
        for d in range(0, SPAN_DAYS, 20):
            health = evaluate(DEFAULT_MODEL, facts, START + timedelta(days=d))
            bands.add(health.band)
            gates.update(g.key for g in health.gates)
    assert bands == {"green", "yellow", "red", "grey"}
    assert gates == {"G1", "G2", "G3", "G4", "G5"}
