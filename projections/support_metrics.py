"""Read model `support_metrics`: one row per case with its facts, rollups per day, week and month.

Serves GraphQL `supportMetrics` and `topTopics`. Every metric is dated by the business time
(`occurred_at`) of the event that settles it, never by when it was recorded; what a case
contributes is defined once, in `support_tally.items_of`.

Tables:
- `support_cases`: one row per case: its dimensions (channel, agent, line, account, priority,
  topic), opened / first response / first resolution / latest rating times, durations in
  wall-clock seconds (and business seconds once a calendar is given), replies before
  resolution, reopen count, SLA due times and whether each target was met or breached.
- `support_rollups`: for each rollup set of `ROLLUP_SETS` (one dimension, two, or the four of
  few values), each combination of its values, each period of each grain it keeps (day, ISO
  week, month), the tally of the items dated in it (counts, sums and every duration, sorted,
  so medians stay exact). A change to a case moves exactly the items that changed between
  rollups.
- `support_nps`: one row per NPS survey response.

A report reads the rollups of the smallest set that holds every dimension it groups or filters
by, in the coarsest grain its periods and range allow. Anything else (an agent with an account,
three dimensions with either, agents or accounts by day, a range that cuts a day) adds up the
case rows of the range, with the same tally.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from operator import itemgetter
from typing import Any
from weakref import WeakKeyDictionary

from domain.business_calendar import BusinessCalendar
from domain.errors import InvalidInputError
from projections.paging import check_first
from projections.projection import Projection, handles
from projections.rows import Rows
from projections.schema import Column, Table
from projections.store import ViewStore
from projections.support_tally import (
    DIMENSIONS,
    GRAINS,
    ROLLUP_SETS,
    SLA_KINDS,
    Item,
    RollupSet,
    Tally,
    is_boundary,
    items_of,
    nps,
    packed_figures,
    period_holding,
    period_key,
    period_start,
    seconds_between,
    sla_state,
)

_MICROSECOND = timedelta(microseconds=1)

CASES = Table(
    "support_cases",
    columns=(
        Column("id"), Column("account_id"), Column("channel"), Column("topic"),
        Column("priority"), Column("line", "int"), Column("assignee"),
        Column("first_reply_agent"), Column("opened_at", "timestamp"),
        Column("first_response_at", "timestamp"), Column("first_response_seconds", "int"),
        Column("first_response_business_micros", "int"), Column("resolved_at", "timestamp"),
        Column("resolution_seconds", "int"), Column("resolution_business_micros", "int"),
        Column("calendar"),
        Column("replies", "int"), Column("replies_before_resolution", "int"),
        Column("reopened_count", "int"), Column("closed_at", "timestamp"), Column("csat", "int"),
        Column("rated_at", "timestamp"), Column("first_response_due", "timestamp"),
        Column("resolution_due", "timestamp"), Column("first_response_breached", "bool"),
        Column("resolution_breached", "bool"), Column("first_response_sla"),
        Column("resolution_sla"), Column("last_item_at", "timestamp"),
        Column("version", "int"), Column("position", "int"),
    ),
    key=("id",),
    indexes=(("opened_at",), ("account_id", "opened_at")),
)

ROLLUPS = Table(
    "support_rollups",
    columns=(Column("dim"), Column("grain"), Column("period"), Column("value"),
             Column("tally")),  # `Tally.pack`: counters and every duration, in one text
    key=("dim", "grain", "period", "value"),
)

NPS = Table(
    "support_nps",
    columns=(
        Column("id"), Column("account_id"), Column("contact_id"), Column("score", "int"),
        Column("comment"), Column("occurred_at", "timestamp"), Column("position", "int"),
    ),
    key=("id",),
    indexes=(("occurred_at",), ("account_id", "occurred_at")),
)

# What `items_of` and `dimension_value` read from a case row.
_ITEM_COLUMNS = ("account_id", "channel", "topic", "priority", "line", "assignee",
                 "first_reply_agent", "opened_at", "first_response_at", "first_response_seconds",
                 "resolved_at", "resolution_seconds", "replies_before_resolution",
                 "reopened_count", "csat", "rated_at", "first_response_due", "resolution_due",
                 "first_response_sla", "resolution_sla")
_ITEM_TIMES = tuple(c for c in _ITEM_COLUMNS if CASES.column_types[c] == "timestamp")
RollupKey = tuple[str, str, str, str]
"""(dimension, grain, period, value): the primary key of a rollup row."""
Move = tuple[Item, int, dict[str, str]]
"""An item going into (1) or out of (-1) rollups, with its period in each grain."""
_GRAINS_OF = {s.name: s.grains for s in ROLLUP_SETS}
_NONE = ""  # the rollup value of a missing agent or topic (key columns cannot be NULL)


def rollup_value_of(case: dict[str, Any], rollups: RollupSet) -> str:
    """A case's value in the rollups of a set."""
    return _value_in(rollups)({d: dimension_value(case, d) for d in rollups.dims})


