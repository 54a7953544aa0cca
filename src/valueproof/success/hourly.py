"""An account's hour-of-day and day-of-week cycles, read on demand from the hourly rollups.

The refresh works on days; a meter whose events carry their hour also has a daily cycle (24
hours) and a weekly one (168 hours), which say when a customer's people use the product: when a
CSM can reach them, when a maintenance window hurts least. This reads the last `weeks` weeks of
one account's hourly totals per additive meter and tests both periods with the same detector as
the days (`seasonality.detect_seasonality`, granularity "hourly"), from the account's first use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
from sqlalchemy import Connection

from valueproof.errors import InvalidInput
from valueproof.metering.registry import load_catalog
from valueproof.success.daily import DAILY, bucket_totals
from valueproof.success.seasonality import detect_seasonality
from valueproof.success.series import CANDIDATES

__all__ = ["HOURLY_WEEKS", "hourly_profiles"]

HOURLY_WEEKS: Final = 8
_HOUR_SECONDS: Final = 3600


def hourly_profiles(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    now: datetime,
    weeks: int = HOURLY_WEEKS,
) -> list[dict[str, Any]]:
    """Per additive meter the account used: its hourly periods with their strength, the busiest
    and quietest hour of the day (UTC), or why there is too little history to tell."""
    if not 1 <= weeks <= 52:
        raise InvalidInput("weeks", "must be between 1 and 52")
    end_hour = int(now.astimezone(UTC).timestamp()) // _HOUR_SECONDS  # the current, partial hour
    start_hour = end_hour - weeks * 168
    catalog = load_catalog(connection, tenant_id)
    found = []
    for key in sorted(catalog.meters_by_key):
        compiled = catalog.meters_by_key[key]
        if compiled.meter.aggregation not in DAILY:
            continue
        values = bucket_totals(
            connection, tenant_id, compiled, start_hour, weeks * 168, 1, (account_id,)
        )[0]
        used = np.flatnonzero(values > 0)
        if len(used) == 0:
            continue
        # from the first hour used: the hours before it would read as a deep trough
        own = values[int(used[0]) :]
        found.append(_profile(key, own, start_hour + int(used[0])))
    return found


def _profile(meter: str, values: np.ndarray, first_hour: int) -> dict[str, Any]:
    hours = len(values)
    need = min(c.min_history for c in CANDIDATES["hourly"])
    document: dict[str, Any] = {"meter": meter, "hours": hours, "granularity": "hourly"}
    if hours < need:
        document["periods"] = []
        document["reason"] = f"{hours} hours of usage history; the daily cycle needs {need}"
        return document
    seasonality = detect_seasonality(values, "hourly")
    document["periods"] = seasonality.json()
    # the typical day: mean usage by hour of day (UTC) over the whole days held
    by_hour = np.zeros(24)
    counts = np.zeros(24)
    hour_of_day = (first_hour + np.arange(hours)) % 24
    np.add.at(by_hour, hour_of_day, values)
    np.add.at(counts, hour_of_day, 1)
    typical = by_hour / np.maximum(counts, 1)
    document["typical_day"] = typical.round(4).tolist()
    document["busiest_hour_utc"] = int(np.argmax(typical))
    document["quietest_hour_utc"] = int(np.argmin(typical))
    return document
