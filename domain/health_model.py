"""KAH-1 key-account health: the pure maths of the score, its explanation and its daily closes.

The health projection folds events into a `FactsBuilder` per account and calls `evaluate` for
any as-of time; `explain_change`, `confirm` and `trend` work on the results. No I/O here.
Section 2 of `customer-success-anchors.md` is the specification; choices it leaves open are
stated where they are made. Higher scores are healthier, time windows are half-open `(T-w, T]`.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cached_property
from itertools import accumulate
from operator import attrgetter
from types import MappingProxyType
from typing import TypeVar

from domain.errors import InvalidInputError

COMPONENTS: Mapping[str, str] = MappingProxyType({
    "C1": "Usage & adoption",
    "C2": "Support load & escalations",
    "C3": "SLA attainment",
    "C4": "Customer sentiment",
    "C5": "Engagement & relationship",
    "C6": "Commercial health",
})
# Sub-metric key -> (component, name). "A1" is the SLA breach rate (the table's row under C3).
SUB_METRICS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "U1": ("C1", "seat utilisation"),
    "U2": ("C1", "usage change"),
    "S1": ("C2", "open escalations"),
    "S2": ("C2", "ticket intensity"),
    "A1": ("C3", "SLA breach rate"),
    "K1": ("C4", "CSAT"),
    "K2": ("C4", "NPS"),
    "E1": ("C5", "days since two-way touchpoint"),
    "E2": ("C5", "executive sponsor engaged"),
    "E3": ("C5", "champion active"),
    "B1": ("C6", "days oldest invoice overdue"),
    "B2": ("C6", "contraction requested"),
})
GATES: Mapping[str, str] = MappingProxyType({
    "G1": "P1 escalation or P1/P2 SLA breach",
    "G2": "renewal at risk",
    "G3": "renewal early warning",
    "G4": "payment problem",
    "G5": "champion left",
})
PROFILES = ("established", "onboarding")
BAND_SEVERITY = {"green": 0, "yellow": 1, "red": 2}
"""The colour bands from healthy to not; grey (too little data) has no place in it."""
PRIORITIES = ("urgent", "high", "normal", "low")
RISK_LEVELS = ("none", "early_warning", "at_risk", "churn_notice")
SLA_KINDS = ("first_response", "resolution")

_DEFAULT_WEIGHTS = {
    "established": {"C1": 20.0, "C2": 20.0, "C3": 15.0, "C4": 20.0, "C5": 15.0, "C6": 10.0},
    "onboarding": {"C1": 30.0, "C2": 15.0, "C3": 15.0, "C4": 10.0, "C5": 25.0, "C6": 5.0},
}
# (poor -> 0, healthy -> 100) per linearly scored sub-metric.
_DEFAULT_THRESHOLDS = {
    "U1": (0.40, 0.80), "U2": (-0.20, -0.05), "S2": (2.0, 1.0), "A1": (0.25, 0.05),
    "K1": (0.60, 0.90), "K2": (6.0, 9.0), "E1": (60.0, 21.0), "B1": (60.0, 0.0),
}
_DEFAULT_CAPS = {"G1": 74.0, "G2": 49.0, "G3": 74.0, "G4": 74.0, "G5": 74.0}

# Fixed parts of KAH-1 that the model document does not (yet) parameterise.
_SLA_WEIGHT = {"urgent": 4, "high": 3, "normal": 2, "low": 1}
_G1_PRIORITIES = ("urgent", "high")
_ESCALATION_DEDUCTION = {"urgent": 40.0, "high": 20.0, "normal": 5.0, "low": 5.0}
_DAY = timedelta(days=1)
_D7, _D28, _D30, _D60 = (timedelta(days=n) for n in (7, 28, 30, 60))
_D90, _D180 = timedelta(days=90), timedelta(days=180)
_DAY_S = 86400.0
_CSAT_HALF_LIFE_DAYS = 30.0
_PER_ARR = 100_000.0


def _frozen(mapping: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(mapping))


# The model -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthModel:
    """One published version of the KAH-1 weights and thresholds; validated on construction."""

    version: int = 1
    established: Mapping[str, float] = field(
        default_factory=lambda: _frozen(_DEFAULT_WEIGHTS["established"]), hash=False)
    onboarding: Mapping[str, float] = field(
        default_factory=lambda: _frozen(_DEFAULT_WEIGHTS["onboarding"]), hash=False)
    thresholds: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: MappingProxyType(dict(_DEFAULT_THRESHOLDS)), hash=False)
    caps: Mapping[str, float] = field(default_factory=lambda: _frozen(_DEFAULT_CAPS), hash=False)
    green: float = 75.0
    yellow: float = 50.0
    coverage_floor: float = 0.6
    hysteresis_closes: int = 2
    immediate_drop_points: float = 10.0
    onboarding_days: int = 90
    csat_min_responses: int = 3

    def __post_init__(self) -> None:
        if isinstance(self.version, bool) or not isinstance(self.version, int) \
                or self.version < 1:
            raise InvalidInputError(f"model version must be a positive integer, not "
                                    f"{self.version!r}")
        for profile in PROFILES:
            weights = {**_DEFAULT_WEIGHTS[profile], **self.weights(profile)}
            _only(weights, COMPONENTS, f"weights.{profile}")
            for key, weight in weights.items():
                if not math.isfinite(weight) or weight < 0:
                    raise InvalidInputError(
                        f"weight of {key} in profile {profile} must be a finite number >= 0, "
                        f"not {weight!r}")
            if not any(weights.values()):
                raise InvalidInputError(f"weights of profile {profile} are all zero")
            object.__setattr__(self, profile, _frozen(weights))
        thresholds = {**_DEFAULT_THRESHOLDS, **self.thresholds}
        _only(thresholds, _DEFAULT_THRESHOLDS, "thresholds")
        for key, (poor, healthy) in thresholds.items():
            if not (math.isfinite(poor) and math.isfinite(healthy)):
                raise InvalidInputError(f"thresholds of {key} must be finite numbers")
            if poor == healthy:
                raise InvalidInputError(
                    f"thresholds of {key}: poor and healthy must differ (both {poor})")
        object.__setattr__(self, "thresholds", MappingProxyType(thresholds))
        caps = {**_DEFAULT_CAPS, **self.caps}
        _only(caps, GATES, "caps")
        for key, cap in caps.items():
            if not 0 <= cap <= 100:
                raise InvalidInputError(f"cap of {key} must be within 0-100, not {cap!r}")
        object.__setattr__(self, "caps", _frozen(caps))
        if not 0 < self.yellow < self.green <= 100:
            raise InvalidInputError(
                f"bands out of order: need 0 < yellow < green <= 100, got yellow "
                f"{self.yellow!r} and green {self.green!r}")
        if not 0 <= self.coverage_floor <= 1:
            raise InvalidInputError(
                f"coverage_floor must be within 0-1, not {self.coverage_floor!r}")
        if not self.immediate_drop_points > 0:
            raise InvalidInputError(
                f"immediate_drop_points must be positive, not {self.immediate_drop_points!r}")
        for name, minimum in (("hysteresis_closes", 1), ("onboarding_days", 0),
                              ("csat_min_responses", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise InvalidInputError(f"{name} must be an integer >= {minimum}, not {value!r}")

    def weights(self, profile: str) -> Mapping[str, float]:
        return self.onboarding if profile == "onboarding" else self.established

    @cached_property
    def weight_rows(self) -> Mapping[str, tuple[float, ...]]:
        """Weights per profile in component order (C1..C6); a cache for `evaluate`."""
        return {p: tuple(self.weights(p)[key] for key in COMPONENTS) for p in PROFILES}

    @cached_property
    def weight_totals(self) -> Mapping[str, float]:
        return {p: sum(self.weights(p).values()) for p in PROFILES}

    @cached_property
    def onboarding_span(self) -> timedelta:
        return timedelta(days=self.onboarding_days)

    def band(self, score: float) -> str:
        """Green [green, 100], yellow [yellow, green), red below; the lower edge is inclusive."""
        if score >= self.green:
            return "green"
        return "yellow" if score >= self.yellow else "red"

    def to_document(self) -> dict[str, object]:
        return {
            "version": self.version,
            "weights": {p: dict(self.weights(p)) for p in PROFILES},
            "thresholds": {k: {"poor": p, "healthy": h} for k, (p, h) in self.thresholds.items()},
            "caps": dict(self.caps),
            "bands": {"green": self.green, "yellow": self.yellow},
            "coverage_floor": self.coverage_floor,
            "hysteresis_closes": self.hysteresis_closes,
            "immediate_drop_points": self.immediate_drop_points,
            "onboarding_days": self.onboarding_days,
            "csat_min_responses": self.csat_min_responses,
        }

    @classmethod
    def from_document(cls, document: Mapping[str, object]) -> HealthModel:
        """Parse a (possibly partial) model document; omitted keys keep their defaults."""
        doc = _section(document, "model document", _DOCUMENT_KEYS)
        kwargs: dict[str, object] = {}
        if "version" in doc:
            kwargs["version"] = doc["version"]
        weights = _section(doc.get("weights", {}), "weights", PROFILES)
        for profile, section in weights.items():
            kwargs[profile] = {key: _number(value, f"weights.{profile}.{key}") for key, value
                               in _section(section, f"weights.{profile}", COMPONENTS).items()}
        thresholds: dict[str, tuple[float, float]] = {}
        for key, section in _section(doc.get("thresholds", {}), "thresholds",
                                     _DEFAULT_THRESHOLDS).items():
            pair = _section(section, f"thresholds.{key}", ("poor", "healthy"))
            poor, healthy = _DEFAULT_THRESHOLDS[key]
            thresholds[key] = (_number(pair.get("poor", poor), f"thresholds.{key}.poor"),
                               _number(pair.get("healthy", healthy), f"thresholds.{key}.healthy"))
        kwargs["thresholds"] = thresholds
        kwargs["caps"] = {key: _number(value, f"caps.{key}") for key, value
                          in _section(doc.get("caps", {}), "caps", GATES).items()}
        bands = _section(doc.get("bands", {}), "bands", ("green", "yellow"))
        for name in ("green", "yellow"):
            if name in bands:
                kwargs[name] = _number(bands[name], f"bands.{name}")
        for name in ("coverage_floor", "immediate_drop_points"):
            if name in doc:
                kwargs[name] = _number(doc[name], name)
        kwargs |= {name: doc[name] for name in ("hysteresis_closes", "onboarding_days",
                                                "csat_min_responses") if name in doc}
        return cls(**kwargs)  # type: ignore[arg-type]  # each value is checked in __post_init__


_DOCUMENT_KEYS = ("version", "weights", "thresholds", "caps", "bands", "coverage_floor",
                  "hysteresis_closes", "immediate_drop_points", "onboarding_days",
                  "csat_min_responses")


def _only(mapping: Mapping[str, object], allowed: Iterable[str], where: str) -> None:
    allowed = tuple(allowed)
    for key in mapping:
        if key not in allowed:
            raise InvalidInputError(
                f"unknown key {key!r} in {where}; expected one of: {', '.join(allowed)}")


def _section(value: object, where: str, allowed: Iterable[str]) -> Mapping[str, object]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidInputError(f"{where} must be an object with string keys")
    _only(value, allowed, where)
    return value


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value):
        raise InvalidInputError(f"{where} must be a finite number, not {value!r}")
    return float(value)


DEFAULT_MODEL = HealthModel()


# Input facts ---------------------------------------------------------------------------------


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise InvalidInputError(f"unknown {what} {value!r}; expected one of: {', '.join(allowed)}")


@dataclass(frozen=True, slots=True)
class Escalation:
    event_id: str
    escalated_at: datetime
    resolved_at: datetime | None = None
    resolved_event_id: str | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    """The ticket is not open from `resolved_at` until `reopened_at` (forever if None)."""

    event_id: str
    resolved_at: datetime
    reopened_at: datetime | None = None
    reopened_event_id: str | None = None


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket's history as far as health needs it; the transition methods return a new one."""

    ticket_id: str
    event_id: str
    opened_at: datetime
    priority: str
    priority_changes: tuple[tuple[datetime, str], ...] = ()
    escalations: tuple[Escalation, ...] = ()
    resolutions: tuple[Resolution, ...] = ()

    def __post_init__(self) -> None:
        _check_choice(self.priority, PRIORITIES, "priority")

    def priority_at(self, at: datetime) -> str:
        i = bisect_right(self.priority_changes, at, key=lambda change: change[0])
        return self.priority_changes[i - 1][1] if i else self.priority

    def is_open_at(self, at: datetime) -> bool:
        if self.opened_at > at:
            return False
        for resolution in reversed(self.resolutions):
            if resolution.resolved_at <= at:
                return resolution.reopened_at is not None and resolution.reopened_at <= at
        return True

    def with_priority(self, at: datetime, priority: str) -> Ticket:
        _check_choice(priority, PRIORITIES, "priority")
        changes = sorted((*self.priority_changes, (at, priority)), key=lambda c: c[0])
        return replace(self, priority_changes=tuple(changes))

    # Each transition ignores an event id it already holds, so a redelivered event is harmless.

    def escalated(self, event_id: str, at: datetime) -> Ticket:
        if any(e.event_id == event_id for e in self.escalations):
            return self
        escalations = sorted((*self.escalations, Escalation(event_id, at)),
                             key=lambda e: e.escalated_at)
        return replace(self, escalations=tuple(escalations))

    def deescalated(self, event_id: str, at: datetime) -> Ticket:
        """Ends the latest escalation that started at or before `at` and is still open."""
        if any(e.resolved_event_id == event_id for e in self.escalations):
            return self
        escalations = list(self.escalations)
        for i in reversed(range(len(escalations))):
            if escalations[i].escalated_at <= at and escalations[i].resolved_at is None:
                escalations[i] = replace(escalations[i], resolved_at=at,
                                         resolved_event_id=event_id)
                break
        return replace(self, escalations=tuple(escalations))

    def resolved(self, event_id: str, at: datetime) -> Ticket:
        if any(r.event_id == event_id for r in self.resolutions):
            return self
        resolutions = sorted((*self.resolutions, Resolution(event_id, at)),
                             key=lambda r: r.resolved_at)
        return replace(self, resolutions=tuple(resolutions))

    def reopened(self, event_id: str, at: datetime) -> Ticket:
        if any(r.reopened_event_id == event_id for r in self.resolutions):
            return self
        resolutions = list(self.resolutions)
        for i in reversed(range(len(resolutions))):
            if resolutions[i].resolved_at <= at and resolutions[i].reopened_at is None:
                resolutions[i] = replace(resolutions[i], reopened_at=at,
                                         reopened_event_id=event_id)
                break
        return replace(self, resolutions=tuple(resolutions))


