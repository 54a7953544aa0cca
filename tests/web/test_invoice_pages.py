"""The invoice pages: the list by state, an invoice with its lines (quantity, unit price, tier
slices), the admin's void and credit-note forms, and the money on an account's page. A priced
tenant closed through `billing.writes` on both backends, read and driven in Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from playwright.sync_api import Page, expect
from sqlalchemy import Engine
from tests.billing.conftest import YEAR, Billing, utc
from tests.contracts.conftest import contract_document, priced_tenant

from valueproof.billing import writes
from valueproof.billing.credit_notes import CreditLine, CreditRequest
from valueproof.billing.invoice_store import credit_notes_of
from valueproof.errors import DocumentInvalid
from valueproof.ledger.keyring import Keyring
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.store import read, write
from valueproof.tenancy.keys import Scope, create_api_key
from valueproof.tenancy.tenants import Tenant
from valueproof.web.billing_views import credit_request

from .conftest import form_csrf, post_login

# A platform fee, calls priced in two graduated tiers, a minimum on the calls and a prepaid
# credit they draw down; November and December 2026.
COMPONENTS: list[dict[str, Any]] = [
    {"id": "platform", "type": "flat", "amount": "100.00"},
    {
        "id": "api",
        "type": "graduated",
        "meter": "calls",
        "tiers": [{"up_to": 5, "unit_price": "1.00"}, {"up_to": None, "unit_price": "0.50"}],
    },
    {"id": "minimum", "type": "commitment", "minimum": "50.00", "applies_to": ["api"]},
    {
        "id": "wallet",
        "type": "prepaid_credits",
        "applies_to": ["api"],
        "grants": [{"id": "welcome", "amount": "5.00", "granted": "2026-11-01T00:00:00Z"}],
    },
]
CLOSED = utc(2026, 12, 5)  # November is past its 72 hours of grace


def terms(account: str) -> dict[str, Any]:
    return contract_document(
        key=f"{account}-2026",
        account=account,
        term={"start": "2026-11-01", "end": "2027-01-01"},
        components=COMPONENTS,
    )


def calls(account: str, count: int, month: int = 11) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call-{account}-{month}-{n}",
            "account": account,
            "type": "api.call",
            "timestamp": f"2026-{month:02d}-{3 + n:02d}T10:00:00Z",
            "properties": {"region": "eu"},
        }
        for n in range(count)
    ]


@pytest.fixture
def billing(engine: Engine, tenant: Tenant, keyring: Keyring, signing_key: object) -> Billing:
    return Billing(priced_tenant(engine, tenant), CheckpointPolicy(keyring))


@pytest.fixture
def acme(billing: Billing) -> Billing:
    """acme's November closed into one finalized invoice: 8 calls, 5 in the first tier."""
    billing.priced.apply(terms("acme"))
    billing.priced.ingest(calls("acme", 8))
    assert billing.close(CLOSED).finalized == [f"INV-{YEAR}-000001"]
    return billing


@pytest.fixture
def visitor(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as client:
        yield client


def sign_in(page: Page, key: str) -> None:
    page.goto("/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/$"))


def reader_key(engine: Engine, tenant: Tenant) -> str:
    with write(engine) as connection:
        return create_api_key(connection, tenant.id, frozenset({Scope.READ})).token


# --- the list --------------------------------------------------------------------------------


@pytest.mark.browser
def test_browser_invoices_are_listed_by_state(billing: Billing, page: Page, admin_key: str) -> None:
    for account in ("acme", "globex", "initech"):
        billing.priced.apply(terms(account))
    billing.settings(auto_finalize=False)
    billing.close(CLOSED)
    drafts = {invoice.account: invoice for invoice in billing.invoices()}
    for account in ("acme", "globex"):
        writes.finalize(billing.engine, billing.tenant_id, str(drafts[account].id), billing.policy)
    paid = billing.invoice(drafts["globex"].id).number or ""
    writes.mark(billing.engine, billing.tenant_id, paid, "paid", "wire", billing.policy)

    sign_in(page, admin_key)
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Invoices").click()
    rows = page.locator("tr.invoice")
    expect(rows).to_have_count(3)
    for state, account in [("paid", "globex"), ("draft", "initech"), ("finalized", "acme")]:
        page.get_by_role("navigation", name="Invoice states").get_by_role(
            "link", name=state.capitalize()
        ).click()
        expect(page).to_have_url(re.compile(rf"/invoices\?state={state}$"))
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-state", state)
        expect(rows.first.locator("td").nth(1)).to_have_text(account)
        expect(rows.first.locator("td.period")).to_have_text("1 Nov 2026 to 30 Nov 2026")
        expect(rows.first.locator("td.total")).to_have_text("150.00 USD")
    page.get_by_role("link", name="Void").click()
    expect(page.locator(".no-invoices")).to_have_text("No void invoices.")


