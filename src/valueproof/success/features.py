"""Usage features per account, from daily usage and its detected seasonality: what data-driven
segments cluster on and what segment rules can read (`usage.volume`, `usage.growth`, ...).

- volume: mean daily usage over the last year (or all the history there is);
- growth: usage of the last 90 days over the 90 before (1.0 is flat; NaN without 180 days);
- volatility: coefficient of variation of weekly totals (a week's sum has no weekly season left);
- seasonality_strength and seasonal_period: the strongest detected period (0 and NaN if none);
- peak_quarter: the calendar quarter with the highest mean daily usage over the last year, when a
  yearly period was detected (NaN otherwise).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np

from valueproof.success.seasonality import SeasonalityTable
from valueproof.success.series import FloatArray

if TYPE_CHECKING:
    # pandas is imported where the table is built: it takes a second to import, which every
    # module above this one (the CLI among them) would pay at start-up.
    import pandas as pd

__all__ = ["usage_features"]

_YEAR, _QUARTER_DAYS, _GROWTH = 365, 91, 90


def usage_features(
    values: FloatArray, last: date, accounts: list[str], seasonality: SeasonalityTable
) -> pd.DataFrame:
    """One row per account (index: external id) of the features above; `values` is accounts x
    days ending on `last`, each row the account's own history (leading zeros allowed)."""
    import pandas as pd

    rows = values.shape[0]
    width = values.shape[1]
    recent = values[:, -min(_YEAR, width) :]
    volume = recent.mean(axis=1)
    growth = np.full(rows, np.nan)
    if width >= 2 * _GROWTH:
        before = values[:, -2 * _GROWTH : -_GROWTH].sum(axis=1)
        after = values[:, -_GROWTH:].sum(axis=1)
        growth = np.where(before > 0, after / np.where(before > 0, before, 1.0), np.nan)
    weeks = width // 7
    weekly = values[:, width - weeks * 7 :].reshape(rows, weeks, 7).sum(axis=2)
    mean = weekly.mean(axis=1)
    volatility = np.where(mean > 0, weekly.std(axis=1) / np.where(mean > 0, mean, 1.0), np.nan)
    strength = np.where(seasonality.detected, seasonality.strength, 0.0)
    best = strength.argmax(axis=1) if strength.shape[1] else np.zeros(rows, dtype=int)
    top = strength.max(axis=1) if strength.shape[1] else np.zeros(rows)
    periods = np.array([c.period for c in seasonality.candidates] or [np.nan])
    period = np.where(top > 0, periods[best], np.nan)
    yearly = [j for j, c in enumerate(seasonality.candidates) if c.name == "yearly"]
    peak = np.full(rows, np.nan)
    if yearly and width >= _YEAR:
        quarters = _quarters(last, _YEAR)
        year = values[:, -_YEAR:]
        means = np.stack([year[:, quarters == q].mean(axis=1) for q in range(1, 5)], axis=1)
        peak = np.where(seasonality.detected[:, yearly[0]], means.argmax(axis=1) + 1.0, np.nan)
    return pd.DataFrame(
        {
            "volume": volume,
            "growth": growth,
            "volatility": volatility,
            "seasonality_strength": top,
            "seasonal_period": period,
            "peak_quarter": peak,
        },
        index=pd.Index(accounts, name="account"),
    )


def _quarters(last: date, days: int) -> np.ndarray[tuple[int], np.dtype[np.int64]]:
    """The calendar quarter (1..4) of each of the `days` days ending on `last`."""
    first = last - timedelta(days=days - 1)
    return np.array(
        [((first + timedelta(days=i)).month - 1) // 3 + 1 for i in range(days)], dtype=np.int64
    )
