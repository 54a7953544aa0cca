"""Seasonal period detection: real series with known periods, the demo book, properties, MSTL."""

from __future__ import annotations

import math

import numpy as np
import pmdarima.datasets as bundled
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valueproof.demo.lines import WEEK_DAYS, YEAR_DAYS
from valueproof.errors import InvalidInput
from valueproof.success.reference import reference_seasonality
from valueproof.success.seasonality import (
    DetectionRule,
    _backfit,
    _design,
    decompose,
    detect_seasonality,
    detect_seasonality_batch,
)
from valueproof.success.series import (
    CANDIDATES,
    Granularity,
    candidates_for,
    daily_matrix,
    hourly_to_daily,
)

from .book_usage import book_daily

MONTH_DAYS = 365.25 / 12


def taylor_hourly() -> np.ndarray:
    # half-hourly electricity demand (Taylor 2003), 12 weeks: pairs of half-hours make hours
    return np.asarray(bundled.load_taylor(), dtype=np.float64).reshape(-1, 2).sum(axis=1)


# Real series shipped inside the pmdarima wheel, with the periods the literature gives them.
# Sunspots (monthly, 1749-1983) cycle every ~11 years: not a yearly pattern, so nothing.
REAL_SERIES: list[tuple[str, Granularity, tuple[float, ...]]] = [
    ("airpassengers", "monthly", (12.0,)),
    ("wineind", "monthly", (12.0,)),
    ("sunspots", "monthly", ()),
    ("taylor-hourly", "hourly", (24.0, 168.0)),
    ("taylor-daily", "daily", (WEEK_DAYS,)),
]


def real_series(name: str) -> np.ndarray:
    if name == "taylor-hourly":
        return taylor_hourly()
    if name == "taylor-daily":
        return hourly_to_daily(taylor_hourly())
    return np.asarray(getattr(bundled, f"load_{name}")(), dtype=np.float64)


@pytest.mark.parametrize(("name", "granularity", "expected"), REAL_SERIES)
def test_real_series_show_their_known_periods(
    name: str, granularity: Granularity, expected: tuple[float, ...]
) -> None:
    assert detect_seasonality(real_series(name), granularity).detected_periods == expected


@pytest.mark.parametrize(("name", "granularity", "expected"), REAL_SERIES)
def test_statsmodels_mstl_agrees_on_real_series(
    name: str, granularity: Granularity, expected: tuple[float, ...]
) -> None:
    values = real_series(name)
    fast = detect_seasonality(values, granularity)
    reference = reference_seasonality(values, granularity)
    assert reference.detected_periods == fast.detected_periods == expected
    for ours, theirs in zip(fast.periods, reference.periods, strict=True):
        assert ours.strength == pytest.approx(theirs.strength, abs=0.1)
        assert ours.autocorrelation == pytest.approx(theirs.autocorrelation, abs=0.2)


def test_white_noise_counts_show_no_period() -> None:
    rng = np.random.default_rng(11)
    assert detect_seasonality(rng.poisson(30.0, 730)).detected_periods == ()


def test_wandering_usage_is_never_weekly_or_monthly_and_rarely_yearly() -> None:
    # A random-walk level under Poisson counts: no season at all. With exactly two years a slow
    # wander can look like a yearly shape (docs/success.md, limits); the measured rate is ~1 in 10.
    yearly = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        level = 40.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, 730)))
        found = detect_seasonality(rng.poisson(level)).detected_periods
        assert WEEK_DAYS not in found and MONTH_DAYS not in found
        yearly += YEAR_DAYS in found
    assert yearly <= 2


# --- the demo book: ground truth from the generator ---------------------------------------------

# "Clear" amplitudes: every book account has weekly and yearly amplitudes of at least ~0.2, so the
# signal-to-noise ratio is set by volume (Poisson noise on a few events a day swamps a 30% swing):
# weekly must be found at 5+ events a day, yearly at 100+ a day (messaging) with amplitude >= 0.2.
WEEKLY_MIN_VOLUME = 5.0
YEARLY_MIN_VOLUME = 100.0
YEARLY_MIN_AMPLITUDE = 0.2


