"""Customer keys (tenancy/keys.py, cli/apikeys.py): bound to one account, scope `customer` only,
refused by every vendor scope check, and blind to other accounts."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, update
from typer.testing import CliRunner

from valueproof.cli.main import app
from valueproof.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from valueproof.store import read, write
from valueproof.tenancy.accounts import AccountCreate, create_account, delete_account
from valueproof.tenancy.keys import Scope, authenticate, create_api_key
from valueproof.tenancy.tables import api_keys
from valueproof.tenancy.tenants import Tenant, create_tenant

CUSTOMER = frozenset({Scope.CUSTOMER})


@pytest.fixture
def acme_id(engine: Engine, tenant: Tenant) -> int:
    with write(engine) as connection:
        for external_id in ("acme", "globex"):
            created = create_account(
                connection, tenant.id, AccountCreate(external_id=external_id, name=external_id)
            )
            if external_id == "acme":
                found = created.id
    return found


def test_a_customer_key_is_bound_to_its_account(
    engine: Engine, tenant: Tenant, acme_id: int
) -> None:
    with write(engine) as connection:
        issued = create_api_key(connection, tenant.id, CUSTOMER, "acme portal", acme_id)
    with read(engine) as connection:
        who = authenticate(connection, issued.token)
    assert (who.account_id, who.account_external_id, who.scopes) == (acme_id, "acme", CUSTOMER)
    assert who.is_customer
    who.require_account("acme", Scope.ADMIN)  # its own account, whatever the vendor scope
    with pytest.raises(NotFound, match="no account 'globex'"):
        who.require_account("globex", Scope.READ)
    with pytest.raises(NotFound, match="no account 'nobody'"):
        who.require_account("nobody", Scope.READ)  # the same answer as for a real account
    for scope in (Scope.READ, Scope.INGEST, Scope.ADMIN):
        with pytest.raises(Forbidden):
            who.require(scope)


def test_vendor_keys_are_unchanged(engine: Engine, tenant: Tenant) -> None:
    with write(engine) as connection:
        reader = create_api_key(connection, tenant.id, frozenset({Scope.READ}))
        everything = create_api_key(connection, tenant.id, frozenset(Scope))
    with read(engine) as connection:
        who = authenticate(connection, reader.token)
        admin = authenticate(connection, everything.token)
    assert not who.is_customer and who.account_id is None
    who.require(Scope.READ)
    who.require_account("any", Scope.READ)
    with pytest.raises(Forbidden):
        who.require_account("any", Scope.ADMIN)
    # `customer` means nothing on a vendor key: a key with every scope is a vendor admin.
    assert admin.scopes == {Scope.INGEST, Scope.READ, Scope.ADMIN}
    with pytest.raises(ValueError, match="not a vendor scope"):
        admin.require(Scope.CUSTOMER)


def test_scopes_and_accounts_that_do_not_fit_are_refused(
    engine: Engine, tenant: Tenant, acme_id: int
) -> None:
    with write(engine) as connection:
        other = create_tenant(connection, f"{tenant.slug}-other")
        with pytest.raises(InvalidInput, match="exactly the scope 'customer'"):
            create_api_key(connection, tenant.id, frozenset({Scope.READ}), "", acme_id)
        with pytest.raises(InvalidInput, match="exactly the scope 'customer'"):
            create_api_key(connection, tenant.id, CUSTOMER | {Scope.READ}, "", acme_id)
        with pytest.raises(InvalidInput, match="needs an account"):
            create_api_key(connection, tenant.id, CUSTOMER)
        with pytest.raises(NotFound):  # another tenant's account
            create_api_key(connection, other.id, CUSTOMER, "", acme_id)


@pytest.mark.parametrize(
    ("scopes", "bound"),
    [("customer,admin", True), ("read", True), ("customer", False), ("admin,customer", False)],
)
def test_a_tampered_key_row_is_refused(
    engine: Engine, tenant: Tenant, acme_id: int, scopes: str, bound: bool
) -> None:
    with write(engine) as connection:
        issued = create_api_key(connection, tenant.id, CUSTOMER, "", acme_id)
        connection.execute(
            update(api_keys)
            .where(api_keys.c.key_id == issued.key_id)
            .values(scopes=scopes, account_id=acme_id if bound else None)
        )
    with read(engine) as connection, pytest.raises(Unauthenticated):
        authenticate(connection, issued.token)


def test_deleting_the_account_deletes_its_keys(
    engine: Engine, tenant: Tenant, acme_id: int
) -> None:
    with write(engine) as connection:
        issued = create_api_key(connection, tenant.id, CUSTOMER, "", acme_id)
    with write(engine) as connection:
        delete_account(connection, tenant.id, "acme")
        create_account(connection, tenant.id, AccountCreate(external_id="acme", name="again"))
    with read(engine) as connection, pytest.raises(Unauthenticated):
        authenticate(connection, issued.token)


def run(engine: Engine, tenant: Tenant, *args: str) -> tuple[int, str]:
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        app, ["--database-url", url, "apikey", "create", *args, "--tenant", tenant.slug]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_cli_account_option_issues_a_customer_key(
    engine: Engine, tenant: Tenant, acme_id: int
) -> None:
    code, output = run(engine, tenant, "--account", "acme", "--name", "portal")
    assert code == 0, output
    token = next(line for line in output.splitlines() if line.startswith("vp_"))
    with read(engine) as connection:
        who = authenticate(connection, token)
    assert (who.account_id, who.scopes) == (acme_id, CUSTOMER)
    assert run(engine, tenant, "--account", "acme", "--scopes", "customer")[0] == 0
    refused = [
        run(engine, tenant, "--account", "acme", "--scopes", "read"),
        run(engine, tenant, "--account", "acme", "--scopes", "customer,admin"),
        run(engine, tenant, "--scopes", "customer"),
        run(engine, tenant),
    ]
    assert all(code != 0 for code, _ in refused), refused
    assert run(engine, tenant, "--account", "nobody")[0] != 0
