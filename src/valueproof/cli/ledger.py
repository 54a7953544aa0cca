"""`valueproof ledger`: the tenant's transparency log: signing keys, checkpoints and the audit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from valueproof.billing.invoices_source import (
    CreditNoteSource,
    InvoiceSource,
    InvoiceStatusSource,
)
from valueproof.cli.context import TenantOption, invocation, keyring_of, tenant_of
from valueproof.cli.output import (
    EXIT_FAILED,
    JsonFlag,
    command_group,
    print_json,
    print_table,
    say,
    warn,
)
from valueproof.contracts.versions_source import ContractVersionSource
from valueproof.errors import InvalidInput
from valueproof.ledger import writes
from valueproof.ledger.audit import AuditReport, audit
from valueproof.ledger.keyring import StoredKey, key_json, stored_keys
from valueproof.ledger.log import log_size
from valueproof.ledger.publish import PublishedCheckpoint, checkpoint_json, latest_checkpoint
from valueproof.metering.events_source import UsageEventSource
from valueproof.outcomes.claims_source import OutcomeDefinitionSource, OutcomeVerdictSource
from valueproof.outcomes.disputes_source import OutcomeDisputeSource
from valueproof.outcomes.readings_source import OracleReadingSource
from valueproof.periods import format_rfc3339, from_micros
from valueproof.store import read
from valueproof.success.plans_source import SuccessPlanActionSource

app = command_group("The verifiable ledger: signing keys, checkpoints and the audit.")

# Every kind of record on the log, as its domain rebuilds it for the audit.
RECORD_SOURCES = (
    UsageEventSource(),
    ContractVersionSource(),
    OracleReadingSource(),
    OutcomeDefinitionSource(),
    OutcomeVerdictSource(),
    OutcomeDisputeSource(),
    SuccessPlanActionSource(),
    InvoiceSource(),
    InvoiceStatusSource(),
    CreditNoteSource(),
)


@app.command("keygen")
def keygen(ctx: typer.Context, tenant: TenantOption = None, as_json: JsonFlag = False) -> None:
    """Create the tenant's checkpoint signing key (Ed25519), stored encrypted with the
    passphrase in VALUEPROOF_LEDGER_PASSPHRASE, and sign a first checkpoint.

    Exit 4 if the tenant already has a key: use `ledger rotate` to replace it."""
    here = invocation(ctx)
    owner = tenant_of(ctx, tenant)
    key, published = writes.create_key(
        here.engine, owner, here.config.ledger_origin, keyring_of(ctx), _passphrase(ctx)
    )
    _report_key(key, published, as_json)


@app.command("rotate")
def rotate(ctx: typer.Context, tenant: TenantOption = None, as_json: JsonFlag = False) -> None:
    """Replace the signing key; the old one is retired (its checkpoints stay verifiable) and a
    handover checkpoint is signed by both."""
    here = invocation(ctx)
    owner = tenant_of(ctx, tenant)
    key, published = writes.rotate(here.engine, owner, keyring_of(ctx), _passphrase(ctx))
    _report_key(key, published, as_json)


@app.command("keys")
def keys(ctx: typer.Context, tenant: TenantOption = None, as_json: JsonFlag = False) -> None:
    """Every key the tenant has signed with, as verifier keys (vkeys) to give customers."""
    owner = tenant_of(ctx, tenant)
    with read(invocation(ctx).engine) as connection:
        found = stored_keys(connection, owner.id)
    if as_json:
        print_json({"keys": [key_json(key) for key in found]})
        return
    print_table(
        ["vkey", "created", "retired"],
        [
            (key.verifier.vkey, _time(key.created_us), _time(key.retired_us) or "active")
            for key in found
        ],
    )


@app.command("checkpoint")
def checkpoint(ctx: typer.Context, tenant: TenantOption = None, as_json: JsonFlag = False) -> None:
    """Sign a checkpoint of the log as it stands now and print the signed note."""
    owner = tenant_of(ctx, tenant)
    published = writes.sign_checkpoint(invocation(ctx).engine, owner.id, keyring_of(ctx))
    if as_json:
        print_json(checkpoint_json(published))
    else:
        typer.echo(published.note, nl=False)


@app.command("status")
def status(ctx: typer.Context, tenant: TenantOption = None, as_json: JsonFlag = False) -> None:
    """The log's size, its latest checkpoint, and how many leaves no checkpoint covers yet."""
    owner = tenant_of(ctx, tenant)
    with read(invocation(ctx).engine) as connection:
        size = log_size(connection, owner.id)
        latest = latest_checkpoint(connection, owner.id)
    document = {
        "tenant": owner.slug,
        "size": size,
        "checkpoint": None if latest is None else checkpoint_json(latest),
        "unsigned_leaves": size - (latest.checkpoint.size if latest else 0),
    }
    if as_json:
        print_json(document)
        return
    say(f"log of {owner.slug}: {size} leaves")
    if latest is None:
        say("no checkpoint signed yet (run `valueproof ledger keygen`)")
    else:
        say(
            f"latest checkpoint: size {latest.checkpoint.size}, signed"
            f" {_time(latest.created_us)}; {document['unsigned_leaves']} leaves since"
        )


