"""rollup sums in two words: exact past 2**63 micro-units on both backends

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 21:00:00.000000

`sum_micros` (one BIGINT) becomes `sum_high * 10**18 + sum_low` (see `metering.sums`). Every
integer sum converts exactly. A SQLite sum that already overflowed under the old schema was
stored as a float (SQLite's integer overflow) and lost its last digits: such an hourly bucket is
refolded from its events, and such a month re-added from its hours, so nothing stays rounded.
PostgreSQL refused those additions, so it holds no such row.
"""

import operator
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORD = 10**18  # metering.sums.WORD when this revision was written
_TABLES = ("rollups", "rollups_monthly")
_INT64 = (-(2**63), 2**63 - 1)
_MICROS_PER_HOUR = 3_600_000_000


def upgrade() -> None:
    connection = op.get_bind()
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("sum_high", sa.BigInteger(), nullable=True))
            batch_op.add_column(sa.Column("sum_low", sa.BigInteger(), nullable=True))
        # Integer `/` and `%` truncate toward zero on both backends; the CASE makes them floor,
        # so 0 <= sum_low < WORD, without an intermediate that could overflow.
        negative = f"(sum_micros % {WORD} < 0)"
        integral = " WHERE typeof(sum_micros) = 'integer'" if _sqlite(connection) else ""
        connection.execute(
            sa.text(
                f"UPDATE {table} SET"
                f" sum_high = sum_micros / {WORD} - CASE WHEN {negative} THEN 1 ELSE 0 END,"
                f" sum_low = sum_micros % {WORD} + CASE WHEN {negative} THEN {WORD} ELSE 0 END"
                + integral
            )
        )
    if _sqlite(connection):
        _refold_rounded_hours(connection)
        _readd_rounded_months(connection)
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("sum_high", existing_type=sa.BigInteger(), nullable=False)
            batch_op.alter_column("sum_low", existing_type=sa.BigInteger(), nullable=False)
            batch_op.drop_column("sum_micros")


def _sqlite(connection: sa.Connection) -> bool:
    return connection.dialect.name == "sqlite"


def _refold_rounded_hours(connection: sa.Connection) -> None:
    """Sum again, from the events in force, every hourly bucket whose sum SQLite rounded."""
    rounded = connection.execute(
        sa.text(
            "SELECT r.tenant_id, r.meter_id, r.account_id, r.dims, r.hour, m.definition"
            " FROM rollups r JOIN meters m ON m.id = r.meter_id WHERE r.sum_high IS NULL"
        )
    ).all()
    for tenant_id, meter_id, account_id, dims, hour, definition in rounded:
        meter = orjson.loads(definition)
        rows = connection.execute(
            sa.text(
                "SELECT properties, value_micros FROM events WHERE tenant_id = :tenant"
                " AND account_id = :account AND type = :type AND ts_us >= :start"
                " AND ts_us < :stop AND superseded_by IS NULL"
                " AND (correction IS NULL OR correction != 'void')"
            ),
            {
                "tenant": tenant_id,
                "account": account_id,
                "type": meter["event_type"],
                "start": hour * _MICROS_PER_HOUR,
                "stop": (hour + 1) * _MICROS_PER_HOUR,
            },
        )
        total = 0
        for properties, top_level in rows:
            props = orjson.loads(properties)
            if _counted(meter, props, dims):
                total += _value_micros(meter, props, top_level) or 0
        key = (tenant_id, meter_id, account_id, dims, hour)
        _set_words(connection, "rollups", "hour", key, total)


# What the fold counted when this revision was written (metering.aggregations), frozen here like
# 0003's backfill: a migration imports no domain code, which may change after it.
def _counted(meter: dict[str, Any], props: dict[str, Any], dims: str) -> bool:
    """Whether the fold put an event with `props` into the bucket of group `dims`."""
    if not all(_matches(rule, props.get(rule["property"])) for rule in meter["filters"]):
        return False
    names = meter["group_by"]
    label = orjson.dumps({name: props.get(name) for name in names}, option=orjson.OPT_SORT_KEYS)
    return (label.decode() if names else "{}") == dims