def _value_in(rollups: RollupSet) -> Callable[[dict[str, str]], str]:
    """Reads the value in a set's rollups from a case's values by dimension: the one value
    itself, or all of them as a JSON list."""
    if len(rollups.dims) == 1:
        return itemgetter(rollups.dims[0])
    values = itemgetter(*rollups.dims)
    return lambda by_dimension: _json_list(values(by_dimension))


@lru_cache(maxsize=65_536)
def _json_list(values: tuple[str, ...]) -> str:
    """Cached: the fold asks for the same few combinations again and again."""
    return json.dumps(values)


_VALUE_IN = [(s.name, _value_in(s)) for s in ROLLUP_SETS]


def dimension_value(case: dict[str, Any], dim: str) -> str:
    """A case's value in one dimension, as rollups store it."""
    if dim == "agent":
        return case["assignee"] or case["first_reply_agent"] or _NONE
    if dim == "line":
        return str(case["line"])
    if dim == "account":
        return str(case["account_id"])
    return case[dim] or _NONE


def rollup_items(case: dict[str, Any]) -> list[tuple[RollupKey, Item]]:
    """Each rollup a case's items are tallied in, with the item (a fold keeps this true)."""
    values = [(s, rollup_value_of(case, s)) for s in ROLLUP_SETS]
    return [((s.name, grain, period_key(item[1], grain), value), item)
            for item in items_of(case) for s, value in values for grain in s.grains]


def _minus(items: list[Item], others: list[Item]) -> list[Item]:
    """The items of `items` not matched one for one in `others`."""
    rest = list(others)
    left = []
    for item in items:
        if item in rest:
            rest.remove(item)
        else:
            left.append(item)
    return left


