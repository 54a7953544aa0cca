"""Tests for cli/tenants.py and cli/apikeys.py: tenants, and API keys shown once that work."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import Engine

from valueproof.errors import Unauthenticated
from valueproof.store import read
from valueproof.tenancy.keys import Scope, authenticate
from valueproof.tenancy.tenants import Tenant

from .conftest import Cli


def test_tenant_create_then_list(cli: Cli) -> None:
    slug = f"{cli.tenant}-new"
    created = cli.root("tenant", "create", slug, "--name", "New Co", "--json")
    assert created.exit_code == 0, created.output
    assert orjson.loads(created.stdout)["slug"] == slug
    listed = cli.root("tenant", "list", "--json")
    assert listed.exit_code == 0
    found = [t for t in orjson.loads(listed.stdout)["tenants"] if t["slug"] == slug]
    assert [t["name"] for t in found] == ["New Co"]
    table = cli.root("tenant", "list")
    assert f"{slug} " in table.stdout and "New Co" in table.stdout


def test_tenant_create_refuses_a_taken_or_malformed_slug(cli: Cli) -> None:
    taken = cli.root("tenant", "create", cli.tenant)
    assert taken.exit_code == 4
    assert taken.stderr == f"error: tenant {cli.tenant!r} exists already\n"
    malformed = cli.root("tenant", "create", "Not A Slug")
    assert malformed.exit_code == 2
    assert malformed.stderr.startswith("error: slug: ")


def test_apikey_is_printed_once_and_authenticates(cli: Cli, engine: Engine, tenant: Tenant) -> None:
    result = cli("apikey", "create", "--scopes", "ingest,read", "--name", "loader")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("vp_") and "\n" not in token
    assert "will not be shown again" in result.stderr
    assert token not in result.stderr
    with read(engine) as connection:
        principal = authenticate(connection, token)
    assert principal.tenant_id == tenant.id
    assert principal.scopes == {Scope.INGEST, Scope.READ}

    revoked = cli("apikey", "revoke", principal.key_id)
    assert revoked.exit_code == 0, revoked.output
    with read(engine) as connection, pytest.raises(Unauthenticated):
        authenticate(connection, token)


def test_apikey_errors_map_to_exit_codes(cli: Cli) -> None:
    unknown_scope = cli("apikey", "create", "--scopes", "ingest,everything")
    assert unknown_scope.exit_code == 2
    assert unknown_scope.stderr.startswith("error: scopes: unknown scope 'everything'")
    assert cli("apikey", "revoke", "0000000000000000").exit_code == 3
    missing_tenant = cli.root("apikey", "create", "--scopes", "read", "--tenant", "no-such-tenant")
    assert missing_tenant.exit_code == 3
    assert missing_tenant.stderr == "error: no tenant 'no-such-tenant'\n"