def _matches(rule: dict[str, Any], value: Any) -> bool:
    op, expected = rule["op"], rule["value"]
    if op == "exists":
        return bool((value is not None) == expected)
    if value is None:
        return op in ("ne", "not_in")
    if op in ("gt", "gte", "lt", "lte"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return bool(_ORDERED[op](value, expected))
    if op == "in":
        return bool(value in expected)
    if op == "not_in":
        return bool(value not in expected)
    return bool(value == expected) is (op == "eq")


_ORDERED = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def _value_micros(meter: dict[str, Any], props: dict[str, Any], top_level: int | None) -> int:
    """The micro-units an event adds to the sum (0 when it carries no number)."""
    name = meter["value_property"]
    if name is None:
        return top_level or 0
    raw = props.get(name)
    if raw is None or isinstance(raw, bool) or not isinstance(raw, int | float):
        return 0
    # str() of a float is its shortest round-trip form, as metering.quantities reads it
    return raw * 10**6 if isinstance(raw, int) else int(Decimal(str(raw)).scaleb(6))


def _readd_rounded_months(connection: sa.Connection) -> None:
    """Add up again, from its (now exact) hours, every monthly row whose sum SQLite rounded."""
    rounded = connection.execute(
        sa.text(
            "SELECT tenant_id, meter_id, account_id, dims, month FROM rollups_monthly"
            " WHERE sum_high IS NULL"
        )
    ).all()
    for tenant_id, meter_id, account_id, dims, month in rounded:
        words = connection.execute(
            sa.text(
                "SELECT sum_high, sum_low FROM rollups WHERE tenant_id = :tenant"
                " AND meter_id = :meter AND account_id = :account AND dims = :dims"
                " AND hour >= :start AND hour < :stop"
            ),
            {
                "tenant": tenant_id,
                "meter": meter_id,
                "account": account_id,
                "dims": dims,
                "start": _month_start_hour(month),
                "stop": _month_start_hour(month + 1),
            },
        )
        total = sum(high * WORD + low for high, low in words)
        key = (tenant_id, meter_id, account_id, dims, month)
        _set_words(connection, "rollups_monthly", "month", key, total)


def _month_start_hour(month: int) -> int:
    """Hours since 1970 at the start of `month` (months since year 0: year * 12 + month - 1)."""
    start = datetime(month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return (start - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(hours=1)


def _set_words(
    connection: sa.Connection, table: str, bucket: str, key: tuple[Any, ...], micros: int
) -> None:
    high, low = divmod(micros, WORD)
    connection.execute(
        sa.text(
            f"UPDATE {table} SET sum_high = :high, sum_low = :low WHERE tenant_id = :tenant"
            f" AND meter_id = :meter AND account_id = :account AND dims = :dims"
            f" AND {bucket} = :bucket"
        ),
        dict(zip(("tenant", "meter", "account", "dims", "bucket"), key, strict=True))
        | {"high": high, "low": low},
    )


def downgrade() -> None:
    connection = op.get_bind()
    for table in _TABLES:
        _refuse_wide_sums(connection, table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("sum_micros", sa.BigInteger(), nullable=True))
        # (high + 1) * WORD keeps a negative high's product inside a BIGINT.
        connection.execute(
            sa.text(
                f"UPDATE {table} SET sum_micros = CASE WHEN sum_high < 0"
                f" THEN (sum_high + 1) * {WORD} + (sum_low - {WORD})"
                f" ELSE sum_high * {WORD} + sum_low END"
            )
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("sum_micros", existing_type=sa.BigInteger(), nullable=False)
            batch_op.drop_column("sum_low")
            batch_op.drop_column("sum_high")


def _refuse_wide_sums(connection: sa.Connection, table: str) -> None:
    """Stop before a sum the old single BIGINT cannot hold is changed."""
    # Only |high| >= 9 can leave the BIGINT range: 2**63 is 9.2 * WORD.
    rows = connection.execute(
        sa.text(f"SELECT sum_high, sum_low FROM {table} WHERE sum_high >= 9 OR sum_high <= -10")
    )
    wide = sum(1 for high, low in rows if not _INT64[0] <= high * WORD + low <= _INT64[1])
    if wide:
        raise RuntimeError(
            f"cannot downgrade below 0010: {wide} sums in {table} exceed 2**63 micro-units,"
            " which the older schema cannot hold"
        )
