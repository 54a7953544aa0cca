"""Keeping Customer Success current: a beat refreshes every account once a day and, in between,
only the accounts with new usage; the server runs the beat in the background."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from valueproof.api.app import create_app
from valueproof.config import Settings
from valueproof.store import connect_engine, read, tenant_lock, upgrade, write
from valueproof.success.live import refresh_tenant_if_due
from valueproof.success.tables import success_health

from ..conftest import database_url
from ..contracts.conftest import Priced, priced_tenant
from .test_refresh import events

NOW = datetime.now(UTC)


def beat(priced: Priced, now: datetime = NOW) -> Any:
    with write(priced.engine) as connection:
        tenant_lock(connection, priced.tenant.id)
        return refresh_tenant_if_due(connection, priced.tenant.id, now)


def one_event(account: str, n: int) -> dict[str, Any]:
    return {
        "id": f"live-{account}-{n}",
        "account": account,
        "type": "api.call",
        "timestamp": NOW.isoformat(),
        "properties": {"region": "eu"},
    }


def test_every_account_once_a_day_and_in_between_those_with_new_usage(priced: Priced) -> None:
    priced.ingest(events("acme", 80))
    priced.ingest(events("globex", 80))
    first = beat(priced)
    assert first is not None and first.accounts == 3  # the day's first beat: every account
    assert beat(priced) is None  # nothing new
    priced.ingest([one_event("acme", 1)])
    later = beat(priced)
    assert later is not None and later.accounts == 1
    assert beat(priced) is None
    tomorrow = beat(priced, NOW + timedelta(days=1))
    assert tomorrow is not None and tomorrow.accounts == 3


def test_the_server_runs_the_beat_in_the_background(
    request: pytest.FixtureRequest, serve: Callable[..., AbstractContextManager[str]]
) -> None:
    engine = connect_engine(database_url("sqlite", request, "live"))
    upgrade(engine)
    fresh = priced_tenant(engine)
    fresh.ingest(events("acme", 80))
    settings = Settings(database_url=str(engine.url), success_refresh_seconds=1)
    with serve(create_app(engine, settings), lifespan="on"):
        deadline = time.monotonic() + 30
        scored = 0
        while time.monotonic() < deadline and not scored:
            time.sleep(0.5)
            with read(engine) as connection:
                scored = connection.execute(
                    select(func.count()).select_from(success_health)
                ).scalar_one()
    engine.dispose()
    assert scored >= 3
