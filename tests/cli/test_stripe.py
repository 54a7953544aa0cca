"""`valueproof stripe push`: prints what it pushed to the fake Stripe, resumes, and exits 1 when
Stripe refused an invoice and 2 when no key is set."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from sqlalchemy import Engine
from tests.billing.conftest import Billing, utc
from tests.billing.fake_stripe import API_KEY, FakeStripe, fake_stripe
from tests.cli.conftest import Cli
from tests.contracts.conftest import priced_tenant

from valueproof.ledger.keyring import Keyring, StoredKey
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.tenancy.tenants import Tenant


@pytest.fixture
def stripe(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    """The fake Stripe, and the environment that points the CLI at it."""
    with fake_stripe() as fake:
        monkeypatch.setenv("VALUEPROOF_STRIPE_API_KEY", API_KEY)
        monkeypatch.setenv("VALUEPROOF_STRIPE_API_BASE", fake.url)
        yield fake


@pytest.fixture
def closed(engine: Engine, tenant: Tenant, keyring: Keyring, signing_key: StoredKey) -> Billing:
    """The test's tenant with October's and November's invoices finalized."""
    billing = Billing(priced_tenant(engine, tenant), CheckpointPolicy(keyring))
    billing.contract(term={"start": "2026-10-01", "end": "2027-01-01"})
    billing.close(utc(2026, 12, 5))
    return billing


def test_push_prints_each_invoice_it_pushed_then_nothing(
    cli: Cli, closed: Billing, stripe: FakeStripe
) -> None:
    numbers = sorted(i.number or "" for i in closed.invoices())
    first = cli("stripe", "push")
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert [line.split(" -> ")[0] for line in lines] == numbers
    assert all(line.endswith(": 2 items") for line in lines)
    assert {line.split(" -> ")[1].split(":")[0] for line in lines} == set(stripe.invoices)
    again = cli("stripe", "push")
    assert again.exit_code == 0 and again.stdout.strip() == "nothing to push"


def test_a_refused_invoice_exits_1_and_the_next_run_resumes_it(
    cli: Cli, closed: Billing, stripe: FakeStripe
) -> None:
    stripe.refuse(r"/finalize$")
    failed = cli("stripe", "push", "--json")
    assert failed.exit_code == 1
    results = orjson.loads(failed.stdout)["pushed"]
    assert [r["error"] is None for r in results] == [False, True]
    assert "finalizing: refused by the fake" in results[0]["error"]
    resumed = cli.json("stripe", "push")["pushed"]
    assert [(r["invoice"], r["resumed"], r["error"]) for r in resumed] == [
        (results[0]["invoice"], True, None)
    ]
    assert {i["status"] for i in stripe.invoices.values()} == {"open"}


def test_without_a_key_push_exits_2_naming_the_setting(
    cli: Cli, closed: Billing, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VALUEPROOF_STRIPE_API_KEY", raising=False)
    result = cli("stripe", "push")
    assert result.exit_code == 2
    assert "VALUEPROOF_STRIPE_API_KEY" in result.stderr
