"""`valueproof db`: the database schema."""

from __future__ import annotations

import typer

from valueproof.cli.context import engine_of
from valueproof.cli.output import command_group, say
from valueproof.store import upgrade

app = command_group("The database schema.")


@app.command("upgrade")
def upgrade_database(ctx: typer.Context) -> None:
    """Migrate the database to the newest schema (safe to run again)."""
    engine = engine_of(ctx)
    upgrade(engine)
    say(f"{engine.url.render_as_string(hide_password=True)} is at the newest schema")
