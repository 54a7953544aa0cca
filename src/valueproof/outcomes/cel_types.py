"""Static types of CEL expressions against a declared schema: a clash is refused when the
expression is saved, not on every claim or period it then meets.

CEL never converts between types at run time: `claim.industry >= 50` with a string `industry`
fails with "No such overload" on every claim, and `claim.revenue * 2` with a double `revenue`
likewise. The `cel` package checks nothing before it runs, so this checker walks the tree of
`cel_syntax` with the types of the variables (`claim`'s attributes, a contract condition's
`usage`, `period`, `account`) and reports each operator or function applied to types it is never
defined for, at its line and column.

It is conservative: whatever it cannot type is `dyn`, which fits everywhere, so it only refuses
what fails (or, for `==` between unrelated types, is always false) whatever the values are. Mixed
numbers compare (`1 < 1.5`, `x == 1` for a double x) as they do in the `cel` package; arithmetic
on them does not (`1 + 1.5` is refused by CEL itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from valueproof.outcomes.cel_syntax import (
    Binary,
    Call,
    Ident,
    Index,
    ListOf,
    Literal,
    MapOf,
    Node,
    Select,
    Ternary,
    Unary,
    Unparsed,
    parse,
    position,
)

__all__ = [
    "BOOL",
    "BYTES",
    "DOUBLE",
    "DURATION",
    "DYN",
    "INT",
    "STRING",
    "TIMESTAMP",
    "UINT",
    "CelType",
    "Clash",
    "list_of",
    "map_of",
    "record",
    "type_problems",
]


@dataclass(frozen=True, slots=True)
class CelType:
    """A CEL type: a name, a list's or map's parameters, or a record's known fields."""

    name: str
    args: tuple[CelType, ...] = ()
    fields: tuple[tuple[str, CelType], ...] = ()  # a record: a map with fields we know

    def __str__(self) -> str:
        if self.name == "record":
            return "map"
        if self.args:
            return f"{self.name}({', '.join(str(a) for a in self.args)})"
        return self.name

    def field(self, name: str) -> CelType:
        return dict(self.fields).get(name, DYN)


DYN = CelType("dyn")
NULL = CelType("null")
BOOL = CelType("bool")
INT = CelType("int")
UINT = CelType("uint")
DOUBLE = CelType("double")
STRING = CelType("string")
BYTES = CelType("bytes")
TIMESTAMP = CelType("timestamp")
DURATION = CelType("duration")
TYPE = CelType("type")
_NUMBERS = frozenset({"int", "uint", "double"})
_ORDERED = frozenset({"string", "bytes", "bool", "timestamp", "duration"})
_LITERALS = {
    "int": INT,
    "uint": UINT,
    "double": DOUBLE,
    "string": STRING,
    "bytes": BYTES,
    "bool": BOOL,
    "null": NULL,
}
_TYPE_NAMES = frozenset(
    {"int", "uint", "double", "string", "bytes", "bool", "list", "map", "null_type", "type"}
)
_CONVERSIONS = {
    "int": INT,
    "uint": UINT,
    "double": DOUBLE,
    "string": STRING,
    "bytes": BYTES,
    "bool": BOOL,
    "timestamp": TIMESTAMP,
    "duration": DURATION,
    "dyn": DYN,
    "type": TYPE,
}
_STRING_TESTS = frozenset({"contains", "startsWith", "endsWith", "matches"})
_DATE_PARTS = frozenset(
    {"getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear"}
)
_TIME_PARTS = frozenset({"getHours", "getMinutes", "getSeconds", "getMilliseconds"})
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_NEVER_CONVERTS = "CEL never converts between types"


def list_of(item: CelType) -> CelType:
    return CelType("list", (item,))


def map_of(key: CelType, value: CelType) -> CelType:
    return CelType("map", (key, value))


def record(**fields: CelType) -> CelType:
    """A map whose named fields have known types (the others are dyn)."""
    return CelType("record", (STRING, DYN), tuple(sorted(fields.items())))


@dataclass(frozen=True, slots=True)
class Clash:
    """An operator or function applied to types it is not defined for."""

    at: int  # offset in the source
    reason: str