@dataclass(frozen=True, slots=True)
class SlaTarget:
    """One SLA clock of a ticket; `due_at` already includes business hours and pauses."""

    ticket_id: str
    kind: str
    priority: str
    event_id: str
    due_at: datetime
    met_at: datetime | None = None
    breach_event_id: str | None = None
    since: datetime | None = None
    """When these terms took effect (a priority change recounts the clock); None: at opening."""
    until: datetime | None = None
    """When newer terms replaced these; None: still in force."""

    def __post_init__(self) -> None:
        _check_choice(self.kind, SLA_KINDS, "SLA kind")
        _check_choice(self.priority, PRIORITIES, "priority")

    def in_force(self, at: datetime) -> bool:
        return (self.since is None or self.since <= at) and (self.until is None
                                                               or at < self.until)


@dataclass(frozen=True, slots=True)
class CsatResponse:
    """A 1-5 rating; a good/bad survey maps to 5/1."""

    event_id: str
    at: datetime
    score: int

    def __post_init__(self) -> None:
        if not 1 <= self.score <= 5:
            raise InvalidInputError(f"CSAT scores run from 1 to 5, not {self.score!r}")


@dataclass(frozen=True, slots=True)
class NpsResponse:
    event_id: str
    contact_id: str
    at: datetime
    score: int
    executive: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.score <= 10:
            raise InvalidInputError(f"NPS scores run from 0 to 10, not {self.score!r}")