def test_book_accounts_show_the_periods_they_were_generated_with() -> None:
    accounts, daily = book_daily()
    table = detect_seasonality_batch(daily[:, -730:])
    checked_weekly = checked_yearly = 0
    for row, account in enumerate(accounts):
        profile, found = account.profile, table.account(row).detected_periods
        assert profile.periods_days == (WEEK_DAYS, YEAR_DAYS)
        assert MONTH_DAYS not in found  # the generator has no monthly rhythm
        if profile.archetype == "quiet":
            continue  # a stop in the last weeks swamps the residual; alerts handle these
        if profile.base_daily_volume >= WEEKLY_MIN_VOLUME:
            assert WEEK_DAYS in found, account
            checked_weekly += 1
        if (
            profile.base_daily_volume >= YEARLY_MIN_VOLUME
            and profile.yearly_amplitude >= YEARLY_MIN_AMPLITUDE
        ):
            assert YEAR_DAYS in found, account
            checked_yearly += 1
    assert checked_weekly >= 15 and checked_yearly >= 5


def test_statsmodels_mstl_agrees_on_the_book() -> None:
    # Same detected periods on the two-year series (MSTL wants one step more than two cycles);
    # strengths compared on a year, where MSTL's yearly component (the mean of two cycles, which
    # takes half of the noise) does not distort them.
    accounts, daily = book_daily()
    for row in range(0, len(accounts), 6):
        fast, reference = detect_seasonality(daily[row]), reference_seasonality(daily[row])
        assert fast.detected_periods == reference.detected_periods, accounts[row]
        one_year = daily[row, -365:]
        fast, reference = detect_seasonality(one_year), reference_seasonality(one_year)
        for ours, theirs in zip(fast.periods, reference.periods, strict=True):
            assert ours.strength == pytest.approx(theirs.strength, abs=0.12)


# --- properties -----------------------------------------------------------------------------------

PERIODS = [(g, c.period) for g, candidates in CANDIDATES.items() for c in candidates]
STEPS: dict[Granularity, int] = {"daily": 730, "hourly": 24 * 7 * 5, "monthly": 120}


@settings(max_examples=40, deadline=None)
@given(
    choice=st.sampled_from(PERIODS),
    amplitude=st.floats(0.25, 1.0),
    phase=st.floats(0.0, 2 * math.pi),
    level=st.floats(20.0, 1e5),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_sinusoid_of_a_candidate_period_is_found_alone(
    choice: tuple[Granularity, float], amplitude: float, phase: float, level: float, seed: int
) -> None:
    granularity, period = choice
    t = np.arange(STEPS[granularity])
    noise = np.random.default_rng(seed).normal(0.0, 0.1, len(t))
    usage = level * np.exp(amplitude * np.sin(2 * math.pi * t / period + phase) + noise)
    assert detect_seasonality(usage, granularity).detected_periods == (period,)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.floats(0.0, 1e6), min_size=1, max_size=800),
    granularity=st.sampled_from(list(CANDIDATES)),
)
def test_strengths_and_autocorrelations_stay_in_range(
    values: list[float], granularity: Granularity
) -> None:
    found = detect_seasonality(np.array(values), granularity)
    assert len(found.periods) == len(candidates_for(granularity, len(values)))
    for period in found.periods:
        assert 0.0 <= period.strength <= 1.0
        assert -1.0 <= period.autocorrelation <= 1.0
        assert period.detected == (period in found.detected)