@app.command("audit")
def audit_command(
    ctx: typer.Context,
    seen: Annotated[
        list[Path] | None,
        typer.Option(
            "--seen",
            exists=True,
            dir_okay=False,
            help="A signed checkpoint kept outside this database (repeatable): catches a log"
            " rolled back or forked together with its stored checkpoints.",
        ),
    ] = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Recompute every leaf from the stored records and the tree from the leaves, and compare
    them with every signed checkpoint.

    Exit 0: the log and the records agree with every checkpoint; 1: findings (each named:
    edited, deleted, inserted, reordered, rewritten, rolled_back, forked, corrupt)."""
    owner = tenant_of(ctx, tenant)
    notes = [_read_note(path) for path in seen or []]
    with read(invocation(ctx).engine) as connection:
        report = audit(connection, owner.id, RECORD_SOURCES, notes)
    if as_json:
        print_json(_audit_json(report))
    elif report.ok:
        say(
            f"ok: {report.size} leaves match their records and {report.checkpoints}"
            " signed checkpoints"
        )
    else:
        print_table(
            ["finding", "leaf", "record", "detail"],
            [(f.kind, f.leaf_index, f.record, f.message) for f in report.findings],
        )
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


def _passphrase(ctx: typer.Context) -> str:
    secret = invocation(ctx).config.ledger_passphrase
    if secret is None or not secret.get_secret_value():
        raise InvalidInput(
            "VALUEPROOF_LEDGER_PASSPHRASE", "must be set: the signing key is stored encrypted"
        )
    return secret.get_secret_value()


def _read_note(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput("--seen", f"{path.name}: {error}") from None


def _report_key(key: StoredKey, published: PublishedCheckpoint, as_json: bool) -> None:
    if as_json:
        print_json({"key": key_json(key), "checkpoint": checkpoint_json(published)})
        return
    # stdout holds the verifier key alone, so `VKEY=$(valueproof ledger keygen)` captures it;
    # what the operator reads goes to stderr
    warn("signing key ready; give customers this verifier key:")
    say(key.verifier.vkey)
    warn(f"signed checkpoint of size {published.checkpoint.size}")


def _audit_json(report: AuditReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "size": report.size,
        "checkpoints": report.checkpoints,
        "latest_checkpoint": report.latest_checkpoint,
        "findings": [
            {"kind": f.kind, "leaf_index": f.leaf_index, "record": f.record, "message": f.message}
            for f in report.findings
        ],
    }


def _time(micros: int | None) -> str | None:
    return None if micros is None else format_rfc3339(from_micros(micros))