@dataclass(frozen=True, slots=True)
class Touchpoint:
    event_id: str
    at: datetime
    two_way: bool
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ChampionSpan:
    """A contact is the active champion from `named_at` until `ended_at` (role removed or left)."""

    contact_id: str
    event_id: str
    named_at: datetime
    ended_at: datetime | None = None
    ended_event_id: str | None = None
    left: bool = False

    def active_at(self, at: datetime) -> bool:
        return self.named_at <= at and (self.ended_at is None or self.ended_at > at)


@dataclass(frozen=True, slots=True)
class UsageReport:
    event_id: str
    at: datetime
    active_users: int | None = None
    licensed_seats: int | None = None


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice_id: str
    event_id: str
    issued_at: datetime
    due_at: datetime
    amount: float
    paid_at: datetime | None = None
    paid_event_id: str | None = None

    def unpaid_at(self, at: datetime) -> bool:
        return self.paid_at is None or self.paid_at > at


@dataclass(frozen=True, slots=True)
class PaymentFailure:
    """Cured by a payment of its invoice at or after `at` (any invoice if `invoice_id` is None)."""

    event_id: str
    at: datetime
    invoice_id: str | None = None


@dataclass(frozen=True, slots=True)
class ContractionRequest:
    event_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RenewalRiskSet:
    event_id: str
    at: datetime
    level: str
    actor: str

    def __post_init__(self) -> None:
        _check_choice(self.level, RISK_LEVELS, "renewal risk level")


# Sort keys: time first, then an id, so equal times give one order whatever the arrival order.
_SORT_KEYS = (
    ("tickets", attrgetter("opened_at", "ticket_id")),
    ("sla_targets", attrgetter("due_at", "ticket_id", "kind")),
    ("champions", attrgetter("named_at", "event_id")),
    ("invoices", attrgetter("issued_at", "invoice_id")),
    *((name, attrgetter("at", "event_id")) for name in (
        "csat", "nps", "touchpoints", "usage", "payment_failures", "contractions",
        "renewal_risks")),
)


@dataclass(frozen=True)
class AccountFacts:
    """Everything `evaluate` reads about one account; tuples are sorted on construction.

    All datetimes are timezone-aware (UTC). `arr` is in the reporting currency.
    """

    account_id: str
    contract_start: datetime | None = None
    arr: float = 0.0
    tickets: tuple[Ticket, ...] = ()
    sla_targets: tuple[SlaTarget, ...] = ()
    csat: tuple[CsatResponse, ...] = ()
    nps: tuple[NpsResponse, ...] = ()
    touchpoints: tuple[Touchpoint, ...] = ()
    champions: tuple[ChampionSpan, ...] = ()
    usage: tuple[UsageReport, ...] = ()
    invoices: tuple[Invoice, ...] = ()
    payment_failures: tuple[PaymentFailure, ...] = ()
    contractions: tuple[ContractionRequest, ...] = ()
    renewal_risks: tuple[RenewalRiskSet, ...] = ()

    def __post_init__(self) -> None:
        for name, key in _SORT_KEYS:
            object.__setattr__(self, name, tuple(sorted(getattr(self, name), key=key)))

    @cached_property
    def index(self) -> _Index:
        return _Index(self)


