"""Outcome definitions: what a claimed result of one type carries and what makes it count.

A definition is a plain document (YAML or JSON) agreed in a contract: the typed attributes of a
claim, the criteria (CEL over `claim`) it must meet, the key that makes two claims duplicates,
the key matched against the customer's known set, and the time windows. Every CEL expression is
checked and compiled once here (`compile_definition`); verification only runs the programs.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import cel
import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from valueproof.errors import InvalidInput, field_path
from valueproof.metering.definitions import KEY_PATTERN
from valueproof.outcomes.knownset import normalize

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
    "DefinitionInvalid",
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

# What running a program can raise on data it does not fit (a missing key, a type mismatch, an
# error inside one of our functions); each is a verdict reason, never a crash.
CEL_ERRORS = (KeyError, TypeError, ValueError, RuntimeError, OverflowError)


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


class DefinitionInvalid(InvalidInput):
    """An outcome definition that cannot be used; `problems` lists every (field path, reason)."""

    title = "Invalid outcome definition"

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        path, reason = problems[0]
        super().__init__(path, reason)
        self.problems = tuple(problems)
        if len(problems) > 1:
            self.detail = "; ".join(f"{where}: {why}" for where, why in problems)
            self.args = (self.detail,)


# --- the CEL functions definitions may call, besides CEL's own -------------------------------


def _text(value: object, function: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{function}() takes a string, not {type(value).__name__}")
    return value


def cel_lower(value: str) -> str:
    """`lower(s)`: lower case."""
    return _text(value, "lower").lower()


def cel_trim(value: str) -> str:
    """`trim(s)`: without leading and trailing whitespace."""
    return _text(value, "trim").strip()


def cel_email_domain(value: str) -> str:
    """`email_domain(s)`: the part after the last `@`, lower case and stripped; "" without `@`."""
    _, at, domain = _text(value, "email_domain").rpartition("@")
    return domain.strip().lower() if at else ""


def cel_normalize(value: str) -> str:
    """`normalize(s)`: knownset.normalize (NFKC, case folded, whitespace collapsed)."""
    return normalize(_text(value, "normalize"))


FUNCTIONS: dict[str, Callable[[str], str]] = {
    "lower": cel_lower,
    "trim": cel_trim,
    "email_domain": cel_email_domain,
    "normalize": cel_normalize,
}

# The named functions of the `cel` package (macros such as has/all/exists are not functions, and
# operators are named `_+_`, `@in`...); anything else is refused when a definition is read.
CEL_BUILTINS = frozenset(
    {
        "size", "contains", "startsWith", "endsWith", "matches", "int", "uint", "double",
        "string", "bytes", "timestamp", "duration", "dyn", "type", "getFullYear", "getMonth",
        "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear", "getHours", "getMinutes",
        "getSeconds", "getMilliseconds",
    }
)  # fmt: skip
_TYPE_NAMES = frozenset(
    {"int", "uint", "double", "string", "bytes", "bool", "list", "map", "null_type", "type"}
)
_RESERVED = frozenset(
    {
        "as", "break", "const", "continue", "else", "false", "for", "function", "if", "import",
        "in", "let", "loop", "package", "namespace", "null", "return", "true", "var", "void",
        "while",
    }
)  # fmt: skip
_ATTRIBUTE = re.compile(ATTRIBUTE_PATTERN)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --- the compiled form -------------------------------------------------------------------------

# `claim.<name>` is compiled as the plain variable `claim__<name>` where possible: the `cel`
# package converts a nested map on every run (~15 µs for six attributes) but resolves a plain
# variable only when the expression reads it.
FLAT_PREFIX = "claim__"
_CUT = len(FLAT_PREFIX)


@dataclass(frozen=True, slots=True, eq=False)
class Expression:
    """One compiled CEL expression of a definition."""

    field: str  # where it sits in the definition: `criteria[1].expression`, `dedupe_key`
    name: str  # a criterion's name, or `dedupe_key` / `known_key`
    source: str
    reads: tuple[str, ...]  # attributes it reads as `claim.<name>`, in order of appearance
    program: Any  # cel.Program (the package ships no type stubs)
    compiled_source: str  # what `program` was compiled from: `source`, flattened where possible
    # When the program reads only flat variables and calls none of our functions, the
    # attributes to pass it as a plain dict: ~2x faster than resolving them one by one.
    flat: tuple[str, ...] | None = None


class _Contexts(threading.local):
    """One cel.Context per thread (a Context is not thread-safe), resolving the claim at hand."""

    def __init__(self) -> None:
        self.attributes: Mapping[str, Any] = {}
        self.context = cel.Context(functions=FUNCTIONS)
        self.context.set_variable_resolver(self._resolve)

    def run(self, program: Any, attributes: Mapping[str, Any], flat: tuple[str, ...] | None) -> Any:
        if flat is not None:
            # A missing attribute is simply left out: "undefined variable", as below.
            return program.execute(
                {FLAT_PREFIX + name: attributes[name] for name in flat if name in attributes}
            )
        self.attributes = attributes
        return program.execute(self.context)

    def _resolve(self, name: str) -> Any:
        # None falls through to "undefined variable", which verification reports as "not set".
        if name.startswith(FLAT_PREFIX):
            return self.attributes.get(name[_CUT:])
        if name == "claim":
            attributes = self.attributes
            return attributes if isinstance(attributes, dict) else dict(attributes)
        return None


@dataclass(frozen=True, slots=True, eq=False)
class CompiledDefinition:
    """A definition with every expression compiled; safe to share between threads."""

    definition: OutcomeDefinition
    criteria: tuple[Expression, ...]
    all_criteria: Any  # cel.Program of `(c1) && (c2) && ...`, None without criteria
    failures: Any  # cel.Program of `((c1) ? 0 : 1) + ((c2) ? 0 : 2) + ...`: who fails, one run
    all_flat: tuple[str, ...] | None  # `flat` of both: set when every criterion's is
    dedupe_key: Expression
    known_key: Expression | None
    _contexts: _Contexts = field(default_factory=_Contexts, repr=False)

    def run(
        self, program: Any, attributes: Mapping[str, Any], flat: tuple[str, ...] | None = None
    ) -> Any:
        """The value of a program of this definition (an expression's, or `all_criteria`, with
        its `flat`) for checked `attributes`; raises one of CEL_ERRORS when it fails."""
        return self._contexts.run(program, attributes, flat)


def describe_error(error: BaseException, expression: Expression) -> str:
    """A CEL failure of `expression` in a sentence, naming the attribute when one was missing."""
    if isinstance(error, KeyError):
        key = error.args[0] if error.args else ""
        return f"claim.{key} is not set" if key in expression.reads else f"no such key {key!r}"
    text = str(error).strip()
    found = re.search(r"Undefined variable or function: '" + FLAT_PREFIX + r"(\w+)'", text)
    if found:
        return f"claim.{found.group(1)} is not set"
    return text.splitlines()[0] if text else type(error).__name__


# --- reading and checking documents ------------------------------------------------------------


def read_definition(text: str) -> OutcomeDefinition:
    """Parse an outcome definition written as JSON or YAML, then validate it."""
    try:
        return parse_definition(orjson.loads(text))
    except orjson.JSONDecodeError:
        pass  # not JSON: read it as YAML
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DefinitionInvalid([("(document)", f"not valid YAML or JSON{where}")]) from None
    return parse_definition(data)


def parse_definition(data: Any) -> OutcomeDefinition:
    """Validate a definition document, its CEL included; DefinitionInvalid lists every problem."""
    if not isinstance(data, dict):
        raise DefinitionInvalid([("(document)", "a definition is a mapping (YAML or JSON object)")])
    try:
        definition = OutcomeDefinition.model_validate(data)
    except ValidationError as error:
        problems = [
            (field_path(e["loc"]) or "(document)", e["msg"].removeprefix("Value error, "))
            for e in error.errors()
        ]
        raise DefinitionInvalid(problems) from None
    compile_definition(definition)
    return definition


def definition_schema() -> dict[str, Any]:
    """The JSON Schema of an outcome definition document."""
    return OutcomeDefinition.model_json_schema()


def compile_definition(definition: OutcomeDefinition) -> CompiledDefinition:
    """Check and compile every expression; DefinitionInvalid lists every problem found."""
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
        expression, expression_problems = _compile(definition, path, name, source, is_key)
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
    failures = None
    if criteria:
        # Newlines, not spaces: a `//` comment in one criterion must not swallow the next.
        parts = [f"(\n{c.compiled_source}\n)" for c in criteria]
        combined = cel.compile(" && ".join(parts))
        failures = cel.compile(" + ".join(f"({p} ? 0 : {1 << i})" for i, p in enumerate(parts)))
    return CompiledDefinition(
        definition=definition,
        criteria=criteria,
        all_criteria=combined,
        failures=failures,
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
        elif name in _RESERVED:
            problems.append((f"attributes.{name}", "is a CEL reserved word"))
    return problems


def _compile(
    definition: OutcomeDefinition, path: str, name: str, source: str, is_key: bool
) -> tuple[Expression | None, list[str]]:
    """The compiled expression and the problems found in it (static, then on a sample claim)."""
    try:
        original = cel.compile(source)
    except ValueError as error:
        return None, [f"invalid CEL: {_first_line(str(error))}"]
    attributes = definition.attributes
    reads = tuple(dict.fromkeys(read for read, _, _, _ in _claim_reads(source)))
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
    binders = _binders(source)
    problems += [
        f"uses the variable {variable!r}; an expression may only use `claim`"
        for variable in original.variables()
        if variable != "claim" and variable not in binders and variable not in _TYPE_NAMES
    ]
    problems += [
        f"calls {function!r}, which is neither a CEL function nor one of {sorted(FUNCTIONS)}"
        for function in original.functions()
        if _IDENTIFIER.fullmatch(function) and function not in CEL_BUILTINS | FUNCTIONS.keys()
    ]
    if problems:
        return None, problems
    program, compiled_source = _flat_program(source, original)
    plain = all(variable.startswith(FLAT_PREFIX) for variable in program.variables())
    ours = set(program.functions()) & FUNCTIONS.keys()
    flat = reads if plain and not ours else None
    expression = Expression(path, name, source, reads, program, compiled_source, flat)
    trial = _trial(definition, expression, is_key)
    return (None, [trial]) if trial else (expression, [])


def _trial(definition: OutcomeDefinition, expression: Expression, is_key: bool) -> str | None:
    """Run once on a sample claim with every attribute set, to refuse what static checks miss:
    a function CEL doesn't have, an undeclared attribute read as `claim["x"]`, a wrong type."""
    sample = {name: _SAMPLES[spec.type] for name, spec in definition.attributes.items()}
    try:
        result = _Contexts().run(expression.program, sample, expression.flat)
    except KeyError as error:
        # Every declared attribute is set, so a missing key read from the claim is undeclared;
        # one missing from a map the expression builds itself is a matter of the data.
        if _indexes_claim(expression.source) and error.args[0] not in definition.attributes:
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