def test_an_unknown_state_or_account_is_named(visitor: httpx.Client, admin_key: str) -> None:
    post_login(visitor, admin_key)
    answer = visitor.get("/invoices", params={"state": "sent"})
    assert answer.status_code == 422
    states = "draft, finalized, paid, void, uncollectible"
    assert f"state: must be one of {states}, not &#39;sent&#39;" in answer.text
    answer = visitor.get("/invoices", params={"account": "nobody"})
    assert answer.status_code == 422
    assert "account: unknown account &#39;nobody&#39;" in answer.text
    answer = visitor.get(f"/invoices/INV-{YEAR}-999999")
    assert answer.status_code == 404
    assert f"no invoice &#39;INV-{YEAR}-999999&#39;" in answer.text


# --- one invoice -----------------------------------------------------------------------------


@pytest.mark.browser
def test_browser_invoice_page_shows_quantities_unit_prices_and_tiers(
    acme: Billing, page: Page, admin_key: str
) -> None:
    invoice = acme.invoices()[0]
    sign_in(page, admin_key)
    page.goto("/invoices")
    page.get_by_role("link", name=f"INV-{YEAR}-000001").click()
    expect(page).to_have_url(re.compile(rf"/invoices/INV-{YEAR}-000001$"))
    expect(page.locator(".invoice-number")).to_have_text(f"INV-{YEAR}-000001")
    expect(page.locator("h1 [data-state]")).to_have_text("finalized")
    expect(page.locator(".leaf-index")).to_have_text(str(invoice.leaf_index))
    expect(page.locator("dd.period")).to_have_text("1 Nov 2026 to 30 Nov 2026")

    api = page.locator('tr.line[data-component="api"]')
    expect(api.locator(".quantity")).to_have_text("8")
    expect(api.locator(".unit-price")).to_have_text("0.8125")  # 6.50 over 8 calls
    expect(api.locator(".amount")).to_have_text("6.50")
    tiers = page.locator('tr.tier[data-line="1"]')
    expect(tiers).to_have_count(2)
    slices = [("tier 1: 0 to 5", "5", "1.00", "5"), ("tier 2: from 5 on", "3", "0.50", "1.5")]
    for index, (name, quantity, price, amount) in enumerate(slices):
        expect(tiers.nth(index).locator("td").nth(1)).to_have_text(name)
        expect(tiers.nth(index).locator(".quantity")).to_have_text(quantity)
        expect(tiers.nth(index).locator(".unit-price")).to_have_text(price)
        expect(tiers.nth(index).locator(".amount")).to_contain_text(amount)
    platform = page.locator('tr.line[data-component="platform"]')
    expect(platform.locator(".quantity")).to_have_text("1")
    expect(platform.locator(".unit-price")).to_have_text("100.00")
    expect(page.locator(".invoice-total")).to_have_text(f"{invoice.total} USD")
    expect(page.locator("a.pdf")).to_have_attribute("href", f"/invoices/INV-{YEAR}-000001/pdf")
    printed = page.request.get(f"/invoices/INV-{YEAR}-000001/pdf")  # the session's cookie opens it
    assert printed.ok and printed.headers["content-type"] == "application/pdf"
    assert printed.body().startswith(b"%PDF")
    expect(page.locator("a.bundle")).to_have_attribute(
        "href", f"/invoices/INV-{YEAR}-000001/bundle"
    )


@pytest.mark.browser
def test_browser_void_with_a_reason_regenerates_under_a_new_number(
    acme: Billing, page: Page, admin_key: str
) -> None:
    sign_in(page, admin_key)
    page.goto(f"/invoices/INV-{YEAR}-000001")
    void = page.locator("section.void")
    void.get_by_role("button", name="Void invoice").click()  # no reason yet
    expect(page.get_by_role("alert")).to_contain_text("reason: voiding an invoice needs a reason")
    assert acme.invoice(f"INV-{YEAR}-000001").status == "finalized"  # nothing half-applied

    void.get_by_label("Reason").fill("wrong platform fee")
    expect(void.get_by_label("Regenerate")).to_be_checked()
    void.get_by_role("button", name="Void invoice").click()
    expect(page).to_have_url(re.compile(rf"/invoices/INV-{YEAR}-000002\?done=regenerated$"))
    expect(page.get_by_role("status")).to_contain_text("Voided the invoice this one replaces")
    expect(page.locator("h1 [data-state]")).to_have_text("finalized")
    expect(page.locator("dd.replaces")).to_have_text(f"INV-{YEAR}-000001 (void)")

    page.locator("dd.replaces a").click()
    expect(page.locator("h1 [data-state]")).to_have_text("void")
    expect(page.locator("dd.replaced-by")).to_have_text(f"INV-{YEAR}-000002")
    voided = page.locator('tr.change[data-state="void"]')
    expect(voided.locator(".reason")).to_have_text("wrong platform fee")
    expect(page.locator("section.void")).to_have_count(0)  # a void invoice is void for good
    assert acme.invoice(f"INV-{YEAR}-000001").status == "void"
    assert acme.invoice(f"INV-{YEAR}-000002").replaces_id == acme.invoice(f"INV-{YEAR}-000001").id


