"""Outcome definitions: what a claimed result of one type carries and what makes it count.

A definition is a plain document (YAML or JSON) agreed in a contract: the typed attributes of a
claim, the criteria (CEL over `claim`) it must meet, the key that makes two claims duplicates,
the key matched against the customer's known set, and the time windows. Every CEL expression is
checked and compiled once here (`compile_definition`); verification only runs the programs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from valueproof.documents import load_document
from valueproof.errors import DocumentUnreadable, field_path, validation_reason
from valueproof.metering.definitions import KEY_PATTERN
from valueproof.outcomes.cel_types import (
    BOOL,
    DOUBLE,
    INT,
    STRING,
    TIMESTAMP,
    CelType,
    record,
    type_problems,
)
from valueproof.outcomes.errors import DefinitionInvalid
from valueproof.outcomes.expressions import (
    CEL_BUILTINS,
    CEL_ERRORS,
    FLAT_PREFIX,
    FUNCTIONS,
    IDENTIFIER,
    RESERVED,
    TYPE_NAMES,
    Contexts,
    Expression,
    binders,
    claim_reads,
    describe_error,
    direct_chain,
    evaluate_each,
    flat_program,
    indexes_claim,
)

__all__ = [
    "ATTRIBUTE_PATTERN",
    "CEL_BUILTINS",
    "CEL_ERRORS",
    "FLAT_PREFIX",
    "FUNCTIONS",
    "MAX_EXPRESSION",
    "AttributeSpec",
    "AttributeType",
    "CompiledDefinition",
    "Criterion",
    "Expression",
    "OutcomeDefinition",
    "compile_definition",
    "definition_schema",
    "describe_error",
    "parse_definition",
    "read_definition",
]

ATTRIBUTE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"  # a CEL identifier, so `claim.<name>` reads it
MAX_EXPRESSION = 4_000


class AttributeType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    TIMESTAMP = "timestamp"  # RFC 3339 text in a claim; a CEL timestamp in expressions


class AttributeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: AttributeType
    required: bool = False
    personal: bool = Field(
        default=False,
        description="Personal data: committed to the ledger by salted hash, never published.",
    )
    description: str = ""


class Criterion(BaseModel):
    """One condition of the agreed profile: a CEL expression over `claim` that must be true."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=KEY_PATTERN)
    expression: str = Field(min_length=1, max_length=MAX_EXPRESSION)
    description: str = ""


