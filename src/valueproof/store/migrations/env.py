"""Alembic environment: runs migrations on the engine handed over by `store.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

# Every domain's tables must be imported so autogenerate sees the whole schema.
import valueproof.billing.stripe_tables
import valueproof.billing.tables
import valueproof.contracts.tables
import valueproof.ledger.tables
import valueproof.metering.tables
import valueproof.outcomes.tables
import valueproof.success.tables
import valueproof.tenancy.tables
import valueproof.webhooks.tables  # noqa: F401
from valueproof.config import settings
from valueproof.store.engine import connect_engine
from valueproof.store.schema import metadata


def _engine() -> Engine:
    engine = context.config.attributes.get("engine")
    return engine if engine is not None else connect_engine(settings().database_url)


def run_migrations_online() -> None:
    with _engine().connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
