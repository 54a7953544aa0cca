"""The FastAPI application: one engine, the problem handlers and the routers (the dashboard is
mounted beside them by `valueproof.server`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from functools import partial

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from valueproof import __version__
from valueproof.api import problems
from valueproof.api.nul_bytes import RefuseNulBytes
from valueproof.api.openapi import openapi_document
from valueproof.api.routers import (
    accounts,
    backtest,
    billing,
    contracts,
    disputes,
    events,
    exports,
    ledger,
    meters,
    oracles,
    outcomes,
    plans,
    stripe,
    success,
    success_inputs,
    usage,
    webhooks,
)
from valueproof.billing import writes as billing_writes
from valueproof.billing.stripe_handoff import push_every_tenant
from valueproof.config import Settings, settings
from valueproof.errors import ValueproofError
from valueproof.ledger.keyring import Keyring
from valueproof.ledger.publish import CheckpointPolicy, sign_due_checkpoints
from valueproof.store import connect_engine
from valueproof.success import writes
from valueproof.tenancy.clock import now_us
from valueproof.webhooks.writes import deliverer


def create_app(engine: Engine | None = None, config: Settings | None = None) -> FastAPI:
    """Build the app on `engine` (default: the configured database, already migrated)."""
    config = config or settings()
    app = FastAPI(
        lifespan=_timers,
        title="valueproof",
        version=__version__,
        description="Metering, verifiable records and billing for consumption and outcome pricing.",
    )
    app.state.engine = engine or connect_engine(config.database_url)
    app.state.settings = config
    app.state.keyring = Keyring(
        config.ledger_passphrase.get_secret_value() if config.ledger_passphrase else None
    )
    problems.install(app)
    app.add_middleware(RefuseNulBytes, limit=config.max_request_bytes)
    for router in (
        accounts.router,
        meters.router,
        events.router,
        usage.router,
        ledger.router,
        contracts.router,
        oracles.router,
        outcomes.router,
        disputes.router,
        plans.router,
        success.router,
        success_inputs.router,
        backtest.router,
        billing.router,
        exports.router,
        stripe.router,
        webhooks.router,
    ):
        app.include_router(router)
    app.openapi = partial(openapi_document, app)  # type: ignore[method-assign]

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


@asynccontextmanager
async def _timers(app: FastAPI) -> AsyncIterator[None]:
    """The server's background beats: with a checkpoint interval set, sign due checkpoints;
    with a success refresh interval, keep alerts and health current; with a billing close
    interval, close every tenant's due periods into invoices; with a Stripe key and a push
    interval, hand finalized invoices to Stripe; with the passphrase that opens endpoint
    secrets, deliver due webhooks."""
    config: Settings = app.state.settings
    interval = config.checkpoint_interval_seconds
    tasks = []
    if interval and config.ledger_passphrase is not None:
        policy = CheckpointPolicy.from_settings(app.state.keyring, config)
        tasks.append(asyncio.create_task(_sign_every(interval, app.state.engine, policy)))
    if config.success_refresh_seconds:
        beat = config.success_refresh_seconds
        tasks.append(asyncio.create_task(_refresh_every(beat, app.state.engine)))
    if config.billing_close_seconds:
        policy = CheckpointPolicy.from_settings(app.state.keyring, config)
        beat = config.billing_close_seconds
        tasks.append(asyncio.create_task(_close_every(beat, app.state.engine, policy)))
    if config.stripe_push_seconds and config.stripe_api_key is not None:
        beat = config.stripe_push_seconds
        tasks.append(asyncio.create_task(_push_every(beat, app.state.engine, config)))
    if config.webhook_delivery_seconds and config.ledger_passphrase is not None:
        every = config.webhook_delivery_seconds
        tasks.append(asyncio.create_task(_deliver_every(every, app.state.engine, config)))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        # A beat's work runs in a thread that cancelling cannot stop: wait for it, so that none
        # is still using the database (or Stripe) after the server has stopped.
        await asyncio.gather(*tasks, return_exceptions=True)


async def _refresh_every(interval: int, engine: Engine) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(writes.refresh_due, engine, datetime.now(UTC))
        except OperationalError:  # the database is busy or away: the next beat tries again
            continue


async def _close_every(interval: int, engine: Engine, policy: CheckpointPolicy) -> None:
    while True:
        # Busy, away, or a contract that cannot rate now: the next beat tries again, and
        # `valueproof billing close` names the problem.
        with suppress(OperationalError, ValueproofError):
            await run_in_threadpool(billing_writes.close_due, engine, policy, datetime.now(UTC))
        await asyncio.sleep(interval)


async def _push_every(interval: int, engine: Engine, config: Settings) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            # An invoice Stripe refuses is left for the next beat (`pushing` reports it).
            await run_in_threadpool(push_every_tenant, engine, config)
        except OperationalError:  # the database is busy or away: the next beat tries again
            continue


async def _deliver_every(interval: float, engine: Engine, config: Settings) -> None:
    worker = deliverer(engine, config)
    loop = asyncio.get_running_loop()
    try:
        while True:
            started = loop.time()
            # The database busy or away: the next beat tries again.
            with suppress(OperationalError):
                await run_in_threadpool(worker.run_due)
            # Beats `interval` apart, however long the run took: a commit waits one beat at most
            # before the run that sends it begins.
            await asyncio.sleep(max(0.0, started + interval - loop.time()))
    finally:
        await run_in_threadpool(worker.close)


async def _sign_every(interval: int, engine: Engine, policy: CheckpointPolicy) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(sign_due_checkpoints, engine, policy, now_us())
        except OperationalError:  # the database is busy or away: the next beat tries again
            continue
