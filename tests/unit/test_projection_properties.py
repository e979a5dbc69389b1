"""Property: for any history of commands (live and late, on every aggregate the views read),
the views kept incrementally while the log grows, a rebuild from zero, and an as-of replay at
the end hold exactly the same rows."""

from __future__ import annotations

import contextlib
import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.values import Money
from integrations.clock import FakeClock
from projections.money import ReportingRates
from projections.registry import all_projections
from projections.replay import Replays
from projections.runner import ApplicationLog, ProjectionRunner
from projections.store import SQLiteViewStore, ViewStore
from tests.unit.helpers import START, new_desk

RATES = ReportingRates("EUR", {"USD": Decimal("0.9")})
OPS = ("account", "revenue", "contact", "champion_left", "touchpoint", "usage", "invoice",
       "paid", "overdue", "risk", "sentiment", "case", "reply", "resolve", "reopen",
       "escalate", "deescalate", "rate", "wait", "priority", "breaches", "late_risk",
       "model", "churn", "alert")


class _History:
    """Runs one op at a time on a CareDesk; refused commands are part of life and skipped."""

    def __init__(self, desk: Any, clock: FakeClock) -> None:
        self.desk = desk
        self.clock = clock
        self.accounts: list[Any] = []
        self.contacts: dict[Any, list[Any]] = {}
        self.cases: list[Any] = []
        self.invoices: list[tuple[Any, Any]] = []
        self.alerts: list[Any] = []

    def run(self, op: str, seed: int) -> None:
        rng = random.Random(seed)
        self.clock.advance(timedelta(minutes=rng.choice([1, 7, 20, 90, 600, 2400])))
        with contextlib.suppress(DomainError):
            self._op(op, rng)

    def _op(self, op: str, rng: random.Random) -> None:
        d, staff = self.desk, "staff:ann"
        if op == "account" or not self.accounts:
            tier = rng.choice(["vip", "enterprise", "business", "standard"])
            self.accounts.append(d.open_account(
                name=f"Co {len(self.accounts)}", tier=tier, manager="Ann",
                currency=rng.choice(["EUR", "USD"]), actor=staff).ids["accountId"])
            return
        account = rng.choice(self.accounts)
        currency = d.repository.get(account).currency
        if op == "revenue":
            month = self.clock.now().strftime("%Y-%m")
            d.record_revenue(account_id=account, period=month, actor=staff,
                             mrr=Money(Decimal(rng.randint(0, 50)) * 1000, currency))
        elif op == "contact":
            role = rng.choice(["user", "champion", "executive_sponsor"])
            made = d.add_contact(account_id=account, name="P", role=role, actor=staff,
                                 email=f"p{rng.randint(0, 5)}@x.example")
            self.contacts.setdefault(account, []).append(made.ids["contactId"])
        elif op == "champion_left" and self.contacts.get(account):
            d.remove_contact(account_id=account, contact_id=rng.choice(self.contacts[account]),
                             actor=staff)
        elif op == "touchpoint":
            people = self.contacts.get(account, [])[:rng.randint(0, 2)]
            d.log_touchpoint(account_id=account, kind="call", two_way=rng.random() < 0.7,
                             contact_ids=people, actor=staff)
        elif op == "usage":
            d.report_usage(account_id=account, active_users=rng.randint(0, 60),
                           licensed_seats=rng.randint(1, 60), actor=staff)
        elif op == "invoice":
            due = self.clock.now().date() + timedelta(days=rng.randint(0, 20))
            made = d.issue_invoice(account_id=account, number=f"I{rng.randint(0, 99)}",
                                   amount=Money(Decimal(100), currency), due_on=due,
                                   actor=staff)
            self.invoices.append((account, made.ids["invoiceId"]))
        elif op in ("paid", "overdue") and self.invoices:
            owner, invoice = rng.choice(self.invoices)
            command = d.mark_invoice_paid if op == "paid" else d.mark_invoice_overdue
            command(account_id=owner, invoice_id=invoice, actor=staff)
        elif op == "risk":
            d.set_renewal_risk(account_id=account, actor=staff, level=rng.choice(
                ["none", "early_warning", "at_risk", "churn_notice"]))
        elif op == "late_risk":
            d.set_renewal_risk(account_id=account, actor=staff, level="at_risk",
                               occurred_at=self.clock.now() - timedelta(days=rng.randint(1, 9)))
        elif op == "sentiment":
            d.set_sentiment(account_id=account, level=rng.choice(
                ["healthy", "concerned", "at_risk"]), actor=staff)
        elif op == "case":
            self.cases.append(d.open_case(
                account_id=account, channel="email", subject="S", text="T", actor="contact:c",
                priority=rng.choice(["urgent", "high", "normal", "low"]),
                occurred_at=self.clock.now() - timedelta(hours=rng.randint(0, 30)),
            ).ids["caseId"])
        elif op == "model":
            d.publish_health_model(document={"caps": {"G2": rng.randint(20, 49)}},
                                   actor=staff)
        elif op == "churn":
            d.churn_account(account_id=account, reason="gone", actor=staff)
        elif op == "alert":
            made = d.raise_alert(account_id=account, kind="score_fell",
                                 day=self.clock.now().date() - timedelta(days=1),
                                 score_before=80, score_after=60, band_before="green",
                                 band_after="yellow", drivers=[], model_version=1,
                                 actor="system:health-alerts")
            self.alerts.append(made.ids["alertId"])
            if rng.random() < 0.5:
                d.acknowledge_alert(alert_id=rng.choice(self.alerts), actor=staff)
        elif self.cases:
            self._case_op(op, rng.choice(self.cases), rng)

    def _case_op(self, op: str, case: Any, rng: random.Random) -> None:
        d, staff = self.desk, "staff:bo"
        if op == "reply":
            d.reply_to_case(case_id=case, text="On it", agent="Bo", actor=staff)
        elif op == "resolve":
            d.resolve_case(case_id=case, actor=staff)
        elif op == "reopen":
            d.reopen_case(case_id=case, actor="contact:c")
        elif op == "escalate":
            d.escalate_case(case_id=case, reason="hard", actor=staff)
        elif op == "deescalate":
            d.resolve_escalation(case_id=case, actor=staff)
        elif op == "rate":
            d.rate_case(case_id=case, csat=rng.randint(1, 5), actor="contact:c")
        elif op == "wait":
            d.wait_on_client(case_id=case, actor=staff)
        elif op == "priority":
            d.change_priority(case_id=case, priority=rng.choice(["urgent", "low"]),
                              actor=staff)
        elif op == "breaches":
            d.record_sla_breaches(case_id=case, actor="system:sla-clock")


