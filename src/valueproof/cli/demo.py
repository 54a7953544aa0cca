"""`valueproof demo`: the sample book of business, seeded into its own tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from valueproof.cli.context import invocation
from valueproof.cli.output import command_group, console, print_table, say
from valueproof.demo import BookSpec
from valueproof.demo.seed import seed_demo
from valueproof.metering.ingest import ItemResult
from valueproof.store import read, upgrade
from valueproof.tenancy.tenants import list_tenants

app = command_group("The sample book of business for trying valueproof out.")


@app.command("seed")
def seed(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option(help="Tenant to create for the demo.")] = "demo",
    accounts: Annotated[int, typer.Option(min=1, help="Accounts in the book.")] = 48,
    days: Annotated[int, typer.Option(min=1, help="Days of usage, ending today.")] = 730,
    scale: Annotated[
        float,
        typer.Option(
            min=0.0, help="Volume multiplier (0.25 on 48 accounts: about 340,000 events)."
        ),
    ] = 0.25,
    seed_value: Annotated[int, typer.Option("--seed", help="Random seed of the book.")] = 7,
) -> None:
    """Create the demo tenant, its meters and accounts, ingest two years of usage, and record
    outcomes (definitions, claims, readings, plans, disputes) for one account of each line.

    Does nothing (exit 0) when the tenant exists already, so `make demo` can run again.
    """
    run = invocation(ctx)
    upgrade(run.engine)
    with read(run.engine) as connection:
        if tenant in {t.slug for t in list_tenants(connection)}:
            say(f"tenant {tenant!r} is seeded already; `valueproof serve` to look at it")
            return
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    spec = BookSpec(end=end, seed=seed_value, accounts=accounts, days=days, scale=scale)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("ingesting the sample usage", total=None)
        seen = 0

        def advance(results: list[ItemResult]) -> None:
            nonlocal seen
            seen += len(results)
            progress.update(task, description=f"ingesting the sample usage: {seen:,} events")

        secret = run.config.ledger_passphrase
        report = seed_demo(
            run.engine,
            spec,
            tenant,
            run.config.ingest_chunk_events,
            on_chunk=advance,
            passphrase=None if secret is None else secret.get_secret_value(),
            origin_prefix=run.config.ledger_origin,
        )
    summary = report.summary
    print_table(
        ["tenant", "accounts", "events", "rejected", "seconds", "events/s"],
        [
            (
                report.tenant,
                report.accounts,
                summary.accepted,
                summary.rejected,
                f"{report.seconds:.1f}",
                f"{summary.total / max(report.seconds, 1e-9):,.0f}",
            )
        ],
    )
    found = report.outcomes
    say(
        f"outcomes: {found.definitions} definitions, {found.accepted + found.refused} claims "
        f"({found.accepted} billable, {found.refused} refused), {found.known_set} known-set "
        f"hashes, {found.readings} signed readings, {found.plan_changes} plan changes, "
        f"{found.disputes} disputes; {found.leaves} ledger leaves"
    )
    say(f"API key for tenant {report.tenant} (shown once): {report.api_key}")
    if report.vkey is None:
        say("no VALUEPROOF_LEDGER_PASSPHRASE: the log has no signed checkpoints yet")
    else:
        say(f"ledger verifier key (give it to customers): {report.vkey}")
    say(f"dashboard: http://{run.config.host}:{run.config.port}/login  (paste the key)")
