"""Published real series from the pmdarima and statsmodels wheels on days, and what is measured.

The measurements of the seasonal baseline and its alerts are the ones the tests and
benchmarks/alerts.py both take.

Offline: nothing is downloaded. Monthly and quarterly totals are spread evenly over the days of
their month or quarter, weekly ones over their 7 days; taylor's half-hours are summed to days.
Each is scaled so that a day holds thousands of units: Poisson copies of it are then clean
(count noise of about 1%), which is what the alert tests need.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import numpy as np
import numpy.typing as npt
import pmdarima.datasets as bundled
import statsmodels.datasets as sm_datasets

from valueproof.success.alerts import AlertRules, interval_signals
from valueproof.success.baseline import check_recent
from valueproof.success.reference import reference_baseline
from valueproof.success.seasonality import Seasonality

__all__ = [
    "CHECK",
    "HISTORY",
    "WINDOW",
    "RealSeries",
    "decline_delays",
    "mape",
    "months_on_days",
    "poisson_copies",
    "quarters_on_days",
    "real_series",
    "reference_forecast",
    "reference_lags",
    "series_named",
    "signal_kinds",
    "weekly_naive",
    "weeks_on_days",
    "windows",
]

FloatArray = npt.NDArray[np.float64]

HISTORY = 731  # two calendar years: the yearly period's minimum history plus a day
CHECK = 14  # valueproof.success.refresh.CHECK_DAYS: the days checked against the baseline
WINDOW = HISTORY + CHECK


@dataclass(frozen=True, slots=True)
class RealSeries:
    """One published series on days: `daily[i]` is the total of day `start + i`."""

    name: str
    daily: FloatArray
    start: date
    seasonal: bool  # False for the trend-only series (austres, uspop)
    source: str

    def day(self, index: int) -> date:
        return self.start + timedelta(days=index)


def months_on_days(values: npt.ArrayLike, start: date, scale: float = 1.0) -> FloatArray:
    """Monthly totals from `start`'s month, each spread evenly over its month's days."""
    out: list[float] = []
    year, month = start.year, start.month
    for value in np.asarray(values, dtype=np.float64):
        days = calendar.monthrange(year, month)[1]
        out += [value * scale / days] * days
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return np.array(out)


def quarters_on_days(values: npt.ArrayLike, start: date, scale: float = 1.0) -> FloatArray:
    """Quarterly totals from the quarter beginning `start`, each spread over its quarter's days."""
    out: list[float] = []
    first = start
    for value in np.asarray(values, dtype=np.float64):
        month = first.month + 3
        following = date(first.year + (month > 12), (month - 1) % 12 + 1, 1)
        days = (following - first).days
        out += [value * scale / days] * days
        first = following
    return np.array(out)


def weeks_on_days(values: npt.ArrayLike, scale: float = 1.0) -> FloatArray:
    """Weekly totals, each spread over its 7 days."""
    return np.repeat(np.asarray(values, dtype=np.float64) * scale / 7, 7)


@cache
def real_series() -> tuple[RealSeries, ...]:
    """The eight series, seasonal ones first."""
    co2 = sm_datasets.co2.load_pandas().data["co2"].interpolate().to_numpy(dtype=np.float64)
    population = sm_datasets.macrodata.load_pandas().data["pop"].to_numpy(dtype=np.float64)
    beer = np.asarray(bundled.load_ausbeer(), dtype=np.float64)
    half_hours = np.asarray(bundled.load_taylor(), dtype=np.float64)
    return (
        RealSeries(
            "airpassengers",
            months_on_days(bundled.load_airpassengers(), date(1949, 1, 1), 1000),
            date(1949, 1, 1),
            True,
            "Box & Jenkins airline passengers, monthly 1949-1960 (pmdarima load_airpassengers)",
        ),
        RealSeries(
            "wineind",
            months_on_days(bundled.load_wineind(), date(1980, 1, 1), 10),
            date(1980, 1, 1),
            True,
            "Australian wine sales by winemakers, monthly 1980-1994 (pmdarima load_wineind)",
        ),
        RealSeries(
            "ausbeer",
            # the bundled series ends in one missing quarter
            quarters_on_days(beer[~np.isnan(beer)], date(1956, 1, 1), 1000),
            date(1956, 1, 1),
            True,
            "Australian beer production, quarterly from 1956Q1 (pmdarima load_ausbeer)",
        ),
        RealSeries(
            "woolyrnq",
            quarters_on_days(bundled.load_woolyrnq(), date(1965, 1, 1), 100),
            date(1965, 1, 1),
            True,
            "Australian woollen yarn production, quarterly 1965-1994 (pmdarima load_woolyrnq)",
        ),
        RealSeries(
            "co2",
            weeks_on_days(co2, 1000),
            date(1958, 3, 29),
            True,
            "Mauna Loa CO2, weekly from 1958-03-29, gaps interpolated (statsmodels datasets.co2)",
        ),
        RealSeries(
            "taylor",
            half_hours.reshape(-1, 48).sum(axis=1),
            date(2000, 6, 5),
            True,
            "Electricity demand of England and Wales, half-hourly 2000-06-05 to 2000-08-27, "
            "summed to days (pmdarima load_taylor)",
        ),
        RealSeries(
            "austres",
            quarters_on_days(bundled.load_austres(), date(1971, 4, 1), 1000),
            date(1971, 4, 1),
            False,
            "Australian residents, quarterly from 1971Q2 (pmdarima load_austres)",
        ),
        RealSeries(
            "uspop",
            quarters_on_days(population, date(1959, 1, 1), 1000),
            date(1959, 1, 1),
            False,
            "US population, quarterly from 1959Q1 (statsmodels datasets.macrodata pop)",
        ),
    )


