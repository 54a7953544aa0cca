"""Which seasonal periods each account's usage shows, and how strong each is: a batched core.

The method (docs/success.md, "Seasonality and the seasonal baseline"): on the log1p scale, split
every series into a local-linear trend, one Fourier seasonal component per candidate period and
a remainder, by alternating the two fits (backfitting, as MSTL does with loess). A candidate is
detected when its seasonal strength F = max(0, 1 - Var(R) / Var(S + R)) (Wang, Smith & Hyndman
2006), the autocorrelation of S + R at one cycle's lag, and how far that autocorrelation stands
above its value a quarter-cycle either side, all clear their thresholds, and the component swings
by at least `min_amplitude` (a swing of a few percent changes no alert). Every step
is a matrix operation over accounts x steps, so ten thousand accounts cost about as much as a few
per-account statsmodels fits; `reference.py` holds the per-account statsmodels MSTL it is
checked against.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from valueproof.errors import InvalidInput
from valueproof.success.series import (
    Candidate,
    FloatArray,
    Granularity,
    as_matrix,
    candidates_for,
    to_log_scale,
)

__all__ = [
    "Decomposition",
    "DetectionRule",
    "PeriodStrength",
    "Seasonality",
    "SeasonalityTable",
    "decompose",
    "detect_seasonality",
    "detect_seasonality_batch",
    "fourier_basis",
]

# Rows decomposed at once: bounds peak memory to a few arrays of this many accounts.
_CHUNK_ROWS: Final = 2048


@dataclass(frozen=True, slots=True)
class DetectionRule:
    """When a candidate period counts as detected, and how the series are prepared.

    `min_strength` bounds Hyndman's seasonal strength F; `min_autocorrelation` bounds the
    autocorrelation at one cycle's lag of the series without its trend and other periods;
    `min_peak` bounds how far that autocorrelation exceeds the larger of its values a quarter
    cycle earlier and later. A shape fitted to noise has a small F; one fitted to a slow wander
    can have a large F but no cycle-to-cycle agreement (low lag autocorrelation), or agreement
    that is as high at neighbouring lags (no peak). `min_amplitude` bounds the component's swing
    (its 5th to 95th percentile, on the fit scale: 0.03 is about 3% of usage on the log scale):
    a smooth, noise-free series (a population count, seats held) has a large F for any wrinkle
    its trend leaves, but a swing that small is no season a CSM could act on, and it would
    only narrow a band that the baseline's minimum width keeps anyway. `max_harmonics` caps the
    Fourier terms per period (12 yearly harmonics resolve features about a fortnight wide);
    `iterations` is the number of trend/seasonal backfitting rounds.
    """

    min_strength: float = 0.3
    min_autocorrelation: float = 0.15
    min_peak: float = 0.1
    min_amplitude: float = 0.03
    max_harmonics: int = 12
    log_scale: bool = True
    iterations: int = 3

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_strength <= 1.0:
            raise InvalidInput("min_strength", "must be between 0 and 1")
        if not -1.0 <= self.min_autocorrelation <= 1.0:
            raise InvalidInput("min_autocorrelation", "must be between -1 and 1")
        if not -2.0 <= self.min_peak <= 2.0:
            raise InvalidInput("min_peak", "must be between -2 and 2")
        if self.min_amplitude < 0.0:
            raise InvalidInput("min_amplitude", "must not be negative")
        if self.max_harmonics < 1:
            raise InvalidInput("max_harmonics", "must be at least 1")
        if self.iterations < 1:
            raise InvalidInput("iterations", "must be at least 1")


@dataclass(frozen=True, slots=True)
class PeriodStrength:
    """One candidate period of one account: strength, lag autocorrelation, peak, swing, verdict."""

    name: str
    period: float
    strength: float
    autocorrelation: float
    peak: float
    detected: bool
    amplitude: float = 0.0


@dataclass(frozen=True, slots=True)
class Seasonality:
    """One account's tested candidate periods (only those its history is long enough for)."""

    granularity: Granularity
    periods: tuple[PeriodStrength, ...]

    @property
    def detected(self) -> tuple[PeriodStrength, ...]:
        """The periods that passed both thresholds, shortest first."""
        return tuple(p for p in self.periods if p.detected)

    @property
    def detected_periods(self) -> tuple[float, ...]:
        return tuple(p.period for p in self.detected)

    def json(self) -> list[dict[str, Any]]:
        """The tested periods as profiles store and show them (figures to 4 places)."""
        return [
            {
                "name": p.name,
                "period": p.period,
                "strength": round(p.strength, 4),
                "amplitude": round(p.amplitude, 4),
                "detected": p.detected,
            }
            for p in self.periods
        ]


