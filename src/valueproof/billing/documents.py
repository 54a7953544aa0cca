"""Invoices and credit notes as documents a customer reads: HTML from Jinja templates, PDF from
that HTML with WeasyPrint.

Reads the invoice and credit-note JSON as billing stores them and computes no money: every
figure printed is one the document states, only formatted (`money.amount_text`). Customer and
vendor text is escaped. A PDF is rendered from the HTML alone: WeasyPrint may read `data:` URIs
and nothing else, so a document never fetches from the network or the disk.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from valueproof.billing.errors import VendorInvalid
from valueproof.money import Currency, amount_text, currency, decimal_text
from valueproof.periods import parse_rfc3339

__all__ = [
    "credit_note_html",
    "credit_note_pdf",
    "invoice_html",
    "invoice_pdf",
    "pdf",
]

HUNDRED = Decimal(100)
# A line's leaves can be thousands of ranges (an account's events interleave with others'); the
# page shows the first few, the proof bundle has them all.
_SHOWN_RANGES = 3
_LOGO_TYPES = ("data:image/png", "data:image/svg+xml")

# Loaded through the package, not a path, so the templates travel inside the wheel.
_templates = Environment(
    loader=PackageLoader("valueproof.billing", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class Row:
    """A row of a document's table: a line with its notes and tier slices, or one slice."""

    description: str
    quantity: str
    unit_price: str
    amount: str
    notes: tuple[str, ...] = ()
    slices: tuple[Row, ...] = ()


@dataclass(frozen=True, slots=True)
class UsageRow:
    """A row of the usage appendix: one meter (and group) behind one line."""

    meter: str
    group: str
    line: str
    quantity: str
    events: str
    leaves: str


@dataclass(frozen=True, slots=True)
class Totals:
    """The foot of a table: subtotal, one row per tax rate, the total, and how tax applies."""

    subtotal: str
    taxes: tuple[tuple[str, str], ...]
    total_label: str
    total: str
    tax_note: str | None


def invoice_html(
    document: Mapping[str, Any],
    vendor: Mapping[str, Any],
    verification: Mapping[str, Any] | None,
    *,
    embed_css: bool = True,
) -> str:
    """The invoice as a self-contained HTML page: vendor and customer, lines with quantities,
    unit prices and tier slices, taxes and total, the usage appendix and the verification block
    (a DRAFT marking instead while the invoice has no number)."""
    money = currency(document["currency"])
    number = document["number"]
    period = document["period"]
    facts = [
        ("Invoice number", number or "Draft (numbered when finalized)"),
        ("Issued", _day(document["issued_at"])),
        ("Due", _day(document["due_at"])),
        ("Billing period", _period(period)),
        ("Account", document["account"]),
        ("Contract", f"{document['contract']}, version {document['version']}"),
    ]
    if document.get("replaces"):
        facts.append(("Replaces invoice", document["replaces"]))
    return _templates.get_template("invoice.html").render(
        embed_css=embed_css,
        kind="Invoice",
        number=number,
        vendor=_vendor(vendor),
        customer=document["customer"],
        facts=facts,
        rows=[_invoice_row(line, money) for line in document["lines"]],
        totals=_totals(document, money, "Total due"),
        usage=list(_usage(document["lines"])),
        verification=_verification(verification, "invoice"),
    )


