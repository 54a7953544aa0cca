"""Rule-based segments: ordered CEL rules over an account's attributes (`account`), revenue
(`revenue`) and usage features (`usage`); the first rule that holds names the segment.
Data-driven segments, from usage features alone, are in clusters.py.

First match wins so that every account sits in exactly one segment, which per-segment scorecards
and capacity plans need; `matching_segments` lists every rule that holds, for tagging.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from valueproof.documents import load_document
from valueproof.errors import DocumentUnreadable, field_path, validation_reason
from valueproof.outcomes.expressions import CEL_BUILTINS, CEL_ERRORS, TYPE_NAMES, binders
from valueproof.success.errors import SegmentsInvalid

__all__ = [
    "CompiledSegmentRules",
    "SegmentAssignment",
    "SegmentRule",
    "SegmentRules",
    "assign_segment",
    "compile_segment_rules",
    "matching_segments",
    "parse_segment_rules",
    "read_segment_rules",
]

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
RULE_VARIABLES = frozenset({"account", "revenue", "usage"})


# --- rule-based segments -------------------------------------------------------------------


class SegmentRule(BaseModel):
    """Accounts for which `when` (CEL over `account`, `revenue`, `usage`) holds join `segment`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    segment: str = Field(pattern=KEY_PATTERN)
    when: str = Field(min_length=1, max_length=4_000)
    description: str = ""


class SegmentRules(BaseModel):
    """Ordered rules; an account matching none is in `default`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[SegmentRule] = Field(min_length=1, max_length=200)
    default: str = Field(default="other", pattern=KEY_PATTERN)


@dataclass(frozen=True, slots=True, eq=False)
class CompiledSegmentRules:
    """The rules with their CEL compiled: (field path, segment, program) in order."""

    rules: tuple[tuple[str, str, Any], ...]  # Any: cel.Program (the package ships no stubs)
    default: str


@dataclass(frozen=True, slots=True)
class SegmentAssignment:
    """The segment an account is in, the rule that put it there (None: the default), and the
    rules that could not be evaluated on its data (field path, reason), which count as no match."""

    segment: str
    rule: str | None
    errors: tuple[tuple[str, str], ...] = ()


def read_segment_rules(text: str) -> SegmentRules:
    """Parse segment rules written as JSON or YAML, then validate them."""
    try:
        data = load_document(text)
    except DocumentUnreadable as error:
        raise SegmentsInvalid([("(document)", str(error))]) from None
    return parse_segment_rules(data)


def parse_segment_rules(data: Any) -> SegmentRules:
    """Validate segment rules, their CEL included; SegmentsInvalid lists every problem."""
    if not isinstance(data, dict):
        raise SegmentsInvalid([("(document)", "segment rules are a mapping (YAML or JSON object)")])
    try:
        rules = SegmentRules.model_validate(data)
    except ValidationError as error:
        problems = [
            (field_path(e["loc"]) or "(document)", validation_reason(e)) for e in error.errors()
        ]
        raise SegmentsInvalid(problems) from None
    compile_segment_rules(rules)
    return rules


def compile_segment_rules(rules: SegmentRules) -> CompiledSegmentRules:
    """Compile every rule once; SegmentsInvalid names each rule whose CEL is wrong."""
    compiled, problems = [], []
    for i, rule in enumerate(rules.rules):
        path = f"rules[{i}].when"
        program, problem = _compile_rule(rule.when)
        if problem:
            problems.append((path, problem))
        else:
            compiled.append((path, rule.segment, program))
    if problems:
        raise SegmentsInvalid(problems)
    return CompiledSegmentRules(tuple(compiled), rules.default)


def _compile_rule(source: str) -> tuple[Any, str | None]:
    # Imported here: the cel package imports its REPL (prompt_toolkit, Rich) with it, a few
    # tenths of a second that every command importing this module would pay at start-up.
    import cel

    try:
        program = cel.compile(source)
    except ValueError as error:
        return None, f"invalid CEL: {_first_line(str(error))}"
    bound = binders(source)
    for variable in program.variables():
        if variable not in RULE_VARIABLES | bound | TYPE_NAMES:
            return None, f"uses the variable {variable!r}; a rule may use account, revenue, usage"
    for function in program.functions():
        if function.isidentifier() and function not in CEL_BUILTINS:
            return None, f"calls {function!r}, which is not a CEL function"
    try:
        result = program.execute({name: {} for name in RULE_VARIABLES})
    except CEL_ERRORS:
        return program, None  # depends on the data (a key the sample lacks): left to assignment
    if not isinstance(result, bool):
        return None, f"must give true or false; on empty data it gave {result!r}"
    return program, None


def assign_segment(
    compiled: CompiledSegmentRules,
    account: Mapping[str, Any],
    revenue: Mapping[str, float],
    usage: Mapping[str, float],
) -> SegmentAssignment:
    """The first segment whose rule holds for this account, or the default."""
    context = _context(account, revenue, usage)
    errors = []
    for path, segment, program in compiled.rules:
        holds, error = _holds(program, context)
        if error:
            errors.append((path, error))
        elif holds:
            return SegmentAssignment(segment, path, tuple(errors))
    return SegmentAssignment(compiled.default, None, tuple(errors))


def matching_segments(
    compiled: CompiledSegmentRules,
    account: Mapping[str, Any],
    revenue: Mapping[str, float],
    usage: Mapping[str, float],
) -> tuple[str, ...]:
    """Every segment with a rule that holds for this account (in rule order, once each)."""
    context = _context(account, revenue, usage)
    found = (s for _, s, program in compiled.rules if _holds(program, context)[0])
    return tuple(dict.fromkeys(found))


def _context(
    account: Mapping[str, Any], revenue: Mapping[str, float], usage: Mapping[str, float]
) -> dict[str, Any]:
    # CEL compares int and double, but not Decimal: money-like numbers arrive as floats.
    return {
        "account": dict(account),
        "revenue": {k: float(v) for k, v in revenue.items()},
        "usage": {k: float(v) for k, v in usage.items()},
    }


def _holds(program: Any, context: dict[str, Any]) -> tuple[bool, str | None]:
    try:
        result = program.execute(context)
    except KeyError as error:
        return False, f"no such key {error.args[0]!r}"
    except CEL_ERRORS as error:
        return False, _first_line(str(error))
    if not isinstance(result, bool):
        return False, f"gave {result!r}, not true or false"
    return result, None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "malformed expression"
