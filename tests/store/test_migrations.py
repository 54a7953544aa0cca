"""The Alembic migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

import orjson
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

import valueproof.contracts.tables
import valueproof.ledger.tables
import valueproof.metering.tables
import valueproof.outcomes.tables
import valueproof.tenancy.tables  # noqa: F401  (declares its tables on the metadata)
from valueproof.metering import sums
from valueproof.metering.definitions import Meter
from valueproof.store import connect_engine, metadata, upgrade
from valueproof.store.migrate import alembic_config

from ..conftest import BACKENDS, database_url


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrated_schema_matches_the_declared_tables(
    backend: str, request: pytest.FixtureRequest
) -> None:
    engine = connect_engine(database_url(backend, request, "migrations"))
    upgrade(engine)
    upgrade(engine)  # idempotent
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert differences == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_downgrade_removes_everything_and_upgrade_restores_it(
    backend: str, request: pytest.FixtureRequest
) -> None:
    engine = connect_engine(database_url(backend, request, "roundtrip"))
    upgrade(engine)
    command.downgrade(alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert {"events", "rollups", "accounts"} <= set(inspect(engine).get_table_names())
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_monthly_tier_is_filled_from_the_hourly_rollups_on_upgrade(
    backend: str, request: pytest.FixtureRequest
) -> None:
    engine = connect_engine(database_url(backend, request, "monthly"))
    command.upgrade(alembic_config(engine), "0002")
    hour = 493_000  # 2026-03-29T16:00Z; the next bucket is in the same month, the third in April
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO tenants (id, slug, name, created_us) VALUES (1, 't', 't', 0)")
        )
        connection.execute(
            text(
                "INSERT INTO meters (id, tenant_id, key, definition, created_us, updated_us)"
                " VALUES (1, 1, 'm', '{}', 0, 0)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO accounts (id, tenant_id, external_id, name, attributes, created_us,"
                " updated_us) VALUES (1, 1, 'a', 'a', '{}', 0, 0)"
            )
        )
        for offset, count, total, latest in ((0, 2, 30, 5), (1, 3, 70, 9), (60, 1, 4, 1)):
            connection.execute(
                text(
                    "INSERT INTO rollups (tenant_id, meter_id, account_id, dims, hour, event_count,"
                    " sum_micros, min_micros, max_micros, latest_ts_us, latest_seq, latest_micros)"
                    " VALUES (1, 1, 1, '{}', :hour, :count, :total, 1, 50, :ts, :seq, :latest)"
                ),
                {
                    "hour": hour + offset,
                    "count": count,
                    "total": total,
                    "ts": hour + offset,
                    "seq": offset,
                    "latest": latest,
                },
            )
    upgrade(engine, "0003")
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT month, event_count, sum_micros, latest_micros FROM rollups_monthly"
                " ORDER BY month"
            )
        ).all()
    engine.dispose()
    march = 2026 * 12 + 2
    assert [tuple(row) for row in rows] == [(march, 5, 100, 9), (march + 1, 1, 4, 1)]


def seed_0009(connection: Connection) -> None:
    """A tenant, an account and a `sum` meter by region, in the 0009 schema."""
    meter = Meter(
        key="bytes",
        event_type="transfer",
        aggregation="sum",
        value_property="bytes",
        group_by=["region"],
        filters=[{"property": "ok", "op": "eq", "value": True}],
    )
    for statement, values in (
        ("INSERT INTO tenants (id, slug, name, created_us) VALUES (1, 't', 't', 0)", {}),
        (
            "INSERT INTO accounts (id, tenant_id, external_id, name, attributes, created_us,"
            " updated_us) VALUES (1, 1, 'a', 'a', '{}', 0, 0)",
            {},
        ),
        (
            "INSERT INTO meters (id, tenant_id, key, definition, created_us, updated_us)"
            " VALUES (1, 1, 'bytes', :definition, 0, 0)",
            {"definition": meter.model_dump_json()},
        ),
    ):
        connection.execute(text(statement), values)


EU = '{"region":"eu"}'


def put_rollup(connection: Connection, table: str, bucket: int, total: float | int) -> None:
    column = "hour" if table == "rollups" else "month"
    connection.execute(
        text(
            f"INSERT INTO {table} (tenant_id, meter_id, account_id, dims, {column}, event_count,"
            " sum_micros) VALUES (1, 1, 1, :dims, :bucket, 1, :total)"
        ),
        {"dims": EU, "bucket": bucket, "total": total},
    )


def words(connection: Connection, table: str) -> list[int]:
    column = "hour" if table == "rollups" else "month"
    rows = connection.execute(text(f"SELECT sum_high, sum_low FROM {table} ORDER BY {column}"))
    return [sums.join(high, low) for high, low in rows]


EDGES = [0, 1, 10**18 - 1, 10**18, 2**63 - 1, -1, -(10**18), -(2**63)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_0010_converts_every_sum_exactly_and_back(
    backend: str, request: pytest.FixtureRequest
) -> None:
    engine = connect_engine(database_url(backend, request, "sums"))
    upgrade(engine, "0009")
    with engine.begin() as connection:
        seed_0009(connection)
        for table in ("rollups", "rollups_monthly"):
            for bucket, total in enumerate(EDGES):
                put_rollup(connection, table, bucket, total)
    upgrade(engine)
    with engine.connect() as connection:
        assert [words(connection, table) for table in ("rollups", "rollups_monthly")] == [
            EDGES,
            EDGES,
        ]
    command.downgrade(alembic_config(engine), "0009")
    with engine.connect() as connection:
        back = connection.execute(text("SELECT sum_micros FROM rollups ORDER BY hour"))
        assert [row[0] for row in back] == EDGES
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_0010_refuses_to_downgrade_a_sum_the_old_column_cannot_hold(
    backend: str, request: pytest.FixtureRequest
) -> None:
    engine = connect_engine(database_url(backend, request, "widedown"))
    upgrade(engine, "0009")
    with engine.begin() as connection:
        seed_0009(connection)
        put_rollup(connection, "rollups", 1, 0)
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE rollups SET sum_high = 9, sum_low = 223372036854775808"))
    with pytest.raises(RuntimeError, match="1 sums in rollups exceed 2\\*\\*63"):
        command.downgrade(alembic_config(engine), "0009")
    with engine.connect() as connection:  # nothing was changed
        assert words(connection, "rollups") == [2**63]
    engine.dispose()


def test_0010_refolds_the_sums_sqlite_had_rounded_to_floats(
    request: pytest.FixtureRequest,
) -> None:
    engine = connect_engine(database_url("sqlite", request, "rounded"))
    upgrade(engine, "0009")
    hour = 491_592  # 2026-01-30T00:00Z; the next bucket is in the same month
    month = 2026 * 12
    with engine.begin() as connection:
        seed_0009(connection)
        sent = [
            {"bytes": 9_000_000_000_000, "region": "eu", "ok": True},
            {"bytes": 9_000_000_000_000, "region": "eu", "ok": True},
            {"bytes": 1e-06, "region": "eu", "ok": True},
            {"bytes": 5, "region": "us", "ok": True},  # another group
            {"bytes": 7, "region": "eu", "ok": False},  # filtered out
            {"bytes": 11, "region": "eu", "ok": True, "voided": True},
        ]
        for seq, properties in enumerate(sent):
            connection.execute(
                text(
                    "INSERT INTO events (seq, tenant_id, event_id, account_id, type, ts_us,"
                    " properties, correction, superseded_by, content_sha256, received_us)"
                    " VALUES (:seq, 1, :id, 1, 'transfer', :ts, :properties, NULL, :by, :sha, 0)"
                ),
                {
                    "seq": seq + 1,
                    "id": f"e{seq}",
                    "ts": hour * 3_600_000_000 + seq,
                    "properties": orjson.dumps(properties).decode(),
                    "by": "v" if properties.get("voided") else None,
                    "sha": bytes(32),
                },
            )
        # What the old code left: 9e18 + 9e18 + 1 overflowed into a float in the hour and the
        # month; the next hour is exact, and only its month's float is wrong.
        put_rollup(connection, "rollups", hour, 1.8e19)
        put_rollup(connection, "rollups", hour + 1, 5)
        put_rollup(connection, "rollups_monthly", month, 1.8e19)
        typed = connection.execute(text("SELECT typeof(sum_micros) FROM rollups_monthly"))
        assert typed.scalar_one() == "real"
    upgrade(engine)
    with engine.connect() as connection:
        assert words(connection, "rollups") == [18 * 10**18 + 1, 5]
        assert words(connection, "rollups_monthly") == [18 * 10**18 + 6]
    engine.dispose()
