"""Read model `account_health`: KAH-1 per account, its daily closes and its explanation.

Every event that bears on an account's health is kept as a small record per account
(`health_records`); the account's facts are folded from those records into memory, where the
model evaluates them. Evaluation is page-wide work (`finish_page`): the accounts a page touched
are re-scored at the horizon (the latest business time the log has reached), and when the
horizon passes midnight every account gets its daily close. A record older than an account's
last close (imported history) recomputes that account's closes from its day on, so the view
depends only on the log, never on the order pages were folded in. Publishing a model version
recomputes every close under it.

Memory kept between pages is trusted only if the previous page this projection committed ended
where the next one starts; otherwise each account is reloaded from its records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from domain.errors import InvalidInputError
from domain.health_model import (
    BAND_SEVERITY,
    DEFAULT_MODEL,
    Close,
    ContractionRequest,
    CsatResponse,
    FactsBuilder,
    Health,
    HealthModel,
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
    explain_change,
    reading,
    trend,
)
from projections.projection import Projection
from projections.rows import Rows
from projections.schema import Column, Table
from projections.store import ViewStore

RECORDS = Table(
    "health_records",
    columns=(Column("account_id"), Column("position", "int"), Column("record")),
    key=("account_id", "position"),
)
CASE_ACCOUNTS = Table(
    "health_cases", columns=(Column("case_id"), Column("account_id")), key=("case_id",))
CLOSES = Table(
    "health_closes",
    columns=(
        Column("account_id"), Column("day"), Column("score", "int"), Column("value"),
        Column("band"), Column("confirmed_band"), Column("gated", "bool"),
        Column("streak", "int"), Column("model_version", "int"),
    ),
    key=("account_id", "day"),
    indexes=(("day",),),
)
HEALTH = Table(
    "account_health",
    columns=(
        Column("account_id"), Column("score", "int"), Column("band"),
        Column("confirmed_band"), Column("coverage"), Column("model_version", "int"),
        Column("as_of", "timestamp"), Column("delta7", "int"), Column("delta30", "int"),
        Column("arrow"), Column("sentiment"), Column("disagreement", "bool"),
        Column("renewal_on"), Column("renewal_likelihood"), Column("renewal_risk"),
        Column("explanation"), Column("change7"), Column("position", "int"),
    ),
    key=("account_id",),
    indexes=(("confirmed_band", "score"),),
)
SETTINGS = Table("health_settings", columns=(Column("key"), Column("value")), key=("key",))

_SENTIMENT_LEVEL = {"healthy": 0, "concerned": 1, "at_risk": 2}
_WEEK = timedelta(days=7)
_NOT_ACTIVITY = frozenset({"Opened", "ContactAdded", "ContactRoleChanged", "ContactLeft"})


def day_end(day: date) -> datetime:
    """The last instant of a UTC day: a close sees everything that occurred on its day."""
    return datetime.combine(day + timedelta(days=1), time(), UTC) - timedelta(microseconds=1)


@dataclass
class _Account:
    """One account's facts in memory, with what the health row shows beside the score."""

    facts: FactsBuilder
    first_day: date | None = None
    """The first day with activity (anything but the opening and contacts): closes start here."""
    roles: dict[str, str] = field(default_factory=dict)
    closes: list[Close] = field(default_factory=list)
    stale_from: date | None = None
    sentiment: str | None = None
    renewal_on: str | None = None
    renewal_likelihood: str | None = None
    renewal_risk: str = "none"
    latest_at: datetime | None = None
    last_position: int = 0

    def noted(self, kind: str, at: datetime, position: int) -> None:
        """Keep the latest time and position; activity before the first day moves it back."""
        self.latest_at = at if self.latest_at is None else max(self.latest_at, at)
        self.last_position = max(self.last_position, position)
        day = at.date()
        if kind not in _NOT_ACTIVITY and (self.first_day is None or day < self.first_day):
            self.first_day = day
        if self.closes and day <= self.closes[-1].day:
            self.stale_from = day if self.stale_from is None else min(self.stale_from, day)


def _at(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["at"])


def _ev(record: dict[str, Any]) -> str:
    return str(record["p"])


