"""`valueproof success`: Customer Success views of the book, on the database directly (the same
functions as `/v1/accounts/{id}/utilization`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from valueproof.cli.backtest import run_backtest
from valueproof.cli.context import TenantOption, engine_of, tenant_of
from valueproof.cli.output import JsonFlag, command_group, print_json, print_table, say
from valueproof.documents import refuse_nul
from valueproof.errors import InvalidInput
from valueproof.periods import format_micros, format_rfc3339, parse_instant_field, to_micros
from valueproof.store import read
from valueproof.success import writes
from valueproof.success.alert_store import alert_json, alert_queue
from valueproof.success.driver_store import analyse_drivers, analysis_json
from valueproof.success.hourly import hourly_profiles
from valueproof.success.reads import health_of, health_table, profiles_of
from valueproof.success.refresh import refresh_instant, report_json
from valueproof.success.segment_store import segment_report_json
from valueproof.success.settings import SETTINGS, load_setting, setting_json
from valueproof.success.utilization import utilization, utilization_json
from valueproof.tenancy.accounts import get_account
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
            (
                m.meter,
                m.to_date,
                m.run_rate_per_day,
                m.projected,
                m.reported_total,
                m.share_of_wallet,
            )
            for m in found.meters
        ],
        numeric={"to_date", "per_day", "projected", "reported", "share"},
    )
    if found.commitments:
        print_table(
            ["commitment", "minimum", "to_date", "utilization", "pace", "projected", "difference"],
            [
                (
                    c.component,
                    c.minimum,
                    c.committed_to_date,
                    c.utilization,
                    c.pace,
                    c.projected,
                    c.projected_difference,
                )
                for c in found.commitments
            ],
            numeric={"minimum", "to_date", "utilization", "pace", "projected", "difference"},
        )
    if found.credits:
        print_table(
            ["wallet", "balance", "burn_per_day", "days_left", "runs_out", "before_period_end"],
            [
                (
                    c.component,
                    c.balance,
                    c.burn_per_day,
                    c.days_left,
                    None if c.runs_out is None else format_rfc3339(c.runs_out),
                    c.before_period_end,
                )
                for c in found.credits
            ],
            numeric={"balance", "burn_per_day", "days_left"},
        )


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
            (
                a.id,
                a.account,
                a.severity,
                a.type,
                a.reason,
                a.times_seen,
                format_micros(a.updated_us),
                a.message,
            )
            for a in found
        ],
        numeric={"id", "seen"},
    )


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
    found = writes.snooze(engine_of(ctx), owner.id, alert_id, moment)
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
    stored = writes.store_setting(engine_of(ctx), owner.id, key, document, parse)
    print_json(setting_json(stored))


def _document(path: Path) -> Any:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise InvalidInput("--set", f"cannot read {str(path)!r}: {error}") from None
    refuse_nul(document)
    return document


@app.command("refresh")
def run_refresh(
    ctx: typer.Context,
    only: Annotated[
        list[str] | None,
        typer.Argument(metavar="[ACCOUNT]...", help="Only these accounts (default: all)."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="RFC3339",
            help="Run as of this past instant: usage up to the day before it, alerts and health "
            "stamped with it (default: now). `success backtest` replays without writing.",
        ),
    ] = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Refresh seasonality, baselines, alerts and health, and count what changed."""
    moment = refresh_instant("--as-of", as_of, datetime.now(UTC))
    owner = tenant_of(ctx, tenant)
    report = writes.refresh(engine_of(ctx), owner.id, moment, only or None)
    if as_json:
        print_json(report_json(report))
        return
    say(
        f"{report.accounts} accounts, {report.scored} scored, meters "
        f"{', '.join(report.meters) or 'none'}; alerts opened {report.opened}, updated "
        f"{report.updated}, reopened {report.reopened}, cleared {report.cleared}"
    )


