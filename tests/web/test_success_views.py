"""Tests of how a stored seasonal profile reads on the dashboard: its chart and its caption."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from valueproof.web.success_views import SeasonalPeriod, baseline, caption

WEEKLY = SeasonalPeriod("weekly", 7.0, 0.91, True)
YEARLY = SeasonalPeriod("yearly", 365.25, 0.42, True)
MONTHLY = SeasonalPeriod("monthly", 30.4375, 0.12, False)
DAYS = [f"2026-07-{day:02d}" for day in range(1, 15)]


@pytest.mark.parametrize(
    ("periods", "below", "above", "text"),
    [
        ([WEEKLY, MONTHLY], 0, 0, "weekly season; last 14 days to 14 Jul: all within"),
        ([WEEKLY, YEARLY], 3, 0, "weekly and yearly season; last 14 days to 14 Jul: 3 below"),
        ([MONTHLY], 2, 1, "no seasonal cycle found; last 14 days to 14 Jul: 2 below, 1 above"),
    ],
)
def test_caption_names_the_season_and_the_days_outside(
    periods: list[SeasonalPeriod], below: int, above: int, text: str
) -> None:
    assert caption(periods, DAYS, below, above) == f"{text} the seasonal range"


def test_a_profile_becomes_a_band_chart_with_its_days_outside_counted() -> None:
    actual = [10.0] * 11 + [2.0, 40.0, 3.0]
    document = {
        "periods": [{"name": "weekly", "period": 7, "strength": 0.9, "detected": True}],
        "recent": {
            "days": DAYS,
            "actual": actual,
            "expected": [10.0] * 14,
            "lower": [8.0] * 14,
            "upper": [12.0] * 14,
        },
    }
    computed = datetime(2026, 7, 15, tzinfo=UTC)
    shown = baseline("calls", document, computed, "Acme: calls", small=True)
    assert (shown.below, shown.above) == (2, 1)
    assert shown.periods == [SeasonalPeriod("weekly", 7, 0.9, True)]
    assert shown.caption.endswith("2 below, 1 above the seasonal range")
    root = ET.fromstring(str(shown.chart))
    assert root.attrib["aria-label"] == "Acme: calls"
    assert len(root.findall("{http://www.w3.org/2000/svg}circle")) == 14


def test_a_profile_without_a_baseline_yet_reads_as_its_reason() -> None:
    document = {"periods": [], "history_days": 35, "reason": "35 days of usage history"}
    computed = datetime(2026, 7, 15, tzinfo=UTC)
    shown = baseline("calls", document, computed, "Acme: calls", small=False)
    assert shown.reason == "35 days of usage history"
    assert shown.caption == "no seasonal baseline yet: 35 days of usage history"
    assert str(shown.chart) == "" and shown.periods == []


def test_a_fortnight_of_zeros_is_captioned_as_no_usage_not_within_the_range() -> None:
    document = {
        "periods": [],
        "low_volume": True,
        "recent": {
            "days": DAYS,
            "actual": [0.0] * 14,
            "expected": [0.4] * 14,
            "lower": [0.0] * 14,
            "upper": [3.0] * 14,
        },
    }
    shown = baseline("calls", document, datetime(2026, 7, 15, tzinfo=UTC), "A", small=True)
    assert shown.caption.endswith("no usage on any of them")
    assert "within" not in shown.caption