@pytest.mark.browser
def test_browser_a_credit_note_larger_than_its_line_names_the_line(
    acme: Billing, page: Page, admin_key: str
) -> None:
    sign_in(page, admin_key)
    page.goto(f"/invoices/INV-{YEAR}-000001")
    credit = page.locator("section.credit")
    credit.get_by_label("Line").select_option("1")  # the api line
    credit.get_by_label("Amount").fill("7.00")
    credit.get_by_label("Reason").fill("goodwill")
    credit.get_by_role("button", name="Issue credit note").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("amount: 7.00 is more than the 6.50 left to credit on line 1 (")
    expect(alert.locator('[data-field="amount"]')).to_have_count(1)
    expect(credit.get_by_label("Amount")).to_have_value("7.00")  # the form as sent
    invoice = acme.invoice(f"INV-{YEAR}-000001")
    with read(acme.engine) as connection:
        assert credit_notes_of(connection, acme.tenant_id, invoice.id) == []

    credit.get_by_label("Amount").fill("2.50")
    credit.get_by_label("the account's credit balance").check()
    credit.get_by_role("button", name="Issue credit note").click()
    expect(page).to_have_url(re.compile(rf"/invoices/INV-{YEAR}-000001\?done=credited$"))
    note = page.locator("tr.credit-note")
    expect(note).to_have_count(1)
    expect(note).to_contain_text("goodwill")
    expect(note).to_contain_text("line 1: 2.50")
    expect(note).to_contain_text("credit balance")
    expect(page.get_by_label("Line").locator("option", has_text="1: ")).to_contain_text(
        "(4.00 USD left)"
    )
    with read(acme.engine) as connection:
        [stored] = credit_notes_of(connection, acme.tenant_id, invoice.id)
    assert (stored.disposition, stored.total) == ("balance", Decimal("2.50"))


@pytest.mark.browser
def test_browser_a_draft_is_finalized_from_its_page(
    billing: Billing, page: Page, admin_key: str
) -> None:
    billing.priced.apply(terms("acme"))
    billing.settings(auto_finalize=False)
    billing.close(CLOSED)
    draft = billing.invoices()[0]
    sign_in(page, admin_key)
    page.goto(f"/invoices/{draft.id}")
    expect(page.locator(".invoice-number")).to_have_text(f"Draft invoice {draft.id}")
    expect(page.locator("section.void")).to_have_count(0)
    expect(page.locator("section.credit")).to_have_count(0)
    page.get_by_role("button", name="Finalize").click()
    expect(page).to_have_url(re.compile(rf"/invoices/INV-{YEAR}-000001\?done=finalized$"))
    expect(page.locator("h1 [data-state]")).to_have_text("finalized")
    expect(page.locator("section.finalize")).to_have_count(0)


