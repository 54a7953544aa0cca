"""The Alembic migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

import valueproof.contracts.tables
import valueproof.ledger.tables
import valueproof.metering.tables
import valueproof.outcomes.tables
import valueproof.tenancy.tables  # noqa: F401  (declares its tables on the metadata)
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
                {"hour": hour + offset, "count": count, "total": total, "ts": hour + offset,
                 "seq": offset, "latest": latest},
            )  # fmt: skip
    upgrade(engine)
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
