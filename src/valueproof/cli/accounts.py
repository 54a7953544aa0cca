"""`valueproof accounts`: a tenant's customer accounts, one at a time or imported from a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from valueproof.cli.account_import import read_accounts_file
from valueproof.cli.context import TenantOption, engine_of, file_argument, tenant_of
from valueproof.cli.output import JsonFlag, command_group, print_json, print_table, say, warn
from valueproof.errors import InvalidInput
from valueproof.metering.definitions import parse_document
from valueproof.store import read
from valueproof.tenancy import accounts as service
from valueproof.tenancy import writes
from valueproof.tenancy.accounts import (
    Account,
    AccountCreate,
    AccountPatch,
    AttributeValue,
    account_json,
)

app = command_group("Customer accounts of a tenant.")

AttrOption = Annotated[
    list[str] | None,
    typer.Option(
        "--attr",
        metavar="KEY=VALUE",
        help="An attribute; repeat for more. KEY=VALUE keeps VALUE as text, "
        "KEY:=VALUE reads it as JSON (a number, true or false).",
    ),
]
ExternalId = Annotated[str, typer.Argument(metavar="ID", help="The account's external id.")]


def parse_attribute(text: str) -> tuple[str, AttributeValue]:
    """`key=text` or `key:=json-scalar` as a (key, value) pair."""
    key, separator, raw = text.partition("=")
    if not separator or not key.removesuffix(":"):
        raise InvalidInput("--attr", f"expected KEY=VALUE or KEY:=VALUE, got {text!r}")
    if not key.endswith(":"):
        return key, raw
    key = key.removesuffix(":")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, bool | int | float):
        raise InvalidInput(f"attributes.{key}", f"after := give a number, true or false: {raw!r}")
    return key, value


def parse_attributes(texts: list[str] | None) -> dict[str, AttributeValue]:
    """Every `--attr` given, later ones winning."""
    return dict(parse_attribute(text) for text in texts or [])


def show_account(account: Account, as_json: bool) -> None:
    """Print one account as a two-column table, or as JSON."""
    if as_json:
        print_json(account_json(account))
        return
    rows: list[tuple[str, Any]] = [("external_id", account.external_id), ("name", account.name)]
    rows += [(f"attributes.{key}", value) for key, value in sorted(account.attributes.items())]
    print_table(["field", "value"], rows)


@app.command("create")
def create(
    ctx: typer.Context,
    external_id: ExternalId,
    name: Annotated[str, typer.Option(help="The customer's name.")],
    attr: AttrOption = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an account."""
    new = parse_document(
        AccountCreate,
        {"external_id": external_id, "name": name, "attributes": parse_attributes(attr)},
    )
    owner = tenant_of(ctx, tenant)
    account = writes.create_account(engine_of(ctx), owner.id, new)
    show_account(account, as_json)


@app.command("list")
def list_page(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Most accounts to list.")] = 100,
    after: Annotated[
        str | None, typer.Option(metavar="ID", help="Start after this external id (next page).")
    ] = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List accounts by external id, a page at a time."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        page = service.list_accounts(connection, owner.id, limit, after)
    next_after = page[-1].external_id if len(page) == limit else None
    if as_json:
        print_json({"accounts": [account_json(a) for a in page], "next_after": next_after})
        return
    print_table(
        ["external_id", "name", "attributes"],
        [(a.external_id, a.name, a.attributes) for a in page],
    )
    if next_after is not None:
        warn(f"more accounts follow: --after {next_after}")


@app.command("show")
def show(
    ctx: typer.Context,
    external_id: ExternalId,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Show one account."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        account = service.get_account(connection, owner.id, external_id)
    show_account(account, as_json)


@app.command("update")
def update(
    ctx: typer.Context,
    external_id: ExternalId,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    attr: AttrOption = None,
    unset: Annotated[
        list[str] | None,
        typer.Option(metavar="KEY", help="Remove an attribute; repeat for more."),
    ] = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Change an account's name or attributes; attributes not named are kept."""
    changes: dict[str, AttributeValue | None] = {key: None for key in unset or []}
    changes.update(parse_attributes(attr))
    if name is None and not changes:
        raise InvalidInput("(options)", "nothing to change: give --name, --attr or --unset")
    patch = parse_document(AccountPatch, {"name": name, "attributes": changes or None})
    owner = tenant_of(ctx, tenant)
    account = writes.update_account(engine_of(ctx), owner.id, external_id, patch)
    show_account(account, as_json)


@app.command("delete")
def delete(ctx: typer.Context, external_id: ExternalId, tenant: TenantOption = None) -> None:
    """Delete an account that has no usage on record."""
    owner = tenant_of(ctx, tenant)
    writes.delete_account(engine_of(ctx), owner.id, external_id)
    say(f"deleted account {external_id}")


@app.command("import")
def import_file(
    ctx: typer.Context,
    path: Annotated[
        Path,
        file_argument("CSV (external_id, name, one column per attribute) or JSONL of accounts."),
    ],
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Create the accounts a file lists and update those that exist (safe to run again).

    Every row is checked before any is written; then all are written in one transaction."""
    wanted = read_accounts_file(path)
    owner = tenant_of(ctx, tenant)
    counts = writes.import_accounts(engine_of(ctx), owner.id, wanted)
    if as_json:
        print_json(counts)
    else:
        say(", ".join(f"{status} {count}" for status, count in counts.items()))