class _Index:
    """Sorted time keys next to the facts, so each window is two bisections."""

    def __init__(self, facts: AccountFacts) -> None:
        self.ticket_times = tuple(t.opened_at for t in facts.tickets)
        self.ticket_events = tuple(t.event_id for t in facts.tickets)
        escalations = sorted(((e.escalated_at, e, t) for t in facts.tickets
                              for e in t.escalations), key=lambda x: x[0])
        self.escalation_times = tuple(x[0] for x in escalations)
        self.escalations = tuple((e, t) for _, e, t in escalations)
        # SLA targets as (due, met, weight, priority, ticket, kind, evidence) rows. A target due
        # in a window ending at T breaches unless it was met by its due time, whatever T is, so
        # prefix sums give the due-side totals of A1 in O(1).
        # Terms that changed (a priority change) count only while in force: few, so scanned.
        plain = [t for t in facts.sla_targets if t.since is None and t.until is None]
        self.versioned = tuple(t for t in facts.sla_targets
                               if t.since is not None or t.until is not None)
        self.due = tuple((t.due_at, t.met_at, _SLA_WEIGHT[t.priority], t.priority, t.ticket_id,
                          t.kind, t.breach_event_id or t.event_id) for t in plain)
        self.due_times = tuple(row[0] for row in self.due)
        self.due_late = tuple(row[1] is None or row[1] > row[0] for row in self.due)
        self.due_weight_sums = tuple(accumulate((row[2] for row in self.due), initial=0))
        self.due_breach_sums = tuple(accumulate(
            (row[2] if late else 0 for row, late in zip(self.due, self.due_late, strict=True)),
            initial=0))
        self.severe_late = tuple(i for i, (row, late) in enumerate(
            zip(self.due, self.due_late, strict=True)) if late and row[3] in _G1_PRIORITIES)
        """Indexes into `due` of the late urgent and high targets (what G1 looks for)."""
        self.met = tuple(sorted(((t.met_at, t.due_at, _SLA_WEIGHT[t.priority],
                                  t.breach_event_id or t.event_id)
                                 for t in plain if t.met_at is not None),
                                key=lambda row: (row[0], row[3])))
        self.met_times = tuple(row[0] for row in self.met)
        self.csat_times = tuple(r.at for r in facts.csat)
        self.nps_times = tuple(r.at for r in facts.nps)
        self.two_way = tuple(t for t in facts.touchpoints if t.two_way)
        self.two_way_times = tuple(t.at for t in self.two_way)
        self.sponsor = tuple(t for t in self.two_way if "executive_sponsor" in t.roles)
        self.sponsor_times = tuple(t.at for t in self.sponsor)
        self.active = tuple(r for r in facts.usage if r.active_users is not None)
        self.active_times = tuple(r.at for r in self.active)
        self.active_values = tuple(float(r.active_users or 0) for r in self.active)
        self.seats = tuple(r for r in facts.usage if r.licensed_seats is not None)
        self.seats_times = tuple(r.at for r in self.seats)
        self.invoice_times = tuple(i.issued_at for i in facts.invoices)
        self.invoices_by_id = {i.invoice_id: i for i in facts.invoices}
        self.failure_times = tuple(f.at for f in facts.payment_failures)
        self.contraction_times = tuple(c.at for c in facts.contractions)
        self.risk_times = tuple(r.at for r in facts.renewal_risks)


PointFact = (CsatResponse | NpsResponse | Touchpoint | UsageReport | PaymentFailure
             | ContractionRequest | RenewalRiskSet)


class FactsBuilder:
    """The mutable side the projection folds events into, in any time order; `build()` snapshots.

    Keyed facts (tickets, SLA targets, invoices) are replaced whole through `put`; read the
    current one with `ticket`/`target`/`invoice` and use its transition methods or `replace`.
    Point facts are appended with `add`; an event id seen before is ignored (redelivery).
    `build()` sorts and is cached until the next change.
    """

    def __init__(self, account_id: str, contract_start: datetime | None = None,
                 arr: float = 0.0) -> None:
        self.account_id = account_id
        self.contract_start = contract_start
        self.arr = arr
        self._tickets: dict[str, Ticket] = {}
        self._targets: dict[tuple[str, str], SlaTarget] = {}
        self._replaced_targets: list[SlaTarget] = []
        self._invoices: dict[str, Invoice] = {}
        self._champions: list[ChampionSpan] = []
        self._csat: list[CsatResponse] = []
        self._nps: list[NpsResponse] = []
        self._touchpoints: list[Touchpoint] = []
        self._usage: list[UsageReport] = []
        self._failures: list[PaymentFailure] = []
        self._contractions: list[ContractionRequest] = []
        self._risks: list[RenewalRiskSet] = []
        self._seen: set[str] = set()
        self._built: AccountFacts | None = None

    def set_contract(self, contract_start: datetime | None, arr: float) -> None:
        self.contract_start, self.arr, self._built = contract_start, arr, None

    def put(self, fact: Ticket | SlaTarget | Invoice) -> None:
        if isinstance(fact, Ticket):
            self._tickets[fact.ticket_id] = fact
        elif isinstance(fact, SlaTarget):
            self._targets[fact.ticket_id, fact.kind] = fact
        else:
            self._invoices[fact.invoice_id] = fact
        self._built = None

    def add(self, fact: PointFact) -> None:
        if fact.event_id in self._seen:
            return
        self._seen.add(fact.event_id)
        match fact:
            case CsatResponse():
                self._csat.append(fact)
            case NpsResponse():
                self._nps.append(fact)
            case Touchpoint():
                self._touchpoints.append(fact)
            case UsageReport():
                self._usage.append(fact)
            case PaymentFailure():
                self._failures.append(fact)
            case ContractionRequest():
                self._contractions.append(fact)
            case RenewalRiskSet():
                self._risks.append(fact)
            case _:
                raise TypeError(f"not a point fact: {fact!r}")
        self._built = None

    def ticket(self, ticket_id: str) -> Ticket:
        return _known(self._tickets, ticket_id, "ticket")

    def target(self, ticket_id: str, kind: str) -> SlaTarget:
        return _known(self._targets, (ticket_id, kind), "SLA target")

    def retarget(self, ticket_id: str, kind: str, due_at: datetime, priority: str,
                 event_id: str, at: datetime) -> None:
        """New terms for an SLA clock from `at` on; the old ones still judge times before."""
        old = self.target(ticket_id, kind)
        self._replaced_targets.append(replace(old, until=at))
        self._targets[ticket_id, kind] = replace(old, due_at=due_at, priority=priority,
                                                 event_id=event_id, since=at, until=None,
                                                 breach_event_id=None)
        self._built = None

    def invoice(self, invoice_id: str) -> Invoice:
        return _known(self._invoices, invoice_id, "invoice")

    def name_champion(self, contact_id: str, event_id: str, at: datetime) -> None:
        if event_id in self._seen:
            return
        self._seen.add(event_id)
        self._champions.append(ChampionSpan(contact_id, event_id, at))
        self._built = None

    def end_champion(self, contact_id: str, event_id: str, at: datetime, *, left: bool) -> None:
        """Role removed (`left=False`) or `ContactLeft` (`left=True`); no-op if not a champion."""
        if event_id in self._seen:
            return
        self._seen.add(event_id)
        spans = [(i, s) for i, s in enumerate(self._champions)
                 if s.contact_id == contact_id and s.named_at <= at and s.ended_at is None]
        if spans:
            i, span = max(spans, key=lambda x: x[1].named_at)
            self._champions[i] = replace(span, ended_at=at, ended_event_id=event_id, left=left)
            self._built = None

    def build(self) -> AccountFacts:
        if self._built is None:
            self._built = AccountFacts(
                self.account_id, self.contract_start, self.arr,
                tickets=tuple(self._tickets.values()),
                sla_targets=(*self._targets.values(), *self._replaced_targets),
                csat=tuple(self._csat), nps=tuple(self._nps),
                touchpoints=tuple(self._touchpoints), champions=tuple(self._champions),
                usage=tuple(self._usage), invoices=tuple(self._invoices.values()),
                payment_failures=tuple(self._failures), contractions=tuple(self._contractions),
                renewal_risks=tuple(self._risks),
            )
        return self._built


K = TypeVar("K")
V = TypeVar("V")


def _known(mapping: Mapping[K, V], key: K, what: str) -> V:
    try:
        return mapping[key]
    except KeyError:
        raise InvalidInputError(f"unknown {what} {key!r}") from None