# --- `claim.<name>` in CEL source ---------------------------------------------------------------

# CEL's lexical grammar, as far as finding identifiers outside string literals needs: raw
# strings (r"...") have no escapes, others do; triple quotes may span lines; `//` comments.
_TOKEN = re.compile(
    r"""
      (?P<skip>\s+|//[^\n]*)
    | (?P<string>(?:[rR][bB]?|[bB][rR])(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"[^"\n]*"|'[^'\n]*')
      | [bB]?(?:\"\"\"(?:\\[\s\S]|[^\\])*?\"\"\"|'''(?:\\[\s\S]|[^\\])*?'''
               |"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def _tokens(source: str) -> list[tuple[str, str, int, int]]:
    """(kind, text, start, end) of each token of `source`, whitespace and comments left out."""
    found = []
    for match in _TOKEN.finditer(source):
        kind = match.lastgroup or "other"
        if kind != "skip":
            found.append((kind, match.group(), match.start(), match.end()))
    return found


def _claim_reads(source: str) -> list[tuple[str, int, int, bool]]:
    """(attribute, start, end, can be flat) of each `claim.<name>` or `claim["<name>"]` read in
    `source`; a read inside has() or by index keeps its nested form."""
    tokens = _tokens(source)
    reads = []
    for i, (kind, text, start, _) in enumerate(tokens):
        if kind != "name" or text != "claim" or i + 2 >= len(tokens):
            continue
        if i > 0 and tokens[i - 1][1] == ".":
            continue  # `x.claim.y` selects a field of something else
        following = [token[1] for token in tokens[i + 1 : i + 4]]
        if following[0] == "." and tokens[i + 2][0] == "name" and following[2:] != ["("]:
            # not `claim.size()`: that calls a function on the map and reads no attribute
            in_has = i >= 2 and tokens[i - 1][1] == "(" and tokens[i - 2][1] == "has"
            reads.append((following[1], start, tokens[i + 2][3], not in_has))
        elif following[0] == "[" and following[2:] == ["]"] and tokens[i + 2][0] == "string":
            literal = following[1]
            if literal[0] in "'\"" and _IDENTIFIER.fullmatch(literal[1:-1]):
                reads.append((literal[1:-1], start, tokens[i + 3][3], False))
    return reads


def _indexes_claim(source: str) -> bool:
    """Whether `source` indexes the claim map (`claim[...]`), the one way to read it by key."""
    tokens = _tokens(source)
    return any(
        kind == "name" and text == "claim" and tokens[i + 1][1] == "["
        for i, (kind, text, _, _) in enumerate(tokens[:-1])
    )


def _binders(source: str) -> set[str]:
    """Names bound by comprehension macros (`.exists(x, ...)`), reported as variables by cel."""
    macros = r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,"
    return {name for name in re.findall(macros, source) if not name.startswith(FLAT_PREFIX)}


def _flat(source: str) -> str:
    """`source` with each `claim.<name>` outside has() written as the variable `claim__<name>`."""
    if FLAT_PREFIX in source:
        return source  # keep the flat names unambiguous
    parts, last = [], 0
    for attribute, start, end, can_be_flat in _claim_reads(source):
        if can_be_flat:
            parts += [source[last:start], FLAT_PREFIX + attribute]
            last = end
    return "".join(parts) + source[last:]


def _flat_program(source: str, original: Any) -> tuple[Any, str]:
    """The flat program and its source when it reads exactly the same names, else the original.

    The comparison guards the rewrite: were `claim.x` inside a string literal rewritten, or a
    read missed, the names would differ (and the nested form is only slower, never wrong).
    """
    flat = _flat(source)
    if flat == source:
        return original, source
    try:
        program = cel.compile(flat)
    except ValueError:
        return original, source
    expected = {v for v in original.variables() if v != "claim"}
    expected |= {
        FLAT_PREFIX + read for read, _, _, can_be_flat in _claim_reads(source) if can_be_flat
    }
    if set(program.variables()) != expected or program.functions() != original.functions():
        return original, source
    return program, flat