@app.command("health")
def show_health(
    ctx: typer.Context,
    account: Annotated[
        str | None, typer.Argument(metavar="[ACCOUNT]", help="One account, with its measures.")
    ] = None,
    band: Annotated[str | None, typer.Option(metavar="BAND", help="Only this band.")] = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Health scores as of the last refresh, lowest first; one account's with its measures."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        if account is None:
            rows = health_table(connection, owner.id, band)
        else:
            rows = [health_of(connection, owner.id, get_account(connection, owner.id, account).id)]
    if as_json:
        print_json({"accounts": rows} if account is None else rows[0])
        return
    print_table(
        ["account", "score", "band", "trend", "scorecard"],
        [(r["account"], r["score"], r["band"], _trend(r["trend"]), r["scorecard"]) for r in rows],
        numeric={"score"},
    )
    if account is not None:
        print_table(
            ["measure", "raw", "points", "weight", "effective_weight"],
            [
                (m["key"], m["raw"], m["points"], m["weight"], m["effective_weight"])
                for m in rows[0]["measures"]
            ],
            numeric={"raw", "points", "weight", "effective_weight"},
        )


@app.command("seasonality")
def show_seasonality(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(metavar="ACCOUNT", help="The account's external id.")],
    hourly: Annotated[
        bool,
        typer.Option(
            "--hourly",
            help="The daily (24 h) and weekly (168 h) cycles of the last 8 weeks of hourly "
            "usage, read now, with the busiest hour of the day.",
        ),
    ] = False,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """The account's seasonal periods per meter as of the last refresh, with their strength."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        internal = get_account(connection, owner.id, account).id
        if hourly:
            found = hourly_profiles(connection, owner.id, internal, datetime.now(UTC))
        else:
            found = profiles_of(connection, owner.id, internal)
    if as_json:
        granularity = "hourly" if hourly else "daily"
        print_json({"account": account, "granularity": granularity, "meters": found})
        return
    if not found:
        say(f"{account}: no seasonal profile yet: no usage of an additive meter, or no refresh")
        return
    print_table(
        ["meter", "period", "days", "strength", "swing", "detected"],
        [
            (m["meter"], p["name"], p["period"], p["strength"], p.get("amplitude"), p["detected"])
            for m in found
            for p in m["periods"]
        ],
        numeric={"days", "strength", "swing"},
    )
    for meter in found:
        if meter.get("reason"):
            say(f"{meter['meter']}: no baseline yet: {meter['reason']}")
        elif "busiest_hour_utc" in meter:
            say(
                f"{meter['meter']}: busiest at {meter['busiest_hour_utc']:02d}:00 UTC, quietest "
                f"at {meter['quietest_hour_utc']:02d}:00 UTC"
            )
        elif meter.get("low_volume"):
            say(f"{meter['meter']}: too few events a day for a daily range; quiet alerts apply")


def _trend(trend: dict[str, Any] | None) -> str | None:
    return None if trend is None else f"{trend['direction']} {trend['delta']:+.1f}"


@app.command("segment")
def run_segmentation(
    ctx: typer.Context,
    meter: Annotated[
        str | None, typer.Option(metavar="METER", help="Cluster on this meter's usage.")
    ] = None,
    k: Annotated[
        int | None, typer.Option(min=1, max=20, help="Clusters (default: chosen by silhouette).")
    ] = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Recompute every account's segments (by rule, and by usage clusters) with their words."""
    owner = tenant_of(ctx, tenant)
    report = writes.segment_accounts(engine_of(ctx), owner.id, meter, k)
    if as_json:
        print_json(segment_report_json(report))
        return
    say(f"{report.accounts} accounts clustered on {report.meter or 'no meter (no usage)'}")
    print_table(
        ["segment", "accounts", "description"],
        [(name, size, words) for name, size, words in report.clusters],
        numeric={"accounts"},
    )
    for note in report.notes:
        say(f"note: {note}")


@app.command("engage")
def engage(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(metavar="ACCOUNT", help="The account's external id.")],
    kind: Annotated[str, typer.Option(metavar="KIND", help="call, meeting, email, ...")],
    by: Annotated[str, typer.Option(metavar="NAME", help="Who engaged.")],
    note: Annotated[str, typer.Option(metavar="TEXT", help="What was said or agreed.")] = "",
    tenant: TenantOption = None,
) -> None:
    """Record an engagement with the account now (health measures its recency)."""
    owner = tenant_of(ctx, tenant)
    item = writes.record_engagement(engine_of(ctx), owner.id, account, kind, by, note)
    say(f"engagement {item.id} with {account} recorded ({kind} by {by})")


@app.command("drivers")
def show_drivers(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(metavar="ACCOUNT", help="The account's external id.")],
    meter: Annotated[str, typer.Option(metavar="METER", help="The usage to explain.")],
    log_scale: Annotated[bool, typer.Option(help="Fit on log(1 + x): elasticities.")] = False,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """How much of the account's daily usage each of its driver series explains."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        found = get_account(connection, owner.id, account)
        analysis = analyse_drivers(connection, owner.id, found.id, meter, log_scale)
    if as_json:
        print_json(analysis_json(analysis))
        return
    say(analysis.summary)
    print_table(
        ["driver", "share", "of_explained", "coefficient", "p_value"],
        [
            (
                d.name,
                round(d.share, 4),
                round(d.share_of_explained, 4),
                round(d.coefficient, 6),
                round(d.p_value, 6),
            )
            for d in analysis.drivers
        ],
        numeric={"share", "of_explained", "coefficient", "p_value"},
    )


# Defined in its own module (the replay and its labels); listed last in `valueproof success`.
app.command("backtest")(run_backtest)
