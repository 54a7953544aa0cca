"""An account's utilization now: usage of the period so far per meter, its run rate and where it
lands at period end, commitment utilization and pace against a linear burn, the projected
overage or shortfall, days until prepaid credit runs out, and share of wallet.

It reads what rating reads (rollups, updated in the ingest transaction, so it is current as soon
as an event is accepted) and rates the period so far and its projection with the account's
contract, when one is in force. Without a contract the period is the calendar month and only
usage is reported.

Share of wallet needs the customer's own total: the account attribute `reported_volume.<meter>`
(account attributes are flat), the volume the customer reports doing per billing period with
every vendor. The share is the projected period usage over it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import orjson
from sqlalchemy import Connection, select

from valueproof.contracts.lines import Line
from valueproof.contracts.registry import account_versions, in_force
from valueproof.contracts.service import Preview, preview, run_rate_factor
from valueproof.metering.definitions import Aggregation
from valueproof.metering.registry import load_catalog
from valueproof.metering.totals import window_totals
from valueproof.periods import BillingPeriod, format_rfc3339, hour_of, to_micros
from valueproof.tenancy.accounts import account_id as account_id_of
from valueproof.tenancy.tables import accounts

__all__ = [
    "CommitmentUse",
    "CreditUse",
    "MeterUse",
    "Utilization",
    "calendar_month",
    "utilization",
    "utilization_json",
]

REPORTED_VOLUME = "reported_volume."
_ADDITIVE = frozenset({Aggregation.COUNT, Aggregation.SUM, Aggregation.TIME_WEIGHTED_SUM})
_PLACES = Decimal("0.000001")
_HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class MeterUse:
    """One meter's usage of the period so far, its daily run rate and its period-end landing."""

    meter: str
    unit: str
    to_date: Decimal
    run_rate_per_day: Decimal | None  # None for a meter that does not add up (a maximum, ...)
    projected: Decimal
    reported_total: Decimal | None
    share_of_wallet: Decimal | None  # projected / reported_total


@dataclass(frozen=True, slots=True)
class CommitmentUse:
    """A minimum-spend commitment: how much of it the period's charges have used, the pace
    against a linear burn (1 is on pace), and the projected overage (> 0) or shortfall (< 0)."""

    component: str
    minimum: Decimal  # prorated for a partial period
    committed_to_date: Decimal
    utilization: Decimal  # committed_to_date / minimum
    pace: Decimal  # utilization / share of the period elapsed
    projected: Decimal  # committed charges at period end at the run rate
    projected_difference: Decimal  # projected - minimum


@dataclass(frozen=True, slots=True)
class CreditUse:
    """A prepaid-credit wallet: its balance now, the daily burn of the period so far, and when
    the balance runs out at that burn (None when nothing burns)."""

    component: str
    balance: Decimal
    burn_per_day: Decimal
    days_left: Decimal | None
    runs_out: datetime | None
    before_period_end: bool


@dataclass(frozen=True, slots=True)
class Utilization:
    """An account's utilization at `as_of`, in its current billing period."""

    account: str
    as_of: datetime
    period: BillingPeriod
    elapsed: Decimal  # share of the period elapsed, by whole hours as usage is rolled up
    contract: str | None
    currency: str | None
    meters: tuple[MeterUse, ...]
    commitments: tuple[CommitmentUse, ...]
    credits: tuple[CreditUse, ...]


def calendar_month(now: datetime) -> BillingPeriod:
    """The calendar month holding `now`: the period of an account without a contract."""
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return BillingPeriod(0, start, end, start, end)


def utilization(connection: Connection, tenant_id: int, account: str, now: datetime) -> Utilization:
    """The account's utilization at `now` (NotFound-like InvalidInput for an unknown account)."""
    internal = account_id_of(connection, tenant_id, account)
    rated = _preview(connection, tenant_id, account, now)
    period = rated.charges.period if rated is not None else calendar_month(now)
    factor = run_rate_factor(period, now)
    elapsed = (Decimal(1) / factor).quantize(_PLACES, rounding=ROUND_HALF_EVEN)
    days = _elapsed_days(period, now)
    reported = _reported(connection, internal)
    meters = _meters(connection, tenant_id, internal, period, now, factor, days, reported, rated)
    commitments: tuple[CommitmentUse, ...] = ()
    credits: tuple[CreditUse, ...] = ()
    if rated is not None:
        commitments = _commitments(rated, elapsed)
        credits = _credits(rated.charges.lines, now, period, days)
    return Utilization(
        account=account,
        as_of=now,
        period=period,
        elapsed=elapsed,
        contract=None if rated is None else rated.charges.contract,
        currency=None if rated is None else rated.charges.currency,
        meters=meters,
        commitments=commitments,
        credits=credits,
    )


def _preview(connection: Connection, tenant_id: int, account: str, now: datetime) -> Preview | None:
    history = account_versions(connection, tenant_id, account_id_of(connection, tenant_id, account))
    if in_force(history, now) is None:
        return None
    return preview(connection, tenant_id, account, now)


def _elapsed_days(period: BillingPeriod, now: datetime) -> Decimal:
    """Whole hours elapsed, in days (at least one hour: the first hour's usage counts)."""
    hours = math.ceil(max(0.0, (min(now, period.end) - period.start) / _HOUR))
    return Decimal(max(1, hours)) / Decimal(24)


