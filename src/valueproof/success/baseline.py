"""Each account's seasonal baseline: what usage should be in the next steps, with an interval.

On the log1p scale, the account's own detected seasonal components (extended in time) plus a
forecast of the seasonally adjusted series by whichever of three simple methods forecast this
account's own recent past best (`methods.py`): a robust level and drift, damped-trend exponential
smoothing, or the last cycle repeated (seasonal naive). Days far outside the account's recent
range (an outage, a one-off spike) are replaced by that range's median before anything is fitted,
so they teach the baseline nothing. The prediction interval is the quantiles of the chosen
method's own errors at each horizon over the account's recent past, never narrower than
`min_width` either side. Accounts are fitted in batches, one per set of detected periods.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Final

import numpy as np
import numpy.typing as npt

from valueproof.errors import InvalidInput
from valueproof.success.methods import Fits, fit_methods, last_year_forecast, without_outages
from valueproof.success.seasonality import (
    DetectionRule,
    SeasonalityTable,
    decompose,
    detect_seasonality_batch,
    fourier_basis,
)
from valueproof.success.series import (
    FloatArray,
    Granularity,
    as_matrix,
    from_log_scale,
    to_log_scale,
)

__all__ = [
    "BaselineCheck",
    "BaselineRule",
    "Forecast",
    "check_recent",
    "seasonal_baseline",
    "seasonal_baseline_batch",
]

# Steps in the level and drift windows by granularity: four weeks and a quarter of days, a week
# and four weeks of hours, a quarter and a year of months.
_LEVEL_STEPS: Final[dict[Granularity, int]] = {"daily": 28, "hourly": 168, "monthly": 3}
_DRIFT_STEPS: Final[dict[Granularity, int]] = {"daily": 91, "hourly": 672, "monthly": 12}
_ERROR_STEPS: Final[dict[Granularity, int]] = {"daily": 182, "hourly": 1008, "monthly": 36}
# Steps in a year by granularity, for the one-year recall (hourly series hold no year).
_YEAR_STEPS: Final[dict[Granularity, int]] = {"daily": 365, "monthly": 12}
# A median day of fewer units than this is too sparse for outages to be told from lulls.
_SPARSE_UNITS: Final = 3.0
# Rows forecast together: bounds the in-sample forecasts (rows x origins x horizon) in memory.
_CHUNK_ROWS: Final = 1024


@dataclass(frozen=True, slots=True)
class BaselineRule:
    """How the baseline is fitted: interval coverage, window lengths (steps), detection rule.

    Windows left as None take the granularity's defaults (daily: level 28, drift 91, errors
    from forecasts made over the last 182 steps). `min_width` is the least half-width of the
    interval relative to the forecast (0.05: never narrower than 5% either side), so a flat,
    noise-free series (seats held, a population) does not alert on changes nobody would act on.
    """

    coverage: float = 0.95
    min_width: float = 0.05
    level_window: int | None = None
    drift_window: int | None = None
    error_window: int | None = None
    detection: DetectionRule = field(default_factory=DetectionRule)

    def __post_init__(self) -> None:
        if not 0.0 < self.coverage < 1.0:
            raise InvalidInput("coverage", "must be strictly between 0 and 1")
        if not 0.0 <= self.min_width < 1.0:
            raise InvalidInput("min_width", "must be at least 0 and below 1")
        for name in ("level_window", "drift_window", "error_window"):
            value = getattr(self, name)
            if value is not None and value < 2:
                raise InvalidInput(name, "must be at least 2 steps")

    def windows(self, granularity: Granularity) -> tuple[int, int, int]:
        """The level, drift and error windows in steps for `granularity`."""
        return (
            self.level_window or _LEVEL_STEPS[granularity],
            self.drift_window or _DRIFT_STEPS[granularity],
            self.error_window or _ERROR_STEPS[granularity],
        )


@dataclass(frozen=True, slots=True)
class Forecast:
    """Baselines for the `horizon` steps after each account's history (accounts x horizon).

    `expected` is the median forecast on the usage scale; `lower` and `upper` bound the
    prediction interval at the rule's coverage, and are never negative. `method` names, per
    account, the forecasting method its own past chose (`methods.METHODS`).
    """

    expected: FloatArray
    lower: FloatArray
    upper: FloatArray
    method: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BaselineCheck:
    """The last `steps` of each account against its baseline fitted on the history before them.

    `below` and `above` mark the steps where actual usage left the prediction interval; an alert
    rule decides how many in a row matter.
    """

    expected: FloatArray
    lower: FloatArray
    upper: FloatArray
    actual: FloatArray
    below: npt.NDArray[np.bool_]
    above: npt.NDArray[np.bool_]
    seasonality: SeasonalityTable
    method: tuple[str, ...] = ()


def seasonal_baseline_batch(
    history: npt.ArrayLike,
    horizon: int,
    granularity: Granularity = "daily",
    seasonality: SeasonalityTable | None = None,
    rule: BaselineRule = BaselineRule(),
) -> Forecast:
    """Forecast `horizon` steps after each row of `history` (accounts x steps) with intervals.

    Each account uses the periods `seasonality` detected for it (detected from `history` when
    not given); pass a table detected on a longer history to keep, say, a yearly period that
    the shorter fitting history alone would be too short to test.
    """
    matrix = as_matrix(history)
    if horizon < 1:
        raise InvalidInput("horizon", "must be at least 1")
    level, _drift, _errors = rule.windows(granularity)
    if matrix.shape[1] < 2 * level:
        raise InvalidInput("history", f"needs at least {2 * level} steps (two level windows)")
    table = (
        detect_seasonality_batch(matrix, granularity, rule.detection)
        if seasonality is None
        else seasonality
    )
    if len(table) != matrix.shape[0]:
        raise InvalidInput("seasonality", "must have one row per account in history")
    shape = (matrix.shape[0], horizon)
    expected, lower, upper = np.empty(shape), np.empty(shape), np.empty(shape)
    method = np.empty(matrix.shape[0], dtype=object)
    patterns, group_of = np.unique(table.detected, axis=0, return_inverse=True)
    for group, pattern in enumerate(patterns):
        rows = np.flatnonzero(group_of.ravel() == group)
        periods = [c.period for c, on in zip(table.candidates, pattern, strict=True) if on]
        for start in range(0, len(rows), _CHUNK_ROWS):
            chunk = rows[start : start + _CHUNK_ROWS]
            found = _forecast_group(matrix[chunk], periods, horizon, granularity, rule)
            expected[chunk], lower[chunk], upper[chunk], method[chunk] = found
    return Forecast(expected=expected, lower=lower, upper=upper, method=tuple(method.tolist()))


def seasonal_baseline(
    history: npt.ArrayLike,
    horizon: int,
    granularity: Granularity = "daily",
    seasonality: SeasonalityTable | None = None,
    rule: BaselineRule = BaselineRule(),
) -> Forecast:
    """One account's baseline: `seasonal_baseline_batch` on a single series (one-row arrays)."""
    series = np.asarray(history, dtype=np.float64)
    if series.ndim != 1:
        raise InvalidInput("history", "must be one series; use seasonal_baseline_batch for many")
    return seasonal_baseline_batch(series, horizon, granularity, seasonality, rule)


