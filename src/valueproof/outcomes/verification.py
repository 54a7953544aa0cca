"""Verification of claimed outcomes: a claim in, a verdict with every reason out.

Pure: the store passes the lookups (is this hash in the customer's known set, which earlier claim
had this dedupe key) as functions, and records the verdict. A claim is accepted, and billable,
only when no check finds a reason to refuse it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from valueproof.errors import InvalidInput
from valueproof.outcomes.definitions import (
    CEL_ERRORS,
    AttributeType,
    CompiledDefinition,
    Expression,
    describe_error,
)
from valueproof.periods import format_rfc3339, parse_rfc3339

__all__ = [
    "CLOCK_SKEW",
    "REASON_CODES",
    "Claim",
    "Examined",
    "Reason",
    "Verdict",
    "check_attributes",
    "conclude",
    "criteria_check",
    "examine",
    "failing_criteria",
    "failing_criteria_batch",
    "verify",
]

REASON_CODES = (
    "invalid_attribute",
    "criterion_failed",
    "already_known",
    "duplicate",
    "outside_window",
)
CLOCK_SKEW = timedelta(minutes=5)  # how far in the future of its submission a claim may occur
MAX_STRING = 10_000
_INT64 = (-(2**63), 2**63 - 1)  # CEL's int; the `cel` package turns larger ints into doubles


@dataclass(frozen=True, slots=True)
class Claim:
    """One claimed outcome as the vendor submits it; times are aware datetimes."""

    id: str
    account: str
    outcome: str
    occurred_at: datetime
    attributes: Mapping[str, Any]
    submitted_at: datetime

    def __post_init__(self) -> None:
        if self.occurred_at.utcoffset() is None or self.submitted_at.utcoffset() is None:
            name = "occurred_at" if self.occurred_at.utcoffset() is None else "submitted_at"
            raise InvalidInput(name, "must be an aware datetime (naive times are refused)")


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a claim is refused: `code` is one of REASON_CODES, `field` what it concerns."""

    code: str
    field: str
    detail: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of verifying one claim; accepted exactly when there are no reasons."""

    claim_id: str
    accepted: bool
    reasons: tuple[Reason, ...]
    dedupe_key: str | None
    known_hash: str | None


@dataclass(frozen=True, slots=True)
class Examined:
    """A claim checked against its definition: every reason but the two the store's lookups
    give, in verdict order around them, and the keys to look up."""

    claim: Claim
    reasons: tuple[Reason, ...]  # attributes, criteria, a known_key that cannot be computed
    known_value: str | None  # the known_key's value, when the account has a known set
    key_reasons: tuple[Reason, ...]  # a dedupe_key that cannot be computed
    dedupe_key: str | None
    window: tuple[Reason, ...]


def verify(
    compiled: CompiledDefinition,
    claim: Claim,
    *,
    is_known: Callable[[str], bool],
    earlier: Callable[[str], str | None],
    known_hash_of: Callable[[str], str] | None,
) -> Verdict:
    """Every reason that applies to `claim`, not just the first.

    `is_known(hash)`: whether the customer's known set holds the hash; `earlier(key)`: the id of
    an earlier claim with this dedupe key, or None; `known_hash_of(value)`: the known-set hash
    of a known_key value (knownset.hasher), None when the account has no known set.
    """
    [examined] = examine(compiled, [claim], known_sets=[known_hash_of is not None])
    known_hash = None
    if examined.known_value is not None and known_hash_of is not None:
        known_hash = known_hash_of(examined.known_value)
    first = None if examined.dedupe_key is None else earlier(examined.dedupe_key)
    return conclude(
        compiled,
        examined,
        known_hash=known_hash,
        known=known_hash is not None and is_known(known_hash),
        earlier=first,
    )


def examine(
    compiled: CompiledDefinition, claims: Sequence[Claim], *, known_sets: Sequence[bool]
) -> list[Examined]:
    """The first stage of `verify` for a batch of claims, each expression run once per batch.

    `known_sets[i]`: whether claim i's account has a known set (its known_key is computed).
    """
    definition = compiled.definition
    for claim in claims:
        if claim.outcome != definition.outcome:
            raise InvalidInput("outcome", f"{claim.outcome!r} is not {definition.outcome!r}")
    checked = [check_attributes(compiled, claim.attributes) for claim in claims]
    typed = [attributes for attributes, _ in checked]
    invalid = [{r.field.removeprefix("attributes.") for r in found} for _, found in checked]
    failing = failing_criteria_batch(compiled, typed)
    reasons = [
        found
        + [
            _failed(compiled, criterion, attributes, result)
            for criterion, result in failures
            if bad.isdisjoint(criterion.reads)  # an invalid attribute is already a reason
        ]
        for (attributes, found), bad, failures in zip(checked, invalid, failing, strict=True)
    ]
    known_values: list[str | None] = [None] * len(claims)
    if compiled.known_key is not None:
        wanted = [i for i, has_set in enumerate(known_sets) if has_set]
        known = _keys(compiled, compiled.known_key, typed, invalid, wanted)
        for i, value in zip(wanted, known, strict=True):
            if isinstance(value, Reason):
                reasons[i].append(value)
            else:
                known_values[i] = value
    everyone = range(len(claims))
    dedupe = _keys(compiled, compiled.dedupe_key, typed, invalid, everyone)
    return [
        Examined(
            claim,
            tuple(reasons[i]),
            known_values[i],
            (key,) if isinstance(key, Reason) else (),
            key if isinstance(key, str) else None,
            tuple(_window_reasons(compiled, claim)),
        )
        for i, (claim, key) in enumerate(zip(claims, dedupe, strict=True))
    ]


def conclude(
    compiled: CompiledDefinition,
    examined: Examined,
    *,
    known_hash: str | None,
    known: bool,
    earlier: str | None,
) -> Verdict:
    """The verdict of an examined claim given the lookups: whether the customer's known set
    holds `known_hash`, and the id of an earlier claim with its dedupe key (or None)."""
    claim_id = examined.claim.id
    if not known and not examined.key_reasons and (earlier is None or earlier == claim_id):
        found = examined.reasons + examined.window  # the usual case: the lookups add nothing
        return Verdict(claim_id, not found, found, examined.dedupe_key, known_hash)
    definition = compiled.definition
    reasons = list(examined.reasons)
    if known:
        detail = f"the customer's known set holds this claim's {definition.known_key}"
        reasons.append(Reason("already_known", "known_key", detail))
    reasons += examined.key_reasons
    if earlier is not None and earlier != claim_id:
        detail = f"claim {earlier} came earlier with the same {definition.dedupe_key}"
        reasons.append(Reason("duplicate", "dedupe_key", detail))
    reasons += examined.window  # with a lookup's reason at least: not accepted
    return Verdict(claim_id, False, tuple(reasons), examined.dedupe_key, known_hash)


def criteria_check(compiled: CompiledDefinition, attributes: Mapping[str, Any]) -> list[Reason]:
    """A `criterion_failed` reason for each criterion the checked `attributes` fail.

    Which criteria fail is `failing_criteria`; this adds what each one read.
    """
    return [
        _failed(compiled, criterion, attributes, result)
        for criterion, result in failing_criteria(compiled, attributes)
    ]


def failing_criteria(
    compiled: CompiledDefinition, attributes: Mapping[str, Any]
) -> list[tuple[Expression, Any]]:
    """The criteria the checked `attributes` fail, each with what it gave (or its error)."""
    if compiled.all_criteria is None:
        return []
    try:
        # One run for a claim that meets every criterion (CEL's && is true only then).
        if compiled.run(compiled.all_criteria, attributes, compiled.all_flat) is True:
            return []
    except CEL_ERRORS:
        pass  # some criterion cannot be evaluated: each one says which
    return failing_criteria_batch(compiled, [attributes])[0]


def failing_criteria_batch(
    compiled: CompiledDefinition, batch: Sequence[Mapping[str, Any]]
) -> list[list[tuple[Expression, Any]]]:
    """failing_criteria of each checked attributes of `batch`: the hot path, each criterion
    run once per distinct set of the values it reads (CompiledDefinition.run_each)."""
    failing: list[list[tuple[Expression, Any]]] = [[] for _ in batch]
    for criterion in compiled.criteria:
        for found, result in zip(failing, compiled.run_each(criterion, batch), strict=True):
            if result is not True:
                found.append((criterion, result))
    return failing


def check_attributes(
    compiled: CompiledDefinition, attributes: Mapping[str, Any]
) -> tuple[dict[str, Any], list[Reason]]:
    """The attributes typed as the definition declares them, and a reason for each that is not.

    Integers are ints (not booleans, not 50.0), numbers become floats, timestamps are parsed
    from RFC 3339 into UTC; required attributes must be present and undeclared ones are refused.
    A null value counts as not given. Reasons come in the definition's order.
    """
    specs = compiled.definition.attributes
    typed: dict[str, Any] = {}
    reasons: list[Reason] = []
    for name, spec in specs.items():
        value = attributes.get(name)
        if value is None:
            if spec.required:
                reasons.append(Reason("invalid_attribute", f"attributes.{name}", "is required"))
            continue
        problem = _typed(spec.type, value)
        if isinstance(problem, _Problem):
            reasons.append(Reason("invalid_attribute", f"attributes.{name}", problem.text))
        else:
            typed[name] = problem
    outcome = compiled.definition.outcome
    for name in sorted(str(name) for name in attributes if name not in specs):
        detail = f"is not an attribute of {outcome!r} outcomes"
        reasons.append(Reason("invalid_attribute", f"attributes.{name}", detail))
    return typed, reasons


@dataclass(frozen=True, slots=True)
class _Problem:
    text: str


def _typed(kind: AttributeType, value: Any) -> Any:
    """`value` as an attribute of type `kind`, or the _Problem with it."""
    if kind is AttributeType.STRING:
        if not isinstance(value, str):
            return _Problem(f"must be a string, not {_json_kind(value)}")
        if len(value) > MAX_STRING:
            return _Problem(f"is {len(value)} characters; at most {MAX_STRING}")
        return value
    if kind is AttributeType.BOOLEAN:
        if not isinstance(value, bool):
            return _Problem(f"must be true or false, not {_json_kind(value)}")
        return value
    if kind is AttributeType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            return _Problem(f"must be an integer, not {_json_kind(value)}")
        if not _INT64[0] <= value <= _INT64[1]:
            return _Problem("is outside the 64-bit integer range")
        return value
    if kind is AttributeType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return _Problem(f"must be a number, not {_json_kind(value)}")
        number = float(value) if abs(value) < 1e308 else math.inf
        return number if math.isfinite(number) else _Problem("must be a finite number")
    return _timestamp(value)


def _timestamp(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            return _Problem("must be an aware datetime")
        return value
    if not isinstance(value, str):
        return _Problem(f"must be an RFC 3339 timestamp, not {_json_kind(value)}")
    try:
        return parse_rfc3339(value)
    except (ValueError, OverflowError):
        # Not the parser's message: it quotes the value, and a personal one must not be echoed.
        return _Problem("must be an RFC 3339 date-time with a UTC offset or Z")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _failed(
    compiled: CompiledDefinition, criterion: Expression, attributes: Mapping[str, Any], result: Any
) -> Reason:
    """The reason for a criterion that gave `result` (false, not a boolean, or an error)."""
    if isinstance(result, CEL_ERRORS):
        outcome = f"failed: {describe_error(result, criterion)}"
    elif result is False:
        outcome = "is false"
    else:
        outcome = f"gave {result!r}, not true or false"
    detail = f"{criterion.name}: {criterion.source} {outcome}"
    field = f"criteria.{criterion.name}"
    return Reason("criterion_failed", field, detail + _values(compiled, criterion, attributes))


def _values(
    compiled: CompiledDefinition, expression: Expression, attributes: Mapping[str, Any]
) -> str:
    """` (employees = 20, region = not set)`: what the expression read; personal data hidden."""
    specs = compiled.definition.attributes
    shown = []
    for name in expression.reads:
        if specs[name].personal:
            shown.append(f"{name} = (personal)")
        elif name not in attributes:
            shown.append(f"{name} = not set")
        else:
            shown.append(f"{name} = {_shown(attributes[name])}")
    return f" ({', '.join(shown)})" if shown else ""


def _shown(value: Any) -> str:
    if isinstance(value, datetime):
        return format_rfc3339(value)
    if isinstance(value, str) and len(value) > 80:
        value = value[:77] + "..."
    return orjson.dumps(value).decode() if not isinstance(value, float) else repr(value)


def _keys(
    compiled: CompiledDefinition,
    expression: Expression,
    typed: Sequence[Mapping[str, Any]],
    invalid: Sequence[set[str]],
    wanted: Sequence[int],
) -> list[str | Reason | None]:
    """Per wanted claim, the key's value, or the reason it cannot be computed; None when it
    reads an attribute that is already a reason."""
    computable = [i for i in wanted if invalid[i].isdisjoint(expression.reads)]
    results = compiled.run_each(expression, [typed[i] for i in computable])
    values = dict(zip(computable, results, strict=True))
    found: list[str | Reason | None] = []
    for i in wanted:
        if i not in values:
            found.append(None)
            continue
        value = values[i]
        if isinstance(value, CEL_ERRORS):
            problem = f"{expression.source} failed: {describe_error(value, expression)}"
        elif isinstance(value, str) and value:
            found.append(value)
            continue
        else:
            gave = "an empty string" if value == "" else _json_kind(value)
            problem = f"{expression.source} gave {gave}, not a non-empty string"
        found.append(Reason("invalid_attribute", expression.name, problem))
    return found


def _window_reasons(compiled: CompiledDefinition, claim: Claim) -> list[Reason]:
    """occurred_at <= submitted_at (+ clock skew) <= occurred_at + the verification window."""
    window = timedelta(days=compiled.definition.verification_window_days)
    occurred, submitted = claim.occurred_at, claim.submitted_at
    if occurred > submitted + CLOCK_SKEW:
        detail = (
            f"occurred_at {format_rfc3339(occurred)} is in the future of its submission"
            f" at {format_rfc3339(submitted)}"
        )
        return [Reason("outside_window", "occurred_at", detail)]
    if submitted > occurred + window:
        detail = (
            f"submitted {format_rfc3339(submitted)}, more than {window.days} days after it"
            f" occurred at {format_rfc3339(occurred)}"
        )
        return [Reason("outside_window", "occurred_at", detail)]
    return []
