"""Invoice and credit-note documents: read back from the PDF as a customer's tools read it."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import Engine

from valueproof.billing.documents import credit_note_html, invoice_html, pdf
from valueproof.billing.errors import VendorInvalid
from valueproof.billing.taxes import TaxProfile, TaxRate
from valueproof.contracts.rating import Charges
from valueproof.money import amount_text, currency, decimal_text

from ..contracts.conftest import contract_document
from .conftest import VENDOR, VERIFICATION, invoice_of, pdf_text, rated_charges

USD = currency("USD")


@pytest.fixture(scope="module")
def charges(engine: Engine) -> Charges:
    return rated_charges(engine)


@pytest.fixture(scope="module")
def invoice(charges: Charges) -> dict[str, Any]:
    return invoice_of(charges)


@pytest.fixture(scope="module")
def text(invoice: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> str:
    html = invoice_html(invoice, VENDOR, VERIFICATION)
    return pdf_text(pdf(html), tmp_path_factory.mktemp("invoice"))


def rows(text: str, first: str) -> list[list[str]]:
    """Each row of `pdftotext -layout` text with a column that starts with `first`, as its
    columns (two spaces or more apart) from that one on."""
    pattern = re.compile(rf"(?:^|\s{{2}}){re.escape(first)}")
    found = []
    for line in text.splitlines():
        if match := pattern.search(line := line.strip()):
            found.append(re.split(r"\s{2,}", line[match.start() :].strip()))
    return found


def row(text: str, first: str) -> list[str]:
    """The one row with a column that starts with `first`, as its columns from that one on."""
    found = rows(text, first)
    assert len(found) == 1, (first, found)
    return found[0]


def usd(value: str) -> str:
    return amount_text(Decimal(value), USD)


def test_the_vendor_and_the_customer_are_named_with_their_details(text: str) -> None:
    for part in ("Meterly Inc.", "1 Market Street", "San Francisco, CA 94105"):
        assert part in text
    assert "billing@meterly.example" in text
    for part in ("Acme Corp", "500 Industrial Way", "Springfield", "ap@acme.example"):
        assert part in text
    assert "Tax ID: DE123456789" in text
    assert "Tax jurisdiction: DE" in text
    assert row(text, "Invoice number")[-1] == "MET-2026-000123"
    assert row(text, "Billing period")[-1] == "1 Nov 2026 to 30 Nov 2026"
    assert row(text, "Issued")[-1] == "4 Dec 2026"
    assert row(text, "Due")[-1] == "3 Jan 2027"
    assert "DRAFT" not in text


def test_every_line_shows_its_quantity_unit_price_and_amount(
    invoice: dict[str, Any], text: str
) -> None:
    kinds = {line["kind"] for line in invoice["lines"]}
    assert {"flat", "graduated", "volume", "per_unit", "true_up", "discount"} <= kinds
    assert {"correction", "balance"} <= kinds
    for line in invoice["lines"]:
        assert [
            line["description"],
            decimal_text(Decimal(line["quantity"])),
            usd(line["unit_price"]),
            usd(line["amount"]),
        ] in rows(text, line["description"])
    assert ["API calls", "60", "0.04 USD", "2.40 USD"] in rows(text, "API calls")


def test_tiered_lines_show_each_tier_slice(invoice: dict[str, Any], text: str) -> None:
    api = next(line for line in invoice["lines"] if line["kind"] == "graduated")
    assert [t["quantity"] for t in api["detail"]["tiers"]] == ["10", "40", "10"]
    assert row(text, "Tier 1 (up to 10)") == [
        "Tier 1 (up to 10)",
        "10",
        "0.05 USD",
        "0.50 USD",
    ]
    assert row(text, "Tier 2 (10 to 50)") == [
        "Tier 2 (10 to 50)",
        "40",
        "0.02 USD",
        "1.80 USD",
    ]
    assert "includes a flat fee of 1.00 USD" in text
    assert row(text, "Tier 3 (above 50)") == [
        "Tier 3 (above 50)",
        "10",
        "0.01 USD",
        "0.10 USD",
    ]
    assert row(text, "All units at tier 2") == [
        "All units at tier 2 (above 50)",
        "60",
        "0.003 USD",
        "0.18 USD",
    ]


def test_corrections_discounts_and_credits_read_as_what_they_are(text: str) -> None:
    assert "Corrects invoice MET-2026-000098 (1 Oct 2026 to 31 Oct 2026)" in text
    assert "10% off 2.40 USD" in text
    assert "Drawn from your account's credit balance" in text
    assert "Minimum commitment 500.00 USD; charges counted 14.58 USD" in text


def test_one_tax_line_per_rate_and_the_total(invoice: dict[str, Any], text: str) -> None:
    assert invoice["subtotal"] == "575.00" and invoice["total"] == "684.25"
    assert row(text, "Subtotal") == ["Subtotal", "575.00 USD"]
    assert row(text, "VAT 19% on 575.00 USD") == ["VAT 19% on 575.00 USD", "109.25 USD"]
    assert row(text, "Total due") == ["Total due", "684.25 USD"]
    assert "Tax exempt" not in text and "include tax" not in text


def test_the_usage_appendix_lists_each_meter_with_its_events_and_leaves(
    invoice: dict[str, Any], text: str
) -> None:
    assert "Usage behind this invoice, by meter and group" in text
    calls = next(s for line in invoice["lines"] for s in line["sources"] if s["key"] == "calls")
    first, last = calls["leaves"][0]
    assert row(text, "calls") == [
        "calls",
        "all",
        "API calls",
        "60",
        "60",
        f"{first}\N{EN DASH}{last}",
    ]
    users = row(text, "active_users")
    assert users[:5] == ["active_users", "all", "Active users", "3", "3"]


def test_the_verification_block_says_where_the_invoice_is_and_how_to_check_it(
    text: str,
) -> None:
    assert "Verify this invoice" in text
    assert row(text, "Leaf index") == ["Leaf index", "4711"]
    assert "size 5000" in text
    flat = re.sub(r"\s+", "", text)
    assert VERIFICATION["root_hash"] in flat
    assert VERIFICATION["key_fingerprint"] in flat
    assert re.sub(r"\s+", "", VERIFICATION["verify"]) in flat
    assert "billing.meterly.example/acme" in text


def test_a_draft_says_so_on_every_page_and_has_no_verification(
    charges: Charges, tmp_path: Path
) -> None:
    draft = invoice_of(charges, number=None)
    text = pdf_text(pdf(invoice_html(draft, VENDOR, None)), tmp_path)
    assert "DRAFT" in text
    pages = text.split("\f")
    assert all("DRAFT · not a demand for payment" in page for page in pages if page.strip())
    assert "it has no number yet" in text
    assert row(text, "Invoice number")[-1] == "Draft (numbered when finalized)"
    assert "Verify this invoice" not in text
    assert row(text, "Total due") == ["Total due", "684.25 USD"]


def test_tax_exempt_and_tax_inclusive_invoices_say_so(charges: Charges, tmp_path: Path) -> None:
    exempt = invoice_of(charges, tax=TaxProfile((TaxRate("VAT", Decimal("0.19")),), exempt=True))
    text = pdf_text(pdf(invoice_html(exempt, VENDOR, VERIFICATION)), tmp_path)
    assert "Tax exempt" in text and "VAT" not in text
    assert row(text, "Total due") == ["Total due", "575.00 USD"]
    rates = (TaxRate("State tax", Decimal("0.0625")), TaxRate("City tax", Decimal("0.02")))
    inclusive = invoice_of(charges, tax=TaxProfile(rates, inclusive=True))
    text = pdf_text(pdf(invoice_html(inclusive, VENDOR, VERIFICATION)), tmp_path)
    assert "Prices include tax." in text
    for tax in inclusive["taxes"]:
        rate = decimal_text(Decimal(tax["rate"]) * 100)
        label = f"includes {tax['name']} {rate}% on {usd(tax['base'])}"
        assert row(text, label) == [label, usd(tax["amount"])]
    assert row(text, "Total due") == ["Total due", "575.00 USD"]


def credit_note(invoice: dict[str, Any], code: str = "USD") -> dict[str, Any]:
    """A partial credit note against the invoice's API line, as billing issues it."""
    index = next(i for i, line in enumerate(invoice["lines"]) if line["kind"] == "graduated")
    line = invoice["lines"][index]
    return {
        "number": "CN-000001",
        "invoice": invoice["number"],
        "account": invoice["account"],
        "currency": code,
        "issued_at": "2026-12-10T12:00:00Z",
        "reason": "Calls on 3 November were retried by our gateway",
        "disposition": "refund",
        "customer": invoice["customer"],
        "lines": [
            {
                "invoice_line": index,
                "component": line["component"],
                "kind": line["kind"],
                "description": line["description"],
                "quantity": "20",
                "unit_price": "0.05" if code == "USD" else "5",
                "amount": "1.00" if code == "USD" else "100",
            }
        ],
        "subtotal": "1.00" if code == "USD" else "100",
        "taxes": [
            {
                "name": "VAT",
                "rate": "0.19",
                "base": "1.00" if code == "USD" else "100",
                "amount": "0.19" if code == "USD" else "19",
            }
        ],
        "tax_total": "0.19" if code == "USD" else "19",
        "total": "1.19" if code == "USD" else "119",
    }


