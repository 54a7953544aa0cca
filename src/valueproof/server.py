"""The assembled server: the HTTP API with the dashboard's pages beside it.

The composition root: the one module that imports both shells `api` and `web` (which never import
each other); `valueproof serve` and the tests serve what `create_app` builds here.
"""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from valueproof.api.app import create_app as create_api
from valueproof.config import Settings
from valueproof.web import pages, webhook_pages


def create_app(engine: Engine | None = None, config: Settings | None = None) -> FastAPI:
    """The API (`valueproof.api.app.create_app`) on `engine`, with the dashboard mounted."""
    app = create_api(engine, config)
    app.include_router(pages.router)
    app.include_router(webhook_pages.router)
    return app
