"""Price components to charge lines: each component of a contract, evaluated on one period.

The money arithmetic is in `charges` (usage prices) and `fees` (fees, seats, outcomes,
gain-share); this module feeds them the period's data and records what each line came from.
Commitments, credits and discounts act on these lines afterwards (`rating`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from valueproof.contracts import charges, fees
from valueproof.contracts.document import (
    Flat,
    GainShare,
    Graduated,
    GraduatedPercentage,
    Package,
    Percentage,
    PerOutcome,
    PerUnit,
    Seats,
    Volume,
)
from valueproof.contracts.inputs import MeterUsage, OutcomeCredit, RatingInput, group_values
from valueproof.contracts.lines import Line, Source, leaf_ranges, make_line
from valueproof.contracts.validation import CompiledContract
from valueproof.money import Currency
from valueproof.periods import format_rfc3339

__all__ = ["component_lines"]

ZERO = Decimal(0)
HUNDRED = Decimal(100)

# Components that act on other lines, evaluated by `rating` once these are known.
ADJUSTING = frozenset({"commitment", "prepaid_credits"})


@dataclass(frozen=True, slots=True)
class _Period:
    """What evaluating a component needs besides the component itself."""

    terms: CompiledContract
    inputs: RatingInput
    money: Currency

    def line(
        self,
        component: Any,
        kind: str,
        quantity: Decimal | None,
        exact: Decimal,
        detail: dict[str, Any],
        sources: tuple[Source, ...] = (),
    ) -> Line:
        description = component.description or _describe(component, kind)
        rounding = self.terms.document.rounding
        return make_line(
            self.money, rounding, component.id, kind, description, quantity, exact, detail, sources
        )


def component_lines(
    terms: CompiledContract, inputs: RatingInput, money: Currency, applying: frozenset[str]
) -> Iterator[Line]:
    """The lines of the components in `applying` (their `when` holds), in document order."""
    period = _Period(terms, inputs, money)
    for component in terms.document.components:
        if component.type not in ADJUSTING and component.id in applying:
            yield from _BUILDERS[component.type](component, period)


def _describe(component: Any, kind: str) -> str:
    subject = getattr(component, "meter", None) or getattr(component, "outcome", None)
    subject = subject or getattr(component, "metric", None) or component.id
    return f"{subject} ({kind.replace('_', ' ')})"


def _counted(component: Any, period: _Period) -> tuple[Decimal, Source, list[Any]]:
    """The quantity of the component's meter its filter counts, and where it came from."""
    usage = period.inputs.usage.get(component.meter) or MeterUsage(component.meter)
    condition = period.terms.filters.get(component.id)
    groups = [
        group
        for group in usage.groups
        if condition is None or condition.holds({"group": group_values(group.dims)})
    ]
    quantity = sum((group.value for group in groups), ZERO)
    source = Source(
        "meter",
        component.meter,
        quantity,
        sum(group.events for group in groups),
        leaf_ranges((group.first_leaf, group.last_leaf) for group in groups),
    )
    return quantity, source, groups


def _tiers_json(tiers: list[charges.TierCharge]) -> list[dict[str, Any]]:
    return [
        {
            "tier": t.tier,
            "from": t.lower,
            "up_to": t.upper,
            "quantity": t.quantity,
            "unit_price": t.unit_price,
            "flat_fee": t.flat_fee,
            "amount": t.amount,
        }
        for t in tiers
    ]


def _flat(component: Flat, period: _Period) -> Iterator[Line]:
    bounds = period.inputs.period
    fraction, exact = Decimal(1), component.amount
    if component.prorate and bounds.partial:
        share = fees.prorate(
            component.amount, bounds.full_start, bounds.full_end, bounds.start, bounds.end
        )
        fraction, exact = share.fraction, share.amount
    detail = {"amount": component.amount, "fraction": fraction}
    yield period.line(component, "flat", None, exact, detail)


def _per_unit(component: PerUnit, period: _Period) -> Iterator[Line]:
    quantity, source, _ = _counted(component, period)
    exact = charges.per_unit(quantity, component.unit_price)
    detail = {"unit_price": component.unit_price}
    yield period.line(component, "per_unit", quantity, exact, detail, (source,))


