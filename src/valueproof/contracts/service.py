"""Rating against the store: gather a period's inputs in one read, rate, and project.

One account (`preview`, `rate_period`) or every account at once (`rate_accounts`, the month-end
run, which reads each meter's totals for all accounts in one query). All of them end in the same
pure `rating.rate`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, select

from valueproof.contracts.document import (
    USAGE_TYPES,
    ContractDocument,
    GainShare,
    Metered,
    Percentage,
    Seats,
)
from valueproof.contracts.errors import RatingError
from valueproof.contracts.inputs import MeterUsage, RatingInput, Reading
from valueproof.contracts.lines import total
from valueproof.contracts.outcome_usage import outcome_usage
from valueproof.contracts.rating import Charges, rate
from valueproof.contracts.references import Registered, undefined_warnings
from valueproof.contracts.registry import (
    StoredVersion,
    account_versions,
    in_force,
    registered_names,
    tenant_versions,
)
from valueproof.contracts.validation import CompiledContract, compile_contract
from valueproof.contracts.wallet import WalletPeriod
from valueproof.errors import InvalidInput, NotFound
from valueproof.ledger.log import log_size
from valueproof.metering.definitions import Aggregation
from valueproof.metering.registry import Catalog, load_catalog
from valueproof.metering.totals import (
    GroupTotal,
    consecutive_totals,
    transactions,
    window_totals,
)
from valueproof.outcomes.aggregation import Flag
from valueproof.outcomes.oracles import metric_value
from valueproof.periods import (
    BillingPeriod,
    billing_period_at,
    billing_periods,
    hour_of,
    to_micros,
)
from valueproof.tenancy.accounts import account_id as account_id_of
from valueproof.tenancy.tables import accounts

__all__ = ["Preview", "period_inputs", "preview", "rate_accounts", "rate_period"]

_ADDITIVE = frozenset({Aggregation.COUNT, Aggregation.SUM, Aggregation.TIME_WEIGHTED_SUM})
_SIX_PLACES = Decimal("0.000001")
_HOUR = timedelta(hours=1)
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Preview:
    """Period-to-date charges, and the period's charges if usage goes on at the current rate."""

    as_of: datetime
    charges: Charges
    projected: Charges
    factor: Decimal  # period length / time elapsed: what additive usage was multiplied by
    usage: Mapping[str, MeterUsage]  # the contract's meters, period to date


def _compiled(version: StoredVersion, cache: dict[int, CompiledContract]) -> CompiledContract:
    compiled = cache.get(version.leaf_index)
    if compiled is None:
        compiled = cache[version.leaf_index] = compile_contract(version.document)
    return compiled


def _period_of(document: ContractDocument, at: datetime) -> BillingPeriod:
    period = billing_period_at(
        document.term.start,
        document.term.end,
        document.billing.period,
        document.billing.anchor_day,
        at,
    )
    if period is None:  # in_force already placed `at` inside the term
        raise RatingError("term", "no billing period holds this instant")
    return period


def _meters_of(document: ContractDocument) -> set[str]:
    keys: set[str] = set()
    for component in document.components:
        if isinstance(component, Metered):
            keys.add(component.meter)
        if isinstance(component, Seats):
            keys.add(component.active_meter)
            if component.seats_meter is not None:
                keys.add(component.seats_meter)
    return keys


def _per_transaction(document: ContractDocument) -> set[str]:
    """Meters a percentage prices transaction by transaction (minimum, maximum, free ones)."""
    return {c.meter for c in document.components if isinstance(c, Percentage) and c.per_transaction}


def _hours(period: BillingPeriod, now: datetime) -> tuple[int, int]:
    """The period's usage window in hours: to its end once over, else up to `now`'s hour."""
    start = hour_of(to_micros(period.start))
    if now >= period.end:
        return start, hour_of(to_micros(period.end))
    return start, max(start, hour_of(to_micros(now)) + 1)