def _reported(connection: Connection, internal: int) -> dict[str, Decimal]:
    """Meter key -> the customer's reported total per period, from `reported_volume.<meter>`."""
    row = connection.execute(select(accounts.c.attributes).where(accounts.c.id == internal)).one()
    found = {}
    for name, value in orjson.loads(row.attributes).items():
        meter = name.removeprefix(REPORTED_VOLUME)
        if meter == name or isinstance(value, bool) or not isinstance(value, int | float | str):
            continue
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            continue
        if number.is_finite() and number > 0:
            found[meter] = number
    return found


def _meters(
    connection: Connection,
    tenant_id: int,
    internal: int,
    period: BillingPeriod,
    now: datetime,
    factor: Decimal,
    days: Decimal,
    reported: Mapping[str, Decimal],
    rated: Preview | None,
) -> tuple[MeterUse, ...]:
    """Every meter the account used this period, or its contract prices, or it reports."""
    catalog = load_catalog(connection, tenant_id)
    start = hour_of(to_micros(period.start))
    if now >= period.end:
        end = hour_of(to_micros(period.end))
    else:
        end = max(start, hour_of(to_micros(now)) + 1)
    found = []
    for key in sorted(catalog.meters_by_key):
        compiled = catalog.meters_by_key[key]
        if rated is not None and key in rated.usage:
            groups: Sequence[Any] = rated.usage[key].groups
        else:
            groups = window_totals(connection, tenant_id, compiled, start, end, internal, now).get(
                internal, []
            )
        to_date = sum((g.value for g in groups), Decimal(0))
        events = sum(g.events for g in groups)
        priced = rated is not None and key in rated.usage
        if not events and not priced and key not in reported:
            continue
        additive = compiled.meter.aggregation in _ADDITIVE
        projected = _round(to_date * factor) if additive else to_date
        total = reported.get(key)
        found.append(
            MeterUse(
                meter=key,
                unit=compiled.meter.unit,
                to_date=to_date,
                run_rate_per_day=_round(to_date / days) if additive else None,
                projected=projected,
                reported_total=total,
                share_of_wallet=None if total is None else _round(projected / total),
            )
        )
    return tuple(found)


def _commitments(rated: Preview, elapsed: Decimal) -> tuple[CommitmentUse, ...]:
    projected = {line.component: line for line in rated.projected.lines if line.kind == "true_up"}
    found = []
    for line in rated.charges.lines:
        if line.kind != "true_up":
            continue
        minimum = Decimal(line.detail["prorated_minimum"])
        committed = Decimal(line.detail["committed"])
        landing = Decimal(projected[line.component].detail["committed"])
        used = _round(committed / minimum) if minimum else Decimal(0)
        found.append(
            CommitmentUse(
                component=line.component,
                minimum=minimum,
                committed_to_date=committed,
                utilization=used,
                pace=_round(used / elapsed) if elapsed else Decimal(0),
                projected=landing,
                projected_difference=landing - minimum,
            )
        )
    return tuple(found)


def _credits(
    lines: Sequence[Line], now: datetime, period: BillingPeriod, days: Decimal
) -> tuple[CreditUse, ...]:
    found = []
    for line in lines:
        if line.kind != "credit":
            continue
        balance = sum((Decimal(b["balance"]) for b in line.detail["balances"]), Decimal(0))
        charges = Decimal(line.detail["charges"])
        burn = _round(charges / days)
        days_left = _round(balance * days / charges) if charges > 0 else None
        runs_out = None
        if days_left is not None:
            runs_out = now + timedelta(days=float(days_left))
        found.append(
            CreditUse(
                component=line.component,
                balance=balance,
                burn_per_day=burn,
                days_left=days_left,
                runs_out=runs_out,
                before_period_end=runs_out is not None and runs_out < period.end,
            )
        )
    return tuple(found)


def _round(value: Decimal) -> Decimal:
    return value.quantize(_PLACES, rounding=ROUND_HALF_EVEN)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def utilization_json(found: Utilization) -> dict[str, Any]:
    """Utilization as the API and `--json` print it: decimals as text, instants RFC 3339."""
    return {
        "account": found.account,
        "as_of": format_rfc3339(found.as_of),
        "period": {
            "start": format_rfc3339(found.period.start),
            "end": format_rfc3339(found.period.end),
        },
        "elapsed": str(found.elapsed),
        "contract": found.contract,
        "currency": found.currency,
        "meters": [
            {
                "meter": m.meter,
                "unit": m.unit,
                "to_date": str(m.to_date),
                "run_rate_per_day": _text(m.run_rate_per_day),
                "projected": str(m.projected),
                "reported_total": _text(m.reported_total),
                "share_of_wallet": _text(m.share_of_wallet),
            }
            for m in found.meters
        ],
        "commitments": [
            {
                "component": c.component,
                "minimum": str(c.minimum),
                "committed_to_date": str(c.committed_to_date),
                "utilization": str(c.utilization),
                "pace": str(c.pace),
                "projected": str(c.projected),
                "projected_difference": str(c.projected_difference),
            }
            for c in found.commitments
        ],
        "credits": [
            {
                "component": c.component,
                "balance": str(c.balance),
                "burn_per_day": str(c.burn_per_day),
                "days_left": _text(c.days_left),
                "runs_out": None if c.runs_out is None else format_rfc3339(c.runs_out),
                "before_period_end": c.before_period_end,
            }
            for c in found.credits
        ],
    }