class OutcomeDefinition(BaseModel):
    """What one type of claimed outcome carries, and what makes it an accepted (billable) one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract: str = Field(pattern=KEY_PATTERN, description="The contract key it belongs to.")
    outcome: str = Field(pattern=KEY_PATTERN, description="The outcome type key.")
    description: str = ""
    attributes: dict[str, AttributeSpec] = Field(min_length=1, max_length=200)
    criteria: list[Criterion] = Field(default_factory=list, max_length=100)
    dedupe_key: str = Field(
        min_length=1,
        max_length=MAX_EXPRESSION,
        description="CEL giving a string; two claims with the same key are duplicates.",
    )
    known_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_EXPRESSION,
        description="CEL giving a string, matched against the customer's known set.",
    )
    verification_window_days: int = Field(
        ge=1, le=3_660, description="A claim is submitted within this many days of occurring."
    )
    dispute_window_days: int = Field(ge=0, le=3_660)


_ATTRIBUTE = re.compile(ATTRIBUTE_PATTERN)
_UNTYPED = AttributeSpec(type=AttributeType.BOOLEAN)  # stands for an undeclared attribute


# --- the compiled form -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class CompiledDefinition:
    """A definition with every expression compiled; safe to share between threads."""

    definition: OutcomeDefinition
    criteria: tuple[Expression, ...]
    all_criteria: Any  # cel.Program of `(c1) && (c2) && ...`, None without criteria
    all_flat: tuple[str, ...] | None  # `flat` of all_criteria: set when every criterion's is
    dedupe_key: Expression
    known_key: Expression | None
    _contexts: Contexts = field(default_factory=Contexts, repr=False)

    def run(
        self, program: Any, attributes: Mapping[str, Any], flat: tuple[str, ...] | None = None
    ) -> Any:
        """The value of a program of this definition (an expression's, or `all_criteria`, with
        its `flat`) for checked `attributes`; raises one of CEL_ERRORS when it fails."""
        return self._contexts.run(program, attributes, flat)

    def run_each(self, expression: Expression, batch: Sequence[Mapping[str, Any]]) -> list[Any]:
        """The value of one of its expressions on each checked attributes of `batch`, or the
        error (one of CEL_ERRORS) it raised there (expressions.evaluate_each)."""
        return evaluate_each(self._contexts, expression, batch)


# --- reading and checking documents ------------------------------------------------------------


def read_definition(text: str) -> OutcomeDefinition:
    """Parse an outcome definition written as JSON or YAML, then validate it."""
    try:
        data = load_document(text)
    except DocumentUnreadable as error:
        raise DefinitionInvalid([("(document)", str(error))]) from None
    return parse_definition(data)


def parse_definition(data: Any) -> OutcomeDefinition:
    """Validate a definition document, its CEL included; DefinitionInvalid lists every problem."""
    if not isinstance(data, dict):
        raise DefinitionInvalid([("(document)", "a definition is a mapping (YAML or JSON object)")])
    try:
        definition = OutcomeDefinition.model_validate(data)
    except ValidationError as error:
        problems = [
            (field_path(e["loc"]) or "(document)", validation_reason(e)) for e in error.errors()
        ]
        raise DefinitionInvalid(problems) from None
    compile_definition(definition)
    return definition


def definition_schema() -> dict[str, Any]:
    """The JSON Schema of an outcome definition document."""
    return OutcomeDefinition.model_json_schema()


def compile_definition(
    definition: OutcomeDefinition, *, check_types: bool = True
) -> CompiledDefinition:
    """Check and compile every expression; DefinitionInvalid lists every problem found.

    `check_types=False` for a definition already recorded: one recorded before expressions were
    type-checked keeps verifying claims as it did (a clash refuses each claim, on the record)."""
    # Imported here: the cel package imports its REPL (prompt_toolkit, Rich) with it, a few
    # tenths of a second that every command importing this module would pay at start-up.
    import cel

    problems = _attribute_problems(definition)
    seen: dict[str, int] = {}
    for i, criterion in enumerate(definition.criteria):
        first = seen.setdefault(criterion.name, i)
        if first != i:
            problems.append(
                (f"criteria[{i}].name", f"{criterion.name!r} is also criteria[{first}]")
            )
    compiled: dict[str, Expression] = {}
    for path, name, source, is_key in _expressions(definition):
        expression, expression_problems = _compile(
            definition, path, name, source, is_key, check_types
        )
        problems += [(path, problem) for problem in expression_problems]
        if expression is not None:
            compiled[path] = expression
    if problems:
        raise DefinitionInvalid(problems)
    criteria = tuple(compiled[f"criteria[{i}].expression"] for i in range(len(definition.criteria)))
    combined = None
    every = [c.flat for c in criteria]
    all_flat = None
    if all(reads is not None for reads in every):
        all_flat = tuple(dict.fromkeys(name for reads in every if reads for name in reads))
    if criteria:
        # Newlines, not spaces: a `//` comment in one criterion must not swallow the next.
        combined = cel.compile(" && ".join(f"(\n{c.compiled_source}\n)" for c in criteria))
    return CompiledDefinition(
        definition=definition,
        criteria=criteria,
        all_criteria=combined,
        all_flat=all_flat,
        dedupe_key=compiled["dedupe_key"],
        known_key=compiled.get("known_key"),
    )


def _expressions(definition: OutcomeDefinition) -> Iterator[tuple[str, str, str, bool]]:
    """(field path, name, source, is a key) of each expression."""
    for i, criterion in enumerate(definition.criteria):
        yield f"criteria[{i}].expression", criterion.name, criterion.expression, False
    yield "dedupe_key", "dedupe_key", definition.dedupe_key, True
    if definition.known_key is not None:
        yield "known_key", "known_key", definition.known_key, True


def _attribute_problems(definition: OutcomeDefinition) -> list[tuple[str, str]]:
    problems = []
    for name in definition.attributes:
        if not _ATTRIBUTE.match(name):
            problems.append(
                (f"attributes.{name}", f"is not a CEL identifier ({ATTRIBUTE_PATTERN})")
            )
        elif name in RESERVED:
            problems.append((f"attributes.{name}", "is a CEL reserved word"))
    return problems


def _compile(
    definition: OutcomeDefinition,
    path: str,
    name: str,
    source: str,
    is_key: bool,
    check_types: bool,
) -> tuple[Expression | None, list[str]]:
    """The compiled expression and the problems found in it (static, then on a sample claim)."""
    import cel  # as in compile_definition

    try:
        original = cel.compile(source)
    except ValueError as error:
        return None, [f"invalid CEL: {_first_line(str(error))}"]
    attributes = definition.attributes
    reads = tuple(dict.fromkeys(read for read, _, _, _ in claim_reads(source)))
    problems = [
        f"reads claim.{read}, which `attributes` does not declare"
        for read in reads
        if read not in attributes
    ]
    if is_key:
        problems += [
            f"reads claim.{read}, which is optional; a key reads required attributes only"
            for read in reads
            if read in attributes and not attributes[read].required
        ]
    bound = binders(source)
    problems += [
        f"uses the variable {variable!r}; an expression may only use `claim`"
        for variable in original.variables()
        if variable != "claim" and variable not in bound and variable not in TYPE_NAMES
    ]
    if check_types and not problems:  # a clash on an undeclared attribute repeats that problem
        problems += type_problems(source, {"claim": _claim_type(definition)}, *_TYPED[is_key])
    problems += [
        f"calls {function!r}, which is neither a CEL function nor one of {sorted(FUNCTIONS)}"
        for function in original.functions()
        if IDENTIFIER.fullmatch(function) and function not in CEL_BUILTINS | FUNCTIONS.keys()
    ]
    if problems:
        return None, problems
    program, compiled_source = flat_program(source, original)
    plain = all(variable.startswith(FLAT_PREFIX) for variable in program.variables())
    ours = set(program.functions()) & FUNCTIONS.keys()
    flat = reads if plain and not ours else None
    direct = direct_chain(source)
    if direct is not None and attributes.get(direct[1], _UNTYPED).type is not AttributeType.STRING:
        direct = None  # our functions refuse anything but a string: leave the error to CEL
    expression = Expression(
        path, name, source, reads, program, compiled_source, flat, plain, direct
    )
    trial = _trial(definition, expression, is_key)
    return (None, [trial]) if trial else (expression, [])


def _trial(definition: OutcomeDefinition, expression: Expression, is_key: bool) -> str | None:
    """Run once on a sample claim with every attribute set, to refuse what static checks miss:
    a function CEL doesn't have, an undeclared attribute read as `claim["x"]`, a wrong type."""
    sample = {name: _SAMPLES[spec.type] for name, spec in definition.attributes.items()}
    try:
        result = Contexts().run(expression.program, sample, expression.flat)
    except KeyError as error:
        # Every declared attribute is set, so a missing key read from the claim is undeclared;
        # one missing from a map the expression builds itself is a matter of the data.
        if indexes_claim(expression.source) and error.args[0] not in definition.attributes:
            return f"reads claim.{error.args[0]}, which `attributes` does not declare"
        return None
    except RuntimeError as error:
        if "Undefined variable or function" in str(error):
            return f"invalid CEL: {_first_line(str(error))}"
        return None  # data-dependent: left to verification
    except CEL_ERRORS:
        return None
    if is_key and not isinstance(result, str):
        return f"must give a string; on a sample claim it gave {_kind(result)}"
    if not is_key and not isinstance(result, bool):
        return f"must give true or false; on a sample claim it gave {_kind(result)}"
    return None


