"""CEL as outcome definitions use it: the functions they may call besides CEL's own, compiled
expressions, one evaluation context per thread, and how `claim.<name>` reads are found in source
and compiled as plain variables. definitions.py checks and compiles documents with these.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from valueproof.outcomes.knownset import normalize

__all__ = [
    "CEL_BUILTINS",
    "CEL_ERRORS",
    "FLAT_PREFIX",
    "FUNCTIONS",
    "IDENTIFIER",
    "RESERVED",
    "TYPE_NAMES",
    "Contexts",
    "Expression",
    "binders",
    "claim_reads",
    "describe_error",
    "direct_chain",
    "evaluate_each",
    "flat_program",
    "indexes_claim",
    "source_tokens",
]

# What running a program can raise on data it does not fit (a missing key, a type mismatch, an
# error inside one of our functions); each is a verdict reason, never a crash.
# What running a CEL program raises when the data does not suit it (a missing key, a type the
# expression cannot take, `1 / 0`): a verdict or a field's error, never a crash. ArithmeticError
# covers the integer division by zero and the overflows the cel package raises as Python's own.
CEL_ERRORS = (KeyError, TypeError, ValueError, RuntimeError, ArithmeticError)


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
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "timestamp",
        "duration",
        "dyn",
        "type",
        "getFullYear",
        "getMonth",
        "getDate",
        "getDayOfMonth",
        "getDayOfWeek",
        "getDayOfYear",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
    }
)
TYPE_NAMES = frozenset(
    {"int", "uint", "double", "string", "bytes", "bool", "list", "map", "null_type", "type"}
)
RESERVED = frozenset(
    {
        "as",
        "break",
        "const",
        "continue",
        "else",
        "false",
        "for",
        "function",
        "if",
        "import",
        "in",
        "let",
        "loop",
        "package",
        "namespace",
        "null",
        "return",
        "true",
        "var",
        "void",
        "while",
    }
)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --- compiled expressions ----------------------------------------------------------------------

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
    # When the program reads only flat variables (our functions allowed): its value depends on
    # the values of `reads` alone, so a batch runs it once per distinct set of them.
    plain: bool = False
    # `f(g(claim.x))` (or `claim.x`) with f, g ours: the functions, outermost first, and x;
    # on a string, Python calls them directly what CEL would call for ~3 µs each.
    direct: tuple[tuple[str, ...], str] | None = None


class Contexts(threading.local):
    """One cel.Context per thread (a Context is not thread-safe), resolving the claim at hand."""

    def __init__(self) -> None:
        # Imported here: the cel package imports its REPL (prompt_toolkit, Rich) with it, a
        # few tenths of a second that every command importing this module would pay at start.
        import cel

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


class _Missing:
    """An attribute the claim does not have, in a key of evaluate_each's memo."""

    def __repr__(self) -> str:
        return "(missing)"


_MISSING = _Missing()


def evaluate_each(
    contexts: Contexts, expression: Expression, batch: Sequence[Mapping[str, Any]]
) -> list[Any]:
    """The value of `expression` on each checked attributes of `batch`, or the error (one of
    CEL_ERRORS) it raised there.

    Converting values to CEL costs more than evaluating (~2 µs a string), and criteria mostly
    read few attributes with few distinct values: a plain expression runs once per distinct
    set of the values it reads.
    """
    program, flat = expression.program, expression.flat
    if expression.direct is not None:
        return _direct_each(contexts, expression, expression.direct, batch)
    if not expression.plain:
        return [_outcome(contexts, program, attributes, flat) for attributes in batch]
    names = expression.reads
    memo: dict[Any, Any] = {}
    found = []
    if len(names) == 1 and flat == names:  # the usual criterion: no tuple, no context
        [name] = names
        variable = FLAT_PREFIX + name
        for attributes in batch:
            given = attributes.get(name, _MISSING)
            key = _memo_key(given)
            value = memo.get(key, _MISSING)
            if value is _MISSING:
                try:
                    # Missing: left out, so "undefined variable", as Contexts.run does.
                    value = program.execute({} if given is _MISSING else {variable: given})
                except CEL_ERRORS as error:
                    value = error
                memo[key] = value
            found.append(value)
        return found
    for attributes in batch:
        key = tuple([_memo_key(attributes.get(name, _MISSING)) for name in names])
        value = memo.get(key, _MISSING)
        if value is _MISSING:
            value = memo[key] = _outcome(contexts, program, attributes, flat)
        found.append(value)
    return found


