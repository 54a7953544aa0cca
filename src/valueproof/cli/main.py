"""The `valueproof` command: a root that picks the database, and one command group per domain.

Commands act on the database directly (the operator's tool, run on the server). Only
`db upgrade` and `tenant create` migrate it; every other command expects a migrated database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from valueproof import __version__
from valueproof.cli import (
    accounts,
    apikeys,
    backtest,
    contracts,
    db,
    demo,
    disputes,
    ingest,
    ledger,
    meters,
    oracles,
    outcomes,
    plans,
    serve,
    tenants,
    usage,
)
from valueproof.cli import verify as verify_cli
from valueproof.cli.context import open_invocation
from valueproof.cli.output import MARKUP, ErrorMappingGroup

app = typer.Typer(
    name="valueproof",
    cls=ErrorMappingGroup,
    help="Metering, verifiable records and billing for consumption and outcome pricing.",
    no_args_is_help=True,
    rich_markup_mode=MARKUP,
    # A local in a traceback may hold a database password or an API key.
    pretty_exceptions_show_locals=False,
)

# One group per domain, in the order `valueproof --help` lists them. A new domain (`demo`, ...)
# builds its app with `output.command_group`, reaches the database through `context.engine_of`,
# raises our error types (mapped to exit codes by ErrorMappingGroup), and is added here.
GROUPS: tuple[tuple[str, typer.Typer], ...] = (
    ("db", db.app),
    ("tenant", tenants.app),
    ("apikey", apikeys.app),
    ("accounts", accounts.app),
    ("event-types", meters.event_types_app),
    ("meters", meters.app),
    ("contract", contracts.app),
    ("oracle", oracles.app),
    ("outcomes", outcomes.app),
    ("dispute", disputes.app),
    ("plan", plans.app),
    ("success", backtest.success_group),  # success's commands and `backtest`
    ("demo", demo.app),
    ("ledger", ledger.app),
    ("verify", verify_cli.app),
)

# Single commands, without a group.
COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("ingest", ingest.ingest),
    ("usage", usage.usage),
    ("preview", contracts.preview),
    ("serve", serve.serve),
)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"valueproof {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="SQLAlchemy database URL (default: VALUEPROOF_DATABASE_URL, "
            "else sqlite:///valueproof.db).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """valueproof: metering, verifiable records and billing."""
    open_invocation(ctx, database_url)


for _name, _group in GROUPS:
    app.add_typer(_group, name=_name)
for _name, _command in COMMANDS:
    app.command(_name)(_command)


if __name__ == "__main__":
    app()