def type_problems(
    source: str,
    variables: Mapping[str, CelType],
    gives: CelType | None = None,
    functions: Mapping[str, CelType] | None = None,
) -> list[str]:
    """Each type clash of `source` as `line L, column C: reason`; [] when it type-checks, or
    when it uses syntax the parser does not take or nests too deep (then CEL alone judges it).
    `gives`: the type the whole must have; `functions`: global functions of one string
    argument, by what they give."""
    checker = _Checker(dict(variables), dict(functions or {}))
    try:
        tree = parse(source)
        result = checker.type_of(tree)
    except (Unparsed, RecursionError):  # nested deeper than Python recurses: CEL alone judges
        return []
    clashes = list(checker.clashes)
    if gives is not None and not _fits(result, gives):
        clashes.append(Clash(_start(tree), f"gives {result}, not {_plain(gives)}"))
    return [f"{position(source, c.at)}: {c.reason}" for c in clashes]


def _plain(kind: CelType) -> str:
    return "true or false" if kind == BOOL else _a(kind)


def _fits(actual: CelType, wanted: CelType) -> bool:
    return actual.name in ("dyn", wanted.name)


def _start(node: Node) -> int:
    """The offset where a node's source begins (its leftmost operand's)."""
    while isinstance(node, Binary | Ternary | Select | Index) or (
        isinstance(node, Call) and node.target is not None
    ):
        if isinstance(node, Binary):
            node = node.left
        elif isinstance(node, Ternary):
            node = node.condition
        elif isinstance(node, Select | Index):
            node = node.operand
        else:
            assert isinstance(node, Call) and node.target is not None
            node = node.target
    return node.at


def _equal_ok(a: CelType, b: CelType) -> bool:
    """Whether `==` between values of these types can ever be true."""
    names = {a.name, b.name}
    if names & {"dyn", "null"} or a.name == b.name:
        return True
    if names <= {"map", "record"}:
        return True
    return names <= _NUMBERS


def _ordered_ok(a: CelType, b: CelType) -> bool:
    if "dyn" in (a.name, b.name):
        return True
    if a.name in _NUMBERS and b.name in _NUMBERS:
        return True
    return a.name == b.name and a.name in _ORDERED


def _arithmetic(op: str, a: CelType, b: CelType) -> CelType | None:
    """The type of `a op b`, DYN when unknown, None when CEL has no such operation."""
    if "dyn" in (a.name, b.name):
        return DYN
    pair = (a.name, b.name)
    if op == "+":
        if a.name == b.name and a.name in ("int", "uint", "double", "string", "bytes"):
            return a
        if pair == ("list", "list"):
            return a if a == b else list_of(DYN)
        return {
            ("timestamp", "duration"): TIMESTAMP,
            ("duration", "timestamp"): TIMESTAMP,
            ("duration", "duration"): DURATION,
        }.get(pair)
    if op == "-":
        if a.name == b.name and a.name in _NUMBERS:
            return a
        return {
            ("timestamp", "timestamp"): DURATION,
            ("timestamp", "duration"): TIMESTAMP,
            ("duration", "duration"): DURATION,
        }.get(pair)
    allowed = ("int", "uint") if op == "%" else ("int", "uint", "double")
    return a if a.name == b.name and a.name in allowed else None


def _items(container: CelType) -> CelType | None:
    """What a comprehension over `container` binds (a list's items, a map's keys); None when it
    is not a container."""
    if container.name == "dyn":
        return DYN
    if container.name == "list":
        return container.args[0]
    if container.name in ("map", "record"):
        return container.args[0]
    return None


