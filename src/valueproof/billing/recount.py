"""Rating inputs rebuilt from an invoice bundle's proven records, as the store would give them.

Usage is folded from the account's usage events in force with the fold ingest uses
(`metering.aggregations.fold`, one `Bucket` per hour, merged over the period); outcomes are
counted as `contracts.outcome_usage` counts them (accepted in the period, not voided by a
dispute upheld before its end); what is not a record on the log (meter definitions, account
attributes, earlier periods, metric values) is read from the bundle's `stated` part. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from valueproof.contracts.document import ContractDocument, Percentage, PerOutcome
from valueproof.contracts.inputs import (
    MeterUsage,
    OutcomeCredit,
    OutcomeUsage,
    RatingInput,
    Reading,
)
from valueproof.contracts.wallet import WalletPeriod
from valueproof.metering.aggregations import (
    Bucket,
    CompiledMeter,
    FoldInput,
    Unmetered,
    compile_meter,
    fold,
)
from valueproof.metering.definitions import Aggregation, Meter
from valueproof.metering.quantities import from_micros
from valueproof.metering.quantities import to_micros as quantity_micros
from valueproof.metering.records import USAGE_EVENT
from valueproof.metering.totals import GroupTotal, Transaction
from valueproof.metering.usage import measured
from valueproof.outcomes.claim_records import OUTCOME_VERDICT
from valueproof.outcomes.disputes import OUTCOME_DISPUTE
from valueproof.periods import MICROS_PER_HOUR, BillingPeriod, hour_of, parse_rfc3339, to_micros

__all__ = ["Record", "rating_input", "usage_window"]


@dataclass(frozen=True, slots=True)
class Record:
    """A proven record of the bundle: its leaf index and what its leaf says."""

    index: int
    record: dict[str, Any]


def usage_window(start: datetime, end: datetime) -> tuple[int, int]:
    """The microseconds [low, high) of a closed period's usage: whole hours, as rollups keep."""
    return (
        hour_of(to_micros(start)) * MICROS_PER_HOUR,
        hour_of(to_micros(end)) * MICROS_PER_HOUR,
    )


def rating_input(
    records: Mapping[str, Sequence[Record]],
    contract: ContractDocument,
    period: BillingPeriod,
    ledger_size: int,
    stated: Mapping[str, Any],
    warnings: Sequence[tuple[str, str]],
) -> RatingInput:
    """The inputs of the period's rating: usage and outcomes from the records (by record type),
    the rest as stated. KeyError, TypeError or ValueError when `stated` is malformed."""
    meters = {key: Meter.model_validate(value) for key, value in stated["meters"].items()}
    return RatingInput(
        period=period,
        usage=_usage(records.get(USAGE_EVENT, []), meters, contract, period, stated),
        ledger_size=ledger_size,
        outcomes=_outcomes(records, contract, period, stated),
        readings=_readings(stated),
        account=dict(stated["account"]),
        flags=dict(stated["flags"]),
        wallet_history=tuple(
            WalletPeriod(parse_rfc3339(p["start"]), parse_rfc3339(p["end"]), Decimal(p["charges"]))
            for p in stated["wallet_history"]
        ),
        warnings=tuple(warnings),
    )


def _usage(
    entries: Sequence[Record],
    meters: Mapping[str, Meter],
    contract: ContractDocument,
    period: BillingPeriod,
    stated: Mapping[str, Any],
) -> dict[str, MeterUsage]:
    """Each stated meter's usage, folded from the events in force, as ingest folds them."""
    low, high = usage_window(period.start, period.end)
    superseded = set()
    events: list[tuple[dict[str, Any], int, int]] = []  # record, ts, leaf
    for entry in entries:
        record = entry.record
        for correction in ("voids", "amends"):
            if correction in record:
                superseded.add(record[correction])
        ts = to_micros(parse_rfc3339(record["timestamp"]))
        events.append((record, ts, entry.index))
    in_force = [
        FoldInput(
            index,
            0,
            record["type"],
            ts,
            record["properties"],
            None if "value" not in record else quantity_micros(record["value"]),
            index,
        )
        for record, ts, index in sorted(events, key=lambda item: (item[1], item[2]))
        if low <= ts < high and "voids" not in record and record["id"] not in superseded
    ]
    compiled = {
        key: compile_meter(number, meter) for number, (key, meter) in enumerate(meters.items())
    }
    by_type: dict[str, list[CompiledMeter]] = {}
    for item in compiled.values():
        by_type.setdefault(item.meter.event_type, []).append(item)
    unmetered: list[Unmetered] = []  # events a meter cannot read: left out, as ingest does
    buckets, _points = fold(in_force, by_type, unmetered)
    detailed = {
        c.meter for c in contract.components if isinstance(c, Percentage) and c.per_transaction
    }
    gauges = stated.get("usage", {})
    usage = {}
    for key, item in compiled.items():
        if key in gauges:  # time-weighted: the level before the period is not in the bundle
            groups = tuple(
                GroupTotal(g["dims"], Decimal(g["value"]), int(g["events"]), None, None)
                for g in gauges[key]
            )
        else:
            groups = _groups(item, buckets)
        found = None
        if key in detailed:
            found = _transactions(
                item, in_force, {u.seq for u in unmetered if u.meter_id == item.id}
            )
        usage[key] = MeterUsage(key, groups, found)
    return usage