def check_recent(
    values: npt.ArrayLike,
    steps: int,
    granularity: Granularity = "daily",
    seasonality: SeasonalityTable | None = None,
    rule: BaselineRule = BaselineRule(),
) -> BaselineCheck:
    """For each account's last `steps`: expected, lower, upper, actual, and below/above flags.

    The baseline is fitted on everything before the last `steps` and forecast across them, so a
    recent drop cannot pull its own baseline down. Seasonality is detected on the whole series
    (a few weeks of anomaly barely move a two-year detection, and the whole series may be the
    only one long enough to test the yearly period) unless a table is given.
    """
    matrix = as_matrix(values)
    if not 1 <= steps < matrix.shape[1]:
        raise InvalidInput("steps", "must be at least 1 and shorter than the series")
    table = (
        detect_seasonality_batch(matrix, granularity, rule.detection)
        if seasonality is None
        else seasonality
    )
    fitted = seasonal_baseline_batch(matrix[:, :-steps], steps, granularity, table, rule)
    actual = matrix[:, -steps:]
    return BaselineCheck(
        expected=fitted.expected,
        lower=fitted.lower,
        upper=fitted.upper,
        actual=actual,
        below=actual < fitted.lower,
        above=actual > fitted.upper,
        seasonality=table,
        method=fitted.method,
    )