def _dump(store: ViewStore) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    with store.reader() as tx:
        for projection in all_projections(RATES):
            for table in projection.tables:
                rows = tx.fetch_all(f"SELECT * FROM {table.name} ORDER BY "
                                    f"{', '.join(table.key)}")
                out[table.name] = [tuple(r.values()) for r in rows]
    return out


def _runners(desk: Any, store: ViewStore, page_size: int) -> list[ProjectionRunner]:
    runners = [ProjectionRunner(p, store, ApplicationLog(desk), page_size)
               for p in all_projections(RATES)]
    for runner in runners:
        runner.prepare()
    return runners


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# A priority change recounts a case's SLA clock: days closed before it keep the old terms.
@example(ops=[("account", 0)] * 7 + [("touchpoint", 730)] + [("account", 0)] * 3
         + [("case", 3923), ("priority", 0)], page=1)
@given(st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 2**32)), min_size=3,
                max_size=45),
       st.integers(1, 9))
def test_incremental_equals_rebuild_equals_as_of_replay(ops: list[tuple[str, int]],
                                                        page: int) -> None:
    clock = FakeClock(START - timedelta(days=40))
    desk = new_desk(clock)
    history = _History(desk, clock)
    live = SQLiteViewStore.in_memory()
    following = _runners(desk, live, page)
    for op, seed in ops:
        history.run(op, seed)
        for runner in following:
            runner.run_page()
    for runner in following:
        runner.catch_up()

    rebuilt = SQLiteViewStore.in_memory()
    for runner in _runners(desk, rebuilt, 1000):
        runner.catch_up()
    replays = Replays(ApplicationLog(desk), lambda: all_projections(RATES))
    names = [p.name for p in all_projections(RATES)]
    replayed = replays.views(clock.now(), names)

    incremental = _dump(live)
    assert incremental == _dump(rebuilt)
    assert incremental == _dump(replayed)
    replays.close()
    for store in (live, rebuilt):
        store.close()
    desk.close()


def test_the_history_generator_reaches_every_op() -> None:
    """A guard for the property above: the ops do not all fail quietly."""
    clock = FakeClock(START - timedelta(days=40))
    desk = new_desk(clock)
    history = _History(desk, clock)
    rng = random.Random(3)
    for _ in range(400):
        history.run(rng.choice(OPS), rng.randint(0, 2**32))
    topics = {n.topic for n in desk.recorder.select_notifications(start=1, limit=100_000)}
    for expected in ("Account.TouchpointLogged", "Account.InvoicePaid", "Case.Resolved",
                     "Case.SlaBreached", "Case.PriorityChanged", "HealthPolicy.ModelPublished",
                     "Alert.Acknowledged", "Account.ContactLeft", "Case.Reopened"):
        assert f"carelog:{expected}" in topics, expected
    assert date(2026, 1, 1) <= clock.now().date()
