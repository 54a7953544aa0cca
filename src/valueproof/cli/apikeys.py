"""`valueproof apikey`: issue and revoke a tenant's API keys (shown once, stored as a digest)."""

from __future__ import annotations

from typing import Annotated

import typer

from valueproof.cli.context import TenantOption, engine_of, tenant_of
from valueproof.cli.output import JsonFlag, command_group, print_json, say, warn
from valueproof.store import write
from valueproof.tenancy.keys import create_api_key, parse_scopes, revoke_api_key

app = command_group("API keys of a tenant.")


@app.command("create")
def create(
    ctx: typer.Context,
    scopes: Annotated[
        str, typer.Option(help="Comma-separated scopes: ingest, read, admin (admin implies all).")
    ],
    tenant: TenantOption = None,
    name: Annotated[str, typer.Option(help="A label to recognize the key by.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Issue a key. The key goes to stdout, alone, so a script can capture it; it is shown this
    once and cannot be recovered."""
    chosen = parse_scopes(scopes)
    owner = tenant_of(ctx, tenant)
    with write(engine_of(ctx)) as connection:
        issued = create_api_key(connection, owner.id, chosen, name)
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
    warn(
        f"API key {issued.key_id} for tenant {owner.slug} (scopes {scope_names}). "
        "Store it now: it will not be shown again."
    )


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key id (the part after `vp_`).")],
    tenant: TenantOption = None,
) -> None:
    """Revoke a key: calls made with it are refused from now on."""
    owner = tenant_of(ctx, tenant)
    with write(engine_of(ctx)) as connection:
        revoke_api_key(connection, owner.id, key_id)
    say(f"revoked API key {key_id}")
