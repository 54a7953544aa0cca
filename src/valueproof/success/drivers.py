"""Purchase drivers: how much of an account's daily usage the vendor-supplied driver series (the
customer's own order volume, shipments, web traffic...) explain.

Usage is regressed on the drivers by OLS (statsmodels), in levels or, with `log_scale`, in
log(1 + x) so that coefficients are elasticities. R² is split over the drivers by the LMG
(Shapley) decomposition, exact over every subset of drivers: each driver's share is its average
gain in R² over all orders of entry, so the shares are never negative and add up to R² whatever
the correlation between drivers; drop-one ΔR² would leave shared variance unassigned. Seasonality
is not modelled here: pass the account's seasonal norm as one more driver to weigh it too.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from valueproof.success.errors import DriverInputInvalid

__all__ = [
    "MAX_DRIVERS",
    "MIN_POINTS",
    "DriverAnalysis",
    "DriverEffect",
    "explain_usage",
]

MAX_DRIVERS = 8  # the exact decomposition fits 2^p regressions
MIN_POINTS = 10  # complete days, and at least 5 more than there are drivers

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DriverEffect:
    """One driver: its share of usage variance (LMG), the effect of one more unit, and the
    elasticity (% usage per % driver; at the means in levels, the coefficient itself in logs)."""

    name: str
    share: float  # of the variance of usage; the drivers' shares sum to R²
    share_of_explained: float  # share / R²
    coefficient: float
    ci_low: float
    ci_high: float
    p_value: float
    elasticity: float | None  # None in levels when mean usage is 0


@dataclass(frozen=True, slots=True)
class DriverAnalysis:
    """What the drivers explain of an account's usage, and a sentence that says it."""

    r_squared: float
    adjusted_r_squared: float
    observations: int  # days with usage and every driver present
    dropped: int  # days left out for a gap in usage or a driver
    log_scale: bool
    confidence: float
    drivers: tuple[DriverEffect, ...]  # largest share first
    summary: str


def explain_usage(
    usage: npt.ArrayLike,
    drivers: Mapping[str, npt.ArrayLike],
    *,
    log_scale: bool = False,
    confidence: float = 0.95,
) -> DriverAnalysis:
    """Regress daily usage on the driver series (same days; NaN for a gap) and decompose R²."""
    y, x, names, dropped = _complete_rows(usage, drivers, log_scale)
    if not 0 < confidence < 1:
        raise DriverInputInvalid("confidence", "must be between 0 and 1 (0.95 for 95%)")
    # Imported here: statsmodels takes a second or more to import, which every module that
    # imports this one (the CLI's `success` group among them) would pay at start-up.
    from statsmodels.regression.linear_model import OLS  # type: ignore[import-untyped]

    fit = OLS(y, np.column_stack([np.ones(len(y)), x])).fit()
    r_squared = float(fit.rsquared)
    shares = _lmg(x, y)
    bounds = np.asarray(fit.conf_int(alpha=1 - confidence))
    params, pvalues = np.asarray(fit.params), np.asarray(fit.pvalues)
    effects = []
    for j, name in enumerate(names):
        coefficient = float(params[j + 1])
        elasticity: float | None = coefficient
        if not log_scale:
            mean_y = float(y.mean())
            elasticity = coefficient * float(x[:, j].mean()) / mean_y if mean_y else None
        effects.append(
            DriverEffect(
                name=name,
                share=float(shares[j]),
                share_of_explained=float(shares[j] / r_squared) if r_squared > 0 else 0.0,
                coefficient=coefficient,
                ci_low=float(bounds[j + 1, 0]),
                ci_high=float(bounds[j + 1, 1]),
                p_value=float(pvalues[j + 1]),
                elasticity=elasticity,
            )
        )
    effects.sort(key=lambda e: (-e.share, e.name))
    return DriverAnalysis(
        r_squared=r_squared,
        adjusted_r_squared=float(fit.rsquared_adj),
        observations=len(y),
        dropped=dropped,
        log_scale=log_scale,
        confidence=confidence,
        drivers=tuple(effects),
        summary=_summary(effects, r_squared),
    )


