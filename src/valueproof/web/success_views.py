"""What the dashboard shows of Customer Success, as the last refresh left it: the open alert
queue, and each account's recent days of a meter against its seasonal baseline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from markupsafe import Markup
from sqlalchemy import Connection, select

from valueproof.periods import from_micros, to_micros
from valueproof.success.alert_store import StoredAlert, alert_queue
from valueproof.success.tables import success_profiles
from valueproof.tenancy.accounts import Account
from valueproof.tenancy.clock import now_us
from valueproof.web.charts import band_chart

__all__ = ["ALERT_LIMIT", "AlertQueue", "Baseline", "SeasonalPeriod", "baselines", "open_alerts"]

ALERT_LIMIT = 50  # alerts a page lists; the API and the CLI give the whole queue


@dataclass(frozen=True, slots=True)
class AlertQueue:
    """The open alerts a page shows, critical first, and whether more are open than shown."""

    alerts: list[StoredAlert]
    more: bool


@dataclass(frozen=True, slots=True)
class SeasonalPeriod:
    """A candidate cycle of an account's usage: its length in days and how strongly it shows."""

    name: str
    days: float
    strength: float
    detected: bool


@dataclass(frozen=True, slots=True)
class Baseline:
    """One account's recent days of one meter against the seasonal range the refresh expected."""

    meter: str
    chart: Markup
    caption: str
    periods: list[SeasonalPeriod]
    below: int
    above: int
    computed: datetime
    reason: str | None = None  # why there is no baseline yet (then no chart and no periods)


def open_alerts(
    connection: Connection,
    tenant_id: int,
    account: str | None = None,
    as_of: datetime | None = None,
) -> AlertQueue:
    """The open alerts of the tenant (or of one account), counting those whose snooze ended;
    with `as_of` in the past, the alerts that were live then."""
    live_at = None if as_of is None else to_micros(as_of)
    found = alert_queue(
        connection,
        tenant_id,
        account=account,
        now_us=now_us(),
        limit=ALERT_LIMIT + 1,
        live_at_us=live_at,
    )
    return AlertQueue(found[:ALERT_LIMIT], more=len(found) > ALERT_LIMIT)


def baselines(
    connection: Connection, tenant_id: int, accounts: Sequence[Account], *, small: bool
) -> dict[tuple[str, str], Baseline]:
    """The baseline of each (account external id, meter) that has a profile, in one query for
    all the accounts of a page."""
    if not accounts:
        return {}
    by_id = {account.id: account for account in accounts}
    t = success_profiles.c
    rows = connection.execute(
        select(t.account_id, t.meter, t.document, t.computed_us).where(
            t.tenant_id == tenant_id, t.account_id.in_(list(by_id))
        )
    )
    found = {}
    for row in rows:
        account = by_id[row.account_id]
        title = f"{account.name}: {row.meter}, recent days against the seasonal range"
        document = orjson.loads(row.document)
        found[account.external_id, row.meter] = baseline(
            row.meter, document, from_micros(row.computed_us), title, small=small
        )
    return found


def baseline(
    meter: str, document: dict[str, Any], computed: datetime, title: str, *, small: bool
) -> Baseline:
    """A stored profile document (its periods and recent days) as a chart and a caption; a
    profile that says why there is no baseline yet becomes that reason alone."""
    if "recent" not in document:
        reason = str(document.get("reason", "no baseline yet"))
        told = f"no seasonal baseline yet: {reason}"
        return Baseline(meter, Markup(""), told, [], 0, 0, computed, reason=reason)
    recent = document["recent"]
    actual, lower, upper = recent["actual"], recent["lower"], recent["upper"]
    chart = band_chart(
        actual,
        lower,
        upper,
        recent["expected"],
        width=150 if small else 720,
        height=36 if small else 160,
        title=title,
        labels=recent["days"],
        scale_label=not small,
    )
    periods = [
        SeasonalPeriod(p["name"], p["period"], p["strength"], p["detected"])
        for p in document["periods"]
    ]
    below = sum(1 for value, low in zip(actual, lower, strict=True) if value < low)
    above = sum(1 for value, high in zip(actual, upper, strict=True) if value > high)
    empty = bool(actual) and not any(actual)
    told = caption(periods, recent["days"], below, above, empty=empty)
    if document.get("low_volume") and not empty:
        told += " (too few events a day for a daily range: the quiet alert watches a stop)"
    return Baseline(
        meter=meter,
        chart=Markup(chart),  # band_chart escapes every text it writes
        caption=told,
        periods=periods,
        below=below,
        above=above,
        computed=computed,
    )


def caption(
    periods: Sequence[SeasonalPeriod],
    days: Sequence[str],
    below: int,
    above: int,
    *,
    empty: bool = False,
) -> str:
    """One line saying what the band is and what the days did against it, e.g. "weekly season;
    last 14 days to 2 Jul: 3 below the seasonal range"; with `empty`, that none had usage."""
    names = [period.name for period in periods if period.detected]
    season = f"{' and '.join(names)} season" if names else "no seasonal cycle found"
    span = f"last {len(days)} days"
    if days:
        last = date.fromisoformat(days[-1])
        span += f" to {last.day} {last:%b}"
    if empty:
        return f"{season}; {span}: no usage on any of them"
    outside = [f"{count} {side}" for count, side in ((below, "below"), (above, "above")) if count]
    verdict = ", ".join(outside) if outside else "all within"
    return f"{season}; {span}: {verdict} the seasonal range"
