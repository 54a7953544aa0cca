"""`valueproof serve`: the HTTP API and dashboard under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from valueproof.cli.context import invocation


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(
            help="Address to bind (default: VALUEPROOF_HOST, else 127.0.0.1).", show_default=False
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="Port to bind (default: VALUEPROOF_PORT, else 8000).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the HTTP API on a database that `db upgrade` has migrated. Stop it with Ctrl-C."""
    # Imported here, not at the top: the web stack would slow down the start of every command.
    import uvicorn

    from valueproof.server import create_app

    here = invocation(ctx)
    uvicorn.run(
        create_app(here.engine, here.config),
        host=here.config.host if host is None else host,
        port=here.config.port if port is None else port,
    )