# The result ----------------------------------------------------------------------------------


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


@dataclass(frozen=True, slots=True)
class SubMetric:
    """One measured input; `score` None means missing (left out of its component)."""

    key: str
    name: str
    raw: float | None
    window: str
    score: float | None
    evidence: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "name": self.name, "raw": self.raw, "window": self.window,
                "score": self.score, "evidence": list(self.evidence)}


@dataclass(frozen=True, slots=True)
class Component:
    """`effective_weight` is in percent of the available weight (sums to 100 when any is)."""

    key: str
    name: str
    weight: float
    effective_weight: float
    score: float | None
    contribution: float
    points_lost: float
    sub_metrics: tuple[SubMetric, ...]

    @property
    def evidence(self) -> tuple[str, ...]:
        return tuple(e for m in self.sub_metrics if m.score is not None for e in m.evidence)

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "name": self.name, "weight": self.weight,
                "effective_weight": self.effective_weight, "score": self.score,
                "contribution": self.contribution, "points_lost": self.points_lost,
                "sub_metrics": [m.to_dict() for m in self.sub_metrics]}


@dataclass(frozen=True, slots=True)
class Gate:
    """An active cap; `binding` when it is below the score before gates."""

    key: str
    cap: float
    reason: str
    evidence: str
    since: datetime
    actor: str | None = None
    binding: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "cap": self.cap, "reason": self.reason,
                "evidence": self.evidence, "since": _iso(self.since), "actor": self.actor,
                "binding": self.binding}


@dataclass(frozen=True, slots=True)
class Driver:
    """One of the components losing most points."""

    component: Component

    @property
    def key(self) -> str:
        return self.component.key

    @property
    def name(self) -> str:
        return self.component.name

    @property
    def points_lost(self) -> float:
        return self.component.points_lost

    @property
    def evidence(self) -> tuple[str, ...]:
        return self.component.evidence

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "name": self.name, "points_lost": self.points_lost,
                "evidence": list(self.evidence)}


@dataclass(frozen=True, slots=True)
class Health:
    """KAH-1 for one account at `at`: value = min(h0, caps), score = value rounded half up."""

    account_id: str
    at: datetime
    score: int
    value: float
    h0: float
    coverage: float
    band: str
    profile: str
    model_version: int
    components: tuple[Component, ...]
    gates: tuple[Gate, ...]
    top_drivers: tuple[Driver, ...]

    @property
    def gated(self) -> bool:
        return self.value < self.h0

    def to_dict(self) -> dict[str, object]:
        return {"account_id": self.account_id, "at": _iso(self.at), "score": self.score,
                "value": self.value, "h0": self.h0, "coverage": self.coverage,
                "band": self.band, "profile": self.profile, "model_version": self.model_version,
                "components": [c.to_dict() for c in self.components],
                "gates": [g.to_dict() for g in self.gates],
                "top_drivers": [d.to_dict() for d in self.top_drivers]}


# Evaluation ----------------------------------------------------------------------------------


def lin(x: float, poor: float, healthy: float) -> float:
    """0 at `poor`, 100 at `healthy`, linear between and clamped outside; either direction."""
    t = (x - poor) / (healthy - poor)
    return 0.0 if t <= 0 else 100.0 if t >= 1 else 100.0 * t


def round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / _DAY_S


def _window(times: Sequence[datetime], start: datetime, end: datetime) -> tuple[int, int]:
    """Index range of `times` within (start, end]."""
    return bisect_right(times, start), bisect_right(times, end)


@dataclass(frozen=True, slots=True)
class Reading:
    """The numbers of an evaluation without its explanation: what a daily close keeps.

    `reading` gives exactly the `score`, `value`, `h0`, `coverage` and `band` that `evaluate`
    gives for the same arguments (the same code computes them), at a fraction of the cost.
    """

    score: int
    value: float
    h0: float
    coverage: float
    band: str

    @property
    def gated(self) -> bool:
        return self.value < self.h0


def evaluate(model: HealthModel, facts: AccountFacts, at: datetime,
             segment_intensity: float | None = None) -> Health:
    """KAH-1 as of `at`, from facts with time <= `at` only.

    `segment_intensity` is the segment median of tickets per 90 days per 100k ARR, used by S2
    while the account has less than six months of history.
    """
    profile, weights, subs, scores, covered, h0, gates = _assess(
        model, facts, at, segment_intensity, explain=True)
    components = []
    for key, name, metrics, score, weight in zip(
            COMPONENTS, _COMPONENT_NAMES, subs, scores, weights, strict=True):
        if score is None or not covered:
            components.append(Component(key, name, weight, 0.0, score, 0.0, 0.0, metrics))
            continue
        share = weight / covered
        components.append(Component(key, name, weight, 100.0 * share, score, share * score,
                                    share * (100.0 - score), metrics))
    r = _reading(model, profile, covered, h0, gates)
    losers = sorted((c for c in components if c.points_lost > 0),
                    key=lambda c: -c.points_lost)[:3]
    return Health(facts.account_id, at, r.score, r.value, h0, r.coverage, r.band, profile,
                  model.version, tuple(components), gates, tuple(map(Driver, losers)))


def reading(model: HealthModel, facts: AccountFacts, at: datetime,
            segment_intensity: float | None = None) -> Reading:
    """`evaluate`'s numbers without its explanation (no evidence, components or drivers)."""
    profile, _, _, _, covered, h0, gates = _assess(
        model, facts, at, segment_intensity, explain=False)
    return _reading(model, profile, covered, h0, gates)


_Assessment = tuple[str, tuple[float, ...], tuple[tuple["SubMetric", ...], ...],
                    list[float | None], float, float, tuple["Gate", ...]]


def _assess(model: HealthModel, facts: AccountFacts, at: datetime,
            segment_intensity: float | None, explain: bool) -> _Assessment:
    """The maths of `evaluate` and `reading`: profile, weights, sub-metrics, component scores,
    covered weight, h0 and gates. Without `explain`, sub-metrics carry no evidence."""
    if at.tzinfo is None:
        raise InvalidInputError("the as-of time must be timezone-aware")
    ix = facts.index
    start = facts.contract_start
    profile = "onboarding" if start is not None and at < start + model.onboarding_span \
        else "established"
    weights = model.weight_rows[profile]
    th = model.thresholds
    escalations, p1_escalation = _escalations(ix, at)
    overdue = _oldest_overdue(facts, ix, at)
    champion = _champion_state(facts, at)
    subs = (
        (_seat_utilisation(ix, at, th["U1"]), _usage_change(ix, at, th["U2"], explain)),
        (escalations, _ticket_intensity(facts, ix, at, th["S2"], segment_intensity)),
        (_breach_rate(ix, at, th["A1"], explain),),
        (_csat(facts, ix, at, th["K1"], model.csat_min_responses, explain),
         _nps(facts, ix, at, th["K2"])),
        (_last_touch(facts, ix, at, th["E1"]), _sponsor(ix, at), champion[0]),
        (_overdue_metric(overdue, at, th["B1"]), _contraction(facts, ix, at)),
    )
    scores: list[float | None] = []
    covered = 0.0
    for metrics, weight in zip(subs, weights, strict=True):
        available = [m.score for m in metrics if m.score is not None]
        if available:
            scores.append(sum(available) / len(available))
            covered += weight
        else:
            scores.append(None)
    h0 = 0.0
    if covered:
        for score, weight in zip(scores, weights, strict=True):
            if score is not None:
                h0 += weight / covered * score
    gates = _gates(model, facts, ix, at, h0, p1_escalation, overdue, champion[1])
    return profile, weights, subs, scores, covered, h0, gates