@dataclass(frozen=True, slots=True)
class SeasonalityTable:
    """Seasonality of many accounts: one row per account, one column per tested candidate."""

    granularity: Granularity
    candidates: tuple[Candidate, ...]
    strength: FloatArray  # accounts x candidates, in [0, 1]
    autocorrelation: FloatArray  # accounts x candidates, in [-1, 1]
    peak: FloatArray  # accounts x candidates, in [-2, 2]
    detected: npt.NDArray[np.bool_]  # accounts x candidates
    amplitude: FloatArray | None = None  # accounts x candidates: 5th-95th percentile swing

    def __len__(self) -> int:
        return int(self.strength.shape[0])

    def account(self, row: int) -> Seasonality:
        """Row `row` as one account's `Seasonality`."""
        return Seasonality(
            granularity=self.granularity,
            periods=tuple(
                PeriodStrength(
                    name=c.name,
                    period=c.period,
                    strength=float(self.strength[row, j]),
                    autocorrelation=float(self.autocorrelation[row, j]),
                    peak=float(self.peak[row, j]),
                    detected=bool(self.detected[row, j]),
                    amplitude=0.0 if self.amplitude is None else float(self.amplitude[row, j]),
                )
                for j, c in enumerate(self.candidates)
            ),
        )


@dataclass(frozen=True, slots=True)
class Decomposition:
    """Series split as y = trend + Σ seasonal + remainder, the seasonal parts as Fourier fits.

    `basis` (steps x terms) holds the Fourier columns and `columns[j]` the slice of them that
    belongs to `periods[j]`; `coefficients` (accounts x terms) weight them, so component j is
    `coefficients[:, columns[j]] @ basis[:, columns[j]].T` and extends to any step.
    """

    periods: tuple[float, ...]
    trend: FloatArray
    coefficients: FloatArray
    basis: FloatArray
    columns: tuple[slice, ...]
    remainder: FloatArray

    def seasonal(self, index: int | None = None) -> FloatArray:
        """Component `index` (accounts x steps), or the sum of all of them when None."""
        cols = slice(None) if index is None else self.columns[index]
        return np.asarray(self.coefficients[:, cols] @ self.basis[:, cols].T, dtype=np.float64)


def harmonics(period: float, smaller: Sequence[float], max_harmonics: int) -> list[int]:
    """The Fourier harmonics that describe one cycle of `period` in a fit with `smaller` periods.

    At most `max_harmonics`, and below the Nyquist limit (period / 2). A harmonic whose frequency
    is one a smaller period already owns (the weekly 7th harmonic is the daily 1st; the yearly
    12th is the monthly 1st) is left to that period, so the fit stays identifiable.
    """
    top = min(max_harmonics, math.floor(period / 2))
    kept = []
    for k in range(1, top + 1):
        frequency = k / period
        owned = any(
            math.isclose(frequency * p, round(frequency * p), abs_tol=1e-9)
            and round(frequency * p) >= 1
            for p in smaller
        )
        if not owned:
            kept.append(k)
    return kept


def fourier_basis(
    steps: npt.ArrayLike, periods: Sequence[float], max_harmonics: int
) -> tuple[FloatArray, tuple[slice, ...]]:
    """cos/sin columns for each period's harmonics at time `steps`, and each period's columns.

    Periods are taken shortest first for deciding which harmonics a longer period leaves to a
    shorter one; the columns come back in the order `periods` was given.
    """
    t = np.asarray(steps, dtype=np.float64)
    blocks: list[FloatArray] = []
    columns: list[slice] = []
    start = 0
    for period in periods:
        smaller = [p for p in periods if p < period]
        block = []
        for k in harmonics(period, smaller, max_harmonics):
            angle = (2.0 * math.pi * k / period) * t
            block.append(np.cos(angle))
            # at the Nyquist harmonic the sine is zero at every whole step: not a column
            if 2 * k != period:
                block.append(np.sin(angle))
        blocks.append(np.stack(block, axis=1) if block else np.zeros((len(t), 0)))
        columns.append(slice(start, start + len(block)))
        start += len(block)
    basis = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(t), 0))
    return np.asarray(basis, dtype=np.float64), tuple(columns)


