"""CEL source as a tree with positions, for the static checks of `cel_types`.

The `cel` package compiles and runs expressions but shows no syntax tree, so this is a small
recursive-descent parser of CEL's grammar (https://github.com/google/cel-spec, langdef.md).
Every node keeps the offset of its token, so a problem can name its line and column. It parses
only what type checking needs; anything it does not know (struct literals, `.?` optional
selection) raises `Unparsed`, and the caller then checks nothing rather than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Binary",
    "Call",
    "Ident",
    "Index",
    "ListOf",
    "Literal",
    "MapOf",
    "Node",
    "Select",
    "Ternary",
    "Unary",
    "Unparsed",
    "parse",
    "position",
]


class Unparsed(ValueError):
    """The source uses syntax this parser does not take; nothing is checked."""


@dataclass(frozen=True, slots=True)
class Literal:
    at: int
    kind: str  # int, uint, double, string, bytes, bool, null
    text: str = ""  # as written


@dataclass(frozen=True, slots=True)
class Ident:
    at: int
    name: str


@dataclass(frozen=True, slots=True)
class Select:
    at: int  # the `.`
    operand: Node
    field: str


@dataclass(frozen=True, slots=True)
class Index:
    at: int  # the `[`
    operand: Node
    index: Node


@dataclass(frozen=True, slots=True)
class Call:
    at: int  # the function's name
    target: Node | None  # `x` of `x.f(...)`
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ListOf:
    at: int
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MapOf:
    at: int
    entries: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class Unary:
    at: int
    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    at: int  # the operator
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Ternary:
    at: int  # the `?`
    condition: Node
    then: Node
    otherwise: Node


Node = Literal | Ident | Select | Index | Call | ListOf | MapOf | Unary | Binary | Ternary

_TOKEN = re.compile(
    r"""
      (?P<skip>\s+|//[^\n]*)
    | (?P<string>(?:[rR][bB]?|[bB][rR]|[bB])?(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''
                                             |"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
    | (?P<number>0[xX][0-9a-fA-F]+[uU]?
               |(?:[0-9]+\.[0-9]+|\.[0-9]+)(?:[eE][+-]?[0-9]+)?
               |[0-9]+[eE][+-]?[0-9]+
               |[0-9]+[uU]?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>==|!=|<=|>=|&&|\|\||\.\?|[-+*/%!<>?:.,\[\](){}])
    """,
    re.VERBOSE,
)
_RELATIONS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in"})


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # string, number, name, op, end
    text: str
    at: int


def _tokens(source: str) -> list[_Token]:
    found = []
    at = 0
    while at < len(source):
        match = _TOKEN.match(source, at)
        if match is None:
            raise Unparsed(f"unexpected {source[at]!r}")
        kind = match.lastgroup or "skip"
        if kind != "skip":
            found.append(_Token(kind, match.group(), at))
        at = match.end()
    found.append(_Token("end", "", len(source)))
    return found


def position(source: str, offset: int) -> str:
    """`line L, column C` (both from 1) of an offset in `source`."""
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def parse(source: str) -> Node:
    """The tree of a CEL expression; Unparsed when it is not one this parser takes."""
    return _Parser(_tokens(source)).whole()


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self, text: str | None = None) -> _Token:
        token = self.tokens[self.i]
        if text is not None and token.text != text:
            raise Unparsed(f"expected {text!r} at offset {token.at}")
        self.i += 1
        return token

    def accept(self, text: str) -> bool:
        if self.peek().text == text and self.peek().kind in ("op", "name"):
            self.i += 1
            return True
        return False

    def whole(self) -> Node:
        node = self.expression()
        if self.peek().kind != "end":
            raise Unparsed(f"unexpected {self.peek().text!r}")
        return node

    def expression(self) -> Node:
        condition = self.binary(0)
        if self.peek().text == "?" and self.peek().kind == "op":
            at = self.take().at
            then = self.binary(0)
            self.take(":")
            return Ternary(at, condition, then, self.expression())
        return condition

    # Precedence from loosest: ||, &&, relations, + -, * / %.
    _LEVELS: tuple[frozenset[str], ...] = (
        frozenset({"||"}),
        frozenset({"&&"}),
        _RELATIONS,
        frozenset({"+", "-"}),
        frozenset({"*", "/", "%"}),
    )

    def binary(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while self.peek().text in self._LEVELS[level] and self.peek().kind in ("op", "name"):
            token = self.take()
            node = Binary(token.at, token.text, node, self.binary(level + 1))
        return node

    def unary(self) -> Node:
        token = self.peek()
        if token.kind == "op" and token.text in ("!", "-"):
            count = 0
            while self.peek().kind == "op" and self.peek().text == token.text:
                token = self.take()
                count += 1
            # As CEL's parser does: `!!x` and `--x` are `x`, unchecked by the operator.
            operand = self.unary()
            if count % 2 == 0:
                return operand
            folds = isinstance(operand, Literal) and operand.kind in ("int", "double")
            if token.text == "-" and folds and operand.at == token.at + 1:
                return operand  # `-1` is a literal (and -9223372036854775808 fits only so)
            return Unary(token.at, token.text, operand)
        return self.member(self.primary())

    def member(self, node: Node) -> Node:
        while True:
            token = self.peek()
            if token.kind != "op" or token.text not in (".", "["):
                return node
            self.take()
            if token.text == "[":
                index = self.expression()
                self.take("]")
                node = Index(token.at, node, index)
                continue
            name = self.take()
            if name.kind != "name":
                raise Unparsed(f"expected a field name at offset {name.at}")
            if self.accept("("):
                node = Call(name.at, node, name.text, self.arguments(")"))
            else:
                node = Select(token.at, node, name.text)

    def arguments(self, closing: str) -> tuple[Node, ...]:
        items: list[Node] = []
        while not self.accept(closing):
            items.append(self.expression())
            if not self.accept(","):
                self.take(closing)
                break
        return tuple(items)

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return Literal(token.at, _number_kind(token.text), token.text)
        if token.kind == "string":
            prefix = token.text[: token.text.find(token.text[-1])].lower()
            return Literal(token.at, "bytes" if "b" in prefix else "string", token.text)
        if token.kind == "name":
            if token.text in ("true", "false"):
                return Literal(token.at, "bool")
            if token.text == "null":
                return Literal(token.at, "null")
            if self.accept("("):
                return Call(token.at, None, token.text, self.arguments(")"))
            if self.peek().text == "{":
                raise Unparsed("struct literals are not checked")
            return Ident(token.at, token.text)
        if token.text == "(":
            node = self.expression()
            self.take(")")
            return node
        if token.text == "[":
            return ListOf(token.at, self.arguments("]"))
        if token.text == "{":
            return MapOf(token.at, self.entries())
        if token.text == ".":
            raise Unparsed("leading-dot names are not checked")
        raise Unparsed(f"unexpected {token.text!r} at offset {token.at}")

    def entries(self) -> tuple[tuple[Node, Node], ...]:
        entries: list[tuple[Node, Node]] = []
        while not self.accept("}"):
            key = self.expression()
            self.take(":")
            entries.append((key, self.expression()))
            if not self.accept(","):
                self.take("}")
                break
        return tuple(entries)


def _number_kind(text: str) -> str:
    lowered = text.lower()
    if lowered.endswith("u"):
        return "uint"
    if lowered.startswith("0x"):
        return "int"
    return "double" if any(c in lowered for c in ".e") else "int"
