"""`valueproof success`: Customer Success views of the book, on the database directly (the same
functions as `/v1/accounts/{id}/utilization`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from valueproof.cli.context import TenantOption, engine_of, tenant_of
from valueproof.cli.output import JsonFlag, command_group, print_json, print_table, say
from valueproof.periods import format_rfc3339, parse_instant_field
from valueproof.store import read
from valueproof.success.utilization import utilization, utilization_json

app = command_group(
    "Customer Success: utilization against commitments and prepaid credit, as current as the "
    "last accepted event."
)


@app.command("utilization")
def show_utilization(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(metavar="ACCOUNT", help="The account's external id.")],
    at: Annotated[
        str | None, typer.Option(metavar="RFC3339", help="The instant (default: now).")
    ] = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Usage of the period so far per meter with its run rate and projection, commitment pace
    against a linear burn, and when prepaid credit runs out."""
    moment = datetime.now(UTC) if at is None else parse_instant_field("at", at)
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        found = utilization(connection, owner.id, account, moment)
    if as_json:
        print_json(utilization_json(found))
        return
    contract = f"contract {found.contract}" if found.contract else "no contract (calendar month)"
    say(
        f"{account}: {contract}, period {format_rfc3339(found.period.start)} to "
        f"{format_rfc3339(found.period.end)}, {found.elapsed * 100:.1f}% elapsed"
    )
    print_table(
        ["meter", "to_date", "per_day", "projected", "reported", "share"],
        [
            (m.meter, m.to_date, m.run_rate_per_day, m.projected, m.reported_total,
             m.share_of_wallet)
            for m in found.meters
        ],
        numeric={"to_date", "per_day", "projected", "reported", "share"},
    )  # fmt: skip
    if found.commitments:
        print_table(
            ["commitment", "minimum", "to_date", "utilization", "pace", "projected", "difference"],
            [
                (c.component, c.minimum, c.committed_to_date, c.utilization, c.pace, c.projected,
                 c.projected_difference)
                for c in found.commitments
            ],
            numeric={"minimum", "to_date", "utilization", "pace", "projected", "difference"},
        )  # fmt: skip
    if found.credits:
        print_table(
            ["wallet", "balance", "burn_per_day", "days_left", "runs_out", "before_period_end"],
            [
                (c.component, c.balance, c.burn_per_day, c.days_left,
                 None if c.runs_out is None else format_rfc3339(c.runs_out), c.before_period_end)
                for c in found.credits
            ],
            numeric={"balance", "burn_per_day", "days_left"},
        )  # fmt: skip
