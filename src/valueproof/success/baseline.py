"""Each account's seasonal baseline: what usage should be in the next steps, with an interval.

On the log1p scale the baseline is a robust recent level (the median of the last `level_window`
seasonally adjusted steps) plus a drift (the least-squares slope of the last `drift_window`
adjusted steps), plus the account's own detected seasonal components, extended in time. The
prediction interval comes from the account's own errors: the quantiles of how far the adjusted
series strayed from its trailing mean one step and `level_window` steps later, centred on their
median, so the interval widens with the horizon as much as this account's history says it should.
Accounts are fitted in batches, one batch per set of detected periods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from valueproof.errors import InvalidInput
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
_ERROR_STEPS: Final[dict[Granularity, int]] = {"daily": 365, "hourly": 2016, "monthly": 36}


@dataclass(frozen=True, slots=True)
class BaselineRule:
    """How the baseline is fitted: interval coverage, window lengths (steps), detection rule.

    Windows left as None take the granularity's defaults (daily: level 28, drift 91, errors
    from the last 365 steps).
    """

    coverage: float = 0.95
    level_window: int | None = None
    drift_window: int | None = None
    error_window: int | None = None
    detection: DetectionRule = field(default_factory=DetectionRule)

    def __post_init__(self) -> None:
        if not 0.0 < self.coverage < 1.0:
            raise InvalidInput("coverage", "must be strictly between 0 and 1")
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
    prediction interval at the rule's coverage, and are never negative.
    """

    expected: FloatArray
    lower: FloatArray
    upper: FloatArray


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
    patterns, group_of = np.unique(table.detected, axis=0, return_inverse=True)
    for group, pattern in enumerate(patterns):
        rows = np.flatnonzero(group_of.ravel() == group)
        periods = [c.period for c, on in zip(table.candidates, pattern, strict=True) if on]
        found = _forecast_group(matrix[rows], periods, horizon, granularity, rule)
        expected[rows], lower[rows], upper[rows] = found
    return Forecast(expected=expected, lower=lower, upper=upper)


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
    )


def _forecast_group(
    history: FloatArray,
    periods: Sequence[float],
    horizon: int,
    granularity: Granularity,
    rule: BaselineRule,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Level + drift + seasonal forecast, on the log1p scale, for rows sharing their periods."""
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
    level = np.median(adjusted[:, -level_window:], axis=1)
    drift = _slope(adjusted[:, -min(drift_window, steps) :])
    # the median sits at the middle of its window: the first forecast step is this far past it
    ahead = np.arange(1, horizon + 1) + (level_window - 1) / 2
    point = level[:, None] + drift[:, None] * ahead[None, :] + seasonal
    low, high = _interval_offsets(adjusted, horizon, level_window, error_window, rule.coverage)
    untransform = from_log_scale if rule.detection.log_scale else _floor_zero
    return untransform(point), untransform(point + low), untransform(point + high)


def _floor_zero(values: FloatArray) -> FloatArray:
    return np.maximum(values, 0.0)


def _slope(values: FloatArray) -> FloatArray:
    """Each row's least-squares slope per step."""
    t = np.arange(values.shape[1], dtype=np.float64)
    t -= t.mean()
    return np.asarray(values @ t / (t @ t), dtype=np.float64)


def _trailing_errors(adjusted: FloatArray, window: int, ahead: int, keep: int) -> FloatArray:
    """Adjusted value `ahead` steps after each trailing `window`-step mean, minus that mean.

    Only the last `keep` such errors (at most) are returned: recent behaviour sets the interval.
    """
    steps = adjusted.shape[1]
    cumulative = np.concatenate([np.zeros((adjusted.shape[0], 1)), adjusted.cumsum(axis=1)], axis=1)
    ends = np.arange(window, steps - ahead + 1)  # a mean over [end - window, end)
    ends = ends[-keep:]
    means = (cumulative[:, ends] - cumulative[:, ends - window]) / window
    return np.asarray(adjusted[:, ends + ahead - 1] - means, dtype=np.float64)


def _interval_offsets(
    adjusted: FloatArray, horizon: int, window: int, keep: int, coverage: float
) -> tuple[FloatArray, FloatArray]:
    """Lower and upper offsets (accounts x horizon) from the point forecast, on the fit scale.

    Quantiles of the trailing-mean errors one step and `window` steps ahead, centred on their
    median (the point forecast carries the drift the trailing mean lacks); between the two
    horizons the offsets are interpolated, beyond the second they grow with the square root of
    the horizon, as a random walk's spread does.
    """
    tail = (1.0 - coverage) / 2.0
    levels = [tail, 0.5, 1.0 - tail]
    far = min(window, adjusted.shape[1] - window)
    near_q = np.quantile(_trailing_errors(adjusted, window, 1, keep), levels, axis=1)
    far_q = np.quantile(_trailing_errors(adjusted, window, far, keep), levels, axis=1)
    near_low, near_high = near_q[0] - near_q[1], near_q[2] - near_q[1]
    far_low = np.minimum(far_q[0] - far_q[1], near_low)
    far_high = np.maximum(far_q[2] - far_q[1], near_high)
    h = np.arange(1, horizon + 1, dtype=np.float64)
    share = np.clip((h - 1) / max(far - 1, 1), 0.0, 1.0)
    growth = np.sqrt(np.maximum(h / far, 1.0))
    low = (near_low[:, None] * (1 - share) + far_low[:, None] * share) * growth
    high = (near_high[:, None] * (1 - share) + far_high[:, None] * share) * growth
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