class _Checker:
    def __init__(self, variables: dict[str, CelType], functions: dict[str, CelType]) -> None:
        self.scopes = [variables]
        self.functions = functions
        self.clashes: list[Clash] = []

    def clash(self, at: int, reason: str) -> CelType:
        self.clashes.append(Clash(at, reason))
        return DYN  # typed no further: one mistake, one report

    def type_of(self, node: Node) -> CelType:
        if isinstance(node, Literal):
            return _LITERALS[node.kind]
        if isinstance(node, Ident):
            return self.variable(node.name)
        if isinstance(node, Select):
            return self.select(node)
        if isinstance(node, Index):
            return self.index(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, ListOf):
            return list_of(self.common(node.items))
        if isinstance(node, MapOf):
            keys = self.common(tuple(k for k, _ in node.entries))
            return map_of(keys, self.common(tuple(v for _, v in node.entries)))
        if isinstance(node, Unary):
            return self.unary(node)
        if isinstance(node, Binary):
            return self.binary(node)
        return self.ternary(node)

    def common(self, nodes: tuple[Node, ...]) -> CelType:
        kinds = {self.type_of(n) for n in nodes}
        return kinds.pop() if len(kinds) == 1 else DYN

    def variable(self, name: str) -> CelType:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return TYPE if name in _TYPE_NAMES else DYN

    def select(self, node: Select) -> CelType:
        operand = self.type_of(node.operand)
        if operand.name == "record":
            return operand.field(node.field)
        if operand.name == "map":
            return operand.args[1]
        if operand.name == "dyn":
            return DYN
        reason = f".{node.field} selects a field of {_a(operand)}, which has none"
        return self.clash(node.at, reason)

    def index(self, node: Index) -> CelType:
        operand, index = self.type_of(node.operand), self.type_of(node.index)
        if operand.name == "list":
            if index.name not in ("int", "uint", "dyn"):
                return self.clash(node.at, f"a list is indexed by an int, not {_a(index)}")
            return operand.args[0]
        if operand.name in ("map", "record"):
            if not _equal_ok(index, operand.args[0]):
                return self.clash(node.at, f"a map with {operand.args[0]} keys indexed by {index}")
            literal = node.index
            if (
                operand.name == "record"
                and isinstance(literal, Literal)
                and literal.kind == "string"
            ):
                return operand.field(literal.text[1:-1])
            return operand.args[1] if operand.name == "map" else DYN
        if operand.name == "dyn":
            return DYN
        return self.clash(node.at, f"[...] indexes {_a(operand)}; only lists and maps have items")

    def unary(self, node: Unary) -> CelType:
        operand = self.type_of(node.operand)
        if node.op == "!":
            if _fits(operand, BOOL):
                return BOOL
            return self.clash(node.at, f"! needs true or false, not {_a(operand)}")
        # The `cel` package also takes `-true` (as `!true`), so a bool is let through.
        if operand.name in ("int", "double", "duration", "bool", "dyn"):
            return operand
        return self.clash(node.at, f"- is not defined for {_a(operand)}")

    def binary(self, node: Binary) -> CelType:
        left, right = self.type_of(node.left), self.type_of(node.right)
        op = node.op
        if op in ("&&", "||"):
            for side, kind in (("left", left), ("right", right)):
                if not _fits(kind, BOOL):
                    self.clash(
                        node.at, f"{op} needs true or false on each side; the {side} is {_a(kind)}"
                    )
            return BOOL
        if op in ("==", "!="):
            if not _equal_ok(left, right):
                always = "false" if op == "==" else "true"
                self.clash(
                    node.at,
                    f"{op} compares {_a(left)} with {_a(right)}: always {always}, "
                    f"since {_NEVER_CONVERTS}",
                )
            return BOOL
        if op in ("<", "<=", ">", ">="):
            if not _ordered_ok(left, right):
                reason = f"{op} compares {_a(left)} with {_a(right)}; {_NEVER_CONVERTS}"
                self.clash(node.at, reason + _hint(left, right))
            return BOOL
        if op == "in":
            return self.membership(node, left, right)
        found = _arithmetic(op, left, right)
        if found is None:
            return self.clash(
                node.at,
                f"{op} is not defined for {_a(left)} and {_a(right)}; "
                f"{_NEVER_CONVERTS}{_hint(left, right)}",
            )
        return found

    def membership(self, node: Binary, left: CelType, right: CelType) -> CelType:
        if right.name == "list" and not _equal_ok(left, right.args[0]):
            self.clash(node.at, f"in looks for {_a(left)} in {_a(right)}: never there")
        elif right.name in ("map", "record") and not _equal_ok(left, right.args[0]):
            self.clash(node.at, f"in looks for {_a(left)} among the {right.args[0]} keys of a map")
        elif right.name not in ("list", "map", "record", "dyn"):
            self.clash(node.at, f"in needs a list or a map on its right, not {_a(right)}")
        return BOOL

    def ternary(self, node: Ternary) -> CelType:
        condition = self.type_of(node.condition)
        if not _fits(condition, BOOL):
            self.clash(node.at, f"? needs true or false before it, not {_a(condition)}")
        then, otherwise = self.type_of(node.then), self.type_of(node.otherwise)
        return then if then == otherwise else DYN

    def call(self, node: Call) -> CelType:
        if node.target is not None and node.function in _MACROS and node.args:
            first = node.args[0]
            if isinstance(first, Ident) and len(node.args) in (2, 3):
                return self.macro(node, first.name)
        if node.target is None and node.function == "has":
            for arg in node.args:
                self.type_of(arg.operand if isinstance(arg, Select) else arg)
            return BOOL
        target = None if node.target is None else self.type_of(node.target)
        args = [self.type_of(arg) for arg in node.args]
        if target is None and node.function in _CONVERSIONS and len(args) == 1:
            return _CONVERSIONS[node.function]
        if target is None and node.function in self.functions and len(args) == 1:
            if not _fits(args[0], STRING):
                self.clash(node.at, f"{node.function}() takes a string, not {_a(args[0])}")
            return self.functions[node.function]
        subject = target if target is not None else (args.pop(0) if args else None)
        if subject is None:
            return DYN
        return self.method(node, subject, args)

    def method(self, node: Call, subject: CelType, args: list[CelType]) -> CelType:
        name = node.function
        if name == "size" and not args:
            if subject.name in ("string", "bytes", "list", "map", "record", "dyn"):
                return INT
            return self.clash(node.at, f"size() of {_a(subject)}, which has none")
        if name in _STRING_TESTS and len(args) == 1:
            if not _fits(subject, STRING):
                return self.clash(node.at, f"{name}() is called on a string, not on {_a(subject)}")
            if not _fits(args[0], STRING):
                return self.clash(node.at, f"{name}() takes a string, not {_a(args[0])}")
            return BOOL
        if name in _DATE_PARTS | _TIME_PARTS and len(args) <= 1:
            kinds = (
                ("timestamp", "dyn") if name in _DATE_PARTS else ("timestamp", "duration", "dyn")
            )
            if subject.name not in kinds:
                return self.clash(
                    node.at, f"{name}() reads a {' or a '.join(kinds[:-1])}, not {_a(subject)}"
                )
            return INT
        return DYN

    def macro(self, node: Call, variable: str) -> CelType:
        assert node.target is not None
        container = self.type_of(node.target)
        item = _items(container)
        if item is None:
            reason = f".{node.function}() runs over a list or a map, not {_a(container)}"
            self.clash(node.at, reason)
            item = DYN
        self.scopes.append({variable: item})
        try:
            results = [self.type_of(arg) for arg in node.args[1:]]
        finally:
            self.scopes.pop()
        predicates = results if node.function != "map" else results[:-1]
        for predicate, arg in zip(predicates, node.args[1:], strict=False):
            if not _fits(predicate, BOOL):
                self.clash(
                    _start(arg), f".{node.function}() needs a condition here, not {_a(predicate)}"
                )
        if node.function == "map":
            return list_of(results[-1])
        if node.function == "filter":
            return container if container.name == "list" else list_of(item)
        return BOOL


def _a(kind: CelType) -> str:
    """The type's name with its article: `a string`, `an int`."""
    text = str(kind)
    return f"an {text}" if text[0] in "aeiou" else f"a {text}"


def _hint(left: CelType, right: CelType) -> str:
    kinds = {left.name, right.name}
    if kinds <= _NUMBERS:
        return " (convert one side with int(...), uint(...) or double(...); 2.0 is a double)"
    if "string" in kinds and kinds & (_NUMBERS | {"timestamp"}):
        return " (convert with double(...), int(...), timestamp(...) or string(...))"
    return ""
