"""`valueproof usage`: a meter's usage per bucket and group, from the rollups."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from valueproof.cli.context import TenantOption, engine_of, tenant_of
from valueproof.cli.output import JsonFlag, print_json, print_table
from valueproof.metering.usage import UsageQuery, UsageResult, query_usage, usage_json
from valueproof.periods import Granularity, format_rfc3339
from valueproof.store import read


def usage(
    ctx: typer.Context,
    meter: Annotated[str, typer.Option(metavar="KEY", help="The meter's key.")],
    start: Annotated[
        str, typer.Option("--from", metavar="RFC3339", help="Window start, floored to the hour.")
    ],
    end: Annotated[
        str,
        typer.Option(
            "--to", metavar="RFC3339", help="Window end (exclusive), floored to the hour."
        ),
    ],
    granularity: Annotated[
        Granularity, typer.Option(help="Bucket size.", case_sensitive=False)
    ] = Granularity.DAY,
    account: Annotated[
        str | None,
        typer.Option(metavar="ID", help="One account's external id (default: all accounts)."),
    ] = None,
    group_by: Annotated[
        str,
        typer.Option(
            metavar="A,B", help="Comma-separated meter dimensions and/or `account` to split by."
        ),
    ] = "",
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a meter's usage over a window, per hour, day or month."""
    query = UsageQuery.from_text(meter, start, end, granularity, account, [group_by])
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        result = query_usage(connection, owner.id, query, datetime.now(UTC))
    if as_json:
        print_json(usage_json(result))
    else:
        _print_usage(result, query.group_by)


def _print_usage(result: UsageResult, groups: tuple[str, ...]) -> None:
    unit = f" ({result.unit})" if result.unit else ""
    title = (
        f"{result.meter}: {result.aggregation.value}{unit} per {result.granularity.value}, "
        f"{format_rfc3339(result.start)} to {format_rfc3339(result.end)}"
    )
    print_table(
        ["from", "to", *groups, "value"],
        [
            (
                format_rfc3339(row.start),
                format_rfc3339(row.end),
                *(row.group.get(name) for name in groups),
                row.value,
            )
            for row in result.rows
        ],
        title=title,
        numeric={"value"},
    )
