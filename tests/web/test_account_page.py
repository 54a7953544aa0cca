"""The account page shows the contract in force with its key terms, the health score with its
drivers, and the success plan with the customer's adherence: a small demo book seeded as of
now on both backends, read in Chromium."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from valueproof.contracts.validation import parse_contract
from valueproof.demo import BookSpec, demo_accounts
from valueproof.demo.outcomes import outcome_accounts
from valueproof.demo.seed import SeedReport, seed_demo
from valueproof.store import write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.tenants import Tenant, get_tenant
from valueproof.web.account_views import component_terms

from ..conftest import LEDGER_PASSPHRASE

NOW = datetime.now(UTC)
SPEC = BookSpec(
    end=NOW.replace(hour=0, minute=0, second=0, microsecond=0), accounts=3, days=90, scale=0.1
)
ROLES = outcome_accounts(demo_accounts(SPEC))


@pytest.fixture
def seeded(engine: Engine, tenant: Tenant) -> SeedReport:
    """The demo book under a slug of its own (the tenant fixture only lends a unique name)."""
    return seed_demo(engine, SPEC, f"{tenant.slug}-demo", passphrase=LEDGER_PASSPHRASE, now=NOW)


def sign_in(page: Page, key: str) -> None:
    page.goto("/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/$"))


def test_browser_account_page_shows_contract_health_and_plan(
    seeded: SeedReport, page: Page
) -> None:
    assert ROLES.leads is not None and ROLES.retention is not None
    sign_in(page, seeded.api_key)
    page.goto(f"/accounts/{ROLES.leads.external_id}")
    contract = page.locator("section.contract")
    expect(contract.locator(".contract-key")).to_have_text(f"{ROLES.leads.external_id}-terms")
    expect(contract.locator(".contract-version")).to_have_text("version 2")
    expect(contract.locator('tr[data-component="leads"] td').nth(2)).to_have_text(
        "40.00 USD per accepted qualified_lead, at most 500 a period"
    )
    expect(contract.locator('tr[data-component="platform"]')).to_have_count(1)

    health = page.locator("section.health")
    expect(health.locator(".health-score")).to_have_text(re.compile(r"^\d{1,3}$"))
    expect(health.locator(".health-band")).not_to_be_empty()
    acceptance = health.locator('tr[data-measure="outcome_acceptance"] td')
    expect(acceptance.nth(0)).to_have_text("Outcome acceptance rate")
    expect(acceptance.nth(1)).to_have_text("0.6")  # 60 of the 100 leads
    expect(health.locator('tr[data-measure="plan_adherence"] td').nth(1)).to_have_text("0.25")

    plan = page.locator("section.success-plan")
    expect(plan.locator("tr[data-action]")).to_have_count(7)
    for standing, text in [
        ("on_time", "1 done on time"),
        ("late", "1 done late"),
        ("missed", "1 missed"),
        ("dropped", "1 dropped"),
    ]:
        expect(plan.locator(f'.adherence [data-standing="{standing}"]')).to_have_text(text)
    expect(plan.locator('tr[data-action="follow_up"]')).to_have_attribute("data-standing", "missed")
    expect(plan.locator('tr[data-action="sponsor"] td').nth(4)).to_have_text("not due")

    page.goto(f"/accounts/{ROLES.retention.external_id}")
    gain = page.locator('section.contract tr[data-type="gain_share"] td').nth(2)
    expect(gain).to_contain_text("share of the gain in")
    expect(gain).to_contain_text("10 % from 10 points")


def test_browser_an_account_without_contract_or_plan_says_so(
    seeded: SeedReport, page: Page, engine: Engine
) -> None:
    with write(engine) as connection:
        owner = get_tenant(connection, seeded.tenant)
        create_account(connection, owner.id, AccountCreate(external_id="newco", name="Newco"))
    sign_in(page, seeded.api_key)
    page.goto("/accounts/newco")
    expect(page.locator(".no-contract")).to_have_text("No contract in force.")
    expect(page.locator(".no-health")).to_contain_text("Not scored yet")
    expect(page.locator(".no-plan")).to_have_text("No success plan yet.")


def test_component_terms_name_the_price_and_what_it_counts() -> None:
    document = parse_contract(
        {
            "contract": "c",
            "account": "a",
            "currency": "EUR",
            "term": {"start": "2026-01-01"},
            "components": [
                {"id": "f", "type": "flat", "amount": "99.00"},
                {"id": "o", "type": "per_outcome", "outcome": "ticket", "unit_price": "2.00"},
                {
                    "id": "g",
                    "type": "gain_share",
                    "metric": "nrr",
                    "baseline": {"value": 92},
                    "value_per_unit": "100.00",
                    "improvement": "percent",
                    "tiers": [{"threshold": 5, "percent": 5}],
                },
            ],
        }
    )
    texts = [component_terms(c, document.currency) for c in document.components]
    assert texts == [
        "99.00 EUR a period",
        "2.00 EUR per accepted ticket",
        "share of the gain in nrr: 5 % from 5 percent; one percent is worth 100.00 EUR",
    ]
