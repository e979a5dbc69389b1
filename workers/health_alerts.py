"""Health alerts: when a key account's confirmed band drops, or its score falls 10 points
within 7 days, its manager gets an alert with the drivers behind the fall.

Each alert's id derives from the account, the kind, the day of the close and the model version,
so a round that runs twice, or in two processes, raises it once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from domain.alert import Alert
from domain.application import CareDesk
from domain.errors import DomainError
from domain.health_model import BAND_SEVERITY
from projections.account_health import AccountHealthView, day_end
from projections.alerts_and_goals import AlertsAndGoalsView

ACTOR = "system:health-alerts"
WINDOW_DAYS = 7
FALL_POINTS = 10


@dataclass(frozen=True, slots=True)
class Candidate:
    account_id: str
    kind: str
    day: date
    score_before: int | None
    score_after: int
    band_before: str
    band_after: str
    model_version: int


def candidates(account_id: str, closes: list[dict[str, Any]], recent: date) -> list[Candidate]:
    """Alerts the closes call for on days from `recent` on (closes sorted by day)."""
    found = []
    falling = False
    for i, close in enumerate(closes):
        day = date.fromisoformat(close["day"])
        before = closes[i - 1] if i else None
        prior = [c["score"] for c in closes[max(0, i - WINDOW_DAYS):i]
                 if (day - date.fromisoformat(c["day"])).days <= WINDOW_DAYS]
        fell = bool(prior) and max(prior) - close["score"] >= FALL_POINTS
        if day >= recent and before is not None:
            was, now = before["confirmed_band"], close["confirmed_band"]
            if (was in BAND_SEVERITY and now in BAND_SEVERITY
                    and BAND_SEVERITY[now] > BAND_SEVERITY[was]):
                found.append(Candidate(account_id, "band_dropped", day, before["score"],
                                       close["score"], was, now, close["model_version"]))
            if fell and not falling:
                found.append(Candidate(account_id, "score_fell", day, max(prior),
                                       close["score"], was, now, close["model_version"]))
        falling = fell
    return found


class HealthAlertsReactor:
    def __init__(self, desk: CareDesk, health: AccountHealthView,
                 alerts: AlertsAndGoalsView) -> None:
        self.desk = desk
        self.health = health
        self.alerts = alerts

    def round(self) -> int:
        """Raise the alerts of the last week's closes that are not raised yet."""
        recent = self.health.recent_closes(2 * WINDOW_DAYS)
        if not recent:
            return 0
        newest = max(date.fromisoformat(c[-1]["day"]) for c in recent.values())
        since = newest - timedelta(days=WINDOW_DAYS - 1)
        wanted = [c for account, closes in recent.items()
                  for c in candidates(account, closes, since)]
        ids = {c: str(Alert.id_for(UUID(c.account_id), c.kind, c.day, c.model_version))
               for c in wanted}
        raised = self.alerts.alert_ids(list(ids.values()))
        fresh = [c for c in wanted if ids[c] not in raised]
        rows = self.health.get_many(sorted({c.account_id for c in fresh}))
        done = 0
        for c in fresh:
            row = rows.get(c.account_id)
            drivers = json.loads(row["explanation"])["top_drivers"] if row else []
            try:
                result = self.desk.raise_alert(
                    account_id=UUID(c.account_id), kind=c.kind, day=c.day,
                    score_before=c.score_before, score_after=c.score_after,
                    band_before=c.band_before, band_after=c.band_after, drivers=drivers,
                    model_version=c.model_version, actor=ACTOR, occurred_at=day_end(c.day))
            except DomainError:
                continue  # the account is gone from the log's point of view: nothing to say
            done += not result.duplicate
        return done