def test_a_credit_note_gives_its_reason_invoice_and_amounts(
    invoice: dict[str, Any], tmp_path: Path
) -> None:
    note = credit_note(invoice)
    text = pdf_text(pdf(credit_note_html(note, invoice, VENDOR, VERIFICATION)), tmp_path)
    assert "CREDIT NOTE" in text
    assert row(text, "Credit note number")[-1] == "CN-000001"
    assert row(text, "Credits invoice")[-1] == "MET-2026-000123"
    assert row(text, "Invoice period")[-1] == "1 Nov 2026 to 30 Nov 2026"
    assert row(text, "Applied as")[-1] == "Refund to you"
    assert "Calls on 3 November were retried by our gateway" in text
    assert row(text, "API calls") == ["API calls", "20", "0.05 USD", "1.00 USD"]
    assert "Invoice line 2" in text
    assert row(text, "VAT 19% on 1.00 USD") == ["VAT 19% on 1.00 USD", "0.19 USD"]
    assert row(text, "Total credited") == ["Total credited", "1.19 USD"]
    assert "Verify this credit note" in text and "Acme Corp" in text


def test_a_yen_credit_note_prints_whole_yen(invoice: dict[str, Any], tmp_path: Path) -> None:
    note = {**credit_note(invoice, "JPY"), "disposition": "balance"}
    text = pdf_text(pdf(credit_note_html(note, invoice, VENDOR, None)), tmp_path)
    assert row(text, "API calls") == ["API calls", "20", "5 JPY", "100 JPY"]
    assert row(text, "Total credited") == ["Total credited", "119 JPY"]
    assert row(text, "Applied as")[-1] == "Credit to your balance"


