"""`valueproof tenant`: the vendors whose data this database keeps."""

from __future__ import annotations

from typing import Annotated

import typer

from valueproof.cli.context import engine_of
from valueproof.cli.output import JsonFlag, command_group, print_json, print_table, say
from valueproof.store import read, upgrade
from valueproof.tenancy import writes
from valueproof.tenancy.tenants import Tenant, list_tenants

app = command_group("Tenants: the vendors whose data this database keeps.")


def tenant_json(tenant: Tenant) -> dict[str, object]:
    """A tenant as the CLI prints it in JSON."""
    return {"id": tenant.id, "slug": tenant.slug, "name": tenant.name}


@app.command("create")
def create(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Stable short name: lowercase letters, digits, -.")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the slug).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a tenant (migrates the database first)."""
    engine = engine_of(ctx)
    upgrade(engine)
    tenant = writes.create_tenant(engine, slug, name)
    if as_json:
        print_json(tenant_json(tenant))
    else:
        say(f"created tenant {tenant.slug} ({tenant.name})")


@app.command("list")
def list_all(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List every tenant."""
    with read(engine_of(ctx)) as connection:
        tenants = list_tenants(connection)
    if as_json:
        print_json({"tenants": [tenant_json(t) for t in tenants]})
    else:
        print_table(["slug", "name"], [(t.slug, t.name) for t in tenants])
