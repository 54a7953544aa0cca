"""What rating reads for one account and period: usage per meter, outcomes, KPI readings.

Plain values, gathered by the shell in one consistent read of the store (`contracts.gather`) or
built by hand in tests and simulations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from valueproof.contracts.wallet import WalletPeriod
from valueproof.metering.totals import GroupTotal, Transaction
from valueproof.periods import BillingPeriod, format_rfc3339

__all__ = ["MeterUsage", "OutcomeCredit", "OutcomeUsage", "RatingInput", "Reading", "when_context"]


@dataclass(frozen=True, slots=True)
class MeterUsage:
    """One meter's usage of the account in the period, per group; with each transaction's
    amount when a price looks at transactions one by one (a per-transaction minimum, say)."""

    meter: str
    groups: tuple[GroupTotal, ...] = ()
    transactions: tuple[Transaction, ...] | None = None

    @property
    def total(self) -> Decimal:
        return sum((group.value for group in self.groups), Decimal(0))


@dataclass(frozen=True, slots=True)
class OutcomeCredit:
    """Outcomes of an earlier period that upheld disputes voided in this one. `billed` is that
    period's count as it stood when this period began, `standing` what is left of it now: the
    credit is the difference of that period's per-outcome charge, under that period's terms
    (so a count cap that held then is honoured)."""

    period_start: datetime
    period_end: datetime
    billed: int
    standing: int
    unit_price: Decimal
    max_count: int | None = None
    max_amount: Decimal | None = None
    leaves: tuple[tuple[int, int], ...] = ()  # the resolutions that voided them


@dataclass(frozen=True, slots=True)
class OutcomeUsage:
    """Outcomes of one type: those accepted in the period and still standing, and the credits
    owed for earlier periods' outcomes voided in this one."""

    outcome: str
    accepted: int
    leaves: tuple[tuple[int, int], ...] = ()
    credits: tuple[OutcomeCredit, ...] = ()


@dataclass(frozen=True, slots=True)
class Reading:
    """An oracle's reading of a KPI, as verified and put on the ledger."""

    metric: str
    value: Decimal
    as_of: datetime
    leaf_index: int | None = None
    leaves: tuple[int, ...] = ()  # for a value aggregated from several sources: all their leaves


@dataclass(frozen=True, slots=True)
class RatingInput:
    """Everything a period's charges depend on."""

    period: BillingPeriod
    usage: Mapping[str, MeterUsage]
    ledger_size: int
    outcomes: Mapping[str, OutcomeUsage] = field(default_factory=dict)
    readings: Mapping[str, Sequence[Reading]] = field(default_factory=dict)
    account: Mapping[str, Any] = field(default_factory=dict)
    # Metrics whose readings give no number this period (sources disagree, too few), and why.
    flags: Mapping[str, str] = field(default_factory=dict)
    # The term's earlier periods with the charges the credit wallet covered: today's balance
    # depends on them.
    wallet_history: tuple[WalletPeriod, ...] = ()
    # (field path, reason) of what the terms name but the tenant never defined: the charges
    # carry them, so that a component billing 0 for want of a definition says so.
    warnings: tuple[tuple[str, str], ...] = ()


def when_context(inputs: RatingInput) -> dict[str, Any]:
    """The variables a `when` condition sees. Numbers are CEL doubles: conditions compare,
    they never compute money."""
    period = inputs.period
    return {
        "usage": {key: float(usage.total) for key, usage in inputs.usage.items()},
        "period": {
            "index": period.index,
            "start": format_rfc3339(period.start),
            "end": format_rfc3339(period.end),
            "days": (period.end - period.start).days,
            "partial": period.partial,
        },
        "account": dict(inputs.account),
    }


def group_values(dims: str) -> dict[str, Any]:
    """The group-by values of a group, as a `filter` condition sees them."""
    values: dict[str, Any] = orjson.loads(dims)
    return values
