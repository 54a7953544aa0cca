"""CEL conditions inside contracts: compiled once when a contract is read, run at rating.

A component's `filter` sees `group`, the group-by values of one usage group of its meter, so it
runs on rollups, never on raw events. A `when` sees `usage` (meter key to period-to-date total),
`period` and `account`, and decides whether the component applies in a period at all.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from valueproof.contracts.errors import RatingError
from valueproof.outcomes.expressions import CEL_ERRORS

FILTER_VARIABLES = frozenset({"group"})
WHEN_VARIABLES = frozenset({"usage", "period", "account"})


@dataclass(frozen=True, slots=True, eq=False)
class Condition:
    """A compiled CEL expression that must yield a boolean."""

    source: str
    field: str  # where it sits in its contract, for errors at rating time
    program: Any  # cel.Program (the package ships no type stubs)

    def holds(self, context: Mapping[str, Any]) -> bool:
        """Run the expression; anything but true or false is a RatingError naming the field."""
        try:
            result = self.program.execute(dict(context))
        except CEL_ERRORS as error:
            raise RatingError(self.field, f"CEL expression failed: {_reason(error)}") from None
        if not isinstance(result, bool):
            raise RatingError(self.field, f"CEL expression gave {result!r}, not true or false")
        return result


def compile_condition(source: str, field: str, variables: frozenset[str]) -> Condition:
    """Compile `source`, refusing syntax errors and names outside `variables` (ValueError)."""
    program = _program(source)
    unknown = sorted(set(program.variables()) - variables)
    if unknown:
        allowed = ", ".join(sorted(variables))
        raise ValueError(f"CEL names unknown variable {unknown[0]!r}; it may use {allowed}")
    return Condition(source, field, program)


@functools.lru_cache(maxsize=4096)
def _program(source: str) -> Any:
    """The compiled program of `source`: contracts of many accounts share their expressions, and
    a program is immutable (each run gets its own variables)."""
    # Imported here: the cel package imports its REPL (prompt_toolkit, Rich) with it, a few
    # tenths of a second that every command importing this module would pay at start-up.
    import cel

    try:
        return cel.compile(source)
    except ValueError as error:
        raise ValueError(f"invalid CEL: {_first_line(str(error))}") from None


def check_functions(condition: Condition, sample: Mapping[str, Any]) -> None:
    """Run once on `sample` to refuse functions CEL doesn't know (ValueError).

    Only an undefined name is a defect of the expression; other failures depend on the data
    (a missing key in the sample, say) and are left to rating.
    """
    try:
        condition.program.execute(dict(sample))
    except RuntimeError as error:
        if "Undefined variable or function" in str(error):
            raise ValueError(f"invalid CEL: {_first_line(str(error))}") from None
    except CEL_ERRORS:
        return


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "malformed expression"


def _reason(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"no such key {error.args[0]!r}"
    return _first_line(str(error))