class SupportMetricsProjection(Projection):
    name = "support_metrics"
    version = 6
    min_page_size = 20_000
    """Rollups are read, unpacked and packed once a page: big pages do that rarely."""
    tables = (CASES, ROLLUPS, NPS)

    def __init__(self) -> None:
        self._calendars: dict[str, BusinessCalendar] = {}
        # The items a page moves in and out of each rollup, per page (by its rows): applied in
        # `finish_page`, so a rollup is read, unpacked and packed once a page, however many of
        # its events touch it (a busy month's rollup holds thousands of durations).
        self._pages: WeakKeyDictionary[Any, dict[tuple[str, str], list[Move]]] = (
            WeakKeyDictionary())

    def reads(self, topic: str, event: Any) -> Iterable[tuple[Table, tuple[Any, ...]]]:
        if topic.startswith("carelog:Case.") and topic != "carelog:Case.Opened":
            yield CASES, (str(event.originator_id),)

    def _case(self, rows: Rows, e: Any) -> dict[str, Any]:
        row = rows.get(CASES, str(e.originator_id))
        if row is None:
            raise LookupError(f"case {e.originator_id} has no Opened event before {e}")
        return row

    def _calendar(self, document: str) -> BusinessCalendar:
        calendar = self._calendars.get(document)
        if calendar is None:
            calendar = self._calendars[document] = BusinessCalendar.from_document(
                json.loads(document))
        return calendar

    def _derive(self, row: dict[str, Any]) -> list[Item]:
        """Durations, SLA outcomes and the latest dated item from the row's facts; its items."""
        opened, answered, resolved = row["opened_at"], row["first_response_at"], row["resolved_at"]
        row["first_response_seconds"] = seconds_between(opened, answered) if answered else None
        row["resolution_seconds"] = seconds_between(opened, resolved) if resolved else None
        if row["calendar"] is not None:  # the calendar the case's SLA targets count in
            calendar = self._calendar(row["calendar"])
            row["first_response_business_micros"] = (
                calendar.business_time_between(opened, answered) // _MICROSECOND
                if answered else None)
            row["resolution_business_micros"] = (
                calendar.business_time_between(opened, resolved) // _MICROSECOND
                if resolved else None)
        row["first_response_sla"] = sla_state(row["first_response_due"], answered,
                                              bool(row["first_response_breached"]))
        row["resolution_sla"] = sla_state(row["resolution_due"], resolved,
                                          bool(row["resolution_breached"]))
        items = items_of(row)
        row["last_item_at"] = max(item[1] for item in items)
        return items

    def _save(self, rows: Rows, before: dict[str, Any] | None, row: dict[str, Any], e: Any,
              position: int) -> None:
        """Store the case and move, in the rollups, exactly the items that changed."""
        items = self._derive(row)
        row.update(version=e.originator_version, position=position)
        was = items_of(before) if before is not None else []
        gone, new = _minus(was, items), _minus(items, was)
        values = {d: dimension_value(row, d) for d in DIMENSIONS}
        olds = ({d: dimension_value(before, d) for d in DIMENSIONS} if before is not None
                else values)
        if gone or new or olds != values:
            self._tally(rows, olds, values, (was, gone), (items, new))
        rows.put(CASES, row)

    def _tally(self, rows: Rows, olds: dict[str, str], values: dict[str, str],
               was: tuple[list[Item], list[Item]], now: tuple[list[Item], list[Item]]) -> None:
        """Note, for the rollups of each set, items going out (-1) and in (1); `finish_page`
        applies them. `was` is the case's items before and those of them gone, `now` its items
        and those new: only these move, unless the case moved to another agent, line... in a
        set: then all its items move from the old value's rollups to the new one's."""
        page = self._pages.get(rows)
        if page is None:
            page = self._pages[rows] = defaultdict(list)
        periods: dict[datetime, dict[str, str]] = {}
        for item in (*was[0], *now[0]):
            if item[1] not in periods:
                periods[item[1]] = {g: period_key(item[1], g) for g in GRAINS}
        moves = [[(item, sign, periods[item[1]]) for item in items]
                 for sign, items in ((-1, was[0]), (-1, was[1]), (1, now[0]), (1, now[1]))]
        changed = moves[1] + moves[3]
        same = olds == values
        for name, value_in in _VALUE_IN:
            value = value_in(values)
            old = value if same else value_in(olds)
            if old == value:
                page[(name, value)].extend(changed)
            else:
                page[(name, old)].extend(moves[0])
                page[(name, value)].extend(moves[2])

    def finish_page(self, rows: Rows, position: int) -> None:
        """Each rollup the page changed: read once (all in one statement), changed, written."""
        page = self._pages.pop(rows, {})
        changes: dict[RollupKey, list[tuple[Item, int]]] = defaultdict(list)
        for (name, value), moves in page.items():
            for grain in _GRAINS_OF[name]:
                for item, sign, periods in moves:
                    changes[(name, grain, periods[grain], value)].append((item, sign))
        prefetch = getattr(rows, "prefetch", None)
        if prefetch is not None:
            prefetch(ROLLUPS, list(changes))
        for key, moved in changes.items():
            stored = rows.get(ROLLUPS, *key)
            tally = Tally.unpack(stored["tally"]) if stored is not None else Tally()
            tally.add_many(moved)
            if tally.empty:
                if stored is not None:
                    rows.delete(ROLLUPS, *key)
                continue
            dim, grain, period, value = key
            rows.put(ROLLUPS, {"dim": dim, "grain": grain, "period": period, "value": value,
                               "tally": tally.pack()})

    def _change(self, rows: Rows, e: Any, position: int,
                change: Callable[[dict[str, Any]], None]) -> None:
        before = self._case(rows, e)
        row = dict(before)
        change(row)
        self._save(rows, before, row, e, position)

    @handles("carelog:Case.Opened")
    def opened(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, None, {
            "id": str(e.originator_id), "account_id": str(e.account_id), "channel": e.channel,
            "topic": e.topic, "priority": e.priority, "line": e.line, "assignee": None,
            "first_reply_agent": None, "opened_at": e.occurred_at, "first_response_at": None,
            "resolved_at": None, "replies": 0, "replies_before_resolution": 0,
            "reopened_count": 0, "closed_at": None, "csat": None, "rated_at": None,
            "first_response_due": e.first_response_due, "resolution_due": e.resolution_due,
            "first_response_breached": False, "resolution_breached": False,
            "calendar": (json.dumps(e.sla["calendar"], sort_keys=True)
                         if getattr(e, "sla", None) else None),
        }, e, position)

    @handles("carelog:Case.Assigned")
    def assigned(self, e: Any, rows: Rows, position: int) -> None:
        self._change(rows, e, position, lambda r: r.update(assignee=e.agent))

    @handles("carelog:Case.Replied")
    def replied(self, e: Any, rows: Rows, position: int) -> None:
        def change(r: dict[str, Any]) -> None:
            r["replies"] += 1
            if r["resolved_at"] is None or e.occurred_at <= r["resolved_at"]:
                r["replies_before_resolution"] += 1
            if r["first_response_at"] is None or e.occurred_at < r["first_response_at"]:
                r.update(first_response_at=e.occurred_at, first_reply_agent=e.agent)

        self._change(rows, e, position, change)

    @handles("carelog:Case.Escalated")
    def escalated(self, e: Any, rows: Rows, position: int) -> None:
        self._change(rows, e, position, lambda r: r.update(line=e.line))

    @handles("carelog:Case.Resolved")
    def resolved(self, e: Any, rows: Rows, position: int) -> None:
        def change(r: dict[str, Any]) -> None:
            if r["resolved_at"] is None or e.occurred_at < r["resolved_at"]:
                r["resolved_at"] = e.occurred_at  # the first resolution is the one measured

        self._change(rows, e, position, change)

    @handles("carelog:Case.Reopened")
    def reopened(self, e: Any, rows: Rows, position: int) -> None:
        self._change(rows, e, position,
                     lambda r: r.update(reopened_count=r["reopened_count"] + 1))

    @handles("carelog:Case.Closed")
    def closed(self, e: Any, rows: Rows, position: int) -> None:
        self._change(rows, e, position, lambda r: r.update(closed_at=e.occurred_at))

    @handles("carelog:Case.Rated")
    def rated(self, e: Any, rows: Rows, position: int) -> None:
        def change(r: dict[str, Any]) -> None:
            if r["rated_at"] is None or e.occurred_at >= r["rated_at"]:
                r.update(csat=e.csat, rated_at=e.occurred_at)  # the latest rating counts

        self._change(rows, e, position, change)

    @handles("carelog:Case.PriorityChanged")
    def priority_changed(self, e: Any, rows: Rows, position: int) -> None:
        """The case moves to its new priority's group, SLA weights included."""
        self._change(rows, e, position, lambda r: r.update(priority=e.priority))

    @handles("carelog:Case.SlaTargetsSet")
    def sla_targets_set(self, e: Any, rows: Rows, position: int) -> None:
        self._change(rows, e, position, lambda r: r.update(
            first_response_due=e.first_response_due, resolution_due=e.resolution_due))

    @handles("carelog:Case.SlaBreached")
    def sla_breached(self, e: Any, rows: Rows, position: int) -> None:
        def change(r: dict[str, Any]) -> None:
            if e.kind in SLA_KINDS:  # a kind we do not measure changes nothing
                r.update({f"{e.kind}_breached": True, f"{e.kind}_due": e.due_at})

        self._change(rows, e, position, change)

    @handles("carelog:SurveyResponse.Recorded")
    def survey_response_recorded(self, e: Any, rows: Rows, position: int) -> None:
        rows.put(NPS, {
            "id": str(e.originator_id), "account_id": str(e.account_id),
            "contact_id": str(e.contact_id), "score": e.score, "comment": e.comment,
            "occurred_at": e.occurred_at, "position": position,
        })