def test_customer_text_is_escaped_in_the_html(charges: Charges, tmp_path: Path) -> None:
    hostile = "<script>alert('owned')</script> & Co"
    document = invoice_of(charges, name=hostile)
    html = invoice_html(document, {**VENDOR, "address": "<img src=x onerror=alert(1)>"}, None)
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt; &amp; Co" in html
    text = pdf_text(pdf(html), tmp_path)
    assert hostile in text  # shown as the text it is, not run


def test_a_usage_source_with_groups_lists_each_group(charges: Charges, tmp_path: Path) -> None:
    document = invoice_of(charges)
    line = next(line for line in document["lines"] if line["kind"] == "per_unit")
    source = line["sources"][0]
    source["groups"] = [
        {"group": {"region": "eu"}, "quantity": "2", "events": 2, "leaves": [[61, 62]]},
        {"group": {"region": "us"}, "quantity": "1", "events": 1, "leaves": [[63, 63]]},
    ]
    text = pdf_text(pdf(invoice_html(document, VENDOR, None)), tmp_path)
    assert row(text, "region=eu") == [
        "region=eu",
        "Active users",
        "2",
        "2",
        "61\N{EN DASH}62",
    ]
    assert row(text, "region=us")[2:] == ["1", "1", "63"]


def test_a_logo_must_be_embedded_and_the_vendor_named(invoice: dict[str, Any]) -> None:
    with pytest.raises(VendorInvalid) as caught:
        invoice_html(invoice, {**VENDOR, "logo": "https://cdn.example/logo.png"}, None)
    assert caught.value.field == "vendor.logo"
    assert "data: URI" in caught.value.reason
    with pytest.raises(VendorInvalid) as caught:
        invoice_html(invoice, {"name": " ", "logo": None}, None)
    assert caught.value.field == "vendor.name"
    html = invoice_html(invoice, {"name": "Meterly Inc."}, None)  # the rest is optional
    assert "Meterly Inc." in html and "<img" not in html


