"""The Alembic migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import valueproof.contracts.tables
import valueproof.ledger.tables
import valueproof.metering.tables
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