def _direct_each(
    contexts: Contexts,
    expression: Expression,
    direct: tuple[tuple[str, ...], str],
    batch: Sequence[Mapping[str, Any]],
) -> list[Any]:
    functions = [FUNCTIONS[name] for name in reversed(direct[0])]
    name = direct[1]
    found = []
    for attributes in batch:
        value = attributes.get(name)
        if type(value) is str and _is_utf8(value):
            for function in functions:
                value = function(value)
            found.append(value)
        else:  # not a string: as CEL has it (an error, most likely)
            found.append(_outcome(contexts, expression.program, attributes, expression.flat))
    return found


def _is_utf8(text: str) -> bool:
    """Whether CEL can take the text: a lone surrogate cannot be converted."""
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def direct_chain(source: str) -> tuple[tuple[str, ...], str] | None:
    """(our functions outermost first, attribute) when `source` is `f(g(claim.x))` or
    `claim.x`, else None."""
    tokens = source_tokens(source)
    texts = [text for _, text, _, _ in tokens]
    functions: list[str] = []
    while len(texts) > 2 * len(functions) + 1 and texts[2 * len(functions) + 1] == "(":
        if texts[2 * len(functions)] not in FUNCTIONS:
            return None
        functions.append(texts[2 * len(functions)])
    rest = tokens[2 * len(functions) :]
    if [text for _, text, _, _ in rest] != ["claim", ".", rest[2][1] if len(rest) > 2 else ""] + [
        ")"
    ] * len(functions) or rest[2][0] != "name":
        return None
    return tuple(functions), rest[2][1]


def _memo_key(value: Any) -> Any:
    """`value` as a memo key: 1, 1.0 and True are equal in Python but not in CEL, nor are 0.0
    and -0.0, so all but strings and ints are keyed with their type (and zero by its sign)."""
    kind = type(value)
    if kind is str or kind is int:
        return value
    if kind is float and value:
        return (float, value)  # a NaN, never equal, only misses: it runs each time
    return (kind, repr(value))


def _outcome(
    contexts: Contexts, program: Any, attributes: Mapping[str, Any], flat: tuple[str, ...] | None
) -> Any:
    try:
        return contexts.run(program, attributes, flat)
    except CEL_ERRORS as error:
        return error


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


def source_tokens(source: str) -> list[tuple[str, str, int, int]]:
    """(kind, text, start, end) of each token of `source`, whitespace and comments left out."""
    found = []
    for match in _TOKEN.finditer(source):
        kind = match.lastgroup or "other"
        if kind != "skip":
            found.append((kind, match.group(), match.start(), match.end()))
    return found


def claim_reads(source: str) -> list[tuple[str, int, int, bool]]:
    """(attribute, start, end, can be flat) of each `claim.<name>` or `claim["<name>"]` read in
    `source`; a read inside has() or by index keeps its nested form."""
    tokens = source_tokens(source)
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
            if literal[0] in "'\"" and IDENTIFIER.fullmatch(literal[1:-1]):
                reads.append((literal[1:-1], start, tokens[i + 3][3], False))
    return reads


def indexes_claim(source: str) -> bool:
    """Whether `source` indexes the claim map (`claim[...]`), the one way to read it by key."""
    tokens = source_tokens(source)
    return any(
        kind == "name" and text == "claim" and tokens[i + 1][1] == "["
        for i, (kind, text, _, _) in enumerate(tokens[:-1])
    )


def binders(source: str) -> set[str]:
    """Names bound by comprehension macros (`.exists(x, ...)`), reported as variables by cel."""
    macros = r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,"
    return {name for name in re.findall(macros, source) if not name.startswith(FLAT_PREFIX)}


def _flat(source: str) -> str:
    """`source` with each `claim.<name>` outside has() written as the variable `claim__<name>`."""
    if FLAT_PREFIX in source:
        return source  # keep the flat names unambiguous
    parts, last = [], 0
    for attribute, start, end, can_be_flat in claim_reads(source):
        if can_be_flat:
            parts += [source[last:start], FLAT_PREFIX + attribute]
            last = end
    return "".join(parts) + source[last:]


def flat_program(source: str, original: Any) -> tuple[Any, str]:
    """The flat program and its source when it reads exactly the same names, else the original.

    The comparison guards the rewrite: were `claim.x` inside a string literal rewritten, or a
    read missed, the names would differ (and the nested form is only slower, never wrong).
    """
    import cel  # as in Contexts

    flat = _flat(source)
    if flat == source:
        return original, source
    try:
        program = cel.compile(flat)
    except ValueError:
        return original, source
    expected = {v for v in original.variables() if v != "claim"}
    expected |= {
        FLAT_PREFIX + read for read, _, _, can_be_flat in claim_reads(source) if can_be_flat
    }
    if set(program.variables()) != expected or program.functions() != original.functions():
        return original, source
    return program, flat
