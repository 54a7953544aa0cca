"""The seasonal baseline: intervals that hold, troughs that do not alert, drops that do."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pmdarima.datasets as bundled
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valueproof.errors import InvalidInput
from valueproof.success.alerts import AlertRules, interval_signals
from valueproof.success.baseline import (
    BaselineCheck,
    BaselineRule,
    check_recent,
    seasonal_baseline,
    seasonal_baseline_batch,
)
from valueproof.success.reference import reference_baseline
from valueproof.success.seasonality import DetectionRule, detect_seasonality_batch

from .book_usage import BOOK, book_daily

WEEKDAYS = np.array([1.2, 1.15, 1.1, 1.05, 0.95, 0.3, 0.2])  # the background-check week


def weekly_usage(days: int, level: float = 100.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.poisson(level * WEEKDAYS[np.arange(days) % 7] * rng.lognormal(0.0, 0.15, days))


def test_recent_book_usage_mostly_stays_inside_its_interval() -> None:
    # 95% intervals: about 5% of the last four weeks of steady accounts fall outside
    accounts, daily = book_daily()
    found = check_recent(daily, 28)
    steady = np.array([a.profile.archetype != "quiet" for a in accounts])
    outside = (found.below | found.above)[steady].mean()
    assert 0.0 < outside < 0.12


def test_accounts_that_went_quiet_fall_below_from_the_day_they_stopped() -> None:
    accounts, daily = book_daily()
    end = BOOK.end.date()
    stopped = [
        (row, a.profile.quiet_since)
        for row, a in enumerate(accounts)
        if a.profile.quiet_since is not None and a.profile.quiet_level < 0.1
    ]
    assert stopped
    for row, since in stopped:
        quiet_days = (end - since.date()).days
        found = check_recent(daily[row], quiet_days)
        assert found.below.mean() > 0.8, accounts[row]


def test_weekend_troughs_are_not_declines() -> None:
    # usage falls 75-80% every weekend; a week-over-week rule would flag none of it but a
    # day-over-day rule every Saturday: the seasonal interval lets weekends through like any day
    weekend = (np.arange(400)[-28:] % 7) >= 5
    flagged = np.array([check_recent(weekly_usage(400, seed=s), 28).below[0] for s in range(30)])
    assert flagged[:, weekend].mean() < 0.08
    assert flagged[:, ~weekend].mean() < 0.08


def test_steady_weekly_usage_leaves_its_interval_about_as_often_as_promised() -> None:
    checks = [check_recent(weekly_usage(400, seed=s), 28) for s in range(30)]
    outside = np.mean([(c.below | c.above).mean() for c in checks])
    assert 0.02 < outside < 0.1


def test_a_drop_and_a_surge_leave_the_interval() -> None:
    usage = weekly_usage(400).astype(np.float64)
    dropped, surged = usage.copy(), usage.copy()
    dropped[-14:] *= 0.3
    surged[-14:] *= 3.0
    found = check_recent(np.stack([dropped, surged]), 14)
    assert found.below[0].mean() > 0.8 and not found.above[0].any()
    assert found.above[1].mean() > 0.8 and not found.below[1].any()


def test_a_yearly_peak_is_expected() -> None:
    # Air passengers peak every July and August: the baseline fitted before the last year
    # expects the summer peak, so the summer of the last year is inside the interval
    passengers = np.asarray(bundled.load_airpassengers(), dtype=np.float64)
    found = check_recent(passengers, 12, "monthly")
    assert found.seasonality.account(0).detected_periods == (12.0,)
    assert found.expected[0, 6] > 1.15 * found.expected[0, :5].mean()  # July above Jan-May
    assert not (found.below | found.above)[0, 5:8].any()


def test_the_baseline_agrees_with_statsmodels_mstl_and_ets() -> None:
    accounts, daily = book_daily()
    steady = [row for row, a in enumerate(accounts) if a.profile.archetype != "quiet"]
    for row in steady[::5]:
        history = daily[row, :-28]
        fast = seasonal_baseline(history, 28, seasonality=detect_seasonality_batch(daily[row]))
        lags = [round(p.period) for p in detect_seasonality_batch(daily[row]).account(0).detected]
        lags = [lag for lag in lags if len(history) > 2 * lag]
        slow = reference_baseline(history, 28, lags)
        ratio = np.log1p(fast.expected) - np.log1p(slow.expected)
        assert abs(float(np.median(ratio))) < 0.2, accounts[row]
        # each point forecast lies inside the other method's interval nearly every day
        assert ((fast.expected >= slow.lower) & (fast.expected <= slow.upper)).mean() > 0.9
        assert ((slow.expected >= fast.lower) & (slow.expected <= fast.upper)).mean() > 0.9


def test_single_account_matches_its_batch_row() -> None:
    _accounts, daily = book_daily()
    batch = seasonal_baseline_batch(daily[:5], 14)
    for row in range(5):
        single = seasonal_baseline(daily[row], 14)
        assert single.expected[0] == pytest.approx(batch.expected[row])
        assert single.upper[0] == pytest.approx(batch.upper[row])


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    days=st.integers(56, 400),
    level=st.floats(0.0, 1e5),
    seasonal=st.booleans(),
    horizon=st.integers(1, 60),
    coverage=st.floats(0.5, 0.99),
)
def test_intervals_hold_the_forecast_and_widen_with_the_horizon(
    seed: int, days: int, level: float, seasonal: bool, horizon: int, coverage: float
) -> None:
    rng = np.random.default_rng(seed)
    shape = WEEKDAYS[np.arange(days) % 7] if seasonal else 1.0
    usage = rng.poisson(level * shape * rng.lognormal(0.0, 0.5, days)).astype(np.float64)
    found = seasonal_baseline(usage, horizon, rule=BaselineRule(coverage=coverage))
    assert found.expected.shape == (1, horizon)
    assert (found.lower >= 0).all()
    assert (found.lower <= found.expected).all() and (found.expected <= found.upper).all()
    if (found.expected > 100).all():
        # On the log scale the upper offset grows with the horizon (the lower one may hit
        # zero). Below about a hundred a day the count's own noise can set the bound instead,
        # and it moves with each day's expected usage, not with the horizon.
        above = np.log1p(found.upper) - np.log1p(found.expected)
        assert (np.diff(above) >= -1e-9).all()
    # never narrower than a count's own (Poisson) noise: a mean under 3.7 may well be zero
    assert (found.lower[found.expected <= -np.log((1 - coverage) / 2)] == 0.0).all()


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_wider_coverage_never_narrows_the_interval(seed: int) -> None:
    usage = weekly_usage(200, seed=seed)
    narrow = seasonal_baseline(usage, 14, rule=BaselineRule(coverage=0.8))
    wide = seasonal_baseline(usage, 14, rule=BaselineRule(coverage=0.99))
    assert (wide.lower <= narrow.lower + 1e-9).all() and (wide.upper >= narrow.upper - 1e-9).all()
    assert wide.expected == pytest.approx(narrow.expected)


def test_a_sparse_count_keeps_zero_inside_however_quiet_its_past_was() -> None:
    # a fortnight forecast at about one a day after a quiet season: zero-event days are
    # ordinary (a third of them), so the range starts at zero and nothing can look like a drop
    rng = np.random.default_rng(8)
    season = np.where(np.arange(400) < 330, 0.05, 1.2)  # almost nothing, then about one a day
    usage = rng.poisson(season).astype(np.float64)
    found = check_recent(usage, 14)
    assert (found.expected[0] < 3.7).all() and (found.lower[0] == 0.0).all()
    assert not found.below[0].any()


def test_bad_requests_are_rejected() -> None:
    usage = weekly_usage(100)
    with pytest.raises(InvalidInput):
        seasonal_baseline(usage, 0)
    with pytest.raises(InvalidInput):
        seasonal_baseline(usage[:40], 7)  # less than two level windows of history
    with pytest.raises(InvalidInput):
        seasonal_baseline(np.stack([usage, usage]), 7)
    with pytest.raises(InvalidInput):
        check_recent(usage, 100)
    with pytest.raises(InvalidInput):
        BaselineRule(coverage=1.0)
    with pytest.raises(InvalidInput):
        BaselineRule(level_window=1)
    table = detect_seasonality_batch(np.stack([usage, usage]))
    with pytest.raises(InvalidInput):
        seasonal_baseline(usage, 7, seasonality=table)


def test_linear_scale_baseline_for_non_count_series() -> None:
    # Without the log scale the baseline is additive and still never negative
    t = np.arange(200)
    usage = 50 + 20 * np.sin(2 * math.pi * t / 7) + np.random.default_rng(3).normal(0, 2, 200)
    linear = BaselineRule(detection=DetectionRule(log_scale=False))
    found = seasonal_baseline(usage, 7, rule=linear)
    expected = 50 + 20 * np.sin(2 * math.pi * np.arange(200, 207) / 7)
    assert found.expected[0] == pytest.approx(expected, abs=5.0)


def test_an_outage_teaches_the_baseline_nothing_so_the_recovery_is_no_surge() -> None:
    usage = weekly_usage(400, seed=4).astype(np.float64)
    usage[-19:-14] = 0.0  # five days of outage just before the checked fortnight
    found = check_recent(usage, 14)
    assert not found.above[0].any()
    assert found.expected[0].mean() > 0.85 * usage[-14:].mean()


def test_flat_usage_gets_no_season_and_a_band_no_narrower_than_the_minimum() -> None:
    # seats held: the same count every day, a slow trend; nothing seasonal, nothing to alert
    seats = 247_423.0 * (1.0 + 0.0001 * np.arange(744))
    found = check_recent(seats, 14)
    assert found.seasonality.account(0).detected_periods == ()
    assert (found.lower[0] <= 0.951 * found.expected[0]).all()
    assert (found.upper[0] >= 1.049 * found.expected[0]).all()
    assert not (found.below | found.above).any()


def test_the_baseline_follows_a_level_that_moved_back_after_a_dip() -> None:
    # Taylor's half-hourly electricity demand summed to days: the fortnight before the check is
    # a holiday dip; the seasonal-naive forecast errs 2.5%, statsmodels MSTL + ETS 0.8%
    daily = np.asarray(bundled.load_taylor(), dtype=np.float64).reshape(-1, 48).sum(axis=1)
    found = check_recent(daily, 14)
    error = np.abs(found.expected[0] - found.actual[0]) / found.actual[0]
    assert error.mean() < 0.0125
    assert not (found.below | found.above).any()


def test_a_peak_seen_once_a_year_ago_is_no_surge_on_its_return() -> None:
    # 700 days: one year and eleven months, too short to detect a yearly period, but last
    # year's Black Friday month is on record, and this year's starts in the fortnight checked
    days = 700
    bump = np.ones(days)
    bump[325:355] = bump[690:] = 1.8
    rng = np.random.default_rng(5)
    usage = rng.poisson(200 * WEEKDAYS[np.arange(days) % 7] * bump * rng.lognormal(0, 0.1, days))
    found = check_recent(usage.astype(np.float64), 14)
    assert 365.25 not in found.seasonality.account(0).detected_periods
    assert surges(found) == []
    # the same fortnight without last year's peak on record is a surge
    flat_last_year = usage.astype(np.float64)
    flat_last_year[325:355] = np.round(flat_last_year[325:355] / 1.8)
    assert surges(check_recent(flat_last_year, 14)) == ["surge"]


def surges(found: BaselineCheck) -> list[str]:
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(found.actual.shape[1])]
    signals = interval_signals(
        "calls",
        days,
        found.actual[0].tolist(),
        found.lower[0].tolist(),
        found.upper[0].tolist(),
        found.expected[0].tolist(),
        AlertRules(),
    )
    return [s.type for s in signals]
