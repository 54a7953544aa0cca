"""Per-account statsmodels implementations that the batched fast paths are checked against.

`reference_seasonality` decomposes one series with MSTL (loess-based STL per period, Bandara,
Hyndman & Bergmeir 2021) and applies the same strength, autocorrelation and peak thresholds as
`seasonality.detect_seasonality`; `reference_baseline` forecasts the MSTL-adjusted series with
an ETS model (additive error, damped additive trend) and adds each seasonal component's last
cycle. They are the straightforward loop the benchmark compares with, not the product path.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from statsmodels.tools.sm_exceptions import ConvergenceWarning  # type: ignore[import-untyped]
from statsmodels.tsa.exponential_smoothing.ets import ETSModel  # type: ignore[import-untyped]
from statsmodels.tsa.seasonal import MSTL  # type: ignore[import-untyped]
from statsmodels.tsa.stattools import acf  # type: ignore[import-untyped]

from valueproof.errors import InvalidInput
from valueproof.success.baseline import Forecast
from valueproof.success.seasonality import (
    DetectionRule,
    PeriodStrength,
    Seasonality,
    peak_width,
)
from valueproof.success.series import (
    FloatArray,
    Granularity,
    candidates_for,
    from_log_scale,
    to_log_scale,
)

__all__ = ["mstl_components", "reference_baseline", "reference_seasonality"]


def mstl_components(scaled: FloatArray, lags: Sequence[int]) -> tuple[FloatArray, FloatArray]:
    """MSTL of one (already scaled) series: seasonal components (periods x steps) and remainder.

    MSTL fits a period only when the series is longer than two of its cycles, one step more
    than the fast path asks for, so compare the two on at least 2 x lag + 1 steps.
    """
    if any(len(scaled) <= 2 * lag for lag in lags):
        raise InvalidInput("values", "MSTL needs more than two cycles of every period")
    # Seasonal windows wider than the number of cycles, smoothed with local means, make each
    # component one fixed shape (R's s.window = "periodic"), the model the fast path fits;
    # MSTL's narrow default windows and local lines let components chase day-to-day noise,
    # which drives every strength towards 1.
    windows = [2 * (len(scaled) // lag) + 1 for lag in lags]
    stl = {"seasonal_deg": 0}
    result = MSTL(scaled, periods=list(lags), windows=windows, stl_kwargs=stl).fit()
    seasonal = np.asarray(result.seasonal, dtype=np.float64).reshape(len(scaled), -1).T
    return seasonal, np.asarray(result.resid, dtype=np.float64)


def _strength(seasonal: FloatArray, remainder: FloatArray) -> float:
    total = float(np.var(seasonal + remainder))
    if total <= 1e-12:
        return 0.0
    return max(0.0, 1.0 - float(np.var(remainder)) / total)


def reference_seasonality(
    values: npt.ArrayLike, granularity: Granularity = "daily", rule: DetectionRule = DetectionRule()
) -> Seasonality:
    """One account's seasonality from statsmodels MSTL, with the fast path's thresholds."""
    series = np.asarray(values, dtype=np.float64)
    if series.ndim != 1:
        raise InvalidInput("values", "must be one series")
    scaled = to_log_scale(series) if rule.log_scale else series
    candidates = candidates_for(granularity, len(series))
    if not candidates:
        return Seasonality(granularity=granularity, periods=())
    seasonal, remainder = mstl_components(scaled, [c.lag for c in candidates])
    found = []
    for j, candidate in enumerate(candidates):
        own = seasonal[j] + remainder
        lag, width = candidate.lag, peak_width(candidate.lag)
        correlations = acf(own, nlags=lag + width, fft=True)
        at_lag = float(correlations[lag])
        peak = at_lag - max(float(correlations[lag - width]), float(correlations[lag + width]))
        strength = _strength(seasonal[j], remainder)
        low, high = np.quantile(seasonal[j], [0.05, 0.95])
        amplitude = float(high - low)
        found.append(
            PeriodStrength(
                name=candidate.name,
                period=candidate.period,
                strength=strength,
                autocorrelation=at_lag,
                peak=peak,
                detected=strength >= rule.min_strength
                and at_lag >= rule.min_autocorrelation
                and peak >= rule.min_peak
                and amplitude >= rule.min_amplitude,
                amplitude=amplitude,
            )
        )
    return Seasonality(granularity=granularity, periods=tuple(found))


def reference_baseline(
    history: npt.ArrayLike, horizon: int, lags: Sequence[int], coverage: float = 0.95
) -> Forecast:
    """One account's baseline: ETS on the MSTL-adjusted log1p series plus seasonal-naive cycles."""
    series = np.asarray(history, dtype=np.float64)
    scaled = to_log_scale(series)
    seasonal_future = np.zeros(horizon)
    adjusted = scaled
    if lags:
        seasonal, _remainder = mstl_components(scaled, lags)
        adjusted = scaled - seasonal.sum(axis=0)
        for component, lag in zip(seasonal, lags, strict=True):
            last_cycle = component[-lag:]
            seasonal_future += np.resize(last_cycle, horizon)
    model = ETSModel(pd.Series(adjusted), error="add", trend="add", damped_trend=True)
    with warnings.catch_warnings():
        # the optimiser's own convergence notes are not the comparison's concern
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = model.fit(disp=False)
    frame = fitted.get_prediction(start=len(adjusted), end=len(adjusted) + horizon - 1)
    table = frame.summary_frame(alpha=1.0 - coverage)
    point = np.asarray(table["mean"], dtype=np.float64) + seasonal_future
    low = np.asarray(table["pi_lower"], dtype=np.float64) + seasonal_future
    high = np.asarray(table["pi_upper"], dtype=np.float64) + seasonal_future
    return Forecast(
        expected=from_log_scale(point)[None, :],
        lower=from_log_scale(low)[None, :],
        upper=from_log_scale(high)[None, :],
    )
