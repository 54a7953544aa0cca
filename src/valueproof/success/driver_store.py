"""Purchase drivers of one account against the store: its daily usage of a meter regressed on the
driver series the vendor supplied for it (success.drivers), over the days the drivers cover."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Connection

from valueproof.errors import InvalidInput
from valueproof.metering.registry import load_catalog
from valueproof.success.daily import DAILY, daily_usage
from valueproof.success.drivers import DriverAnalysis, explain_usage
from valueproof.success.engagements import driver_series

__all__ = ["analyse_drivers", "analysis_json"]


def analyse_drivers(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    meter: str,
    log_scale: bool = False,
) -> DriverAnalysis:
    """How much of the account's daily `meter` usage each of its driver series explains."""
    compiled = load_catalog(connection, tenant_id).meters_by_key.get(meter)
    if compiled is None or compiled.meter.aggregation not in DAILY:
        raise InvalidInput("meter", f"no meter {meter!r} with daily totals")
    series = driver_series(connection, tenant_id, account_id)
    if not series:
        raise InvalidInput("drivers", "this account has no driver series: upload one first")
    days = sorted({day for points in series.values() for day in points})
    first, last = days[0], days[-1]
    usage = daily_usage(connection, tenant_id, compiled, first, last, [account_id])
    calendar = usage.days
    drivers = {
        name: np.array([points.get(day, np.nan) for day in calendar])
        for name, points in series.items()
    }
    return explain_usage(usage.values[0], drivers, log_scale=log_scale)


def analysis_json(found: DriverAnalysis) -> dict[str, Any]:
    """A driver analysis as the API and `--json` print it."""
    return {
        "summary": found.summary,
        "r_squared": round(found.r_squared, 6),
        "adjusted_r_squared": round(found.adjusted_r_squared, 6),
        "observations": found.observations,
        "dropped": found.dropped,
        "log_scale": found.log_scale,
        "confidence": found.confidence,
        "drivers": [
            {
                "driver": d.name,
                "share": round(d.share, 6),
                "share_of_explained": round(d.share_of_explained, 6),
                "coefficient": d.coefficient,
                "ci": [d.ci_low, d.ci_high],
                "p_value": d.p_value,
                "elasticity": d.elasticity,
            }
            for d in found.drivers
        ],
    }
