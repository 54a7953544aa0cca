"""`valueproof demo seed`: the sample book lands through the product's own paths, once."""

from __future__ import annotations

import re
from decimal import Decimal

import orjson
import pytest
from sqlalchemy import Engine, func, select

from valueproof.metering.tables import events
from valueproof.store import read
from valueproof.tenancy.tenants import get_tenant

from .conftest import Cli


def test_demo_seed_loads_the_book_once(
    cli: Cli, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VALUEPROOF_LEDGER_PASSPHRASE", "demo test passphrase")
    slug = f"{cli.tenant}-demo"
    args = ("demo", "seed", "--tenant", slug, "--accounts", "6", "--days", "21", "--scale", "0.3")
    first = cli.root(*args)
    assert first.exit_code == 0, first.output
    assert "API key for tenant" in first.output
    with read(engine) as connection:
        tenant = get_tenant(connection, slug)
        stored = connection.execute(
            select(func.count()).where(events.c.tenant_id == tenant.id)
        ).scalar()
    assert stored and stored > 100
    # Every event is on the signed log, and the audit agrees with the records.
    assert "ledger verifier key" in first.output
    outcomes = re.search(r"outcomes: .*; (\d+) ledger leaves", first.output)
    assert outcomes is not None, first.output
    assert "(84 billable, 46 refused)" in first.output  # 60 of the 100 leads, 24 of 30 hires
    status = orjson.loads(cli.root("ledger", "status", "--tenant", slug, "--json").stdout)
    # every event, the 6 contracts, and the outcome slice's amendments, definitions, verdicts,
    # readings, plan changes and dispute steps
    assert status["size"] == stored + 6 + int(outcomes[1])
    assert status["unsigned_leaves"] == 0
    assert cli.root("ledger", "audit", "--tenant", slug).exit_code == 0
    assert f"│ {stored}" in first.output.replace(",", "")
    usage = cli.root(
        "usage",
        "--tenant",
        slug,
        "--meter",
        "messages",
        "--from",
        "2020-01-01T00:00:00Z",
        "--to",
        "2029-01-01T00:00:00Z",
        "--granularity",
        "month",
        "--json",
    )
    assert usage.exit_code == 0, usage.output
    monthly = orjson.loads(usage.stdout)["rows"]
    assert monthly and all(Decimal(row["value"]) > 0 for row in monthly)
    # Every account has a contract, and its charges so far can be previewed.
    contracts = orjson.loads(cli.root("contract", "list", "--tenant", slug, "--json").stdout)
    accounts = [c["account"] for c in contracts["contracts"]]
    assert len(accounts) == 6
    preview = cli.root("preview", accounts[0], "--tenant", slug, "--json")
    assert preview.exit_code == 0, preview.output
    assert Decimal(orjson.loads(preview.stdout)["period_to_date"]["total"]) > 0
    again = cli.root(*args)
    assert again.exit_code == 0
    assert "seeded already" in again.output
