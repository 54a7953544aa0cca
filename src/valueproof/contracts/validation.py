"""Whole-document validation of contracts, and their CEL compiled for rating.

Every problem is reported with its field path (`components[1].tiers[2]`), never just the first,
and nothing is stored unless the whole document passes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from valueproof.contracts.conditions import (
    FILTER_VARIABLES,
    WHEN_VARIABLES,
    Condition,
    check_functions,
    compile_condition,
)
from valueproof.contracts.document import (
    USAGE_TYPES,
    ContractDocument,
    Graduated,
    GraduatedPercentage,
    Percentage,
    PercentTier,
    PrepaidCredits,
    Tier,
    Volume,
)
from valueproof.contracts.errors import ContractInvalid
from valueproof.documents import load_document
from valueproof.errors import DocumentUnreadable, field_path, validation_reason
from valueproof.money import currency
from valueproof.outcomes.cel_types import (
    BOOL,
    DOUBLE,
    DYN,
    INT,
    STRING,
    CelType,
    map_of,
    record,
    type_problems,
)


def read_contract(text: str) -> ContractDocument:
    """Parse a contract written as JSON or YAML, then validate it."""
    try:
        data = load_document(text)
    except DocumentUnreadable as error:
        raise ContractInvalid([("(document)", str(error))]) from None
    return parse_contract(data)


def parse_contract(data: Any) -> ContractDocument:
    """Validate a contract document; every problem is reported with its field path."""
    if not isinstance(data, dict):
        raise ContractInvalid([("(document)", "a contract is a mapping (YAML or JSON object)")])
    code = data.get("currency")
    context = {"currency": code} if isinstance(code, str) else {}
    try:
        document = ContractDocument.model_validate(data, context=context)
    except ValidationError as error:
        raise ContractInvalid(
            [
                (field_path(_location(e["loc"])) or "(document)", validation_reason(e))
                for e in error.errors()
            ]
        ) from None
    problems = [
        *_money_problems(document),
        *_structure_problems(document),
        *_condition_problems(document),
    ]
    if problems:
        raise ContractInvalid(problems)
    return document


@dataclass(frozen=True, slots=True)
class CompiledContract:
    """A contract with its CEL compiled: `filters` and `whens` by component (or discount) id."""

    document: ContractDocument
    filters: Mapping[str, Condition]
    whens: Mapping[str, Condition]


def compile_contract(document: ContractDocument) -> CompiledContract:
    """Compile every CEL expression of a contract that `parse_contract` accepted."""
    filters: dict[str, Condition] = {}
    whens: dict[str, Condition] = {}
    for path, key, source, variables in _expressions(document):
        compiled = compile_condition(source, path, variables)
        (filters if variables is FILTER_VARIABLES else whens)[key] = compiled
    return CompiledContract(document, filters, whens)


def _expressions(document: ContractDocument) -> Iterator[tuple[str, str, str, frozenset[str]]]:
    """(field path, owner key, source, variables) of each CEL expression."""
    for i, c in enumerate(document.components):
        if c.when is not None:
            yield f"components[{i}].when", c.id, c.when, WHEN_VARIABLES
        source = getattr(c, "filter", None)
        if source is not None:
            yield f"components[{i}].filter", c.id, source, FILTER_VARIABLES
    for i, d in enumerate(document.discounts):
        if d.when is not None:
            yield f"discounts[{i}].when", f"discount:{d.id}", d.when, WHEN_VARIABLES


# The types of what a condition sees (inputs.when_context, inputs.group_values): usage totals
# are doubles, the period's instants RFC 3339 text, group values and attributes any JSON.
_SCHEMAS: dict[frozenset[str], dict[str, CelType]] = {
    FILTER_VARIABLES: {"group": map_of(STRING, DYN)},
    WHEN_VARIABLES: {
        "usage": map_of(STRING, DOUBLE),
        "period": record(index=INT, start=STRING, end=STRING, days=INT, partial=BOOL),
        "account": record(id=STRING, name=STRING, attributes=map_of(STRING, DYN)),
    },
}
_SAMPLES: dict[frozenset[str], dict[str, Any]] = {
    FILTER_VARIABLES: {"group": {}},
    WHEN_VARIABLES: {"usage": {}, "period": {}, "account": {}},
}


def _condition_problems(document: ContractDocument) -> list[tuple[str, str]]:
    problems = []
    for path, _key, source, variables in _expressions(document):
        try:
            check_functions(compile_condition(source, path, variables), _SAMPLES[variables])
        except ValueError as error:
            problems.append((path, str(error)))
            continue
        problems += [(path, clash) for clash in type_problems(source, _SCHEMAS[variables], BOOL)]
    return problems


def _location(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Pydantic's error location as our field path: without the union member it tried
    (`components.0.graduated.tiers`) and with `from` for the aliased field."""
    kept: list[int | str] = []
    for part in loc:
        member = len(kept) >= 2 and kept[-2] == "components" and isinstance(kept[-1], int)
        if member and part in _TYPES:
            continue
        kept.append("from" if part == "from_" else part)
    return tuple(kept)