def _forecast_group(
    history: FloatArray,
    periods: Sequence[float],
    horizon: int,
    granularity: Granularity,
    rule: BaselineRule,
) -> tuple[FloatArray, FloatArray, FloatArray, list[str]]:
    """Seasonal part plus the best method's forecast, on the log1p scale, for rows sharing their
    periods; the interval from that method's own errors."""
    scaled = to_log_scale(history) if rule.detection.log_scale else history
    steps = scaled.shape[1]
    level_window, drift_window, error_window = rule.windows(granularity)
    future = np.arange(steps, steps + horizon)
    if periods:
        found = decompose(scaled, periods, rule.detection)
        adjusted = scaled - found.seasonal()
        basis, _columns = fourier_basis(future, periods, rule.detection.max_harmonics)
        seasonal = found.coefficients @ basis.T
    else:
        adjusted, seasonal = scaled, np.zeros((scaled.shape[0], horizon))
    # Outages are cleaned as far back as the methods look from their origins (the last-year
    # method reads a year further, where outages are left as they were). On the log scale a
    # median day under 3 units is too sparse to tell an outage from a lull.
    sparse = math.log1p(_SPARSE_UNITS) if rule.detection.log_scale else -math.inf
    cleaned = without_outages(
        adjusted, last=error_window + level_window + horizon + 28, floor=sparse
    )
    # Seasonal naive repeats the shortest detected cycle when it is no longer than the level
    # window (a week of days, a day of hours); a longer one (a year) would repeat stale values,
    # so the last step is repeated instead (plain naive).
    shortest = round(min(periods)) if periods else 1
    cycle = shortest if shortest <= level_window else 1
    longest = round(max(periods)) if periods else 0
    long_cycle = longest if longest > level_window else None
    fits = fit_methods(
        cleaned, horizon, level_window, drift_window, error_window, cycle, long_cycle
    )
    low, high = _interval_offsets(fits, horizon, rule)
    point = fits.forecast + seasonal
    year = _YEAR_STEPS.get(granularity)
    if year is not None and long_cycle is None and steps >= year + level_window + horizon:
        # A year of history but no yearly period (that takes two): the same days last year,
        # moved by the level's change since, also count as normal, so the first repeat of last
        # year's peak is not a surge and of its lull not a decline.
        recalled = last_year_forecast(cleaned, horizon, level_window, year) + seasonal
        low = np.minimum(low, recalled - point + low)
        high = np.maximum(high, recalled - point + high)
    if not rule.detection.log_scale:
        # additive scale: the minimum width is relative to the forecast itself
        floor = rule.min_width * np.abs(point)
        low, high = np.minimum(low, -floor), np.maximum(high, floor)
        lower, upper = _floor_zero(point + low), _floor_zero(point + high)
        return _floor_zero(point), lower, upper, fits.names
    expected = from_log_scale(point)
    lower, upper = from_log_scale(point + low), from_log_scale(point + high)
    count_low, count_high = count_interval(expected, rule.coverage)
    return expected, np.minimum(lower, count_low), np.maximum(upper, count_high), fits.names


def count_interval(expected: FloatArray, coverage: float) -> tuple[FloatArray, FloatArray]:
    """The least interval a count with this mean can have: Poisson noise alone, which an
    account's own errors can miss when its history was quieter than the coming days are
    forecast to be. Zero is inside whenever a day without any event is at least as likely as
    the lower tail (a mean up to 3.7 at 95%); above that, the normal approximation."""
    tail = coverage_tail(coverage)
    z = NormalDist().inv_cdf(1.0 - tail)
    spread = z * np.sqrt(expected)
    lower = np.where(expected <= -math.log(tail), 0.0, np.maximum(expected - spread, 0.0))
    return np.asarray(lower), np.asarray(expected + spread + 1.0)


def _floor_zero(values: FloatArray) -> FloatArray:
    return np.maximum(values, 0.0)


def _interval_offsets(
    fits: Fits, horizon: int, rule: BaselineRule
) -> tuple[FloatArray, FloatArray]:
    """Lower and upper offsets (rows x horizon) from the point forecast, on the fit scale.

    Per horizon step, the quantiles of the chosen method's in-sample errors at that step (never
    on the wrong side of zero, and never shrinking as the horizon grows); past the steps the
    history could check, they grow with the square root of the horizon, as a random walk's
    spread does. On the log scale no offset is narrower than `min_width` of the forecast.
    """
    tail = coverage_tail(rule.coverage)
    low_q, high_q = np.quantile(fits.errors, [tail, 1.0 - tail], axis=1)  # rows x reach
    low = np.minimum.accumulate(np.minimum(low_q, 0.0), axis=1)
    high = np.maximum.accumulate(np.maximum(high_q, 0.0), axis=1)
    if rule.detection.log_scale and rule.min_width > 0:
        low = np.minimum(low, math.log1p(-rule.min_width))
        high = np.maximum(high, math.log1p(rule.min_width))
    reach = low.shape[1]
    if horizon > reach:
        h = np.arange(reach + 1, horizon + 1, dtype=np.float64)
        growth = np.sqrt(h / reach)[None, :]
        low = np.concatenate([low, low[:, -1:] * growth], axis=1)
        high = np.concatenate([high, high[:, -1:] * growth], axis=1)
    return np.asarray(low[:, :horizon]), np.asarray(high[:, :horizon])


def coverage_tail(coverage: float) -> float:
    """The lower tail probability of a central interval with this coverage (0.95 -> 0.025)."""
    return (1.0 - coverage) / 2.0