def credit_note_html(
    document: Mapping[str, Any],
    invoice: Mapping[str, Any],
    vendor: Mapping[str, Any],
    verification: Mapping[str, Any] | None,
    *,
    embed_css: bool = True,
) -> str:
    """The credit note against `invoice` (the invoice's document) as a self-contained HTML page:
    its reason, where the credit goes, the credited lines, taxes and total."""
    money = currency(document["currency"])
    number = document["number"]
    where = {
        "refund": "Refund to you",
        "balance": "Credit to your balance",
    }.get(document["disposition"], document["disposition"])
    facts = [
        ("Credit note number", number or "Draft (numbered when issued)"),
        ("Issued", _day(document["issued_at"])),
        ("Credits invoice", document["invoice"]),
        ("Invoice period", _period(invoice["period"])),
        ("Account", document["account"]),
        ("Applied as", where),
    ]
    return _templates.get_template("credit_note.html").render(
        embed_css=embed_css,
        kind="Credit note",
        number=number,
        vendor=_vendor(vendor),
        customer=document["customer"],
        facts=facts,
        reason=document["reason"],
        rows=[_credit_row(line, money) for line in document["lines"]],
        totals=_totals(document, money, "Total credited"),
        usage=[],
        verification=_verification(verification, "credit note"),
    )


def pdf(html: str, kind: str | None = None, draft: bool = False) -> bytes:
    """The PDF of a page from `invoice_html` or `credit_note_html`, on the system's fonts.
    Anything the page links to but a `data:` URI is refused, not fetched. With `kind`
    ("Invoice", "Credit note") and `draft` the page was made with `embed_css=False` and gets the
    documents' stylesheet parsed once per process: its selectors compile once, not every render."""
    import weasyprint  # type: ignore[import-untyped]  # heavy (Pango): loaded only to render
    from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]

    fetcher = URLFetcher(allowed_protocols=("data",))
    sheets = [] if kind is None else [_stylesheet(kind, draft)]
    page = weasyprint.HTML(string=html, url_fetcher=fetcher)
    rendered: bytes = page.write_pdf(stylesheets=sheets)
    return rendered


def invoice_pdf(
    document: Mapping[str, Any], vendor: Mapping[str, Any], verification: Mapping[str, Any] | None
) -> bytes:
    """The invoice's PDF (what `invoice_html` shows, printed)."""
    html = invoice_html(document, vendor, verification, embed_css=False)
    return pdf(html, "Invoice", document["number"] is None)


def credit_note_pdf(
    document: Mapping[str, Any],
    invoice: Mapping[str, Any],
    vendor: Mapping[str, Any],
    verification: Mapping[str, Any] | None,
) -> bytes:
    """The credit note's PDF (what `credit_note_html` shows, printed)."""
    html = credit_note_html(document, invoice, vendor, verification, embed_css=False)
    return pdf(html, "Credit note", document["number"] is None)


@functools.cache
def _stylesheet(kind: str, draft: bool) -> Any:
    """The documents' stylesheet for `kind` (a draft's marks each page), parsed and its selectors
    compiled; never changed after."""
    import weasyprint

    text = _templates.get_template("document.css").render(kind=kind, number=None if draft else kind)
    return weasyprint.CSS(string=text)


def _vendor(vendor: Mapping[str, Any]) -> dict[str, Any]:
    """The vendor's details as the templates read them: a name, and a logo only if it is an
    embedded PNG or SVG image (a link would be fetched, and nothing is)."""
    name, logo = vendor.get("name"), vendor.get("logo")
    if not isinstance(name, str) or not name.strip():
        raise VendorInvalid("vendor.name", "is missing: documents need the vendor's name")
    if logo is not None and not (isinstance(logo, str) and logo.startswith(_LOGO_TYPES)):
        raise VendorInvalid(
            "vendor.logo", "must be a data: URI of a PNG or SVG image (nothing is fetched)"
        )
    return {
        "name": name,
        "address": vendor.get("address"),
        "email": vendor.get("email"),
        "logo": logo,
    }


def _invoice_row(line: Mapping[str, Any], money: Currency) -> Row:
    detail = line.get("detail") or {}
    notes = list(_notes(line, detail, money))
    tiers = detail.get("tiers") or []
    slices = tuple(_slice(tier, line["kind"], len(tiers), money) for tier in tiers)
    if slices and line["kind"] != "volume":  # a volume line's price is its tier's own
        notes.append("Unit price is the average over the tiers below.")
    return Row(
        line["description"],
        decimal_text(Decimal(line["quantity"])),
        _unit_price(Decimal(line["unit_price"]), line["kind"], money),
        amount_text(Decimal(line["amount"]), money),
        tuple(notes),
        slices,
    )