# What an attribute is in CEL once a claim is checked (verification._typed): a number is always
# a double, an integer an int, a timestamp a CEL timestamp.
_CEL_TYPES: dict[AttributeType, CelType] = {
    AttributeType.STRING: STRING,
    AttributeType.NUMBER: DOUBLE,
    AttributeType.INTEGER: INT,
    AttributeType.BOOLEAN: BOOL,
    AttributeType.TIMESTAMP: TIMESTAMP,
}
# (what the expression must give, our functions by result) for a criterion and for a key.
_OURS = {name: STRING for name in FUNCTIONS}
_TYPED: dict[bool, tuple[CelType, dict[str, CelType]]] = {
    False: (BOOL, _OURS),
    True: (STRING, _OURS),
}


def _claim_type(definition: OutcomeDefinition) -> CelType:
    return record(**{name: _CEL_TYPES[spec.type] for name, spec in definition.attributes.items()})


_SAMPLES: dict[AttributeType, Any] = {
    AttributeType.STRING: "sample",
    AttributeType.NUMBER: 1.5,
    AttributeType.INTEGER: 1,
    AttributeType.BOOLEAN: True,
    AttributeType.TIMESTAMP: datetime(2026, 1, 1, tzinfo=UTC),
}


def _kind(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else "malformed expression"
