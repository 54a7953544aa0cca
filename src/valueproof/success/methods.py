"""The forecasting methods a seasonal baseline chooses from, per account, by its own past.

Each works on seasonally adjusted series (rows x steps, the log1p scale) and gives, besides the
forecast after the last step, its forecasts from every recent origin, so each account's errors
at each horizon can be measured on its own history (a rolling origin, Tashman 2000):

- `level`: the median of the last `level_window` steps plus the least-squares drift of the last
  `drift_window` steps (robust, slow: right for noisy counts and for series whose adjustment
  leaves ripples, such as monthly figures spread over days);
- `smoothing`: damped-trend exponential smoothing (Gardner & McKenzie 1985; alpha 0.5, beta
  0.05, phi 0.9) with each error clipped at three robust standard deviations (Gelper, Fried &
  Croux 2010): quick to follow a level that moves, as after a holiday;
- `seasonal_naive`: the last cycle of the shortest detected period repeated (the last step when
  none is detected): the benchmark every seasonal forecast must beat (Hyndman & Athanasopoulos,
  "Forecasting: principles and practice", 5.2).

`fit_methods` keeps, for each row, the method with the smallest mean absolute error over its
recent origins and horizons, and that method's errors, from which the baseline's interval comes.
`without_outages` replaces steps far from the median of the steps before them, so an outage (or
a one-off spike) teaches no method anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from valueproof.success.series import FloatArray

__all__ = ["METHODS", "Fits", "fit_methods", "last_year_forecast", "without_outages"]

METHODS: Final = ("level", "smoothing", "seasonal_naive", "last_year")

_ALPHA: Final = 0.5
_BETA: Final = 0.05
_PHI: Final = 0.9
_CLIP: Final = 3.0  # robust standard deviations an error may move the smoothed level
_SCALE_FLOOR: Final = 0.005  # about 0.5% of usage on the log scale: noise-free series
_MAX_ORIGINS: Final = 120  # origins whose errors are measured, at most (evenly spaced)
_OUTAGE_WINDOW: Final = 15  # steps of the trailing median an outage is compared with
_OUTAGE_SIGMAS: Final = 4.0
_OUTAGE_MIN: Final = math.log(1.25)  # never call a step within 25% of its median an outage


@dataclass(frozen=True, slots=True)
class Fits:
    """The chosen method per row: its forecast (rows x horizon), its in-sample errors (rows x
    origins x reach: actual minus forecast, `reach` horizon steps from each origin), its name."""

    forecast: FloatArray
    errors: FloatArray
    names: list[str]


def without_outages(
    adjusted: FloatArray,
    window: int = _OUTAGE_WINDOW,
    last: int | None = None,
    floor: float = -math.inf,
) -> FloatArray:
    """`adjusted` with each step that stands far from the median of its trailing `window`
    steps (more than four robust standard deviations, and more than 25%) replaced by that median.

    An outage or a spike lasting up to about half the window is replaced; a change that lasts
    longer becomes the median itself, so a real change of level is learned within a week or two.
    Only the `last` steps are examined when given (the methods read no further back, and the
    robust smoothing clips its own errors): the medians are most of the cost. Steps whose median
    is at or below `floor` are left alone: in a sparse series (a few events a week) the median
    day is empty and every day with usage would look like a spike.
    """
    steps = adjusted.shape[1]
    width = min(window, steps)
    start = 0 if last is None else max(0, steps - last)
    padded = np.concatenate([np.repeat(adjusted[:, :1], width - 1, axis=1), adjusted], axis=1)
    median = np.median(sliding_window_view(padded[:, start:], width, axis=1), axis=2)
    examined = adjusted[:, start:]
    residual = examined - median
    spread = 1.4826 * np.median(
        np.abs(residual - np.median(residual, axis=1, keepdims=True)), axis=1
    )
    limit = np.maximum(_OUTAGE_SIGMAS * np.maximum(spread, _SCALE_FLOOR), _OUTAGE_MIN)[:, None]
    odd = (np.abs(residual) > limit) & (median > floor)
    cleaned = adjusted.copy()
    cleaned[:, start:] = np.where(odd, median, examined)
    return cleaned


def fit_methods(
    adjusted: FloatArray,
    horizon: int,
    level_window: int,
    drift_window: int,
    error_window: int,
    cycle: int,
    long_cycle: int | None = None,
) -> Fits:
    """Each row's best method by its mean absolute error from recent origins, with its forecast
    `horizon` steps past the last step and its in-sample errors (see `Fits`)."""
    rows, steps = adjusted.shape
    reach = max(1, min(horizon, (steps - level_window) // 2))
    first = max(level_window - 1, cycle - 1, steps - 1 - reach - error_window)
    last = steps - 1 - reach
    origins = np.arange(first, last + 1)
    if len(origins) > _MAX_ORIGINS:
        origins = origins[np.linspace(0, len(origins) - 1, _MAX_ORIGINS).round().astype(int)]
    targets = origins[:, None] + np.arange(1, reach + 1)[None, :]  # origins x reach
    actual = adjusted[:, targets]  # rows x origins x reach
    candidates = [
        _level(adjusted, origins, horizon, reach, level_window, drift_window),
        _smoothing(adjusted, origins, horizon, reach),
        _seasonal_naive(adjusted, origins, horizon, reach, cycle),
    ]
    usable = long_cycle is not None and origins[0] - long_cycle - level_window + 1 >= 0
    if usable and long_cycle is not None and horizon <= long_cycle:
        candidates.append(_last_year(adjusted, origins, horizon, reach, level_window, long_cycle))
    errors = np.stack([actual - insample for _forecast, insample in candidates])
    score = np.abs(errors).mean(axis=(2, 3))  # methods x rows
    best = np.argmin(score, axis=0)
    pick = np.arange(rows)
    forecast = np.stack([f for f, _insample in candidates])[best, pick]
    return Fits(
        forecast=np.asarray(forecast, dtype=np.float64),
        errors=np.asarray(errors[best, pick], dtype=np.float64),
        names=[METHODS[i] for i in best.tolist()],
    )


def _level(
    adjusted: FloatArray,
    origins: np.ndarray,
    horizon: int,
    reach: int,
    level_window: int,
    drift_window: int,
) -> tuple[FloatArray, FloatArray]:
    """Median of the last `level_window` steps plus the drift of the last `drift_window`, applied
    from the middle of the level window (where the median sits)."""
    steps = adjusted.shape[1]
    at = np.append(origins, steps - 1)
    windows = sliding_window_view(adjusted, level_window, axis=1)[:, at - level_window + 1]
    level = np.median(windows, axis=2)  # rows x (origins + 1)
    drift = _drift(adjusted, at, drift_window)
    centre = (level_window - 1) / 2
    ahead_in = np.arange(1, reach + 1) + centre
    ahead_out = np.arange(1, horizon + 1) + centre
    insample = level[:, :-1, None] + drift[:, :-1, None] * ahead_in[None, None, :]
    forecast = level[:, -1:] + drift[:, -1:] * ahead_out[None, :]
    return np.asarray(forecast), np.asarray(insample)


def _drift(adjusted: FloatArray, at: np.ndarray, window: int) -> FloatArray:
    """Least-squares slope per step of each row over the `window` steps ending at each of `at`
    (fewer at the start of the series), from running sums."""
    rows, steps = adjusted.shape
    index = np.arange(steps, dtype=np.float64)
    zero = np.zeros((rows, 1))
    sum_y = np.concatenate([zero, np.cumsum(adjusted, axis=1)], axis=1)
    sum_iy = np.concatenate([zero, np.cumsum(adjusted * index, axis=1)], axis=1)
    start = np.maximum(at - window + 1, 0)
    n = (at - start + 1).astype(np.float64)
    s_y = sum_y[:, at + 1] - sum_y[:, start]
    s_iy = sum_iy[:, at + 1] - sum_iy[:, start]
    # in window-local time u = i - start: sum(u) and sum(u^2) are n(n-1)/2 and (n-1)n(2n-1)/6
    s_u = n * (n - 1) / 2
    s_uu = (n - 1) * n * (2 * n - 1) / 6
    s_uy = s_iy - start * s_y
    spread = n * s_uu - s_u * s_u
    safe = np.where(spread > 0, spread, 1.0)
    return np.asarray(np.where(spread > 0, (n * s_uy - s_u * s_y) / safe, 0.0))


def _smoothing(
    adjusted: FloatArray, origins: np.ndarray, horizon: int, reach: int
) -> tuple[FloatArray, FloatArray]:
    """Damped-trend exponential smoothing with clipped errors: forecasts from each origin and
    from the last step."""
    rows, steps = adjusted.shape
    spread = 1.4826 * np.median(np.abs(np.diff(adjusted, axis=1)), axis=1) if steps > 1 else 0.0
    limit = _CLIP * np.maximum(spread, _SCALE_FLOOR)
    level = np.median(adjusted[:, : min(7, steps)], axis=1)
    trend = np.zeros(rows)
    keep = np.zeros(steps, dtype=bool)
    keep[origins] = True
    levels, trends = [], []
    for t in range(1, steps):
        predicted = level + _PHI * trend
        error = np.clip(adjusted[:, t] - predicted, -limit, limit)
        level = predicted + _ALPHA * error
        trend = _PHI * trend + _ALPHA * _BETA * error
        if keep[t]:
            levels.append(level)
            trends.append(trend)
    if keep[0]:  # an origin at the first step: the initial state
        levels.insert(0, np.median(adjusted[:, : min(7, steps)], axis=1))
        trends.insert(0, np.zeros(rows))
    damped = np.cumsum(_PHI ** np.arange(1, max(horizon, reach) + 1))
    at_origins = (
        np.stack(levels, axis=1)[:, :, None]
        + np.stack(trends, axis=1)[:, :, None] * (damped[None, None, :reach])
    )
    forecast = level[:, None] + trend[:, None] * damped[None, :horizon]
    return np.asarray(forecast), np.asarray(at_origins)


def _seasonal_naive(
    adjusted: FloatArray, origins: np.ndarray, horizon: int, reach: int, cycle: int
) -> tuple[FloatArray, FloatArray]:
    """The last `cycle` steps repeated, from each origin and from the last step."""
    steps = adjusted.shape[1]

    def source(origin: np.ndarray, ahead: np.ndarray) -> np.ndarray:
        # the step one whole number of cycles before origin + ahead, at or before origin
        back = cycle * np.ceil(ahead / cycle).astype(int)
        found: np.ndarray = origin[..., None] + ahead - back
        return found

    insample = adjusted[:, source(origins, np.arange(1, reach + 1))]
    forecast = adjusted[:, source(np.array(steps - 1), np.arange(1, horizon + 1))]
    return np.asarray(forecast), np.asarray(insample)


def _last_year(
    adjusted: FloatArray,
    origins: np.ndarray,
    horizon: int,
    reach: int,
    level_window: int,
    cycle: int,
) -> tuple[FloatArray, FloatArray]:
    """The same days one long cycle (a year) earlier, moved by how far the level (the median of
    `level_window` steps) has moved since: what the Fourier terms smooth away (a step at each
    month's turn) repeats, where it repeats."""
    steps = adjusted.shape[1]
    at = np.append(origins, steps - 1)
    windows = sliding_window_view(adjusted, level_window, axis=1)
    shift = np.median(windows[:, at - level_window + 1], axis=2) - np.median(
        windows[:, at - cycle - level_window + 1], axis=2
    )  # rows x (origins + 1)
    ahead_in = origins[:, None] + np.arange(1, reach + 1)[None, :] - cycle
    ahead_out = steps - 1 + np.arange(1, horizon + 1) - cycle
    insample = adjusted[:, ahead_in] + shift[:, :-1, None]
    forecast = adjusted[:, ahead_out] + shift[:, -1:]
    return np.asarray(forecast), np.asarray(insample)


def last_year_forecast(
    adjusted: FloatArray, horizon: int, level_window: int, cycle: int
) -> FloatArray:
    """The `last_year` method's forecast alone, from the last step: the `horizon` days one
    `cycle` earlier, moved by how far the level has moved since (needs `cycle + level_window`
    steps)."""
    forecast, _insample = _last_year(
        adjusted, np.zeros(0, dtype=np.int64), horizon, 1, level_window, cycle
    )
    return forecast