class _Counting(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on loopback that records every request it gets."""
    handler = type("Handler", (_Counting,), {"requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    finally:
        server.shutdown()
        server.server_close()


def test_rendering_fetches_nothing_from_the_network(
    loopback: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, requests = loopback
    page = (
        f'<html><head><link rel="stylesheet" href="{base}/style.css"></head>'
        f'<body><p>Hello</p><img src="{base}/logo.png">'
        f'<img src="file:///etc/hostname"></body></html>'
    )
    text = pdf_text(pdf(page), tmp_path)
    assert "Hello" in text
    assert requests == []


def test_every_kind_of_line_reads_with_what_it_came_from(engine: Engine, tmp_path: Path) -> None:
    """Seats and their credit, packages, a percentage, prepaid credit, the invoice maximum and
    a prorated fee, from real rating of a term that starts mid-month."""
    document = contract_document(
        term={"start": "2026-11-16", "end": "2027-11-16"},
        billing={"period": "monthly", "anchor_day": 1},
        components=[
            {"id": "platform", "type": "flat", "amount": "300.00", "description": "Platform fee"},
            {
                "id": "seats",
                "type": "seats",
                "seats": "10",
                "active_meter": "active_users",
                "unit_price": "20.00",
                "inactive_credit_percent": "50",
                "prorate": False,
                "description": "Seats",
            },
            {
                "id": "bundles",
                "type": "package",
                "meter": "calls",
                "package_size": "25",
                "package_price": "2.00",
                "description": "Call bundles",
            },
            {
                "id": "processing",
                "type": "percentage",
                "meter": "payments",
                "percent": "2.5",
                "description": "Payment processing",
            },
            {
                "id": "wallet",
                "type": "prepaid_credits",
                "grants": [{"id": "start", "amount": "3.00", "granted": "2026-11-16T00:00:00Z"}],
                "applies_to": ["bundles"],
                "description": "Prepaid credit",
            },
        ],
        invoice_maximum="250.00",
    )
    charges = rated_charges(
        engine, contract=document, day=20, at=datetime(2026, 11, 20, tzinfo=UTC)
    )
    invoice = invoice_of(charges)
    kinds = [line["kind"] for line in invoice["lines"]]
    assert {"flat", "seats", "seat_credit", "package", "percentage", "credit", "cap"} <= set(kinds)
    text = pdf_text(pdf(invoice_html(invoice, VENDOR, VERIFICATION)), tmp_path)
    assert "Prorated: 50% of 300.00 USD" in text
    assert "3 of 10 seats active" in text
    assert "50% back on 7 inactive seats" in text
    assert "3 packages of 25 at 2.00 USD" in text
    assert "2.5% of the volume" in text
    assert "Prepaid credit covering 3.00 USD of charges" in text
    assert "Invoice maximum 250.00 USD" in text
    for line in invoice["lines"]:
        shown = [decimal_text(Decimal(line["quantity"])), usd(line["amount"])]
        assert shown in [[r[1], r[-1]] for r in rows(text, line["description"]) if len(r) > 1]