@settings(max_examples=25, deadline=None)
@given(factor=st.floats(1e-3, 1e4), seed=st.integers(0, 2**32 - 1))
def test_scaling_usage_changes_nothing_on_the_linear_scale(factor: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(730)
    usage = rng.poisson(50 * (1 + 0.5 * np.sin(2 * math.pi * t / 7)) * rng.uniform(0.5, 1.5, 730))
    linear = DetectionRule(log_scale=False)
    plain, scaled = (
        detect_seasonality(usage, rule=linear),
        detect_seasonality(usage * factor, rule=linear),
    )
    assert plain.detected_periods == scaled.detected_periods
    for a, b in zip(plain.periods, scaled.periods, strict=True):
        assert a.strength == pytest.approx(b.strength, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(factor=st.floats(10.0, 1e4), seed=st.integers(0, 2**32 - 1))
def test_scaling_large_usage_keeps_its_periods_on_the_log_scale(factor: float, seed: int) -> None:
    # log1p(c x) = log c + log x once counts are large, so periods survive any scale factor
    rng = np.random.default_rng(seed)
    weekdays = np.array([1.2, 1.1, 1.1, 1.0, 0.9, 0.4, 0.3])[np.arange(730) % 7]
    usage = 200.0 * weekdays * rng.lognormal(0.0, 0.15, 730)
    assert detect_seasonality(usage * factor).detected_periods == (WEEK_DAYS,)
    assert detect_seasonality(usage).detected_periods == (WEEK_DAYS,)


def test_cached_operators_give_the_backfitting_rounds_numbers() -> None:
    # decompose() runs short series through cached linear operators; the rounds are the definition
    _accounts, daily = book_daily()
    scaled = np.log1p(daily[:4, -730:])
    periods = [WEEK_DAYS, MONTH_DAYS, YEAR_DAYS]
    rule = DetectionRule()
    fast = decompose(scaled, periods, rule)
    basis, _columns, projection = _design(730, tuple(periods), rule.max_harmonics)
    trend, coefficients, remainder = _backfit(scaled, periods, basis, projection, rule)
    assert np.allclose(fast.coefficients, coefficients, atol=1e-8)
    assert np.allclose(fast.remainder, remainder, atol=1e-8)
    assert np.allclose(fast.trend, trend, atol=1e-8)


def test_batch_rows_match_single_accounts() -> None:
    _accounts, daily = book_daily()
    table = detect_seasonality_batch(daily[:6])
    for row in range(6):
        single = detect_seasonality(daily[row])
        assert table.account(row).detected_periods == single.detected_periods
        assert table.strength[row] == pytest.approx([p.strength for p in single.periods])


# --- history and inputs ---------------------------------------------------------------------------


def test_each_period_needs_two_whole_cycles() -> None:
    assert [c.name for c in candidates_for("daily", 13)] == []
    assert [c.name for c in candidates_for("daily", 14)] == ["weekly"]
    assert [c.name for c in candidates_for("daily", 60)] == ["weekly", "monthly"]
    assert [c.name for c in candidates_for("daily", 729)] == ["weekly", "monthly"]
    assert [c.name for c in candidates_for("daily", 730)] == ["weekly", "monthly", "yearly"]
    assert [c.name for c in candidates_for("hourly", 335)] == ["daily"]
    assert [c.name for c in candidates_for("hourly", 336)] == ["daily", "weekly"]
    assert detect_seasonality(np.ones(10)).periods == ()


@pytest.mark.parametrize(
    "values", [[1.0, -1.0] * 20, [1.0, math.nan] * 20, [1.0, math.inf] * 20, [[[1.0]]]]
)
def test_bad_usage_is_rejected(values: object) -> None:
    with pytest.raises(InvalidInput):
        detect_seasonality_batch(values)  # type: ignore[arg-type]


def test_a_single_series_must_be_one_dimensional() -> None:
    with pytest.raises(InvalidInput):
        detect_seasonality(np.ones((2, 30)))


def test_constant_usage_has_no_season() -> None:
    for value in (0.0, 7.0):
        found = detect_seasonality(np.full(730, value))
        assert all(p.strength == 0.0 and not p.detected for p in found.periods)


def test_rules_are_checked() -> None:
    for bad in ({"min_strength": 1.5}, {"max_harmonics": 0}, {"iterations": 0}):
        with pytest.raises(InvalidInput):
            DetectionRule(**bad)  # type: ignore[arg-type]


def test_daily_matrix_fills_missing_days_with_zero() -> None:
    from datetime import date

    accounts, matrix = daily_matrix(
        {"b": {date(2025, 1, 2): 3.0}, "a": {date(2025, 1, 1): 1.0, date(2025, 2, 1): 9.0}},
        start=date(2025, 1, 1),
        end=date(2025, 1, 4),
    )
    assert accounts == ["a", "b"]
    assert matrix.tolist() == [[1.0, 0.0, 0.0], [0.0, 3.0, 0.0]]


def test_hourly_totals_sum_to_whole_days() -> None:
    hourly = np.arange(24 * 2 + 5, dtype=np.float64)
    assert hourly_to_daily(hourly).tolist() == [sum(range(24)), sum(range(24, 48))]
