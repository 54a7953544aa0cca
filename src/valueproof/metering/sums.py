"""Sums of quantities as two BIGINT words, exact on SQLite and PostgreSQL far past 64 bits.

A rollup's sum is `high * WORD + low` micro-units with `0 <= low < WORD`. One quantity (below
2**63 micro-units, the events' own BIGINT) moves `high` by at most 10, so `high` cannot overflow
before the event count does: no realistic meter reaches the edge. SQLite has no wider integer and
silently turns an overflowing sum into a float; these words keep every sum an exact integer on
both backends with plain SQL integer arithmetic (no registered functions, no NUMERIC).

The SQL that adds a delta in place (`carry_sql`) and the SQL that adds many rows (`summed`) live
here beside `split` and `join`, which they must agree with.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func

__all__ = ["HALF", "WORD", "carry_sql", "join", "join_summed", "split", "summed"]

WORD = 10**18  # the range of the low word: any single quantity's micro-units fit below it
HALF = 10**9  # reads add the low word's halves apart: a SUM of many rows stays below 2**63


def split(micros: int) -> tuple[int, int]:
    """(high, low) words of a sum of micro-units, `0 <= low < WORD`."""
    return divmod(micros, WORD)


def join(high: int, low: int) -> int:
    """The micro-units of a row's (high, low) words."""
    return high * WORD + low


def join_summed(high: int, upper: int, lower: int) -> int:
    """The micro-units of `summed`'s three sums (of high, of low / HALF, of low % HALF)."""
    return join(high, upper * HALF + lower)


def carry_sql(table: str) -> list[str]:
    """SET clauses of an upsert that adds `excluded`'s words to `table`'s row.

    Both lows are below WORD, so their sum (below 2 * WORD < 2**63) cannot overflow, and
    integer `/` of a non-negative number is the floor division on both backends (no `%`: the
    statement goes to the driver as written, and psycopg reads `%` as a placeholder). SET
    expressions read the row as it was before the update.
    """
    low = f"({table}.sum_low + excluded.sum_low)"
    return [
        f" sum_high = {table}.sum_high + excluded.sum_high + {low} / {WORD}",
        f" sum_low = {low} - {low} / {WORD} * {WORD}",
    ]


def summed(table: Any) -> tuple[Any, Any, Any]:
    """SQL adding a table's sum words over many rows, for `join_summed`: SUM(high), and the low
    word's upper and lower halves summed apart (each below HALF: 9 * 10**9 rows fit a BIGINT)."""
    low = table.c.sum_low
    return (
        func.sum(table.c.sum_high),
        func.sum(low.op("/")(HALF)),
        func.sum(low % HALF),
    )
