"""Payment hand-off: each finalized invoice becomes a Stripe invoice, one item per line, finalized
in Stripe, which collects it. `stripe_items` is pure; the rest talks to Stripe.

Stripe is called outside any transaction, each request with an idempotency key made of the
invoice's leaf hash (RFC 9162 leaf hash of its ledger leaf, hex) and the step (`-invoice`,
`-item-3`, `-finalize`): a request repeated after a crash gets Stripe's first answer instead
of a second object. Each Stripe id, and the count of items added, is stored as soon as Stripe
returns it (`billing.stripe_store`), so a push killed at any point resumes where it stopped,
also after Stripe has forgotten its idempotency keys (24 hours). Before finalizing, the Stripe
invoice's subtotal is checked against the items: a mismatch is refused, never finalized.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select

from valueproof.billing import stripe_store
from valueproof.billing.errors import StripeNotConfigured, StripeRefused, StripeTaxDoubled
from valueproof.billing.invoice_store import FINALIZED, StoredInvoice, find_invoice, load_settings
from valueproof.billing.records import invoice_leaf
from valueproof.config import Settings
from valueproof.errors import InvalidInput
from valueproof.ledger.merkle import leaf_hash
from valueproof.money import Currency, currency
from valueproof.store import read, tenant_write
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.tables import tenants
from valueproof.tenancy.tenants import list_tenants

if TYPE_CHECKING:
    from stripe import StripeClient

__all__ = [
    "Item",
    "PushResult",
    "minor_units",
    "push_every_tenant",
    "push_pending",
    "pushing",
    "stripe_client",
    "stripe_items",
]

# Metadata keys on Stripe's objects: which tenant, account and invoice each one is.
TENANT_KEY = "valueproof_tenant"
ACCOUNT_KEY = "valueproof_account"
INVOICE_KEY = "valueproof_invoice"


@dataclass(frozen=True, slots=True)
class Item:
    """One Stripe invoice item: an amount in minor units (negative for a credit) and its text."""

    amount: int
    description: str


@dataclass(frozen=True, slots=True)
class PushResult:
    """What pushing one invoice did: its Stripe invoice and items, or why it stopped."""

    number: str
    stripe_invoice_id: str | None
    items: int
    resumed: bool  # an earlier push of it had begun
    error: str | None = None

    def json(self) -> dict[str, object]:
        return {
            "invoice": self.number,
            "stripe_invoice": self.stripe_invoice_id,
            "items": self.items,
            "resumed": self.resumed,
            "error": self.error,
        }


def minor_units(amount: Decimal, money: Currency, field: str) -> int:
    """`amount` as a whole number of the currency's minor units (12.34 USD: 1234); an amount
    finer than the minor unit is InvalidInput naming `field` (invoice amounts never are)."""
    if not money.fits(amount):
        raise InvalidInput(field, f"{amount} is not a whole number of {money.code} minor units")
    return int(amount.scaleb(money.exponent))


def stripe_items(document: Mapping[str, Any], with_taxes: bool = True) -> list[Item]:
    """The Stripe items of an invoice document: one per line, quantity and unit price in its
    text; then, with `with_taxes`, one per exclusive tax (inclusive tax is in the lines). Their
    sum is the invoice's total in minor units."""
    money = currency(document["currency"])
    code = money.code
    items = [
        Item(
            minor_units(Decimal(line["amount"]), money, f"lines[{n}].amount"),
            f"{line['description']}: {line['quantity']} x {line['unit_price']} {code}",
        )
        for n, line in enumerate(document["lines"])
    ]
    if with_taxes and not document["tax_inclusive"]:
        items.extend(
            Item(
                minor_units(Decimal(tax["amount"]), money, f"taxes[{n}].amount"),
                f"{tax['name']} {_percent(tax['rate'])} on {tax['base']} {code}",
            )
            for n, tax in enumerate(document["taxes"])
        )
    return items


def _percent(rate: str) -> str:
    return f"{(Decimal(rate) * 100).normalize():f}%"


def _require_key(config: Settings) -> str:
    if config.stripe_api_key is None:
        raise StripeNotConfigured(
            "VALUEPROOF_STRIPE_API_KEY", "is not set: the Stripe hand-off needs a secret key"
        )
    return config.stripe_api_key.get_secret_value()