def _credit_row(line: Mapping[str, Any], money: Currency) -> Row:
    note = f"Invoice line {line['invoice_line'] + 1}"
    return Row(
        line["description"],
        decimal_text(Decimal(line["quantity"])),
        amount_text(Decimal(line["unit_price"]), money),
        amount_text(Decimal(line["amount"]), money),
        (note,),
    )


def _unit_price(price: Decimal, kind: str, money: Currency) -> str:
    if kind in ("percentage", "graduated_percentage"):
        return f"{decimal_text(price * HUNDRED)}%"  # a share of the volume, not a price per unit
    return amount_text(price, money)


def _slice(tier: Mapping[str, Any], kind: str, count: int, money: Currency) -> Row:
    """A tier's slice of a tiered line: its bounds, units, price (or rate) and exact amount."""
    lower = decimal_text(Decimal(tier["from"]))
    upper = None if tier["up_to"] is None else decimal_text(Decimal(tier["up_to"]))
    if upper is None:
        bounds = f"above {lower}"
    elif Decimal(tier["from"]) == 0:
        bounds = f"up to {upper}"
    else:
        bounds = f"{lower} to {upper}"
    label = f"Tier {tier['tier'] + 1} ({bounds})"
    if kind == "volume":
        label = f"All units at tier {tier['tier'] + 1} ({bounds})"
    flat_fee = Decimal(tier["flat_fee"])
    notes = () if not flat_fee else (f"includes a flat fee of {amount_text(flat_fee, money)}",)
    return Row(
        label,
        decimal_text(Decimal(tier["quantity"])),
        _unit_price(Decimal(tier["unit_price"]), kind, money),
        amount_text(Decimal(tier["amount"]), money),
        notes,
    )


def _notes(line: Mapping[str, Any], detail: Mapping[str, Any], money: Currency) -> Iterator[str]:
    """What a customer needs to read a line: what it corrects, how a credit or an adjustment
    came about. Only what the line's own detail states."""
    kind = line["kind"]
    corrects = line.get("corrects")
    if corrects:
        yield f"Corrects invoice {corrects['invoice']} ({_period(corrects['period'])})"
    if kind == "discount" and detail.get("percent") is not None:
        yield f"{decimal_text(Decimal(detail['percent']))}% off {_money(detail['base'], money)}"
    elif kind == "discount":
        yield f"{_money(detail['amount'], money)} off {_money(detail['base'], money)}"
    elif kind == "balance":
        yield "Drawn from your account's credit balance"
    elif kind == "credit":
        yield f"Prepaid credit covering {_money(detail['covered'], money)} of charges"
    elif kind == "true_up":
        yield (
            f"Minimum commitment {_money(detail['prorated_minimum'], money)}; "
            f"charges counted {_money(detail['committed'], money)}"
        )
    elif kind == "cap":
        yield f"Invoice maximum {_money(detail['maximum'], money)}"
    elif kind == "seats":
        yield f"{detail['active']} of {detail['seats']} seats active"
    elif kind == "seat_credit":
        yield f"{detail['inactive_credit_percent']}% back on {detail['inactive']} inactive seats"
    elif kind == "outcome_credit":
        yield (
            f"{detail['voided']} of {detail['billed']} outcomes billed for "
            f"{_period({'start': detail['period_start'], 'end': detail['period_end']})} voided"
        )
    elif kind == "package":
        yield (
            f"{detail['packages']} packages of {decimal_text(Decimal(detail['package_size']))} "
            f"at {_money(detail['package_price'], money)}"
        )
    elif kind == "percentage":
        yield f"{decimal_text(Decimal(detail['percent']))}% of the volume"
    elif kind == "gain_share" and "missing" in detail:
        yield f"Not measured: {detail['missing']}"
    elif kind == "gain_share":
        yield f"Baseline {detail['baseline']}, measured {detail['measured']}"
    if kind == "flat" and Decimal(detail.get("fraction", 1)) != 1:
        yield f"Prorated: {_share(detail['fraction'])} of {_money(detail['amount'], money)}"