def _tiered(component: Graduated | Volume, period: _Period) -> Iterator[Line]:
    quantity, source, _ = _counted(component, period)
    tiers = [charges.Tier(t.up_to, t.unit_price, t.flat_fee) for t in component.tiers]
    model = charges.graduated if isinstance(component, Graduated) else charges.volume
    breakdown = model(quantity, tiers)
    detail = {"tiers": _tiers_json(breakdown)}
    exact = charges.total(breakdown)
    yield period.line(component, component.type, quantity, exact, detail, (source,))


def _package(component: Package, period: _Period) -> Iterator[Line]:
    quantity, source, _ = _counted(component, period)
    result = charges.package(
        quantity, component.package_size, component.package_price, component.free_units
    )
    detail = {
        "package_size": result.package_size,
        "package_price": result.package_price,
        "free_units": result.free_units,
        "billable_units": result.billable_units,
        "packages": result.packages,
    }
    yield period.line(component, "package", quantity, result.amount, detail, (source,))


def _percentage(component: Percentage, period: _Period) -> Iterator[Line]:
    volume, source, groups = _counted(component, period)
    rate = component.percent / HUNDRED
    if component.per_transaction:
        result = charges.percentage(
            _amounts(component, period, {group.dims for group in groups}),
            rate,
            component.fixed_fee,
            component.minimum,
            component.maximum,
            component.free_transactions,
            component.free_volume,
        )
    else:
        result = charges.percentage_of_total(
            volume, source.events, rate, component.fixed_fee, 0, component.free_volume
        )
    detail = {
        "percent": component.percent,
        "fixed_fee": component.fixed_fee,
        "transactions": result.transactions,
        "volume": result.volume,
        "free_transactions": result.free_transactions,
        "free_volume": result.free_volume,
        "minimum_applied": result.minimum_applied,
        "maximum_applied": result.maximum_applied,
    }
    yield period.line(component, "percentage", volume, result.amount, detail, (source,))


def _amounts(component: Percentage, period: _Period, counted: set[str]) -> list[Decimal]:
    usage = period.inputs.usage.get(component.meter)
    if usage is None or usage.transactions is None:
        return []
    return [t.amount for t in usage.transactions if t.dims in counted]


def _graduated_percentage(component: GraduatedPercentage, period: _Period) -> Iterator[Line]:
    volume, source, _ = _counted(component, period)
    tiers = [charges.PercentTier(t.up_to, t.percent / HUNDRED, t.flat_fee) for t in component.tiers]
    breakdown = charges.graduated_percentage(volume, tiers)
    detail = {"tiers": _tiers_json(breakdown)}
    exact = charges.total(breakdown)
    yield period.line(component, "graduated_percentage", volume, exact, detail, (source,))


def _meter_source(key: str, period: _Period) -> tuple[Decimal, Source]:
    usage = period.inputs.usage.get(key) or MeterUsage(key)
    groups = usage.groups
    source = Source(
        "meter",
        key,
        usage.total,
        sum(group.events for group in groups),
        leaf_ranges((group.first_leaf, group.last_leaf) for group in groups),
    )
    return usage.total, source


def _seats(component: Seats, period: _Period) -> Iterator[Line]:
    sources = []
    count = component.seats
    if count is None:
        assert component.seats_meter is not None
        count, source = _meter_source(component.seats_meter, period)
        sources.append(source)
    active, active_source = _meter_source(component.active_meter, period)
    sources.append(active_source)
    result = fees.seats(
        count, active, component.unit_price, component.inactive_credit_percent / HUNDRED
    )
    bounds = period.inputs.period
    fraction = Decimal(1)
    if component.prorate and bounds.partial:
        fraction = fees.prorate(
            Decimal(1), bounds.full_start, bounds.full_end, bounds.start, bounds.end
        ).fraction
    detail = {
        "seats": result.seats,
        "active": result.active,
        "inactive": result.inactive,
        "unit_price": result.unit_price,
        "fraction": fraction,
    }
    yield period.line(component, "seats", count, result.amount * fraction, detail, tuple(sources))
    if result.credit:
        credit_detail = {**detail, "inactive_credit_percent": component.inactive_credit_percent}
        yield period.line(
            component,
            "seat_credit",
            result.inactive,
            -result.credit * fraction,
            credit_detail,
            (active_source,),
        )