def local_linear_trend(values: FloatArray, half_width: int) -> FloatArray:
    """Each row's least-squares line over the window t ± half_width (clipped), evaluated at t.

    Running sums make it O(steps) per row whatever the width, and unlike a moving average it
    follows a steady growth right up to both ends of the series.
    """
    rows, steps = values.shape
    u = np.linspace(0.0, 1.0, steps) if steps > 1 else np.zeros(1)
    t = np.arange(steps)
    lo, hi = np.maximum(t - half_width, 0), np.minimum(t + half_width, steps - 1) + 1
    zero = np.zeros((rows, 1))
    cum_y = np.concatenate([zero, np.cumsum(values, axis=1)], axis=1)
    cum_uy = np.concatenate([zero, np.cumsum(values * u, axis=1)], axis=1)
    cum_u, cum_uu = np.concatenate([[0.0], np.cumsum(u)]), np.concatenate([[0.0], np.cumsum(u * u)])
    n = (hi - lo).astype(np.float64)
    s_u, s_uu = cum_u[hi] - cum_u[lo], cum_uu[hi] - cum_uu[lo]
    s_y, s_uy = cum_y[:, hi] - cum_y[:, lo], cum_uy[:, hi] - cum_uy[:, lo]
    spread = n * s_uu - s_u * s_u
    safe = np.where(spread > 1e-12, spread, 1.0)
    slope = np.where(spread > 1e-12, (n * s_uy - s_u * s_y) / safe, 0.0)
    return np.asarray((s_y - slope * s_u) / n + slope * u, dtype=np.float64)


def trend_half_width(periods: Sequence[float]) -> int:
    """Half the trend window: 0.75 of the longest period, so the trend is smoother than a cycle."""
    return max(1, math.ceil(0.75 * max(periods)))


def decompose(
    values: FloatArray, periods: Sequence[float], rule: DetectionRule = DetectionRule()
) -> Decomposition:
    """Backfit trend and Fourier seasonal components to each row of `values` (already scaled).

    Each round fits all periods' Fourier terms jointly to the detrended rows (one least-squares
    projection shared by every account), then refits the trend to the deseasonalised rows.
    Every step is linear in the series, so for series up to `_OPERATOR_MAX_STEPS` long the
    rounds are run once on the identity matrix and cached: each account then costs two matrix
    products (the same numbers, without repeating the rounds for every batch).
    """
    steps = values.shape[1]
    key = (steps, tuple(periods), rule.max_harmonics, rule.iterations)
    if steps <= _OPERATOR_MAX_STEPS:
        basis, columns, to_coefficients, to_remainder = _operators(*key)
        coefficients = values @ to_coefficients
        remainder = values @ to_remainder
        trend = values - coefficients @ basis.T - remainder
    else:
        basis, columns, projection = _design(steps, tuple(periods), rule.max_harmonics)
        trend, coefficients, remainder = _backfit(values, periods, basis, projection, rule)
    return Decomposition(
        periods=tuple(periods),
        trend=np.asarray(trend, dtype=np.float64),
        coefficients=np.asarray(coefficients, dtype=np.float64),
        basis=basis,
        columns=columns,
        remainder=np.asarray(remainder, dtype=np.float64),
    )


# Longest series whose decomposition is cached as steps x steps operators (1,500 steps: 18 MB
# each, at most 8 kept): four years of days fit; longer hourly series take the rounds instead.
_OPERATOR_MAX_STEPS: Final = 1500


