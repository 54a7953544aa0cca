"""`valueproof contract` and `valueproof preview`: contract documents, their versions, and what an
account's contract charges so far this period."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml

from valueproof.billing import writes as billing_writes
from valueproof.cli.context import (
    TenantOption,
    engine_of,
    file_argument,
    invocation,
    keyring_of,
    tenant_of,
)
from valueproof.cli.output import (
    JsonFlag,
    command_group,
    exit_code,
    print_json,
    print_table,
    say,
    warn,
)
from valueproof.contracts import registry, service
from valueproof.contracts.diff import (
    Change,
    change_json,
    diff_versions,
    pending_changes,
    version_diff_json,
)
from valueproof.contracts.document import ContractDocument
from valueproof.contracts.errors import ContractInvalid
from valueproof.contracts.rating import Charges, charges_json
from valueproof.contracts.records import document_json
from valueproof.contracts.registry import StoredVersion
from valueproof.contracts.validation import read_contract
from valueproof.errors import InvalidInput, NotFound
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.metering.registry import load_catalog
from valueproof.periods import format_rfc3339, from_micros, parse_instant_field
from valueproof.store import read

app = command_group("Contracts: an account's commercial terms, versioned on the ledger.")

ContractFile = Annotated[Path, file_argument("The contract document, YAML or JSON.")]
ContractKey = Annotated[str, typer.Argument(metavar="KEY", help="The contract's key.")]


@app.command("apply")
def apply(
    ctx: typer.Context, path: ContractFile, tenant: TenantOption = None, as_json: JsonFlag = False
) -> None:
    """Store a contract document as the contract's next version, on the ledger first.

    The document is checked whole, and against the tenant's meters, the account and the
    contract's earlier versions; any problem refuses it (every problem on its own line, exit 2)
    and nothing is stored. A document equal to the latest version is `unchanged`."""
    owner = tenant_of(ctx, tenant)
    policy = CheckpointPolicy.from_settings(keyring_of(ctx), invocation(ctx).config)
    with _every_problem():
        document = _read(path)
        applied = billing_writes.apply_contract(engine_of(ctx), owner.id, document, policy)
    version = applied.version
    if as_json:
        found = _warnings_json(applied.warnings)
        print_json({"status": applied.status, **registry.version_json(version), **found})
        return
    _print_warnings(applied.warnings)
    say(
        f"{applied.status} contract {version.contract} version {version.version} "
        f"(account {version.account}), effective {format_rfc3339(version.effective)}, "
        f"ledger leaf {version.leaf_index}"
    )


@app.command("validate")
def validate(
    ctx: typer.Context, path: ContractFile, tenant: TenantOption = None, as_json: JsonFlag = False
) -> None:
    """Check a contract document and the meters, outcomes and metrics it names; store nothing.

    Exit 0 when it is valid (names declared `pending` and still undefined are listed on
    stderr, one `warning: <path>: <reason>` a line); 2 with every problem on stderr, one
    `error: <path>: <reason>` a line."""
    owner = tenant_of(ctx, tenant)
    try:
        document = _read(path)
        with read(engine_of(ctx)) as connection:
            problems = registry.contract_problems(
                connection, owner.id, document, load_catalog(connection, owner.id)
            )
            warnings = registry.contract_warnings(connection, owner.id, document)
        if problems:
            raise ContractInvalid(problems)
    except ContractInvalid as error:
        if as_json:
            found = [{"field": field, "reason": reason} for field, reason in error.problems]
            print_json({"valid": False, "problems": found})
        _refuse(error)
    if as_json:
        print_json({"valid": True, "problems": [], **_warnings_json(warnings)})
    else:
        _print_warnings(warnings)
        say(f"valid: contract {document.contract} for account {document.account}")


@app.command("show")
def show(
    ctx: typer.Context,
    key: ContractKey,
    number: Annotated[
        int | None,
        typer.Option("--version", metavar="N", help="Which version (default: the latest)."),
    ] = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a version of a contract as YAML (or JSON), under a header of where it stands."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        history = registry.versions(connection, owner.id, key)
    if number is None:
        number = len(history)
    if not 1 <= number <= len(history):
        raise NotFound(f"contract {key!r} has no version {number}")
    version = history[number - 1]
    if as_json:
        print_json(registry.version_json(version))
        return
    # Comments, so that the output is a document `contract apply` takes back.
    say(f"# contract {version.contract}, version {version.version} of {len(history)}")
    say(
        f"# effective {format_rfc3339(version.effective)}, ledger leaf {version.leaf_index}, "
        f"applied {format_rfc3339(from_micros(version.created_us))}"
    )
    say(yaml.safe_dump(document_json(version.document), sort_keys=False).rstrip())


@app.command("diff")
def diff(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="FILE_OR_KEY",
            help="A contract file (what applying it would change) or a contract's key.",
        ),
    ],
    start: Annotated[
        int | None,
        typer.Option(
            "--from", metavar="N", help="With a key: the older version (default: before --to)."
        ),
    ] = None,
    end: Annotated[
        int | None,
        typer.Option("--to", metavar="N", help="With a key: the newer version (default: latest)."),
    ] = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Show what changed between two versions of a contract, or what applying a file would
    change, at field paths (components by id). Exit 0 whether or not anything changed."""
    owner = tenant_of(ctx, tenant)
    path = Path(target)
    if not path.is_file():
        with read(engine_of(ctx)) as connection:
            history = registry.versions(connection, owner.id, target)
        found = diff_versions(history, start, end)
        if as_json:
            print_json(version_diff_json(found))
            return
        since = "nothing" if found.start is None else f"version {found.start}"
        _print_changes(f"{found.contract}: {since} to version {found.end}", found.changes)
        return
    if start is not None or end is not None:
        raise InvalidInput("--from", "versions are given with a contract key, not a file")
    with _every_problem():
        document = _read(path)
    latest = _latest(ctx, owner.id, document.contract)
    changes = pending_changes(latest, document)
    if as_json:
        print_json(
            {
                "contract": document.contract,
                "from": None if latest is None else latest.version,
                "file": str(path),
                "changes": [change_json(c) for c in changes],
            }
        )
        return
    stored = "no stored version" if latest is None else f"version {latest.version}"
    _print_changes(f"{document.contract}: {stored} to {path}", changes)


