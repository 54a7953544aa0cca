"""`valueproof billing`: close periods into invoices (from cron or by hand), approve drafts, void,
record payments, issue credit notes, and set billing settings and profiles."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from valueproof.billing import writes
from valueproof.billing.bundles import finalized_bundle
from valueproof.billing.invoice_store import (
    STATES,
    StoredInvoice,
    find_invoice,
    invoice_json,
    invoices_of,
    load_profile,
    load_settings,
)
from valueproof.billing.requests import CreditBody, parse
from valueproof.billing.settings import BillingProfile, BillingSettings
from valueproof.cli.context import (
    TenantOption,
    engine_of,
    invocation,
    keyring_of,
    read_text,
    tenant_of,
)
from valueproof.cli.output import JsonFlag, command_group, print_json, print_table, say, warn
from valueproof.documents import load_document
from valueproof.errors import InvalidInput
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.periods import format_rfc3339, from_micros, parse_instant_field
from valueproof.store import read
from valueproof.tenancy.accounts import account_id

app = command_group(
    "Billing: close each period into an invoice after its grace window, approve drafts, void, "
    "record payments, issue credit notes; settings and billing profiles."
)

KeyArgument = Annotated[str, typer.Argument(metavar="INVOICE", help="Invoice number or id.")]


def _policy(ctx: typer.Context) -> CheckpointPolicy:
    return CheckpointPolicy.from_settings(keyring_of(ctx), invocation(ctx).config)


@app.command("close")
def close(
    ctx: typer.Context,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", metavar="T", help="Close what is due at T (RFC 3339; default now)."
        ),
    ] = None,
    account: Annotated[
        str | None, typer.Option(metavar="ACCOUNT", help="One account only.")
    ] = None,
    batch: Annotated[
        int, typer.Option(min=1, help="Periods per transaction: the unit a crash can cut.")
    ] = writes.BATCH,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Close every period whose end plus grace has passed into an invoice, and re-rate held
    drafts that late usage changed. Safe to run again, or after a crash: nothing is invoiced
    twice and numbers have no gaps. Exit 1 if a period could not be rated (each is named; the
    others close)."""
    owner = tenant_of(ctx, tenant)
    moment = datetime.now(UTC) if as_of is None else parse_instant_field("--as-of", as_of)
    report = writes.close(engine_of(ctx), owner.id, moment, _policy(ctx), account, batch)
    if as_json:
        print_json({**report.json(), "drafted": report.drafted, "rerated": report.rerated})
    else:
        _say_closed(report)
    if report.failed:
        raise typer.Exit(1)


def _say_closed(report: writes.CloseReport) -> None:
    for failure in report.failed:
        warn(f"{failure['account']} {failure['period']}: not closed: {failure['reason']}")
    numbers = report.finalized
    shown = ", ".join(numbers) if len(numbers) <= 3 else f"{numbers[0]} to {numbers[-1]}"
    say(
        f"{len(report.drafted)} periods closed, {len(report.rerated)} drafts re-rated, "
        f"{len(numbers)} invoices finalized" + (f": {shown}" if numbers else "")
    )


@app.command("close-period")
def close_period(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(metavar="ACCOUNT")],
    at: Annotated[str, typer.Option(metavar="T", help="An instant inside the period.")],
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Close the account's period that holds T now, without waiting for its grace window.
    Exit 4 if the period already has its invoice."""
    owner = tenant_of(ctx, tenant)
    moment = parse_instant_field("--at", at)
    report = writes.close_period(engine_of(ctx), owner.id, account, moment, _policy(ctx))
    if as_json:
        print_json(report.json())
    else:
        say(f"closed: {', '.join(report.finalized) or 'a draft, held for approval'}")


@app.command("list")
def list_invoices(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(metavar="STATE", help=f"Only one state: {', '.join(STATES)}.")
    ] = None,
    account: Annotated[str | None, typer.Option(metavar="ACCOUNT")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Invoices, newest period first."""
    if status is not None and status not in STATES:
        raise InvalidInput("--status", f"must be one of {', '.join(STATES)}")
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        who = None if account is None else account_id(connection, owner.id, account)
        found = invoices_of(connection, owner.id, status=status, account_id=who, limit=limit)
    if as_json:
        print_json({"invoices": [invoice_json(invoice) for invoice in found]})
        return
    print_table(
        ["number", "status", "account", "period", "total", "currency", "leaf"],
        [
            (
                invoice.number or f"(draft {invoice.id})",
                invoice.status,
                invoice.account,
                format_rfc3339(from_micros(invoice.period_start_us))[:10],
                invoice.total,
                invoice.currency,
                invoice.leaf_index,
            )
            for invoice in found
        ],
        numeric={"total", "leaf"},
    )


@app.command("show")
def show(ctx: typer.Context, key: KeyArgument, tenant: TenantOption = None) -> None:
    """An invoice: its state and its whole document, as JSON."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        print_json(invoice_json(find_invoice(connection, owner.id, key)))


@app.command("bundle")
def bundle(
    ctx: typer.Context,
    key: KeyArgument,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", metavar="FILE", help="Default: stdout.")
    ] = None,
    tenant: TenantOption = None,
) -> None:
    """The proof bundle of a finalized invoice, for `valueproof verify invoice`. Exit 4 for a
    draft, or while no signed checkpoint covers the invoice."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        invoice = find_invoice(connection, owner.id, key)
        content = orjson.dumps(finalized_bundle(connection, owner.id, invoice))
    if output is None:
        typer.echo(content.decode())
        return
    output.write_bytes(content)
    say(f"{invoice.number}: bundle of {output.stat().st_size:,} bytes in {output}")