def stripe_client(config: Settings) -> StripeClient:
    """A Stripe client for one use, on the configured key and API base."""
    key = _require_key(config)
    # Imported here: the SDK takes a second to import, which commands without Stripe never pay.
    from stripe import StripeClient

    return StripeClient(
        key,
        base_addresses={"api": config.stripe_api_base},
        max_network_retries=2,  # safe: every request carries an idempotency key
    )


def push_pending(engine: Engine, tenant_id: int, config: Settings) -> list[PushResult]:
    """Push every finalized invoice of the tenant whose push has not finished (`pushing`)."""
    return list(pushing(engine, tenant_id, config))


def push_every_tenant(engine: Engine, config: Settings) -> list[PushResult]:
    """Push every tenant's pending invoices: what `serve` runs on its beat."""
    with read(engine) as connection:
        everyone = [tenant.id for tenant in list_tenants(connection)]
    return [result for tenant_id in everyone for result in pushing(engine, tenant_id, config)]


def pushing(engine: Engine, tenant_id: int, config: Settings) -> Iterator[PushResult]:
    """Push the tenant's pending invoices oldest first, yielding each one's result as it is
    done. An invoice Stripe refuses is reported (`error`) and left to the next run; the rest
    are still pushed."""
    _require_key(config)
    with read(engine) as connection:
        slug = connection.execute(
            select(tenants.c.slug).where(tenants.c.id == tenant_id)
        ).scalar_one()
        terms = load_settings(connection, tenant_id).payment_terms_days
        waiting = stripe_store.pending_invoices(connection, tenant_id)
    if not waiting:
        return  # nothing to ask Stripe
    client = stripe_client(config)
    for invoice_id in waiting:
        with read(engine) as connection:
            invoice = find_invoice(connection, tenant_id, invoice_id)
        if invoice.status != FINALIZED:
            continue  # voided or marked paid since the list was read
        push = _Push(engine, client, config, tenant_id, slug, terms, invoice)
        try:
            yield push.run()
        except (StripeRefused, InvalidInput) as error:
            yield PushResult(invoice.number or str(invoice.id), None, 0, False, str(error))


