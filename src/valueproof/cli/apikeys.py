"""`valueproof apikey`: issue and revoke a tenant's API keys (shown once, stored as a digest)."""

from __future__ import annotations

from typing import Annotated

import typer

from valueproof.cli.context import TenantOption, engine_of, tenant_of
from valueproof.cli.output import JsonFlag, command_group, print_json, say, warn
from valueproof.errors import InvalidInput
from valueproof.tenancy import writes
from valueproof.tenancy.keys import Scope, parse_scopes

app = command_group("API keys of a tenant.")


@app.command("create")
def create(
    ctx: typer.Context,
    scopes: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated scopes: ingest, read, admin (admin implies all); "
            "with --account, only customer (the default)."
        ),
    ] = None,
    account: Annotated[
        str | None,
        typer.Option(
            help="EXTERNAL_ID: a customer key of this account, which sees only that account."
        ),
    ] = None,
    tenant: TenantOption = None,
    name: Annotated[str, typer.Option(help="A label to recognize the key by.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Issue a key. The key goes to stdout, alone, so a script can capture it; it is shown this
    once and cannot be recovered."""
    chosen = _scopes(scopes, account)
    owner = tenant_of(ctx, tenant)
    issued = writes.create_api_key(engine_of(ctx), owner.id, chosen, name, account)
    if as_json:
        print_json(
            {
                "key_id": issued.key_id,
                "token": issued.token,
                "scopes": sorted(scope.value for scope in issued.scopes),
            }
        )
    else:
        say(issued.token)
    scope_names = ",".join(sorted(scope.value for scope in issued.scopes))
    holder = "" if account is None else f", account {account}"
    warn(
        f"API key {issued.key_id} for tenant {owner.slug}{holder} (scopes {scope_names}). "
        "Store it now: it will not be shown again."
    )


def _scopes(scopes: str | None, account: str | None) -> frozenset[Scope]:
    """The scopes asked for: a customer key has exactly `customer`; a vendor key never has it."""
    if account is not None:
        chosen = frozenset({Scope.CUSTOMER}) if scopes is None else parse_scopes(scopes)
        if chosen != {Scope.CUSTOMER}:
            raise InvalidInput("scopes", "a customer key (--account) has only the scope customer")
        return chosen
    if scopes is None:
        raise InvalidInput("scopes", "give --scopes (ingest, read, admin) or --account")
    chosen = parse_scopes(scopes)
    if Scope.CUSTOMER in chosen:
        raise InvalidInput("scopes", "the customer scope needs --account EXTERNAL_ID")
    return chosen


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key id (the part after `vp_`).")],
    tenant: TenantOption = None,
) -> None:
    """Revoke a key: calls made with it are refused from now on."""
    owner = tenant_of(ctx, tenant)
    writes.revoke_api_key(engine_of(ctx), owner.id, key_id)
    say(f"revoked API key {key_id}")