@app.command("finalize")
def finalize(ctx: typer.Context, key: KeyArgument, tenant: TenantOption = None) -> None:
    """Approve a held draft: re-rated as the ledger stands, numbered, put on the ledger.
    Exit 4 if it is not a draft."""
    owner = tenant_of(ctx, tenant)
    _report(writes.finalize(engine_of(ctx), owner.id, key, _policy(ctx)))


def _report(invoice: StoredInvoice) -> None:
    say(
        f"{invoice.number or invoice.id}: {invoice.status}, {invoice.total} {invoice.currency}"
        + (f", leaf {invoice.leaf_index}" if invoice.leaf_index is not None else "")
    )


@app.command("void")
def void(
    ctx: typer.Context,
    key: KeyArgument,
    reason: Annotated[str, typer.Option(help="Why: on the ledger with the void.")],
    regenerate: Annotated[
        bool, typer.Option(help="Invoice the period again under a new number.")
    ] = True,
    tenant: TenantOption = None,
) -> None:
    """Void a finalized invoice; by default its period is invoiced again, naming this one."""
    owner = tenant_of(ctx, tenant)
    voided, replacement = writes.void(
        engine_of(ctx), owner.id, key, reason, _policy(ctx), regenerate
    )
    _report(voided)
    if replacement is not None:
        _report(replacement)


@app.command("mark")
def mark(
    ctx: typer.Context,
    key: KeyArgument,
    status: Annotated[str, typer.Argument(metavar="paid|uncollectible")],
    reason: Annotated[str, typer.Option()] = "",
    reference: Annotated[str | None, typer.Option(help="The payment's reference.")] = None,
    tenant: TenantOption = None,
) -> None:
    """Record that a finalized invoice was paid, or is uncollectible (a ledger leaf)."""
    owner = tenant_of(ctx, tenant)
    _report(writes.mark(engine_of(ctx), owner.id, key, status, reason, _policy(ctx), reference))


@app.command("credit")
def credit(
    ctx: typer.Context,
    key: KeyArgument,
    reason: Annotated[str, typer.Option(help="Why: printed on the credit note.")],
    line: Annotated[
        list[str] | None,
        typer.Option(
            metavar="N[:AMOUNT]",
            help="Credit line N (from 0), all that is left of it or AMOUNT; repeat for more. "
            "None: the whole invoice.",
        ),
    ] = None,
    balance: Annotated[
        bool, typer.Option("--balance", help="Credit the account's balance instead of a refund.")
    ] = False,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue a credit note against a finalized invoice. Exit 2 if a line would be credited more
    than it charged."""
    owner = tenant_of(ctx, tenant)
    body = parse(
        CreditBody,
        {
            "reason": reason,
            "lines": [_line(position, text) for position, text in enumerate(line or [])],
            "disposition": "balance" if balance else "refund",
        },
    )
    note = writes.credit(engine_of(ctx), owner.id, key, body.request(), _policy(ctx))
    if as_json:
        print_json(note.document)
    else:
        say(f"{note.number}: {note.total} {note.currency} against {note.document['invoice']}")


def _line(position: int, text: str) -> dict[str, Any]:
    index, _, amount = text.partition(":")
    if not index.isdigit():
        raise InvalidInput(f"--line[{position}]", f"{text!r} is not N or N:AMOUNT")
    if not amount:
        return {"line": int(index)}
    try:
        Decimal(amount)
    except InvalidOperation:
        raise InvalidInput(f"--line[{position}]", f"{amount!r} is not an amount") from None
    return {"line": int(index), "amount": amount}


@app.command("settings")
def settings(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Option("--set", metavar="FILE", exists=True, dir_okay=False, help="Replace them."),
    ] = None,
    tenant: TenantOption = None,
) -> None:
    """The tenant's billing settings as JSON; `--set FILE` (YAML or JSON) replaces them."""
    owner = tenant_of(ctx, tenant)
    if path is not None:
        chosen = parse(BillingSettings, load_document(read_text(path, "--set")))
        writes.set_settings(engine_of(ctx), owner.id, chosen)
    with read(engine_of(ctx)) as connection:
        print_json(load_settings(connection, owner.id).model_dump(mode="json"))


@app.command("profile")
def profile(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(metavar="ACCOUNT")],
    path: Annotated[
        Path | None,
        typer.Option("--set", metavar="FILE", exists=True, dir_okay=False, help="Replace it."),
    ] = None,
    tenant: TenantOption = None,
) -> None:
    """An account's billing details and taxes as JSON; `--set FILE` replaces them."""
    owner = tenant_of(ctx, tenant)
    if path is not None:
        chosen = parse(BillingProfile, load_document(read_text(path, "--set")))
        writes.set_profile(engine_of(ctx), owner.id, account, chosen)
    with read(engine_of(ctx)) as connection:
        who = account_id(connection, owner.id, account)
        print_json(load_profile(connection, owner.id, who).model_dump(mode="json"))