@dataclass(slots=True)
class _Push:
    """One invoice's push, step by step, each step stored before the next."""

    engine: Engine
    client: StripeClient
    config: Settings
    tenant_id: int
    slug: str
    terms: int
    invoice: StoredInvoice
    customer: str | None = None  # the account's Stripe customer, once known

    @property
    def number(self) -> str:
        assert self.invoice.number is not None  # finalized invoices have their number
        return self.invoice.number

    def run(self) -> PushResult:
        document = self.invoice.document
        automatic = self.config.stripe_automatic_tax
        if automatic and document["taxes"]:
            names = ", ".join(tax["name"] for tax in document["taxes"])
            raise StripeTaxDoubled(
                "tax_rates",
                f"invoice {self.number} carries its own taxes ({names}) while "
                "VALUEPROOF_STRIPE_AUTOMATIC_TAX has Stripe Tax compute them: clear the "
                "account's tax rates, or turn Stripe Tax off",
            )
        items = stripe_items(document, with_taxes=not automatic)
        stem = leaf_hash(invoice_leaf(document)).hex()
        with read(self.engine) as connection:
            started = stripe_store.pushed(connection, self.tenant_id, self.invoice.id)
        record = started or self._create_invoice(stem)
        for index in range(record.items_pushed, len(items)):
            self._add_item(record.stripe_invoice_id, stem, index, items[index])
        self._finalize(record.stripe_invoice_id, stem, sum(item.amount for item in items))
        return PushResult(self.number, record.stripe_invoice_id, len(items), started is not None)

    def _call(self, step: str, request: Any, *args: Any, **kwargs: Any) -> Any:
        from stripe import StripeError

        try:
            return request(*args, **kwargs)
        except StripeError as error:
            reason = error.user_message or str(error) or type(error).__name__
            raise StripeRefused(f"invoice {self.number}: {step}: {reason}") from None

    def _customer(self) -> str:
        if self.customer is None:
            self.customer = self._find_or_create_customer()
        return self.customer

    def _find_or_create_customer(self) -> str:
        with read(self.engine) as connection:
            known = stripe_store.customer_of(connection, self.tenant_id, self.invoice.account_id)
        if known is not None:
            return known
        shown = self.invoice.document["customer"]
        params: dict[str, Any] = {
            "name": shown["name"],
            "metadata": {TENANT_KEY: self.slug, ACCOUNT_KEY: self.invoice.account},
        }
        if shown.get("email"):
            params["email"] = shown["email"]
        # Not an invoice's leaf: the customer's key is the tenant and account, hashed to fit.
        who = hashlib.sha256(f"{self.slug}\0{self.invoice.account}".encode()).hexdigest()
        created = self._call(
            "creating the customer",
            self.client.v1.customers.create,
            params=params,
            options={"idempotency_key": f"customer-{who}"},
        )
        with tenant_write(self.engine, self.tenant_id) as connection:
            return stripe_store.save_customer(
                connection, self.tenant_id, self.invoice.account_id, created.id, now_us()
            )

    def _create_invoice(self, stem: str) -> stripe_store.Pushed:
        document = self.invoice.document
        params: dict[str, Any] = {
            "customer": self._customer(),
            "currency": document["currency"].lower(),
            "description": f"Invoice {self.number}, period {document['period']['start'][:10]} "
            f"to {document['period']['end'][:10]}",
            # Finalized by us once every item is in: Stripe must not finalize a half-built one.
            "auto_advance": False,
            "pending_invoice_items_behavior": "exclude",
            "collection_method": self.config.stripe_collection_method,
            "metadata": {
                TENANT_KEY: self.slug,
                INVOICE_KEY: self.number,
                "valueproof_leaf_index": str(self.invoice.leaf_index),
                "valueproof_leaf_hash": stem,
            },
        }
        if self.config.stripe_collection_method == "send_invoice":
            params["days_until_due"] = self.terms
        if self.config.stripe_automatic_tax:
            params["automatic_tax"] = {"enabled": True}
        created = self._call(
            "creating the invoice",
            self.client.v1.invoices.create,
            params=params,
            options={"idempotency_key": f"{stem}-invoice"},
        )
        with tenant_write(self.engine, self.tenant_id) as connection:
            return stripe_store.save_pushed(
                connection, self.tenant_id, self.invoice.id, created.id, stem, now_us()
            )

    def _add_item(self, stripe_invoice_id: str, stem: str, index: int, item: Item) -> None:
        self._call(
            f"adding item {index}",
            self.client.v1.invoice_items.create,
            params={
                "customer": self._customer(),
                "invoice": stripe_invoice_id,
                "amount": item.amount,
                "currency": self.invoice.currency.lower(),
                "description": item.description,
                "metadata": {INVOICE_KEY: self.number, "valueproof_line": str(index)},
            },
            options={"idempotency_key": f"{stem}-item-{index}"},
        )
        with tenant_write(self.engine, self.tenant_id) as connection:
            stripe_store.update_pushed(
                connection,
                self.tenant_id,
                self.invoice.id,
                index + 1,
                stripe_store.STRIPE_DRAFT,
                now_us(),
            )

    def _finalize(self, stripe_invoice_id: str, stem: str, expected: int) -> None:
        found = self._call(
            "reading the invoice back", self.client.v1.invoices.retrieve, stripe_invoice_id
        )
        if found.status == "draft":
            if found.subtotal != expected:
                raise StripeRefused(
                    f"invoice {self.number}: Stripe invoice {stripe_invoice_id} adds up to "
                    f"{found.subtotal} minor units, its items to {expected}: left as a draft "
                    "in Stripe, not finalized"
                )
            self._call(
                "finalizing",
                self.client.v1.invoices.finalize_invoice,
                stripe_invoice_id,
                params={"auto_advance": True},  # now Stripe collects it
                options={"idempotency_key": f"{stem}-finalize"},
            )
        with tenant_write(self.engine, self.tenant_id) as connection:
            stripe_store.update_pushed(
                connection,
                self.tenant_id,
                self.invoice.id,
                0,
                stripe_store.STRIPE_FINALIZED,
                now_us(),
            )