_TYPES = frozenset(
    {
        "flat",
        "per_unit",
        "graduated",
        "volume",
        "package",
        "percentage",
        "graduated_percentage",
        "commitment",
        "prepaid_credits",
        "per_outcome",
        "gain_share",
        "seats",
    }
)


def _money_problems(document: ContractDocument) -> list[tuple[str, str]]:
    """Fixed amounts must be whole minor units of the contract currency."""
    money = currency(document.currency)
    problems = []
    for path, value in _amounts(document):
        if not money.fits(value):
            problems.append(
                (path, f"{value} has more decimals than {money.code} allows ({money.exponent})")
            )
    return problems


def _amounts(document: ContractDocument) -> list[tuple[str, Decimal]]:
    found: list[tuple[str, Decimal]] = []
    if document.invoice_maximum is not None:
        found.append(("invoice_maximum", document.invoice_maximum))
    for i, c in enumerate(document.components):
        at = f"components[{i}]"
        for name in ("amount", "minimum", "max_amount", "floor", "cap"):
            value = getattr(c, name, None)
            if isinstance(value, Decimal) and not isinstance(c, Percentage):
                found.append((f"{at}.{name}", value))
        for j, tier in enumerate(getattr(c, "tiers", ())):
            if isinstance(tier, Tier | PercentTier):
                found.append((f"{at}.tiers[{j}].flat_fee", tier.flat_fee))
        if isinstance(c, PrepaidCredits):
            found += [(f"{at}.grants[{j}].amount", g.amount) for j, g in enumerate(c.grants)]
            if c.recurring is not None:
                found.append((f"{at}.recurring.amount", c.recurring.amount))
                if c.recurring.rollover_cap is not None:
                    found.append((f"{at}.recurring.rollover_cap", c.recurring.rollover_cap))
    for i, d in enumerate(document.discounts):
        if d.amount is not None:
            found.append((f"discounts[{i}].amount", d.amount))
    return found


def _structure_problems(document: ContractDocument) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    ids: dict[str, int] = {}
    for i, c in enumerate(document.components):
        if c.id in ids:
            problems.append((f"components[{i}].id", f"{c.id!r} is also components[{ids[c.id]}]"))
        ids.setdefault(c.id, i)
        tiers = c.tiers if isinstance(c, Graduated | Volume | GraduatedPercentage) else None
        for j, tier_problem in _tier_problems(tiers):
            problems.append((f"components[{i}].tiers[{j}]", tier_problem))
    usage = {c.id for c in document.components if c.type in USAGE_TYPES}
    for i, c in enumerate(document.components):
        for j, target in enumerate(getattr(c, "applies_to", None) or ()):
            problems += _reference(f"components[{i}].applies_to[{j}]", target, ids, c.id)
        if c.type in ("commitment", "prepaid_credits") and c.applies_to is None and not usage:
            problems.append((f"components[{i}].applies_to", "the contract has no usage component"))
    for i, d in enumerate(document.discounts):
        for j, target in enumerate(d.applies_to or ()):
            problems += _reference(f"discounts[{i}].applies_to[{j}]", target, ids, None)
    credits = [i for i, c in enumerate(document.components) if c.type == "prepaid_credits"]
    if len(credits) > 1:
        problems.append((f"components[{credits[1]}]", "a contract has at most one credit wallet"))
    if document.term.end is not None and document.starts >= document.term.end:
        problems.append(("effective_from", "must be before the term end"))
    if document.effective_from is not None and document.effective_from < document.term.start:
        problems.append(("effective_from", "must not be before the term start"))
    return problems


def _reference(
    path: str, target: str, ids: dict[str, int], own: str | None
) -> list[tuple[str, str]]:
    if target not in ids:
        return [(path, f"no component has id {target!r}")]
    if target == own:
        return [(path, "a component cannot apply to itself")]
    return []


def _tier_problems(tiers: Sequence[Tier | PercentTier] | None) -> list[tuple[int, str]]:
    """Tiers start at 0, each starts where the previous ends, and only the last is open-ended."""
    if not tiers:
        return []
    problems: list[tuple[int, str]] = []
    previous: Decimal | None = Decimal(0)
    for j, tier in enumerate(tiers):
        start = tier.from_ if tier.from_ is not None else previous
        if previous is None:
            problems.append((j, "follows an open-ended tier (up_to: null)"))
            break
        if start is not None and start > previous:
            problems.append((j, f"gap: units above {previous} up to {start} have no tier"))
        elif start is not None and start < previous:
            problems.append((j, f"overlaps the previous tier: from {start} is below {previous}"))
        if tier.up_to is not None and tier.up_to <= (start or Decimal(0)):
            problems.append((j, f"up_to {tier.up_to} is not above from {start}"))
        previous = tier.up_to
    if previous is not None and not problems:
        problems.append((len(tiers) - 1, "the last tier must be open-ended (up_to: null)"))
    return problems