def _per_outcome(component: PerOutcome, period: _Period) -> Iterator[Line]:
    usage = period.inputs.outcomes.get(component.outcome)
    accepted = 0 if usage is None else usage.accepted
    leaves = () if usage is None else usage.leaves
    result = fees.per_outcome(
        accepted, component.unit_price, component.max_count, component.max_amount
    )
    source = Source("outcome", component.outcome, Decimal(accepted), accepted, leaves)
    detail = {
        "accepted": result.accepted,
        "billable": result.billable,
        "unit_price": result.unit_price,
        "capped": result.capped,
    }
    yield period.line(
        component, "per_outcome", Decimal(result.billable), result.amount, detail, (source,)
    )
    for credit in () if usage is None else usage.credits:
        yield _outcome_credit(component, period, credit)


def _outcome_credit(component: PerOutcome, period: _Period, credit: OutcomeCredit) -> Line:
    """What an earlier period's per-outcome charge loses to outcomes voided in this one."""
    billed = fees.per_outcome(credit.billed, credit.unit_price, credit.max_count, credit.max_amount)
    standing = fees.per_outcome(
        credit.standing, credit.unit_price, credit.max_count, credit.max_amount
    )
    voided = credit.billed - credit.standing
    detail = {
        "period_start": format_rfc3339(credit.period_start),
        "period_end": format_rfc3339(credit.period_end),
        "billed": credit.billed,
        "standing": credit.standing,
        "voided": voided,
        "unit_price": credit.unit_price,
        "charged_then": billed.amount,
        "charge_now": standing.amount,
    }
    source = Source("outcome", component.outcome, Decimal(voided), voided, credit.leaves)
    amount = standing.amount - billed.amount
    return period.line(component, "outcome_credit", Decimal(voided), amount, detail, (source,))


def _gain_share(component: GainShare, period: _Period) -> Iterator[Line]:
    readings = sorted(period.inputs.readings.get(component.metric, ()), key=lambda r: r.as_of)
    bounds = period.inputs.period
    measured = [r for r in readings if bounds.start <= r.as_of < bounds.end]
    baseline_value = component.baseline.value
    sources = []
    if baseline_value is None:
        moment = component.baseline.as_of
        before = [r for r in readings if moment is not None and r.as_of <= moment]
        if before:
            baseline_value = before[-1].value
            sources.append(_reading_source(before[-1]))
    flag = period.inputs.flags.get(component.metric)
    if baseline_value is None or not measured or flag is not None:
        missing = "baseline" if baseline_value is None else "measured value"
        floor = component.floor or ZERO
        gap = {"missing": flag or f"no reading of {component.metric!r} for the {missing}"}
        yield period.line(component, "gain_share", None, floor, gap, tuple(sources))
        return
    latest = measured[-1]
    sources.append(_reading_source(latest))
    result = fees.gain_share(
        baseline_value,
        latest.value,
        component.value_per_unit,
        [fees.GainTier(t.threshold, t.percent / HUNDRED) for t in component.tiers],
        fees.Improvement(component.improvement),
        fees.Direction(component.direction),
        fees.GainMode(component.mode),
        component.floor,
        component.cap,
    )
    detail = {
        "baseline": result.baseline,
        "measured": result.measured,
        "improvement": result.improvement,
        "gain": result.gain,
        "tier": result.tier,
        "share": result.share,
        "floor_applied": result.floor_applied,
        "cap_applied": result.cap_applied,
    }
    yield period.line(
        component, "gain_share", result.improvement, result.amount, detail, tuple(sources)
    )


def _reading_source(reading: Any) -> Source:
    indexes = set(reading.leaves) | ({reading.leaf_index} - {None})
    spans = leaf_ranges((index, index) for index in indexes)
    return Source("reading", reading.metric, reading.value, max(1, len(indexes)), spans)


_BUILDERS: dict[str, Callable[[Any, _Period], Iterator[Line]]] = {
    "flat": _flat,
    "per_unit": _per_unit,
    "graduated": _tiered,
    "volume": _tiered,
    "package": _package,
    "percentage": _percentage,
    "graduated_percentage": _graduated_percentage,
    "seats": _seats,
    "per_outcome": _per_outcome,
    "gain_share": _gain_share,
}
