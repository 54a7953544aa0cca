"""What rating reads of outcomes for one account and period: the accepted outcomes that still
stand, and the credits owed for earlier periods' outcomes that upheld disputes voided since.

An outcome counts in the period it occurred in, unless a dispute upheld before that period
ended voided it. One voided later was billed already: the period in which it was voided owes
a credit, the difference between the earlier period's per-outcome charge with and without it
(under that period's own terms). Rating a closed period again therefore gives the same lines,
and the credits of successive periods add up to exactly what the voids took off.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection

from valueproof.contracts.document import ContractDocument, PerOutcome
from valueproof.contracts.inputs import OutcomeCredit, OutcomeUsage
from valueproof.contracts.lines import leaf_ranges
from valueproof.contracts.registry import StoredVersion, in_force
from valueproof.outcomes.disputes import VoidedOutcome, billable_outcomes, voided_between
from valueproof.periods import BillingPeriod, billing_period_at, from_micros, to_micros

__all__ = ["outcome_usage"]

_INSTANT = timedelta(microseconds=1)


def outcome_usage(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    history: Sequence[StoredVersion],
    document: ContractDocument,
    period: BillingPeriod,
    now: datetime,
) -> dict[str, OutcomeUsage]:
    """Each per-outcome component's standing outcomes of the period so far, with the span of
    their verdicts' leaves, and its credits for earlier periods."""
    keys = {c.outcome for c in document.components if isinstance(c, PerOutcome)}
    if not keys:
        return {}
    start_us = to_micros(period.start)
    end_us = to_micros(min(period.end, now + _INSTANT))
    found = billable_outcomes(
        connection,
        tenant_id,
        account_id,
        document.contract,
        start_us,
        end_us,
        to_micros(period.end),
    )
    earlier: dict[str, list[VoidedOutcome]] = {}
    for voided in voided_between(
        connection, tenant_id, account_id, document.contract, start_us, end_us
    ):
        if voided.occurred_at_us < start_us and voided.outcome in keys:
            earlier.setdefault(voided.outcome, []).append(voided)
    usage = {}
    for key in sorted(keys):
        count, first, last = found.get(key, (0, 0, 0))
        credits = _credits(
            connection,
            tenant_id,
            account_id,
            history,
            document.contract,
            key,
            earlier.get(key, []),
            start_us,
            end_us,
        )
        leaves = ((first, last),) if count else ()
        usage[key] = OutcomeUsage(key, count, leaves, credits)
    return usage


def _credits(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    history: Sequence[StoredVersion],
    contract: str,
    outcome: str,
    voided: Sequence[VoidedOutcome],
    start_us: int,
    end_us: int,
) -> tuple[OutcomeCredit, ...]:
    """One credit per earlier period that lost outcomes in [start_us, end_us), oldest first."""
    periods: dict[BillingPeriod, tuple[PerOutcome, list[int]]] = {}
    for item in voided:
        moment = from_micros(item.occurred_at_us)
        version = in_force(history, moment)
        if version is None or version.document.contract != contract:
            continue  # no terms priced it then: nothing was billed, nothing to credit
        component = _component(version.document, outcome)
        earlier = _period_of(version.document, moment)
        if component is None or earlier is None:
            continue
        periods.setdefault(earlier, (component, []))[1].append(item.leaf_index)
    credits = []
    for earlier, (component, leaves) in sorted(periods.items(), key=lambda p: p[0].start):
        span = (to_micros(earlier.start), to_micros(earlier.end))
        billed = billable_outcomes(
            connection, tenant_id, account_id, contract, *span, start_us
        ).get(outcome, (0, 0, 0))[0]
        standing = billable_outcomes(
            connection, tenant_id, account_id, contract, *span, end_us
        ).get(outcome, (0, 0, 0))[0]
        credit = OutcomeCredit(
            earlier.start,
            earlier.end,
            billed,
            standing,
            component.unit_price,
            component.max_count,
            component.max_amount,
            leaf_ranges((n, n) for n in leaves),
        )
        credits.append(credit)
    return tuple(credits)


def _component(document: ContractDocument, outcome: str) -> PerOutcome | None:
    for component in document.components:
        if isinstance(component, PerOutcome) and component.outcome == outcome:
            return component
    return None


def _period_of(document: ContractDocument, moment: datetime) -> BillingPeriod | None:
    return billing_period_at(
        document.term.start,
        document.term.end,
        document.billing.period,
        document.billing.anchor_day,
        moment,
    )
