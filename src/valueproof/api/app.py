"""The FastAPI application: one engine, the problem handlers, the routers and the dashboard."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from valueproof import __version__
from valueproof.api import problems
from valueproof.api.routers import accounts, events, ledger, meters, usage
from valueproof.config import Settings, settings
from valueproof.ledger.keyring import Keyring
from valueproof.store import connect_engine
from valueproof.web import pages


def create_app(engine: Engine | None = None, config: Settings | None = None) -> FastAPI:
    """Build the app on `engine` (default: the configured database, already migrated)."""
    config = config or settings()
    app = FastAPI(
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
    for router in (accounts.router, meters.router, events.router, usage.router, ledger.router):
        app.include_router(router)
    app.include_router(pages.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
