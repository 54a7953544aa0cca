"""The `valueproof` command: a root that picks the database, and one command group per domain.

Commands act on the database directly (the operator's tool, run on the server). Only
`db upgrade` and `tenant create` migrate it; every other command expects a migrated database.

The root imports no command module until a command runs: importing them all means SQLAlchemy,
pydantic-settings, NumPy and every domain, a second or more that `--help`, `--version` and each
command would pay before doing anything. So COMMANDS names each command's module and the first
paragraph of its help, which is all `valueproof --help` shows; the root's Click group lists
those, and imports a command's module only when Click resolves the command to run it
(`LazyRootGroup.resolve_command`). `tests/cli/test_startup_imports.py` checks that each summary
is the first paragraph of the command's own help, and what start-up leaves unimported.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from valueproof import __version__
from valueproof.cli.output import MARKUP, ErrorMappingGroup


@dataclass(frozen=True, slots=True)
class Entry:
    """A command of the root: its name, where it is defined, and what `--help` says of it."""

    name: str
    module: str  # under valueproof.cli
    attribute: str  # a typer.Typer for a group, a function for a single command
    summary: str  # the first paragraph of its help, on one line


# Single commands first, then one group per domain: the order `valueproof --help` lists them.
# A new domain builds its app with `output.command_group`, reaches the database through
# `context.engine_of`, raises our error types (mapped to exit codes by ErrorMappingGroup), and
# is added here with the first paragraph of its help.
COMMANDS: tuple[Entry, ...] = (
    Entry(
        "ingest",
        "ingest",
        "ingest",
        "Ingest an events file, one transaction per chunk, and report every item's outcome.",
    ),
    Entry("usage", "usage", "usage", "Show a meter's usage over a window, per hour, day or month."),
    Entry(
        "preview",
        "contracts",
        "preview",
        "Charges of an account's billing period so far, and projected to the period's end.",
    ),
    Entry(
        "serve",
        "serve",
        "serve",
        "Serve the HTTP API on a database that `db upgrade` has migrated. Stop it with Ctrl-C.",
    ),
    Entry("db", "db", "app", "The database schema."),
    Entry("tenant", "tenants", "app", "Tenants: the vendors whose data this database keeps."),
    Entry("apikey", "apikeys", "app", "API keys of a tenant."),
    Entry("accounts", "accounts", "app", "Customer accounts of a tenant."),
    Entry("event-types", "meters", "event_types_app", "Event types: what usage events carry."),
    Entry("meters", "meters", "app", "Meters: how events become usage."),
    Entry(
        "contract",
        "contracts",
        "app",
        "Contracts: an account's commercial terms, versioned on the ledger.",
    ),
    Entry(
        "billing",
        "billing",
        "app",
        "Billing: close each period into an invoice after its grace window, approve drafts, void, "
        "record payments, issue credit notes; settings and billing profiles.",
    ),
    Entry(
        "oracle",
        "oracles",
        "app",
        "Oracles: signed KPI readings from agreed data sources. `keygen`, `sign` and `submit` "
        "are the source's side and need no database; the rest act on the vendor's.",
    ),
    Entry(
        "outcomes",
        "outcomes",
        "app",
        "Outcome pricing: definitions of what a claimed outcome must meet, and claims, each "
        "recorded with its verdict on the ledger.",
    ),
    Entry(
        "dispute",
        "disputes",
        "app",
        "Disputes of accepted outcomes: the customer opens one over HTTP with its key; the vendor "
        "answers and resolves it here. Each step is a ledger leaf; an upheld dispute voids the "
        "outcome, credited on the next invoice when it was billed already.",
    ),
    Entry(
        "plan",
        "plans",
        "app",
        "Success plans: the actions vendor and customer agreed (owner, due date, status, "
        "evidence), each change a ledger leaf, and how the customer kept to its own.",
    ),
    Entry(
        "success",
        "success",
        "app",
        "Customer Success: utilization against commitments and prepaid credit, as current as "
        "the last accepted event.",
    ),
    Entry(
        "export",
        "export",
        "export",
        "Export invoices, their lines, credit notes, usage or the revenue schedule of a range.",
    ),
    Entry(
        "stripe",
        "stripe",
        "app",
        "Stripe: push finalized invoices to Stripe, which collects them (`VALUEPROOF_STRIPE_*`).",
    ),
    Entry("demo", "demo", "app", "The sample book of business for trying valueproof out."),
    Entry(
        "ledger",
        "ledger",
        "app",
        "The verifiable ledger: signing keys, checkpoints and the audit.",
    ),
    Entry(
        "webhooks",
        "webhooks",
        "app",
        "Webhooks: endpoints that receive signed events (Standard Webhooks), their delivery log, "
        "replay, and delivering what is due.",
    ),
    Entry(
        "verify",
        "verify",
        "app",
        "Verify the vendor's signed checkpoints, proofs and whole log, with its verifier keys.",
    ),
)


class Listed(TyperCommand):
    """A command as `--help` lists it (name and summary), standing in until it runs."""

    def __init__(self, entry: Entry) -> None:
        super().__init__(name=entry.name, help=entry.summary)
        self.entry = entry

    # The result is a command of the Click that Typer vendors (private), hence Any.
    def load(self) -> Any:
        """The command itself, its module imported and built as `add_typer`/`command` would."""
        defined = getattr(
            importlib.import_module(f"valueproof.cli.{self.entry.module}"), self.entry.attribute
        )
        # Settings the root passes down to what it builds (Typer's defaults, and our markup).
        holder = typer.Typer(add_completion=False, rich_markup_mode=MARKUP)
        if isinstance(defined, typer.Typer):
            holder.add_typer(defined, name=self.entry.name)
        else:
            holder.command(self.entry.name)(defined)
        # A Typer holding one group builds a group around it; one holding one command, that one.
        built = typer.main.get_command(holder)
        return built.commands[self.entry.name] if isinstance(built, TyperGroup) else built


class LazyRootGroup(ErrorMappingGroup):
    """The root: lists COMMANDS without importing them, and imports the one that runs."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for entry in COMMANDS:
            self.add_command(Listed(entry))

    # `ctx` is a context of the Click that Typer vendors (private), hence Any.
    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, Listed):
            command = command.load()
        return name, command, rest


app = typer.Typer(
    name="valueproof",
    cls=LazyRootGroup,
    help="Metering, verifiable records and billing for consumption and outcome pricing.",
    no_args_is_help=True,
    rich_markup_mode=MARKUP,
    # A local in a traceback may hold a database password or an API key.
    pretty_exceptions_show_locals=False,
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
    # Imported here: the settings and the engine bring in pydantic-settings and SQLAlchemy,
    # which `--help` and `--version` do without.
    from valueproof.cli.context import open_invocation

    open_invocation(ctx, database_url)


if __name__ == "__main__":
    app()