# Queries --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricFilter:
    """Which cases count; every field narrows them."""

    account_id: str | None = None
    channel: str | None = None
    agent: str | None = None
    line: int | None = None
    priority: str | None = None

    @property
    def empty(self) -> bool:
        return all(v is None for v in (self.account_id, self.channel, self.agent, self.line,
                                       self.priority))

    def narrowing(self) -> list[tuple[str, Any]]:
        """(dimension, value) of each field set."""
        return [(dim, value) for dim, value in (
            ("account", self.account_id), ("channel", self.channel), ("agent", self.agent),
            ("line", self.line), ("priority", self.priority)) if value is not None]


@dataclass(frozen=True, slots=True)
class MetricQuery:
    """A report: groups by `group_by` and periods of `grain` (None: the whole range)."""

    group_by: tuple[str, ...] = ()
    grain: str | None = None
    start: datetime | None = None
    """Inclusive."""
    end: datetime | None = None
    """Exclusive."""
    where: MetricFilter = field(default_factory=MetricFilter)

    def check(self) -> MetricQuery:
        for dim in self.group_by:
            if dim not in DIMENSIONS:
                raise InvalidInputError(
                    f"unknown dimension {dim!r}; expected some of: {', '.join(DIMENSIONS)}")
        if len(set(self.group_by)) != len(self.group_by):
            raise InvalidInputError("groupBy names a dimension twice")
        if self.grain is not None and self.grain not in GRAINS:
            raise InvalidInputError(
                f"unknown period {self.grain!r}; expected one of: {', '.join(GRAINS)}")
        for name, at in (("from", self.start), ("to", self.end)):
            if at is not None and at.tzinfo is None:
                raise InvalidInputError(f"{name} must carry a timezone")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise InvalidInputError("from must not be after to")
        return self

    def rollup_grain(self) -> str | None:
        """The grain of the rollups that answer this query exactly, or None to add up case rows."""
        source = self.rollups()
        return source[1] if source is not None else None

    def rollups(self) -> tuple[RollupSet, str] | None:
        """The rollups (set, grain) that answer this query exactly, if any.

        A set answers a query when it holds every dimension the query groups or filters by.
        Each rollup period must lie in one period of the query (a day in any, a week in its
        week, a month in its month) and the range must start and end where rollup periods do.
        The coarsest grain that fits is read, from the set of the fewest dimensions that keeps
        it: the fewest rows.
        """
        narrowing = self.where.narrowing()
        if any(rollup_value(*n) is None for n in narrowing):
            return None
        dims = {*self.group_by, *(dim for dim, _ in narrowing)}
        grains = (("month", "week", "day") if self.grain is None
                  else ("day",) if self.grain == "day" else (self.grain, "day"))
        holding = sorted((s for s in ROLLUP_SETS if dims <= set(s.dims)),
                         key=lambda s: len(s.dims))
        for grain in grains:
            if all(at is None or is_boundary(at, grain) for at in (self.start, self.end)):
                for rollups in holding:
                    if grain in rollups.grains:
                        return rollups, grain
        return None