def _record(topic: str, e: Any, position: int) -> dict[str, Any]:
    """The part of an event health needs, as JSON-able data (kept to reload an account)."""
    rec: dict[str, Any] = {"t": topic.rpartition(".")[2], "at": e.occurred_at.isoformat(),
                           "p": position}
    kind = rec["t"]
    if topic.startswith("carelog:Case."):
        rec["case"] = str(e.originator_id)
        if kind == "Opened":
            rec.update(priority=e.priority, fr_due=e.first_response_due.isoformat(),
                       res_due=e.resolution_due.isoformat())
        elif kind == "Rated":
            rec["csat"] = e.csat
        elif kind == "SlaBreached":
            rec["kind"] = e.kind
        elif kind == "SlaTargetsSet":
            rec.update(fr_due=e.first_response_due.isoformat(),
                       res_due=e.resolution_due.isoformat())
        elif kind == "PriorityChanged":
            rec["priority"] = e.priority
    elif kind == "Recorded":  # a survey response
        rec.update(contact=str(e.contact_id), score=e.score)
    elif kind in ("ContactAdded", "ContactRoleChanged"):
        rec.update(contact=str(e.contact_id), role=e.role)
    elif kind == "ContactLeft":
        rec["contact"] = str(e.contact_id)
    elif kind == "TouchpointLogged":
        rec.update(two_way=e.two_way, roles=list(e.roles))
    elif kind == "UsageReported":
        rec.update(active=e.active_users, seats=e.licensed_seats)
    elif kind == "InvoiceIssued":
        rec.update(invoice=str(e.invoice_id), due=e.due_on.isoformat(), amount=str(e.amount))
    elif kind in ("InvoicePaid", "InvoiceOverdue"):
        rec["invoice"] = str(e.invoice_id)
    elif kind == "PaymentFailed":
        rec["invoice"] = None if e.invoice_id is None else str(e.invoice_id)
    elif kind == "RenewalSet":
        rec.update(on=e.renews_on.isoformat(), likelihood=e.likelihood)
    elif kind in ("RenewalRiskSet", "SentimentSet"):
        rec.update(level=e.level, actor=e.actor)
    return rec


def _fold(account: _Account, rec: dict[str, Any]) -> None:
    """Apply one record to an account's facts; the same code for live events and reloads."""
    facts, kind, at, ev = account.facts, rec["t"], _at(rec), _ev(rec)
    case = rec.get("case")
    if case is not None:
        _fold_case(facts, kind, case, at, ev, rec)
    elif kind == "Recorded":
        executive = account.roles.get(rec["contact"]) == "executive_sponsor"
        facts.add(NpsResponse(ev, rec["contact"], at, int(rec["score"]), executive))
    elif kind in ("ContactAdded", "ContactRoleChanged"):
        was = account.roles.get(rec["contact"])
        account.roles[rec["contact"]] = rec["role"]
        if was == "champion" and rec["role"] != "champion":
            facts.end_champion(rec["contact"], ev, at, left=False)
        if rec["role"] == "champion" and was != "champion":
            facts.name_champion(rec["contact"], ev, at)
    elif kind == "ContactLeft":
        if account.roles.pop(rec["contact"], None) == "champion":
            facts.end_champion(rec["contact"], ev, at, left=True)
    elif kind == "TouchpointLogged":
        facts.add(Touchpoint(ev, at, bool(rec["two_way"]), frozenset(rec["roles"])))
    elif kind == "UsageReported":
        facts.add(UsageReport(ev, at, rec["active"], rec["seats"]))
    elif kind == "InvoiceIssued":
        due = datetime.combine(date.fromisoformat(rec["due"]) + timedelta(days=1), time(), UTC)
        facts.put(Invoice(rec["invoice"], ev, at, due, float(rec["amount"])))
    elif kind == "InvoicePaid":
        invoice = facts.invoice(rec["invoice"])
        facts.put(replace(invoice, paid_at=at, paid_event_id=ev))
    elif kind == "PaymentFailed":
        facts.add(PaymentFailure(ev, at, rec["invoice"]))
    elif kind == "ContractionRequested":
        facts.add(ContractionRequest(ev, at))
    elif kind == "RenewalRiskSet":
        facts.add(RenewalRiskSet(ev, at, rec["level"], rec["actor"]))
        account.renewal_risk = rec["level"]
    elif kind == "SentimentSet":
        account.sentiment = rec["level"]
    elif kind == "RenewalSet":
        account.renewal_on, account.renewal_likelihood = rec["on"], rec["likelihood"]