def _share(fraction: str) -> str:
    """A fraction of a period as a percentage to two decimals: shown, never charged (the line's
    amount is the exact share, rounded once by rating)."""
    percent = (Decimal(fraction) * HUNDRED).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return f"{decimal_text(percent.normalize())}%"


def _money(value: Any, money: Currency) -> str:
    return amount_text(Decimal(value), money)


def _totals(document: Mapping[str, Any], money: Currency, label: str) -> Totals:
    """Subtotal, one row per tax rate, and the total; how tax applies, said in words."""
    taxes = []
    for tax in document["taxes"]:
        rate = f"{decimal_text(Decimal(tax['rate']) * HUNDRED)}%"
        base = _money(tax["base"], money)
        name = f"{tax['name']} {rate} on {base}"
        if document.get("tax_inclusive"):
            name = f"includes {tax['name']} {rate} on {base}"
        taxes.append((name, _money(tax["amount"], money)))
    note = None
    if document.get("tax_exempt"):
        note = "Tax exempt: no tax is charged on this document."
    elif document.get("tax_inclusive"):
        note = "Prices include tax."
    return Totals(
        _money(document["subtotal"], money),
        tuple(taxes),
        label,
        _money(document["total"], money),
        note,
    )


def _usage(lines: Sequence[Mapping[str, Any]]) -> Iterator[UsageRow]:
    """The usage appendix: each meter behind each line, by group where the source has groups,
    in meter order. A meter shared by two lines with the same counts shows once."""
    seen: set[tuple[str, str, str]] = set()
    rows: list[UsageRow] = []
    for line in lines:
        for source in line.get("sources") or []:
            if source["kind"] != "meter":
                continue
            key = (source["key"], source["quantity"], repr(source["leaves"]))
            if key in seen:
                continue
            seen.add(key)
            for group in source.get("groups") or [None]:
                counted = source if group is None else group
                rows.append(
                    UsageRow(
                        source["key"],
                        "all" if group is None else _group(group["group"]),
                        line["description"],
                        decimal_text(Decimal(counted["quantity"])),
                        decimal_text(Decimal(counted["events"])),
                        _leaves(counted["leaves"]),
                    )
                )
    yield from sorted(rows, key=lambda row: row.meter)


def _group(dims: Mapping[str, Any] | str) -> str:
    if isinstance(dims, str):
        return dims or "all"
    return ", ".join(f"{k}={v}" for k, v in sorted(dims.items())) or "all"


def _leaves(ranges: Sequence[Sequence[int]]) -> str:
    """Inclusive leaf ranges as text: the first few, then how many more."""
    if not ranges:
        return "none"
    shown = ", ".join(str(a) if a == b else f"{a}\N{EN DASH}{b}" for a, b in ranges[:_SHOWN_RANGES])
    more = len(ranges) - _SHOWN_RANGES
    return shown if more <= 0 else f"{shown} and {more} more ranges"


def _verification(verification: Mapping[str, Any] | None, what: str) -> Mapping[str, Any] | None:
    if verification is None:
        return None
    return {**verification, "what": what}


def _day(moment: str | None) -> str:
    if moment is None:
        return "on finalization"
    return _date_text(parse_rfc3339(moment))


def _period(period: Mapping[str, Any]) -> str:
    """A period [start, end) as the days it covers: `1 Nov 2026 to 30 Nov 2026`."""
    start = parse_rfc3339(period["start"])
    last = parse_rfc3339(period["end"]) - timedelta(microseconds=1)
    return f"{_date_text(start)} to {_date_text(last)}"


def _date_text(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"