def rollup_value(dim: str, value: Any) -> str | None:
    """A filter's value as the rollups of `dim` store it; None when rollups cannot match it the
    way the case rows do (an empty name)."""
    if dim == "line":
        return str(value) if isinstance(value, int) else None
    return value if isinstance(value, str) and value else None


GroupKey = tuple[tuple[str, ...], str | None]


class SupportMetricsView:
    """Queries on the `support_metrics` read model."""

    projection = SupportMetricsProjection.name

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def report(self, query: MetricQuery, rollups: bool = True) -> list[dict[str, Any]]:
        """One row per group and period with any data, in period then group order.

        Each row has `dimensions` (name to value; agent and topic may be None), `period_start`
        (a date, None without a grain), the figures of `Tally.figures`, `nps` and
        `nps_responses`. NPS belongs to contacts, not cases: it is given when the report is
        grouped and filtered by account at most, and None otherwise. With `rollups` off, the
        case rows answer even what rollups could (the two agree; tests check it).
        """
        query.check()
        source = query.rollups() if rollups else None
        if source is not None:
            found = self._from_rollups(query, *source)
        else:
            found = {k: t.figures() for k, t in self._from_cases(query).items()}
        nps_applies = set(query.group_by) <= {"account"} and MetricFilter(
            account_id=query.where.account_id) == query.where
        scores = self._nps_scores(query) if nps_applies else {}
        report = []
        starts = {p: date.fromisoformat(p) for p in {k[1] for k in found} | {
            k[1] for k in scores} if p is not None}
        for key in sorted(found.keys() | scores.keys(), key=lambda k: (k[1] or "", k[0])):
            values, period = key
            row = found[key] if key in found else Tally().figures()
            row["nps"], row["nps_responses"] = nps(scores[key].values()) if key in scores else (
                None, 0)
            row["dimensions"] = {d: _dimension_out(d, v)
                                 for d, v in zip(query.group_by, values, strict=True)}
            row["period_start"] = starts[period] if period is not None else None
            report.append(row)
        return report

    def top_topics(self, start: datetime | None, end: datetime | None,
                   first: int) -> list[tuple[str, int]]:
        """The topics of the most cases opened in the range, most first (ties by name)."""
        check_first(first)
        rows = self.report(MetricQuery(group_by=("topic",), start=start, end=end))
        counted = [(r["dimensions"]["topic"], r["opened"]) for r in rows
                   if r["dimensions"]["topic"] is not None and r["opened"] > 0]
        counted.sort(key=lambda tc: (-tc[1], tc[0]))
        return counted[:first]

    def _from_rollups(self, query: MetricQuery, rollups: RollupSet,
                      grain: str) -> dict[GroupKey, dict[str, Any]]:
        narrowing = [(d, rollup_value(d, v)) for d, v in query.where.narrowing()]
        sql = "SELECT period, value, tally FROM support_rollups WHERE dim = ? AND grain = ?"
        params: list[Any] = [rollups.name, grain]
        single = len(rollups.dims) == 1
        if narrowing and single:
            sql += " AND value = ?"
            params.append(narrowing[0][1])
        elif narrowing:
            like = _like_combinations(rollups, dict(narrowing))
            if like is not None:  # fewer rows to read; each is still checked below
                sql += " AND value LIKE ?"
                params.append(like)
        if query.start is not None:
            sql += " AND period >= ?"
            params.append(period_start(query.start, grain).isoformat())
        if query.end is not None:
            sql += " AND period < ?"
            params.append(period_start(query.end, grain).isoformat())
        with self.store.reader() as tx:
            found = tx.fetch_all(sql, params)
        packed: dict[GroupKey, list[str]] = defaultdict(list)
        to = query.grain
        picks = [rollups.dims.index(d) for d in query.group_by]
        tests = [] if single else [(rollups.dims.index(d), v) for d, v in narrowing]
        # Each value's group, or None when a filter drops it (parsed once per value).
        groups: dict[str, tuple[str, ...] | None] = {}
        for row in found:
            value = row["value"]
            if value in groups:
                values = groups[value]
            else:
                combination = [value] if single else json.loads(value)
                values = groups[value] = (
                    None if any(combination[i] != v for i, v in tests)
                    else tuple(combination[i] for i in picks))
            if values is None:
                continue
            period = (None if to is None else row["period"] if to == grain
                      else period_holding(row["period"], to))
            packed[(values, period)].append(row["tally"])
        return {key: packed_figures(texts) for key, texts in packed.items()}

    def _from_cases(self, query: MetricQuery) -> dict[GroupKey, Tally]:
        clauses: list[str] = []
        params: list[Any] = []
        w = query.where
        for column, value in (("account_id", w.account_id), ("channel", w.channel),
                              ("line", w.line), ("priority", w.priority)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if w.agent is not None:
            clauses.append("COALESCE(assignee, first_reply_agent) = ?")
            params.append(w.agent)
        # Every item of a case is dated at or after its opening, at or before its last item.
        if query.end is not None:
            clauses.append("opened_at < ?")
            params.append(self._at(query.end))
        if query.start is not None:
            clauses.append("last_item_at >= ?")
            params.append(self._at(query.start))
        sql = f"SELECT {', '.join(_ITEM_COLUMNS)} FROM support_cases"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        with self.store.reader() as tx:
            found = tx.fetch_all(sql, params)
        sqlite = self.store.dialect == "sqlite"
        start, end, grain, group_by = query.start, query.end, query.grain, query.group_by
        tallies: dict[GroupKey, list[tuple[Item, int]]] = defaultdict(list)
        for case in found:
            if sqlite:
                for column in _ITEM_TIMES:
                    if case[column] is not None:
                        case[column] = datetime.fromisoformat(case[column])
            values = tuple(dimension_value(case, d) for d in group_by)
            for item in items_of(case):
                at = item[1]
                if (start is not None and at < start) or (end is not None and at >= end):
                    continue
                period = period_key(at, grain) if grain is not None else None
                tallies[(values, period)].append((item, 1))
        return {key: _tally_of(items) for key, items in tallies.items()}

    def _nps_scores(self, query: MetricQuery) -> dict[GroupKey, dict[str, int]]:
        """Per group and period, each contact's latest score in it."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value, op in (("account_id", query.where.account_id, "="),
                                  ("occurred_at", query.start, ">="),
                                  ("occurred_at", query.end, "<")):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(self._at(value) if isinstance(value, datetime) else value)
        sql = "SELECT account_id, contact_id, score, occurred_at FROM support_nps"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY occurred_at, position"
        with self.store.reader() as tx:
            found = [tx.decode(r, NPS.column_types) for r in tx.fetch_all(sql, params)]
        return latest_scores(found, by_account=bool(query.group_by), grain=query.grain)

    def _at(self, at: datetime) -> Any:
        """A timestamp as this store compares it."""
        return NPS.encode({"occurred_at": at}, self.store.dialect)[
            NPS.column_names.index("occurred_at")]


def latest_scores(responses: Iterable[dict[str, Any]], by_account: bool,
                  grain: str | None) -> dict[GroupKey, dict[str, int]]:
    """Each contact's latest NPS score per group (account or all) and period.

    `responses` are `support_nps` rows in time order (ties in log order): a later answer of the
    same contact in the same period replaces the earlier one.
    """
    scores: dict[GroupKey, dict[str, int]] = defaultdict(dict)
    for r in responses:
        values = (r["account_id"],) if by_account else ()
        period = period_key(r["occurred_at"], grain) if grain is not None else None
        scores[(values, period)][r["contact_id"]] = r["score"]
    return scores


def _like_combinations(rollups: RollupSet, wanted: dict[str, str | None]) -> str | None:
    """A LIKE pattern that matches (at least) the JSON lists of the combinations that have the
    wanted values; None when a value holds a backslash (an escape to PostgreSQL's LIKE)."""
    parts = []
    for dim in rollups.dims:
        text = json.dumps(wanted[dim]) if dim in wanted else '"%"'
        if "\\" in text:
            return None
        parts.append(text)
    return f"[{', '.join(parts)}]"


def _tally_of(items: list[tuple[Item, int]]) -> Tally:
    tally = Tally()
    tally.add_many(items)
    return tally


def _dimension_out(dim: str, value: str) -> Any:
    if value == _NONE:
        return None
    return int(value) if dim == "line" else value