def _fold_case(facts: FactsBuilder, kind: str, case: str, at: datetime, ev: str,
               rec: dict[str, Any]) -> None:
    if kind == "Opened":
        facts.put(Ticket(case, ev, at, rec["priority"]))
        for target, due in (("first_response", rec["fr_due"]), ("resolution", rec["res_due"])):
            facts.put(SlaTarget(case, target, rec["priority"], ev,
                                datetime.fromisoformat(due)))
        return
    ticket = facts.ticket(case)
    if kind == "Replied":
        _meet(facts, case, "first_response", at)
    elif kind == "Resolved":
        facts.put(ticket.resolved(ev, at))
        _meet(facts, case, "resolution", at)
    elif kind == "Closed":
        if ticket.is_open_at(at):
            facts.put(ticket.resolved(ev, at))
    elif kind == "Reopened":
        facts.put(ticket.reopened(ev, at))
    elif kind == "Escalated":
        facts.put(ticket.escalated(ev, at))
    elif kind == "EscalationResolved":
        facts.put(ticket.deescalated(ev, at))
    elif kind == "Rated":
        facts.add(CsatResponse(ev, at, int(rec["csat"])))
    elif kind == "SlaBreached":
        facts.put(replace(facts.target(case, rec["kind"]), breach_event_id=ev))
    elif kind == "SlaTargetsSet":
        for kind_, due in (("first_response", rec["fr_due"]), ("resolution", rec["res_due"])):
            facts.retarget(case, kind_, datetime.fromisoformat(due), rec.get(
                "priority", facts.target(case, kind_).priority), ev, at)
    elif kind == "PriorityChanged":
        facts.put(ticket.with_priority(at, rec["priority"]))


def _meet(facts: FactsBuilder, case: str, kind: str, at: datetime) -> None:
    met = facts.target(case, kind)
    if met.met_at is None:
        facts.put(replace(met, met_at=at))



_ACCOUNT_TOPICS = tuple(f"carelog:Account.{name}" for name in (
    "Opened", "ContactAdded", "ContactRoleChanged", "ContactLeft", "TouchpointLogged",
    "UsageReported", "InvoiceIssued", "InvoicePaid", "InvoiceOverdue", "PaymentFailed",
    "ContractionRequested", "RenewalSet", "RenewalRiskSet", "SentimentSet"))
_CASE_TOPICS = tuple(f"carelog:Case.{name}" for name in (
    "Opened", "Replied", "Resolved", "Closed", "Reopened", "Escalated", "EscalationResolved",
    "Rated", "SlaBreached", "SlaTargetsSet", "PriorityChanged"))
_SURVEY_TOPIC = "carelog:SurveyResponse.Recorded"
_MODEL_TOPIC = "carelog:HealthPolicy.ModelPublished"