def _reading(model: HealthModel, profile: str, covered: float, h0: float,
             gates: tuple[Gate, ...]) -> Reading:
    value = min(h0, *(g.cap for g in gates)) if gates else h0
    score = round_half_up(value)
    coverage = covered / model.weight_totals[profile]
    band = "grey" if coverage < model.coverage_floor else model.band(score)
    return Reading(score, value, h0, coverage, band)


_SUB_NAMES = {key: name for key, (_, name) in SUB_METRICS.items()}
_COMPONENT_NAMES = tuple(COMPONENTS.values())


def _metric(key: str, raw: float | None, window: str, score: float | None,
            evidence: tuple[str, ...] = ()) -> SubMetric:
    return SubMetric(key, _SUB_NAMES[key], raw, window, score, evidence)


def _seat_utilisation(ix: _Index, at: datetime, th: tuple[float, float]) -> SubMetric:
    window = "latest active users within (T-28d, T] / latest licensed seats"
    i = bisect_right(ix.active_times, at)
    j = bisect_right(ix.seats_times, at)
    if not i or not j or ix.active_times[i - 1] <= at - _D28:
        return _metric("U1", None, window, None)
    seats = ix.seats[j - 1].licensed_seats or 0
    if seats <= 0:
        return _metric("U1", None, window, None)
    raw = ix.active_values[i - 1] / seats
    evidence = tuple(dict.fromkeys((ix.active[i - 1].event_id, ix.seats[j - 1].event_id)))
    return _metric("U1", raw, window, lin(raw, *th), evidence)


def _usage_change(ix: _Index, at: datetime, th: tuple[float, float],
                  explain: bool) -> SubMetric:
    window = "mean active users (T-30d, T] vs (T-60d, T-30d]"
    mid = at - _D30
    i0, i1 = _window(ix.active_times, at - _D60, mid)
    i2 = bisect_right(ix.active_times, at)
    if i1 == i0 or i2 == i1:
        return _metric("U2", None, window, None)
    before = sum(ix.active_values[i0:i1]) / (i1 - i0)
    if before <= 0:
        return _metric("U2", None, window, None)
    raw = sum(ix.active_values[i1:i2]) / (i2 - i1) / before - 1.0
    return _metric("U2", raw, window, lin(raw, *th),
                   tuple(r.event_id for r in ix.active[i0:i2]) if explain else ())


def _escalations(ix: _Index, at: datetime) -> tuple[SubMetric, tuple[Escalation, str] | None]:
    """S1, and the oldest open P1 escalation (for G1) with its ticket id."""
    deduction, tickets, evidence = 0.0, set(), []
    p1: tuple[Escalation, str] | None = None
    for escalation, ticket in ix.escalations[:bisect_right(ix.escalation_times, at)]:
        if escalation.resolved_at is not None and escalation.resolved_at <= at:
            continue
        if ticket.ticket_id in tickets or not ticket.is_open_at(at):
            continue
        tickets.add(ticket.ticket_id)
        priority = ticket.priority_at(at)
        deduction += _ESCALATION_DEDUCTION[priority]
        evidence.append(escalation.event_id)
        if priority == "urgent" and p1 is None:
            p1 = (escalation, ticket.ticket_id)
    metric = _metric("S1", float(len(tickets)), "open escalated tickets at T "
                     "(P1 -40, P2 -20, other -5)", max(0.0, 100.0 - deduction), tuple(evidence))
    return metric, p1


def _ticket_intensity(facts: AccountFacts, ix: _Index, at: datetime, th: tuple[float, float],
                      segment_intensity: float | None) -> SubMetric:
    """S2: r = tickets(90d) / median of the fully covered earlier 90-day windows (at least 1).

    History starts at the contract start or the first ticket, whichever is earlier. Below six
    months of history r = tickets per 100k ARR / `segment_intensity` (missing without one).
    """
    period = _D90
    i0, i1 = _window(ix.ticket_times, at - period, at)
    count = i1 - i0
    evidence = ix.ticket_events[i0:i1]
    starts = [t for t in (facts.contract_start, ix.ticket_times[0] if ix.ticket_times else None)
              if t is not None and t <= at]
    history = min(starts) if starts else None
    if history is None or at - history < _D180:
        window = "tickets (T-90d, T] per 100k ARR vs segment median"
        if segment_intensity is None or segment_intensity <= 0 or facts.arr <= 0:
            return _metric("S2", None, window, None)
        raw = count / (facts.arr / _PER_ARR) / segment_intensity
        return _metric("S2", raw, window, lin(raw, *th), evidence)
    counts = []
    for k in range(1, 5):
        lo = at - (k + 1) * period
        if lo < history:
            break
        j0, j1 = _window(ix.ticket_times, lo, lo + period)
        counts.append(j1 - j0)
    counts.sort()
    half = len(counts) // 2
    median = counts[half] if len(counts) % 2 else (counts[half - 1] + counts[half]) / 2
    raw = count / max(1.0, median)
    return _metric("S2", raw, f"tickets (T-90d, T] / median of {len(counts)} earlier 90-day "
                   "windows", lin(raw, *th), evidence)


def _breach_rate(ix: _Index, at: datetime, th: tuple[float, float],
                 explain: bool) -> SubMetric:
    """A1: targets due or met in (T-90d, T], priority-weighted; a running overdue one breaches."""
    window = "SLA targets due or met in (T-90d, T], weights P1 4, P2 3, P3 2, P4 1"
    lo = at - _D90
    i0, i1 = _window(ix.due_times, lo, at)
    weights = ix.due_weight_sums[i1] - ix.due_weight_sums[i0]
    breaches = ix.due_breach_sums[i1] - ix.due_breach_sums[i0]
    evidence = [row[6] for row, late in zip(ix.due[i0:i1], ix.due_late[i0:i1], strict=True)
                if late] if explain else []
    j0, j1 = _window(ix.met_times, lo, at)
    for _, due, weight, event_id in ix.met[j0:j1]:
        if due > at:  # met early
            weights += weight
        elif due <= lo:  # met inside the window, due before it: late
            weights += weight
            breaches += weight
            if explain:
                evidence.append(event_id)
    for t in ix.versioned:  # the same rules, for terms in force at `at` only
        if not t.in_force(at):
            continue
        weight, met = _SLA_WEIGHT[t.priority], t.met_at
        met_here = met is not None and lo < met <= at
        if lo < t.due_at <= at or (met_here and (t.due_at > at or t.due_at <= lo)):
            weights += weight
            if (met is None or met > t.due_at) and t.due_at <= at:
                breaches += weight
                if explain:
                    evidence.append(t.breach_event_id or t.event_id)
    if not weights:
        return _metric("A1", None, window, None)
    raw = breaches / weights
    return _metric("A1", raw, window, lin(raw, *th), tuple(evidence))


