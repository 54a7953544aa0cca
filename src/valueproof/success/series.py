"""Usage series as dense arrays: the granularities, their candidate seasonal periods, the log scale.

Seasonality and baselines work on one row of equally spaced totals per account (accounts x steps);
this module turns sparse daily totals into such rows and says which periods each granularity can
show, and how much history each period needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from valueproof.errors import InvalidInput

__all__ = [
    "CANDIDATES",
    "MIN_CYCLES",
    "Candidate",
    "FloatArray",
    "Granularity",
    "as_matrix",
    "candidates_for",
    "daily_matrix",
    "from_log_scale",
    "hourly_to_daily",
    "to_log_scale",
]

FloatArray = npt.NDArray[np.float64]
Granularity = Literal["hourly", "daily", "monthly"]

# A period is only tested when the history holds this many whole cycles: one cycle cannot tell a
# seasonal shape from a one-off event, and two let the cycles be compared with each other.
MIN_CYCLES: Final = 2


@dataclass(frozen=True, slots=True)
class Candidate:
    """A period a granularity can show: its name and its length in steps (may be fractional).

    `lag` is the whole number of steps one cycle spans, used for the autocorrelation and for the
    history a period needs (`MIN_CYCLES` x `lag`).
    """

    name: str
    period: float

    @property
    def lag(self) -> int:
        return round(self.period)

    @property
    def min_history(self) -> int:
        return MIN_CYCLES * self.lag


# Fractional periods keep the calendar's true lengths: a year is 365.25 days, a month a twelfth of
# that, so the phase does not drift over the years of history.
CANDIDATES: Final[Mapping[Granularity, tuple[Candidate, ...]]] = {
    "hourly": (Candidate("daily", 24.0), Candidate("weekly", 168.0)),
    "daily": (
        Candidate("weekly", 7.0),
        Candidate("monthly", 365.25 / 12),
        Candidate("yearly", 365.25),
    ),
    "monthly": (Candidate("yearly", 12.0),),
}


def candidates_for(granularity: Granularity, steps: int) -> tuple[Candidate, ...]:
    """The candidate periods of `granularity` that `steps` of history are long enough to test."""
    if granularity not in CANDIDATES:
        raise InvalidInput("granularity", f"must be one of {', '.join(CANDIDATES)}")
    return tuple(c for c in CANDIDATES[granularity] if steps >= c.min_history)


def as_matrix(values: npt.ArrayLike) -> FloatArray:
    """`values` as a 2-D float array (accounts x steps); a 1-D series becomes one row.

    Usage totals are counts: negative or non-finite values are a caller's bug, so they raise.
    """
    matrix = np.asarray(values, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2:
        raise InvalidInput("values", "must be a series or a matrix of accounts x steps")
    if not np.isfinite(matrix).all():
        raise InvalidInput("values", "must be finite (fill missing steps with 0)")
    if (matrix < 0).any():
        raise InvalidInput("values", "usage totals must not be negative")
    return matrix


def to_log_scale(values: FloatArray) -> FloatArray:
    """log(1 + usage): seasonality in usage is multiplicative (a Monday is 20% busier, not +20)."""
    return np.log1p(values)


def from_log_scale(values: FloatArray) -> FloatArray:
    """The inverse of `to_log_scale`, floored at zero usage."""
    return np.maximum(np.expm1(values), 0.0)


def daily_matrix(
    totals: Mapping[str, Mapping[date, float]], start: date, end: date
) -> tuple[list[str], FloatArray]:
    """Accounts' sparse daily totals as a dense matrix over [start, end): days without usage are 0.

    Returns the account ids in row order and the matrix (accounts x days).
    """
    days = (end - start).days
    if days < 1:
        raise InvalidInput("end", "must be after start")
    accounts = sorted(totals)
    matrix = np.zeros((len(accounts), days), dtype=np.float64)
    for row, account in enumerate(accounts):
        for day, total in totals[account].items():
            offset = (day - start).days
            if 0 <= offset < days:
                matrix[row, offset] += float(total)
    return accounts, matrix


def hourly_to_daily(hourly: npt.ArrayLike, hours_per_day: int = 24) -> FloatArray:
    """Sum whole days of hourly totals (along the last axis); a trailing partial day is dropped."""
    values = np.asarray(hourly, dtype=np.float64)
    whole = (values.shape[-1] // hours_per_day) * hours_per_day
    shaped = values[..., :whole].reshape(*values.shape[:-1], -1, hours_per_day)
    return np.asarray(shaped.sum(axis=-1), dtype=np.float64)