class AccountHealthProjection(Projection):
    name = "account_health"
    version = 1
    min_page_size = 50_000
    """Each page re-scores every account the day turned for and rebuilds its facts' index:
    catching up in big pages does that rarely."""
    tables = (RECORDS, CASE_ACCOUNTS, CLOSES, HEALTH, SETTINGS)

    def __init__(self) -> None:
        self.model: HealthModel = DEFAULT_MODEL
        self.horizon: datetime | None = None
        self._accounts: dict[str, _Account] = {}
        self._loaded_all = False
        self._settings_loaded = False
        self._committed_at: int | None = None
        self._touched: set[str] = set()
        self._model_changed = False

    @property
    def topics(self) -> frozenset[str]:
        return frozenset((*_ACCOUNT_TOPICS, *_CASE_TOPICS, _SURVEY_TOPIC, _MODEL_TOPIC))

    # Memory between pages -------------------------------------------------------------------

    def begin_page(self, after: int) -> None:
        if after != self._committed_at:
            self._accounts.clear()
            self._loaded_all = False
            self._settings_loaded = False
        self._touched.clear()
        self._model_changed = False

    def committed(self, position: int) -> None:
        self._committed_at = position

    def passed(self, after: int, position: int) -> None:
        if self._committed_at == after:
            self._committed_at = position

    def abandoned(self) -> None:
        self._committed_at = None

    def _settings(self, rows: Rows) -> None:
        """The model and the horizon, read from the view when memory is not trusted."""
        if self._settings_loaded:
            return
        model = rows.get(SETTINGS, "model")
        self.model = (HealthModel.from_document(json.loads(model["value"])) if model
                      else DEFAULT_MODEL)
        horizon = rows.get(SETTINGS, "horizon")
        self.horizon = datetime.fromisoformat(horizon["value"]) if horizon else None
        self._settings_loaded = True

    def _account(self, rows: Rows, account_id: str) -> _Account:
        account = self._accounts.get(account_id)
        if account is None:
            account = self._reload(rows, account_id)
        return account

    def _reload(self, rows: Rows, account_id: str) -> _Account:
        records = sorted(rows.stored(RECORDS, "account_id", account_id),
                         key=lambda r: r["position"])
        if not records:
            raise LookupError(f"account {account_id} has no Opened event before this one")
        opened = json.loads(records[0]["record"])
        account = self._new(account_id, _at(opened))
        account.noted("Opened", _at(opened), records[0]["position"])
        for row in records[1:]:
            rec = json.loads(row["record"])
            _fold(account, rec)
            account.noted(rec["t"], _at(rec), row["position"])
        stored = sorted(rows.stored(CLOSES, "account_id", account_id), key=lambda r: r["day"])
        account.closes = [Close(date.fromisoformat(r["day"]), r["score"], float(r["value"]),
                                r["band"], r["confirmed_band"], bool(r["gated"]), r["streak"])
                          for r in stored]
        account.stale_from = None  # the stored closes are those of these very records
        self._accounts[account_id] = account
        return account

    def _load_all(self, rows: Rows) -> None:
        if not self._loaded_all:
            for row in rows.stored(HEALTH, None, None):
                self._account(rows, row["account_id"])
            self._loaded_all = True

    def _new(self, account_id: str, opened_at: datetime) -> _Account:
        return _Account(FactsBuilder(account_id, opened_at))

    # Folding --------------------------------------------------------------------------------

    def reads(self, topic: str, event: Any) -> Any:
        if topic.startswith("carelog:Case.") and topic != "carelog:Case.Opened":
            yield CASE_ACCOUNTS, (str(event.originator_id),)

    def apply(self, topic: str, event: Any, rows: Rows, position: int) -> None:
        self._settings(rows)
        if topic == _MODEL_TOPIC:
            self.model = HealthModel.from_document(event.document)
            rows.put(SETTINGS, {"key": "model", "value": json.dumps(event.document)})
            self._model_changed = True
            return
        account_id = self._account_id(topic, event, rows)
        if topic == "carelog:Account.Opened":
            account = self._new(account_id, event.occurred_at)
            self._accounts[account_id] = account
        else:
            account = self._account(rows, account_id)
        rec = _record(topic, event, position)
        rows.put(RECORDS, {"account_id": account_id, "position": position,
                           "record": json.dumps(rec)})
        if topic != "carelog:Account.Opened":
            _fold(account, rec)
        account.noted(rec["t"], event.occurred_at, position)
        self._touched.add(account_id)
        if self.horizon is None or event.occurred_at > self.horizon:
            self.horizon = event.occurred_at

    def _account_id(self, topic: str, e: Any, rows: Rows) -> str:
        if topic.startswith("carelog:Account."):
            return str(e.originator_id)
        if topic == _SURVEY_TOPIC:
            return str(e.account_id)
        if topic == "carelog:Case.Opened":
            rows.put(CASE_ACCOUNTS, {"case_id": str(e.originator_id),
                                     "account_id": str(e.account_id)})
            return str(e.account_id)
        row = rows.get(CASE_ACCOUNTS, str(e.originator_id))
        if row is None:
            raise LookupError(f"case {e.originator_id} has no Opened event before {topic}")
        return str(row["account_id"])

    # Scoring, once per page -----------------------------------------------------------------

    def finish_page(self, rows: Rows, position: int) -> None:
        """Close the days the horizon has passed and re-score what may have changed.

        An account is scored as of the later of the end of the last closed day and its own
        latest event: the accounts a page touched at once, every account when the day turns
        (from the evaluation its close needed anyway). So the view is the same however the log
        was cut into pages, and no score is more than a day behind the log.
        """
        self._settings(rows)
        if self.horizon is None:
            return
        last_close = self.horizon.date() - timedelta(days=1)
        closed = rows.get(SETTINGS, "closed_through")
        everyone = (self._model_changed or closed is None
                    or closed["value"] != last_close.isoformat())
        if everyone:
            self._load_all(rows)
        names = sorted(self._accounts) if everyone else sorted(self._touched)
        for account_id in names:
            account = self._accounts[account_id]
            if self._model_changed:
                account.stale_from = account.first_day
            self._close_days(rows, account_id, account, last_close)
            self._score(rows, account_id, account, last_close)
        rows.put(SETTINGS, {"key": "closed_through", "value": last_close.isoformat()})
        rows.put(SETTINGS, {"key": "horizon", "value": self.horizon.isoformat()})

    def _close_days(self, rows: Rows, account_id: str, account: _Account, last: date) -> None:
        if account.first_day is None:
            return
        closes = account.closes
        start = account.stale_from
        if start is None:
            start = closes[-1].day + timedelta(days=1) if closes else account.first_day
        account.stale_from = None
        while closes and closes[-1].day >= start:
            dropped = closes.pop()
            if dropped.day > last:
                rows.delete(CLOSES, account_id, dropped.day.isoformat())
        facts = account.facts.build()
        day = max(start, account.first_day)
        while day <= last:
            # A close keeps numbers only: nobody reads its explanation, so none is made.
            health = reading(self.model, facts, day_end(day))
            close = confirm(closes[-1] if closes else None, health, day, self.model)
            closes.append(close)
            rows.put(CLOSES, {
                "account_id": account_id, "day": day.isoformat(), "score": close.score,
                "value": repr(close.value), "band": close.band,
                "confirmed_band": close.confirmed_band, "gated": close.gated,
                "streak": close.streak, "model_version": self.model.version})
            day += timedelta(days=1)

    def _health_at(self, account: _Account, at: datetime) -> Health:
        """The evaluation at `at`, explanation included (as-of: facts after `at` do not count)."""
        return evaluate(self.model, account.facts.build(), at)

    def _score(self, rows: Rows, account_id: str, account: _Account, last_close: date) -> None:
        end_of_close = day_end(last_close)
        at = max(end_of_close, account.latest_at or end_of_close)
        health = self._health_at(account, at)
        today = at.date()
        history = [c for c in account.closes if c.day < today]
        current = confirm(history[-1] if history else None, health, today, self.model)
        delta7, delta30, arrow = trend([*history, current], today)
        week_ago = self._health_at(account, day_end(today - _WEEK))
        rows.put(HEALTH, {
            "account_id": account_id, "score": health.score, "band": health.band,
            "confirmed_band": current.confirmed_band, "coverage": repr(health.coverage),
            "model_version": self.model.version, "as_of": at, "delta7": delta7,
            "delta30": delta30, "arrow": arrow, "sentiment": account.sentiment,
            "disagreement": _disagree(account.sentiment, current.confirmed_band),
            "renewal_on": account.renewal_on, "renewal_likelihood": account.renewal_likelihood,
            "renewal_risk": account.renewal_risk,
            "explanation": json.dumps(health.to_dict()),
            "change7": json.dumps(explain_change(week_ago, health).to_dict()),
            "position": account.last_position})


