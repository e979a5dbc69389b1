"""Which daily closes call for an alert: a drop of the confirmed band, or a fall of 10 points
within 7 days (once per fall, not every day it lasts)."""

from __future__ import annotations

from datetime import date, timedelta

from workers.health_alerts import candidates

START = date(2026, 3, 1)


def _closes(*days: tuple[int, str]) -> list[dict[str, object]]:
    return [{"day": (START + timedelta(days=i)).isoformat(), "score": score,
             "confirmed_band": band, "model_version": 1}
            for i, (score, band) in enumerate(days)]


def test_a_confirmed_band_drop_is_one_alert_on_its_day():
    closes = _closes((80, "green"), (78, "green"), (72, "green"), (71, "yellow"))

    (alert,) = candidates("a", closes, START)

    assert (alert.kind, alert.day, alert.band_before, alert.band_after) == (
        "band_dropped", START + timedelta(days=3), "green", "yellow")


def test_a_band_going_up_or_to_grey_is_no_alert():
    closes = _closes((40, "red"), (60, "yellow"), (60, "grey"))

    assert candidates("a", closes, START) == []


def test_a_fall_of_ten_points_within_a_week_alerts_once():
    closes = _closes((70, "yellow"), (69, "yellow"), (65, "yellow"), (60, "yellow"),
                     (58, "yellow"), (57, "yellow"))

    (alert,) = candidates("a", closes, START)

    assert (alert.kind, alert.day, alert.score_before, alert.score_after) == (
        "score_fell", START + timedelta(days=3), 70, 60)


def test_a_slow_slide_over_more_than_a_week_is_no_fall():
    closes = _closes(*((70 - i, "yellow") for i in range(10)))

    assert candidates("a", closes, START) == []


def test_only_days_from_the_recent_edge_are_reported():
    closes = _closes((80, "green"), (60, "yellow"), (61, "yellow"))

    assert candidates("a", closes, START + timedelta(days=2)) == []