def _usage(
    connection: Connection,
    tenant_id: int,
    catalog: Catalog,
    account_id: int,
    document: ContractDocument,
    period: BillingPeriod,
    now: datetime,
) -> dict[str, MeterUsage]:
    start_hour, end_hour = _hours(period, now)
    detailed = _per_transaction(document)
    usage = {}
    for key in sorted(_meters_of(document)):
        compiled = _meter(catalog, key)
        totals = window_totals(
            connection, tenant_id, compiled, start_hour, end_hour, account_id, now
        )
        found = None
        if key in detailed:
            found = tuple(
                transactions(connection, tenant_id, compiled, account_id, start_hour, end_hour)
            )
        usage[key] = MeterUsage(key, tuple(totals.get(account_id, ())), found)
    return usage


def _attributes(connection: Connection, account_id: int) -> dict[str, Any]:
    row = connection.execute(
        select(accounts.c.external_id, accounts.c.name, accounts.c.attributes).where(
            accounts.c.id == account_id
        )
    ).one()
    attributes: dict[str, Any] = orjson.loads(row.attributes)
    return {"id": row.external_id, "name": row.name, "attributes": attributes}


def _wallet_history(
    connection: Connection,
    tenant_id: int,
    catalog: Catalog,
    account_id: int,
    history: Sequence[StoredVersion],
    version: StoredVersion,
    period: BillingPeriod,
    now: datetime,
    cache: dict[int, CompiledContract],
) -> tuple[WalletPeriod, ...]:
    """The charges the wallet covered in each earlier period of the term (none without one).

    Each earlier period is rated again under the version in force then; its usage is read for
    all of them at once, one query per meter.
    """
    wallet = next((c for c in version.document.components if c.type == "prepaid_credits"), None)
    if wallet is None or period.index == 0:
        return ()
    document = version.document
    billing = document.billing
    earlier = [
        past
        for past in billing_periods(
            document.term.start, document.term.end, billing.period, billing.anchor_day, period.start
        )
        if past.index < period.index
    ]
    governing = [in_force(history, past.start) or version for past in earlier]
    usage: list[dict[str, MeterUsage]] = [{} for _ in earlier]
    for key in sorted(set().union(*(_meters_of(v.document) for v in governing))):
        found = consecutive_totals(
            connection,
            tenant_id,
            _meter(catalog, key),
            account_id,
            [past.start for past in earlier],
            period.start,
            now,
        )
        for index, groups in enumerate(found):
            usage[index][key] = MeterUsage(key, tuple(groups))
    attributes = _attributes(connection, account_id)
    targets = set(wallet.applies_to or [c.id for c in document.components if c.type in USAGE_TYPES])
    carried = []
    for past, then, used in zip(earlier, governing, usage, strict=True):
        inputs = RatingInput(period=past, usage=used, ledger_size=0, account=attributes)
        charges = rate(_compiled(then, cache), then.version, then.leaf_index, inputs)
        covered = max(Decimal(0), total(ln for ln in charges.lines if ln.component in targets))
        carried.append(WalletPeriod(past.start, past.end, covered))
    return tuple(carried)


def _readings(
    connection: Connection,
    tenant_id: int,
    document: ContractDocument,
    period: BillingPeriod,
    now: datetime,
) -> tuple[dict[str, list[Reading]], dict[str, str]]:
    """Each gain-share metric's value by its oracle rule: at the baseline instant, and the
    latest in the period so far; or why there is no number (a flag)."""
    readings: dict[str, list[Reading]] = {}
    flags: dict[str, str] = {}
    for component in document.components:
        if not isinstance(component, GainShare):
            continue
        metric = component.metric
        instants = [min(now, period.end - _INSTANT)]
        if component.baseline.as_of is not None:
            instants.append(component.baseline.as_of)
        found = readings.setdefault(metric, [])
        for at in instants:
            try:
                value = metric_value(connection, tenant_id, metric, at)
            except NotFound as error:
                flags[metric] = error.detail
                break
            if isinstance(value, Flag):
                flags[metric] = value.reason
                break
            leaves = tuple(o.leaf_index for o in value.used if o.leaf_index is not None)
            found.append(Reading(metric, value.value, value.as_of, None, leaves))
    return readings, flags