def _disagree(sentiment: str | None, band: str) -> bool:
    """The manager's reading and the confirmed band are two levels apart."""
    if sentiment is None or band not in BAND_SEVERITY:
        return False
    return abs(_SENTIMENT_LEVEL[sentiment] - BAND_SEVERITY[band]) >= 2



_HEALTH_TYPES = {c.name: c.type for c in HEALTH.columns}


class AccountHealthView:
    """Queries on the `account_health` read model."""

    projection = AccountHealthProjection.name

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def get_many(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        with self.store.reader() as tx:
            rows = tx.fetch_all(
                f"SELECT * FROM account_health WHERE account_id IN ({', '.join('?' * len(ids))})",
                ids)
            return {r["account_id"]: tx.decode(r, _HEALTH_TYPES) for r in rows}

    def closes(self, account_id: str, days: int) -> list[dict[str, Any]]:
        """The latest `days` daily closes of an account, oldest first."""
        if not 1 <= days <= 730:
            raise InvalidInputError("days must be between 1 and 730")
        with self.store.reader() as tx:
            rows = tx.fetch_all(
                "SELECT * FROM health_closes WHERE account_id = ? ORDER BY day DESC LIMIT ?",
                (account_id, days))
        return rows[::-1]

    def recent_closes(self, days: int) -> dict[str, list[dict[str, Any]]]:
        """Every account's closes of the last `days` closed days, oldest first."""
        with self.store.reader() as tx:
            through = tx.fetch_one(
                "SELECT value FROM health_settings WHERE key = 'closed_through'")
            if through is None:
                return {}
            since = date.fromisoformat(through["value"]) - timedelta(days=days - 1)
            rows = tx.fetch_all("SELECT * FROM health_closes WHERE day >= ? "
                                "ORDER BY account_id, day", (since.isoformat(),))
        closes: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            closes.setdefault(row["account_id"], []).append(row)
        return closes