def _csat(facts: AccountFacts, ix: _Index, at: datetime, th: tuple[float, float],
          minimum: int, explain: bool) -> SubMetric:
    window = "CSAT (T-90d, T], share 4-5, weight 2^(-age/30d)"
    i0, i1 = _window(ix.csat_times, at - _D90, at)
    if i1 - i0 < minimum:
        return _metric("K1", None, window, None)
    good = total = 0.0
    for response in facts.csat[i0:i1]:
        w = math.exp2(-(at - response.at).total_seconds() / (_CSAT_HALF_LIFE_DAYS * _DAY_S))
        total += w
        if response.score >= 4:
            good += w
    raw = good / total
    return _metric("K1", raw, window, lin(raw, *th),
                   tuple(r.event_id for r in facts.csat[i0:i1]) if explain else ())


def _nps(facts: AccountFacts, ix: _Index, at: datetime, th: tuple[float, float]) -> SubMetric:
    window = "latest NPS per contact in (T-180d, T], executives count twice"
    i0, i1 = _window(ix.nps_times, at - _D180, at)
    seen: set[str] = set()
    total = weights = 0.0
    evidence = []
    for response in reversed(facts.nps[i0:i1]):
        if response.contact_id in seen:
            continue
        seen.add(response.contact_id)
        w = 2.0 if response.executive else 1.0
        total += w * response.score
        weights += w
        evidence.append(response.event_id)
    if not weights:
        return _metric("K2", None, window, None)
    raw = total / weights
    return _metric("K2", raw, window, lin(raw, *th), tuple(evidence))


def _last_touch(facts: AccountFacts, ix: _Index, at: datetime,
                th: tuple[float, float]) -> SubMetric:
    """E1. With no two-way touchpoint yet, days count from the contract start (the signature is
    the last contact); with no contract start either, E1 scores 0 (silence is a risk)."""
    window = "days since the last two-way touchpoint"
    i = bisect_right(ix.two_way_times, at)
    if i:
        last = ix.two_way[i - 1]
        raw = _days(at - last.at)
        return _metric("E1", raw, window, lin(raw, *th), (last.event_id,))
    start = facts.contract_start
    if start is None:
        return _metric("E1", None, window + " (none, no contract start)", 0.0)
    raw = max(0.0, _days(at - start))
    return _metric("E1", raw, window + " (none: counted from contract start)", lin(raw, *th))


def _sponsor(ix: _Index, at: datetime) -> SubMetric:
    window = "two-way touchpoint with the executive sponsor in (T-90d, T]"
    i0, i1 = _window(ix.sponsor_times, at - _D90, at)
    if i1 > i0:
        return _metric("E2", 1.0, window, 100.0, (ix.sponsor[i1 - 1].event_id,))
    return _metric("E2", 0.0, window, 0.0)


def _champion_state(facts: AccountFacts, at: datetime) -> tuple[SubMetric, ChampionSpan | None]:
    """E3, and the span of a champion who left in (T-30d, T] with nobody active now (G5)."""
    window = "an active champion at T"
    left: ChampionSpan | None = None
    for span in reversed(facts.champions):
        if span.named_at > at:
            continue
        if span.active_at(at):
            return _metric("E3", 1.0, window, 100.0, (span.event_id,)), None
        ended = span.ended_at
        if span.left and ended is not None and ended > at - _D30 \
                and (left is None or ended > (left.ended_at or ended)):
            left = span
    evidence = (left.ended_event_id,) if left is not None and left.ended_event_id else ()
    return _metric("E3", 0.0, window, 0.0, evidence), left


def _oldest_overdue(facts: AccountFacts, ix: _Index,
                    at: datetime) -> tuple[bool, Invoice | None]:
    """Whether any invoice was issued by T, and the unpaid one with the oldest passed due date."""
    issued = facts.invoices[:bisect_right(ix.invoice_times, at)]
    oldest: Invoice | None = None
    for invoice in issued:
        if invoice.due_at < at and invoice.unpaid_at(at) \
                and (oldest is None or invoice.due_at < oldest.due_at):
            oldest = invoice
    return bool(issued), oldest


def _overdue_metric(overdue: tuple[bool, Invoice | None], at: datetime,
                    th: tuple[float, float]) -> SubMetric:
    window = "days the oldest unpaid invoice is past due at T"
    issued, oldest = overdue
    if not issued:
        return _metric("B1", None, window, None)
    if oldest is None:
        return _metric("B1", 0.0, window, lin(0.0, *th))
    raw = _days(at - oldest.due_at)
    return _metric("B1", raw, window, lin(raw, *th), (oldest.event_id,))


def _contraction(facts: AccountFacts, ix: _Index, at: datetime) -> SubMetric:
    window = "contraction requested in (T-90d, T]"
    i0, i1 = _window(ix.contraction_times, at - _D90, at)
    if i1 > i0:
        return _metric("B2", 1.0, window, 0.0,
                       tuple(c.event_id for c in facts.contractions[i0:i1]))
    return _metric("B2", 0.0, window, 100.0)


def _gates(model: HealthModel, facts: AccountFacts, ix: _Index, at: datetime, h0: float,
           p1: tuple[Escalation, str] | None, overdue: tuple[bool, Invoice | None],
           champion_left: ChampionSpan | None) -> tuple[Gate, ...]:
    caps = model.caps
    gates: list[Gate] = []

    def gate(key: str, reason: str, evidence: str, since: datetime,
             actor: str | None = None) -> None:
        gates.append(Gate(key, caps[key], reason, evidence, since, actor, caps[key] < h0))

    g1 = _g1(ix, at, p1)
    if g1 is not None:
        gate("G1", *g1)
    risk_i = bisect_right(ix.risk_times, at)
    if risk_i:
        risk = facts.renewal_risks[risk_i - 1]
        key = {"at_risk": "G2", "churn_notice": "G2", "early_warning": "G3"}.get(risk.level)
        if key is not None:
            gate(key, f"renewal risk set to {risk.level} by {risk.actor} on "
                 f"{risk.at.date().isoformat()}", risk.event_id, risk.at, risk.actor)
    g4 = _g4(facts, ix, at, overdue[1])
    if g4 is not None:
        gate("G4", *g4)
    if champion_left is not None and champion_left.ended_at is not None:
        gate("G5", f"champion {champion_left.contact_id} left on "
             f"{champion_left.ended_at.date().isoformat()}, no replacement named",
             champion_left.ended_event_id or champion_left.event_id, champion_left.ended_at)
    return tuple(gates)