@app.command("list")
def list_contracts(
    ctx: typer.Context,
    account: Annotated[
        str | None, typer.Option(metavar="ID", help="One account's external id.")
    ] = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List the contracts, each at its latest version."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        found = registry.list_contracts(connection, owner.id, account)
    if as_json:
        print_json({"contracts": [registry.version_json(v) for v in found]})
        return
    print_table(
        ["contract", "account", "version", "effective_from", "leaf_index", "created"],
        [
            (
                v.contract,
                v.account,
                v.version,
                format_rfc3339(v.effective),
                v.leaf_index,
                format_rfc3339(from_micros(v.created_us)),
            )
            for v in found
        ],
        numeric={"version", "leaf_index"},
    )


def preview(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(metavar="ACCOUNT", help="The account's external id.")],
    at: Annotated[
        str | None,
        typer.Option(metavar="RFC3339", help="The instant to preview (default: now)."),
    ] = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Charges of an account's billing period so far, and projected to the period's end.

    The projection scales additive usage (counts, sums) by period length over time elapsed."""
    moment = datetime.now(UTC) if at is None else parse_instant_field("at", at)
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        found = service.preview(connection, owner.id, account, moment)
    if as_json:
        print_json(
            {
                "as_of": format_rfc3339(found.as_of),
                "factor": str(found.factor),
                "period_to_date": charges_json(found.charges),
                "projection": charges_json(found.projected),
            }
        )
        return
    charges, period = found.charges, found.charges.period
    _print_warnings(charges.warnings)
    partial = " (partial)" if period.partial else ""
    say(
        f"{account}: contract {charges.contract} version {charges.version}, {charges.currency}, "
        f"period {format_rfc3339(period.start)} to {format_rfc3339(period.end)}{partial}"
    )
    say(f"as of {format_rfc3339(found.as_of)}; projection factor {found.factor}")
    _print_lines(charges, "period to date")
    _print_lines(found.projected, "projected to the end of the period")


def _warnings_json(warnings: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {"warnings": [{"field": field, "reason": reason} for field, reason in warnings]}


def _print_warnings(warnings: Sequence[tuple[str, str]]) -> None:
    for field, reason in warnings:
        warn(f"warning: {field}: {reason}")


def _print_lines(charges: Charges, title: str) -> None:
    rows: list[tuple[Any, ...]] = [
        (line.component, line.kind, line.quantity, line.amount) for line in charges.lines
    ]
    rows.append(("total", "", None, charges.total))
    print_table(
        ["component", "kind", "quantity", "amount"],
        rows,
        title=title,
        numeric={"quantity", "amount"},
    )


def _print_changes(title: str, changes: Sequence[Change]) -> None:
    if not changes:
        say(f"{title}: no changes")
        return
    print_table(
        ["path", "kind", "old", "new"],
        [(c.path, c.kind, c.old, c.new) for c in changes],
        title=title,
    )


def _latest(ctx: typer.Context, tenant_id: int, key: str) -> StoredVersion | None:
    with read(engine_of(ctx)) as connection:
        try:
            return registry.versions(connection, tenant_id, key)[-1]
        except NotFound:
            return None


def _read(path: Path) -> ContractDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ContractInvalid([("(document)", "not UTF-8 text")]) from None
    except OSError as error:
        raise InvalidInput("path", f"cannot read {str(path)!r}: {error.strerror}") from None
    return read_contract(text)


@contextmanager
def _every_problem() -> Iterator[None]:
    """A refused document ends the command with every problem listed, not only the first."""
    try:
        yield
    except ContractInvalid as error:
        _refuse(error)


def _refuse(error: ContractInvalid) -> NoReturn:
    for field, reason in error.problems:
        warn(f"error: {field}: {reason}")
    raise typer.Exit(exit_code(error))
