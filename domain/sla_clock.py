"""The SLA clock of one case: pure, immutable, rebuilt by replaying the case's events in order.

The Case aggregate, the SLA projection and the SLA reactor each fold the same calls:

    clock = SlaClock.started(opened_at, priority, targets, calendar)
    clock = clock.paused(at)          # waiting on the client
    clock = clock.resumed(at)
    clock = clock.first_responded(at)
    clock = clock.resolved(at)
    clock = clock.reopened(at)
    clock = clock.priority_changed(at, priority, targets)
    clock = clock.breach_recorded(kind, at)

Every call returns a new clock. Targets are business time in the clock's calendar.

Rules, in the order a reader will ask about them:

- **First response** runs from the opening and never pauses: waiting on the client does not
  excuse the first answer (Zendesk's first reply time; Zammad freezes it, we do not). A
  resolution without an earlier response counts as the first response, since a resolved case
  is an answered one. Reopening does not restart it.
- **Resolution** runs while the case is open and not waiting on the client. It is cumulative
  across reopenings: the time a case spent paused or resolved is left out, so a reopened case
  continues with the business time it had left (as helpdesks that extend the due time by the
  closed period do).
- **Due and breach.** `due` is the last instant that still meets the target: a response or
  resolution at exactly the due instant is met, and the clock is in breach at every instant
  strictly after it. A clock stopped at exactly its due instant is not in breach.
- **Priority change** swaps the targets and recomputes both due times from the start (the
  opening), replaying pauses and resolved periods, as Zendesk does. A tighter target can put
  the due time in the past; the breach is then pending at once.
- **Breaches are recorded once**: first response once per case, resolution once per
  *resolution cycle* (the opening, then each reopening). A case resolved late and reopened
  is in breach again from the reopening instant and that is reported once for the new cycle.
  Recorded breaches are history: they stay when a later priority change would have met the
  target, and do not come back within the same cycle.
- **Replays are tolerant.** Calls that do not apply (a pause while paused, a resume while
  running, a second first response, a reopening of an open case) change nothing, and an
  instant earlier than the previous call's is read as the previous call's instant.
- **Queries at `at`** expect `at` at or after the last call's instant.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from domain.business_calendar import BusinessCalendar
from domain.errors import InvalidInputError
from domain.service_plans import SlaTargets
from domain.values import Priority, enum_value

_ZERO = timedelta(0)


class SlaKind(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


@dataclass(frozen=True, slots=True)
class Breach:
    """A breach the reactor recorded: which target, in which resolution cycle, and when."""

    kind: SlaKind
    cycle: int
    at: datetime


@dataclass(frozen=True, slots=True)
class _Reading:
    """One target read off the clock's history.

    `crossed` is the instant the target fell or falls due, if the clock ran or runs past it;
    `left` the business time still to go when the clock is stopped without having crossed.
    """

    crossed: datetime | None
    left: timedelta


def _kind(kind: SlaKind | str) -> SlaKind:
    if isinstance(kind, SlaKind):
        return kind
    return SlaKind(enum_value(SlaKind, kind, "SLA target"))


def _at(at: datetime) -> datetime:
    if not isinstance(at, datetime) or at.utcoffset() is None:
        raise InvalidInputError(f"SLA instants must be timezone-aware datetimes, not {at!r}")
    return at


def _check_targets(targets: SlaTargets) -> SlaTargets:
    if targets.first_response < _ZERO or targets.resolution < _ZERO:
        raise InvalidInputError("SLA targets cannot be negative")
    return targets


@dataclass(frozen=True, slots=True)
class SlaClock:
    """First-response and resolution clocks of one case; see the module docstring for rules.

    `stops` are the closed periods in which the resolution clock stood still (waiting on the
    client, or resolved until reopened); `stopped_since` is the open one, if any.
    """

    calendar: BusinessCalendar
    priority: Priority
    targets: SlaTargets
    started_at: datetime
    last_at: datetime
    first_response_at: datetime | None = None
    paused_since: datetime | None = None
    resolved_at: datetime | None = None
    stopped_since: datetime | None = None
    stops: tuple[tuple[datetime, datetime], ...] = ()
    cycle: int = 0
    cycle_started_at: datetime | None = None
    breaches: tuple[Breach, ...] = ()

    # -- events, in log order --------------------------------------------------------------

    @classmethod
    def started(cls, at: datetime, priority: Priority | str, targets: SlaTargets,
                calendar: BusinessCalendar) -> SlaClock:
        at = _at(at)
        return cls(calendar, Priority(enum_value(Priority, priority, "priority")),
                   _check_targets(targets), at, at, cycle_started_at=at)

    def paused(self, at: datetime) -> SlaClock:
        """The case waits on the client: the resolution clock stops, first response runs on."""
        at = self._next(at)
        if self.stopped_since is not None:
            return replace(self, last_at=at)
        return replace(self, last_at=at, paused_since=at, stopped_since=at)

    def resumed(self, at: datetime) -> SlaClock:
        at = self._next(at)
        if self.paused_since is None or self.resolved_at is not None:
            return replace(self, last_at=at)
        return replace(self._restart(at), paused_since=None)

    def first_responded(self, at: datetime) -> SlaClock:
        at = self._next(at)
        if self.first_response_at is not None:
            return replace(self, last_at=at)
        return replace(self, last_at=at, first_response_at=at)

    def resolved(self, at: datetime) -> SlaClock:
        """Resolution met; also the first response when there was none. A pause ends here."""
        at = self._next(at)
        if self.resolved_at is not None:
            return replace(self, last_at=at)
        return replace(self, last_at=at, resolved_at=at, paused_since=None,
                       first_response_at=self.first_response_at or at,
                       stopped_since=self.stopped_since or at)

    def reopened(self, at: datetime) -> SlaClock:
        """A new resolution cycle: the clock runs on with the business time it had left."""
        at = self._next(at)
        if self.resolved_at is None:
            return replace(self, last_at=at)
        return replace(self._restart(at), resolved_at=None, cycle=self.cycle + 1,
                       cycle_started_at=at)

    def priority_changed(self, at: datetime, priority: Priority | str,
                         targets: SlaTargets) -> SlaClock:
        """New targets, measured again from the opening."""
        return replace(self, last_at=self._next(at),
                       priority=Priority(enum_value(Priority, priority, "priority")),
                       targets=_check_targets(targets))

    def breach_recorded(self, kind: SlaKind | str, at: datetime) -> SlaClock:
        """The reactor recorded the current cycle's breach of `kind`, which happened at `at`.

        Idempotent per kind and cycle, so replaying the log records each breach once.
        """
        kind, at = _kind(kind), _at(at)
        cycle = self._cycle_of(kind)
        if any(b.kind is kind and b.cycle == cycle for b in self.breaches):
            return self
        return replace(self, breaches=(*self.breaches, Breach(kind, cycle, at)))

    # -- queries ----------------------------------------------------------------------------

    def due(self, kind: SlaKind | str) -> datetime | None:
        """The last instant that meets the target under today's targets.

        For a running clock, when it falls due; once crossed, the past instant it fell due.
        For a met clock that was on time, the due time as it stood when met. None for a
        paused resolution clock that has not crossed its target.
        """
        kind = _kind(kind)
        reading = self._read(kind)
        if reading.crossed is not None:
            return reading.crossed
        stop = self.first_response_at if kind is SlaKind.FIRST_RESPONSE else self.stopped_since
        if stop is None or (kind is SlaKind.RESOLUTION and self.paused_since is not None):
            return None
        return self.calendar.add(stop, reading.left)

    def breach_at(self, kind: SlaKind | str) -> datetime | None:
        """When the breach of the current cycle happens (or happened) if nothing changes.

        None when the clock is stopped without being in breach in this cycle.
        """
        kind = _kind(kind)
        crossed = self._read(kind).crossed
        if crossed is None:
            return None
        if kind is SlaKind.RESOLUTION:  # a breach in an earlier cycle recurs at the reopening
            crossed = max(crossed, self.cycle_started_at or self.started_at)
        for start, end in self._runs(kind):
            at = max(start, crossed)
            if end is None or at < end:
                return at
        return None

    def breached(self, kind: SlaKind | str, at: datetime) -> bool:
        """Whether the target is missed at `at`: the clock ran past its due instant."""
        crossed = self._read(_kind(kind)).crossed
        return crossed is not None and _at(at) > crossed

    def elapsed(self, kind: SlaKind | str, at: datetime) -> timedelta:
        """Business time counted against the target by `at`, pauses and resolved time excluded."""
        at = _at(at)
        return sum((self.calendar.business_time_between(s, min(e or at, at))
                    for s, e in self._runs(_kind(kind)) if s < at), _ZERO)

    def met_at(self, kind: SlaKind | str) -> datetime | None:
        """When the first response came, or when the current cycle was resolved."""
        if _kind(kind) is SlaKind.FIRST_RESPONSE:
            return self.first_response_at
        return self.resolved_at

    def pending_breaches(self, at: datetime) -> list[tuple[SlaKind, datetime]]:
        """Breaches that happened before `at` and are not yet recorded, each with its instant.

        A reactor records each with `breach_recorded(kind, instant)` and schedules its next
        check at the earliest `breach_at` still ahead.
        """
        at = _at(at)
        pending: list[tuple[SlaKind, datetime]] = []
        for kind in SlaKind:
            when = self.breach_at(kind)
            cycle = self._cycle_of(kind)
            if when is not None and when < at and not any(
                    b.kind is kind and b.cycle == cycle for b in self.breaches):
                pending.append((kind, when))
        return pending

    # -- internals --------------------------------------------------------------------------

    def _next(self, at: datetime) -> datetime:
        return max(_at(at), self.last_at)

    def _restart(self, at: datetime) -> SlaClock:
        assert self.stopped_since is not None  # only called on a paused or resolved clock
        return replace(self, last_at=at, stopped_since=None,
                       stops=(*self.stops, (self.stopped_since, at)))

    def _cycle_of(self, kind: SlaKind) -> int:
        return 0 if kind is SlaKind.FIRST_RESPONSE else self.cycle

    def _runs(self, kind: SlaKind) -> list[tuple[datetime, datetime | None]]:
        """The periods the clock of `kind` ran, the last one open-ended while it runs."""
        if kind is SlaKind.FIRST_RESPONSE:
            return [(self.started_at, self.first_response_at)]
        runs: list[tuple[datetime, datetime | None]] = []
        start = self.started_at
        for stop, restart in self.stops:
            runs.append((start, stop))
            start = restart
        runs.append((start, self.stopped_since))
        return runs

    def _read(self, kind: SlaKind) -> _Reading:
        target = (self.targets.first_response if kind is SlaKind.FIRST_RESPONSE
                  else self.targets.resolution)
        left = target
        for start, end in self._runs(kind):
            if end is None:
                return _Reading(self.calendar.add(start, left), _ZERO)
            ran = self.calendar.business_time_between(start, end)
            if left <= ran:
                due = self.calendar.add(start, left)
                if due < end:
                    return _Reading(due, _ZERO)
            left = max(left - ran, _ZERO)
        return _Reading(None, left)