def _g1(ix: _Index, at: datetime,
        p1: tuple[Escalation, str] | None) -> tuple[str, str, datetime] | None:
    """Open P1 escalation older than 24 h, or a P1/P2 breach due in (T-7d, T]; earliest wins."""
    found: list[tuple[datetime, str, str]] = []
    if p1 is not None and p1[0].escalated_at <= at - _DAY:
        found.append((p1[0].escalated_at + _DAY,
                      f"P1 ticket {p1[1]} escalated for more than 24 h", p1[0].event_id))
    i0, i1 = _window(ix.due_times, at - _D7, at)
    k = bisect_left(ix.severe_late, i0)  # sorted by due time: the first one is the earliest
    if k < len(ix.severe_late) and ix.severe_late[k] < i1:
        due, _, _, priority, ticket_id, kind, event_id = ix.due[ix.severe_late[k]]
        found.append((due, f"{priority} ticket {ticket_id} breached its {kind} SLA", event_id))
    for t in ix.versioned:  # terms changed by a priority change: those in force at `at`
        if (t.in_force(at) and t.priority in _G1_PRIORITIES and at - _D7 < t.due_at <= at
                and (t.met_at is None or t.met_at > t.due_at)):
            found.append((t.due_at, f"{t.priority} ticket {t.ticket_id} breached its {t.kind} "
                          "SLA", t.breach_event_id or t.event_id))
    if not found:
        return None
    since, reason, evidence = min(found)
    return reason, evidence, since


def _g4(facts: AccountFacts, ix: _Index, at: datetime,
        oldest: Invoice | None) -> tuple[str, str, datetime] | None:
    """An uncured payment failure, or an invoice more than 60 days overdue; earliest wins."""
    found: list[tuple[datetime, str, str]] = []
    for failure in facts.payment_failures[:bisect_right(ix.failure_times, at)]:
        if failure.invoice_id is not None:
            invoice = ix.invoices_by_id.get(failure.invoice_id)
            cured = invoice is not None and invoice.paid_at is not None \
                and failure.at <= invoice.paid_at <= at
        else:
            cured = any(i.paid_at is not None and failure.at <= i.paid_at <= at
                        for i in facts.invoices)
        if not cured:
            found.append((failure.at, f"payment failed on {failure.at.date().isoformat()}"
                          + (f" for invoice {failure.invoice_id}" if failure.invoice_id else ""),
                          failure.event_id))
            break  # sorted by time: the first uncured failure is the earliest
    if oldest is not None and oldest.due_at < at - _D60:
        found.append((oldest.due_at + _D60,
                      f"invoice {oldest.invoice_id} overdue for more than 60 days",
                      oldest.event_id))
    if not found:
        return None
    since, reason, evidence = min(found)
    return reason, evidence, since


# Explaining a change -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ComponentChange:
    key: str
    name: str
    score_effect: float
    renormalisation_effect: float

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "name": self.name, "score_effect": self.score_effect,
                "renormalisation_effect": self.renormalisation_effect}


@dataclass(frozen=True, slots=True)
class Change:
    """Σ component effects + gate_effect = value_delta; + rounding_effect = score_delta."""

    value_delta: float
    score_delta: int
    components: tuple[ComponentChange, ...]
    gate_effect: float
    rounding_effect: float

    def to_dict(self) -> dict[str, object]:
        return {"value_delta": self.value_delta, "score_delta": self.score_delta,
                "components": [c.to_dict() for c in self.components],
                "gate_effect": self.gate_effect, "rounding_effect": self.rounding_effect}


def explain_change(before: Health, after: Health) -> Change:
    """Exact decomposition of after.value - before.value (the model is linear).

    Per component, with w' the effective weight as a fraction: score effect w'_b·(s_a - s_b)
    and renormalisation effect w'_a·s_a - w'_b·s_a. A component missing on one side takes the
    other side's score, so its appearing or disappearing shows as renormalisation only.
    """
    old = {c.key: c for c in before.components}
    changes = []
    for new in after.components:
        prior = old.get(new.key)
        s_a = new.score if new.score is not None else (prior.score if prior else None) or 0.0
        w_b = prior.effective_weight / 100.0 if prior else 0.0
        c_b = prior.contribution if prior else 0.0
        changes.append(ComponentChange(new.key, new.name, w_b * s_a - c_b,
                                       new.contribution - w_b * s_a))
    gate_effect = (after.value - after.h0) - (before.value - before.h0)
    rounding = (after.score - after.value) - (before.score - before.value)
    return Change(after.value - before.value, after.score - before.score, tuple(changes),
                  gate_effect, rounding)


# Daily closes, hysteresis and trend ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Close:
    """The end-of-day health of an account; `streak` counts closes in a row with this raw band."""

    day: date
    score: int
    value: float
    band: str
    confirmed_band: str
    gated: bool
    streak: int = 1

    def to_dict(self) -> dict[str, object]:
        return {"day": self.day.isoformat(), "score": self.score, "value": self.value,
                "band": self.band, "confirmed_band": self.confirmed_band,
                "gated": self.gated, "streak": self.streak}


def confirm(previous: Close | None, health: Health | Reading, day: date,
            model: HealthModel = DEFAULT_MODEL) -> Close:
    """The close of `day` after `previous` (the close of an earlier day, None for the first).

    The confirmed band follows the raw band once it held at `hysteresis_closes` closes in a row;
    at once when a binding gate is what puts the score into a colour band, or when the score
    fell by `immediate_drop_points` or more since the previous close. Grey (coverage below the
    floor) is a band like the others for the two-close rule, but the immediate paths never lead
    into grey: missing data is not a gate or a drop, and a one-day data gap should not flip it.
    """
    if previous is not None and previous.day >= day:
        raise InvalidInputError(f"close of {day} must follow the close of {previous.day}")
    band = health.band
    gated = health.gated
    if previous is None:
        return Close(day, health.score, health.value, band, band, gated)
    streak = previous.streak + 1 if previous.band == band else 1
    confirmed = previous.confirmed_band
    if band != confirmed and (
            streak >= model.hysteresis_closes
            or (band != "grey" and (
                (gated and model.band(round_half_up(health.h0)) != band)
                or previous.score - health.score >= model.immediate_drop_points))):
        confirmed = band
    return Close(day, health.score, health.value, band, confirmed, gated, streak)


def trend(closes: Sequence[Close], day: date) -> tuple[int | None, int | None, str]:
    """(Δ7, Δ30, arrow) of the closes (sorted by day) at `day`.

    Each side uses the latest close on or before its day; a delta is None without one. The
    arrow is "up" for Δ7 >= 3, "down" for Δ7 <= -3, else (or without Δ7) "flat".
    """
    days = [c.day for c in closes]

    def score_on(d: date) -> int | None:
        i = bisect_right(days, d)
        return closes[i - 1].score if i else None

    now = score_on(day)

    def delta(back: int) -> int | None:
        then = score_on(day - timedelta(days=back))
        return None if now is None or then is None else now - then

    d7, d30 = delta(7), delta(30)
    arrow = "flat" if d7 is None or -3 < d7 < 3 else "up" if d7 >= 3 else "down"
    return d7, d30, arrow