def rate_period(
    connection: Connection, tenant_id: int, account: str, at: datetime, now: datetime
) -> Charges:
    """The charges of the billing period holding `at`, as the store stands (period to date)."""
    account_id = account_id_of(connection, tenant_id, account)
    return _rate_one(connection, tenant_id, account_id, account, at, now, {})[0]


def period_inputs(
    connection: Connection, tenant_id: int, account: str, at: datetime, now: datetime
) -> RatingInput:
    """What `rate_period` rates the period holding `at` from: the inputs a proof bundle states."""
    account_id = account_id_of(connection, tenant_id, account)
    return _rate_one(connection, tenant_id, account_id, account, at, now, {})[1]


def _rate_one(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    account: str,
    at: datetime,
    now: datetime,
    cache: dict[int, CompiledContract],
) -> tuple[Charges, RatingInput, CompiledContract, StoredVersion, Catalog]:
    history = account_versions(connection, tenant_id, account_id)
    version = in_force(history, at)
    if version is None:
        raise InvalidInput("account", f"account {account!r} has no contract in force then")
    catalog = load_catalog(connection, tenant_id)
    document = version.document
    period = _period_of(document, at)
    readings, flags = _readings(connection, tenant_id, document, period, now)
    registered = registered_names(connection, tenant_id)
    inputs = RatingInput(
        period=period,
        usage=_usage(connection, tenant_id, catalog, account_id, document, period, now),
        ledger_size=log_size(connection, tenant_id),
        outcomes=outcome_usage(connection, tenant_id, account_id, history, document, period, now),
        readings=readings,
        flags=flags,
        account=_attributes(connection, account_id),
        wallet_history=_wallet_history(
            connection, tenant_id, catalog, account_id, history, version, period, now, cache
        ),
        warnings=_warnings(document, registered),
    )
    terms = _compiled(version, cache)
    return rate(terms, version.version, version.leaf_index, inputs), inputs, terms, version, catalog


def rate_accounts(
    connection: Connection,
    tenant_id: int,
    at: datetime,
    now: datetime,
    only: frozenset[int] | None = None,
) -> Iterator[Charges]:
    """The charges of every account (of `only`, when given) with a contract in force at `at`,
    for its period holding `at`. Each meter's totals are read once per billing window for all
    accounts together."""
    catalog = load_catalog(connection, tenant_id)
    ledger_size = log_size(connection, tenant_id)
    cache: dict[int, CompiledContract] = {}
    due: list[tuple[int, list[StoredVersion], StoredVersion, BillingPeriod]] = []
    for account_id, history in tenant_versions(connection, tenant_id).items():
        if only is not None and account_id not in only:
            continue
        version = in_force(history, at)
        if version is not None:
            due.append((account_id, history, version, _period_of(version.document, at)))
    windows: dict[tuple[int, int], set[str]] = {}
    for _, _, version, period in due:
        windows.setdefault(_hours(period, now), set()).update(_meters_of(version.document))
    totals: dict[tuple[int, int, str], dict[int, list[GroupTotal]]] = {}
    for (start_hour, end_hour), keys in windows.items():
        for key in sorted(keys):
            compiled = _meter(catalog, key)
            totals[(start_hour, end_hour, key)] = window_totals(
                connection, tenant_id, compiled, start_hour, end_hour, None, now
            )
    people = _all_attributes(connection, tenant_id)
    registered = registered_names(connection, tenant_id)
    for account_id, history, version, period in due:
        start_hour, end_hour = _hours(period, now)
        document = version.document
        usage = {}
        for key in sorted(_meters_of(document)):
            groups = tuple(totals[(start_hour, end_hour, key)].get(account_id, ()))
            found = None
            if key in _per_transaction(document):
                found = tuple(
                    transactions(
                        connection,
                        tenant_id,
                        _meter(catalog, key),
                        account_id,
                        start_hour,
                        end_hour,
                    )
                )
            usage[key] = MeterUsage(key, groups, found)
        readings, flags = _readings(connection, tenant_id, document, period, now)
        inputs = RatingInput(
            period=period,
            usage=usage,
            ledger_size=ledger_size,
            outcomes=outcome_usage(
                connection, tenant_id, account_id, history, document, period, now
            ),
            readings=readings,
            flags=flags,
            account=people[account_id],
            wallet_history=_wallet_history(
                connection, tenant_id, catalog, account_id, history, version, period, now, cache
            ),
            warnings=_warnings(document, registered),
        )
        yield rate(_compiled(version, cache), version.version, version.leaf_index, inputs)