def _backfit(
    values: FloatArray,
    periods: Sequence[float],
    basis: FloatArray,
    projection: FloatArray,
    rule: DetectionRule,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Trend, Fourier coefficients and remainder of each row, by `rule.iterations` rounds."""
    half = trend_half_width(periods) if periods else values.shape[1]
    trend = local_linear_trend(values, half)
    coefficients = np.zeros((values.shape[0], basis.shape[1]))
    for _round in range(rule.iterations):
        coefficients = (values - trend) @ projection.T
        trend = local_linear_trend(values - coefficients @ basis.T, half)
    remainder = values - trend - coefficients @ basis.T
    return trend, np.asarray(coefficients, dtype=np.float64), np.asarray(remainder)


@lru_cache(maxsize=64)
def _design(
    steps: int, periods: tuple[float, ...], max_harmonics: int
) -> tuple[FloatArray, tuple[slice, ...], FloatArray]:
    # Cached: a single account's refresh reuses the basis and its pseudo-inverse; the arrays
    # are made read-only so no caller can change the cache.
    basis, columns = fourier_basis(np.arange(steps), periods, max_harmonics)
    projection = np.asarray(np.linalg.pinv(basis), dtype=np.float64)  # terms x steps, shared
    basis.flags.writeable = False
    projection.flags.writeable = False
    return basis, columns, projection


@lru_cache(maxsize=8)
def _operators(
    steps: int, periods: tuple[float, ...], max_harmonics: int, iterations: int
) -> tuple[FloatArray, tuple[slice, ...], FloatArray, FloatArray]:
    """The backfit as matrices: row i is what a unit spike at step i contributes to each output."""
    basis, columns, projection = _design(steps, periods, max_harmonics)
    rule = DetectionRule(max_harmonics=max_harmonics, iterations=iterations)
    _trend, to_coefficients, to_remainder = _backfit(
        np.eye(steps), periods, basis, projection, rule
    )
    to_coefficients.flags.writeable = False
    to_remainder.flags.writeable = False
    return basis, columns, to_coefficients, to_remainder


def seasonal_strength(seasonal: FloatArray, remainder: FloatArray) -> FloatArray:
    """Hyndman's F = max(0, 1 - Var(R) / Var(S + R)) per row; 0 where S + R is constant."""
    total = np.var(seasonal + remainder, axis=1)
    rest = np.var(remainder, axis=1)
    safe = np.where(total > 1e-12, total, 1.0)
    return np.where(total > 1e-12, np.clip(1.0 - rest / safe, 0.0, 1.0), 0.0)


def lag_autocorrelation(values: FloatArray, lag: int) -> FloatArray:
    """Each row's sample autocorrelation at `lag` (the usual biased estimator, as in ACF plots)."""
    centred = values - values.mean(axis=1, keepdims=True)
    denominator = np.einsum("ij,ij->i", centred, centred)
    numerator = np.einsum("ij,ij->i", centred[:, lag:], centred[:, :-lag])
    safe = np.where(denominator > 1e-12, denominator, 1.0)
    return np.where(denominator > 1e-12, numerator / safe, 0.0)


def peak_width(lag: int) -> int:
    """How far either side of a cycle's lag its autocorrelation is compared: a quarter cycle."""
    return max(1, round(lag / 4))


def _table_rows(
    scaled: FloatArray, candidates: tuple[Candidate, ...], rule: DetectionRule
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    found = decompose(scaled, [c.period for c in candidates], rule)
    strength = np.zeros((scaled.shape[0], len(candidates)))
    autocorrelation, peak = np.zeros_like(strength), np.zeros_like(strength)
    amplitude = np.zeros_like(strength)
    for j, candidate in enumerate(candidates):
        component = found.seasonal(j)
        low, high = np.quantile(component, [0.05, 0.95], axis=1)
        amplitude[:, j] = high - low
        own = component + found.remainder  # the series without its trend and other periods
        lag, width = candidate.lag, peak_width(candidate.lag)
        strength[:, j] = seasonal_strength(component, found.remainder)
        autocorrelation[:, j] = lag_autocorrelation(own, lag)
        beside = np.maximum(
            lag_autocorrelation(own, lag - width), lag_autocorrelation(own, lag + width)
        )
        peak[:, j] = autocorrelation[:, j] - beside
    return strength, autocorrelation, peak, amplitude


def detect_seasonality_batch(
    values: npt.ArrayLike, granularity: Granularity = "daily", rule: DetectionRule = DetectionRule()
) -> SeasonalityTable:
    """Detect the candidate periods of `granularity` in every row of `values` (accounts x steps).

    Only candidates with `MIN_CYCLES` whole cycles of history are tested; the table's columns
    are those candidates, shortest first.
    """
    matrix = as_matrix(values)
    candidates = candidates_for(granularity, matrix.shape[1])
    rows = matrix.shape[0]
    strength = np.zeros((rows, len(candidates)))
    autocorrelation = np.zeros((rows, len(candidates)))
    peak = np.zeros((rows, len(candidates)))
    amplitude = np.zeros((rows, len(candidates)))
    if candidates:
        for start in range(0, rows, _CHUNK_ROWS):
            chunk = matrix[start : start + _CHUNK_ROWS]
            scaled = to_log_scale(chunk) if rule.log_scale else chunk
            done = slice(start, start + len(chunk))
            found = _table_rows(scaled, candidates, rule)
            strength[done], autocorrelation[done], peak[done], amplitude[done] = found
    detected = (
        (strength >= rule.min_strength)
        & (autocorrelation >= rule.min_autocorrelation)
        & (peak >= rule.min_peak)
        & (amplitude >= rule.min_amplitude)
    )
    return SeasonalityTable(
        granularity=granularity,
        candidates=candidates,
        strength=strength,
        autocorrelation=autocorrelation,
        peak=peak,
        detected=detected,
        amplitude=amplitude,
    )


def detect_seasonality(
    values: npt.ArrayLike, granularity: Granularity = "daily", rule: DetectionRule = DetectionRule()
) -> Seasonality:
    """Detect the candidate periods of `granularity` in one account's series of totals."""
    series = np.asarray(values, dtype=np.float64)
    if series.ndim != 1:
        raise InvalidInput("values", "must be one series; use detect_seasonality_batch for many")
    return detect_seasonality_batch(series, granularity, rule).account(0)