def series_named(name: str) -> RealSeries:
    """The series called `name`."""
    for series in real_series():
        if series.name == name:
            return series
    raise KeyError(name)


def windows(series: RealSeries, count: int) -> tuple[FloatArray, list[int]]:
    """`count` windows of `WINDOW` days evenly spaced across the series, and their first days.

    A series shorter than a window (taylor: 84 days) gives one window, the whole series.
    """
    total = len(series.daily)
    if total < WINDOW:
        return series.daily[None, :].copy(), [0]
    ends = np.linspace(WINDOW, total, count).astype(int)
    return np.stack([series.daily[end - WINDOW : end] for end in ends]), [
        int(end) - WINDOW for end in ends
    ]


def poisson_copies(series: npt.ArrayLike, n: int, seed: int) -> npt.NDArray[np.int64]:
    """`n` clean copies of `series` (any shape): Poisson counts around each value."""
    values = np.asarray(series, dtype=np.float64)
    rng = np.random.default_rng(seed)
    return rng.poisson(values, size=(n, *values.shape))


def mape(forecast: npt.ArrayLike, actual: npt.ArrayLike) -> float:
    """Mean absolute percentage error of `forecast` against `actual`."""
    wanted = np.asarray(actual, dtype=np.float64)
    return float(np.mean(np.abs(np.asarray(forecast, dtype=np.float64) - wanted) / wanted))


def weekly_naive(history: npt.ArrayLike, horizon: int = CHECK) -> FloatArray:
    """The seasonal-naive forecast of each row: its last 7 days repeated."""
    rows = np.atleast_2d(np.asarray(history, dtype=np.float64))
    return np.stack([np.resize(row[-7:], horizon) for row in rows])


def reference_lags(seasonality: Seasonality, history: int) -> list[int]:
    """The lags of the detected periods with more than two cycles in `history` days."""
    return [round(p.period) for p in seasonality.detected if history > 2 * round(p.period)]


def reference_forecast(window: FloatArray, seasonality: Seasonality) -> FloatArray:
    """statsmodels MSTL + damped-trend ETS fitted on all but the last `CHECK` days, across them."""
    history = window[:-CHECK]
    lags = reference_lags(seasonality, len(history))
    return reference_baseline(history, CHECK, lags).expected[0]


def signal_kinds(
    series: RealSeries, rows: FloatArray, first_days: Sequence[int]
) -> list[list[str]]:
    """The decline or surge signals of each row (a window of `series` starting on its day)."""
    check = check_recent(rows, CHECK)
    rules = AlertRules()
    kinds = []
    for row, first in enumerate(first_days):
        days = [series.day(first + rows.shape[1] - CHECK + j) for j in range(CHECK)]
        found = interval_signals(
            series.name,
            days,
            check.actual[row].tolist(),
            check.lower[row].tolist(),
            check.upper[row].tolist(),
            check.expected[row].tolist(),
            rules,
        )
        kinds.append([signal.type for signal in found])
    return kinds


def decline_delays(
    series: RealSeries, matrix: FloatArray, first_days: Sequence[int], factor: float
) -> list[int | None]:
    """For each window, the fewest last days (1 to `CHECK`) multiplied by `factor` that raise a
    decline signal, or None; all windows' variants in one batch."""
    rows, cols = matrix.shape
    dropped = np.repeat(matrix, CHECK, axis=0)
    for k in range(1, CHECK + 1):
        dropped[k - 1 :: CHECK, cols - k :] *= factor
    kinds = signal_kinds(series, dropped, [first for first in first_days for _ in range(CHECK)])
    return [
        next((k for k in range(1, CHECK + 1) if "decline" in kinds[w * CHECK + k - 1]), None)
        for w in range(rows)
    ]