def _warnings(document: ContractDocument, registered: Registered) -> tuple[tuple[str, str], ...]:
    return tuple(undefined_warnings(document, registered))


def _meter(catalog: Catalog, key: str) -> Any:
    compiled = catalog.meters_by_key.get(key)
    if compiled is None:
        raise RatingError("meter", f"meter {key!r} of the contract no longer exists")
    return compiled


def _all_attributes(connection: Connection, tenant_id: int) -> dict[int, dict[str, Any]]:
    rows = connection.execute(
        select(accounts.c.id, accounts.c.external_id, accounts.c.name, accounts.c.attributes).where(
            accounts.c.tenant_id == tenant_id
        )
    )
    return {
        row.id: {
            "id": row.external_id,
            "name": row.name,
            "attributes": orjson.loads(row.attributes),
        }
        for row in rows
    }


def preview(connection: Connection, tenant_id: int, account: str, now: datetime) -> Preview:
    """Period-to-date charges at `now`, and a projection to the period's end at the run rate."""
    account_id = account_id_of(connection, tenant_id, account)
    charges, inputs, terms, version, catalog = _rate_one(
        connection, tenant_id, account_id, account, now, now, {}
    )
    factor = run_rate_factor(inputs.period, now)
    projected_usage = {
        key: project(usage, factor, catalog.meters_by_key[key].meter.aggregation)
        for key, usage in inputs.usage.items()
    }
    projected_inputs = RatingInput(
        period=inputs.period,
        usage=projected_usage,
        ledger_size=inputs.ledger_size,
        outcomes=inputs.outcomes,
        readings=inputs.readings,
        flags=inputs.flags,
        account=inputs.account,
        wallet_history=inputs.wallet_history,
        warnings=inputs.warnings,
    )
    projected = rate(terms, version.version, version.leaf_index, projected_inputs)
    return Preview(now, charges, projected, factor, inputs.usage)


def run_rate_factor(period: BillingPeriod, now: datetime) -> Decimal:
    """Period length over elapsed time, both in whole hours (usage is rolled up by the hour),
    to six decimals."""
    length = (period.end - period.start) // _HOUR
    elapsed = math.ceil(max(0.0, (min(now, period.end) - period.start) / _HOUR))
    exact = Decimal(length) / Decimal(max(1, elapsed))
    return exact.quantize(_SIX_PLACES, rounding=ROUND_HALF_EVEN)


def project(usage: MeterUsage, factor: Decimal, aggregation: Aggregation) -> MeterUsage:
    """Usage at period end if it goes on at the rate so far: additive meters scale, others
    (a maximum, a distinct count, the latest value) stay as they are."""
    if aggregation not in _ADDITIVE or factor == 1:
        return usage
    groups = tuple(
        GroupTotal(
            g.dims,
            (g.value * factor).quantize(_SIX_PLACES, rounding=ROUND_HALF_EVEN),
            g.events,
            g.first_leaf,
            g.last_leaf,
        )
        for g in usage.groups
    )
    return MeterUsage(usage.meter, groups, usage.transactions)
