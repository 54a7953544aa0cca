"""Verification of claimed outcomes: a claim in, a verdict with every reason out.

Pure: the store passes the lookups (is this hash in the customer's known set, which earlier claim
had this dedupe key) as functions, and records the verdict. A claim is accepted, and billable,
only when no check finds a reason to refuse it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
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
    "Reason",
    "Verdict",
    "check_attributes",
    "criteria_check",
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
        for name in ("occurred_at", "submitted_at"):
            if getattr(self, name).utcoffset() is None:
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
    definition = compiled.definition
    if claim.outcome != definition.outcome:
        raise InvalidInput("outcome", f"{claim.outcome!r} is not {definition.outcome!r}")
    attributes, reasons = check_attributes(compiled, claim.attributes)
    invalid = {reason.field.removeprefix("attributes.") for reason in reasons}
    reasons += _criteria_reasons(compiled, attributes, invalid)
    known_hash = None
    if compiled.known_key is not None and known_hash_of is not None:
        value = _key(compiled, compiled.known_key, attributes, invalid, reasons)
        if value is not None:
            known_hash = known_hash_of(value)
            if is_known(known_hash):
                detail = f"the customer's known set holds this claim's {definition.known_key}"
                reasons.append(Reason("already_known", "known_key", detail))
    dedupe_key = _key(compiled, compiled.dedupe_key, attributes, invalid, reasons)
    if dedupe_key is not None:
        first = earlier(dedupe_key)
        if first is not None and first != claim.id:
            detail = f"claim {first} came earlier with the same {definition.dedupe_key}"
            reasons.append(Reason("duplicate", "dedupe_key", detail))
    reasons += _window_reasons(compiled, claim)
    return Verdict(claim.id, not reasons, tuple(reasons), dedupe_key, known_hash)


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
    """The criteria the checked `attributes` fail, each with what it gave (or its error).

    The hot path: one run of a program that adds up a bit for each criterion that is false
    (converting a claim to CEL costs more than evaluating it); each criterion runs on its own
    only when one of them cannot be evaluated on the claim's data.
    """
    if compiled.failures is None:
        return []
    try:
        bits = compiled.run(compiled.failures, attributes, compiled.all_flat)
    except CEL_ERRORS:
        each = [(c, _result(compiled, c, attributes)) for c in compiled.criteria]
        return [(criterion, result) for criterion, result in each if result is not True]
    if not bits:
        return []
    return [(c, False) for i, c in enumerate(compiled.criteria) if bits >> i & 1]


def _result(
    compiled: CompiledDefinition, criterion: Expression, attributes: Mapping[str, Any]
) -> Any:
    """A criterion's own result, or the error it raised."""
    try:
        return compiled.run(criterion.program, attributes, criterion.flat)
    except CEL_ERRORS as error:
        return error


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


def _criteria_reasons(
    compiled: CompiledDefinition, attributes: Mapping[str, Any], invalid: set[str]
) -> list[Reason]:
    """criteria_check, leaving out criteria that read an invalid attribute (already a reason)."""
    if not invalid:
        return criteria_check(compiled, attributes)
    return [
        reason
        for criterion in compiled.criteria
        if invalid.isdisjoint(criterion.reads)
        and (reason := _criterion_reason(compiled, criterion, attributes)) is not None
    ]


def _criterion_reason(
    compiled: CompiledDefinition, criterion: Expression, attributes: Mapping[str, Any]
) -> Reason | None:
    result = _result(compiled, criterion, attributes)
    return None if result is True else _failed(compiled, criterion, attributes, result)


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


def _key(
    compiled: CompiledDefinition,
    expression: Expression,
    attributes: Mapping[str, Any],
    invalid: set[str],
    reasons: list[Reason],
) -> str | None:
    """The key's value, or None with a reason when it cannot be computed (none when it reads an
    attribute that is already a reason)."""
    if not invalid.isdisjoint(expression.reads):
        return None
    try:
        value = compiled.run(expression.program, attributes)
    except CEL_ERRORS as error:
        problem = f"{expression.source} failed: {describe_error(error, expression)}"
    else:
        if isinstance(value, str) and value:
            return value
        gave = "an empty string" if value == "" else _json_kind(value)
        problem = f"{expression.source} gave {gave}, not a non-empty string"
    reasons.append(Reason("invalid_attribute", expression.name, problem))
    return None


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