def _complete_rows(
    usage: npt.ArrayLike, drivers: Mapping[str, npt.ArrayLike], log_scale: bool
) -> tuple[Floats, Floats, list[str], int]:
    """Usage and the driver matrix on the days where all are present, checked and transformed."""
    y = _series(usage, "usage")
    if not drivers:
        raise DriverInputInvalid("drivers", "give at least one driver series")
    if len(drivers) > MAX_DRIVERS:
        raise DriverInputInvalid("drivers", f"at most {MAX_DRIVERS} drivers, not {len(drivers)}")
    names = list(drivers)
    columns = []
    for name in names:
        column = _series(drivers[name], f"drivers.{name}")
        if len(column) != len(y):
            raise DriverInputInvalid(
                f"drivers.{name}", f"has {len(column)} values; usage has {len(y)} (same days)"
            )
        columns.append(column)
    x = np.column_stack(columns)
    keep = ~np.isnan(y) & ~np.isnan(x).any(axis=1)
    y, x = y[keep], x[keep]
    needed = max(MIN_POINTS, len(names) + 5)
    if len(y) < needed:
        raise DriverInputInvalid(
            "usage", f"{len(y)} days with usage and every driver present; at least {needed}"
        )
    if log_scale:
        for field, values in [
            ("usage", y),
            *((f"drivers.{n}", x[:, j]) for j, n in enumerate(names)),
        ]:
            if (values < 0).any():
                raise DriverInputInvalid(field, "has negative values; a log scale needs ≥ 0")
        y, x = np.log1p(y), np.log1p(x)
    if np.ptp(y) == 0:
        raise DriverInputInvalid("usage", "is constant over the days used: nothing to explain")
    _check_columns(x, names)
    return y, x, names, int((~keep).sum())


def _series(values: npt.ArrayLike, field: str) -> Floats:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DriverInputInvalid(field, "must be a sequence of numbers (NaN for a gap)") from None
    if array.ndim != 1:
        raise DriverInputInvalid(field, "must be one value per day")
    if np.isinf(array).any():
        raise DriverInputInvalid(field, "has an infinite value")
    return array


def _check_columns(x: Floats, names: list[str]) -> None:
    centred = x - x.mean(axis=0)
    scale = np.abs(centred).max(axis=0)
    for j, name in enumerate(names):
        if scale[j] == 0:
            raise DriverInputInvalid(
                f"drivers.{name}", "is constant over the days used; it cannot explain anything"
            )
    # A driver that is a linear combination of earlier ones has no effect of its own to report.
    unit = centred / scale
    for j, name in enumerate(names[1:], start=1):
        if np.linalg.matrix_rank(unit[:, : j + 1]) <= j:
            earlier = ", ".join(names[:j])
            raise DriverInputInvalid(
                f"drivers.{name}", f"is a linear combination of {earlier}; drop one of them"
            )


def _lmg(x: Floats, y: Floats) -> Floats:
    """Each driver's Shapley share of R² over all 2^p subsets (Lindeman, Merenda, Gold 1980)."""
    p = x.shape[1]
    xc, yc = x - x.mean(axis=0), y - y.mean()
    gram, cross, total = xc.T @ xc, xc.T @ yc, float(yc @ yc)
    r2 = {}
    for size in range(p + 1):
        for subset in itertools.combinations(range(p), size):
            if not subset:
                r2[subset] = 0.0
                continue
            s = list(subset)
            beta = np.linalg.lstsq(gram[np.ix_(s, s)], cross[s], rcond=None)[0]
            r2[subset] = float(cross[s] @ beta) / total
    shares = np.zeros(p)
    for j in range(p):
        others = [i for i in range(p) if i != j]
        for size in range(p):
            weight = math.factorial(size) * math.factorial(p - size - 1) / math.factorial(p)
            for subset in itertools.combinations(others, size):
                with_j = tuple(sorted((*subset, j)))
                shares[j] += weight * (r2[with_j] - r2[subset])
    return np.clip(shares, 0.0, None)


def _summary(effects: list[DriverEffect], r_squared: float) -> str:
    """'order volume explains 72% of the day-to-day variation in usage; 28% is unexplained'."""
    parts = [f"{e.name.replace('_', ' ')} explains {e.share:.0%}" for e in effects]
    head = parts[0] + " of the day-to-day variation in usage"
    rest = "".join(f", {part}" for part in parts[1:])
    return f"{head}{rest}; {max(0.0, 1 - r_squared):.0%} is unexplained"