def _groups(
    item: CompiledMeter, buckets: Mapping[tuple[int, int, str, int], Bucket]
) -> tuple[GroupTotal, ...]:
    """A meter's totals per group over the whole window, from its hourly buckets."""
    merged: dict[str, Bucket] = {}
    distinct: dict[str, set[str]] = {}
    for (meter_id, _account, dims, _hour), bucket in buckets.items():
        if meter_id != item.id:
            continue
        merged.setdefault(dims, Bucket()).merge(bucket)
        distinct.setdefault(dims, set()).update(bucket.distinct)
    aggregation = item.meter.aggregation
    groups = []
    for dims in sorted(merged):
        bucket = merged[dims]
        number: int | None
        if aggregation is Aggregation.UNIQUE_COUNT:
            value = Decimal(len(distinct[dims]))
            if not distinct[dims]:
                continue
        elif aggregation is Aggregation.LATEST:
            if bucket.latest_micros is None:
                continue
            value = from_micros(bucket.latest_micros)
        else:
            number = {
                Aggregation.COUNT: bucket.event_count,
                Aggregation.SUM: bucket.sum_micros,
                Aggregation.MIN: bucket.min_micros,
                Aggregation.MAX: bucket.max_micros,
            }[aggregation]
            if number is None:
                continue
            value = measured(aggregation, number)
        groups.append(
            GroupTotal(dims, value, bucket.event_count, bucket.first_leaf, bucket.last_leaf)
        )
    return tuple(groups)


def _transactions(
    item: CompiledMeter, in_force: Sequence[FoldInput], unmetered: set[int]
) -> tuple[Transaction, ...]:
    """Each counted event's amount, in time order, for prices that look at them one by one."""
    found = []
    for event in in_force:
        if event.type != item.meter.event_type or event.seq in unmetered:
            continue
        if item.filtered and not item.matches(event.properties):
            continue
        if item.meter.aggregation is Aggregation.COUNT:
            amount = Decimal(1)
        else:
            amount = from_micros(item.value(event.properties, event.value_micros) or 0)
        found.append(Transaction(item.dims(event.properties), amount, event.leaf_index))
    return tuple(found)


def _outcomes(
    owned: Mapping[str, Sequence[Record]],
    contract: ContractDocument,
    period: BillingPeriod,
    stated: Mapping[str, Any],
) -> dict[str, OutcomeUsage]:
    """Each per-outcome component's accepted outcomes of the period still standing at its end."""
    keys = {c.outcome for c in contract.components if isinstance(c, PerOutcome)}
    start, end = to_micros(period.start), to_micros(period.end)
    voided = {
        entry.record.get("claim")
        for entry in owned.get(OUTCOME_DISPUTE, [])
        if entry.record.get("step") == "resolved"
        and entry.record.get("resolution") == "upheld"
        and to_micros(parse_rfc3339(entry.record["at"])) < end
    }
    counted: dict[str, list[int]] = {}
    for entry in owned.get(OUTCOME_VERDICT, []):
        record = entry.record
        occurred = to_micros(parse_rfc3339(record["occurred_at"]))
        if (
            record.get("accepted") is True
            and record.get("outcome") in keys
            and start <= occurred < end
            and record.get("claim") not in voided
        ):
            counted.setdefault(record["outcome"], []).append(entry.index)
    credits = stated.get("outcome_credits", {})
    usage = {}
    for key in sorted(keys):
        leaves = counted.get(key, [])
        usage[key] = OutcomeUsage(
            key,
            len(leaves),
            ((min(leaves), max(leaves)),) if leaves else (),
            tuple(_credit(c) for c in credits.get(key, [])),
        )
    return usage


def _credit(value: Mapping[str, Any]) -> OutcomeCredit:
    return OutcomeCredit(
        parse_rfc3339(value["period_start"]),
        parse_rfc3339(value["period_end"]),
        int(value["billed"]),
        int(value["standing"]),
        Decimal(value["unit_price"]),
        value.get("max_count"),
        None if value.get("max_amount") is None else Decimal(value["max_amount"]),
        tuple((int(a), int(b)) for a, b in value.get("leaves", [])),
    )


def _readings(stated: Mapping[str, Any]) -> dict[str, list[Reading]]:
    return {
        metric: [
            Reading(
                metric,
                Decimal(r["value"]),
                parse_rfc3339(r["as_of"]),
                r.get("leaf_index"),
                tuple(r.get("leaves", [])),
            )
            for r in readings
        ]
        for metric, readings in stated.get("readings", {}).items()
    }
