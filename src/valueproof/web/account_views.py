"""What an account's page shows beside its usage: the contract in force with its key terms, the
latest health score with what drove it, and the success plan with the customer's adherence.

Each is read with the same domain functions the HTTP API answers from (`contracts.registry`,
`success.reads`, `success.plans`); this module only shapes them for the template.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from valueproof.contracts.document import (
    Commitment,
    Flat,
    GainShare,
    Graduated,
    Package,
    Percentage,
    PerOutcome,
    PerUnit,
    PrepaidCredits,
    Seats,
    Volume,
)
from valueproof.contracts.registry import StoredVersion, account_versions, in_force
from valueproof.errors import InvalidInput
from valueproof.periods import to_micros
from valueproof.success.plans import Adherence, StoredAction, adherence_of, plan, standing
from valueproof.success.reads import health_of
from valueproof.success.settings import SCORECARD, load_setting
from valueproof.tenancy.accounts import Account

__all__ = [
    "ContractView",
    "PlanView",
    "component_terms",
    "contract_view",
    "health_view",
    "plan_view",
]


@dataclass(frozen=True, slots=True)
class ContractView:
    """The contract version in force and each component's terms in one line."""

    version: StoredVersion
    terms: list[tuple[str, str, str]]  # (component id, type, terms)
    discounts: list[str]


@dataclass(frozen=True, slots=True)
class PlanView:
    """The plan as it stood at a moment: each action with its standing, and the adherence."""

    actions: list[tuple[StoredAction, str]]  # (action, standing then)
    adherence: Adherence


def contract_view(
    connection: Connection, tenant_id: int, account: Account, at: datetime
) -> ContractView | None:
    """The account's contract version in force at `at`, if any."""
    version = in_force(account_versions(connection, tenant_id, account.id), at)
    if version is None:
        return None
    document = version.document
    terms: list[tuple[str, str, str]] = [
        (component.id, str(component.type), component_terms(component, document.currency))
        for component in document.components
    ]
    discounts = [
        f"{d.id}: {_number(d.percent)} %" if d.percent is not None else f"{d.id}: {d.amount}"
        for d in document.discounts
    ]
    return ContractView(version, terms, discounts)


def component_terms(component: Any, currency: str) -> str:
    """A component's key terms in words, e.g. "40.00 USD per accepted qualified_lead"."""
    match component:
        case Flat():
            return f"{component.amount} {currency} a period"
        case PerUnit():
            price = f"{component.unit_price} {currency} per unit of {component.meter}"
            return price + _filter(component)
        case Graduated() | Volume():
            first = component.tiers[0].unit_price
            return (
                f"{len(component.tiers)} {component.type} tiers on {component.meter}, "
                f"from {first} {currency}" + _filter(component)
            )
        case Package():
            return (
                f"{component.package_price} {currency} per {_number(component.package_size)} "
                f"{component.meter}"
            )
        case Percentage():
            return f"{_number(component.percent)} % of {component.meter}"
        case Commitment():
            return f"minimum {component.minimum} {currency} a period"
        case PrepaidCredits():
            recurring = component.recurring
            grants = sum((grant.amount for grant in component.grants), Decimal(0))
            if recurring is not None:
                return f"{recurring.amount} {currency} of prepaid credit a period"
            return f"{grants} {currency} of prepaid credit"
        case PerOutcome():
            caps = f", at most {component.max_count} a period" if component.max_count else ""
            return f"{component.unit_price} {currency} per accepted {component.outcome}{caps}"
        case GainShare():
            tiers = ", ".join(
                f"{_number(t.percent)} % from {_number(t.threshold)} {component.improvement}"
                for t in component.tiers
            )
            cap = f", capped at {component.cap} {currency}" if component.cap is not None else ""
            unit = "point" if component.improvement == "points" else "percent"
            worth = f"one {unit} is worth {component.value_per_unit} {currency}"
            return f"share of the gain in {component.metric}: {tiers}; {worth}{cap}"
        case Seats():
            return f"{component.unit_price} {currency} per seat"
    return str(getattr(component, "type", "component"))


def _filter(component: Any) -> str:
    return f" where {component.filter}" if component.filter else ""


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def health_view(connection: Connection, tenant_id: int, account: Account) -> dict[str, Any] | None:
    """The latest health score (`success.reads.health_of`) with each measure's label from the
    tenant's scorecard (its key when it has none); None until a refresh has scored the account."""
    try:
        found = health_of(connection, tenant_id, account.id)
    except InvalidInput:
        return None
    scorecard = load_setting(connection, tenant_id, "scorecards", SCORECARD)
    segment = scorecard.segments.get(found["scorecard"])
    labels = {m.key: m.label for m in scorecard.measures}
    labels |= {m.key: m.label for m in (segment.measures if segment else [])}
    measures = [
        {**measure, "label": labels.get(measure["key"]) or measure["key"]}
        for measure in found["measures"]
    ]
    return {**found, "measures": measures}


def plan_view(connection: Connection, tenant_id: int, account: Account, at: datetime) -> PlanView:
    """The account's success plan as it stood at `at`, each action with its standing then."""
    as_of = to_micros(at)
    actions = plan(connection, tenant_id, account.id, as_of)
    ordered = sorted(actions, key=lambda s: (s.action.due, s.action.key))
    return PlanView(
        [(s, standing(s.action, as_of)) for s in ordered],
        adherence_of(account.external_id, actions, as_of),
    )
