"""`valueproof success`: Customer Success views of the book, on the database directly (the same
functions as `/v1/accounts/{id}/utilization`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from valueproof.cli.context import TenantOption, engine_of, tenant_of
from valueproof.cli.output import JsonFlag, command_group, print_json, print_table, say
from valueproof.errors import InvalidInput
from valueproof.periods import format_micros, format_rfc3339, parse_instant_field, to_micros
from valueproof.store import read, tenant_lock, write
from valueproof.success.alert_store import alert_json, alert_queue, snooze
from valueproof.success.settings import SETTINGS, load_setting, setting_json, store_setting
from valueproof.success.utilization import utilization, utilization_json
from valueproof.tenancy.clock import now_us

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


@app.command("alerts")
def list_alerts(
    ctx: typer.Context,
    status: Annotated[
        str, typer.Option(metavar="STATUS", help="open, snoozed or resolved.")
    ] = "open",
    account: Annotated[
        str | None, typer.Option(metavar="ACCOUNT", help="Only this account's alerts.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 200,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """The alert queue: critical first, then the latest updated."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        found = alert_queue(connection, owner.id, status, account, now_us(), limit)
    if as_json:
        print_json({"alerts": [alert_json(alert) for alert in found]})
        return
    print_table(
        ["id", "account", "severity", "type", "reason", "seen", "updated", "message"],
        [
            (a.id, a.account, a.severity, a.type, a.reason, a.times_seen,
             format_micros(a.updated_us), a.message)
            for a in found
        ],
        numeric={"id", "seen"},
    )  # fmt: skip


@app.command("snooze")
def snooze_alert(
    ctx: typer.Context,
    alert_id: Annotated[int, typer.Argument(metavar="ALERT_ID", help="The alert's id.")],
    until: Annotated[str, typer.Option(metavar="RFC3339", help="Until when (≤ 180 days).")],
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Snooze a live alert: it is still updated, out of the open queue until then."""
    moment = to_micros(parse_instant_field("--until", until))
    owner = tenant_of(ctx, tenant)
    with write(engine_of(ctx)) as connection:
        tenant_lock(connection, owner.id)
        found = snooze(connection, owner.id, alert_id, moment, now_us())
    if as_json:
        print_json(alert_json(found))
        return
    say(f"alert {found.id} ({found.account}, {found.type}) snoozed until {until}")


@app.command("settings")
def settings(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(metavar="KEY", help="Which settings: alerts, ...")],
    path: Annotated[
        Path | None,
        typer.Option(
            "--set",
            metavar="FILE",
            exists=True,
            dir_okay=False,
            help="Replace them with this YAML or JSON document.",
        ),
    ] = None,
    tenant: TenantOption = None,
) -> None:
    """Print a settings document as in force (defaults filled in), or replace it with --set;
    a bad document is refused whole, naming the field (exit 2)."""
    parse = SETTINGS.get(key)
    if parse is None:
        raise InvalidInput("KEY", f"no settings {key!r}; there are {', '.join(sorted(SETTINGS))}")
    owner = tenant_of(ctx, tenant)
    if path is None:
        with read(engine_of(ctx)) as connection:
            print_json(setting_json(load_setting(connection, owner.id, key, parse)))
        return
    document = _document(path)
    with write(engine_of(ctx)) as connection:
        tenant_lock(connection, owner.id)
        stored = store_setting(connection, owner.id, key, document, parse, now_us())
    print_json(setting_json(stored))


def _document(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise InvalidInput("--set", f"cannot read {str(path)!r}: {error}") from None