def test_a_reader_sees_no_actions_and_may_not_post_them(
    acme: Billing, visitor: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    post_login(visitor, reader_key(engine, tenant))
    shown = visitor.get(f"/invoices/INV-{YEAR}-000001")
    assert shown.status_code == 200
    assert "Void invoice" not in shown.text and "Issue credit note" not in shown.text
    answer = visitor.post(
        f"/invoices/INV-{YEAR}-000001/void",
        data={"csrf": form_csrf(shown.text), "reason": "mine now"},
    )
    assert answer.status_code == 403
    assert "lacks the &#39;admin&#39; scope" in answer.text
    assert acme.invoice(f"INV-{YEAR}-000001").status == "finalized"


def test_an_action_without_the_sessions_token_is_refused(
    acme: Billing, visitor: httpx.Client, admin_key: str
) -> None:
    post_login(visitor, admin_key)
    for forged in ({}, {"csrf": "0" * 64}):
        answer = visitor.post(
            f"/invoices/INV-{YEAR}-000001/void", data={**forged, "reason": "forged"}
        )
        assert answer.status_code == 403
        assert "csrf" in answer.text
    assert acme.invoice(f"INV-{YEAR}-000001").status == "finalized"


def test_a_credit_form_with_bad_fields_names_each(
    acme: Billing, visitor: httpx.Client, admin_key: str
) -> None:
    post_login(visitor, admin_key)
    token = form_csrf(visitor.get(f"/invoices/INV-{YEAR}-000001").text)
    answer = visitor.post(
        f"/invoices/INV-{YEAR}-000001/credit",
        data={"csrf": token, "line": "x", "amount": "lots", "disposition": "cash"},
    )
    assert answer.status_code == 422
    for field in ("line", "amount", "disposition"):
        assert f'data-field="{field}"' in answer.text
    assert "&#39;lots&#39; is not an amount like 12.50" in answer.text


# --- money on the account page ---------------------------------------------------------------


@pytest.mark.browser
def test_browser_account_page_shows_the_money(billing: Billing, page: Page, admin_key: str) -> None:
    billing.priced.apply(terms("acme"))
    billing.close(CLOSED)  # November: no calls, so the minimum is all true-up
    writes.credit(
        billing.engine,
        billing.tenant_id,
        f"INV-{YEAR}-000001",
        CreditRequest("onboarding", (CreditLine(0, Decimal("10.00")),), "balance"),
        billing.policy,
    )
    billing.priced.ingest(calls("acme", 4, month=12))  # by 7 December
    sign_in(page, admin_key)
    page.goto("/accounts/acme?as_of=2026-12-16T12:00:00Z")  # 372 of December's 744 hours
    money = page.locator("section.money")
    expect(money.locator(".elapsed")).to_have_text("50 % of it gone")
    # 100 platform + 4 calls at 1.00 + 46 true-up to the minimum, less 4 of prepaid credit
    expect(money.locator(".to-date")).to_have_text("146.00")
    # at the run rate 8 calls: 100 + 6.50 + 43.50, less 5 of prepaid credit
    expect(money.locator(".projection")).to_have_text("145.00")
    expect(money.locator(".credit-balance")).to_have_text("10.00")
    pace = money.locator('table.commitments tr[data-component="minimum"]')
    expect(pace.locator(".minimum")).to_have_text("50.00 USD")
    expect(pace.locator(".committed")).to_have_text("4.00 USD")
    expect(pace.locator(".reached")).to_have_text("8 %")
    expect(pace.locator(".projected")).to_have_text("6.50 USD")
    expect(pace.locator(".pace")).to_have_text("short by 43.50 USD")
    expect(money.locator('tr[data-grant="welcome"] .balance')).to_have_text("1.00 USD")
    money.get_by_role("link", name="Invoices of this account").click()
    expect(page.locator("tr.invoice")).to_have_count(1)


def test_an_account_without_a_contract_says_why_there_is_no_money(
    billing: Billing, visitor: httpx.Client, admin_key: str
) -> None:
    post_login(visitor, admin_key)
    answer = visitor.get("/accounts/globex", params={"as_of": "2026-12-16T00:00:00Z"})
    assert answer.status_code == 200
    assert "No charges to show: account &#39;globex&#39; has no contract in force then." in (
        answer.text
    )


def test_a_number_with_slashes_has_its_page_and_its_actions(
    billing: Billing, visitor: httpx.Client, admin_key: str
) -> None:
    billing.priced.apply(terms("acme"))
    billing.settings(invoice_prefix="INV/{year}/")
    assert billing.close(CLOSED).finalized == ["INV/2026/000001"]
    post_login(visitor, admin_key)
    listed = visitor.get("/invoices").text
    assert 'href="/invoices/INV%2F2026%2F000001"' in listed
    shown = visitor.get("/invoices/INV%2F2026%2F000001")
    assert shown.status_code == 200
    assert 'action="/invoices/INV%2F2026%2F000001/void"' in shown.text
    answer = visitor.post(
        "/invoices/INV%2F2026%2F000001/void",
        data={"csrf": form_csrf(shown.text), "reason": "wrong prefix", "regenerate": "on"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/invoices/INV%2F2026%2F000002?done=regenerated"
    assert billing.invoice("INV/2026/000001").status == "void"


@given(st.text(max_size=12) | st.decimals(allow_nan=True, allow_infinity=True).map(str))
def test_the_credit_forms_amount_is_a_decimal_or_refused_by_name(text: str) -> None:
    form = {"line": "1", "amount": text, "reason": "goodwill", "disposition": "balance"}
    try:
        request = credit_request(form)
    except DocumentInvalid as error:
        assert [field for field, _ in error.problems] == ["amount"]
        return
    [line] = request.lines
    assert line.line == 1 and request.disposition == "balance"
    if text.strip():
        assert line.amount == Decimal(text.strip()) and line.amount.is_finite()
    else:
        assert line.amount is None  # all that is left of the line
